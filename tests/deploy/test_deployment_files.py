"""The monitoring files hold together: the dashboard's every query names a metric the services export,
and the alert rules pass promtool when it is installed. (docker-compose.yml: tests/deploy/test_compose.py.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

REPO = Path(__file__).resolve().parents[2]


def exported_metric_names() -> set[str]:
    """Every metric the three services register, in the names Prometheus sees."""
    from services.cli.contracts import _apps

    _apps()  # building the apps imports every module that defines metrics
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


# What the broker's and the database's exporters export, as their documentation names it: the rabbitmq_prometheus
# plugin's aggregated endpoint (/metrics) and percona/mongodb_exporter 0.44 (its own names; `--compatible-mode`
# adds the old ones besides).
THIRD_PARTY_METRICS = {
    "mongodb_up",
    "mongodb_ss_connections",
    "mongodb_ss_opcounters",
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_unacked",
    "rabbitmq_connections",
}


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/dondoc.json").read_text(encoding="utf-8"))
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def test_every_dashboard_query_names_an_exported_metric() -> None:
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/dondoc.json").read_text(encoding="utf-8"))
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Intake", "Tracking", "Notifier", "Infrastructure", "Broker and database"]
    others = {name for _, expr in dashboard_queries() for name in re.findall(r"\b(?:mongodb|rabbitmq)_[a-z_]+", expr)}
    assert others >= {"mongodb_up", "mongodb_ss_opcounters", "rabbitmq_queue_messages_ready"}, others
    assert not others - THIRD_PARTY_METRICS, f"not exported by the exporters: {sorted(others - THIRD_PARTY_METRICS)}"
    exported = exported_metric_names()
    queried = {
        name
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
        for name in re.findall(r"\bdondoc_[a-z_]+", target["expr"])
    }
    assert queried and not (queried - exported), f"not exported: {sorted(queried - exported)}"


def test_every_dashboard_query_is_promql_that_promtool_accepts(tmp_path: Path) -> None:
    """Each query as a recording rule: `promtool check rules` parses its PromQL (a typo shows as an empty panel
    in Grafana, never as an error)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    rules = [
        {"record": f"dashboard:query_{index}", "expr": expr} for index, (_, expr) in enumerate(dashboard_queries())
    ]
    rules_file = tmp_path / "dashboard.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    checked = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [{"record": "a:b", "expr": "sum(("}]}]}))
    assert subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True).returncode != 0


def test_alert_rules_name_exported_metrics_and_pass_promtool() -> None:
    rules_file = REPO / "deploy/prometheus/alerts.yml"
    rules = yaml.safe_load(rules_file.read_text(encoding="utf-8"))["groups"][0]["rules"]
    assert {r["alert"] for r in rules} >= {
        "DeadLettersGrowing",
        "OutboxStuck",
        "SmtpFailing",
        "NotifierNotScanning",
        "OverdueRisingSharply",
        "ServiceDown",
        "ReplicaDown",
        "HttpErrorsHigh",
        "HttpLatencyHigh",
        "HttpLatencyVeryHigh",
    }
    exported = exported_metric_names()
    for rule in rules:
        for name in re.findall(r"\bdondoc_[a-z_]+", rule["expr"]):
            assert name in exported, f"{rule['alert']} uses {name}, which no service exports"
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus); names were checked above")
    checked = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
