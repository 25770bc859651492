"""`dondoc dlq list|show|replay|purge`: the dead-letter queues, for operators."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta

from shared.contracts.topology import AGENCIES_DEAD_LETTER_KEY, AGENCIES_DEAD_LETTER_QUEUE, SERVICE_QUEUES
from shared.platform import dead_letters

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: write a number and a unit, e.g. 30m, 6h, 2d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = subparsers.add_parser("dlq", help="dead-letter queues: list, show, replay, purge")
    commands = dlq.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        parser.add_argument(
            "--queue",
            choices=[*sorted(SERVICE_QUEUES), AGENCIES_DEAD_LETTER_KEY],
            action="append",
            help="the consuming service whose dead letters to use (default: every service's); "
            f"{AGENCIES_DEAD_LETTER_KEY}: what the agencies' queues dead-lettered",
        )
        parser.add_argument("--reason", help="only dead letters whose reason contains this text")
        parser.add_argument("--older-than", type=duration, help="only dead letters older than this (30m, 6h, 2d)")
        parser.add_argument("--id", dest="ids", action="append", help="only this message id (repeatable)")
        parser.add_argument("--limit", type=int, default=1000, help="look at most at this many per queue")
        parser.add_argument("--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
        return parser

    command("list", "list dead letters with their reason and age").set_defaults(handler=run_list)
    show = command("show", "show dead letters in full (headers and body)")
    show.set_defaults(handler=run_show)
    replay = command("replay", "publish dead letters again through the normal path (consumers are idempotent)")
    replay.add_argument("--yes", action="store_true", help="do it (without --yes only a count is printed)")
    replay.set_defaults(handler=run_replay)
    purge = command("purge", "delete dead letters for good")
    purge.add_argument("--yes", action="store_true", help="do it (without --yes only a count is printed)")
    purge.set_defaults(handler=run_purge)


def _selector(args: argparse.Namespace) -> dead_letters.Selector:
    now = datetime.now(UTC)

    def select(letter: dead_letters.DeadLetter) -> bool:
        if args.reason and args.reason.lower() not in letter.reason.lower():
            return False
        if args.ids and letter.id not in args.ids:
            return False
        if args.older_than:
            age = letter.age_seconds(now)
            return age is not None and age >= args.older_than.total_seconds()
        return True

    return select


def _queues(args: argparse.Namespace) -> list[str]:
    # The agencies' dead-letter queue exists only once an agency was provisioned: asked for, never by default.
    names = args.queue or sorted(SERVICE_QUEUES)
    return [
        AGENCIES_DEAD_LETTER_QUEUE if name == AGENCIES_DEAD_LETTER_KEY else SERVICE_QUEUES[name].dead_letter_queue
        for name in names
    ]


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def run_list(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    total = 0
    for queue in _queues(args):
        letters = asyncio.run(dead_letters.list_dead_letters(args.amqp_url, queue, _selector(args), args.limit))
        for letter in letters:
            age = letter.age_seconds(now)
            age_text = f"{age / 60:.0f}m" if age is not None else "?"
            _out(f"{queue}\t{letter.id}\t{age_text}\t{letter.routing_key}\t{letter.reason[:160]}")
        total += len(letters)
    _out(f"{total} dead letter(s)")
    return 0


def run_show(args: argparse.Namespace) -> int:
    for queue in _queues(args):
        for letter in asyncio.run(dead_letters.list_dead_letters(args.amqp_url, queue, _selector(args), args.limit)):
            headers = {k: str(v) for k, v in letter.headers.items()}
            _out(
                json.dumps(
                    {
                        "queue": queue,
                        "id": letter.id,
                        "routing_key": letter.routing_key,
                        "reason": letter.reason,
                        "error_class": letter.error_class,
                        "headers": headers,
                        "body": letter.body.decode("utf-8", "replace"),
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
    return 0


def _act(args: argparse.Namespace, verb: str) -> int:
    select = _selector(args)
    done = 0
    for queue in _queues(args):
        if not args.yes:
            done += len(asyncio.run(dead_letters.list_dead_letters(args.amqp_url, queue, select, args.limit)))
            continue
        action = dead_letters.replay if verb == "replay" else dead_letters.purge
        done += asyncio.run(action(args.amqp_url, queue, select, args.limit))
    past = {"replay": "replayed", "purge": "purged"}[verb]
    if not args.yes:
        _out(f"{done} dead letter(s) would be {past}; add --yes to do it")
    else:
        _out(f"{done} dead letter(s) {past}")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    return _act(args, "replay")


def run_purge(args: argparse.Namespace) -> int:
    return _act(args, "purge")
