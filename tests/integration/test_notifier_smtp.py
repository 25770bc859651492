"""The notifier against a real SMTP server (aiosmtpd): one digest per recipient, a 421 spell then recovery,
a 554 recorded as failed, and several replicas (or a dead one) sending every notice exactly once."""

from __future__ import annotations

import asyncio
import email
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from shared.contracts.events import Agency
from shared.domain.calendar import end_of_day
from shared.domain.clock import VIETNAM, FakeClock
from shared.domain.directory import UnknownAgency
from shared.platform.mongo import make_client
from tests.conftest import random_ref
from tests.integration.notifier_harness import created, notifier, smtp_server
from tests.integration.quick_reaping_mongo import quick_reaping_mongo
from tests.integration.test_notifier_engine import drop

START = datetime(2026, 6, 1, 10, 0, tzinfo=VIETNAM).astimezone(UTC)
DUE = end_of_day(datetime(2026, 6, 30).date())
CELLS = ("chi-bo-khu-1", "chi-bo-khu-2", "chi-bo-khu-3", "chi-bo-khu-4", "chi-bo-khu-5", "chi-bo-khu-6")


def read_mail(folder: Path) -> list[EmailMessage]:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]  # type: ignore[misc]


def address(message: EmailMessage) -> str:
    return message["To"].addresses[0].addr_spec


async def overdue_plans(n, clock: FakeClock, cells: tuple[str, ...] = CELLS) -> None:
    """Two plans, each assigned to every cell; both deadlines pass, the second plan's a week earlier."""
    for plan, due, number in (
        (random_ref("p"), DUE, "85-KH/ĐU"),
        (random_ref("p"), DUE - timedelta(days=7), "91-KH/ĐU"),
    ):
        for cell in cells:
            event = created(cell, due, START, plan_id=plan, number=number, title=f"Kế hoạch {number}")
            await n.projector(event)
            await n.projector(ack(event, clock))
    clock.set(DUE + timedelta(hours=1))


def ack(event, clock):  # type: ignore[no-untyped-def]
    from shared.contracts.events import AssignmentAcknowledged

    return AssignmentAcknowledged(
        correlation_id=event.plan_id,
        agency=event.agency,
        assignment_id=event.assignment_id,
        plan_id=event.plan_id,
        occurred_at=clock.now(),
    )


def metric(result: str) -> float:
    return REGISTRY.get_sample_value("dondoc_emails_sent_total", {"result": result}) or 0.0


