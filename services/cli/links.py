"""`dondoc links revoke --agency CODE | --all`: revoke personal links (and the sessions opened with them) at
tracking. The agencies can ask for a new link from the page an old link opens; it goes to their registered
address."""

from __future__ import annotations

import argparse
import os
import sys

from services.cli.http import Refused, call
from services.cli.token import add_token_argument

SERVICE = "Tracking"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    links = subparsers.add_parser("links", help="đường dẫn riêng của các cơ quan (gửi kèm thư)")
    commands = links.add_subparsers(dest="command", metavar="COMMAND")
    revoke = commands.add_parser(
        "revoke",
        help="thu hồi đường dẫn riêng của một cơ quan hoặc của tất cả",
        description="Thu hồi các đường dẫn riêng đã gửi cho một cơ quan (--agency) hoặc cho mọi cơ quan (--all), "
        "cùng các phiên đăng nhập đã mở bằng chúng. Ai mở đường dẫn đã thu hồi sẽ được báo và có thể xin đường "
        "dẫn mới; đường dẫn mới chỉ gửi đến địa chỉ thư đã đăng ký của cơ quan.",
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--agency", help="mã cơ quan, ví dụ ubnd")
    which.add_argument("--all", action="store_true", help="thu hồi đường dẫn của mọi cơ quan")
    revoke.add_argument(
        "--url",
        default=os.environ.get("DONDOC_TRACKING_URL", "http://127.0.0.1:8002"),
        help="địa chỉ dịch vụ tracking (mặc định %(default)s)",
    )
    add_token_argument(revoke)
    revoke.set_defaults(handler=run_revoke)


def run_revoke(args: argparse.Namespace) -> int:
    params = {"all": "true"} if args.all else {"agency": args.agency}
    try:
        body = call(args, SERVICE, "DELETE", "/links", params=params)
    except Refused as refused:
        return refused.exit_code
    whose = "mọi cơ quan" if args.all else f"cơ quan {args.agency}"
    sys.stdout.write(f"Đã thu hồi {body['revoked']} đường dẫn của {whose} cùng các phiên đã mở bằng chúng.\n")
    return 0
