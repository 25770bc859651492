"""Write docs/reliability.md from the summary lines of a `make chaos` run.

    python -m tests.chaos.report SUMMARY_FILE docs/reliability.md
    python -m tests.chaos.report SUMMARY_FILE docs/reliability.md --keep

With --keep (after running only some scenarios, `pytest -m chaos -k …`), the figures of the scenarios that
did not run are carried over from the document as it stands, and the document says from which run.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

SCENARIOS: dict[str, tuple[str, str]] = {
    "broker_restarts": (
        "1. Broker stopped three times and SIGKILLed once",
        "The test starts a RabbitMQ node of its own (own node name `chaos-…@localhost`, AMQP and distribution "
        "ports, data, log and config directories, Erlang cookie), runs tracking against it and publishes 20,000 "
        "`assignment.created` events at 600/s with publisher confirms. At 20, 40 and 60 % of the confirms it "
        "stops the node gracefully and starts it again; at 80 % it SIGKILLs the whole node (script, Erlang VM) "
        "and starts it again on the same data. The producer resends every message whose confirm did not come (same "
        "`event_id`); tracking's connection and consumer must recover by themselves.",
    ),
    "consumer_killed_before_ack": (
        "2. Consumer killed after its write and before its ack, 50 times",
        "6,000 events wait in tracking's queue. Tracking runs as its own process (100 messages in flight) with a "
        "hook that SIGKILLs it right after a database write of new events returned, before the broker ack, after a "
        "random number of new events; it is started again each time, 50 times, then once more without the hook. "
        "Every message that was written but not acked comes back and must be recognised as a duplicate "
        "(`redelivered`, counted by the consumer in a record file that survives the kills). RabbitMQ before 4.3 "
        "counts each crash as a delivery of every message in flight; with the old delivery limit of 5 and 1,000 in "
        "flight this scenario dead-lettered 1,000 good messages, hence the limit of 20 (README, Messages).",
    ),
    "duplicate_deliveries": (
        "3. Every message delivered two to five times",
        "3,000 events, each published two to five times with the same `event_id`, shuffled. Stored must be "
        "3,000 rows, and the consumer's `duplicate` outcome (`dondoc_messages_consumed_total`) must count "
        "exactly copies − 3,000.",
    ),
    "poison_messages": (
        "4. 100 poison messages among 1,000 good ones",
        "Bodies that are not JSON (sent as `application/json`), bodies that break the `assignment.created` "
        "contract, and an unknown event type, shuffled among 1,000 valid events. Each poison message must be in "
        "`tracking.dead-letter` exactly once with its reason (read through `dondoc dlq`'s listing code); every "
        "valid one stored.",
    ),
    "database_killed": (
        "5. Database SIGKILLed and restarted mid-run",
        "A SecantusDB process owned by the test is SIGKILLed once a third of 5,000 events are stored, kept "
        "down 8 s, and started again on the same data and port. Tracking pauses its consumer instead of "
        "burning deliveries; nothing may be dead-lettered.",
    ),
    "proxy_latency_resets": (
        "6. TCP fault proxy: latency and connection resets",
        "Tracking and the producer reach the broker only through `tests/chaos/proxy.py`, which delays every "
        "chunk 0–20 ms and resets (RST) every open connection every 2–5 s, until all 5,000 events are stored.",
    ),
    "smtp_421_then_554": (
        "7. SMTP 421 for a while, then 250; and a permanent 554",
        "The notifier's real `Mailer` (`services/notifier/mailer.py`) sends e-mails queued in its `emails` "
        "collection through a real SMTP server (aiosmtpd, in the test process, over TCP): 300 deliverable ones, "
        "and 30 to other recipients, shuffled. The server answers the first 600 attempts with `421 4.3.2 Service "
        "not available, try later` and accepts (250) after that; the 30 other recipients get `554 5.7.1 Message "
        "rejected` on every attempt. Retries wait `mail_retry_base_seconds` = 0.05 s, doubling (30 s in "
        "production), with the default `mail_max_attempts` (8). Asserted: every deliverable e-mail received "
        "exactly once (by Message-ID) and its row `sent`; exactly the 30 rejected rows end `failed`, with code "
        "554 after a single attempt (a 5xx is never retried); the server answered exactly 600 × 421 and 30 × 554.",
    ),
    "mailer_killed_after_250": (
        "8. Notifier's mailer SIGKILLed between the server's 250 and marking the row sent, 20 times",
        "400 e-mails are queued. The `Mailer` runs as its own process (`python -m tests.chaos.worker mailer`: the "
        "real class on `NOTIFIER_*` settings, lease shortened to 1 s, batches of 10) against a real SMTP server in "
        "the test process. After a random number of accepted messages the server's DATA handler records the "
        "message, returns `250`, and on its event loop's next turn — the 250 already written, before the mailer "
        "can hear the reply to its QUIT, let alone mark the row — SIGKILLs the mailer. It is started again, 20 "
        "times, then once more without the kill until every row is `sent`. SMTP allows no better than "
        "at-least-once here: the row in flight is still claimed and not sent, so it is sent again when its lease "
        "runs out, with the same Message-ID (`<row id@dondoc>`) so a mail system can recognise the copy. "
        "**Bound: at most one duplicate per kill** — the one e-mail in flight. Asserted: lost = 0, "
        "duplicated ≤ kills, every copy explained by a kill that interrupted that very e-mail "
        "(`unexplained` = 0), every row `sent`. `landed` is how many kills fell between the 250 and the mark "
        "(the interrupted e-mail arrived again).",
    ),
    "outbox_relay_killed": (
        "9. Outbox relay killed mid-batch 10 times",
        "Intake runs as its own process; plans are POSTed to it, and a hook SIGKILLs it after a random number "
        "(1–40) of confirmed publishes of its outbox relay, before the rows are moved to `outbox_published`; "
        "it is started again each time (lease shortened to 1 s), 10 times, then once more without the hook. Every "
        "`assignment.created` row of intake's outbox must be in tracking's records exactly once.",
    ),
}

FOUND = [
    "- A body that is not JSON but is sent as `content-type: application/json` failed in FastStream's own decoding, "
    "before the ack policy: with manual acks the consumer then held it unacked forever — never dead-lettered, "
    "logged or counted, and each such message took a prefetch slot. The consumer now takes the body undecoded "
    "(`shared/platform/consumer.py`), so it meets `parse_event` and goes to the dead-letter queue with its reason "
    "(scenario 4).",
    "- Writes acknowledged with the driver's default write concern (w:1, not journaled) were lost when the database "
    "was SIGKILLed, after the consumer had acked their messages: 10 of 5,000 events in scenario 5. Clients now write "
    "with `w=majority, j=true` (`shared/platform/mongo.py`), so an acknowledged write is a durable one.",
]


def parse(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


def version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.splitlines()[-1] if out else "unknown"


def package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def machine() -> str:
    rabbit = version(["dpkg-query", "-W", "-f", "${Version}", "rabbitmq-server"])
    return (
        f"{platform.node()} — {platform.system()} {platform.release()}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; RabbitMQ {rabbit}; SecantusDB {package('secantusdb')}; "
        f"pymongo {package('pymongo')}; faststream {package('faststream')}; aio-pika {package('aio-pika')}"
    )


def number(key: str) -> str:
    return SCENARIOS.get(key, (key, ""))[0].split(".", 1)[0]


def carried_over(document: str, fresh: list[str]) -> tuple[list[str], str | None]:
    """The summary lines of scenarios not in `fresh`, from the document as it stands, and its "Last run"."""
    ran = {parse(line).get("scenario") for line in fresh}
    kept = [
        line.strip()
        for line in document.splitlines()
        if line.startswith("scenario=") and parse(line).get("scenario") not in ran
    ]
    # Figures the document itself had kept keep their own provenance, not that of the partial run in between.
    match = re.search(r"kept from the run before \((.*)\)\.$", document, re.MULTILINE) or re.search(
        r"^Last run: (.*?)\.?$", document, re.MULTILINE
    )
    return list(dict.fromkeys(kept)), (match.group(1) if match else None)


def render(lines: list[str], when: datetime, kept: list[str] | None = None, previous: str | None = None) -> str:
    order = list(SCENARIOS)
    every = sorted(
        [*lines, *(kept or [])],
        key=lambda line: (
            order.index(parse(line).get("scenario", "")) if parse(line).get("scenario") in order else len(order)
        ),
    )
    rows = [parse(line) for line in every]
    messages = [row for row in rows if "published" in row]
    mails = [row for row in rows if "queued" in row]
    out = [
        "# Reliability: what the fault tests do, and their last figures",
        "",
        "Written by `make chaos` (`tests/chaos/`, pytest marker `chaos`); do not edit by hand. A short version of "
        "the same scenarios runs in `make test` (`tests/integration/test_faults_short.py`).",
        "",
        "Counts come from the databases, not from logs: `published` distinct messages sent (for scenario 9: "
        "`assignment.created` rows in intake's outbox), `confirmed` distinct messages the broker confirmed (9: "
        "outbox rows moved to `outbox_published`), `stored` of those in tracking's `events` collection, "
        "`lost` confirmed but never stored, `duplicated` stored duplicates (more than one row per `event_id` or per "
        "`assignment_id`), `dead_lettered` messages in `tracking.dead-letter`. `redelivered` is the "
        "deliveries the consumer recognised as already applied — duplicate deliveries, harmless by design. "
        "Scenarios 1–6 and 9 assert lost = 0, duplicated = 0 and dead_lettered = the poison count.",
        "",
        "The e-mail scenarios (7, 8) count from the notifier's `emails` collection and from what a real SMTP "
        "server accepted: `queued` rows, `delivered` distinct Message-IDs the server accepted (250), `lost` rows "
        "that should have been delivered and never were, `duplicated` copies accepted beyond the first per "
        "Message-ID, `failed` rows that ended with status `failed`. Scenario 7 asserts lost = 0, duplicated = 0 "
        "and failed = exactly the 554 recipients; scenario 8 asserts lost = 0 and duplicated ≤ kills (at most one "
        "duplicate per kill: the e-mail in flight).",
        "",
        f"Last run: {when:%Y-%m-%d %H:%M} UTC on {machine()}.",
    ]
    if kept:
        fresh = ", ".join(sorted({number(parse(line).get("scenario", "?")) for line in lines}))
        older = ", ".join(sorted({number(parse(line).get("scenario", "?")) for line in kept}))
        out.append(
            f"That run was of scenario(s) {fresh} only; the figures of {older} are kept from the run before"
            + (f" ({previous})." if previous else ".")
        )
    out += [
        "",
        "| scenario | published | confirmed | stored | lost | duplicated | dead_lettered | redelivered | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in messages:
        title = SCENARIOS.get(row.get("scenario", ""), (row.get("scenario", "?"), ""))[0]
        out.append(
            f"| {title} | {row.get('published')} | {row.get('confirmed')} | {row.get('stored')} | {row.get('lost')} "
            f"| {row.get('duplicated')} | {row.get('dead_lettered')} | {row.get('redelivered', '-')} "
            f"| {row.get('seconds')} |"
        )
    if mails:
        out += [
            "",
            "| e-mail scenario | queued | delivered | lost | duplicated | failed | faults | seconds |",
            "|---|---:|---:|---:|---:|---:|---|---:|",
        ]
        for row in mails:
            title = SCENARIOS.get(row.get("scenario", ""), (row.get("scenario", "?"), ""))[0]
            if "kills" in row:
                faults = f"{row.get('kills')} kills, {row.get('landed', '?')} between 250 and the mark"
            else:
                faults = f"{row.get('refused_421', '?')} × 421, {row.get('rejected_554', '?')} × 554"
            out.append(
                f"| {title} | {row.get('queued')} | {row.get('delivered')} | {row.get('lost')} "
                f"| {row.get('duplicated')} | {row.get('failed')} | {faults} | {row.get('seconds')} |"
            )
    out += ["", "## Scenarios", ""]
    seen = {row.get("scenario") for row in rows}
    for key, (title, text) in SCENARIOS.items():
        out += [f"### {title}", "", text, ""]
        if key in seen:
            out += ["```", *[line for line in every if parse(line).get("scenario") == key], "```", ""]
        else:
            out += ["_Not in the last run._", ""]
    out += ["## What these tests found", "", *FOUND, ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    paths = [arg for arg in argv[1:] if not arg.startswith("--")]
    summary, target = Path(paths[0]), Path(paths[1])
    lines = [line.strip() for line in summary.read_text(encoding="utf-8").splitlines() if line.startswith("scenario=")]
    if not lines:
        print(f"no summary lines in {summary}", file=sys.stderr)  # noqa: T201
        return 1
    kept: list[str] = []
    previous = None
    if "--keep" in argv and target.exists():
        kept, previous = carried_over(target.read_text(encoding="utf-8"), lines)
    ran_at = datetime.fromtimestamp(summary.stat().st_mtime, UTC)
    target.write_text(render(lines, ran_at, kept, previous), encoding="utf-8")
    print(f"wrote {target} ({len(lines)} scenarios)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
