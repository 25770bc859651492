"""`dondoc report export PLAN`: a plan's status as the office reports it (.xlsx or .csv). The file is written as
tracking made it (`services/tracking/export.py`), which keeps formula-like texts as text (no CSV injection)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import httpx

from services.cli.token import add_token_argument, authorization


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = subparsers.add_parser("report", help="báo cáo tình hình thực hiện / plan status reports")
    commands = report.add_subparsers(dest="command", metavar="COMMAND")
    export = commands.add_parser(
        "export",
        help="xuất tình hình thực hiện một kế hoạch ra .xlsx hoặc .csv",
        description="Xuất bảng tình hình thực hiện kế hoạch: mỗi cơ quan một dòng, mỗi kỳ báo cáo một cột, "
        "tổng hợp bốn trạng thái ở cuối bảng. Cần token của người ban hành hoặc người vận hành "
        "(biến môi trường DONDOC_TOKEN hoặc --token).",
    )
    export.add_argument("plan_id", metavar="PLAN", help="mã kế hoạch (plan_id) do hệ thống cấp")
    export.add_argument("--format", choices=["xlsx", "csv"], default="xlsx", help="định dạng tệp (mặc định xlsx)")
    export.add_argument("-o", "--output", type=Path, help="tệp ghi ra (mặc định PLAN.xlsx / PLAN.csv)")
    export.add_argument(
        "--url",
        default=os.environ.get("DONDOC_TRACKING_URL", "http://127.0.0.1:8002"),
        help="địa chỉ dịch vụ tracking (mặc định %(default)s)",
    )
    add_token_argument(export)
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    headers = authorization(args)
    if headers is None:
        return 2
    url = f"{args.url.rstrip('/')}/plans/{args.plan_id}/status.{args.format}"
    try:
        response = httpx.get(url, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        sys.stderr.write(f"Không kết nối được tới {args.url}: {exc}\n")
        return 1
    if response.status_code != 200:
        detail = response.json().get("detail", response.text) if response.content else response.reason_phrase
        sys.stderr.write(f"Không xuất được báo cáo ({response.status_code}): {detail}\n")
        return 1
    output = args.output or Path(f"{args.plan_id}.{args.format}")
    output.write_bytes(response.content)
    sys.stdout.write(f"Đã ghi {output} ({len(response.content)} byte).\n")
    return 0
