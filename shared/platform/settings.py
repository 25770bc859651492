"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.domain.calendar import DEFAULT_OVERRIDES

DEPRECATED_CALENDAR_VARIABLE = "NOTIFIER_CALENDAR_OVERRIDES_PATH"
DEFAULT_DIRECTORY = Path(__file__).resolve().parents[2] / "deploy" / "local" / "directory.yaml"
HTTP_HEAD_TIMEOUT_SECONDS = 10.0
HTTP_BODY_TIMEOUT_SECONDS = 60.0  # an 8 MB document over a 2 Mbit/s line takes about 35 s
PREFETCH_HELP = (
    "messages in flight to this consumer, and the largest batch written at once. On RabbitMQ before 4.3 each "
    "consumer crash counts one delivery against every message in flight (the queue dead-letters at 20)"
)


def _shared(name: str, default: object, description: str) -> Any:
    """A field read from an unprefixed variable (AMQP_URL) or the service-prefixed one."""
    return Field(default=default, validation_alias=AliasChoices(name), description=description)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    amqp_url: str = _shared("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ connection URL")
    mongo_url: str = _shared("MONGO_URL", "mongodb://127.0.0.1:27017/", "MongoDB connection URL")
    directory_path: Path = _shared(
        "DIRECTORY_PATH",
        DEFAULT_DIRECTORY,
        "agency directory (YAML): seeds the service's database on its first start; later changes go over HTTP",
    )
    calendar_overrides_path: Path | None = Field(
        default=DEFAULT_OVERRIDES,
        # NOTIFIER_CALENDAR_OVERRIDES_PATH: its name while only the notifier read it (deprecated, still read).
        validation_alias=AliasChoices("CALENDAR_OVERRIDES_PATH", DEPRECATED_CALENDAR_VARIABLE),
        description="the Government's yearly day swaps (YAML): intake counts working days and the notifier "
        "keeps its sending window by the same table",
    )
    directory_refresh_seconds: float = Field(
        default=2.0, description="how often a replica checks whether the stored agency directory changed"
    )
    log_format: Literal["json", "console", "auto"] = _shared(
        "LOG_FORMAT", "auto", "json in production, readable lines on a terminal"
    )
    log_level: str = _shared("LOG_LEVEL", "info", "minimum log level")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Slow clients (threat model, docs/security.md): each limit bounds how long one connection can be held.
    http_keep_alive_seconds: int = Field(
        default=5, gt=0, description="an idle kept-alive connection is closed after this long"
    )
    http_head_timeout_seconds: float = Field(
        default=HTTP_HEAD_TIMEOUT_SECONDS,
        gt=0,
        description="a request's line and headers must arrive within this long (408 and closed otherwise)",
    )
    http_body_timeout_seconds: float = Field(
        default=HTTP_BODY_TIMEOUT_SECONDS,
        gt=0,
        description="a request's body must arrive within this long of its headers (408 and closed otherwise)",
    )
    http_max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="a request line and headers larger than this are refused (400)"
    )
    mongo_database: str = "dondoc"
    outbox_poll_seconds: float = 0.5
    outbox_lease_seconds: float = Field(
        default=30.0, description="the outbox relay's leader lease; a crashed leader is replaced after it"
    )
    operator_token: SecretStr | None = Field(
        default=None, description="the bootstrap operator's token (tracking registers it; the others accept it)"
    )
    auth_url: str | None = _shared(
        "AUTH_URL", None, "tracking's base URL, where intake and the notifier ask who a token belongs to"
    )
    auth_cache_seconds: float = Field(
        default=30.0, description="how long intake and the notifier trust an answer about a token"
    )

    @model_validator(mode="after")
    def _warn_of_the_old_calendar_variable(self) -> ServiceSettings:
        if DEPRECATED_CALENDAR_VARIABLE in os.environ and "CALENDAR_OVERRIDES_PATH" not in os.environ:
            structlog.get_logger().warning(
                "deprecated setting: rename it", variable=DEPRECATED_CALENDAR_VARIABLE, to="CALENDAR_OVERRIDES_PATH"
            )
        return self
