"""The escalation ladder's schema (DOMAIN.md §6): steps relative to the assignment or to a reporting
deadline, each with its audience, level, ask and optional repeats.

Shared because two services must agree on it: the notifier reads the deployment's ladder from YAML
(deploy/local/ladder.yaml), and intake validates a plan's own ladder (`escalation_ladder` of a structured
plan) before it travels on `assignment.created`. Both use `LadderSpec`, the shape of the YAML file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.domain.calendar import WorkingCalendar
from shared.domain.clock import VIETNAM, as_utc

Role = Literal["agency", "supervisor", "upper_supervisor"]
Track = Literal["acknowledgement", "report"]
# "notice": the assignment notice, the digest an agency gets when work is assigned to it (plan, task, deadlines,
# what to deliver, whom to contact); a step of the acknowledgement track like the others, so a ladder without
# it sends none.
Ask = Literal["notice", "acknowledge", "report", "explain"]
Unit = Literal["d", "wd", "h"]
TRACKS: tuple[Track, ...] = ("acknowledgement", "report")

# A ladder reaches about a year from its anchor at most: a plan's ladder is outside input, and an offset of
# a million working days would have the notifier walk the calendar for ages on every scan.
MAX_OFFSET = 400
MAX_STEPS_PER_TRACK = 20
_OFFSET = re.compile(r"^(?P<sign>[+-]?)(?P<amount>\d{1,4})(?P<unit>d|wd|h)?$")


class LadderError(ValueError):
    """The ladder file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Offset:
    amount: int  # signed
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> Offset:
        match = _OFFSET.match(text.strip())
        if match is None:
            raise ValueError(f"offset {text!r} is not like 0, -7d, +3wd or +4h")
        amount = int(match["amount"]) * (-1 if match["sign"] == "-" else 1)
        if abs(amount) > MAX_OFFSET:
            raise ValueError(f"offset {text!r} is more than {MAX_OFFSET} units away")
        return cls(amount, match["unit"] or "d")  # type: ignore[arg-type]  # the pattern matches only the units' Literal

    def __str__(self) -> str:
        return f"{self.amount:+d}{self.unit}" if self.amount else "0"

    def apply(self, anchor: datetime, calendar: WorkingCalendar, times: int = 1) -> datetime:
        """`anchor` moved by this offset `times` times. Working days keep the local time of day."""
        amount = self.amount * times
        if self.unit == "h":
            return as_utc(anchor) + timedelta(hours=amount)
        if self.unit == "d":
            return as_utc(anchor) + timedelta(days=amount)
        local = as_utc(anchor).astimezone(VIETNAM)
        day = calendar.add_working_days(local.date(), amount)
        return as_utc(datetime.combine(day, local.timetz()))


