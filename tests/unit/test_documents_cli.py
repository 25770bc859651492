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
