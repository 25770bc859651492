"""Issue 18 in the notifier, against the real tracking (its `POST /links/batch` over HTTP), the SMTP sink, the database
and the broker: the assignment notice arrives with a personal link that tracking exchanges for the agency's
session; a queued overdue notice is dropped once the period is reported, with its reason; `link.requested`
(published by tracking's renewal route) brings a new link to the agency's registered address; with tracking down
the e-mail waits and goes out once tracking is back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from prometheus_client import REGISTRY

from deploy.local.infra import free_port
from services.notifier.config import Settings as NotifierSettings
from services.notifier.main import create_app as notifier_app
from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as tracking_app
from shared.contracts.events import ReportSubmitted
from shared.domain.clock import FakeClock
from tests.conftest import eventually
from tests.integration.conftest import OPERATOR, OPERATOR_TOKEN, running
from tests.integration.notifier_harness import created, drop, notifier, smtp_server
from tests.integration.test_notifier_smtp import DUE, START, ack, address, read_mail

WEB = "http://web.example"
CELL = "chi-bo-khu-1@hoa-an.example"
LINK = re.compile(r"http://web\.example/l/([A-Za-z0-9_-]{20,})")


@asynccontextmanager
async def tracking(service_settings: Any, database_name: str, port: int | None = None) -> AsyncIterator[str]:
    """The real tracking service listening on a port (its own database), as the notifier reaches it."""
    port = port or free_port()
    app = tracking_app(service_settings(TrackingSettings, mongo_database=f"{database_name}_tracking"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), what="tracking to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def linked(tracking_url: str) -> dict[str, Any]:
    return {"tracking_url": tracking_url, "tracking_token": OPERATOR_TOKEN, "web_public_url": WEB}


def plain(message: Any) -> str:
    return str(message.get_body(("plain",)).get_content())


async def exchange(tracking_url: str, secret: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{tracking_url}/links/exchange", json={"secret": secret})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_the_assignment_notice_arrives_with_a_personal_link_that_opens_the_agency_s_session(
    mongo_url: str, database_name: str, service_settings: Any, mail_folder: tuple[Path, int]
) -> None:
    folder, smtp_port = mail_folder
    clock = FakeClock(START)
    async with (
        tracking(service_settings, database_name) as url,
        notifier(mongo_url, database_name, clock, smtp_port, **linked(url)) as n,
    ):
        await n.projector(created("chi-bo-khu-1", DUE, START, number="85-KH/ĐU"))
        await n.scan_all()
        assert await n.mailer.send_pending() == 1
        (message,) = read_mail(folder)
        assert address(message) == CELL
        assert str(message["Subject"]) == (
            "[Đôn đốc] Thông báo giao nhiệm vụ – Kế hoạch số 85-KH/ĐU – Chi bộ khu dân cư số 1"
        )
        text = plain(message)
        assert "Nội dung nhiệm vụ: Báo cáo kết quả thực hiện của Chi bộ khu dân cư số 1." in text
        assert "– Kỳ 2026-FY: “gửi trước ngày 01 tháng 7”, hạn cuối 23:59 ngày 30/06/2026." in text
        assert "Mọi vướng mắc xin liên hệ: Đảng ủy phường Hòa An" in text
        secret = LINK.search(text)
        assert secret is not None, text
        assert f'href="{secret.group(0)}"' in str(message.get_body(("html",)).get_content())
        session = await exchange(url, secret.group(1))
        assert (session["agency"], session["scope"]) == ("chi-bo-khu-1", "act")
        # The secret lives only in the message handed to the server: not in the notifier's database.
        rows = await n.repository.emails.find().to_list()
        assert rows and all(secret.group(1) not in repr(row) for row in rows)
        assert rows[0]["status"] == "sent" and rows[0]["links"][0]["agency"] == "chi-bo-khu-1"
    await drop(mongo_url, database_name)
    await drop(mongo_url, f"{database_name}_tracking")


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("dondoc_emails_dropped_total", {"reason": reason}) or 0.0


async def test_a_queued_overdue_notice_is_dropped_with_its_reason_once_the_period_is_reported(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    busy = ["421 4.3.2 Service not available, try later"] * 2
    async with (
        smtp_server(tmp_path / "mail", busy) as (port, server),
        notifier(mongo_url, database_name, clock, port, mail_retry_base_seconds=60) as n,
    ):
        event = created("chi-bo-khu-1", DUE, START)
        await n.projector(event)
        await n.projector(ack(event, clock))
        clock.set(DUE + timedelta(hours=1))
        await n.scan_all()
        assert await n.mailer.send_pending() == 0 and server.attempts == 2  # the agency's and its supervisor's
        before = dropped("reported")
        await n.projector(reported(event, clock.now()))
        clock.advance(timedelta(minutes=2))
        assert await n.mailer.send_pending() == 0
        assert server.attempts == 2 and read_mail(tmp_path / "mail") == []  # nothing more was tried
        rows = await n.repository.emails.find().to_list()
        assert {(r["status"], r["dropped_reason"]) for r in rows} == {("dropped", "reported")} and len(rows) == 2
        assert dropped("reported") - before == 2
        async with n.http() as http:
            listed = (await http.get("/emails", params={"status": "dropped"})).json()["emails"]
        assert {e["dropped_reason"] for e in listed} == {"reported"}
    await drop(mongo_url, database_name)


async def test_link_requested_brings_a_new_link_to_the_agency_s_registered_address(
    service_settings: Any, database_name: str, mail_folder: tuple[Path, int]
) -> None:
    folder, smtp_port = mail_folder
    async with tracking(service_settings, database_name) as url:
        settings = service_settings(NotifierSettings, smtp_port=smtp_port, sending_window="always", **linked(url))
        async with running(notifier_app(settings), OPERATOR), httpx.AsyncClient(base_url=url) as http:
            old = await http.post("/links", json={"agency": "chi-bo-khu-1", "scope": "act"}, headers=OPERATOR)
            assert old.status_code == 201, old.text
            renewal = await http.post("/links/renewal", json={"secret": old.json()["secret"]})
            assert renewal.status_code == 202 and renewal.json() == {"agency": "chi-bo-khu-1"}
            await eventually(lambda: asyncio.sleep(0, list(folder.glob("*.eml"))), what="the new-link e-mail")
            (message,) = read_mail(folder)
            assert address(message) == CELL
            assert str(message["Subject"]) == "[Đôn đốc] Cấp đường dẫn truy cập mới – Chi bộ khu dân cư số 1"
            found = LINK.search(plain(message))
            assert found is not None and found.group(1) != old.json()["secret"]
            assert (await exchange(url, found.group(1)))["agency"] == "chi-bo-khu-1"


async def test_with_tracking_down_the_e_mail_waits_and_goes_out_once_tracking_is_back(
    mongo_url: str, database_name: str, service_settings: Any, mail_folder: tuple[Path, int]
) -> None:
    folder, smtp_port = mail_folder
    clock = FakeClock(START)
    port = free_port()
    async with notifier(mongo_url, database_name, clock, smtp_port, **linked(f"http://127.0.0.1:{port}")) as n:
        await n.projector(created("chi-bo-khu-1", DUE, START))
        await n.scan_all()
        assert await n.mailer.send_pending() == 0
        (row,) = await n.repository.emails.find().to_list()
        assert row["status"] == "pending" and row["attempts"] == 1
        assert row["last_error"].startswith("no personal link: tracking did not answer POST /links")
        assert list(folder.glob("*.eml")) == []
        async with tracking(service_settings, database_name, port) as url:
            clock.advance(timedelta(seconds=1))
            assert await n.mailer.send_pending() == 1
            (message,) = read_mail(folder)
            found = LINK.search(plain(message))
            assert found is not None and (await exchange(url, found.group(1)))["agency"] == "chi-bo-khu-1"
        (row,) = await n.repository.emails.find().to_list()
        assert row["status"] == "sent" and row["attempts"] == 2
    await drop(mongo_url, database_name)
    await drop(mongo_url, f"{database_name}_tracking")


async def test_a_digest_goes_without_the_items_that_no_longer_apply_and_says_which_were_left_out(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    busy = ["421 4.3.2 Service not available, try later"] * 3
    async with (
        smtp_server(tmp_path / "mail", busy) as (port, server),
        notifier(mongo_url, database_name, clock, port, mail_retry_base_seconds=60) as n,
    ):
        events = [created(cell, DUE, START) for cell in ("chi-bo-khu-1", "chi-bo-khu-2")]
        for event in events:
            await n.projector(event)
            await n.projector(ack(event, clock))
        clock.set(DUE + timedelta(hours=1))
        await n.scan_all()
        # Two cells' overdue notices and their supervisor's digest of both: all three wait after a 421.
        assert await n.mailer.send_pending() == 0 and server.attempts == 3
        await n.projector(reported(events[0], clock.now()))
        clock.advance(timedelta(minutes=2))
        assert await n.mailer.send_pending() == 2  # the second cell's notice, and the digest
        messages = {address(m): m for m in read_mail(tmp_path / "mail")}
        assert set(messages) == {"chi-bo-khu-2@hoa-an.example", "thuong-truc@hoa-an.example"}
        digest = messages["thuong-truc@hoa-an.example"]
        text = plain(digest)
        assert "Chi bộ khu dân cư số 2" in text and "Chi bộ khu dân cư số 1" not in text
        assert str(digest["Subject"]).startswith("[Đôn đốc] Quá hạn báo cáo – Kế hoạch số 85-KH/ĐU")
        assert "http://127.0.0.1:8004/lien-ket-moi" in text  # no tracking configured here
        row = await n.repository.emails.find_one({"to": "thuong-truc@hoa-an.example"})
        assert row["status"] == "sent" and [i["reason"] for i in row["left_out"]] == ["reported"]
        assert row["left_out"][0]["notice"].startswith(f"{events[0].assignment_id}:2026-FY|")
        assert "Chi bộ khu dân cư số 1" not in row["text"]  # the row keeps the text as sent (less its links)
        cell = await n.repository.emails.find_one({"to": CELL})
        assert (cell["status"], cell["dropped_reason"]) == ("dropped", "reported")
    await drop(mongo_url, database_name)


def reported(event: Any, at: Any) -> ReportSubmitted:
    return ReportSubmitted(
        correlation_id=event.plan_id,
        agency=event.agency,
        assignment_id=event.assignment_id,
        plan_id=event.plan_id,
        period="2026-FY",
        submitted_at=at,
        late_by_seconds=3_600,
        due_at=DUE,
        revision=1,
        occurred_at=at,
    )
