"""Legacy Word 97-2003 (.doc) plans through Debian's `antiword`: one line a paragraph, UTF-8.

`antiword -w 0` does not wrap: each paragraph is one line of its output, as a .docx paragraph is one line here,
so a line number is a paragraph number. It reads the file from standard input, within the document's time
limit and the reader process's memory limit (tools.py). A file in the same container format that is not a
Word document (an Excel sheet, a password-protected file) is refused, saying what to do.
"""

from __future__ import annotations

import subprocess

from services.intake.documents.errors import BinaryDocument
from services.intake.documents.limits import DocumentLimits
from services.intake.documents.normalise import split_lines
from services.intake.documents.tools import require, run
from shared.domain.wording import Wording

NOT_WORD = Wording(
    vi="Không đọc được tệp Word 97-2003 (.doc): tệp hỏng, được khóa bằng mật khẩu, hoặc không phải văn bản Word "
    "(ví dụ bảng tính Excel .xls). Hãy mở bằng Word và lưu lại thành .docx, hoặc gửi bản PDF.",
    en="The Word 97-2003 (.doc) file cannot be read: it is damaged, protected by a password, or not a Word document "
    "(an Excel .xls sheet, for instance). Open it in Word and save it as .docx, or send it as a PDF.",
)


def doc_lines(data: bytes, limits: DocumentLimits) -> list[str]:
    """The paragraphs of a .doc, one a line (antiword starts its output with a blank line: left out)."""
    require("antiword", "Word 97-2003 (.doc)")
    try:
        text = run(["antiword", "-w", "0", "-m", "UTF-8.txt", "-"], limits.timeout_seconds, data)
    except subprocess.CalledProcessError:
        raise BinaryDocument(NOT_WORD) from None
    lines = split_lines(text.decode("utf-8", errors="replace"))
    if lines and not lines[0].strip():
        lines = lines[1:]
    return lines
