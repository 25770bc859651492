"""A parsed plan → the `PlanSubmission` that `register_plan` already publishes: one entry per assignee."""

from __future__ import annotations

from collections.abc import Collection

from services.intake.documents.errors import DocumentError, Said
from services.intake.documents.model import DeadlineOut, ParsedPlan
from services.intake.domain import AfterReceipt, AssignmentIn, DeadlineIn, DeliverablesIn, PlanSubmission
from shared.domain.wording import Wording


class UnresolvedBodies(DocumentError):
    """The plan names bodies the directory does not know: publishing would silently leave them out."""

    code = "unresolved"


class UnreadDeadlines(UnresolvedBodies):
    """A sentence of the plan speaks of a deadline and none could be read from it: publishing would give its
    bodies the default deadline, or none, in silence."""

    code = "unread_deadline"


# Problems no option skips: without them the plan cannot be registered as what it is.
_REQUIRED = ("year",)
_NO_NUMBER = Wording(vi="không tìm thấy số hiệu kế hoạch (Số …-KH/…)", en="the plan's number (Số …-KH/…) was not found")
_NO_ISSUER = Wording(
    vi="không xác định được cơ quan ban hành trong danh bạ", en="the issuer could not be found in the directory"
)
_NO_ASSIGNMENTS = Wording(
    vi="kế hoạch không có phân công nào cho cơ quan trong danh bạ",
    en="the plan assigns nothing to any body in the directory",
)


def _deadline(deadline: DeadlineOut, received_entered: bool = False) -> DeadlineIn:
    """`received_entered`: the clerk entered the day of receipt, and the deadline was counted from it already."""
    if deadline.counted_from == "receipt" and (deadline.days is not None or deadline.months) and not received_entered:
        # Counted from the day intake registers the plan, not from the day it was parsed (the preview's "today").
        return DeadlineIn(
            period=deadline.period,
            wording=deadline.wording[:2_000],
            after_receipt=AfterReceipt(
                days=deadline.days or 0, working_days=deadline.working_days, months=deadline.months or 0
            ),
            provenance=deadline.provenance,
        )
    return DeadlineIn(
        period=deadline.period,
        due=deadline.effective_at,
        wording=deadline.wording[:2_000],
        provenance=deadline.provenance,
    )


def to_submission(
    plan: ParsedPlan, skip_unresolved: bool = False, no_deadline_lines: Collection[int] = ()
) -> PlanSubmission:
    """`no_deadline_lines`: the lines of unread deadline sentences the clerk has checked and found to set no
    deadline (their bodies then get the plan's deadlines, or the default)."""
    problems: list[dict[str, Said]] = [
        {"where": f"{u.where} (line {u.line})", "problem": u.said()} for u in plan.unresolved
    ]
    blocking = [
        p for p, u in zip(problems, plan.unresolved, strict=True) if u.where not in ("sections", "deadline", *_REQUIRED)
    ]
    missing = [p for p, u in zip(problems, plan.unresolved, strict=True) if u.where in _REQUIRED]
    if plan.number is None:
        missing.append({"where": "number", "problem": _NO_NUMBER})
    if plan.issuer is None or plan.issuer.code is None:
        missing.append({"where": "issuer", "problem": _NO_ISSUER})
    if not plan.assignments:
        missing.append({"where": "assignments", "problem": _NO_ASSIGNMENTS})
    if missing or plan.number is None or plan.issuer is None:
        said = Wording(
            vi="Chưa thể đăng ký kế hoạch: thiếu thông tin bắt buộc.",
            en="The plan cannot be registered yet: required information is missing.",
        )
        raise UnresolvedBodies(said, missing + problems)
    _refuse_unread_deadlines(plan, no_deadline_lines)
    if blocking and not skip_unresolved:
        raise UnresolvedBodies(
            Wording(
                vi="Kế hoạch nêu các cơ quan chưa có trong danh bạ. Hãy bổ sung danh bạ, sửa văn bản, "
                "hoặc gửi lại với skip_unresolved=true để bỏ qua các cơ quan này.",
                en="The plan names bodies that are not in the directory. Add them to the directory, correct the "
                "document, or send it again with skip_unresolved=true to leave those bodies out.",
            ),
            blocking,
        )
    received = plan.received_on is not None
    plan_deadlines = [_deadline(d, received) for d in plan.deadlines]
    assignments = []
    for item in plan.assignments:
        own = [_deadline(d, received) for d in item.deadlines]
        assignments.append(
            AssignmentIn(
                agency=item.agency,
                task=item.task[:20_000],
                deadlines=own if {d.period for d in own} != {d.period for d in plan_deadlines} else None,
                provenance=item.provenance,
                deliverables_required=[
                    DeliverablesIn.model_validate(d.model_dump()) for d in item.deliverables_required
                ],
            )
        )
    return PlanSubmission(
        issuer=plan.issuer.code or plan.issuer.text,
        number=plan.number.text[:100],
        title=(plan.title.text if plan.title else f"Kế hoạch số {plan.number.text}")[:20_000],
        issued_on=plan.issued_on,
        assignments=assignments,
        deadlines=plan_deadlines,
    )


def _refuse_unread_deadlines(plan: ParsedPlan, no_deadline_lines: Collection[int]) -> None:
    unread = [u for u in plan.unresolved if u.where == "deadline" and u.line not in no_deadline_lines]
    if not unread:
        return
    lines = ", ".join(str(line) for line in dict.fromkeys(u.line for u in unread))
    raise UnreadDeadlines(
        Wording(
            vi=f"Kế hoạch có câu nói về thời hạn mà hệ thống chưa đọc được (dòng {lines}). Hãy sửa câu đó cho rõ ngày "
            f"(ví dụ: trước ngày 30/6/2025), hoặc nếu câu đó không đặt thời hạn, gửi lại với "
            f"no_deadline_lines={lines}.",
            en=f"A sentence of the plan speaks of a deadline that could not be read (line {lines}). Correct it so "
            f"that it gives a date (e.g. trước ngày 30/6/2025, before 30 June 2025), or, if it sets no deadline, "
            f"send the plan again with no_deadline_lines={lines}.",
        ),
        [{"where": f"deadline (line {u.line})", "problem": u.said()} for u in unread],
    )
