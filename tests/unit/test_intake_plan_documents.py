"""The document a plan was read from is kept with the plan (with its SHA-256) and given back to its issuer; a
document kept for a plan that was not stored, or stored unchanged, is let go again."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from services.intake.documents import parse_document_here
from services.intake.domain import document_record
from services.intake.use_cases.errors import Forbidden, NotFound
from services.intake.use_cases.plans import (
    PlanSettings,
    PlanUseCases,
    ReadPlanDocument,
    RegisterPlan,
    SubmittedDocument,
)
from services.intake.use_cases.ports import Actor, KeptDocument
from shared.domain.clock import FakeClock
from tests.fakes import FakeUnitOfWork
from tests.unit.documents_support import FIXTURES
from tests.unit.test_intake_domain import WARD
from tests.unit.test_intake_service import ISSUER, NOW, OPERATOR, FakeDirectories, FakePlans, submission

PLAN = (FIXTURES / "ward-greening-plan.txt").read_bytes()


class FakeDocuments:
    """GridFS in a dict, keyed by file id; the same bytes are kept once, as `PlanDocuments` does."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.discarded: list[str] = []

    async def keep(self, data: bytes, name: str, media_type: str, reader: str) -> KeptDocument:
        found = next((k for k, v in self.files.items() if v == data), None)
        file_id = found or f"file-{len(self.files) + len(self.discarded) + 1}"
        self.files[file_id] = data
        record = document_record(file_id, data, name, media_type, reader)
        return KeptDocument(record, new=found is None)

    async def read(self, file_id: Any) -> bytes | None:
        return self.files.get(file_id)

    async def discard(self, file_id: Any) -> None:
        self.discarded.append(file_id)
        self.files.pop(file_id, None)


def bootstrap() -> tuple[PlanUseCases, FakePlans, FakeDocuments]:
    plans, documents = FakePlans(), FakeDocuments()
    use_cases = PlanUseCases(
        FakeUnitOfWork(),
        plans,
        FakeDirectories(WARD),
        FakeClock(NOW),
        PlanSettings(max_assignments=500),
        read=parse_document_here,
        documents=documents,
    )
    return use_cases, plans, documents


async def register_document(use_cases: PlanUseCases, data: bytes, name: str = "ke-hoach-47.txt") -> str:
    read = await use_cases.read_document(ReadPlanDocument(data, name))
    document = SubmittedDocument(data, name, read.source)
    result = await use_cases.register(RegisterPlan(read.submission, OPERATOR, document))
    return result.plan_id


async def test_the_document_is_kept_with_the_plan_and_given_back_as_submitted() -> None:
    use_cases, plans, documents = bootstrap()
    plan_id = await register_document(use_cases, PLAN)

    record = plans.plans[plan_id]["document"]
    assert record["sha256"] == hashlib.sha256(PLAN).hexdigest()
    assert (record["name"], record["bytes"], record["media_type"], record["reader"]) == (
        "ke-hoach-47.txt",
        len(PLAN),
        "text/plain",
        "text",
    )
    for who in (OPERATOR, ISSUER):
        stored = await use_cases.document(plan_id, who)
        assert stored.data == PLAN and stored.record == record
    with pytest.raises(Forbidden):
        await use_cases.document(plan_id, Actor("issuer", "ubnd"))
    assert documents.discarded == []


async def test_the_plan_submitted_again_unchanged_keeps_its_first_document() -> None:
    use_cases, plans, documents = bootstrap()
    plan_id = await register_document(use_cases, PLAN)
    first = plans.plans[plan_id]["document"]

    assert await register_document(use_cases, PLAN) == plan_id  # the same bytes: stored once, nothing let go
    assert documents.discarded == [] and len(documents.files) == 1

    reworded = PLAN.replace(b"\r\n", b"\n") + b"\n\n"  # other bytes, the same plan
    assert await register_document(use_cases, reworded, "ban-sao.txt") == plan_id
    assert plans.plans[plan_id]["document"] == first
    assert len(documents.discarded) == 1 and list(documents.files) == [first["file_id"]]


async def test_a_corrected_plan_keeps_the_corrected_document() -> None:
    use_cases, plans, _ = bootstrap()
    plan_id = await register_document(use_cases, PLAN)
    corrected = PLAN.replace("sơ kết vào cuối năm".encode(), "sơ kết vào cuối năm, tổng kết".encode())
    assert corrected != PLAN

    assert await register_document(use_cases, corrected, "sua-doi.txt") == plan_id
    assert plans.plans[plan_id]["version"] == 1
    assert plans.plans[plan_id]["document"]["sha256"] == hashlib.sha256(corrected).hexdigest()
    assert (await use_cases.document(plan_id, OPERATOR)).data == corrected


async def test_a_document_of_a_plan_that_fails_to_store_is_let_go() -> None:
    use_cases, plans, documents = bootstrap()

    async def broken(record: Any, session: Any) -> None:
        raise RuntimeError("the database went away")

    plans.add = broken  # type: ignore[method-assign]  # the repository failing mid-registration
    with pytest.raises(RuntimeError):
        await register_document(use_cases, PLAN)
    assert documents.files == {} and len(documents.discarded) == 1


async def test_a_structured_plan_has_no_document_to_download() -> None:
    use_cases, _, _ = bootstrap()
    result = await use_cases.register(RegisterPlan(submission(), OPERATOR))
    with pytest.raises(NotFound, match="JSON"):
        await use_cases.document(result.plan_id, OPERATOR)
    with pytest.raises(NotFound):
        await use_cases.document("no-such-plan", OPERATOR)


async def test_an_altered_document_is_not_given_back() -> None:
    use_cases, plans, documents = bootstrap()
    plan_id = await register_document(use_cases, PLAN)
    documents.files[plans.plans[plan_id]["document"]["file_id"]] = PLAN + b" "
    with pytest.raises(NotFound):
        await use_cases.document(plan_id, OPERATOR)


async def test_a_failure_after_the_commit_keeps_the_document_the_plan_names() -> None:
    use_cases, plans, documents = bootstrap()
    stored = plans.add

    async def commits_then_fails(record: Any, session: Any) -> None:
        await stored(record, session)
        raise RuntimeError("the connection dropped after the commit")

    plans.add = commits_then_fails  # type: ignore[method-assign]  # the answer lost, the write done
    with pytest.raises(RuntimeError):
        await register_document(use_cases, PLAN)
    (plan,) = plans.plans.values()
    assert documents.discarded == [] and plan["document"]["file_id"] in documents.files
