"""`dondoc contracts generate|check`: the integration contracts as documents.

The AsyncAPI document (every channel of the three services, from FastStream) and the OpenAPI document
of each HTTP API are generated from the code into docs/contracts/ and committed; `check` (and a test)
fails when the code and the committed documents disagree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from faststream.specification.asyncapi import AsyncAPI

from services.cli.asyncapi_refine import refine

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "docs" / "contracts"


def _apps() -> dict[str, FastAPI]:
    """Build each service's app (nothing connects until its lifespan starts)."""
    from services.intake.config import Settings as IntakeSettings
    from services.intake.main import create_app as intake_app
    from services.notifier.config import Settings as NotifierSettings
    from services.notifier.main import create_app as notifier_app
    from services.tracking.config import Settings as TrackingSettings
    from services.tracking.main import create_app as tracking_app

    return {
        "intake": intake_app(IntakeSettings()),
        "tracking": tracking_app(TrackingSettings()),
        "notifier": notifier_app(NotifierSettings()),
    }


def _dump(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def render() -> dict[str, str]:
    """File name → content of every contract document."""
    apps = _apps()
    brokers = [app.state.runtime.broker for app in apps.values()]
    asyncapi = AsyncAPI(
        *brokers,
        title="dondoc events",
        version="1",
        description="Sự kiện và lệnh trao đổi qua RabbitMQ (exchange `dondoc.events`, khóa định tuyến "
        "`<entity>.<verb>.<agency-kind>.<agency-code>`). Events and commands exchanged over RabbitMQ.",
    )
    documents = {"asyncapi.json": _dump(refine(json.loads(asyncapi.to_specification().to_json())))}
    for name, app in apps.items():
        documents[f"openapi-{name}.json"] = _dump(app.openapi())
    return documents


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contracts = subparsers.add_parser("contracts", help="the AsyncAPI and OpenAPI documents in docs/contracts/")
    commands = contracts.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("generate", help="write the documents from the code").set_defaults(handler=run_generate)
    commands.add_parser("check", help="fail if the committed documents differ from the code").set_defaults(
        handler=run_check
    )


def stale_documents() -> list[str]:
    return [
        name
        for name, content in render().items()
        if not (CONTRACTS / name).exists() or (CONTRACTS / name).read_text(encoding="utf-8") != content
    ]


def run_generate(_: argparse.Namespace) -> int:
    CONTRACTS.mkdir(parents=True, exist_ok=True)
    for name, content in render().items():
        (CONTRACTS / name).write_text(content, encoding="utf-8")
        sys.stdout.write(f"wrote docs/contracts/{name}\n")
    return 0


def run_check(_: argparse.Namespace) -> int:
    stale = stale_documents()
    if stale:
        sys.stderr.write(f"out of date: {', '.join(stale)}; run `dondoc contracts generate` and commit\n")
        return 1
    sys.stdout.write("contracts are up to date\n")
    return 0
