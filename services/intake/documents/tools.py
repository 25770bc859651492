"""Debian's document tools (pdftotext, pdftoppm, tesseract, antiword) run as child processes of a reader.

A reader runs in the guard's worker process, whose RLIMIT_AS the child inherits: a tool past the memory
limit fails like the worker would. A tool must not outlive its worker either: the guard kills an overdue
worker, and a child would go on using a core as an orphan; it is asked to die with its parent
(PR_SET_PDEATHSIG), and is given the document's time limit of its own for callers outside the guard.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence

import structlog

from services.intake.documents.errors import DocumentTooSlow, ReaderUnavailable, Said
from shared.domain.wording import Wording

log = structlog.get_logger()

_PR_SET_PDEATHSIG = 1
# One OCR thread: the reader's two cores are shared with the service, and tesseract's OpenMP threads slow a
# page down more than they help on them.
_ENVIRONMENT = {"OMP_THREAD_LIMIT": "1", "LC_ALL": "C.UTF-8"}

PACKAGES = {
    "pdftotext": "poppler-utils",
    "pdftoppm": "poppler-utils",
    "tesseract": "tesseract-ocr-vie",
    "antiword": "antiword",
}


def _both(text: Said) -> Wording:
    return text if isinstance(text, Wording) else Wording(vi=text, en=text)


def missing(what: Said, tool: Said, package: str) -> Wording:
    """The refusal of a document whose reading tool is not installed (`what`: the kind of document, `tool`: the
    tool, as the administrator should look for them)."""
    kind, named = _both(what), _both(tool)
    return Wording(
        vi=f"Máy chủ chưa cài công cụ đọc {kind.vi} ({named.vi}), nên chưa đọc được tệp này. Hãy báo quản trị hệ "
        f"thống cài gói {package}, hoặc gửi văn bản dạng .docx hoặc .txt.",
        en=f"The server lacks the tool that reads {kind.en} ({named.en}), so this file cannot be read yet. Ask the "
        f"system administrator to install the package {package}, or send the document as .docx or .txt.",
    )


def available(tool: str) -> bool:
    return shutil.which(tool) is not None


def require(tool: str, what: Said) -> None:
    """Refuse the document (not fail the request) when the tool it needs is not installed."""
    if not available(tool):
        raise ReaderUnavailable(missing(what, tool, PACKAGES.get(tool, tool)))


def run(args: Sequence[str], timeout: float, data: bytes | None = None) -> bytes:
    """The tool's standard output. Raises DocumentTooSlow past `timeout`, ReaderUnavailable when the tool
    is missing, and CalledProcessError when it fails (the caller says what that means for the document)."""
    try:
        completed = subprocess.run(  # noqa: S603 - fixed tools, arguments never from the document
            list(args),
            input=data,
            capture_output=True,
            timeout=timeout,
            check=True,
            env={**os.environ, **_ENVIRONMENT},
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - a worker runs documents one at a time, no threads
        )
    except FileNotFoundError:
        what = Wording(vi="tài liệu", en="documents")
        raise ReaderUnavailable(missing(what, args[0], PACKAGES.get(args[0], args[0]))) from None
    except subprocess.TimeoutExpired:
        log.warning("document tool timed out", tool=args[0], timeout=timeout)
        raise DocumentTooSlow(
            Wording(
                vi=f"Không đọc được tài liệu trong thời gian cho phép ({timeout:g} giây). Hãy gửi riêng văn bản kế "
                "hoạch (ít trang hơn), hoặc bản .docx của nó.",
                en=f"The document could not be read within the time allowed ({timeout:g} seconds). Send the plan's "
                "text alone (fewer pages), or its .docx.",
            )
        ) from None
    return completed.stdout


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the guard's own kill is all there is
        pass
