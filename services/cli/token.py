"""The caller's token for the commands that talk to a service over HTTP: `--token` or DONDOC_TOKEN.
One token (issued by tracking's `POST /tokens`) works with every service."""

from __future__ import annotations

import argparse
import os
import sys

from shared.platform.auth import Unauthenticated, bearer_token


def add_token_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token",
        default=os.environ.get("DONDOC_TOKEN"),
        help="token của người ban hành hoặc người vận hành (hoặc biến DONDOC_TOKEN)",
    )


def authorization(args: argparse.Namespace) -> dict[str, str] | None:
    """The Authorization header, or None after telling the user how to give the token."""
    if not args.token:
        sys.stderr.write("Thiếu token: đặt biến DONDOC_TOKEN hoặc dùng --token.\n")
        return None
    header = f"Bearer {args.token}"
    try:
        bearer_token(header)  # the services' own check: a token is printable ASCII (else it cannot even be sent)
    except Unauthenticated:
        sys.stderr.write(
            "Token không hợp lệ: token chỉ gồm chữ cái không dấu, chữ số và ký hiệu, không có khoảng trắng.\n"
        )
        return None
    return {"Authorization": header}
