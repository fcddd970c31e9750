"""Shared helpers of the deployment checks: paths, the Helm chart rendered with real Helm
(helm-python-sdk: Helm v4's Go SDK behind a C ABI), and facts read from the Rust sources (the
binaries' settings and metrics) so the deployment files are checked against the code itself."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
CHART_DIR = DEPLOY_DIR / "helm" / "murmur"
PRODUCTION_VALUES = DEPLOY_DIR / "helm" / "values-production.yaml"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SERVICES_DIR = REPO_ROOT / "services"

RELEASE_NAME = "murmur"
NAMESPACE = "murmur"

# The three services: chart component name, values key, default gRPC and admin ports.
SERVICES = {
    "ingestor": {"values_key": "ingestor", "grpc": 50051, "admin": 9101},
    "sentiment-scorer": {"values_key": "sentimentScorer", "grpc": 50052, "admin": 9102},
    "metrics-aggregator": {"values_key": "metricsAggregator", "grpc": 50053, "admin": 9103},
}

TOPICS = ["murmur.posts.raw.v1", "murmur.posts.scored.v1", "murmur.alerts.v1", "murmur.deadletter.v1"]

# Variables the chart sets only so Kubernetes can interpolate them into KAFKA_OPTIONS
# (`sasl.username=$(KAFKA_SASL_USERNAME)`); they are not settings of the binaries.
CHART_INTERPOLATION_VARS = {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}

# Values turning every optional path of the chart on, so the checks see all of it.
EVERYTHING_ON_VALUES: dict[str, Any] = {
    "kafka": {
        "options": ["ssl.ca.location=/etc/ssl/certs/ca-certificates.crt"],
        "sasl": {"enabled": True, "existingSecret": "kafka-credentials", "mechanism": "PLAIN"},
    },
    "secrets": {
        "reddit": {"existingSecret": "reddit"},
        "x": {"existingSecret": "x-api"},
    },
    "tracing": {"otlpEndpoint": "http://collector:4317"},
    "serviceMonitor": {"enabled": True},
    "ingestor": {"autoscaling": {"enabled": True}},
    "sentimentScorer": {"transformer": {"enabled": True, "headConfigMap": "sentiment-head"}},
}


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def render_chart(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Renders the chart with real Helm and returns every Kubernetes object it produces."""
    import helm_python

    with helm_python.Chart.load(str(CHART_DIR)) as chart:
        manifests = chart.render(values, name=RELEASE_NAME, namespace=NAMESPACE)
    objects: list[dict[str, Any]] = []
    for template_path, manifest in sorted(manifests.items()):
        if template_path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(manifest):
            if document:
                document.setdefault("metadata", {}).setdefault("annotations", {})
                objects.append(document)
    return objects


@functools.cache
def rendered(variant: str) -> list[dict[str, Any]]:
    """The chart rendered for a named values variant (cached: rendering is the slow part)."""
    if variant == "default":
        return render_chart(None)
    if variant == "production":
        return render_chart(load_yaml(PRODUCTION_VALUES))
    if variant == "everything-on":
        return render_chart(EVERYTHING_ON_VALUES)
    raise ValueError(variant)


VARIANTS = ["default", "production", "everything-on"]


@pytest.fixture(params=VARIANTS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return rendered(request.param)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj.get("kind") == kind]


def component_of(obj: dict[str, Any]) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


def rust_sources() -> list[Path]:
    return sorted(path for path in SERVICES_DIR.rglob("*.rs") if "target" not in path.parts)


@functools.cache
def binary_settings() -> frozenset[str]:
    """Every environment variable the binaries read as a setting: each clap argument's
    `env = "..."` anywhere under services/ (common, service and connector configs), plus the
    standard OpenTelemetry variables the telemetry module reads by name."""
    settings: set[str] = set()
    for path in rust_sources():
        text = path.read_text(encoding="utf-8")
        settings.update(re.findall(r'\benv\s*=\s*"([A-Za-z_][A-Za-z0-9_]*)"', text))
    telemetry = (SERVICES_DIR / "common" / "src" / "telemetry.rs").read_text(encoding="utf-8")
    settings.update(re.findall(r'"(OTEL_[A-Z0-9_]+)"', telemetry))
    return frozenset(settings)


METRIC_KINDS = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram"}


@functools.cache
def exported_metrics() -> dict[str, dict[str, Any]]:
    """The Prometheus metrics the services register, read from the Rust sources.

    Each metrics module defines a struct of prometheus-client metrics, label-set structs
    (`#[derive(EncodeLabelSet)]`), `registry.sub_registry_with_prefix("murmur_x")` and
    `sub.register("name", "help", metrics.field.clone())` calls. Returns the exposed base name
    (prefix_name; counters are exposed with a `_total` suffix, histograms as
    `_bucket`/`_sum`/`_count`) with its type, labels, help and source file.
    """
    metrics: dict[str, dict[str, Any]] = {}
    for path in rust_sources():
        text = path.read_text(encoding="utf-8")
        if "sub_registry_with_prefix" not in text:
            continue
        label_sets: dict[str, list[str]] = {}
        for match in re.finditer(r"derive\([^)]*EncodeLabelSet[^)]*\)\]\s*pub struct (\w+)\s*\{(.*?)\n\}", text, re.S):
            label_sets[match.group(1)] = re.findall(r"pub (\w+):", match.group(2))
        field_types: dict[str, str] = {}
        for match in re.finditer(r"pub (\w+): ((?:Family<\w+, ?\w+>)|Counter|Gauge|Histogram),", text):
            field_types[match.group(1)] = match.group(2)
        prefixes = re.findall(r'sub_registry_with_prefix\("([a-z_]+)"\)', text)
        assert len(prefixes) == 1, f"{path}: expected one metrics prefix, found {prefixes}"
        prefix = prefixes[0]
        for match in re.finditer(r'\.register\(\s*"([a-z_]+)",\s*"([^"]*)",\s*metrics\.(\w+)\.clone\(\)', text, re.S):
            name, help_text, field = match.groups()
            field_type = field_types[field]
            family = re.match(r"Family<(\w+), ?(\w+)>", field_type)
            if family:
                labels = label_sets[family.group(1)]
                kind = METRIC_KINDS[family.group(2)]
            else:
                labels = []
                kind = METRIC_KINDS[field_type]
            metrics[f"{prefix}_{name}"] = {
                "type": kind,
                "labels": labels,
                "help": help_text,
                "source": str(path.relative_to(REPO_ROOT)),
            }
    return metrics


def metric_base_name(exposed: str) -> str:
    """Maps an exposed series name back to its registered name."""
    known = exported_metrics()
    if exposed in known:
        return exposed
    for suffix in ("_total", "_bucket", "_sum", "_count", "_created"):
        if exposed.endswith(suffix) and exposed[: -len(suffix)] in known:
            return exposed[: -len(suffix)]
    return exposed
