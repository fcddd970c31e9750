"""docker-compose.yml: valid against the Compose Specification schema (Docker is not available
where CI runs), every murmur service health-checked and ordered after what it needs, and every
environment variable a real setting of the binaries."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import jsonschema
import pytest

from conftest import COMPOSE_FILE, DEPLOY_DIR, REPO_ROOT, SERVICES, TOPICS, binary_settings, load_yaml

SCHEMA_PATH = DEPLOY_DIR / "schemas" / "compose-spec.json"
SCHEMA_SHA256 = "46b7d35f19dd93a05f8fea530291bf84d881c1791ec167ecf0e6fb94e639d496"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def murmur_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services built from murmur's Dockerfile."""
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build", {}).get("dockerfile", "").startswith("deploy/docker/")
    }


def test_vendored_schema_is_the_recorded_one():
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_validates_against_the_compose_specification(compose, validator):
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(compose)]
    assert errors == []


@pytest.mark.parametrize(
    "mutation",
    [
        lambda c: c["services"]["ingestor"]["healthcheck"].update({"intervall": "10s"}),
        lambda c: c["services"]["ingestor"].update({"depends_on": {"kafka": {"condition": "when_ready"}}}),
        lambda c: c["services"]["kafka"].update({"ports": {"29092": 29092}}),
        lambda c: c.update({"service": {}}),
    ],
)
def test_the_schema_check_catches_mistakes(compose, validator, mutation):
    broken = copy.deepcopy(compose)
    mutation(broken)
    assert list(validator.iter_errors(broken)), "the schema should reject this"


def test_the_three_services_are_health_checked_and_wait_for_their_dependencies(compose):
    services = compose["services"]
    for name, spec in SERVICES.items():
        service = services[name]
        test = service["healthcheck"]["test"]
        assert test == ["CMD", "murmur-probe", str(spec["admin"]), "/readyz"]
        depends_on = service["depends_on"]
        assert depends_on["kafka-topics"]["condition"] == "service_completed_successfully"
        assert service["environment"]["MURMUR_ADMIN_ADDR"].endswith(f":{spec['admin']}")
        assert service["environment"]["MURMUR_GRPC_ADDR"].endswith(f":{spec['grpc']}")
        assert f"{spec['grpc']}:{spec['grpc']}" in service["ports"]


def test_every_murmur_container_depends_on_something(compose):
    for name, service in murmur_services(compose).items():
        assert service.get("depends_on"), name


def test_database_users_wait_for_their_migrations(compose):
    services = compose["services"]
    for name, migration in (("ingestor", "migrate-ingestor"), ("metrics-aggregator", "migrate-aggregator")):
        assert services[name]["depends_on"][migration]["condition"] == "service_completed_successfully"
        assert services[migration]["command"] == ["migrate"]
        assert services[migration]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[migration]["build"]["args"]["SERVICE"] == name


def test_depends_on_names_existing_services_and_healthy_means_health_checked(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"


def test_kafka_runs_in_kraft_mode_and_topics_are_created(compose):
    services = compose["services"]
    kafka = services["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in kafka
    script = "\n".join(services["kafka-topics"]["command"])
    assert "--if-not-exists" in script
    for topic in TOPICS:
        assert topic in script


def test_tracing_goes_through_the_collector_to_jaeger(compose):
    services = compose["services"]
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one:")
    collector = services["otel-collector"]
    mounted = collector["volumes"][0].split(":")[0]
    config = load_yaml(REPO_ROOT / mounted)
    assert "otlp" in config["receivers"]
    assert any(name.startswith("otlp") and "jaeger" in exporter["endpoint"] for name, exporter in config["exporters"].items())
    for name in SERVICES:
        assert services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"


def test_the_demo_stream_is_generated_then_replayed_only_in_the_demo_profile(compose):
    services = compose["services"]
    simulator, replay = services["simulator"], services["demo-replay"]
    assert simulator["profiles"] == replay["profiles"] == ["demo"]
    assert simulator["build"]["args"]["SERVICE"] == "murmur-sim"
    assert simulator["command"][0] == "generate" and simulator["restart"] == "no"
    out = simulator["environment"]["MURMUR_SIM_OUT"]
    assert replay["environment"]["MURMUR_REPLAY_FILE"] == f"{out}/stream.jsonl"
    volume = lambda service: {mount.split(":")[0]: mount.split(":")[1] for mount in service["volumes"]}
    assert volume(simulator)["sim-data"] == out and volume(replay)["sim-data"] == out
    assert replay["depends_on"]["simulator"]["condition"] == "service_completed_successfully"
    assert "sim-data" in compose["volumes"]


def test_every_env_var_given_to_a_murmur_binary_is_one_of_its_settings(compose):
    settings = binary_settings()
    for name, service in murmur_services(compose).items():
        unknown = set(service.get("environment", {})) - settings
        assert not unknown, f"{name}: not settings of the binaries: {sorted(unknown)}"


def test_murmur_containers_are_locked_down(compose):
    for name, service in murmur_services(compose).items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
