"""The escalation ladder as data: steps relative to the assignment or to a reporting deadline, loaded
from YAML (deploy/local/ladder.yaml) and copied onto each period when it opens (a snapshot, so a later
change of the file does not alter periods already open)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.calendar import WorkingCalendar
from shared.clock import VIETNAM, as_utc

Role = Literal["agency", "supervisor", "upper_supervisor"]
Track = Literal["acknowledgement", "report"]
Ask = Literal["acknowledge", "report", "explain"]
Unit = Literal["d", "wd", "h"]

_OFFSET = re.compile(r"^(?P<sign>[+-]?)(?P<amount>\d+)(?P<unit>d|wd|h)?$")


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
        return cls(amount, match["unit"] or "d")  # type: ignore[arg-type]

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


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    track: Track
    at: str
    to: tuple[Role, ...] = Field(min_length=1)
    cc: tuple[Role, ...] = ()
    level: int = Field(ge=0, le=9)
    ask: Ask
    repeat: Repeat | None = None

    @field_validator("at")
    @classmethod
    def _offset(cls, value: str) -> str:
        Offset.parse(value)
        return value

    @property
    def offset(self) -> Offset:
        return Offset.parse(self.at)

    @property
    def before_deadline(self) -> bool:
        """A reminder: it only makes sense while the deadline is still ahead."""
        return self.track == "report" and self.offset.amount < 0


class LadderFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acknowledgement: list[dict[str, Any]] = []
    report: list[dict[str, Any]] = []


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
    def from_data(cls, raw: Any) -> Ladder:
        parsed = LadderFile.model_validate(raw or {})
        steps = [Step.model_validate({**s, "track": "acknowledgement"}) for s in parsed.acknowledgement]
        steps += [Step.model_validate({**s, "track": "report"}) for s in parsed.report]
        names = [s.name for s in steps]
        if len(names) != len(set(names)):
            raise ValueError("step names must be unique")
        return cls(tuple(steps))

    @classmethod
    def load(cls, path: Path) -> Ladder:
        try:
            return cls.from_data(yaml.safe_load(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise LadderError(f"cannot read the ladder {path}: {exc.strerror}") from exc
        except (yaml.YAMLError, ValidationError, ValueError) as exc:
            raise LadderError(f"the ladder {path} is invalid: {exc}") from exc


def snapshot(steps: list[Step]) -> list[dict[str, Any]]:
    """What is stored on a period: the steps as plain data."""
    return [step.model_dump(mode="json") for step in steps]


def from_snapshot(rows: list[dict[str, Any]]) -> list[Step]:
    return [Step.model_validate(row) for row in rows]
