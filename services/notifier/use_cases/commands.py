"""Commands in, results out: the typed shapes of the notifier's use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.records import EmailRow
from services.notifier.rules.decisions import PeriodDecision
from services.notifier.rules.silences import SilenceRequest


@dataclass(frozen=True)
class CreateSilence:
    request: SilenceRequest
    created_by: str  # the caller, from its token; never from the request body


@dataclass(frozen=True)
class EndSilence:
    silence_id: str


@dataclass(frozen=True)
class PreviewEscalations:
    at: datetime | None = None  # None: now
    limit: int = 200


class ReapplyRequest(BaseModel):
    """Which open periods get the deployment's current ladder; every filter given must match."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="only this plan's")
    agency: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="only periods of the agency with this code"
    )
    include_plan_overrides: bool = Field(
        default=False, description="also replace the ladder of periods that follow their plan's own ladder"
    )
    reason: str = Field(default="", max_length=1_000, description="why, kept with the change on each period")


@dataclass(frozen=True)
class ReapplyLadder:
    request: ReapplyRequest
    by: str  # the caller, from its token


@dataclass(frozen=True)
class LadderReapplied:
    change_id: str
    ladder_version: str
    changed: int
    conflicts: int  # periods that kept changing under this request and were left as they were


@dataclass
class Run:
    """What one scan decided: the decisions, and the digests they make per recipient."""

    now: datetime
    decisions: list[PeriodDecision]
    emails: list[EmailRow]


@dataclass(frozen=True)
class ScanTaken:
    claimed: int  # periods claimed (0: nothing was due, or the batch changed under its claim)
    queued: tuple[str, ...] = ()  # the step of each notice queued
    muted: tuple[str, ...] = ()  # the step of each notice a silence held back
    emails: int = 0


@dataclass(frozen=True)
class Suppressed:
    notice: str
    silence_id: str
    until: datetime


@dataclass(frozen=True)
class Preview:
    at: datetime
    emails: list[EmailRow] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    deferred_to_window: list[str] = field(default_factory=list)
