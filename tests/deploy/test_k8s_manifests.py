"""deploy/k8s holds together: kustomization lists every manifest, each service's Deployment runs the service with
probes on routes it serves, resources, a restricted security context, spread over nodes, a disruption budget and
an autoscaler on a real queue; every variable it sets is a setting the service reads; MongoDB is a three-member
replica set the services' URL names in full; RabbitMQ a three-node cluster formed by k8s peer discovery; the
secrets are placeholders in a template that is never applied. No cluster is needed (`kubectl kustomize` is used
when installed; schema validation needs an API server, so it is not done here)."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from services.intake.config import Settings as IntakeSettings
from services.notifier.config import Settings as NotifierSettings
from services.tracking.config import Settings as TrackingSettings
from services.web.config import Settings as WebSettings
from shared.contracts.topology import SERVICE_QUEUES
from shared.platform.client_address import networks
from tests.deploy.test_compose import URL_PASSWORD, strings

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SECRETS_TEMPLATE = K8S / "secrets.yaml.example"
NAMESPACE = "dondoc"
SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "tracking": TrackingSettings,
    "notifier": NotifierSettings,
    "web": WebSettings,
}
NO_BROKER = {"web"}  # the portal acts through tracking's HTTP API only
MEMORY_TARGET = 200 * 1000 * 1000  # the project's ≤ 200 MB RSS per service
CLUSTER_WIDE = {"Namespace"}
WORKLOADS = ("Deployment", "StatefulSet", "Job")


@functools.cache
def load(path: Path) -> list[dict[str, Any]]:
    """The documents of one file (parsed once: the tests only read them)."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def listed() -> list[str]:
    return load(K8S / "kustomization.yaml")[0]["resources"]


