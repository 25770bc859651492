from __future__ import annotations

import json

import pytest

from services.cli.main import build_parser, main
from tests.unit.documents_support import FIXTURES, ROOT


def test_plan_commands_are_registered_with_help_for_clerks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["plan", "parse", "--help"])
    assert "cụm từ chưa nhận ra được" in capsys.readouterr().out


def test_parse_prints_json_and_says_whether_it_can_be_published(capsys: pytest.CaptureFixture[str]) -> None:
    directory = ROOT / "deploy" / "local" / "directory.yaml"
    code = main(["plan", "parse", str(FIXTURES / "cell-meeting-plan.txt"), "--directory", str(directory), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["ready"] is True and result["number"]["text"] == "31-KH/ĐU"
    assert main(["plan", "parse", str(FIXTURES / "ward-cleanup-plan.txt")]) == 3
    assert "Hội Người cao tuổi phường" in capsys.readouterr().out


def test_an_unreadable_file_is_a_message_not_a_traceback(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert main(["plan", "parse", str(empty)]) == 1
    assert "rỗng" in capsys.readouterr().err
    plan = str(FIXTURES / "cell-meeting-plan.txt")
    assert main(["plan", "submit", plan, "--url", "http://127.0.0.1:9", "--token", ""]) == 2
    assert "Thiếu token" in capsys.readouterr().err
    assert main(["plan", "submit", plan, "--url", "http://127.0.0.1:9", "--token", "t"]) == 1
    assert "Không kết nối được" in capsys.readouterr().err


def test_submit_tells_a_registered_an_unchanged_and_an_amended_plan_apart() -> None:
    from services.cli.plan import _outcome

    assert (
        _outcome({"plan_id": "p1", "status": "registered", "assignments": [{}, {}]})
        == "Đã đăng ký kế hoạch p1: 2 phân công đã gửi đi.\n"
    )
    assert "không thay đổi" in _outcome({"plan_id": "p1", "status": "unchanged", "assignments": []})
    amended = _outcome(
        {
            "plan_id": "p1",
            "status": "amended",
            "created": ["a"],
            "cancelled": [],
            "deadlines_changed": ["b", "c"],
            "tasks_changed": ["d"],
            "deliverables_changed": ["d", "e"],
            "assignments": [],
        }
    )
    assert amended == (
        "Đã cập nhật kế hoạch p1 theo bản sửa đổi: 1 phân công mới, 0 phân công hủy, "
        "2 thời hạn thay đổi, 1 nhiệm vụ sửa nội dung, 2 phân công sửa sản phẩm cần gửi.\n"
    )


def test_submit_sends_the_lines_the_clerk_found_to_set_no_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    sent: dict[str, object] = {}

    def post(url: str, **kwargs: object) -> httpx.Response:
        sent.update(kwargs)
        return httpx.Response(201, json={"plan_id": "p1", "status": "registered", "assignments": []})

    monkeypatch.setattr(httpx, "post", post)
    plan = str(FIXTURES / "cell-meeting-plan.txt")
    args = ["plan", "submit", plan, "--url", "http://intake", "--token", "t"]
    assert main([*args, "--no-deadline-line", "15", "--no-deadline-line", "21"]) == 0
    assert sent["data"] == {"skip_unresolved": "false", "no_deadline_lines": ["15", "21"]}


def test_parse_lists_each_bodys_deadlines_and_how_to_resolve_an_unread_one(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.test_documents_wording import plan_text

    plan = tmp_path / "plan.txt"
    plan.write_text(plan_text(), encoding="utf-8")
    assert main(["plan", "parse", str(plan)]) == 3
    out = capsys.readouterr().out
    assert "hoi-nong-dan (dòng 14): theo văn bản: 2024-H1, 2024-FY, 2024-Q2" in out
    assert "dondoc plan submit FILE --no-deadline-line 15" in out


def test_parse_names_the_page_and_the_line_on_it_for_a_pdf_or_a_scan() -> None:
    from services.cli.plan import _where

    paged = {"pages": [1, 1, 2, 2], "page_lines": [3, 9, 1, 4]}
    assert _where(paged, 4) == "dòng 4 (trang 2, dòng 4)"
    assert _where(paged, 3) == "dòng 3 (trang 2, dòng 1)"
    assert _where({"pages": [], "page_lines": []}, 3) == "dòng 3"  # a text file: its own lines
    assert _where(paged, 0) == "dòng 0"


def test_parse_lists_what_to_deliver_and_where(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "parse", str(FIXTURES / "ward-cleanup-plan.txt")]) == 3
    out = capsys.readouterr().out
    assert "Sản phẩm cần gửi (theo văn bản):\n  - 01 file word, 01 file scan → Văn phòng Đảng ủy (dòng 52)\n" in out
