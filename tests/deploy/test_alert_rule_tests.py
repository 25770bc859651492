"""Every alert rule has `promtool test rules` cases (deploy/prometheus/tests/) in which it fires and in which it
stays silent, and those cases pass. Run with promtool when it is installed (Debian package prometheus, installed
by `make test-tools`); skipped with the reason otherwise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy/prometheus/alerts.yml"
RULE_TESTS = sorted((REPO / "deploy/prometheus/tests").glob("*_test.yml"))


def alert_names() -> set[str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def expectations() -> list[dict[str, Any]]:
    found = []
    for path in RULE_TESTS:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["rule_files"] == ["../alerts.yml"], f"{path.name} must test the repository's rules"
        for case in document["tests"]:
            found.extend(case.get("alert_rule_test", []))
    return found


def test_every_alert_has_cases_where_it_fires_and_where_it_is_silent() -> None:
    cases = expectations()
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert RULE_TESTS, "no rule tests in deploy/prometheus/tests"
    assert not alert_names() - firing, f"never shown firing: {sorted(alert_names() - firing)}"
    assert not alert_names() - silent, f"never shown silent: {sorted(alert_names() - silent)}"
    assert not (firing | silent) - alert_names(), "a test names an alert the rules do not have"


def test_alert_rule_tests_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; `make test-tools` installs it)")
    result = subprocess.run(
        [promtool, "test", "rules", *map(str, RULE_TESTS)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