def applied() -> list[dict[str, Any]]:
    """Every object `kubectl apply -k deploy/k8s` creates."""
    return [doc for name in listed() for doc in load(K8S / name)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in applied() if doc["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels only: these manifests use no expressions) against a pod's labels."""
    assert set(selector) <= {"matchLabels"}, f"unexpected selector form {selector}"
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(key) == value for key, value in wanted.items())


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number: "500m" → 0.5, "256Mi" → 268435456, "2" → 2."""
    text = str(value)
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The variables a settings class reads: its prefix + each field's name, and a field's unprefixed alias
    (AMQP_URL …: shared/platform/settings.py). Case-insensitive, as pydantic-settings reads them by default."""
    assert not settings.model_config.get("case_sensitive"), "compare case-sensitively then"
    prefix = settings.model_config.get("env_prefix", "")
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else []
        names.update(str(choice).upper() for choice in choices if isinstance(choice, str))
        if not choices or settings.model_config.get("populate_by_name"):
            names.add(f"{prefix}{name}".upper())
    return names


def environment(deployment: dict[str, Any]) -> dict[str, str | None]:
    """The service container's variables: literal values, the ConfigMaps of envFrom resolved, and None for a
    value taken from a Secret."""
    config_maps = of_kind("ConfigMap")
    [container] = pod_spec(deployment)["containers"]
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name in config_maps, f"{deployment['metadata']['name']} reads ConfigMap {name}, which is not there"
        env.update({key: str(value) for key, value in config_maps[name]["data"].items()})
    for item in container.get("env", []):
        env[item["name"]] = str(item["value"]) if "value" in item else None
    return env


def secret_references() -> set[tuple[str, str | None]]:
    """(Secret, key) for every secretKeyRef, and (Secret, None) for every Secret volume, in what is applied."""
    refs: set[tuple[str, str | None]] = set()
    for workload in (doc for doc in applied() if doc["kind"] in WORKLOADS):
        for volume in pod_spec(workload).get("volumes", []):
            if "secret" in volume:
                refs.add((volume["secret"]["secretName"], None))
        for container in containers(workload):
            for item in container.get("env", []):
                if ref := item.get("valueFrom", {}).get("secretKeyRef"):
                    refs.add((ref["name"], ref["key"]))
    return refs


def template_secrets() -> dict[str, dict[str, str]]:
    return {doc["metadata"]["name"]: doc["stringData"] for doc in load(SECRETS_TEMPLATE) if doc["kind"] == "Secret"}


def conf(text: str) -> dict[str, str]:
    """A rabbitmq.conf (sysctl format) as a dict, comments left out."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


# --- the folder ------------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_and_never_the_secrets_template() -> None:
    manifests = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed()) == manifests, f"listed {sorted(listed())}, in the folder {sorted(manifests)}"
    assert len(listed()) == len(set(listed()))
    assert SECRETS_TEMPLATE.is_file() and not SECRETS_TEMPLATE.name.endswith((".yaml", ".yml", ".json"))
    seen = set()
    for doc in applied():
        kind, meta = doc["kind"], doc["metadata"]
        assert doc.get("apiVersion") and meta.get("name"), doc
        assert kind != "Secret", f"Secret {meta['name']} would be applied: secrets are created by hand"
        if kind not in CLUSTER_WIDE:
            assert meta.get("namespace") == NAMESPACE, f"{kind} {meta['name']} is not in namespace {NAMESPACE}"
        assert (kind, meta["name"]) not in seen, f"{kind} {meta['name']} is defined twice"
        seen.add((kind, meta["name"]))


def test_kustomize_builds_the_folder_into_the_same_objects() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the folder was parsed with PyYAML by the other tests")
    built = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    objects = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in objects) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in applied()
    )


# --- the services ----------------------------------------------------------------------------------------


def test_each_service_runs_from_the_one_image_with_probes_on_routes_it_serves() -> None:
    from services.cli.contracts import _apps

    # Routes added to the app itself (an included router has no single path).
    from services.web.main import create_app as web_app

    apps = {**_apps(), "web": web_app(WebSettings())}
    routes = {name: {getattr(route, "path", None) for route in app.routes} for name, app in apps.items()}
    deployments = of_kind("Deployment")
    assert set(deployments) == set(SETTINGS)
    images = set()
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] >= 2, f"{name}: one replica is a single point of failure"
        assert matches(deployment["spec"]["selector"], pod_labels(deployment))
        [container] = pod_spec(deployment)["containers"]
        images.add(container["image"])
        assert container["command"] == ["python", "-m", f"services.{name}"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", None)):
            check = container[probe]["httpGet"]
            assert check["path"] in routes[name], f"{name}: {probe} asks {check['path']}, not a route it serves"
            assert path is None or check["path"] == path, f"{name}: {probe} should ask {path}"
            assert ports.get(check["port"], check["port"]) in ports.values(), f"{name}: {probe} on another port"
    assert len(images) == 1, f"the three services should run one image, not {images}"


def test_every_container_has_requests_and_limits_within_the_memory_target() -> None:
    for workload in (doc for doc in applied() if doc["kind"] in WORKLOADS):
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{where}: no {kind} for cpu and memory"
            for resource in ("cpu", "memory"):
                assert quantity(resources["limits"][resource]) >= quantity(resources["requests"][resource]), where
    for name, deployment in of_kind("Deployment").items():
        [container] = pod_spec(deployment)["containers"]
        limit = quantity(container["resources"]["limits"]["memory"])
        assert MEMORY_TARGET <= limit <= 2 * MEMORY_TARGET, f"{name}: memory limit {limit:,.0f} B, target 200 MB"


def test_every_pod_runs_restricted_and_the_services_on_a_read_only_root() -> None:
    for workload in (doc for doc in applied() if doc["kind"] in WORKLOADS):
        name = workload["metadata"]["name"]
        pod = pod_spec(workload)["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in containers(workload):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, f"{name}/{container['name']}"
            assert context["capabilities"]["drop"] == ["ALL"], f"{name}/{container['name']}"
    for name, deployment in of_kind("Deployment").items():
        spec = pod_spec(deployment)
        [container] = spec["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert spec["automountServiceAccountToken"] is False, f"{name} does not use the Kubernetes API"
        empty_dirs = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        assert mounts.get("/tmp") in empty_dirs, f"{name}: tempfile (multipart uploads) needs a writable /tmp"


def test_the_grace_period_covers_the_services_stop() -> None:
    """uvicorn's graceful shutdown (10 s), the consumer's in-flight handlers (10 s) and the outbox relay's last
    marks and lease (7 s), after the preStop pause: shared/platform/http.py, shared/platform/broker.py,
    shared/platform/outbox.py."""
    for name, deployment in of_kind("Deployment").items():
        [container] = pod_spec(deployment)["containers"]
        pause = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", ["sleep", "0"])
        assert pause[0] == "sleep", f"{name}: unexpected preStop {pause}"
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] >= 27 + int(pause[1]), name


def test_every_workload_is_spread_and_covered_by_one_disruption_budget() -> None:
    budgets = of_kind("PodDisruptionBudget")
    workloads = {**of_kind("Deployment"), **of_kind("StatefulSet")}
    for name, workload in workloads.items():
        labels = pod_labels(workload)
        covering = [b for b in budgets.values() if matches(b["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{name} is covered by {len(covering)} disruption budgets"
        spec = covering[0]["spec"]
        assert spec.get("maxUnavailable") == 1 or spec.get("minAvailable") == 1, f"{name}: {spec}"
        pod = pod_spec(workload)
        spreads = [c["labelSelector"] for c in pod.get("topologySpreadConstraints", [])]
        anti = pod.get("affinity", {}).get("podAntiAffinity", {})
        spreads += [term["labelSelector"] for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])]
        assert any(matches(selector, labels) for selector in spreads), f"{name} is not spread over nodes"
    for name in ("rabbitmq", "mongo"):
        assert workloads[name]["spec"]["replicas"] == 3, f"{name}: three members, so one can be lost"
        anti = pod_spec(workloads[name])["affinity"]["podAntiAffinity"]
        assert anti["requiredDuringSchedulingIgnoredDuringExecution"], f"{name}: two members on one node"
    for budget in budgets.values():
        assert any(matches(budget["spec"]["selector"], pod_labels(w)) for w in workloads.values()), budget


def test_every_service_routes_to_a_port_its_pods_open() -> None:
    workloads = {**of_kind("Deployment"), **of_kind("StatefulSet")}
    for name, service in of_kind("Service").items():
        selector = {"matchLabels": service["spec"]["selector"]}
        selected = [w for w in workloads.values() if matches(selector, pod_labels(w))]
        assert len(selected) == 1, f"Service {name} selects {len(selected)} workloads"
        opened = {(p.get("name"), p["containerPort"]) for c in pod_spec(selected[0])["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert any(target in pair for pair in opened), f"Service {name}: nothing listens on {target}"
    for app in SETTINGS:
        default_port = SETTINGS[app].model_fields["http_port"].default  # compose's and the dashboards' port
        assert of_kind("Service")[app]["spec"]["ports"][0]["port"] == default_port, f"Service {app}: another port"


def test_every_variable_is_a_setting_the_service_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, deployment in of_kind("Deployment").items():
        settings_class = SETTINGS[name]
        env = environment(deployment)
        unknown = {key for key in env if key.upper() not in env_names(settings_class)}
        assert not unknown, f"{name} sets {sorted(unknown)}, which {settings_class.__module__} does not read"
        for key in env_names(settings_class):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, "secret-from-the-secret" if value is None else value)
        settings = settings_class()  # the values parse (ports, booleans, paths)
        [container] = pod_spec(deployment)["containers"]
        assert settings.http_host == "0.0.0.0", f"{name} must listen beyond the pod's loopback"
        assert settings.http_port == container["ports"][0]["containerPort"], f"{name} listens on another port"
        if name not in NO_BROKER:
            assert env["AMQP_URL"] is None, f"{name}: the AMQP URL holds a password: from the Secret"
            assert env["MONGO_URL"] is None, f"{name}: the MongoDB URL holds a password: from the Secret"
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        config_maps = of_kind("ConfigMap")
        for key, value in env.items():  # every file a setting names is in the ConfigMap mounted there
            if key.endswith("_PATH") and value:
                path = Path(value)
                volume = volumes[mounts[str(path.parent)]]
                assert path.name in config_maps[volume["configMap"]["name"]]["data"], f"{name}: {path} is not mounted"
        if name == "tracking":
            assert env["TRACKING_OPERATOR_TOKEN"] is None, "the operator token comes from the Secret"


def test_tracking_and_the_portal_read_the_client_behind_proxies_of_the_pod_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Per-client link limits (docs/security.md): tracking behind the web pods and the ingress controller, the portal
    behind the ingress controller, each trusting X-Forwarded-For from private networks only (the pod network's
    default, to be narrowed to the cluster's pod CIDR), never from everywhere. Parsed as the settings read them."""
    deployments = of_kind("Deployment")
    private = networks(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"])
    for name, variable in (("tracking", "TRACKING_TRUSTED_PROXIES"), ("web", "WEB_TRUSTED_PROXIES")):
        value = environment(deployments[name]).get(variable)
        assert value, f"{name} must set {variable}: without it every browser shares the proxy's bucket"
        monkeypatch.setenv(variable, value)
        trusted = networks(SETTINGS[name]().trusted_proxies)  # type: ignore[attr-defined]
        for network in trusted:
            assert any(network.version == p.version and network.subnet_of(p) for p in private), (  # type: ignore[arg-type]
                f"{name} trusts {network}, which is not a private network"
            )
        for pod in ("10.244.1.17", "172.20.3.4", "192.168.12.9", "fd00:10:244::5"):  # usual pod networks
            assert any(ip_address(pod) in network for network in trusted), f"{name} does not trust pod {pod}"
        assert not any(ip_address("203.0.113.7") in network for network in trusted)


def test_intake_and_the_notifier_count_working_days_by_one_mounted_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Intake's deadlines in working days and the notifier's sending window must agree on every day: the same
    setting, from the common ConfigMap, naming a file of the mounted ConfigMap."""
    read = set()
    for name in ("intake", "notifier"):
        settings_class = SETTINGS[name]
        for key in env_names(settings_class):
            monkeypatch.delenv(key, raising=False)
        env = environment(of_kind("Deployment")[name])
        assert "NOTIFIER_CALENDAR_OVERRIDES_PATH" not in env, f"{name}: the deprecated name, not the shared one"
        for key, value in env.items():
            monkeypatch.setenv(key, "secret-from-the-secret" if value is None else value)
        read.add(settings_class().calendar_overrides_path)  # type: ignore[attr-defined]  # every settings class read here has the shared field
    assert read == {Path("/etc/dondoc/calendar-overrides.yaml")}
    assert "calendar-overrides.yaml" in of_kind("ConfigMap")["dondoc-files"]["data"]
    assert "CALENDAR_OVERRIDES_PATH" in of_kind("ConfigMap")["dondoc-common"]["data"]


def test_the_mounted_files_load_with_the_services_own_loaders(tmp_path: Path) -> None:
    from shared.contracts.ladder import Ladder
    from shared.domain.calendar import load_calendar
    from shared.domain.directory import Directory

    files = of_kind("ConfigMap")["dondoc-files"]["data"]
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        # The repository's copy is `make run`'s sample ward: kept the same, so an edit there is made here too.
        assert text == (REPO / "deploy/local" / name).read_text(encoding="utf-8"), f"{name} differs from deploy/local"
    assert Directory.load(tmp_path / "directory.yaml").agencies
    Ladder.load(tmp_path / "ladder.yaml")
    load_calendar(tmp_path / "calendar-overrides.yaml")


# --- autoscaling and its metric ---------------------------------------------------------------------------


def test_autoscalers_target_deployments_and_real_queues() -> None:
    deployments = of_kind("Deployment")
    autoscalers = of_kind("HorizontalPodAutoscaler")
    assert set(autoscalers) == set(deployments), "every service scales"
    adapter = yaml.safe_load(of_kind("ConfigMap")["prometheus-adapter-dondoc"]["data"]["config.yaml"])
    served = {rule["name"].get("as") or rule["seriesQuery"].split("{")[0] for rule in adapter["externalRules"]}
    for name, hpa in autoscalers.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments and target["apiVersion"] == "apps/v1"
        assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"], name
        assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60, name
        metrics = hpa["spec"]["metrics"]
        assert any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in metrics), f"{name}: no CPU"
        queues = [m["external"] for m in metrics if m["type"] == "External"]
        if name not in SERVICE_QUEUES or name == "intake":
            # intake's queue carries issuers' plans and directory changes, a few a day: it scales on CPU
            assert not queues, f"{name} scales on no queue"
            continue
        [external] = queues
        assert external["metric"]["selector"]["matchLabels"]["queue"] == name, f"{name} scales on another queue"
        assert external["metric"]["name"] in served, f"no prometheus-adapter rule serves {external['metric']['name']}"


def test_the_adapters_series_is_scraped() -> None:
    adapter = yaml.safe_load(of_kind("ConfigMap")["prometheus-adapter-dondoc"]["data"]["config.yaml"])
    scrape = yaml.safe_load(of_kind("ConfigMap")["prometheus-dondoc-scrape"]["data"]["dondoc-scrape.yml"])
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    for rule in adapter["externalRules"]:
        series = rule["seriesQuery"].split("{")[0].strip("'\"")
        assert series.startswith("rabbitmq_detailed_queue_"), series
        detailed = [j for j in jobs.values() if j.get("metrics_path") == "/metrics/detailed"]
        assert any("queue_coarse_metrics" in j.get("params", {}).get("family", []) for j in detailed), (
            f"{series} comes from RabbitMQ's /metrics/detailed?family=queue_coarse_metrics, which nobody scrapes"
        )
        assert "namespace" in rule["resources"]["overrides"]
        assert all(any(r.get("target_label") == "namespace" for r in j["relabel_configs"]) for j in detailed)
    compose_job = load(REPO / "deploy/prometheus/prometheus.yml")[0]["scrape_configs"][0]
    assert jobs["dondoc"]["honor_labels"] is compose_job["honor_labels"] is True
    kept_ports = {
        job: next(
            r["regex"]
            for r in jobs[job]["relabel_configs"]
            if r.get("source_labels") == ["__meta_kubernetes_pod_container_port_name"]
        )
        for job in jobs
    }
    for workload in (*of_kind("Deployment").values(), *of_kind("StatefulSet").values()):
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true":
            continue
        ports = {str(p["containerPort"]): p["name"] for c in pod_spec(workload)["containers"] for p in c["ports"]}
        port_name = ports[annotations["prometheus.io/port"]]
        assert port_name in kept_ports.values(), f"{workload['metadata']['name']}: port {port_name} is not scraped"


# --- MongoDB and RabbitMQ --------------------------------------------------------------------------------


def test_the_services_mongo_url_names_every_member_of_the_replica_set() -> None:
    mongo = of_kind("StatefulSet")["mongo"]
    args = pod_spec(mongo)["containers"][0]["args"]
    replica_set = args[args.index("--replSet") + 1]
    service = mongo["spec"]["serviceName"]
    expected = [f"mongo-{i}.{service}.{NAMESPACE}.svc.cluster.local:27017" for i in range(mongo["spec"]["replicas"])]
    for app in ("intake", "tracking", "notifier"):
        url = urlsplit(template_secrets()["dondoc-secrets"][f"{app}-mongo-url"])
        assert url.scheme == "mongodb" and parse_qs(url.query)["replicaSet"] == [replica_set]
        assert "retryWrites" not in parse_qs(url.query), "retryWrites=false is for the stand-in only"
        assert url.username == f"dondoc-{app}" and parse_qs(url.query)["authSource"] == ["admin"], app
        hosts = url.netloc.split("@")[1].split(",")
        assert hosts == expected, f"{app}'s MONGO_URL names {hosts}, the StatefulSet's members are {expected}"
    headless = of_kind("Service")[service]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    script = of_kind("ConfigMap")["mongo-init"]["data"]["init-replica-set.js"]
    assert re.findall(r'"(mongo-\d[^"]+)"', script) == expected, "rs.initiate must name the members the URL names"
    assert f'_id: "{replica_set}"' in script
    job = of_kind("Job")["mongo-init-replica-set"]
    command = pod_spec(job)["containers"][0]["command"]
    assert any(urlsplit(part).netloc in expected for part in command if part.startswith("mongodb://"))
    volume = next(v for v in pod_spec(job)["volumes"] if "configMap" in v)
    assert volume["configMap"]["name"] == "mongo-init"


def test_mongodb_authenticates_members_and_gives_each_service_its_own_database_only() -> None:
    mongo = of_kind("StatefulSet")["mongo"]
    container = next(c for c in pod_spec(mongo)["containers"] if c["name"] == "mongo")
    args = container["args"]
    keyfile = args[args.index("--keyFile") + 1]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[str(Path(keyfile).parent)] in {v["name"] for v in pod_spec(mongo)["volumes"]}
    env = {item["name"]: item.get("valueFrom", {}).get("secretKeyRef") for item in container["env"]}
    assert env["MONGO_INITDB_ROOT_USERNAME"] and env["MONGO_INITDB_ROOT_PASSWORD"], "the administrator from a Secret"
    script = of_kind("ConfigMap")["mongo-init"]["data"]["init-replica-set.js"]
    assert 'roles: [{ role: "readWrite", db: "dondoc_" + service }]' in script
    assert '["intake", "tracking", "notifier"]' in script and 'user = "dondoc-" + service' in script
    job_env = {item["name"] for item in pod_spec(of_kind("Job")["mongo-init-replica-set"])["containers"][0]["env"]}
    assert {f"MONGO_{app.upper()}_PASSWORD" for app in ("intake", "tracking", "notifier")} <= job_env
    settings_databases = {
        app: SETTINGS[app].model_fields["mongo_database"].default for app in SETTINGS if app not in NO_BROKER
    }
    assert settings_databases == {app: f"dondoc_{app}" for app in ("intake", "tracking", "notifier")}


def policy_peers(rules: list[dict[str, Any]], direction: str) -> set[str]:
    """The app names (or `any`, `dns`, `external`) a policy's rules let through in one direction."""
    peers: set[str] = set()
    for rule in rules:
        targets = rule.get(direction)
        if not targets:
            peers.add("any")
            continue
        for target in targets:
            if "ipBlock" in target:
                peers.add("external")
            elif target.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name"):
                peers.add("dns")
            else:
                peers.add(target.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name", "any"))
    return peers


def test_network_policies_deny_by_default_and_each_service_reaches_only_what_it_needs() -> None:
    policies = of_kind("NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny.get("ingress") and not deny.get("egress")
    by_app = {
        p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name"): p for p in policies.values()
    }
    for workload in (doc for doc in applied() if doc["kind"] in WORKLOADS):
        app = workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        assert app in by_app, f"{workload['metadata']['name']}: no NetworkPolicy opens what it needs"
    egress = {
        app: policy_peers(by_app[app]["spec"].get("egress", []), "to")
        for app in ("intake", "tracking", "notifier", "web")
    }
    assert egress == {
        "intake": {"rabbitmq", "mongo", "tracking"},
        "tracking": {"rabbitmq", "mongo"},
        "notifier": {"rabbitmq", "mongo", "tracking", "external"},
        "web": {"tracking"},
    }
    smtp = [r for r in by_app["notifier"]["spec"]["egress"] if "ipBlock" in r["to"][0]]
    assert {port["port"] for rule in smtp for port in rule["ports"]} == {25, 465, 587}, "SMTP only, outside"
    assert policy_peers(by_app["mongo"]["spec"]["ingress"], "from") == {
        "intake",
        "tracking",
        "notifier",
        "mongo",
        "mongo-init",
        "prometheus",
    }
    for app in ("intake", "tracking", "notifier", "web"):
        [rule] = by_app[app]["spec"]["ingress"]
        port = of_kind("Service")[app]["spec"]["ports"][0]["port"]
        assert rule["ports"] == [{"protocol": "TCP", "port": port}], f"{app} is reached on its HTTP port only"


def test_rabbitmq_is_a_three_node_cluster_formed_by_kubernetes_peer_discovery() -> None:
    rabbit = of_kind("StatefulSet")["rabbitmq"]
    spec = pod_spec(rabbit)
    config = of_kind("ConfigMap")["rabbitmq-config"]["data"]
    cluster = conf(config["30-cluster.conf"])
    service = rabbit["spec"]["serviceName"]
    assert rabbit["spec"]["replicas"] == 3 and rabbit["spec"]["volumeClaimTemplates"]
    backend = cluster["cluster_formation.peer_discovery_backend"]
    assert backend in ("k8s", "rabbit_peer_discovery_k8s"), f"peer discovery through {backend}"
    assert cluster["cluster_formation.k8s.service_name"] == service
    assert cluster["cluster_formation.k8s.hostname_suffix"] == f".{service}.{NAMESPACE}.svc.cluster.local"
    assert cluster["cluster_formation.target_cluster_size_hint"] == "3"
    assert cluster["queue_leader_locator"] == "balanced"
    headless = of_kind("Service")[service]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    env = {item["name"]: item.get("value") for item in spec["containers"][0]["env"]}
    assert env["RABBITMQ_NODENAME"].endswith(cluster["cluster_formation.k8s.hostname_suffix"])
    plugins = config["enabled_plugins"]
    assert "rabbitmq_peer_discovery_k8s" in plugins and "rabbitmq_prometheus" in plugins
    # RBAC: the pods' service account may read the endpoints peer discovery lists.
    [binding] = [
        b
        for b in of_kind("RoleBinding").values()
        if {"kind": "ServiceAccount", "name": spec["serviceAccountName"], "namespace": NAMESPACE} in b["subjects"]
    ]
    assert spec["serviceAccountName"] in of_kind("ServiceAccount")
    role = of_kind("Role")[binding["roleRef"]["name"]]
    assert any("endpoints" in rule["resources"] and "get" in rule["verbs"] for rule in role["rules"])
    # The project's own settings, as compose mounts them, reading the definitions from a mounted Secret.
    own = conf((REPO / "deploy/rabbitmq/20-dondoc.conf").read_text(encoding="utf-8"))
    assert conf(config["20-dondoc.conf"]) == own, "20-dondoc.conf differs from deploy/rabbitmq/20-dondoc.conf"
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    definitions = Path(own["load_definitions"])
    assert "secret" in volumes[mounts[str(definitions.parent)]["name"]]
    assert mounts["/etc/rabbitmq/conf.d/20-dondoc.conf"]["subPath"] == "20-dondoc.conf"
    cookie = [c for c in spec["initContainers"] if ".erlang.cookie" in " ".join(c["command"])]
    assert cookie and any("secret" in volumes[m["name"]] for m in cookie[0]["volumeMounts"])


# --- secrets ---------------------------------------------------------------------------------------------


def test_secrets_are_placeholders_in_the_template_and_every_reference_is_in_it() -> None:
    templates = template_secrets()
    for name, data in templates.items():
        for key, value in data.items():
            assert "REPLACE-ME" in value, f"{name}/{key} in {SECRETS_TEMPLATE.name} must stay a placeholder"
    for secret, key in secret_references():
        assert secret in templates, f"Secret {secret} is used but not described in {SECRETS_TEMPLATE.name}"
        assert key is None or key in templates[secret], f"{secret} has no key {key} in {SECRETS_TEMPLATE.name}"
    rabbit_service = of_kind("Service")["rabbitmq"]
    for key, url in templates["dondoc-secrets"].items():
        if key.endswith("-amqp-url"):
            parts = urlsplit(url)
            assert parts.hostname == rabbit_service["metadata"]["name"] and parts.path == f"/{NAMESPACE}"
            assert parts.username == f"dondoc-{key.removesuffix('-amqp-url')}", "each service has its own user"
    for doc in applied():
        for text in strings(doc):
            assert not URL_PASSWORD.search(text), f"{doc['kind']} {doc['metadata']['name']} holds a password"


def test_each_mongodb_member_is_scraped_through_its_exporter_as_the_monitoring_user() -> None:
    mongo = of_kind("StatefulSet")["mongo"]
    exporter = next(c for c in pod_spec(mongo)["containers"] if c["name"] == "exporter")
    assert exporter["image"].startswith("percona/mongodb_exporter:")
    uri = next(arg for arg in exporter["args"] if arg.startswith("--mongodb.uri=")).removeprefix("--mongodb.uri=")
    assert urlsplit(uri).hostname == "127.0.0.1", "each member's own figures, from inside its pod"
    env = {item["name"]: item for item in exporter["env"]}
    assert env["MONGODB_USER"]["value"] == "dondoc-monitor"
    assert env["MONGODB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "mongo-credentials",
        "key": "monitor-password",
    }
    [port] = exporter["ports"]
    script = of_kind("ConfigMap")["mongo-init"]["data"]["init-replica-set.js"]
    assert 'user: "dondoc-monitor"' in script
    assert '{ role: "clusterMonitor", db: "admin" }, { role: "read", db: "local" }' in script
    job_env = {item["name"] for item in pod_spec(of_kind("Job")["mongo-init-replica-set"])["containers"][0]["env"]}
    assert "MONGO_MONITOR_PASSWORD" in job_env
    scrape = yaml.safe_load(of_kind("ConfigMap")["prometheus-dondoc-scrape"]["data"]["dondoc-scrape.yml"])
    job = {j["job_name"]: j for j in scrape["scrape_configs"]}["mongodb"]
    keeps = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
    assert keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)] == pod_labels(mongo)["app.kubernetes.io/name"]
    assert keeps[("__meta_kubernetes_pod_container_port_name",)] == port["name"]
    policy = of_kind("NetworkPolicy")["mongo"]["spec"]["ingress"]
    from_prometheus = [r for r in policy if policy_peers([r], "from") == {"prometheus"}]
    assert [p["port"] for r in from_prometheus for p in r["ports"]] == [port["containerPort"]]
