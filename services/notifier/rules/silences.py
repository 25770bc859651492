"""Operators' silences: mute a plan, an agency or a ladder level for a time window (over Tết, say).
Muted notices are recorded as suppressed and go out if still due when the silence ends. What a silence
matches is `decisions.Silence.mutes`; what makes one valid is here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.events import UtcDatetime
from shared.domain.wording import Wording


class SilenceRequest(BaseModel):
    """A silence to create: at least one of plan_id, agency, level; every one given must match."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str | None = Field(default=None, max_length=128, description="mute notices about this plan")
    agency: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="mute notices about this agency, or addressed to it",
    )
    level: int | None = Field(default=None, ge=0, le=9, description="mute this ladder level (0 = notices to agencies)")
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    reason: str = Field(min_length=1, max_length=1_000)
    created_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="ignored: the silence records the operator whose token made the request "
        "(accepted so that older clients are not refused)",
    )

    @model_validator(mode="after")
    def _sensible(self) -> SilenceRequest:
        if self.plan_id is None and self.agency is None and self.level is None:
            raise ValueError(
                Wording(
                    vi="lệnh tạm dừng cần nêu ít nhất một kế hoạch (plan_id), cơ quan (agency) hoặc cấp (level)",
                    en="a silence names at least a plan_id, an agency or a level",
                )
            )
        if self.ends_at <= self.starts_at:
            raise ValueError(
                Wording(
                    vi="thời điểm kết thúc (ends_at) phải sau thời điểm bắt đầu (starts_at)",
                    en="ends_at must be after starts_at",
                )
            )
        return self
