"""The Helm chart: lint, render and validate with real tools, then check the operational
policies (probes, security context, limits, autoscaling, disruption budgets, network
policies, hook Jobs) and that every setting it passes is a real setting of the binaries."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest

from conftest import (
    CHART_DIR,
    CHART_INTERPOLATION_VARS,
    NAMESPACE,
    PRODUCTION_VALUES,
    SERVICES,
    TOPICS,
    VARIANTS,
    binary_settings,
    component_of,
    load_yaml,
    of_kind,
    render_chart,
    rendered,
)

# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas shipped.
KUBERNETES_VERSIONS = ["1.25.0", kubernetes_validate.utils.latest_version()]


def murmur_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def deployments_by_component(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {component_of(deployment): deployment for deployment in of_kind(objects, "Deployment")}


# --- Helm itself -------------------------------------------------------------------------------


def test_chart_lints_without_errors_or_warnings():
    report = helm_python.lint(str(CHART_DIR), namespace=NAMESPACE)
    problems = [message for message in report["messages"] if message["severity"] >= 2]
    assert report["errors"] == [], report["errors"]
    assert problems == [], problems


def test_chart_lints_with_production_values():
    report = helm_python.lint(str(CHART_DIR), load_yaml(PRODUCTION_VALUES), namespace=NAMESPACE, strict=True)
    assert report["errors"] == [], report["errors"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_chart_renders_the_three_services(variant):
    assert set(deployments_by_component(rendered(variant))) == set(SERVICES)


# --- schema of values -------------------------------------------------------------------------


def test_values_file_matches_the_schema():
    schema = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(load_yaml(CHART_DIR / "values.yaml"), schema)
    with helm_python.Chart.load(str(CHART_DIR)) as chart:
        jsonschema.validate(chart.merge_values(load_yaml(PRODUCTION_VALUES)), schema)


@pytest.mark.parametrize(
    "bad_values, complaint",
    [
        ({"ingestor": {"replicaCount": "many"}}, "replicaCount"),
        ({"sentimentScorer": {"replicas": 3}}, "replicas"),
        ({"kafka": {"topics": {"partitions": 0}}}, "partitions"),
        ({"metricsAggregator": {"config": {"murmur_bucket": "1h"}}}, "murmur_bucket"),
        ({"kafka": {"sasl": {"enabled": True, "mechanism": "GSSAPI"}}}, "mechanism"),
        ({"ingestor": {"ports": {"grpc": 70000, "admin": 9101}}}, "grpc"),
    ],
)
def test_schema_rejects_bad_values(bad_values, complaint):
    with pytest.raises(helm_python.HelmValuesError, match=complaint):
        render_chart(bad_values)


# --- every object is valid Kubernetes ----------------------------------------------------------


@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_validates_against_the_kubernetes_schemas(variant, kubernetes_version):
    validated = 0
    for obj in rendered(variant):
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked by test_service_monitors_scrape_the_admin_port
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
        validated += 1
    assert validated >= 15


def test_service_monitors_scrape_the_admin_port():
    objects = rendered("production")
    monitors = of_kind(objects, "ServiceMonitor")
    services = {component_of(service): service for service in of_kind(objects, "Service")}
    assert {component_of(monitor) for monitor in monitors} == set(SERVICES)
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        service = services[component_of(monitor)]
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        [endpoint] = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
        assert endpoint["port"] == "admin"
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_service_monitors_are_off_by_default():
    assert of_kind(rendered("default"), "ServiceMonitor") == []


# --- policies of the Deployments ----------------------------------------------------------------


def test_deployments_probe_liveness_and_readiness_on_the_admin_port(objects):
    for deployment in of_kind(objects, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            ports = {port["name"]: port["containerPort"] for port in container["ports"]}
            assert "admin" in ports and "grpc" in ports
            liveness, readiness = container.get("livenessProbe"), container.get("readinessProbe")
            assert liveness and readiness, f"{deployment['metadata']['name']}: probes missing"
            assert liveness["httpGet"] == {"path": "/healthz", "port": "admin"}
            assert readiness["httpGet"] == {"path": "/readyz", "port": "admin"}
            assert container["startupProbe"]["httpGet"]["port"] == "admin"


def test_pods_and_containers_are_locked_down(objects):
    pod_specs = [deployment["spec"]["template"]["spec"] for deployment in of_kind(objects, "Deployment")]
    pod_specs += [job["spec"]["template"]["spec"] for job in of_kind(objects, "Job")]
    assert pod_specs
    for pod_spec in pod_specs:
        assert pod_spec["securityContext"]["runAsNonRoot"] is True
        assert pod_spec["securityContext"]["runAsUser"] != 0
        assert pod_spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod_spec["automountServiceAccountToken"] is False
        for container in murmur_containers(pod_spec):
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert "add" not in security["capabilities"]
            assert security["seccompProfile"]["type"] == "RuntimeDefault"
            assert security.get("privileged", False) is False


def test_containers_have_requests_and_limits(objects):
    for workload in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        for container in murmur_containers(workload["spec"]["template"]["spec"]):
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[bound]), f"{container['name']}: {bound}"


def test_read_only_root_keeps_a_writable_tmp(objects):
    for deployment in of_kind(objects, "Deployment"):
        pod_spec = deployment["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
        for container in pod_spec["containers"]:
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]


def parse_duration_seconds(raw: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(ms|s|m|h)?", raw)
    assert match, raw
    scale = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * scale


def test_termination_grace_outlasts_the_services_own_grace_period(objects):
    config_maps = {obj["metadata"]["name"]: obj for obj in of_kind(objects, "ConfigMap")}
    for deployment in of_kind(objects, "Deployment"):
        pod_spec = deployment["spec"]["template"]["spec"]
        [container] = pod_spec["containers"]
        [source] = container["envFrom"]
        config = config_maps[source["configMapRef"]["name"]]["data"]
        service_grace = parse_duration_seconds(config.get("MURMUR_GRACE_PERIOD", "30s"))
        assert pod_spec["terminationGracePeriodSeconds"] > service_grace, deployment["metadata"]["name"]


def test_services_expose_grpc_and_admin_to_the_right_pods(objects):
    deployments = deployments_by_component(objects)
    for service in of_kind(objects, "Service"):
        deployment = deployments[component_of(service)]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        container_ports = {port["name"] for port in container["ports"]}
        assert {port["name"] for port in service["spec"]["ports"]} == {"grpc", "admin"}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports


def test_default_ports_are_the_documented_ones():
    config_maps = {component_of(obj): obj["data"] for obj in of_kind(rendered("default"), "ConfigMap")}
    for component, ports in SERVICES.items():
        assert config_maps[component]["MURMUR_GRPC_ADDR"] == f"0.0.0.0:{ports['grpc']}"
        assert config_maps[component]["MURMUR_ADMIN_ADDR"] == f"0.0.0.0:{ports['admin']}"


# --- scaling and disruption ---------------------------------------------------------------------


def hpa_targets(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    deployments = {deployment["metadata"]["name"]: deployment for deployment in of_kind(objects, "Deployment")}
    targets = {}
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        reference = hpa["spec"]["scaleTargetRef"]
        assert reference["kind"] == "Deployment" and reference["apiVersion"] == "apps/v1"
        deployment = deployments[reference["name"]]
        assert "replicas" not in deployment["spec"], "an autoscaled Deployment must leave replicas to the HPA"
        targets[component_of(deployment)] = hpa
    return targets


def test_scorer_autoscales_by_default():
    assert set(hpa_targets(rendered("default"))) == {"sentiment-scorer"}


def test_hpas_target_the_scorer_and_the_ingestor_when_enabled():
    targets = hpa_targets(rendered("everything-on"))
    assert set(targets) == {"sentiment-scorer", "ingestor"}
    for hpa in targets.values():
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_the_aggregator_is_never_autoscaled():
    values = {"metricsAggregator": {"autoscaling": {"enabled": True}}}
    with pytest.raises(helm_python.HelmValuesError):
        render_chart(values)


def test_scorer_replicas_stay_within_the_partitions():
    for variant, values in (("default", load_yaml(CHART_DIR / "values.yaml")), ("production", load_yaml(PRODUCTION_VALUES))):
        partitions = values["kafka"]["topics"]["partitions"]
        for hpa in hpa_targets(rendered(variant)).values():
            assert hpa["spec"]["maxReplicas"] <= partitions, variant


def test_every_deployment_has_a_disruption_budget(objects):
    deployments = of_kind(objects, "Deployment")
    budgets = of_kind(objects, "PodDisruptionBudget")
    for deployment in deployments:
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [
            budget for budget in budgets if budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        ]
        assert len(matching) == 1, deployment["metadata"]["name"]
        assert "maxUnavailable" in matching[0]["spec"] or "minAvailable" in matching[0]["spec"]


# --- network policies ---------------------------------------------------------------------------


def test_every_deployment_is_isolated_by_a_network_policy(objects):
    policies = of_kind(objects, "NetworkPolicy")
    for deployment in of_kind(objects, "Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        [policy] = [
            policy for policy in policies if policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        ]
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        ingress_ports = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
        assert ingress_ports == {"grpc", "admin"}
        egress_ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule.get("ports", [])}
        assert 53 in egress_ports, "DNS"
        uses_database = any(env["name"] == "DATABASE_URL" for env in deployment["spec"]["template"]["spec"]["containers"][0].get("env", []))
        assert (5432 in egress_ports) == uses_database
        assert (443 in egress_ports) == (component_of(deployment) == "ingestor")


# --- hook Jobs ----------------------------------------------------------------------------------


def jobs_by_component(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {component_of(job): job for job in of_kind(objects, "Job")}


def test_migration_job_runs_both_migrations_before_install_and_upgrade(objects):
    job = jobs_by_component(objects)["migrations"]
    assert set(job["metadata"]["annotations"]["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    pod_spec = job["spec"]["template"]["spec"]
    steps = murmur_containers(pod_spec)
    images = [container["image"] for container in steps]
    assert [image.rsplit("/", 1)[1].split(":")[0] for image in images] == ["ingestor", "metrics-aggregator"]
    for container in steps:
        assert container["args"] == ["migrate"]
        assert "command" not in container, "the image's entrypoint is the binary"
        assert any(env["name"] == "DATABASE_URL" and "secretKeyRef" in env["valueFrom"] for env in container["env"])


def test_topic_job_creates_every_topic_idempotently(objects):
    job = jobs_by_component(objects)["topics"]
    assert set(job["metadata"]["annotations"]["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    weights = {name: int(job["metadata"]["annotations"]["helm.sh/hook-weight"]) for name, job in jobs_by_component(objects).items()}
    assert weights["topics"] < weights["migrations"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("apache/kafka:")
    script = "\n".join(container["command"] + container["args"])
    assert "kafka-topics.sh" in script and "--if-not-exists" in script and "--create" in script
    env = {item["name"]: item for item in container["env"]}
    assert env["TOPICS"]["value"].split() == TOPICS
    sasl_enabled = "KAFKA_SASL_USERNAME" in env
    assert sasl_enabled == ("SASL_MECHANISM" in env)


def test_hook_jobs_do_not_depend_on_release_objects(objects):
    """Pre-install hooks run before the release's ConfigMaps and ServiceAccount exist."""
    for job in of_kind(objects, "Job"):
        pod_spec = job["spec"]["template"]["spec"]
        assert "serviceAccountName" not in pod_spec
        for container in murmur_containers(pod_spec):
            assert "envFrom" not in container


