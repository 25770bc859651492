from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.contracts.topology import AGENCY_USER_PREFIX
from shared.platform.client_address import TrustedProxies, trusted_proxies_field
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
    token_ttl_days: float = Field(
        default=365,
        gt=0,
        description="how long an API token issued by POST /tokens (or rotated) lasts when no expires_at is given; "
        "TRACKING_OPERATOR_TOKEN, the configured bootstrap token, never expires",
    )
    link_ttl_days: float = Field(default=30, gt=0, description="how long a personal link stays valid")
    session_ttl_hours: float = Field(
        default=12, gt=0, description="how long a session made from a link lasts (never past the link's expiry)"
    )
    link_rate_per_minute: float = Field(
        default=30, gt=0, description="link exchanges and renewals a client address may make a minute (sustained)"
    )
    link_rate_burst: int = Field(default=30, ge=1, description="link exchanges and renewals a client may make at once")
    trusted_proxies: TrustedProxies = trusted_proxies_field(
        "addresses or networks (the web service's, an ingress controller's) whose last X-Forwarded-For entry names "
        "the client for the link rate limits; loopback by default (the web service on the same machine)"
    )
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1, description="the size limit of one report file")
    upload_rate_per_minute: float = Field(default=30, gt=0, description="report files one agency may upload a minute")
    upload_rate_burst: int = Field(default=20, ge=1, description="report files one agency may upload at once")
    upload_timeout_seconds: float = Field(default=300, gt=0, description="how long one upload may take in all")
