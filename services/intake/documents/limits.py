"""How much a document may cost to read: the bounds every reader keeps and the guard enforces.

A plan is a few pages; the defaults leave a wide margin above the longest real plans (a 30-page district
plan is ~1,000 paragraphs, ~90,000 characters, under 1 MB inflated) and stop a small hostile file from
taking the reader's time or memory: 40,000 paragraphs in 120 KB, a zip entry that inflates to gigabytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.intake.documents.errors import DocumentTooLarge
from shared.domain.wording import Wording

if TYPE_CHECKING:  # config imports this package (DefaultReporting): at run time the import would be circular
    from services.intake.config import Settings

MB = 1024 * 1024


@dataclass(frozen=True)
class DocumentLimits:
    timeout_seconds: float = 10.0  # per document, in a worker process that is killed and replaced past it
    memory_mb: int = 512  # address space of a worker process (an interpreter with the readers loaded: ~60 MB)
    workers: int = 2  # documents read at the same time; more wait for a worker
    max_paragraphs: int = 20_000
    max_table_cells: int = 20_000
    max_characters: int = 1_000_000
    max_inflated_bytes: int = 50 * MB  # a .docx's parts together, inflated
    max_entry_bytes: int = 20 * MB  # one part of a .docx (word/document.xml …), inflated
    max_entries: int = 1_000  # parts in a .docx archive (Word writes 10 to 30, more with images)

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentLimits:
        return cls(
            timeout_seconds=settings.document_timeout_seconds,
            memory_mb=settings.document_memory_mb,
            workers=settings.document_workers,
            max_paragraphs=settings.document_max_paragraphs,
            max_table_cells=settings.document_max_table_cells,
            max_characters=settings.document_max_characters,
            max_inflated_bytes=settings.document_max_inflated_bytes,
            max_entry_bytes=settings.document_max_entry_bytes,
            max_entries=settings.document_max_entries,
        )


DEFAULT_LIMITS = DocumentLimits()


def count(number: int) -> str:
    """A count as Vietnamese writes it: 20.000, 1.000.000."""
    return f"{number:,}".replace(",", ".")


def count_en(number: int) -> str:
    """A count as English writes it: 20,000, 1,000,000."""
    return f"{number:,}"


def too_many_paragraphs(paragraphs: int, limits: DocumentLimits) -> DocumentTooLarge:
    """Refused before (a .docx) or after (other formats) its paragraphs are read."""
    return DocumentTooLarge(
        Wording(
            vi=f"Tài liệu quá lớn: {count(paragraphs)} đoạn văn, vượt giới hạn {count(limits.max_paragraphs)} đoạn. "
            "Hãy gửi riêng văn bản kế hoạch, không kèm phụ lục.",
            en=f"The document is too large: {count_en(paragraphs)} paragraphs, over the limit of "
            f"{count_en(limits.max_paragraphs)}. Send the plan's text alone, without appendices.",
        )
    )
