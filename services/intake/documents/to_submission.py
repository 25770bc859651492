"""A parsed plan → the `PlanSubmission` that `register_plan` already publishes: one entry per assignee."""

from __future__ import annotations

from services.intake.documents.errors import DocumentError
from services.intake.documents.model import DeadlineOut, ParsedPlan
from services.intake.domain import AfterReceipt, AssignmentIn, DeadlineIn, PlanSubmission


class UnresolvedBodies(DocumentError):
    """The plan names bodies the directory does not know: publishing would silently leave them out."""

    code = "unresolved"


def _deadline(deadline: DeadlineOut) -> DeadlineIn:
    if deadline.counted_from == "receipt" and deadline.days is not None:
        # Counted from the day intake registers the plan, not from the day it was parsed (the preview's "today").
        return DeadlineIn(
            period=deadline.period,
            wording=deadline.wording[:2_000],
            after_receipt=AfterReceipt(days=deadline.days, working_days=deadline.working_days),
        )
    return DeadlineIn(period=deadline.period, due=deadline.effective_at, wording=deadline.wording[:2_000])


def to_submission(plan: ParsedPlan, skip_unresolved: bool = False) -> PlanSubmission:
    problems = [
        {"where": f"{u.where} (line {u.line})", "problem": f"{u.phrase!r}: {u.reason}"} for u in plan.unresolved
    ]
    blocking = [p for p, u in zip(problems, plan.unresolved, strict=True) if u.where not in ("sections",)]
    missing = []
    if plan.number is None:
        missing.append({"where": "number", "problem": "không tìm thấy số hiệu kế hoạch (Số …-KH/…)"})
    if plan.issuer is None or plan.issuer.code is None:
        missing.append({"where": "issuer", "problem": "không xác định được cơ quan ban hành trong danh bạ"})
    if not plan.assignments:
        missing.append({"where": "assignments", "problem": "kế hoạch không có phân công nào cho cơ quan trong danh bạ"})
    if missing or plan.number is None or plan.issuer is None:
        raise UnresolvedBodies("Chưa thể đăng ký kế hoạch: thiếu thông tin bắt buộc.", missing + problems)
    if blocking and not skip_unresolved:
        raise UnresolvedBodies(
            "Kế hoạch nêu các cơ quan chưa có trong danh bạ. Hãy bổ sung danh bạ, sửa văn bản, "
            "hoặc gửi lại với skip_unresolved=true để bỏ qua các cơ quan này.",
            blocking,
        )
    plan_deadlines = [_deadline(d) for d in plan.deadlines]
    assignments = []
    for item in plan.assignments:
        own = [_deadline(d) for d in item.deadlines]
        assignments.append(
            AssignmentIn(
                agency=item.agency,
                task=item.task[:20_000],
                deadlines=own if {d.period for d in own} != {d.period for d in plan_deadlines} else None,
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