# --- settings passed to the binaries are real ---------------------------------------------------


def murmur_env_names(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Environment variable names each murmur container gets (env and its ConfigMaps)."""
    config_maps = {obj["metadata"]["name"]: obj.get("data", {}) for obj in of_kind(objects, "ConfigMap")}
    names: dict[str, set[str]] = {}
    for workload in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        for container in murmur_containers(workload["spec"]["template"]["spec"]):
            if container["image"].startswith("apache/kafka:"):
                continue
            container_names = {env["name"] for env in container.get("env", [])}
            for source in container.get("envFrom", []):
                container_names |= set(config_maps[source["configMapRef"]["name"]])
            names[f"{workload['metadata']['name']}/{container['name']}"] = container_names
    return names


def test_every_env_var_given_to_a_binary_is_one_of_its_settings(objects):
    settings = binary_settings()
    for container, names in murmur_env_names(objects).items():
        unknown = names - settings - CHART_INTERPOLATION_VARS
        assert not unknown, f"{container}: not settings of the binaries: {sorted(unknown)}"


def test_default_config_maps_use_real_settings():
    values = load_yaml(CHART_DIR / "values.yaml")
    production = load_yaml(PRODUCTION_VALUES)
    settings = binary_settings()
    for source in (values, production):
        maps = [source.get("commonConfig", {})] + [source.get(spec["values_key"], {}).get("config", {}) for spec in SERVICES.values()]
        for secret in source.get("secrets", {}).values():
            maps.append(secret.get("env", {}))
        for config in maps:
            unknown = set(config) - settings
            assert not unknown, f"not settings of the binaries: {sorted(unknown)}"


def test_kafka_options_interpolate_only_variables_defined_before_them():
    for deployment in of_kind(rendered("everything-on"), "Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = container["env"]
        names = [item["name"] for item in env]
        options = next(item["value"] for item in env if item["name"] == "KAFKA_OPTIONS")
        for reference in re.findall(r"\$\(([A-Z_]+)\)", options):
            assert reference in names[: names.index("KAFKA_OPTIONS")], reference
        pairs = options.split(",")
        assert all("=" in pair for pair in pairs)
        assert "sasl.mechanism=PLAIN" in pairs and "security.protocol=SASL_SSL" in pairs


def test_ingestor_reads_its_hmac_key_from_a_mounted_secret_file(objects):
    deployment = next(d for d in of_kind(objects, "Deployment") if component_of(d) == "ingestor")
    pod_spec = deployment["spec"]["template"]["spec"]
    [container] = pod_spec["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert "MURMUR_HMAC_KEY" not in env, "the key must not sit in the environment"
    key_file = env["MURMUR_HMAC_KEY_FILE"]["value"]
    mount = next(m for m in container["volumeMounts"] if key_file.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])
    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"]


def test_transformer_variant_uses_its_image_and_mounts_the_head():
    deployment = next(d for d in of_kind(rendered("everything-on"), "Deployment") if component_of(d) == "sentiment-scorer")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert "/sentiment-scorer-transformer:" in container["image"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    head = env["MURMUR_TRANSFORMER_HEAD"]
    assert any(head.startswith(mount["mountPath"] + "/") for mount in container["volumeMounts"])


def test_secrets_are_referenced_never_embedded(objects):
    assert of_kind(objects, "Secret") == [], "the chart references existing Secrets only"
    for config_map in of_kind(objects, "ConfigMap"):
        for key, value in config_map.get("data", {}).items():
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|HMAC_KEY$)", key), key
            assert "://" not in value or "@" not in value, f"{key} looks like a URL with credentials"


def test_disabling_a_service_removes_all_its_objects():
    values = copy.deepcopy({"sentimentScorer": {"enabled": False}})
    objects = render_chart(values)
    assert all(
        obj["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "sentiment-scorer" for obj in objects
    )
