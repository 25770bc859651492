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


def test_every_dashboard_query_names_an_exported_metric() -> None:
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/dondoc.json").read_text(encoding="utf-8"))
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Intake", "Tracking", "Notifier", "Infrastructure"]
    exported = exported_metric_names()
    queried = {
        name
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
        for name in re.findall(r"\bdondoc_[a-z_]+", target["expr"])
    }
    assert queried and not (queried - exported), f"not exported: {sorted(queried - exported)}"


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
