"""`dondoc directory export|import|republish`: the agency directory kept by intake, edited as a YAML file.

Export it, edit the file, import it: intake checks the whole directory, stores only the difference under a new
version and publishes it to the notifier. The version exported travels in the file, so an import made from an
old export is refused instead of undoing someone else's change."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from services.cli.http import Refused, call
from services.cli.token import add_token_argument

SERVICE = "Intake"
VERSION_KEY = "version"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    directory = subparsers.add_parser("directory", help="danh bạ cơ quan mà intake đang dùng (xem, sửa)")
    commands = directory.add_subparsers(dest="command", metavar="COMMAND")
    export = commands.add_parser(
        "export",
        help="ghi danh bạ hiện hành ra tệp YAML",
        description="Lấy danh bạ cơ quan hiện hành từ intake và ghi ra tệp YAML (hoặc màn hình), kèm số phiên bản. "
        "Sửa tệp rồi dùng `dondoc directory import` để áp dụng.",
    )
    export.add_argument("--out", type=Path, help="tệp YAML sẽ ghi (mặc định: in ra màn hình)")
    imported = commands.add_parser(
        "import",
        help="áp dụng một tệp danh bạ YAML đã sửa",
        description="Gửi cả danh bạ trong tệp cho intake. Intake kiểm tra toàn bộ (cơ quan cấp trên, thành viên "
        "nhóm, vòng lặp cấp trên), chỉ lưu và thông báo phần thay đổi. Nếu tệp được xuất từ một phiên bản cũ hơn "
        "phiên bản hiện hành, lệnh bị từ chối: hãy xuất lại và sửa lại. Không xóa được cơ quan đang được giao "
        "việc trong một kế hoạch đã đăng ký.",
    )
    imported.add_argument("file", type=Path, help="tệp YAML: agencies, groups (và version nếu xuất bằng export)")
    republish = commands.add_parser(
        "republish",
        help="gửi lại toàn bộ danh bạ cho notifier",
        description="Gửi lại cả danh bạ với một phiên bản mới, cho trường hợp bản sao của notifier bị mất "
        "hoặc được khôi phục từ bản sao lưu cũ.",
    )
    for parser, handler in ((export, run_export), (imported, run_import), (republish, run_republish)):
        parser.add_argument(
            "--url",
            default=os.environ.get("DONDOC_INTAKE_URL", "http://127.0.0.1:8001"),
            help="địa chỉ dịch vụ intake (mặc định %(default)s)",
        )
        add_token_argument(parser)
        parser.set_defaults(handler=handler)


def run_export(args: argparse.Namespace) -> int:
    try:
        body = call(args, SERVICE, "GET", "/directory")
    except Refused as refused:
        return refused.exit_code
    text = (
        f"# Danh bạ cơ quan, phiên bản {body[VERSION_KEY]}. Sửa rồi áp dụng bằng: dondoc directory import TỆP\n"
        + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
    )
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        sys.stderr.write(f"Đã ghi {len(body['agencies'])} cơ quan, {len(body['groups'])} nhóm vào {args.out}.\n")
    return 0


def run_import(args: argparse.Namespace) -> int:
    try:
        content = yaml.safe_load(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        sys.stderr.write(f"Không đọc được tệp {args.file}: {exc}\n")
        return 1
    if not isinstance(content, dict):
        sys.stderr.write(f"Tệp {args.file} không phải một danh bạ (cần các mục agencies và groups).\n")
        return 1
    version = content.pop(VERSION_KEY, None)
    headers = {"If-Match": str(version)} if version is not None else {}
    try:
        result = call(args, SERVICE, "PUT", "/directory", json=content, headers=headers)
    except Refused as refused:
        return refused.exit_code
    if not result["changed"]:
        sys.stdout.write(f"Không có thay đổi; danh bạ vẫn ở phiên bản {result[VERSION_KEY]}.\n")
        return 0
    sys.stdout.write(
        f"Đã áp dụng, danh bạ giờ ở phiên bản {result[VERSION_KEY]}: "
        f"{len(result['agencies_changed'])} cơ quan thêm/sửa, {len(result['agencies_removed'])} cơ quan bỏ, "
        f"{len(result['groups_changed'])} nhóm thêm/sửa, {len(result['groups_removed'])} nhóm bỏ.\n"
    )
    return 0


def run_republish(args: argparse.Namespace) -> int:
    try:
        result = call(args, SERVICE, "POST", "/directory/republish")
    except Refused as refused:
        return refused.exit_code
    sys.stdout.write(f"Đã gửi lại toàn bộ danh bạ (phiên bản {result[VERSION_KEY]}).\n")
    return 0
