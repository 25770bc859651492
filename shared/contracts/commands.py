"""Commands agencies' systems send over AMQP: orders, not facts. Tracking validates and applies them
through the same domain code as its HTTP routes; the resulting facts are the events in contracts.py.

An agency publishes a command to the events exchange under `command.<verb>.<agency-kind>.<agency-code>`
with its own agency code, and sets the AMQP `user_id` property to its broker user (RabbitMQ rejects a
`user_id` that is not the connection's user, so tracking can trust it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator
from pydantic.json_schema import SkipJsonSchema

from shared.contracts.events import SCHEMA_VERSION, Deliverable, PeriodKey, UtcDatetime

_COMMAND_NAMESPACE = uuid.UUID("0d8f4a63-2c55-4f0f-9a7e-5d1d2b8c9e40")


class BaseCommand(BaseModel):
    """What every command carries, whoever sends it (an agency's system, an issuer's)."""

    # Strict, as over HTTP: a field the contract does not know is refused, not ignored ("percentage": 60 would
    # otherwise be applied as no progress at all). `command_type`, which the model itself writes, is allowed.
    model_config = ConfigDict(extra="forbid")

    entity: ClassVar[str] = "command"
    verb: ClassVar[str]

    command_id: str = Field(
        pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
        description="chosen by the sender; the same command sent twice is applied once",
    )
    schema_version: int = SCHEMA_VERSION
    sent_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    broker_user_id: SkipJsonSchema[str | None] = Field(
        default=None,
        exclude=True,
        description="set by the consumer from the broker-validated AMQP user_id, never from the body",
    )
    # Set by the consumer from the delivery (whatever a body says is overwritten): where the answer to a refused
    # command goes, and how long it has waited.
    routing_key: SkipJsonSchema[str | None] = Field(default=None, exclude=True)
    message_id: SkipJsonSchema[str | None] = Field(default=None, exclude=True)
    delivery_count: SkipJsonSchema[int] = Field(default=0, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _own_type_allowed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "command_type" in data:
            if data["command_type"] != f"{cls.entity}.{cls.verb}":
                raise ValueError(f"command_type {data['command_type']!r} is not {cls.entity}.{cls.verb}")
            data = {key: value for key, value in data.items() if key != "command_type"}
        return data

    @property
    def sender_kind(self) -> str | None:
        """The agency kind of the routing key the command was sent with (`<entity>.<verb>.<kind>.<code>`)."""
        parts = (self.routing_key or "").split(".")
        return parts[2] if len(parts) == 4 else None

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form; mypy refuses decorators on properties
    @property
    def command_type(self) -> str:
        return f"{self.entity}.{self.verb}"


class Command(BaseCommand):
    """An agency's command about one of its assignments."""

    assignment_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")

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


class SubmitPlan(BaseCommand):
    """A plan sent by its issuer's system, routed `plan.submit.<issuer-kind>.<issuer-code>` as the issuer's own
    broker user; intake registers it as if it came over HTTP (`POST /plans`) and answers on the issuer's queue with
    `plan.registered` or `plan.rejected` (docs/integration.md)."""

    entity: ClassVar[str] = "plan"
    verb: ClassVar[str] = "submit"

    plan: dict[str, Any] = Field(description="the plan, as `POST /plans` takes it (intake's PlanSubmission)")


AGENCY_COMMAND_TYPES: dict[str, type[Command]] = {
    f"command.{cls.verb}": cls for cls in (AcknowledgeAssignment, ReportProgress, SubmitReport, RequestExtension)
}
COMMAND_TYPES: dict[str, type[BaseCommand]] = {**AGENCY_COMMAND_TYPES, "plan.submit": SubmitPlan}
