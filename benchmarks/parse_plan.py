"""Time to parse a 30-page plan (target: under 100 ms). Run: .venv/bin/python benchmarks/parse_plan.py

The plan is the project's noisy sample, its content and organisation sections repeated until the text is
about 30 pages (~3,000 characters a page), with as many assignment clauses as a long district plan has.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.intake.documents import parse_document  # noqa: E402
from shared.domain.directory import Directory  # noqa: E402

PAGE = 3_000


def thirty_pages() -> bytes:
    text = (ROOT / "tests" / "fixtures" / "plans" / "ward-cleanup-plan.txt").read_text(encoding="utf-8")
    head, rest = text.split("III. TỔ CHỨC THỰC HIỆN", 1)
    clauses, tail = rest.split("Nơi nhận:", 1)
    content_start = head.index("II. NỘI DUNG")
    content = head[content_start:].split("\n", 1)[1]
    head = head[:content_start] + "II. NỘI DUNG\n"
    body, organisation, n = [], [], 0
    while sum(map(len, body)) + sum(map(len, organisation)) < 30 * PAGE:
        n += 1
        body.append(content.replace("1. Tuyên truyền", f"{n}. Tuyên truyền"))
        organisation.append(clauses.replace("1. Đề nghị", f"{n}.1. Đề nghị"))
    return (head + "".join(body) + "III. TỔ CHỨC THỰC HIỆN\n" + "".join(organisation) + "Nơi nhận:" + tail).encode()


def main() -> None:
    directory = Directory.load(ROOT / "deploy" / "local" / "directory.yaml")
    data = thirty_pages()
    parse_document(data, "plan.txt", directory, date(2026, 1, 1))  # warm-up: imports, regex compilation
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        plan = parse_document(data, "plan.txt", directory, date(2026, 1, 1))
        timings.append((time.perf_counter() - start) * 1000)
    clauses = len(plan.clauses) if hasattr(plan, "clauses") else 0
    sys.stdout.write(
        f"30-page plan: {len(data) / 1024:.0f} KiB, {len(data.decode()) // PAGE} pages of {PAGE} characters, "
        f"{clauses} clauses\n"
        f"parse time: median {statistics.median(timings):.1f} ms, best {min(timings):.1f} ms, "
        f"worst {max(timings):.1f} ms over {len(timings)} runs (target < 100 ms)\n"
    )


if __name__ == "__main__":
    main()