class Repeat(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    every: str = Field(description="interval, e.g. 7d or 5wd")
    times: int = Field(ge=1, le=52, description="how many more times at most (the cap)")

    @field_validator("every")
    @classmethod
    def _positive(cls, value: str) -> str:
        if Offset.parse(value).amount <= 0:
            raise ValueError("a repeat interval is positive")
        return value

    @model_validator(mode="after")
    def _bounded(self) -> Repeat:
        if Offset.parse(self.every).amount * self.times > MAX_OFFSET:
            raise ValueError(f"the repeats reach more than {MAX_OFFSET} units past the step (every × times)")
        return self


class StepRule(BaseModel):
    """One step as a ladder lists it; its track is the list it is written in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        description="unique and stable: part of every notice's key (never rename a step in use)",
    )
    at: str = Field(description="relative to the anchor: 0, -7d, +3wd, +4h (d days, wd working days, h hours)")
    to: tuple[Role, ...] = Field(min_length=1, description="who is asked")
    cc: tuple[Role, ...] = Field(default=(), description="who gets a copy to follow up")
    level: int = Field(ge=0, le=9, description="0 = a notice to the agency; 1, 2 = escalation levels")
    ask: Ask
    repeat: Repeat | None = Field(default=None, description="sent again every interval while still due")

    @field_validator("at")
    @classmethod
    def _offset(cls, value: str) -> str:
        Offset.parse(value)
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_step(cls, data: Any, handler: ModelWrapValidatorHandler[StepRule]) -> StepRule:
        # Errors keep their place (`report.1.at`) and also say which step it is by name: that is what the
        # person who wrote the ladder recognises.
        try:
            return handler(data)
        except ValidationError as exc:
            name = data.get("name") if isinstance(data, dict) else None
            if not isinstance(name, str) or not name.strip():
                raise
            errors = exc.errors()
            # `to: [boss]` fails as "to.0: not a role" and again as "to: too short": keep the precise one.
            locs = [error["loc"] for error in errors]
            precise = [
                e for e in errors if not any(len(o) > len(e["loc"]) and o[: len(e["loc"])] == e["loc"] for o in locs)
            ]
            raise ValidationError.from_exception_data(
                exc.title,
                [
                    {
                        "type": PydanticCustomError(
                            "ladder_step", "step {step}: {problem}", {"step": repr(name[:40]), "problem": error["msg"]}
                        ),
                        "loc": error["loc"],
                        "input": error["input"],
                    }
                    for error in precise
                ],
            ) from None


class Step(StepRule):
    """A step with its track: what a period's ladder snapshot stores."""

    track: Track

    @property
    def offset(self) -> Offset:
        return Offset.parse(self.at)

    @property
    def before_deadline(self) -> bool:
        """A reminder: it only makes sense while the deadline is still ahead."""
        return self.track == "report" and self.offset.amount < 0


class LadderSpec(BaseModel):
    """A ladder as written: the deployment's YAML file, or a plan's own `escalation_ladder`. In a plan, a
    track left out keeps the deployment's steps; an empty list means no steps on that track."""

    model_config = ConfigDict(extra="forbid")

    acknowledgement: list[StepRule] | None = Field(
        default=None,
        max_length=MAX_STEPS_PER_TRACK,
        description="counted from the assignment; stop once the agency acknowledges",
    )
    report: list[StepRule] | None = Field(
        default=None,
        max_length=MAX_STEPS_PER_TRACK,
        description="counted from each reporting deadline; stop once that period's report is in",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> LadderSpec:
        names = [step.name for track in TRACKS for step in (getattr(self, track) or [])]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"step names must be unique: {', '.join(twice)} more than once")
        misplaced = [step.name for step in (self.report or []) if step.ask == "notice"]
        if misplaced:
            raise ValueError(
                "the assignment notice (ask: notice) is an acknowledgement step, not a report one: "
                + ", ".join(misplaced)
            )
        return self

    def given(self, track: Track) -> bool:
        return getattr(self, track) is not None


class EventStep(StepRule):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EventLadder(LadderSpec):
    """A plan's ladder as `assignment.created` carries it: validated by intake already; fields a later
    version adds are ignored here, not refused (contracts change additively)."""

    model_config = ConfigDict(extra="ignore")

    # Narrowing a field's item type is what pydantic validates by (EventStep ignores unknown fields); mypy sees
    # list's invariance, but nothing appends a StepRule to these lists.
    acknowledgement: list[EventStep] | None = Field(default=None, max_length=MAX_STEPS_PER_TRACK)  # type: ignore[assignment]  # narrowed: see above
    report: list[EventStep] | None = Field(default=None, max_length=MAX_STEPS_PER_TRACK)  # type: ignore[assignment]  # narrowed: see above


@dataclass(frozen=True)
class Ladder:
    steps: tuple[Step, ...]

    def track(self, track: Track) -> list[Step]:
        return [step for step in self.steps if step.track == track]

    @property
    def version(self) -> str:
        """A hash of the steps: which ladder a period was opened with."""
        payload = json.dumps([s.model_dump(mode="json") for s in self.steps], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    @classmethod
    def from_spec(cls, spec: LadderSpec) -> Ladder:
        """The steps of a spec; a track it leaves out has none."""
        return cls(
            tuple(
                Step.model_validate({**rule.model_dump(), "track": track})
                for track in TRACKS
                for rule in (getattr(spec, track) or [])
            )
        )

    @classmethod
    def from_data(cls, raw: Any) -> Ladder:
        return cls.from_spec(LadderSpec.model_validate(raw or {}))

    @classmethod
    def load(cls, path: Path) -> Ladder:
        try:
            return cls.from_data(yaml.safe_load(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise LadderError(f"cannot read the ladder {path}: {exc.strerror}") from exc
        except (yaml.YAMLError, ValidationError, ValueError) as exc:
            raise LadderError(f"the ladder {path} is invalid: {exc}") from exc
