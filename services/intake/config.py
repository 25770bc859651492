from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.intake.documents.deadlines import DefaultReporting
from services.intake.domain import MAX_PLAN_BYTES
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Intake's settings; its own variables start with INTAKE_ (INTAKE_HTTP_PORT …)."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    http_port: int = 8001
    mongo_database: str = "dondoc_intake"
    max_assignments_per_plan: int = 100_000
    max_plan_bytes: int = Field(
        default=MAX_PLAN_BYTES,
        le=15 * 1024 * 1024,
        description="the largest plan intake stores, in bytes as a MongoDB document (its own limit is 16 MiB)",
    )
    max_request_bytes: int = 8 * 1024 * 1024  # room for a 5 MB document in a multipart upload
    default_reporting: DefaultReporting = Field(
        default="annual",
        description="the reports a plan document owes when it names no deadline: annual, semiannual (also before "
        "1 July), quarterly, or none (such a plan is refused, saying why)",
    )
