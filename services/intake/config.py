from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.intake.documents.deadlines import DefaultReporting
from services.intake.domain import MAX_PLAN_BYTES
from shared.contracts.topology import AGENCY_USER_PREFIX
from shared.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    """Intake's settings; its own variables start with INTAKE_ (INTAKE_HTTP_PORT …)."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    http_port: int = 8001
    mongo_database: str = "dondoc_intake"
    max_assignments_per_plan: int = 100_000
    agency_user_prefix: str = Field(
        default=AGENCY_USER_PREFIX,
        description="the broker user of issuer X is f'{prefix}{X}' (as for agencies: services/tracking/config.py); "
        "empty turns plan.submit over AMQP off (each is dead-lettered with the reason)",
    )
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
    # What one document may cost to read (documents/limits.py); a document past a limit is refused, saying which.
    document_timeout_seconds: float = Field(
        default=10.0, gt=0, description="time to read and parse one document; a reader past it is killed"
    )
    document_memory_mb: int = Field(
        default=512, ge=128, description="address space of a document reader process (RLIMIT_AS), in MiB"
    )
    document_workers: int = Field(default=2, ge=1, description="document reader processes (documents read at once)")
    document_max_paragraphs: int = Field(default=20_000, ge=1, description="paragraphs (lines of a text file)")
    document_max_table_cells: int = Field(default=20_000, ge=0, description="table cells in a .docx")
    document_max_characters: int = Field(default=1_000_000, ge=1, description="characters of text in a document")
    document_max_inflated_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1, description="a .docx's parts together, inflated, counted as they inflate"
    )
    document_max_entry_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="one part of a .docx, inflated, counted as it inflates"
    )
    document_max_entries: int = Field(default=1_000, ge=1, description="parts in a .docx archive")
