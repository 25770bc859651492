"""docker-compose.yml holds together: `docker-compose config` (or `docker compose config`) accepts it when a
compose binary is installed and refuses it without the secrets, and a structural check with PyYAML always
runs: every service is built or pulled and has a healthcheck, every depends_on names a service and waits
for its health, the published ports, no default passwords, the files it mounts exist, and Prometheus and
Grafana are wired to the services. No Docker engine is needed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml

from services.tracking.config import Settings as TrackingSettings
from services.web.config import Settings as WebSettings
from shared.platform.client_address import networks

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SECRETS = (
    "RABBITMQ_INTAKE_PASSWORD",
    "RABBITMQ_TRACKING_PASSWORD",
    "RABBITMQ_NOTIFIER_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "TRACKING_OPERATOR_TOKEN",
    "MONGO_ROOT_PASSWORD",
    "MONGO_KEYFILE",
    "MONGO_INTAKE_PASSWORD",
    "MONGO_TRACKING_PASSWORD",
    "MONGO_NOTIFIER_PASSWORD",
    "MONGO_MONITOR_PASSWORD",
    "WEB_SECRET_KEY",
)
VHOST = "dondoc"
INFRA = ("mongo", "rabbitmq", "mailpit", "prometheus", "grafana")
APPS = {"intake": 8001, "tracking": 8002, "notifier": 8003}
PUBLISHED = {**APPS, "web": 8004, "rabbitmq": 15672, "mailpit": 8025, "prometheus": 9090, "grafana": 3000}
SECRET_WORDS = re.compile(r"PASS|SECRET|TOKEN|KEY", re.IGNORECASE)
REQUIRED_REF = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}$")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of compose's two spellings it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """depends_on as {target: rule}; the list form means condition service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {target: {"condition": "service_started"} for target in deps}
    return {target: rule or {"condition": "service_started"} for target, rule in deps.items()}


def published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs, from the short ("[ip:]host:container[/proto]") or long syntax."""
    pairs = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            pairs.add((int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        if len(parts) >= 2:
            pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def strings(node: Any) -> list[str]:
    """Every string value in a parsed YAML document (comments are not part of it)."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*strings(key), *strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def interpolate_default(value: str) -> str:
    """A host path as compose would resolve it with the variable unset: ${VAR:-default} → default."""
    return re.sub(r"\$\{[A-Z_][A-Z0-9_]*:?-([^}]*)\}", r"\1", value)


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of each bind mount (named volumes are left out)."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, target = interpolate_default(str(volume)).split(":")[:2]
        if source.startswith((".", "/", "~")):
            mounts.append((source, target))
    return mounts


# --- with a compose binary -------------------------------------------------------------------------------


def compose_command() -> list[str] | None:
    if binary := shutil.which("docker-compose"):
        return [binary]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


