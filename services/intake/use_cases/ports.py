"""What the use cases need from storage, as protocols: the MongoDB repositories implement them, the unit
tests' fakes too (tests/fakes.py). Sessions are typed `Any`: a real one from `MongoUnitOfWork`, None from
`FakeUnitOfWork`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from services.intake.domain import DocumentRecord, PlanRecord
from shared.contracts.events import DirectoryUpdated
from shared.domain.directory import Directory


class AlreadyStored(Exception):
    """A plan with this identifier is stored already: it is being submitted again."""


@dataclass(frozen=True)
class Actor:
    """Who asks: an issuer (its agency code) or an operator."""

    role: str
    code: str

    @property
    def label(self) -> str:
        return f"{self.role}:{self.code}"


class Plans(Protocol):
    async def add(self, record: PlanRecord, session: Any) -> None:
        """Store a new plan; raises `AlreadyStored` when its identifier is taken."""

    async def stored(self, plan_id: str, session: Any = None) -> PlanRecord | None: ...

    async def replace(self, record: PlanRecord, version: int, session: Any) -> bool:
        """Store a corrected plan if nobody else corrected it since `version` was read."""

    async def withdraw(self, stored: PlanRecord, now: datetime, by: str, session: Any) -> bool:
        """Mark the plan withdrawn if it is still the version `stored` was read at."""

    async def get(self, plan_id: str) -> dict[str, Any] | None:
        """The plan without its submission, as shown to readers."""

    async def assigning(self, agencies: list[str], limit: int) -> list[str]:
        """Plans, not withdrawn, whose current version assigns work to any of `agencies`."""

    def stored_size(self, record: PlanRecord) -> int:
        """The size in bytes the record takes as a stored document."""


@dataclass(frozen=True)
class KeptDocument:
    """A plan document in storage: its record, and whether storing it was new (else the same bytes were there)."""

    record: DocumentRecord
    new: bool


class Documents(Protocol):
    """Submitted plan documents (GridFS); not transactional: kept before the plan is written."""

    async def keep(self, data: bytes, name: str, media_type: str, reader: str) -> KeptDocument: ...

    async def read(self, file_id: Any) -> bytes | None: ...

    async def discard(self, file_id: Any) -> None: ...


class DirectoryWrites(Protocol):
    async def claim_version(self, expected: int, changed_by: str, now: datetime, session: Any) -> bool: ...

    async def apply(self, change: DirectoryUpdated, session: Any = None) -> int: ...


class Directories(Protocol):
    """The directory as this replica holds it (`shared.platform.directory_store.DirectoryHolder`)."""

    version: int
    directory: Directory

    @property
    def store(self) -> DirectoryWrites: ...

    async def refresh(self) -> bool: ...

    def replace(self, version: int, directory: Directory) -> None: ...
