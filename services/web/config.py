"""The web portal's settings; its own variables start with WEB_ (docs/security.md, issue 18)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.platform.client_address import TrustedProxies, trusted_proxies_field
from shared.platform.settings import ServiceSettings

MIB = 1024 * 1024


class Settings(ServiceSettings):
    """The portal keeps no business state: no broker, no database; tracking decides every authorisation."""

    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore", populate_by_name=True)

    http_port: int = 8004
    tracking_url: str = Field(default="http://127.0.0.1:8002", description="tracking's base URL")
    public_url: str = Field(
        default="http://127.0.0.1:8004", description="where people reach the portal; https makes cookies Secure"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="signs the forms' CSRF tokens; a random one per process when unset (a warning)"
    )
    max_file_bytes: int = Field(default=20 * MIB, ge=1, description="one uploaded file's limit (tracking checks too)")
    max_files_per_report: int = Field(default=10, ge=1, le=20, description="files in one report form")
    upload_timeout_seconds: float = Field(default=600.0, gt=0, description="an upload form must arrive within this")
    tracking_timeout_seconds: float = Field(default=30.0, gt=0, description="one call to tracking (a file: longer)")
    link_attempts_per_minute: int = Field(
        default=10, ge=1, description="link exchanges and new-link requests from one address"
    )
    trusted_proxies: TrustedProxies = trusted_proxies_field(
        "addresses or networks (the ingress controller's, a reverse proxy's) whose last X-Forwarded-For entry names "
        "the browser, for the portal's own limits and the address it forwards to tracking; loopback by default"
    )
    uploads_per_minute: int = Field(default=30, ge=1, description="report forms with files from one session")
    identity_cache_seconds: float = Field(
        default=10.0, ge=0, description="how long the portal remembers whom a session belongs to (for the header)"
    )
