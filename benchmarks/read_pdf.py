"""Time to read and parse a plan sent as a PDF (target: under 300 ms for the 30-page plan as a text-layer PDF)
and to read a scan by OCR (target: ≤ 3 s a page at 300 dpi). Run: .venv/bin/python benchmarks/read_pdf.py

The text-layer PDF is benchmarks/parse_plan.py's 30-page plan (~90,000 characters) typeset by fpdf2 in
DejaVu Serif 12 pt on A4, with a running header and page numbers; the scan is the first pages of the real
ward plan drawn at 300 dpi, a little rotated and blurred (tests/fixtures/pdf_plans.py). Needs Debian's
poppler-utils, tesseract-ocr-vie and fonts-dejavu-core (`make tools`).
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.parse_plan import thirty_pages  # noqa: E402
from services.intake.documents import parse_document  # noqa: E402
from services.intake.documents.limits import DEFAULT_LIMITS  # noqa: E402
from services.intake.documents.readers import read_document  # noqa: E402
from shared.domain.directory import Directory  # noqa: E402
from tests.fixtures.pdf_plans import scan_to_pdf, text_to_pdf, text_to_scan  # noqa: E402

REAL_PLAN = ROOT / ".." / "shared" / "plans" / "ward-party-committee-plan-85.txt"
SAMPLE = ROOT / "tests" / "fixtures" / "plans" / "ward-cleanup-plan.txt"


def pdf_pages(data: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def cpu_seconds() -> float:
    """CPU time of this process and of the tools it ran (pdftotext, pdftoppm, tesseract): what a reading costs
    whatever else the shared machine is doing, unlike the wall-clock figure."""
    own, tools = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + tools.ru_utime + tools.ru_stime


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--scan-pages", type=int, default=3)
    scan_pages = options.parse_args().scan_pages
    directory = Directory.load(ROOT / "deploy" / "local" / "directory.yaml")
    today = date(2026, 1, 1)
    data = text_to_pdf(thirty_pages().decode(), header="Đảng ủy phường Hòa An - Kế hoạch số 12-KH/ĐU")
    parse_document(data, "plan.pdf", directory, today)  # warm-up: imports, regex compilation
    timings, cpu = [], []
    for _ in range(10):
        start, start_cpu = time.perf_counter(), cpu_seconds()
        parse_document(data, "plan.pdf", directory, today)
        timings.append((time.perf_counter() - start) * 1000)
        cpu.append((cpu_seconds() - start_cpu) * 1000)
    sys.stdout.write(
        f"text-layer PDF: {pdf_pages(data)} A4 pages, {len(data) / 1024:.0f} KiB; read+parse: median "
        f"{statistics.median(timings):.1f} ms, best {min(timings):.1f} ms over {len(timings)} runs; "
        f"CPU median {statistics.median(cpu):.1f} ms (target < 300 ms)\n"
    )
    text = (REAL_PLAN if REAL_PLAN.exists() else SAMPLE).read_text(encoding="utf-8")
    pages = text_to_scan(text * 3)[:scan_pages]
    scan = scan_to_pdf(pages)
    # A generous time limit: on a busy machine a page can take longer than intake's 10 s, and this measures.
    limits = dataclasses.replace(DEFAULT_LIMITS, timeout_seconds=600)
    start, start_cpu = time.perf_counter(), cpu_seconds()
    document = read_document(scan, "scan.pdf", limits=limits)
    seconds, cpu_used = time.perf_counter() - start, cpu_seconds() - start_cpu
    sys.stdout.write(
        f"scanned PDF: {len(pages)} pages at 300 dpi, read by {getattr(document, 'format', '?')} in {seconds:.2f} s: "
        f"{seconds / len(pages):.2f} s a page; CPU {cpu_used / len(pages):.2f} s a page (target ≤ 3 s)\n"
    )


if __name__ == "__main__":
    main()
