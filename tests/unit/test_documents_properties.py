"""Random and mutated input never raises anything but the project's own typed errors."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.documents import parse_document
from services.intake.documents.errors import DocumentError
from services.intake.documents.model import ParsedPlan
from services.intake.documents.to_submission import to_submission
from tests.fixtures.docx_plans import text_to_docx
from tests.unit.documents_support import FIXTURES, TODAY, WeekdaysOnly, directory

DIRECTORY = directory()
SAMPLES = [p.read_bytes() for p in sorted(FIXTURES.glob("*.txt"))]
DOCX = text_to_docx(SAMPLES[0].decode())
PIECES = [
    "Số 1-KH/ĐU",
    "KẾ HOẠCH",
    "III. TỔ CHỨC THỰC HIỆN",
    "1. ",
    "- ",
    "Đề nghị ",
    "UBND phường",
    ": ",
    "Các chi bộ trực thuộc",
    "Thủ trưởng các đơn vị ",
    "trước ngày ",
    "31/2/2023",
    "01 tháng 13",
    "quý V/",
    "hằng quý ",
    "trong thời hạn 999 ngày làm việc",
    "Nơi nhận:",
    "T/M ",
    "[bookmark: x]",
    "*",
    "“",
    "\n\n",
    "ngày 0 tháng 0 năm 0000",
    "Hà Nội, ngày 31 tháng 2 năm 2023",
    " | ",
    "Uỷ",
    "hoá",
    "\u0301",
    "\x00",
]


def check(data: bytes, name: str = "x.txt") -> None:
    try:
        plan = parse_document(data, name, DIRECTORY, TODAY, WeekdaysOnly())
        if isinstance(plan, ParsedPlan):
            plan.model_dump_json()
            to_submission(plan, skip_unresolved=True)
    except DocumentError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_random_text(text: str) -> None:
    check(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=20), max_size=60))
def test_plan_shaped_nonsense(pieces: list[str]) -> None:
    check("".join(pieces).encode("utf-8", "surrogatepass"))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(range(len(SAMPLES))),
    st.randoms(use_true_random=False),
    st.lists(st.sampled_from(["delete", "flip", "insert", "truncate", "swap_lines"]), min_size=1, max_size=8),
)
def test_mutated_sample_plans(index: int, rng: random.Random, mutations: list[str]) -> None:
    data = bytearray(SAMPLES[index])
    for mutation in mutations:
        if not data:
            break
        at = rng.randrange(len(data))
        if mutation == "delete":
            del data[at : at + rng.randrange(1, 40)]
        elif mutation == "flip":
            data[at] = rng.randrange(256)
        elif mutation == "insert":
            data[at:at] = rng.choice(PIECES).encode()
        elif mutation == "truncate":
            del data[at:]
        else:
            lines = bytes(data).split(b"\n")
            rng.shuffle(lines)
            data = bytearray(b"\n".join(lines))
    check(bytes(data))


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=20))
def test_mutated_docx(rng: random.Random, flips: int) -> None:
    data = bytearray(DOCX)
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    check(bytes(data), "x.docx")
