from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.contracts.topology import AGENCY_USER_PREFIX
from shared.platform.settings import PREFETCH_HELP, ServiceSettings


class Settings(ServiceSettings):
    """Tracking's settings; its own variables start with TRACKING_."""

    model_config = SettingsConfigDict(env_prefix="TRACKING_", extra="ignore", populate_by_name=True)

    http_port: int = 8002
    mongo_database: str = "dondoc_tracking"
    agency_user_prefix: str = Field(
        default=AGENCY_USER_PREFIX,
        description="the broker user of agency X is f'{prefix}{X}' (`dondoc agencies provision|definitions` "
        "names them so by default). Empty turns agencies' commands over AMQP off: with no prefix, every broker "
        "user (guest, a service's own) would count as the agency of the same name, so each command is "
        "dead-lettered with the reason instead (services/tracking/consumers.py)",
    )
    unknown_assignment_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        description="how long an agency's command for an assignment id not recorded yet is retried (its "
        "assignment.created may be on the way) before it is answered with command.rejected (not_found)",
    )
    status_metrics_seconds: float = 60.0  # how often the four-state gauge is recomputed
    prefetch: int = Field(default=1000, ge=1, le=10_000, description=PREFETCH_HELP)
