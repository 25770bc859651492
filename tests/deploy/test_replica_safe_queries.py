"""A gauge that counts something in the database or the broker is exported by every replica with the same value:
every alert rule and dashboard query takes it through `max` across replicas first. Summed, scaling tracking from
one replica to two doubled the overdue count and fired OverdueRisingSharply with nothing changed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# Database- or broker-wide figures, the same on every replica (per-process gauges, like the notifier's last scan,
# are not here: each replica's own value matters).
SHARED_GAUGES = (
    "dondoc_reporting_periods",
    "dondoc_outbox_pending",
    "dondoc_outbox_oldest_age_seconds",
    "dondoc_dead_letters",
    "dondoc_dead_letter_oldest_age_seconds",
    "dondoc_emails_queued",
)
_TAKEN_BY_MAX = re.compile(r"max (?:without|by) \([a-z_, ]*\) \($")


def queries() -> list[tuple[str, str]]:
    rules = yaml.safe_load((REPO / "deploy/prometheus/alerts.yml").read_text(encoding="utf-8"))["groups"]
    found = [(rule["alert"], rule["expr"]) for group in rules for rule in group["rules"]]
    for dashboard in (REPO / "deploy/grafana/dashboards").glob("*.json"):
        panels = json.loads(dashboard.read_text(encoding="utf-8"))["panels"]
        found.extend((panel["title"], t["expr"]) for panel in panels for t in panel.get("targets", []))
    return found


def test_database_wide_gauges_are_taken_by_max_across_replicas() -> None:
    unsafe = []
    for where, expr in queries():
        for match in re.finditer(r"\b(" + "|".join(SHARED_GAUGES) + r")\b", expr):
            if not _TAKEN_BY_MAX.search(expr[: match.start()]):
                unsafe.append(f"{where}: {expr}")
    assert not unsafe, "summed or per replica:\n" + "\n".join(unsafe)


def test_the_check_sees_a_summed_gauge() -> None:
    expr = 'sum by (agency_kind) (dondoc_reporting_periods{state="overdue"})'
    assert not _TAKEN_BY_MAX.search(expr[: expr.index("dondoc_")])
