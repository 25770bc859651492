"""`dondoc plan parse FILE` and `dondoc plan submit FILE`: read a plan document as intake would, then publish it."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from services.cli.token import add_token_argument, authorization
from services.intake.documents.deadlines import DEFAULT_REPORTING_CHOICES
from shared.domain.calendar import DEFAULT_OVERRIDES
from shared.platform.settings import DEFAULT_DIRECTORY

_EPILOG = (
    "Ví dụ:\n"
    "  dondoc plan parse ke-hoach-85.docx            xem trước: ai được giao việc gì, hạn báo cáo nào\n"
    "  dondoc plan parse ke-hoach-85.txt --json      kết quả đầy đủ dạng JSON\n"
    "  dondoc plan submit ke-hoach-85.docx           đăng ký và gửi phân công tới các cơ quan\n"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = subparsers.add_parser(
        "plan",
        help="đọc và đăng ký kế hoạch từ tệp văn bản / read and register plan documents",
        description="Đọc tệp kế hoạch (.docx, .doc, PDF, ảnh quét, .txt hoặc .json), xem trước các phân công và "
        "hạn báo cáo, rồi đăng ký để hệ thống theo dõi, đôn đốc.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = plan.add_subparsers(dest="command", metavar="COMMAND")
    _register_parse(commands)

    submit = commands.add_parser(
        "submit",
        help="đăng ký kế hoạch và gửi phân công tới các cơ quan",
        description="Gửi tệp kế hoạch tới dịch vụ intake để đăng ký. Nếu kế hoạch nêu cơ quan chưa có trong "
        "danh bạ, kế hoạch bị từ chối và lệnh in ra các cụm từ đó; sửa rồi gửi lại, hoặc dùng "
        "--skip-unresolved để bỏ qua các cơ quan ấy.",
    )
    submit.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="tệp kế hoạch: .docx, .doc, PDF, ảnh quét (PNG, JPEG, TIFF), .txt hoặc .json",
    )
    submit.add_argument(
        "--url",
        default=os.environ.get("DONDOC_INTAKE_URL", "http://127.0.0.1:8001"),
        help="địa chỉ dịch vụ intake (mặc định %(default)s, hoặc biến DONDOC_INTAKE_URL)",
    )
    add_token_argument(submit)
    submit.add_argument(
        "--skip-unresolved",
        action="store_true",
        help="vẫn đăng ký khi có cơ quan chưa có trong danh bạ (các cơ quan đó không được giao)",
    )
    submit.add_argument(
        "--no-deadline-line",
        type=int,
        action="append",
        default=[],
        metavar="DÒNG",
        help="dòng có câu nói về thời hạn mà hệ thống chưa đọc được, đã kiểm tra và thấy không đặt thời hạn "
        "(lặp lại cho mỗi dòng); các cơ quan ở đó nhận hạn chung của kế hoạch hoặc hạn mặc định",
    )
    _add_entered(submit)
    submit.set_defaults(handler=run_submit)
    plan.set_defaults(handler=functools.partial(_usage, plan))


def _register_parse(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parse = commands.add_parser(
        "parse",
        help="xem trước kết quả đọc kế hoạch (không gửi gì đi)",
        description="Đọc tệp kế hoạch và in ra: số hiệu, ngày ban hành, cơ quan ban hành, các phân công "
        "(cơ quan, điều khoản, dòng trong tệp, nội dung), hạn báo cáo, nơi nhận, và những cụm từ chưa "
        "nhận ra được (kèm số dòng) để sửa văn bản hoặc bổ sung danh bạ. Không gửi gì đi.",
    )
    parse.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="tệp kế hoạch: .docx, .doc, PDF, ảnh quét, .txt (UTF-8/UTF-16) hoặc .json",
    )
    parse.add_argument(
        "--directory",
        type=Path,
        metavar="DIR.yaml",
        default=Path(os.environ.get("DIRECTORY_PATH", DEFAULT_DIRECTORY)),
        help="danh bạ cơ quan (mặc định: biến DIRECTORY_PATH hoặc danh bạ mẫu)",
    )
    parse.add_argument(
        "--default-reporting",
        choices=DEFAULT_REPORTING_CHOICES,
        default=os.environ.get("INTAKE_DEFAULT_REPORTING", "annual"),
        help="hạn báo cáo áp dụng khi kế hoạch không nêu hạn nào: annual (báo cáo năm), semiannual "
        "(thêm báo cáo 6 tháng), quarterly (hằng quý) hoặc none (không mặc định); "
        "mặc định: biến INTAKE_DEFAULT_REPORTING hoặc annual",
    )
    parse.add_argument(
        "--calendar",
        type=Path,
        metavar="OVERRIDES.yaml",
        default=Path(os.environ.get("CALENDAR_OVERRIDES_PATH", DEFAULT_OVERRIDES)),
        help="bảng ngày nghỉ, ngày làm bù trong năm, để tính hạn theo ngày làm việc "
        "(mặc định: biến CALENDAR_OVERRIDES_PATH hoặc bảng kèm theo)",
    )
    _add_entered(parse)
    parse.add_argument("--json", action="store_true", help="in toàn bộ kết quả dạng JSON (cho máy đọc)")
    parse.set_defaults(handler=run_parse)


def _add_entered(command: argparse.ArgumentParser) -> None:
    """What the clerk enters when the document lacks it (or OCR misread it); used and stored as entered."""
    command.add_argument(
        "--number", metavar="SỐ", help="số, ký hiệu kế hoạch (ví dụ 85-KH/ĐU) khi văn bản không ghi hoặc đọc sai"
    )
    command.add_argument(
        "--issued-on", metavar="NGÀY", help="ngày ban hành (ví dụ 10/01/2024) khi văn bản không ghi hoặc đọc sai"
    )
    command.add_argument(
        "--received-on",
        metavar="NGÀY",
        help="ngày nhận được kế hoạch (ví dụ 12/01/2024): thời hạn 'kể từ ngày nhận được' tính từ ngày này; "
        "không ghi thì tính từ ngày đăng ký",
    )


def _entered(args: argparse.Namespace) -> Any:
    """The clerk's entries as `Entered`, or None after saying which day is not one."""
    from services.intake.documents import Entered

    try:
        issued_on = Entered.day(args.issued_on, "Ngày ban hành (--issued-on)") if args.issued_on else None
        received_on = Entered.day(args.received_on, "Ngày nhận (--received-on)") if args.received_on else None
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return None
    return Entered(number=args.number, issued_on=issued_on, received_on=received_on)


