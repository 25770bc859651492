"""`dondoc escalations preview [--at WHEN]`: who would be notified, about what, at that moment."""

from __future__ import annotations

import argparse
import os
import sys

import httpx

from services.cli.token import add_token_argument, authorization


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    preview.add_argument("--url", default=os.environ.get("DONDOC_NOTIFIER_URL", "http://127.0.0.1:8003"),
                         help="địa chỉ dịch vụ notifier (mặc định %(default)s)")
    add_token_argument(preview)
    preview.set_defaults(handler=run_preview)


def run_preview(args: argparse.Namespace) -> int:
    headers = authorization(args)
    if headers is None:
        return 2
    params = {"at": args.at} if args.at else {}
    try:
        response = httpx.get(f"{args.url.rstrip('/')}/escalations/preview", params=params, headers=headers,
                             timeout=60)
    except httpx.HTTPError as exc:
        sys.stderr.write(f"Không kết nối được tới {args.url}: {exc}\n")
        return 1
    if response.status_code != 200:
        sys.stderr.write(f"Notifier trả lời {response.status_code}: {response.text}\n")
        return 1
    body = response.json()
    out = sys.stdout
    out.write(f"Thời điểm: {body['at']}\n")
    for email in body["emails"]:
        out.write(f"\n→ {email['to_name']} <{email['to']}>: {email['subject']}\n")
        out.write(f"  {len(email['periods'])} kỳ báo cáo: {', '.join(email['periods'])}\n")
    out.write(f"\n{len(body['emails'])} thư sẽ được gửi; {len(body['suppressed'])} thông báo đang tạm dừng; "
              f"{len(body['deferred_to_window'])} chờ đến giờ gửi.\n")
    return 0
