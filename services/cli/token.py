"""The caller's token for the commands that talk to a service over HTTP: `--token` or DONDOC_TOKEN.
One token (issued by tracking's `POST /tokens`) works with every service."""

from __future__ import annotations

import argparse
import os
import sys


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
    return {"Authorization": f"Bearer {args.token}"}