def _usage(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    parser.print_help()
    return 2


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        sys.stderr.write(f"Không mở được tệp {path}: {exc.strerror}.\n")
        return None


def run_parse(args: argparse.Namespace) -> int:
    from services.intake.documents import DocumentError, parse_document
    from services.intake.documents.preview import preview
    from shared.domain.calendar import CalendarError, load_calendar, use_deployment_calendar
    from shared.domain.directory import Directory, DirectoryError
    from shared.domain.wording import Wording, wording_of

    data, entered = _read(args.file), _entered(args)
    if data is None or entered is None:
        return 1
    try:
        directory = Directory.load(args.directory)
        use_deployment_calendar(load_calendar(args.calendar))
    except DirectoryError as exc:
        said = wording_of(exc)  # the Vietnamese of a rule the directory breaks; a file's own error as it reads
        sys.stderr.write(f"Danh bạ cơ quan không dùng được: {said.vi if isinstance(said, Wording) else said}\n")
        return 1
    except CalendarError as exc:
        sys.stderr.write(f"Bảng ngày nghỉ, ngày làm bù không dùng được: {exc}\n")
        return 1
    try:
        document = parse_document(
            data, args.file.name, directory, date.today(), default_reporting=args.default_reporting, entered=entered
        )
    except DocumentError as exc:
        sys.stderr.write(f"{exc.message}\n")
        for problem in exc.problems:
            sys.stderr.write(f"  - {problem['where']}: {problem['problem']}\n")
        return 1
    result = preview(document, directory, date.today(), 100_000)
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(_summary(result))
    return 0 if result["ready"] else 3


def _note(deadline: dict[str, Any]) -> str:
    return f"\n      ({deadline['note']})" if deadline.get("note") else ""


def _summary(result: dict[str, Any]) -> str:
    if result["format"] == "json":
        lines = [f"Kế hoạch (JSON) số {result['submission']['number']}: {len(result['assignments'])} phân công."]
        lines += [f"  - {a['agency']}: {a['task'][:80]}" for a in result["assignments"]]
    else:

        def text(key: str) -> str:
            return (result.get(key) or {}).get("text", "?")

        issuer = result.get("issuer") or {}
        lines = [
            f"Số: {text('number')}    Ngày ban hành: {result.get('issued_on') or '?'}    Nơi: {text('place')}",
            f"Cơ quan ban hành: {issuer.get('text', '?')} → {issuer.get('code') or 'CHƯA XÁC ĐỊNH'}",
            f"Tiêu đề: {text('title')}",
            *([f"Văn thư nhập (không đọc từ văn bản): {_entries(result['entered'])}"] if result.get("entered") else []),
            "",
            f"Phân công ({len(result['assignments'])}):",
        ]
        for clause in result["clauses"]:
            codes = ", ".join(a["code"] for a in clause["agencies"]) or "—"
            lines.append(f"  [{clause['number'] or '-'}] {_where(result, clause['line'])}: {clause['body']} → {codes}")
        lines += ["", "Hạn báo cáo chung:" + (" (mặc định)" if result["default_deadlines_applied"] else "")]
        lines += [f"  {d['period']}: hạn cuối {d['due']} — {d['wording']}{_note(d)}" for d in result["deadlines"]]
        for clause in result["clauses"]:
            for d in clause["deadlines"]:
                lines.append(
                    f"  [{clause['number'] or '-'}] {d['period']}: hạn cuối {d['due']} — {d['wording']}{_note(d)}"
                )
        lines += _to_deliver(result)
        lines += ["", f"Nơi nhận (chỉ để biết, không giao việc): {len(result['recipients'])}"]
        lines += [f"  - {r['text']}" for r in result["recipients"]]
        if result["unresolved"]:
            lines += ["", "CHƯA NHẬN RA (sửa văn bản hoặc bổ sung danh bạ):"]
            lines += [f"  {_where(result, u['line'])}: {u['phrase']!r} — {u['reason']}" for u in result["unresolved"]]
    lines += _sources(result)
    if result["problems"]:
        lines += ["", "Chưa thể đăng ký:"] + [f"  - {p['where']}: {p['problem']}" for p in result["problems"]]
        unread = [str(u["line"]) for u in result.get("unresolved", []) if u["where"] == "deadline"]
        if unread:
            options = " ".join(f"--no-deadline-line {line}" for line in dict.fromkeys(unread))
            lines.append(f"  Nếu các câu đó không đặt thời hạn: dondoc plan submit FILE {options}")
    else:
        lines += ["", "Sẵn sàng đăng ký: dondoc plan submit FILE"]
    return "\n".join(lines) + "\n"


_ENTRY_NAMES = {"number": "số", "issued_on": "ngày ban hành", "received_on": "ngày nhận"}


def _entries(entered: dict[str, str]) -> str:
    return ", ".join(f"{_ENTRY_NAMES.get(key, key)} {value}" for key, value in entered.items())


def _where(result: dict[str, Any], line: int) -> str:
    """`dòng 31`, and for a PDF or a scan where that is on paper: `dòng 31 (trang 2, dòng 5)`."""
    pages, page_lines = result.get("pages") or [], result.get("page_lines") or []
    if 0 < line <= min(len(pages), len(page_lines)):
        return f"dòng {line} (trang {pages[line - 1]}, dòng {page_lines[line - 1]})"
    return f"dòng {line}"


def _to_deliver(result: dict[str, Any]) -> list[str]:
    """What the plan asks the bodies to deliver and where, each requirement once, with its line."""
    found: list[dict[str, Any]] = []
    for assignment in result.get("assignments", []):
        found += [d for d in assignment.get("deliverables_required") or [] if d not in found]
    lines = []
    for wanted in found:
        what = ", ".join(wanted.get("items") or []) or "báo cáo"
        place = wanted.get("provenance") or {}
        page = f"trang {place['page']}, " if place.get("page") else ""
        at = f" ({page}dòng {place['line']})" if place.get("line") else ""
        lines.append(f"  - {what} → {wanted.get('send_to') or 'không ghi nơi gửi'}{at}")
    return ["", "Sản phẩm cần gửi (theo văn bản):", *lines] if lines else []


def _sources(result: dict[str, Any]) -> list[str]:
    """Per body, which deadlines the plan's text sets and which are the deployment's default."""
    lines = []
    for body in result.get("deadline_sources", []):
        written = body["from_clause"] + body["from_plan"]
        text = ", ".join(written) or "—"
        default = f"; mặc định: {', '.join(body['from_default'])}" if body["from_default"] else ""
        lines.append(f"  {body['agency']} (dòng {body['line']}): theo văn bản: {text}{default}")
    return ["", "Hạn của từng cơ quan:", *lines] if lines else []


def run_submit(args: argparse.Namespace) -> int:
    data, entered = _read(args.file), _entered(args)
    if data is None or entered is None:
        return 1
    headers = authorization(args)
    if headers is None:
        return 2
    url = f"{args.url.rstrip('/')}/plans/document"
    try:
        response = httpx.post(
            url,
            files={"file": (args.file.name, data)},
            headers=headers,
            data={
                "skip_unresolved": "true" if args.skip_unresolved else "false",
                "no_deadline_lines": [str(line) for line in args.no_deadline_line],
                **entered.given(),
            },
            timeout=60,
        )
    except httpx.HTTPError as exc:
        sys.stderr.write(f"Không kết nối được tới {args.url}: {exc}. Dịch vụ intake đã chạy chưa?\n")
        return 1
    media = response.headers.get("content-type", "")
    body = response.json() if media.startswith(("application/json", "application/problem+json")) else {}
    if response.status_code not in (200, 201):
        sys.stderr.write(f"Không đăng ký được ({response.status_code}): {body.get('detail', response.text)}\n")
        for problem in body.get("problems") or []:  # a document's problems (docs/integration.md, errors)
            sys.stderr.write(f"  - {problem['where']}: {problem['problem']}\n")
        return 1
    sys.stdout.write(_outcome(body))
    for skipped in body.get("skipped", []):
        sys.stdout.write(f"  bỏ qua dòng {skipped['line']}: {skipped['phrase']!r}\n")
    return 0


def _outcome(body: dict[str, Any]) -> str:
    """What the submission did, in the clerk's words: registered, unchanged, or amended (and how)."""
    plan = body["plan_id"]
    if body.get("status") == "unchanged":
        return f"Kế hoạch {plan} đã được đăng ký trước đây và không thay đổi: không gửi thêm gì.\n"
    if body.get("status") == "amended":
        return (
            f"Đã cập nhật kế hoạch {plan} theo bản sửa đổi: {len(body.get('created', []))} phân công mới, "
            f"{len(body.get('cancelled', []))} phân công hủy, {len(body.get('deadlines_changed', []))} thời hạn "
            f"thay đổi, {len(body.get('tasks_changed', []))} nhiệm vụ sửa nội dung, "
            f"{len(body.get('deliverables_changed', []))} phân công sửa sản phẩm cần gửi"
            + (f", {len(body['places_changed'])} nhiệm vụ chuyển mục, khoản" if body.get("places_changed") else "")
            + ".\n"
        )
    return f"Đã đăng ký kế hoạch {plan}: {len(body['assignments'])} phân công đã gửi đi.\n"
