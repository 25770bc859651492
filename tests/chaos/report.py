"""Write docs/reliability.md from the summary lines of a `make chaos` run.

    python -m tests.chaos.report SUMMARY_FILE docs/reliability.md
"""

from __future__ import annotations

import os
import platform
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
        "3,000 events wait in tracking's queue. Tracking runs as its own process with a hook that SIGKILLs it "
        "right after a database write returned, before the broker ack, after a random number of new events; "
        "it is started again each time, 50 times, then once more without the hook. Every message that was "
        "written but not acked comes back and must be recognised as a duplicate (`redelivered`, counted by the "
        "consumer in a record file that survives the kills).",
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
    "outbox_relay_killed": (
        "9. Outbox relay killed mid-batch 10 times",
        "Intake runs as its own process; plans are POSTed to it, and a hook SIGKILLs it after a random number "
        "(1–40) of confirmed publishes of its outbox relay, before the rows are marked published; it is started "
        "again each time (lease shortened to 1 s), 10 times, then once more without the hook. Every "
        "`assignment.created` row of intake's outbox must be in tracking's records exactly once.",
    ),
}

NOT_RUN = (
    "7 and 8 (SMTP 421 then 250, a permanent 554; the notifier killed between the server's 250 and marking the "
    "row sent) are not here yet: the notifier's SMTP failure handling is being changed in parallel, and these "
    "two scenarios belong with that work."
)


FOUND = [
    "- A body that is not JSON but is sent as `content-type: application/json` failed in FastStream's own decoding, "
    "before the ack policy: with manual acks the consumer then held it unacked forever — never dead-lettered, "
    "logged or counted, and each such message took a prefetch slot. The consumer now takes the body undecoded "
    "(`shared/consumer.py`), so it meets `parse_event` and goes to the dead-letter queue with its reason (scenario 4).",
    "- Writes acknowledged with the driver's default write concern (w:1, not journaled) were lost when the database "
    "was SIGKILLed, after the consumer had acked their messages: 10 of 5,000 events in scenario 5. Clients now write "
    "with `w=majority, j=true` (`shared/mongo.py`), so an acknowledged write is a durable one.",
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


def render(lines: list[str], when: datetime) -> str:
    rows = [parse(line) for line in lines]
    out = [
        "# Reliability: what the fault tests do, and their last figures",
        "",
        "Written by `make chaos` (`tests/chaos/`, pytest marker `chaos`); do not edit by hand. A short version of "
        "the same scenarios runs in `make test` (`tests/integration/test_faults_short.py`).",
        "",
        "Counts come from the databases, not from logs: `published` distinct messages sent (for scenario 9: "
        "`assignment.created` rows in intake's outbox), `confirmed` distinct messages the broker confirmed (9: "
        "outbox rows marked published), `stored` of those in tracking's `events` collection, `lost` confirmed "
        "but never stored, `duplicated` stored duplicates (more than one row per `event_id` or per "
        "`assignment_id`), `dead_lettered` messages in `tracking.dead-letter`. `redelivered` is the "
        "deliveries the consumer recognised as already applied — duplicate deliveries, harmless by design. "
        "Every scenario asserts lost = 0, duplicated = 0 and dead_lettered = the poison count.",
        "",
        f"Last run: {when:%Y-%m-%d %H:%M} UTC on {machine()}.",
        "",
        "| scenario | published | confirmed | stored | lost | duplicated | dead_lettered | redelivered | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        title = SCENARIOS.get(row.get("scenario", ""), (row.get("scenario", "?"), ""))[0]
        out.append(
            f"| {title} | {row.get('published')} | {row.get('confirmed')} | {row.get('stored')} | {row.get('lost')} "
            f"| {row.get('duplicated')} | {row.get('dead_lettered')} | {row.get('redelivered', '-')} "
            f"| {row.get('seconds')} |"
        )
    out += ["", "## Scenarios", ""]
    seen = {row.get("scenario") for row in rows}
    for key, (title, text) in SCENARIOS.items():
        out += [f"### {title}", "", text, ""]
        if key in seen:
            out += ["```", *[line for line in lines if parse(line).get("scenario") == key], "```", ""]
        else:
            out += ["_Not in the last run._", ""]
    out += ["### 7 and 8", "", NOT_RUN, "", "## What these tests found", "", *FOUND, ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    summary, target = Path(argv[1]), Path(argv[2])
    lines = [line.strip() for line in summary.read_text(encoding="utf-8").splitlines() if line.startswith("scenario=")]
    if not lines:
        print(f"no summary lines in {summary}", file=sys.stderr)  # noqa: T201
        return 1
    ran_at = datetime.fromtimestamp(summary.stat().st_mtime, UTC)
    target.write_text(render(lines, ran_at), encoding="utf-8")
    print(f"wrote {target} ({len(lines)} scenarios)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
