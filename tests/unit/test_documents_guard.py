"""The document guard (guard.py): work runs in a worker process, a worker past its time is killed and
replaced, one past its memory says so, a reader's own error arrives intact, any other failure is a
DocumentError (never an exception the routes would turn into a 500), and the event loop goes on meanwhile."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import date

import pytest

from services.intake.documents import guard as guard_module
from services.intake.documents import parse_document, read_plan_document
from services.intake.documents.errors import (
    DocumentError,
    DocumentTooLarge,
    DocumentTooSlow,
    InvalidStructuredPlan,
    NotAPlan,
)
from services.intake.documents.guard import DocumentGuard
from services.intake.documents.limits import DocumentLimits
from services.intake.documents.to_submission import UnreadDeadlines
from services.intake.domain import PlanSubmission
from shared.domain.wording import Wording, wording_of
from tests.fixtures.docx_plans import text_to_docx
from tests.unit.documents_support import FIXTURES, REAL_PLAN, directory

# --- tasks: module-level, so that a worker can import them ----------------------------------------------


def pid() -> int:
    return os.getpid()


def sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def fill_then_fail(megabytes: int) -> None:
    """What lxml does at the limit: the allocation fails inside C code and surfaces as another error."""
    filled = bytearray(megabytes * 1024 * 1024)
    raise ValueError(f"unknown error after {len(filled)} bytes")


def refuse() -> None:
    raise InvalidStructuredPlan("Tệp JSON không đúng mẫu.", [{"where": "number", "problem": "thiếu"}])


UNREAD = Wording(vi="Kế hoạch có câu nói về thời hạn chưa đọc được (dòng 15).", en="An unread deadline (line 15).")
UNREAD_PROBLEM = Wording(vi="'trong tháng': không đọc được hạn", en="'trong tháng': no deadline could be read")


def refuse_in_both_languages() -> None:
    raise UnreadDeadlines(UNREAD, [{"where": "deadline (line 15)", "problem": UNREAD_PROBLEM}])


def crash() -> None:
    raise KeyError("a reader's bug")


def die() -> None:
    os._exit(3)


def echo(shared: object, suffix: str) -> str:
    return f"{shared}{suffix}"


# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def guard() -> Iterator[DocumentGuard]:
    documents = DocumentGuard(DocumentLimits(timeout_seconds=3, memory_mb=256, workers=1))
    yield documents
    documents.close()


async def test_work_runs_in_another_process_which_is_kept_for_the_next_document(guard: DocumentGuard) -> None:
    first = await guard.run(pid)
    assert first != os.getpid()
    assert await guard.run(pid) == first


async def test_a_worker_past_its_time_is_killed_and_replaced(guard: DocumentGuard) -> None:
    before = await guard.run(pid)
    started = time.monotonic()
    with pytest.raises(DocumentTooSlow, match=r"thời gian cho phép \(3 giây\)"):
        await guard.run(sleep, 60)
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # killed, not left running
    after = await guard.run(pid)
    assert after != before


async def test_the_event_loop_goes_on_while_a_document_is_read(guard: DocumentGuard) -> None:
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    await guard.run(pid)  # the worker started
    ticker = asyncio.create_task(tick())
    await guard.run(sleep, 1.5)
    ticker.cancel()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 10 and max(gaps) < 0.5, gaps


async def test_a_worker_past_its_memory_says_so_and_is_replaced(guard: DocumentGuard) -> None:
    before = await guard.run(pid)
    assert await guard.run(allocate, 64) == 64 * 1024 * 1024
    with pytest.raises(DocumentTooLarge, match="cần hơn 256 MB bộ nhớ"):
        await guard.run(allocate, 512)
    assert await guard.run(pid) != before
    with pytest.raises(DocumentTooLarge, match="bộ nhớ"):
        await guard.run(fill_then_fail, 160)
    with pytest.raises(DocumentError, match="trình đọc gặp lỗi"):
        await guard.run(fill_then_fail, 16)  # a failure that used little memory is not blamed on the limit


async def test_a_worker_that_used_much_of_its_memory_makes_way_for_a_fresh_one(guard: DocumentGuard) -> None:
    small = await guard.run(pid)
    assert await guard.run(allocate, 16) == 16 * 1024 * 1024
    big = await guard.run(pid)
    assert big == small
    assert await guard.run(allocate, 120) == 120 * 1024 * 1024  # read, but past half the worker's room
    assert await guard.run(pid) != big


async def test_a_readers_own_error_arrives_with_its_problems(guard: DocumentGuard) -> None:
    with pytest.raises(InvalidStructuredPlan) as refused:
        await guard.run(refuse)
    assert refused.value.problems == [{"where": "number", "problem": "thiếu"}]
    assert refused.value.http_status == 422


async def test_a_readers_error_in_both_languages_crosses_the_process_boundary_whole(guard: DocumentGuard) -> None:
    with pytest.raises(UnreadDeadlines) as refused:
        await guard.run(refuse_in_both_languages)
    error = refused.value
    assert error.as_dict() == {
        "code": "unread_deadline",
        "message": UNREAD,
        "problems": [{"where": "deadline (line 15)", "problem": UNREAD_PROBLEM}],
    }
    assert wording_of(error) == UNREAD
    # what is not the HTTP answer keeps its Vietnamese, as plain strings
    assert str(error) == error.message == UNREAD.vi
    assert error.problems == [{"where": "deadline (line 15)", "problem": UNREAD_PROBLEM.vi}]


async def test_a_document_refused_in_a_worker_is_refused_in_both_languages(configured: None) -> None:
    guard_module.configure(DocumentLimits(workers=1))
    with pytest.raises(NotAPlan) as refused:
        await read_plan_document(
            "Biên bản họp chi bộ.\nNội dung thảo luận.".encode(), "x.txt", directory(), date.today()
        )
    said = wording_of(refused.value)
    assert isinstance(said, Wording) and said.vi.startswith("Không nhận ra kế hoạch")
    assert said.en.startswith("This does not read as a plan")
    ward = (FIXTURES / "ward-cleanup-plan.txt").read_bytes()
    plan = await read_plan_document(ward, "ward.txt", directory(), date(2026, 1, 15))
    assert not isinstance(plan, PlanSubmission)
    (elderly,) = [u for u in plan.unresolved if u.phrase == "Hội Người cao tuổi phường"]
    assert elderly.said() == Wording(
        vi="'Hội Người cao tuổi phường': không có trong danh bạ cơ quan",
        en="'Hội Người cao tuổi phường': not in the directory of bodies",
    )
    assert "reason_en" not in elderly.model_dump()  # the preview shows the Vietnamese reason only


async def test_a_readers_bug_or_death_is_a_document_error(guard: DocumentGuard) -> None:
    with pytest.raises(DocumentError, match="trình đọc gặp lỗi") as failed:
        await guard.run(crash)
    assert type(failed.value) is DocumentError
    with pytest.raises(DocumentError, match="trình đọc gặp lỗi"):
        await guard.run(die)
    assert await guard.run(pid) != os.getpid()


async def test_the_shared_object_is_the_latest_one_given(guard: DocumentGuard) -> None:
    one, two = ["một"], ["hai"]
    assert await guard.run(echo, "!", shared=one) == "['một']!"
    assert await guard.run(echo, "?", shared=one) == "['một']?"
    assert await guard.run(echo, "!", shared=two) == "['hai']!"
    assert await guard.run(echo, "!", shared=one) == "['một']!"


@pytest.fixture
def configured() -> Iterator[None]:
    """The routes' guard is process-wide: put its default limits back after a test that changes them."""
    yield
    guard_module.configure(DocumentLimits())


async def test_a_plan_read_in_a_worker_is_the_plan_read_here(configured: None) -> None:
    guard_module.configure(DocumentLimits(workers=1))
    plans = {"ward.txt": (FIXTURES / "ward-cleanup-plan.txt").read_bytes()}
    if REAL_PLAN.exists():
        plans["plan-85.txt"] = REAL_PLAN.read_bytes()
        plans["plan-85.docx"] = text_to_docx(REAL_PLAN.read_text(encoding="utf-8"))
    for name, data in plans.items():
        here = parse_document(data, name, directory(), date(2026, 1, 15))
        there = await read_plan_document(data, name, directory(), date(2026, 1, 15))
        assert there == here, name


async def test_configured_limits_apply_to_the_routes_guard(configured: None) -> None:
    guard_module.configure(DocumentLimits(max_paragraphs=10))
    with pytest.raises(DocumentTooLarge, match="vượt giới hạn 10 đoạn"):
        await read_plan_document((FIXTURES / "ward-cleanup-plan.txt").read_bytes(), "w.txt", directory(), date.today())
