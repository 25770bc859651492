"""Commands agencies' systems send over AMQP: orders, not facts. Tracking validates and applies them
through the same domain code as its HTTP routes; the resulting facts are the events in contracts.py.

An agency publishes a command to the events exchange under `command.<verb>.<agency-kind>.<agency-code>`
with its own agency code, and sets the AMQP `user_id` property to its broker user (RabbitMQ rejects a
`user_id` that is not the connection's user, so tracking can trust it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, computed_field

from shared.contracts.events import SCHEMA_VERSION, Deliverable, PeriodKey, UtcDatetime

_COMMAND_NAMESPACE = uuid.UUID("0d8f4a63-2c55-4f0f-9a7e-5d1d2b8c9e40")


class Command(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entity: ClassVar[str] = "command"
    verb: ClassVar[str]

    command_id: str = Field(
        pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
        description="chosen by the sender; the same command sent twice is applied once",
    )
    schema_version: int = SCHEMA_VERSION
    assignment_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    sent_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    broker_user_id: str | None = Field(
        default=None,
        exclude=True,
        description="set by the consumer from the broker-validated AMQP user_id, never from the body",
    )

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form; mypy refuses decorators on properties
    @property
    def command_type(self) -> str:
        return f"{self.entity}.{self.verb}"

    def event_id(self, sender: str) -> str:
        """The id of the event this command causes: stable, so a replayed command is a duplicate."""
        return uuid.uuid5(_COMMAND_NAMESPACE, f"{sender}|{self.command_type}|{self.command_id}").hex


class AcknowledgeAssignment(Command):
    verb: ClassVar[str] = "acknowledge"


class ReportProgress(Command):
    verb: ClassVar[str] = "progress"

    percent: int = Field(ge=0, le=100)
    note: str = Field(default="", max_length=5_000)


class SubmitReport(Command):
    verb: ClassVar[str] = "report"

    period: PeriodKey
    note: str = Field(default="", max_length=5_000)
    deliverables: list[Deliverable] = Field(default_factory=list, max_length=20)


class RequestExtension(Command):
    verb: ClassVar[str] = "extend"

    period: PeriodKey
    requested_due_at: UtcDatetime
    reason: str = Field(min_length=1, max_length=5_000)


COMMAND_TYPES: dict[str, type[Command]] = {
    f"command.{cls.verb}": cls for cls in (AcknowledgeAssignment, ReportProgress, SubmitReport, RequestExtension)
}
