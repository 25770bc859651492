"""The use cases' typed errors; each entry point maps `kind` to its own answer (HTTP status, dead letter)."""

from __future__ import annotations

from shared.domain.wording import Wording


class ActionError(Exception):
    """An action refused; `kind` tells the entry point how to answer (HTTP status, dead letter)."""

    kind: str = "invalid"

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.details: dict[str, object] = {}  # fields an answer carries beside `detail` (a reason, a limit)


class NotFound(ActionError):
    kind = "not_found"


class Forbidden(ActionError):
    kind = "forbidden"


class Conflict(ActionError):
    kind = "conflict"


class Refused(ActionError):
    """The rules forbid it in the current state (illegal transition, unknown period)."""

    kind = "refused"


class Gone(ActionError):
    """A personal link that has expired or been revoked: `reason` says which."""

    kind = "gone"

    def __init__(self, detail: str | Wording, reason: str) -> None:
        super().__init__(detail)
        self.details = {"reason": reason}


class TooLarge(ActionError):
    """An uploaded file past the size limit."""

    kind = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            Wording(
                vi=f"Tệp lớn hơn giới hạn {_size(limit)} cho mỗi tệp; vui lòng nén hoặc chia nhỏ rồi gửi lại.",
                en=f"the file is larger than the limit of {limit} bytes",
            )
        )
        self.details = {"reason": "too_large", "limit": limit}


def _size(limit: int) -> str:
    """A size as a person reads it: in MB (decimal comma) from one MB up, else in bytes."""
    if limit < 1024 * 1024:
        return f"{limit} byte"
    return f"{limit / (1024 * 1024):.1f}".removesuffix(".0").replace(".", ",") + " MB"


class Unsupported(ActionError):
    """An uploaded file of a kind not accepted, or whose content is not what its name says."""

    kind = "unsupported"

    def __init__(self, detail: str | Wording, reason: str) -> None:
        super().__init__(detail)
        self.details = {"reason": reason}


class Invalid(ActionError):
    """The request names something it may not use (a file of another assignment)."""

    kind = "invalid"


# What the use cases' refusals say, in both languages (shared/domain/wording.py).
CHANGED_MEANWHILE = Wording(
    vi="Nhiệm vụ vừa được cập nhật trong lúc xử lý yêu cầu này; vui lòng thử lại.",
    en="the assignment changed while this request ran; try again",
)
EXPIRY_IN_THE_PAST = Wording(
    vi="Thời điểm hết hạn (expires_at) phải sau thời điểm hiện tại.", en="expires_at must be in the future"
)
PLAN_STATUS_NOT_YOURS = Wording(
    vi="Chỉ cơ quan ban hành kế hoạch và quản trị viên được xem tình hình thực hiện kế hoạch.",
    en="a plan's status is for its issuer and operators",
)
OWN_ASSIGNMENTS_ONLY = Wording(
    vi="Mỗi cơ quan chỉ xem được nhiệm vụ của chính mình.", en="an agency reads only its own assignments"
)
OWN_EXTENSIONS_ONLY = Wording(
    vi="Mỗi cơ quan chỉ xem được đề nghị gia hạn của chính mình.",
    en="an agency reads only its own extension requests",
)


def no_assignment(assignment_id: str) -> Wording:
    return Wording(vi=f"Không tìm thấy nhiệm vụ {assignment_id}.", en=f"no assignment {assignment_id}")


def not_assigned_to(assignment_id: str, agency: str) -> Wording:
    """An agency (or a viewer) acting on an assignment that is not its own."""
    return Wording(
        vi=f"Nhiệm vụ {assignment_id} không được giao cho cơ quan {agency}.",
        en=f"assignment {assignment_id} is not assigned to {agency}",
    )


def no_live_token(token_id: str) -> Wording:
    return Wording(vi=f"Không tìm thấy mã truy cập {token_id} còn hiệu lực.", en=f"no live token {token_id}")
