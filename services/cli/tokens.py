"""`dondoc tokens issue | rotate | revoke`: an operator manages API tokens at tracking (docs/security.md, "API
tokens: expiry and rotation"). The caller's own token is `services.cli.token`."""

from __future__ import annotations

import argparse
import os
import sys

from services.cli.http import Refused, call
from services.cli.token import add_token_argument


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = subparsers.add_parser("tokens", help="token truy cập API (cấp, thay, thu hồi)")
    commands = tokens.add_subparsers(dest="command", metavar="COMMAND")
    issue = commands.add_parser(
        "issue",
        help="cấp token mới cho một cơ quan, người ban hành hoặc người vận hành",
        description="Cấp token mới. Token chỉ hiện một lần; mặc định hết hạn sau một năm (TRACKING_TOKEN_TTL_DAYS).",
    )
    issue.add_argument("--subject", required=True, help="mã cơ quan (hoặc tên người vận hành), ví dụ ubnd-xa")
    issue.add_argument("--role", required=True, choices=["agency", "issuer", "operator", "viewer"], help="vai trò")
    issue.add_argument("--label", default="", help="ghi chú, ví dụ tên máy chủ dùng token")
    _expiry_argument(issue)
    rotate = commands.add_parser(
        "rotate",
        help="thay token: cấp token kế tiếp, token cũ còn dùng được thêm một thời gian",
        description="Cấp token kế tiếp của một token còn hiệu lực. Token cũ vẫn dùng được trong --overlap-hours giờ "
        "(để kịp thay ở máy dùng nó), rồi hết hạn.",
    )
    rotate.add_argument("token_id", help="mã token cần thay (token_id)")
    rotate.add_argument("--overlap-hours", type=float, default=24, help="số giờ token cũ còn dùng được (mặc định 24)")
    _expiry_argument(rotate)
    revoke = commands.add_parser("revoke", help="thu hồi token ngay lập tức")
    revoke.add_argument("token_id", help="mã token cần thu hồi (token_id)")
    for command, handler in ((issue, run_issue), (rotate, run_rotate), (revoke, run_revoke)):
        command.add_argument(
            "--url",
            default=os.environ.get("DONDOC_TRACKING_URL", "http://127.0.0.1:8002"),
            help="địa chỉ dịch vụ tracking (mặc định %(default)s)",
        )
        add_token_argument(command)
        command.set_defaults(handler=handler)


def _expiry_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--expires-at",
        help="thời điểm token hết hạn, ISO 8601 có múi giờ, ví dụ 2027-12-31T17:00:00Z (mặc định: sau một năm)",
    )


def _expiry(args: argparse.Namespace) -> dict[str, str]:
    return {"expires_at": args.expires_at} if args.expires_at else {}


def _print_issued(body: dict[str, object]) -> None:
    sys.stdout.write(
        f"Token mới (chỉ hiện một lần, hãy lưu lại ngay): {body['token']}\n"
        f"Mã token: {body['token_id']} — {body['subject']} ({body['role']}), hết hạn lúc {body['expires_at']}\n"
    )


def run_issue(args: argparse.Namespace) -> int:
    payload = {"subject": args.subject, "role": args.role, "label": args.label, **_expiry(args)}
    try:
        body = call(args, "Tracking", "POST", "/tokens", json=payload)
    except Refused as refused:
        return refused.exit_code
    _print_issued(body)
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    payload = {"overlap_hours": args.overlap_hours, **_expiry(args)}
    try:
        body = call(args, "Tracking", "POST", f"/tokens/{args.token_id}/rotate", json=payload)
    except Refused as refused:
        return refused.exit_code
    _print_issued(body)
    old = body["rotated_from"]
    sys.stdout.write(f"Token cũ {old['token_id']} còn dùng được đến {old['expires_at']}; hãy thay trước lúc đó.\n")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    try:
        call(args, "Tracking", "DELETE", f"/tokens/{args.token_id}")
    except Refused as refused:
        return refused.exit_code
    sys.stdout.write(f"Đã thu hồi token {args.token_id}.\n")
    return 0