async def test_one_digest_per_recipient_lists_all_its_items_grouped_by_plan(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    async with smtp_server(tmp_path / "mail") as (port, _), notifier(mongo_url, database_name, clock, port) as n:
        await overdue_plans(n, clock)
        await n.scan_all()
        assert await n.mailer.send_pending() == len(CELLS) + 1
        messages = {address(m): m for m in read_mail(tmp_path / "mail")}
        assert len(messages) == len(CELLS) + 1  # six cells and their one supervisor
        digest = messages["thuong-truc@hoa-an.example"]
        assert digest["To"].addresses[0].display_name == "Thường trực Đảng ủy phường"
        assert "12 nội dung" in str(digest["Subject"])
        text = digest.get_body(("plain",)).get_content()
        assert text.startswith("Kính gửi: Thường trực Đảng ủy phường.")
        # Grouped by plan, most overdue first: plan 91 (a week late) before plan 85 (an hour late).
        assert text.index("Kế hoạch số 91-KH/ĐU") < text.index("Kế hoạch số 85-KH/ĐU")
        assert "đã quá hạn 7 ngày" in text and "đã quá hạn 1 giờ" in text
        assert text.count("— nhiệm vụ:") == 12
        assert all(text.count(f"  {i}. Chi bộ khu dân cư số {i} —") == 2 for i in range(1, 7))
        assert "Gửi để biết và phối hợp đôn đốc." in text and "Mọi vướng mắc xin liên hệ: Đảng ủy phường Hòa An" in text
        html = digest.get_body(("html",)).get_content()
        assert "<h3>Kế hoạch số 91-KH/ĐU: Kế hoạch 91-KH/ĐU</h3>" in html
        cell = messages["chi-bo-khu-1@hoa-an.example"].get_body(("plain",)).get_content()
        assert "Đề nghị đơn vị khẩn trương hoàn thành và gửi báo cáo" in cell
        assert "hạn cuối 23:59 ngày 30/06/2026" in cell and "“gửi trước ngày 01 tháng 7”" in cell
        row = await n.repository.emails.find_one({"to": "thuong-truc@hoa-an.example"})
        assert digest["Message-ID"] == f"<{row['_id']}@dondoc>"
    await drop(mongo_url, database_name)


async def test_a_421_spell_is_retried_with_backoff_and_everything_is_sent_once(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    temporary = ["421 4.3.2 Service not available, try later"] * 5
    async with (
        smtp_server(tmp_path / "mail", temporary) as (port, server),
        notifier(mongo_url, database_name, clock, port, mail_retry_base_seconds=60) as n,
    ):
        await overdue_plans(n, clock, CELLS[:3])
        await n.scan_all()
        retried = metric("retried")
        first = await n.mailer.send_pending()
        assert first == 0 and server.attempts == 4  # all four refused with 421 (the fifth 421 is still ahead)
        assert metric("retried") - retried == 4
        rows = await n.repository.emails.find().to_list()
        assert {r["status"] for r in rows} == {"pending"} and {r["attempts"] for r in rows} == {1}
        assert all(
            r["next_attempt_at"]
            == clock.now().replace(microsecond=clock.now().microsecond // 1000 * 1000) + timedelta(seconds=60)
            for r in rows
        )
        assert await n.mailer.send_pending() == 0  # backing off: nothing is due yet
        for _ in range(5):
            clock.advance(timedelta(minutes=5))
            await n.mailer.send_pending()
        assert {r["status"] for r in await n.repository.emails.find().to_list()} == {"sent"}
        counts = Counter(m["Message-ID"] for m in read_mail(tmp_path / "mail"))
        assert len(counts) == 4 and set(counts.values()) == {1}
    await drop(mongo_url, database_name)


async def test_a_554_is_recorded_as_failed_listed_and_never_retried(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    async with (
        smtp_server(tmp_path / "mail", forever="554 5.7.1 Message rejected") as (port, server),
        notifier(mongo_url, database_name, clock, port) as n,
        n.http() as http,
    ):
        await overdue_plans(n, clock, CELLS[:1])
        await n.scan_all()
        failed = metric("failed")
        assert await n.mailer.send_pending() == 0
        assert metric("failed") - failed == 2
        for _ in range(3):
            clock.advance(timedelta(hours=1))
            await n.mailer.send_pending()
        assert server.attempts == 2
        listed = (await http.get("/emails", params={"status": "failed"})).json()["emails"]
        assert sorted(e["to"] for e in listed) == ["chi-bo-khu-1@hoa-an.example", "thuong-truc@hoa-an.example"]
        assert all(e["last_code"] == 554 and e["attempts"] == 1 for e in listed)
        assert (await http.get("/emails", params={"status": "pending"})).json()["emails"] == []
    await drop(mongo_url, database_name)


async def test_two_replicas_send_each_notice_exactly_once(mongo_url: str, database_name: str, tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with (
        smtp_server(tmp_path / "mail") as (port, _),
        notifier(mongo_url, database_name, clock, port, mail_batch_size=3, scan_batch=3) as a,
        notifier(mongo_url, database_name, clock, port, mail_batch_size=3, scan_batch=3) as b,
    ):
        await overdue_plans(a, clock)  # small claims (3), so the replicas interleave
        for _ in range(20):
            await asyncio.gather(a.scan_once(), b.scan_once())
        due = {"state": "open", "next_check_at": {"$lte": clock.now()}}
        assert await a.repository.periods.count_documents(due) == 0
        for _ in range(10):
            await asyncio.gather(a.mailer.send_pending(), b.mailer.send_pending())
        notices = await a.repository.notices.find().to_list()
        # Plan 85: overdue to 6 cells + copies to their supervisor; plan 91 (a week late): that, plus level 1.
        assert len(notices) == len(CELLS) * 2 + len(CELLS) * 4
        messages = read_mail(tmp_path / "mail")
        assert len(messages) == await a.repository.emails.count_documents({})
        assert len({m["Message-ID"] for m in messages}) == len(messages)
        per_period = Counter((n["period_id"], n["occurrence"], n["address"]) for n in notices)
        assert set(per_period.values()) == {1}
    await drop(mongo_url, database_name)


async def test_a_replica_that_dies_mid_run_has_its_claims_taken_over_after_the_lease(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    clock = FakeClock(START)
    async with smtp_server(tmp_path / "mail") as (port, _), notifier(mongo_url, database_name, clock, port) as n:
        await overdue_plans(n, clock, CELLS[:2])
        token, claimed = await n.repository.claim_due(clock.now(), 100, timedelta(seconds=60))  # then it "dies"
        assert len(claimed) == 4
        assert await n.scan_once() == 0  # a live replica cannot take them while the lease runs
        clock.advance(timedelta(seconds=61))
        assert await n.scan_once() == 4
        _, mail_claimed = await n.repository.claim_emails(clock.now(), 100, timedelta(seconds=300))  # dies again
        assert await n.mailer.send_pending() == 0
        clock.advance(timedelta(seconds=301))
        assert await n.mailer.send_pending() == len(mail_claimed) == 3
        assert await n.mailer.send_pending() == 0
        clock.advance(timedelta(days=1))
        await n.scan_all()
        await n.mailer.send_pending()
        assert len(read_mail(tmp_path / "mail")) == 3
    await drop(mongo_url, database_name)


async def test_a_replica_killed_inside_its_scan_transaction_holds_its_periods_only_until_the_server_reaps_it(
    database_name: str, tmp_path: Path
) -> None:
    """SIGKILLed between the statements of its scan's transaction, a replica leaves the transaction open on the
    server: its periods stay written-to until the server aborts it, `transactionLifetimeLimitSeconds` after its last
    statement (mongod: 60 s; the stand-in here is started with 5 s, see quick_reaping_mongo.py). The next scan must
    then take them over, on the MongoDB-wire stand-in too (it reaps a dead transaction only when another
    transaction's statement arrives; a plain update waited behind it for as long as the system stayed idle)."""
    clock = FakeClock(START)
    with quick_reaping_mongo(tmp_path / "mongo") as (mongo_url, lifetime):
        await _scan_takes_over_from_a_dead_transaction(mongo_url, database_name, tmp_path, clock, lifetime)


async def _scan_takes_over_from_a_dead_transaction(
    mongo_url: str, database_name: str, tmp_path: Path, clock: FakeClock, lifetime: float
) -> None:
    async with smtp_server(tmp_path / "mail") as (port, _), notifier(mongo_url, database_name, clock, port) as n:
        await overdue_plans(n, clock, CELLS[:2])
        token, claimed = await n.repository.claim_due(clock.now(), 100, timedelta(seconds=60))
        assert len(claimed) == 4
        dead = make_client(mongo_url)  # the replica that dies: never closed before the end, never aborts
        session = dead.start_session()
        await session.start_transaction()
        await dead[database_name]["periods"].update_many(
            {"claimed_by": token}, {"$set": {"checked_at": clock.now()}}, session=session
        )
        clock.advance(timedelta(seconds=61))  # its claim has run out
        started = time.monotonic()
        assert await asyncio.wait_for(n.scan_once(), timeout=lifetime + 90) == 4
        waited = time.monotonic() - started
        assert waited >= lifetime - 1, f"the scan took periods a live transaction still held, after {waited:.1f} s"
        await n.mailer.send_pending()
        assert len(read_mail(tmp_path / "mail")) == 3
        await dead.close()
    await drop(mongo_url, database_name)
    print(f"the scan took the dead replica's periods over after {waited:.1f} s")


async def test_a_replica_whose_claim_expired_mid_batch_does_not_send_what_another_took_over(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    """A slow server can outlast a batch's claim; the rows another replica took over meanwhile are sent once."""
    clock = FakeClock(START)
    async with smtp_server(tmp_path / "mail") as (port, _), notifier(mongo_url, database_name, clock, port) as n:
        await overdue_plans(n, clock, CELLS[:2])
        clock.advance(timedelta(days=1))
        await n.scan_all()
        slow_token, slow_rows = await n.repository.claim_emails(clock.now(), 100, timedelta(seconds=300))
        assert len(slow_rows) == 3
        clock.advance(timedelta(seconds=301))  # the slow replica's claim runs out before it gets to its rows
        assert await n.mailer.send_pending() == 3  # another replica takes them over and sends them
        assert await n.mailer.send_claimed(slow_token, slow_rows) == 0  # the slow one must not send them again
        assert len(read_mail(tmp_path / "mail")) == 3
    await drop(mongo_url, database_name)


# --- hostile values in headers (CVE-2024-6923 and plain CR/LF) ------------------------------------------------

HOSTILE = {
    "encoded-word": "=?utf-8?q?x=0D=0AReply-To=3A_evil=40x.example=0D=0ABcc=3A_bi-mat=40evil.example=0D=0A=0D=0Afake?=",
    "raw-crlf": "x\r\nReply-To: evil@x.example\r\nBcc: bi-mat@evil.example\r\n\r\nfake",
    "line-separator": "x\u2028Reply-To: evil@x.example\u2029Bcc: bi-mat@evil.example",
    "nul": "x\x00Reply-To: evil@x.example\x00\nBcc: bi-mat@evil.example",
}
WIRE_HEADERS = sorted(["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type"])


class HostileDirectory:
    """A directory whose names carry `value`, as a careless or hostile edit could leave them. Built without the
    directory's own validation: the notifier must be safe whatever the directory lets through."""

    def __init__(self, value: str) -> None:
        self.agencies = {
            "chi-bo-khu-1": Agency.model_construct(
                code="chi-bo-khu-1",
                kind="party_cell",
                name=f"Chi bộ khu 1 {value}",
                aliases=(),
                emails=("chi-bo-khu-1@hoa-an.example",),
                parent="thuong-truc",
            ),
            "thuong-truc": Agency.model_construct(
                code="thuong-truc",
                kind="party_committee",
                name=f"Thường trực {value}",
                aliases=(),
                emails=("thuong-truc@hoa-an.example",),
                parent=None,
            ),
        }

    def get(self, code: str) -> Agency:

        if code not in self.agencies:
            raise UnknownAgency(code)
        return self.agencies[code]

    def supervisor(self, code: str) -> Agency | None:
        parent = self.get(code).parent
        return self.agencies[parent] if parent else None


def received(folder: Path) -> list[Any]:
    """The bytes the SMTP server received, parsed as a receiving mail system would (EmailMessage objects)."""
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*.eml"))]


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_encoded_words_and_control_characters_in_every_header_source_add_no_header(
    mongo_url: str, database_name: str, tmp_path: Path, value: str
) -> None:
    """The plan number and the agency's name reach the subject, the agency's and its supervisor's names the To
    display names, the contact and the plan title the body: none of them can add a header or end the headers."""
    clock = FakeClock(START)
    directory = HostileDirectory(value)
    async with (
        smtp_server(tmp_path / "mail") as (port, _),
        notifier(mongo_url, database_name, clock, port, directory=directory, contact=f"Văn phòng {value}") as n,
    ):
        event = created("chi-bo-khu-1", DUE, START, number=f"85{value}", title=f"Kế hoạch {value}")
        event = event.model_copy(update={"agency": directory.get("chi-bo-khu-1").ref()})
        await n.projector(event)
        await n.projector(ack(event, clock))
        clock.set(DUE + timedelta(hours=1))
        await n.scan_all()
        assert await n.mailer.send_pending() == 2
        mail = received(tmp_path / "mail")
        assert sorted(m["To"].addresses[0].addr_spec for m in mail) == [
            "chi-bo-khu-1@hoa-an.example",
            "thuong-truc@hoa-an.example",
        ]
        for message in mail:
            assert sorted(message.keys()) == WIRE_HEADERS, message.keys()
            assert len(message.get_all("To")) == 1 and len(message["To"].addresses) == 1
            assert message["Reply-To"] is None and message["Bcc"] is None
            subject = str(message["Subject"])
            assert subject.startswith("[Đôn đốc] Quá hạn báo cáo – Kế hoạch số 85") and "\n" not in subject
            text = message.get_body(("plain",)).get_content()
            assert text.startswith("Kính gửi: ") and text.rstrip().endswith("Hệ thống đôn đốc")
            assert "Quá hạn" in subject or "quá hạn" in text
    await drop(mongo_url, database_name)


async def test_one_unbuildable_e_mail_is_marked_failed_and_the_rest_of_the_batch_goes_out(
    mongo_url: str, database_name: str, tmp_path: Path
) -> None:
    """A directory address that is not one plain address (a list, empty, a non-ASCII local part) fails its own
    row with the reason; it does not hold the other rows of the batch under a claim."""
    clock = FakeClock(START)
    async with smtp_server(tmp_path / "mail") as (port, _), notifier(mongo_url, database_name, clock, port) as n:
        base = {
            "to_name": "Chi bộ",
            "subject": "[Đôn đốc] thử",
            "text": "Kính gửi.\n",
            "html": "",
            "notice_keys": [],
            "period_ids": [],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": clock.now(),
        }
        rows = [
            {**base, "_id": "e1", "to": "chi-bo-khu-1@hoa-an.example", "created_at": clock.now()},
            {**base, "_id": "e2", "to": "a@x.example, b@y.example", "created_at": clock.now() + timedelta(seconds=1)},
            {
                **base,
                "_id": "e3",
                "to": "chi-bo-khu-2@hoa-an.example",
                "created_at": clock.now() + timedelta(seconds=2),
            },
        ]
        await n.repository.emails.insert_many(rows)
        assert await n.mailer.send_pending() == 2
        assert sorted(m["To"].addresses[0].addr_spec for m in received(tmp_path / "mail")) == [
            "chi-bo-khu-1@hoa-an.example",
            "chi-bo-khu-2@hoa-an.example",
        ]
        stored = {r["_id"]: r for r in await n.repository.emails.find().to_list()}
        assert stored["e1"]["status"] == stored["e3"]["status"] == "sent"
        assert stored["e2"]["status"] == "failed" and stored["e2"]["claimed_by"] is None
        assert "not a single e-mail address" in stored["e2"]["last_error"]
    await drop(mongo_url, database_name)
