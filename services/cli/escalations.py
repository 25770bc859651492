"""`dondoc escalations preview [--at WHEN]`: who would be notified, about what, at that moment.
`dondoc escalations reapply-ladder [--plan ID] [--agency CODE]`: give open periods the deployment's current ladder."""

from __future__ import annotations

import argparse
import os
import sys

from services.cli.http import Refused, call
from services.cli.token import add_token_argument

SERVICE = "Notifier"


def register(subparsers: argparse._SubParsersAction) -> None:
    escalations = subparsers.add_parser("escalations", help="the notifier's escalation ladder")
    commands = escalations.add_subparsers(dest="command", metavar="COMMAND")
    preview = commands.add_parser(
        "preview",
        help="xem trước ai sẽ nhận thông báo đôn đốc, về việc gì (không gửi gì cả)",
        description="Hỏi dịch vụ notifier: vào thời điểm --at (mặc định: bây giờ), những thư đôn đốc nào sẽ được "
        "gửi, cho ai, về những kỳ báo cáo nào; thư nào đang bị tạm dừng (silence) và thư nào chờ đến giờ gửi. "
        "Không gửi thư nào.",
    )
    preview.add_argument("--at", help="thời điểm, ví dụ 2026-07-01T08:00:00+07:00 (mặc định: bây giờ)")
    preview.add_argument(
        "--url",
        default=os.environ.get("DONDOC_NOTIFIER_URL", "http://127.0.0.1:8003"),
        help="địa chỉ dịch vụ notifier (mặc định %(default)s)",
    )
    add_token_argument(preview)
    preview.set_defaults(handler=run_preview)

    reapply = commands.add_parser(
        "reapply-ladder",
        help="áp dụng thang đôn đốc hiện hành của hệ thống cho các kỳ báo cáo đang mở",
        description="Mỗi kỳ báo cáo giữ thang đôn đốc có hiệu lực khi nó được mở. Lệnh này thay thang của các kỳ "
        "đang theo dõi (chưa nộp báo cáo hoặc chưa xác nhận, chưa hủy) bằng thang hiện hành mà dịch vụ notifier "
        "đang dùng (sửa tệp thang và khởi động lại notifier trước), rồi tính lại thời điểm nhắc tiếp theo. Bước "
        "nào đã gửi thì không gửi lại. Kỳ theo thang riêng của kế hoạch được giữ nguyên, trừ khi dùng "
        "--include-plan-overrides. Mỗi kỳ ghi lại ai đổi, lúc nào, từ phiên bản thang nào sang phiên bản nào.",
    )
    reapply.add_argument("--plan", help="chỉ các kỳ của kế hoạch có mã này (plan_id)")
    reapply.add_argument("--agency", help="chỉ các kỳ của cơ quan có mã này, ví dụ ubnd")
    reapply.add_argument(
        "--include-plan-overrides", action="store_true", help="thay cả thang riêng mà kế hoạch đã quy định"
    )
    reapply.add_argument("--reason", default="", help="lý do thay đổi, được ghi lại cùng thay đổi")
    reapply.add_argument(
        "--url",
        default=os.environ.get("DONDOC_NOTIFIER_URL", "http://127.0.0.1:8003"),
        help="địa chỉ dịch vụ notifier (mặc định %(default)s)",
    )
    add_token_argument(reapply)
    reapply.set_defaults(handler=run_reapply)


def run_preview(args: argparse.Namespace) -> int:
    params = {"at": args.at} if args.at else {}
    try:
        body = call(args, SERVICE, "GET", "/escalations/preview", params=params)
    except Refused as refused:
        return refused.exit_code
    out = sys.stdout
    out.write(f"Thời điểm: {body['at']}\n")
    for email in body["emails"]:
        out.write(f"\n→ {email['to_name']} <{email['to']}>: {email['subject']}\n")
        out.write(f"  {len(email['periods'])} kỳ báo cáo: {', '.join(email['periods'])}\n")
    out.write(
        f"\n{len(body['emails'])} thư sẽ được gửi; {len(body['suppressed'])} thông báo đang tạm dừng; "
        f"{len(body['deferred_to_window'])} chờ đến giờ gửi.\n"
    )
    return 0


def run_reapply(args: argparse.Namespace) -> int:
    body: dict[str, object] = {"include_plan_overrides": args.include_plan_overrides, "reason": args.reason}
    if args.plan:
        body["plan_id"] = args.plan
    if args.agency:
        body["agency"] = args.agency
    try:
        result = call(args, SERVICE, "POST", "/ladder/reapply", json=body, timeout=600)
    except Refused as refused:
        return refused.exit_code
    sys.stdout.write(
        f"Đã áp dụng thang đôn đốc phiên bản {result['ladder_version']} cho {result['changed']} kỳ "
        f"đang mở (mã thay đổi {result['change_id']}).\n"
    )
    if result["conflicts"]:
        sys.stdout.write(
            f"{result['conflicts']} kỳ thay đổi liên tục trong lúc áp dụng nên được giữ nguyên; hãy chạy lại lệnh.\n"
        )
    return 0
