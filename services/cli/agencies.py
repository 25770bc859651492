"""`dondoc agencies provision|definitions`: broker users, permissions and queues for every agency in
the directory, applied live with rabbitmqctl or written as a definitions file for docker compose."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from services.cli.broker_admin import (
    SERVICES,
    BrokerAdminError,
    admin_user,
    agency_grant,
    definitions,
    rabbitmqctl,
    service_user,
)
from shared.contracts.topology import AGENCY_USER_PREFIX, EVENTS_EXCHANGE
from shared.domain.directory import Directory, DirectoryError
from shared.platform.broker import declare_agency_queues, declare_topology, make_broker
from shared.platform.settings import DEFAULT_DIRECTORY


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agencies = subparsers.add_parser("agencies", help="broker identities of the agencies in the directory")
    commands = agencies.add_subparsers(dest="command", metavar="COMMAND")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--directory",
            type=Path,
            default=Path(os.environ.get("DIRECTORY_PATH", DEFAULT_DIRECTORY)),
            help="the agency directory (YAML)",
        )
        parser.add_argument("--vhost", default="/", help="the RabbitMQ virtual host (default /)")
        parser.add_argument(
            "--user-prefix", default="", help="prefix of the services' and the administrator's broker users"
        )
        parser.add_argument(
            "--agency-prefix",
            default=AGENCY_USER_PREFIX,
            help=f"broker user of agency X is PREFIX+X (default {AGENCY_USER_PREFIX}; tracking's "
            "TRACKING_AGENCY_USER_PREFIX must be the same)",
        )

    provision = commands.add_parser(
        "provision",
        help="create or update users, permissions and queues on a running broker (idempotent)",
        description="Creates one broker user per agency (a new user's password is printed once), sets its "
        "permissions (configure nothing, write only to the events exchange with routing keys carrying its own "
        "code, read only its own queue agency.<code>) and declares its queue. Run it again after the "
        "directory changes; --rotate gives every user a new password.",
    )
    common(provision)
    provision.add_argument(
        "--amqp-url",
        default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        help="an administrator's AMQP URL for the same vhost, to declare the queues",
    )
    provision.add_argument("--rotate", action="store_true", help="give existing users a new password too")
    provision.set_defaults(handler=run_provision)

    write = commands.add_parser(
        "definitions",
        help="write a RabbitMQ definitions file (users, permissions, exchanges, queues, bindings)",
        description="Writes the definitions RabbitMQ imports at boot (docker compose mounts "
        "deploy/rabbitmq/definitions.json). Every agency gets a new random password, printed once here.",
    )
    common(write)
    write.add_argument("-o", "--output", type=Path, required=True)
    write.set_defaults(handler=run_definitions)


def _load(path: Path) -> Directory:
    try:
        return Directory.load(path)
    except DirectoryError as exc:
        raise SystemExit(f"dondoc: {exc}") from None


def _ctl(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return rabbitmqctl(*args)
    except BrokerAdminError as exc:
        raise SystemExit(f"dondoc: {exc}; `dondoc agencies definitions` writes a file instead") from None


def run_provision(args: argparse.Namespace) -> int:
    directory = _load(args.directory)
    existing = {row["user"] for row in json.loads(_ctl("list_users", "--formatter", "json").stdout or "[]")}
    codes = sorted(directory.agencies)
    for code in codes:
        grant = agency_grant(code, args.agency_prefix, directory.agencies[code].kind)
        if grant.user not in existing:
            password = secrets.token_hex(24)  # never starts with "-", which rabbitmqctl would read as an option
            _ctl("add_user", grant.user, password)
            sys.stdout.write(f"{code}\t{grant.user}\t{password}\t(new: keep it, it is not shown again)\n")
        elif args.rotate:
            password = secrets.token_hex(24)  # never starts with "-", which rabbitmqctl would read as an option
            _ctl("change_password", grant.user, password)
            sys.stdout.write(f"{code}\t{grant.user}\t{password}\t(rotated)\n")
        _ctl("set_permissions", "-p", args.vhost, grant.user, grant.configure, grant.write, grant.read)
        _ctl(
            "set_topic_permissions", "-p", args.vhost, grant.user, EVENTS_EXCHANGE, grant.topic_write, grant.topic_read
        )

    async def declare() -> None:
        broker = make_broker(args.amqp_url, "provision")
        await broker.connect()
        try:
            await declare_topology(broker)
            await declare_agency_queues(broker, codes)
        finally:
            await broker.stop()

    asyncio.run(declare())
    sys.stdout.write(f"{len(codes)} agencies provisioned on vhost {args.vhost}\n")
    return 0


def run_definitions(args: argparse.Namespace) -> int:
    directory = _load(args.directory)
    codes = sorted(directory.agencies)
    users = [
        admin_user(args.user_prefix),
        *(service_user(s, args.user_prefix) for s in SERVICES),
        *(agency_grant(code, args.agency_prefix).user for code in codes),
    ]
    passwords = {user: secrets.token_hex(24) for user in users}
    kinds = {code: directory.agencies[code].kind for code in codes}
    document = definitions(args.vhost, codes, passwords, args.user_prefix, args.agency_prefix, kinds)
    args.output.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for user, password in passwords.items():
        sys.stdout.write(f"{user}\t{password}\n")
    sys.stdout.write(
        f"wrote {args.output}: an administrator, {len(SERVICES)} service users and {len(codes)} agency users; "
        "passwords are shown only here (put the services' into .env: RABBITMQ_<SERVICE>_PASSWORD)\n"
    )
    return 0
