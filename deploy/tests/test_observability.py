"""Observability docs stay in step with the code: the Grafana dashboard queries only metrics the
services register (with the right series suffix for their type), and deploy/README.md's metric
table lists every registered metric with its type and labels."""

from __future__ import annotations

import json
import re

import pytest

from conftest import DEPLOY_DIR, exported_metrics

DASHBOARD = DEPLOY_DIR / "grafana" / "murmur-dashboard.json"
README = DEPLOY_DIR / "README.md"
SERIES_SUFFIXES = {"counter": {"_total"}, "gauge": {""}, "histogram": {"_bucket", "_sum", "_count"}}


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    expressions = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expressions.append(target["expr"])
    variable_queries = [variable.get("definition", "") for variable in dashboard["templating"]["list"]]
    return expressions + variable_queries


def series_in(expression: str) -> set[str]:
    return set(re.findall(r"\b(murmur_[a-z_]+)\b", expression))


def split_series(series: str) -> tuple[str, str]:
    """`murmur_x_total` -> (`murmur_x`, `_total`) for the metric it belongs to."""
    metrics = exported_metrics()
    for suffix in ("_total", "_bucket", "_sum", "_count", ""):
        base = series[: len(series) - len(suffix)] if suffix else series
        if series.endswith(suffix) and base in metrics:
            return base, suffix
    raise AssertionError(f"{series} is not a metric the services register")


def test_the_sources_register_the_expected_families():
    metrics = exported_metrics()
    prefixes = {name.split("_")[1] for name in metrics}
    assert prefixes == {"kafka", "grpc", "ingestor", "scorer", "aggregator"}
    assert len(metrics) >= 30


def test_dashboard_is_valid_grafana_json():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24


def test_dashboard_queries_only_real_metrics_with_the_right_suffix():
    metrics = exported_metrics()
    for expression in dashboard_expressions():
        for series in series_in(expression):
            base, suffix = split_series(series)
            assert suffix in SERIES_SUFFIXES[metrics[base]["type"]], f"{series}: wrong suffix for a {metrics[base]['type']}"


def test_dashboard_shows_every_metric():
    shown = {split_series(series)[0] for expression in dashboard_expressions() for series in series_in(expression)}
    missing = set(exported_metrics()) - shown
    assert not missing, sorted(missing)


def readme_metric_rows() -> dict[str, dict[str, str]]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"`murmur_[a-z_]+`", cells[0]):
            rows[cells[0].strip("`")] = {"type": cells[1], "labels": cells[2], "meaning": cells[3]}
    return rows


def test_readme_documents_every_metric_with_its_type_and_labels():
    rows = readme_metric_rows()
    metrics = exported_metrics()
    exposed_names = {}
    for name, metric in metrics.items():
        exposed = name + "_total" if metric["type"] == "counter" else name
        exposed_names[exposed] = name
    assert set(rows) == set(exposed_names), {
        "undocumented": sorted(set(exposed_names) - set(rows)),
        "not in the code": sorted(set(rows) - set(exposed_names)),
    }
    for exposed, row in rows.items():
        metric = metrics[exposed_names[exposed]]
        assert row["type"] == metric["type"], exposed
        documented_labels = set(re.findall(r"`([a-z_]+)`", row["labels"]))
        assert documented_labels == set(metric["labels"]), exposed
        assert row["meaning"], exposed


@pytest.mark.parametrize("setting", ["KAFKA_BROKERS", "DATABASE_URL", "MURMUR_HMAC_KEY_FILE", "OTEL_EXPORTER_OTLP_ENDPOINT"])
def test_readme_names_the_settings_an_sre_sets(setting):
    assert setting in README.read_text(encoding="utf-8")
