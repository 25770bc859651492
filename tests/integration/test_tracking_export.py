"""The status table as offices report it: a hand-computed mix of bodies and periods, in the API,
the .xlsx (opened with openpyxl) and the CSV, all with the same numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from prometheus_client import REGISTRY

from services.tracking import status_metrics
from services.tracking.config import Settings
from services.tracking.main import create_app
from services.tracking.repository import TrackingRepository
from shared.contracts.events import AgencyRef, AssignmentCreated, ReportingDeadline
from shared.domain.clock import FakeClock
from tests.chaos.harness import fresh_vhost
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR_TOKEN, issue_token, running
from tests.integration.test_tracking_consumer import ISSUER, publish

NOW = datetime(2027, 8, 1, 3, 0, tzinfo=UTC)
H1 = NOW - timedelta(days=31)  # already due
FY = NOW + timedelta(days=150)  # still open
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

AGENCIES = [
    AgencyRef(code="ubnd", kind="ubnd", name="Ủy ban nhân dân phường"),
    AgencyRef(code="tuyen-giao", kind="propaganda_board", name="Ban Tuyên giáo"),
    AgencyRef(code="chi-bo-khu-1", kind="party_cell", name="Chi bộ khu dân cư số 1"),
    AgencyRef(code="chi-bo-khu-2", kind="party_cell", name="Chi bộ khu dân cư số 2"),
]


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A vhost of this module's tests' own: the gauge counts every assignment in tracking's database, and in the
    session's vhost this tracking would also consume what earlier tests left in the `tracking` queue."""
    with fresh_vhost() as url:
        yield url


async def test_four_state_counts_match_a_hand_computed_table_in_api_xlsx_and_csv(service_settings, amqp) -> None:
    clock = FakeClock(H1 - timedelta(days=5))
    app = create_app(service_settings(Settings), clock=clock)
    plan_id = random_ref("plan")
    events = [
        AssignmentCreated(
            correlation_id=plan_id,
            agency=agency,
            actor=ISSUER,
            assignment_id=random_ref("a"),
            plan_id=plan_id,
            plan_number="21-KH/ĐU",
            plan_title="Kế hoạch thử",
            issuer=ISSUER,
            task="Báo cáo",
            deadlines=[ReportingDeadline(period="2027-H1", due_at=H1), ReportingDeadline(period="2027-FY", due_at=FY)],
        )
        for agency in AGENCIES
    ]
    async with running(app) as http:
        for event in events:
            await publish(amqp, event.routing_key(), event.model_dump_json().encode())
        tokens = {a.code: await issue_token(http, a.code) for a in AGENCIES}
        ids = {e.agency.code: e.assignment_id for e in events}

        async def all_recorded() -> bool:
            status = await http.get(f"/plans/{plan_id}/status", headers=OPERATOR)
            return status.status_code == 200 and len(status.json()["assignments"]) == 4

        await eventually(all_recorded, what="four assignments recorded")

        async def report(code: str, period: str) -> None:
            response = await http.post(
                f"/assignments/{ids[code]}/reports", json={"period": period}, headers=tokens[code]
            )
            assert response.status_code == 200, response.text

        await report("ubnd", "2027-H1")  # H1 on time
        clock.set(H1 + timedelta(days=2))
        await report("tuyen-giao", "2027-H1")  # H1 two days late
        clock.set(NOW)
        await report("chi-bo-khu-1", "2027-FY")  # FY early, H1 still missing → overdue
        # chi-bo-khu-2 reports nothing.

        # Hand-computed: H1: 1 on time, 1 late, 2 overdue; FY: 1 on time, 3 open.
        status = (await http.get(f"/plans/{plan_id}/status", headers=OPERATOR)).json()
        assert {k: status["by_period"]["2027-H1"][k] for k in ("done_on_time", "done_late", "open", "overdue")} == {
            "done_on_time": 1,
            "done_late": 1,
            "open": 0,
            "overdue": 2,
        }
        assert {k: status["by_period"]["2027-FY"][k] for k in ("done_on_time", "done_late", "open", "overdue")} == {
            "done_on_time": 1,
            "done_late": 0,
            "open": 3,
            "overdue": 0,
        }
        # Each record read over the API carries its periods' status by the same rule (the portal shows it as given).
        for code, expected in (("ubnd", "done_on_time"), ("tuyen-giao", "done_late"), ("chi-bo-khu-2", "overdue")):
            record = (await http.get(f"/assignments/{ids[code]}", headers=OPERATOR)).json()
            assert {k: p["status"] for k, p in record["periods"].items()} == {"2027-H1": expected, "2027-FY": "open"}
        totals = status["totals"]
        assert (totals["total"], totals["done_on_time"], totals["done_late"], totals["open"], totals["overdue"]) == (
            8,
            2,
            1,
            3,
            2,
        )
        assert totals["percent"] == {"done_on_time": 25.0, "done_late": 12.5, "open": 37.5, "overdue": 25.0}
        assert status["by_agency_kind"]["party_cell"]["overdue"] == 2
        gauge = await status_metrics.refresh(TrackingRepository(app.state.runtime.db), clock)
        assert gauge[("party_cell", "overdue")] == 2 and gauge[("party_cell", "done_on_time")] == 1
        assert gauge[("party_cell", "open")] == 1 and gauge[("propaganda_board", "done_late")] == 1
        assert (
            REGISTRY.get_sample_value("dondoc_reporting_periods", {"agency_kind": "ubnd", "state": "done_on_time"}) == 1
        )

        xlsx = await http.get(f"/plans/{plan_id}/status.xlsx", headers=OPERATOR)
        assert xlsx.status_code == 200
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0].startswith(f"Kế hoạch số {plan_id}")  # tracking has seen no plan.registered here
        by_label = {row[1]: row for row in rows if row and row[1]}
        assert list(by_label["Quá hạn"][-2:]) == [2, 25.0]
        assert list(by_label["Hoàn thành trễ hạn"][-2:]) == [1, 12.5]
        assert list(by_label["Tổng số"][-2:]) == [8, 100.0]
        cell_row = by_label["Chi bộ khu dân cư số 1"]
        assert "Quá hạn" in cell_row and "Hoàn thành đúng hạn" in cell_row

        text = (await http.get(f"/plans/{plan_id}/status.csv", headers=OPERATOR)).content.decode("utf-8-sig")
        csv_rows = list(csv.reader(io.StringIO(text)))
        csv_by_label = {row[1]: row for row in csv_rows if len(row) > 1 and row[1]}
        assert csv_by_label["Quá hạn"][-2:] == ["2", "25.0"]
        assert (await http.get(f"/plans/{plan_id}/status.csv", headers=tokens["ubnd"])).status_code == 403
