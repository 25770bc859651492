"""Talking to a service from the command line: the caller's token, one request, and a clear message in
Vietnamese when the service cannot be reached or refuses."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import httpx

from services.cli.token import authorization


class Refused(Exception):
    """The request did not succeed; the user has been told why. `exit_code` is what the command returns."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def call(
    args: argparse.Namespace, service: str, method: str, path: str, timeout: float = 60, **kwargs: Any
) -> dict[str, Any]:
    """`method path` on the service at `args.url` with the caller's token; its JSON answer, or `Refused`."""
    headers = authorization(args)
    if headers is None:
        raise Refused(2)
    headers |= kwargs.pop("headers", {})
    try:
        response = httpx.request(method, f"{args.url.rstrip('/')}{path}", headers=headers, timeout=timeout, **kwargs)
    except httpx.HTTPError as exc:
        sys.stderr.write(f"Không kết nối được tới {args.url}: {exc}\n")
        raise Refused(1) from exc
    if response.status_code not in (200, 201):
        is_json = "json" in response.headers.get("content-type", "")
        detail = response.json().get("detail", response.text) if is_json else response.text
        sys.stderr.write(f"{service} từ chối ({response.status_code}): {detail}\n")
        raise Refused(1)
    body: dict[str, Any] = response.json()
    return body
