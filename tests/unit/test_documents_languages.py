"""The document errors in both languages (issue #19): `as_dict()`, what the HTTP answer is made of, holds each
message and problem as a Wording; everything else (`str()`, `message`, `problems`, the preview, the CLI) keeps the
plain Vietnamese it always had; every error pickles whole, as it crosses from a reader process."""

from __future__ import annotations

import json
import pickle
from datetime import date

import pytest

from services.intake.documents import errors, parse_document
from services.intake.documents import preview as preview_module
from services.intake.documents.errors import DocumentError, DocumentTooLarge, InvalidStructuredPlan, UnknownFormat
from services.intake.documents.limits import DocumentLimits
from services.intake.documents.model import Entered, NotADay, ParsedPlan
from services.intake.documents.parser import parse_text
from services.intake.documents.preview import preview
from services.intake.documents.readers import read_document
from services.intake.documents.to_submission import UnreadDeadlines, UnresolvedBodies, to_submission
from services.intake.domain import PlanRejected
from shared.domain.wording import Wording, wording_of
from shared.platform.problems import in_language
from tests.unit.documents_support import FIXTURES, TODAY, WeekdaysOnly, directory
from tests.unit.test_documents_wording import plan_text

SAID = Wording(vi="Tệp là RTF.", en="The file is RTF.")
PROBLEM = Wording(vi="không có trong danh bạ cơ quan", en="not in the directory of bodies")


@pytest.mark.parametrize(
    "kind",
    [
        cls
        for cls in [*vars(errors).values(), UnresolvedBodies, UnreadDeadlines]
        if isinstance(cls, type) and issubclass(cls, DocumentError)
    ],
)
def test_every_document_error_pickles_with_both_languages(kind: type[DocumentError]) -> None:
    error = kind(SAID, [{"where": "clause 2", "problem": PROBLEM}])
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is kind
    assert (
        again.as_dict()
        == error.as_dict()
        == {
            "code": kind.code,
            "message": SAID,
            "problems": [{"where": "clause 2", "problem": PROBLEM}],
        }
    )
    assert wording_of(again) == SAID
    assert str(again) == again.message == "Tệp là RTF."
    assert again.problems == [{"where": "clause 2", "problem": "không có trong danh bạ cơ quan"}]


def test_a_refusal_reads_in_the_language_asked_for_and_stays_vietnamese_elsewhere() -> None:
    with pytest.raises(UnknownFormat) as refused:
        read_document(b"{\\rtf1 ...}", "plan.rtf")
    answer = refused.value.as_dict()
    assert in_language(answer, english=False)["message"].startswith("Tệp là RTF, chưa đọc được định dạng này.")
    assert in_language(answer, english=True)["message"].startswith("The file is RTF, a format intake does not read.")
    assert str(refused.value).startswith("Tệp là RTF")  # logs, the CLI


def test_counts_are_written_as_each_language_writes_them() -> None:
    with pytest.raises(DocumentTooLarge) as refused:
        read_document(("Đoạn.\n" * 1_200).encode(), "x.txt", limits=DocumentLimits(max_paragraphs=1_000))
    said = wording_of(refused.value)
    assert isinstance(said, Wording)
    assert "1.200 đoạn văn, vượt giới hạn 1.000 đoạn" in said.vi
    assert "1,200 paragraphs, over the limit of 1,000" in said.en


def test_a_json_plans_problems_are_in_both_languages() -> None:
    with pytest.raises(InvalidStructuredPlan) as refused:
        read_document(b'{"issuer": 1}', "plan.json")
    answer = refused.value.as_dict()
    assert {"where": "issuer", "problem": "cần một chuỗi văn bản"} in in_language(answer, False)["problems"]
    assert {"where": "issuer", "problem": "Input should be a valid string"} in in_language(answer, True)["problems"]
    assert {"where": "issuer", "problem": "cần một chuỗi văn bản"} in refused.value.problems


def test_unresolved_bodies_are_named_in_both_languages_and_the_preview_stays_vietnamese() -> None:
    text = (FIXTURES / "ward-cleanup-plan.txt").read_bytes()
    plan = parse_document(text, "ward.txt", directory(), TODAY)
    assert isinstance(plan, ParsedPlan)
    with pytest.raises(UnresolvedBodies) as refused:
        to_submission(plan)
    english = in_language(refused.value.as_dict(), True)
    assert english["message"].startswith("The plan names bodies that are not in the directory.")
    assert "'Hội Người cao tuổi phường': not in the directory of bodies" in english["problems"][0]["problem"]
    shown = preview(plan, directory(), TODAY, 100)
    assert shown["problems"] == refused.value.problems
    assert "'Hội Người cao tuổi phường': không có trong danh bạ cơ quan" in shown["problems"][0]["problem"]
    json.dumps(shown)  # plain strings only: no Wording in an ordinary answer


def test_an_unread_deadline_names_its_line_in_both_languages() -> None:
    plan = parse_text(plan_text(), directory(), TODAY, WeekdaysOnly())
    with pytest.raises(UnreadDeadlines) as refused:
        to_submission(plan)
    said = wording_of(refused.value)
    assert isinstance(said, Wording) and "(dòng 15)" in said.vi and "(line 15)" in said.en
    assert "no_deadline_lines=15" in said.vi and "no_deadline_lines=15" in said.en


def test_the_preview_lists_a_rules_problem_in_both_languages_in_vietnamese(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registration rules (domain.py) may word a problem in both languages: the preview, an ordinary answer,
    shows its Vietnamese as a plain string."""

    def refuse(*_: object) -> None:
        raise PlanRejected([{"where": "number", "problem": Wording(vi="số hiệu sai", en="wrong number")}])

    monkeypatch.setattr(preview_module, "register_plan", refuse)
    plan = parse_document((FIXTURES / "ward-cleanup-plan.txt").read_bytes(), "ward.txt", directory(), TODAY)
    monkeypatch.setattr(preview_module, "to_submission", lambda *_: None)
    shown = preview(plan, directory(), TODAY, 100)
    assert shown["problems"] == [{"where": "number", "problem": "số hiệu sai"}]
    json.dumps(shown)


def test_a_day_entered_wrong_says_so_in_both_languages_and_vietnamese_to_the_cli() -> None:
    field = Wording(vi="ngày ban hành (issued_on)", en="The date of issue (issued_on)")
    with pytest.raises(NotADay) as refused:
        Entered.day("31/02/2024", field)
    assert wording_of(refused.value) == Wording(
        vi="ngày ban hành (issued_on) '31/02/2024' không phải một ngày: hãy ghi ngày/tháng/năm, ví dụ 10/01/2024",
        en="The date of issue (issued_on) '31/02/2024' is not a date: write day/month/year, e.g. 10/01/2024",
    )
    assert str(refused.value).startswith("ngày ban hành (issued_on) '31/02/2024' không phải một ngày")
    assert Entered.day("2024-03-04", field) == date(2024, 3, 4)
