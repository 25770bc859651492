from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import PREFETCH_HELP, ServiceSettings

DEFAULT_LADDER = Path(__file__).resolve().parents[2] / "deploy" / "local" / "ladder.yaml"


class Settings(ServiceSettings):
    """Notifier's settings; its own variables start with NOTIFIER_."""

    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", populate_by_name=True)

    http_port: int = 8003
    mongo_database: str = "dondoc_notifier"
    scan_interval_seconds: float = 1.0
    prefetch: int = Field(default=500, ge=1, le=10_000, description=PREFETCH_HELP)
    scan_batch_size: int = 1_000
    scan_lease_seconds: float = Field(default=120.0, description="a claim held longer is taken over")
    ladder_path: Path = Field(default=DEFAULT_LADDER, description="the deployment's escalation ladder (YAML)")
    sending_window: str = Field(
        default="07:30-17:00", description="working days between these hours (Vietnam time), or 'always'"
    )
    contact: str = Field(default="", description="who recipients should contact; default: the plan's issuer")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = Field(default=False, description="TLS from the first byte (SMTPS, usually port 465)")
    smtp_ca_file: Path | None = Field(
        default=None, description="CA certificates (PEM) to verify the SMTP server with, instead of the system's"
    )
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "Hệ thống đôn đốc <dondoc@localhost>"
    mail_domain: str = Field(default="dondoc", description="the right-hand side of every Message-ID")
    mail_max_attempts: int = Field(default=8, description="transient failures before an e-mail is marked failed")
    mail_retry_base_seconds: float = Field(default=30.0, description="first retry delay; doubles each attempt")
    mail_retry_max_seconds: float = 3_600.0
    mail_lease_seconds: float = Field(default=300.0, description="a claimed e-mail not finished by then is retaken")
    mail_batch_size: int = 100
    # Personal links (PORTAL-CONTRACT.md): fetched from tracking when an e-mail is sent, never stored here.
    web_public_url: str = Field(
        default="http://127.0.0.1:8004", description="the web service's address as people reach it (in e-mails)"
    )
    tracking_url: str | None = Field(
        default=None, description="tracking, which issues personal links (POST /links); unset: no personal links"
    )
    tracking_token: SecretStr | None = Field(default=None, description="an operator token to call POST /links with")
    tracking_timeout_seconds: float = Field(default=10.0, gt=0, description="one POST /links call at most")
