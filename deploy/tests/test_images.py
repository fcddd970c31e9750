"""The container images, checked without Docker: the Dockerfiles' structure (multi-stage, slim
non-root runtime without build tools), that what they build exists in the workspace, and the
health probe script the compose health checks run."""

from __future__ import annotations

import http.server
import re
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest

from conftest import COMPOSE_FILE, DEPLOY_DIR, REPO_ROOT, SERVICES, binary_settings, load_yaml, of_kind, rendered

DOCKER_DIR = DEPLOY_DIR / "docker"
DOCKERFILES = [DOCKER_DIR / "Dockerfile", DOCKER_DIR / "Dockerfile.transformer"]
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cargo|rustc|rustup|make|pkg-config|python3-venv|pip)\b")


def stages(dockerfile: Path) -> list[list[str]]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = dockerfile.read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def workspace_binaries() -> dict[str, set[str]]:
    """Package name -> binary names of every workspace member."""
    root = tomllib.loads((REPO_ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    packages: dict[str, set[str]] = {}
    for member in root["workspace"]["members"]:
        manifest = tomllib.loads((REPO_ROOT / member / "Cargo.toml").read_text(encoding="utf-8"))
        name = manifest["package"]["name"]
        bins = {target["name"] for target in manifest.get("bin", [])}
        if (REPO_ROOT / member / "src" / "main.rs").exists():
            bins.add(name)
        packages[name] = bins
    return packages


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_runtime_stage_is_slim_non_root_and_free_of_build_tools(dockerfile):
    all_stages = stages(dockerfile)
    assert len(all_stages) >= 2, "multi-stage build"
    runtime = all_stages[-1]
    base = runtime[0].split()[1]
    assert re.match(r"(debian:\$\{DEBIAN_RELEASE\}-slim|debian:[a-z]+-slim|gcr\.io/distroless/)", base), base
    users = [line.split()[1] for line in runtime if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}, users
    for line in runtime:
        if line.upper().startswith("RUN "):
            assert not BUILD_TOOLS.search(line), f"build tool in the runtime stage: {line}"
        if line.upper().startswith("COPY ") and "--from=" not in line:
            assert "deploy/docker/" in line, f"runtime copies only built artefacts and deploy/docker files: {line}"
    entrypoint = [line for line in runtime if line.upper().startswith("ENTRYPOINT ")]
    assert entrypoint and entrypoint[-1].split(None, 1)[1].startswith("["), "exec-form ENTRYPOINT (signals reach the binary)"
    build = all_stages[0]
    assert any("cargo build --locked" in line for line in build)
    assert any("--help >" in line for line in build), "the binary's --help is kept as the image's settings documentation"


def test_every_image_the_deployments_use_is_a_workspace_binary():
    binaries = workspace_binaries()
    compose = load_yaml(COMPOSE_FILE)
    for name, service in compose["services"].items():
        args = service.get("build", {}).get("args", {})
        if "SERVICE" not in args:
            continue
        package = args["SERVICE"]
        assert package in binaries and package in binaries[package], f"{name}: no package/bin {package}"
    for deployment in of_kind(rendered("default"), "Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        image_name = container["image"].rsplit("/", 1)[1].split(":")[0]
        assert image_name in binaries and image_name in SERVICES


def test_transformer_image_builds_the_feature_with_the_pinned_libtorch():
    text = (DOCKER_DIR / "Dockerfile.transformer").read_text(encoding="utf-8")
    scorer = tomllib.loads((REPO_ROOT / "services/sentiment-scorer/Cargo.toml").read_text(encoding="utf-8"))
    assert "transformer" in scorer["features"]
    assert "-p sentiment-scorer --features transformer" in text
    requirements = (REPO_ROOT / "requirements-transformer.txt").read_text(encoding="utf-8")
    assert re.search(r"^torch==2\.4\.0$", requirements, re.M)
    assert "requirements-transformer.txt" in text
    runtime = "\n".join(stages(DOCKER_DIR / "Dockerfile.transformer")[-1])
    assert "LD_LIBRARY_PATH=/opt/libtorch/lib" in runtime
    model_dir = re.search(r"(MURMUR_TRANSFORMER_MODEL_DIR)=(\S+)", runtime)
    assert model_dir and model_dir.group(1) in binary_settings()
    assert "COPY --from=build /out/models/" in runtime and model_dir.group(2).startswith("/opt/murmur/models/")


def test_dockerignore_keeps_what_the_builds_need():
    ignored = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ".git" in ignored and "**/target" in ignored
    assert "!deploy/docker" in ignored
    for needed in ("Cargo.toml", "Cargo.lock", "proto", "services", "requirements-transformer.txt"):
        assert needed not in ignored


class _ReadinessHandler(http.server.BaseHTTPRequestHandler):
    ready = True

    def do_GET(self):  # noqa: N802 (http.server's naming)
        status = 200 if (self.path == "/healthz" or (self.path == "/readyz" and self.ready)) else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok\n" if status == 200 else b"not ready\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def admin_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ReadinessHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def probe(port: int, path: str) -> int:
    return subprocess.run(
        ["bash", str(DOCKER_DIR / "murmur-probe"), str(port), path], capture_output=True, timeout=20
    ).returncode


def test_probe_passes_only_on_http_200(admin_server):
    port = admin_server.server_address[1]
    _ReadinessHandler.ready = True
    assert probe(port, "/readyz") == 0
    _ReadinessHandler.ready = False
    assert probe(port, "/readyz") != 0
    assert probe(port, "/healthz") == 0


def test_probe_fails_when_nothing_listens(admin_server):
    port = admin_server.server_address[1]
    admin_server.shutdown()
    admin_server.server_close()
    assert probe(port, "/readyz") != 0


def has_migrate_subcommand(package_dir: Path) -> bool:
    for path in (package_dir / "src").rglob("*.rs"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"Subcommand\)\]\s*pub enum \w+\s*\{(.*?)\n\}", text, re.S):
            if re.search(r"^\s*Migrate\b", match.group(1), re.M):
                return True
    return False


@pytest.mark.parametrize(
    "binary",
    [
        "ingestor",
        "metrics-aggregator",
    ],
)
def test_binaries_the_migration_steps_run_have_a_migrate_subcommand(binary):
    """The chart's migration Job and compose's migrate-* services run `<binary> migrate`."""
    compose = load_yaml(COMPOSE_FILE)
    assert any(
        service.get("command") == ["migrate"] and service["build"]["args"]["SERVICE"] == binary
        for service in compose["services"].values()
        if "build" in service
    )
    assert has_migrate_subcommand(REPO_ROOT / "services" / binary)