def run_config(command: list[str], env_file: Path, secrets: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`config -q` with only these secrets set: none inherited, and an empty env file instead of a local .env."""
    env = {key: value for key, value in os.environ.items() if key not in SECRETS}
    return subprocess.run(
        [*command, "--env-file", str(env_file), "-f", str(COMPOSE), "config", "-q"],
        env={**env, **secrets},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_compose_config_accepts_the_file_and_refuses_it_without_each_secret(tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        pytest.skip(
            "no docker-compose nor `docker compose` (apt-get install docker-compose; `make test-tools`); "
            "the structural checks below still run"
        )
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    all_set = {name: f"test-{name.lower()}" for name in SECRETS}
    accepted = run_config(command, empty, all_set)
    assert accepted.returncode == 0, accepted.stderr
    for missing in SECRETS:
        refused = run_config(command, empty, {k: v for k, v in all_set.items() if k != missing})
        assert refused.returncode != 0, f"compose started without {missing}"
        assert missing in refused.stderr, refused.stderr


# --- structural, always ----------------------------------------------------------------------------------


def test_every_part_of_the_stack_is_there() -> None:
    assert set(INFRA) | set(APPS) <= set(services())


def test_every_service_is_built_or_pulled_and_has_a_healthcheck() -> None:
    for name, service in services().items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), f"{name} disables its healthcheck"
        test = check.get("test")
        assert test and test not in (["NONE"], "NONE"), f"{name} has no healthcheck"


def test_every_dependency_exists_and_is_waited_for_until_healthy() -> None:
    all_services = services()
    for name, service in all_services.items():
        for target, rule in depends_on(service).items():
            assert target in all_services, f"{name} depends on {target!r}, which is not a service"
            if "healthcheck" in all_services[target]:
                assert rule.get("condition") == "service_healthy", (
                    f"{name} must wait for {target} with condition: service_healthy"
                )
    for app in APPS:
        needs = set(depends_on(all_services[app]))
        assert {"mongo", "rabbitmq"} <= needs, f"{app} must wait for mongo and rabbitmq"
    assert "mailpit" in depends_on(all_services["notifier"])
    assert "prometheus" in depends_on(all_services["grafana"])


def test_published_ports() -> None:
    all_services = services()
    for name, port in PUBLISHED.items():
        assert (port, port) in published_ports(all_services[name]), f"{name} must publish {port}:{port}"
    for name in ("rabbitmq", "mailpit", "prometheus", "grafana"):  # admin UIs: this machine only
        assert all(str(port).startswith("127.0.0.1:") for port in all_services[name]["ports"]), name


def test_mongodb_authenticates_and_each_service_has_its_own_user() -> None:
    mongo = services()["mongo"]
    command = mongo["command"]
    assert "--keyFile" in command, "a replica set with users needs a keyfile"
    env = environment(mongo)
    assert env["MONGO_INITDB_ROOT_USERNAME"] and REQUIRED_REF.match(env["MONGO_INITDB_ROOT_PASSWORD"])
    script = (REPO / "deploy/mongo/init-replica-set.js").read_text(encoding="utf-8")
    assert 'roles: [{ role: "readWrite", db: "dondoc_" + service }]' in script
    for app in APPS:
        assert REQUIRED_REF.match(env[f"MONGO_{app.upper()}_PASSWORD"]), app
    assert "$$MONGO_INITDB_ROOT_PASSWORD" in " ".join(mongo["healthcheck"]["test"]), "the check logs in"


def test_no_default_passwords() -> None:
    """Every secret is required (${VAR:?message}), never defaulted nor written out."""
    text = "\n".join(strings(compose()))
    for secret in SECRETS:
        references = re.findall(r"\$\{?" + secret + r"\b[^}]*\}?", text)
        assert references, f"{secret} is not used"
        for reference in references:
            assert reference.startswith(f"${{{secret}:?"), f"{reference!r}: write ${{{secret}:?message}}"
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_WORDS.search(key) and not key.endswith(("_USER", "_USERNAME")):
                assert REQUIRED_REF.match(value), f"{name}: {key} must be a required ${{VAR:?…}}, not {value!r}"
            for password in URL_PASSWORD.findall(value):
                assert REQUIRED_REF.match(password), f"{name}: {key} has a password written out: {password!r}"
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    for required in set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", text)):
        assert re.search(rf"^{required}=", example, re.MULTILINE), f".env.example does not list {required}"
    assert ".env" in (REPO / ".dockerignore").read_text(encoding="utf-8").split(), ".env must stay out of images"


def test_the_services_are_configured_for_the_stack() -> None:
    all_services = services()
    # The broker's users come from the definitions file it loads at boot; each service has its own.
    rabbit_mounts = {target: source for source, target in bind_mounts(all_services["rabbitmq"])}
    conf = REPO / rabbit_mounts["/etc/rabbitmq/conf.d/20-dondoc.conf"]
    definitions = re.search(r"^load_definitions = (\S+)$", conf.read_text(encoding="utf-8"), re.MULTILINE)
    assert definitions and definitions[1].startswith("/etc/dondoc/rabbitmq/")
    assert rabbit_mounts["/etc/dondoc/rabbitmq"] == "./deploy/rabbitmq"  # where `dondoc agencies definitions` writes
    assert "RABBITMQ_DEFAULT_USER" not in environment(all_services["rabbitmq"])
    mongo_command = all_services["mongo"]["command"]
    mongo_command = mongo_command if isinstance(mongo_command, list) else mongo_command.split()
    replica_set = mongo_command[mongo_command.index("--replSet") + 1]
    for app, port in APPS.items():
        service = all_services[app]
        env = environment(service)
        build = service["build"]
        assert (REPO / build["context"] / build["dockerfile"]).is_file(), f"{app}: no {build['dockerfile']}"
        assert build.get("args", {}).get("SERVICE") == app, f"{app} must be built with SERVICE={app}"
        user = f"dondoc-{app}"
        assert env["AMQP_URL"].startswith(f"amqp://{user}:") and env["AMQP_URL"].endswith(f"@rabbitmq:5672/{VHOST}")
        mongo_url = re.fullmatch(r"mongodb://([^:]+):(\$\{[^}]+\})@mongo:27017/\?(.*)", env["MONGO_URL"])
        assert mongo_url and mongo_url[1] == user and REQUIRED_REF.match(mongo_url[2]), f"{app}: {env['MONGO_URL']}"
        assert parse_qs(mongo_url[3]) == {"replicaSet": [replica_set], "authSource": ["admin"]}, app
        assert env["LOG_FORMAT"] == "json" and env["DIRECTORY_PATH"]
        prefix = app.upper()
        assert env[f"{prefix}_HTTP_HOST"] == "0.0.0.0" and env[f"{prefix}_HTTP_PORT"] == str(port)
        assert f"127.0.0.1:{port}/" in " ".join(service["healthcheck"]["test"]), f"{app} checks another port"
        mounted = {target: source for source, target in bind_mounts(service)}
        assert env["DIRECTORY_PATH"] in mounted or env["DIRECTORY_PATH"].startswith("/app/deploy/"), (
            f"{app}: DIRECTORY_PATH {env['DIRECTORY_PATH']} is neither mounted nor in the image"
        )
    notifier = environment(all_services["notifier"])
    assert notifier["NOTIFIER_SMTP_HOST"] == "mailpit" and notifier["NOTIFIER_SMTP_PORT"] == "1025"
    assert notifier["NOTIFIER_MAIL_FROM"]


def test_intake_and_the_notifier_count_working_days_by_one_mounted_table() -> None:
    """Intake's deadlines in working days and the notifier's sending window must agree on every day."""
    all_services = services()
    paths = set()
    for app in ("intake", "notifier"):
        env = environment(all_services[app])
        assert "NOTIFIER_CALENDAR_OVERRIDES_PATH" not in env, f"{app}: the deprecated name, not the shared one"
        path = env["CALENDAR_OVERRIDES_PATH"]
        mounted = {target: source for source, target in bind_mounts(all_services[app])}
        assert mounted.get(path) == "./deploy/local/calendar-overrides.yaml", f"{app}: {path} is not mounted"
        paths.add(path)
    assert len(paths) == 1


def test_every_mounted_file_exists() -> None:
    for name, service in services().items():
        for source, _ in bind_mounts(service):
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"


def test_prometheus_scrapes_the_three_services() -> None:
    prometheus = services()["prometheus"]
    mounts = {target: source for source, target in bind_mounts(prometheus)}
    assert (REPO / mounts["/etc/prometheus"] / "prometheus.yml").is_file()
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        target
        for job in config["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert {f"{app}:{port}" for app, port in APPS.items()} <= targets
    for rule_file in config.get("rule_files", []):
        assert (REPO / "deploy/prometheus" / Path(rule_file).name).is_file(), f"no rule file {rule_file}"
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus); the structure was checked above")
    checked = subprocess.run(
        [promtool, "check", "config", str(REPO / "deploy/prometheus/prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard() -> None:
    grafana = services()["grafana"]
    mounts = {target: source for source, target in bind_mounts(grafana)}
    provisioning = REPO / mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text(encoding="utf-8"))
    [datasource] = datasources["datasources"]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards/dashboards.yml").read_text(encoding="utf-8"))
    for provider in providers["providers"]:
        path = provider["options"]["path"]
        assert path in mounts, f"the dashboards provider reads {path}, which is not mounted"
    dashboards = [REPO / mounts[p["options"]["path"]] for p in providers["providers"]]
    dashboard = json.loads((dashboards[0] / "dondoc.json").read_text(encoding="utf-8"))
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    for panel in panels:
        assert panel["datasource"]["uid"] == datasource["uid"], f"{panel['title']}: unknown datasource"
    expressions = " ".join(target["expr"] for panel in panels for target in panel["targets"])
    for metric in (
        "dondoc_messages_consumed_total",
        "dondoc_emails_sent_total",
        "dondoc_plans_ingested_total",
        "dondoc_outbox_pending",
    ):
        assert metric in expressions, f"no panel shows {metric}"
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"]), "panel ids repeat"


def test_prometheus_scrapes_rabbitmqs_own_exporter() -> None:
    """The alerts name job `rabbitmq` (ReplicaDown); compose's Prometheus scrapes the node's plugin endpoint."""
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["rabbitmq"]["static_configs"][0]["targets"] == ["rabbitmq:15692"]
    mounts = {target: source for source, target in bind_mounts(services()["rabbitmq"])}
    plugins = (REPO / mounts["/etc/rabbitmq/enabled_plugins"]).read_text(encoding="utf-8")
    assert "rabbitmq_prometheus" in plugins and "rabbitmq_management" in plugins


def test_prometheus_scrapes_mongodb_through_the_exporter_as_the_monitoring_user() -> None:
    """Job mongodb: the exporter logs in as dondoc-monitor, which init-replica-set.js makes with clusterMonitor and
    read on local, its password a required secret in both services' environments."""
    all_services = services()
    exporter = all_services["mongodb-exporter"]
    assert exporter["image"].startswith("percona/mongodb_exporter:")
    assert not exporter.get("ports"), "the exporter stays inside the compose network"
    assert depends_on(exporter)["mongo"]["condition"] == "service_healthy"
    env = environment(exporter)
    assert env["MONGODB_USER"] == "dondoc-monitor"
    assert REQUIRED_REF.match(env["MONGODB_PASSWORD"]) and "MONGO_MONITOR_PASSWORD" in env["MONGODB_PASSWORD"]
    assert environment(all_services["mongo"])["MONGO_MONITOR_PASSWORD"] == env["MONGODB_PASSWORD"]
    uri = next(arg for arg in exporter["command"] if arg.startswith("--mongodb.uri="))
    assert "@" not in uri and "mongo:27017" in uri, "the password comes from the environment, not the URI"
    script = (REPO / "deploy/mongo/init-replica-set.js").read_text(encoding="utf-8")
    assert 'user: "dondoc-monitor"' in script and "process.env.MONGO_MONITOR_PASSWORD" in script
    assert '{ role: "clusterMonitor", db: "admin" }, { role: "read", db: "local" }' in script
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["mongodb"]["static_configs"][0]["targets"] == ["mongodb-exporter:9216"]
    assert "MONGO_MONITOR_PASSWORD=" in (REPO / ".env.example").read_text(encoding="utf-8").splitlines()


def test_tracking_trusts_exactly_webs_fixed_address_and_web_no_one_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-client link limits (docs/security.md): tracking reads the browser's address from web's X-Forwarded-For,
    so web has a fixed address outside the range Docker hands out and tracking trusts that address only, not the
    subnet (its gateway is where connections through the published ports may come from). Web trusts nobody unless
    .env says so. The values parse as the services' settings read them from the environment."""
    [pool] = compose()["networks"]["default"]["ipam"]["config"]
    subnet, dynamic, gateway = ip_network(pool["subnet"]), ip_network(pool["ip_range"]), ip_address(pool["gateway"])
    all_services = services()
    web = ip_address(all_services["web"]["networks"]["default"]["ipv4_address"])
    assert web in subnet and web not in dynamic and web != gateway and dynamic[0] in subnet and dynamic[-1] in subnet
    monkeypatch.setenv("TRACKING_TRUSTED_PROXIES", environment(all_services["tracking"])["TRACKING_TRUSTED_PROXIES"])
    tracking_trusts = networks(TrackingSettings().trusted_proxies)
    assert tracking_trusts == (ip_network(f"{web}/32"),), "tracking must trust web's address and nothing else"
    assert not any(gateway in network for network in tracking_trusts)
    web_env = environment(all_services["web"])
    assert web_env["WEB_TRUSTED_PROXIES"].startswith("${WEB_TRUSTED_PROXIES:-"), "an operator may set it in .env"
    monkeypatch.setenv("WEB_TRUSTED_PROXIES", interpolate_default(web_env["WEB_TRUSTED_PROXIES"]))
    assert WebSettings().trusted_proxies == []
    assert "WEB_TRUSTED_PROXIES" in (REPO / ".env.example").read_text(encoding="utf-8")
    for name, service in all_services.items():
        assert set(service.get("networks") or {"default": None}) == {"default"}, f"{name} is off the one network"
