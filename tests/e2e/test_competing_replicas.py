"""End to end with replicas (issue #9): one intake, two tracking and two notifier processes on the same broker
queues and the same databases, competing for the work of a plan to a group of party cells whose deadline is
moved to a few seconds away. Each replica must do part of every burst, and together they must record every
assignment, open every period and send every notice exactly once (read from each replica's /metrics, the
databases and the SMTP server's folder). Then one replica of each is SIGKILLed in the middle of a second
plan's fan-out: the survivors finish it, still without a duplicate or a loss."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from benchmarks.stack import GROUP_NAME, cell_code, write_directory
from deploy.local.infra import REPO, Processes, free_port, http_ready, wait_until
from shared.contracts.events import EVENT_TYPES, AgencyEvent
from shared.contracts.topology import NOTIFIER_QUEUE, TRACKING_QUEUE
from tests.conftest import mongo_server, random_ref

CELLS = 100
REPORTERS = [cell_code(i) for i in range(1, CELLS // 5 + 1)]  # report before the deadline: never overdue
ACKNOWLEDGERS = [cell_code(i) for i in range(CELLS // 5 + 1, 2 * CELLS // 5 + 1)]  # acknowledge only: still overdue
OVERDUE = [cell_code(i) for i in range(CELLS // 5 + 1, CELLS + 1)]
SUPERVISOR = "dang-uy@bench.example"  # the cells' parent in the generated directory: copied on every overdue
PERIOD = "2026-DEMO"
DEADLINE_SECONDS = 3  # after the correction that moves the deadline
SCAN_SECONDS = 0.3
SETTLE_SECONDS = 300  # generous: on a loaded machine the stand-in database stalls for tens of seconds at times
# Small enough that neither replica can take a whole burst: a few messages in flight per consumer, a few
# periods per scan claim, a few e-mails per mail claim.
PREFETCH = 4
SCAN_BATCH = 5
MAIL_BATCH = 4
OPERATOR_TOKEN = "e2e-replicas-operator-token"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
REPLICATED = ("tracking", "notifier")


def far_deadline() -> str:
    return (datetime.now(UTC) + timedelta(days=180)).date().isoformat()


FINAL_OUTCOMES = ("processed", "duplicate", "ignored")


@dataclass
class Stack:
    urls: dict[str, str]  # process name -> base URL
    processes: Processes
    mongo: MongoClient[dict[str, Any]]
    databases: dict[str, str]  # service -> database name
    mail: Path

    def db(self, service: str) -> Any:
        return self.mongo[self.databases[service]]

    def replicas(self, service: str) -> list[str]:
        return [name for name in self.urls if name.startswith(f"{service}-")]


@pytest.fixture
def own_mongo_url(tmp_path: Path) -> Iterator[str]:
    """A database server of its own (unless MONGO_URL names a real one): the replicas SIGKILLed in the middle of
    their transactions can leave the single-process stand-in retrying write conflicts for minutes, and the
    session's server is shared by every test that follows."""
    with mongo_server(tmp_path / "secantus") as url:
        yield url


def ladder_without_notice(path: Path) -> Path:
    """A deployment may switch the assignment notice off by leaving its step out of the ladder."""
    lines = (REPO / "deploy" / "local" / "ladder.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if "ask: notice}" not in line), encoding="utf-8")
    return path


@pytest.fixture
def stack(own_vhost: str, own_mongo_url: str, mail_folder, tmp_path: Path) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    mongo_url = own_mongo_url
    folder, smtp_port = mail_folder
    amqp_url = own_vhost
    run = random_ref()
    names = ["tracking-1", "intake", "notifier-1", "tracking-2", "notifier-2"]
    ports: dict[str, int] = {}
    databases = {service: f"dondoc_e2e_{service}_{run}" for service in ("intake", *REPLICATED)}
    env = {
        "AMQP_URL": amqp_url,
        "MONGO_URL": mongo_url,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "DIRECTORY_PATH": str(write_directory(tmp_path / "directory.yaml", CELLS)),
        # The deployment's ladder without the assignment notice: this run counts the deadline's notices only.
        "NOTIFIER_LADDER_PATH": str(ladder_without_notice(tmp_path / "ladder.yaml")),
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_SENDING_WINDOW": "always",
        "NOTIFIER_SCAN_INTERVAL_SECONDS": str(SCAN_SECONDS),
        "TRACKING_PREFETCH": str(PREFETCH),
        "NOTIFIER_PREFETCH": str(PREFETCH),
        "NOTIFIER_SCAN_BATCH_SIZE": str(SCAN_BATCH),
        "NOTIFIER_MAIL_BATCH_SIZE": str(MAIL_BATCH),
        # Short leases: a SIGKILLed replica's claims (outbox leadership, periods, e-mails) are taken over in seconds.
        "INTAKE_OUTBOX_LEASE_SECONDS": "2",
        "TRACKING_OUTBOX_LEASE_SECONDS": "2",
        "NOTIFIER_OUTBOX_LEASE_SECONDS": "2",
        "NOTIFIER_SCAN_LEASE_SECONDS": "2",
        "NOTIFIER_MAIL_LEASE_SECONDS": "5",
        # Five interpreters import the same code: let the first write its bytecode for the others (an
        # environment with PYTHONDONTWRITEBYTECODE=1 and no compiled venv made each start take ~20 s of CPU).
        "PYTHONDONTWRITEBYTECODE": "",
    }
    for service, database in databases.items():
        env[f"{service.upper()}_MONGO_DATABASE"] = database
        env[f"{service.upper()}_OPERATOR_TOKEN"] = OPERATOR_TOKEN
    processes = Processes()
    # The driver's heartbeat waits connectTimeoutMS; at 20 s a busy stand-in does not get this client's reads
    # cancelled (shared/platform/mongo.py says why).
    mongo: MongoClient[dict[str, Any]] = MongoClient(
        mongo_url, connectTimeoutMS=20_000, serverSelectionTimeoutMS=30_000
    )

    def start(name: str, attempts: int = 3) -> None:
        """Start one process and wait until it is ready. A start that fails is tried again, as a deployment's
        restart policy would: on a loaded machine the stand-in can miss the driver's heartbeats while the first
        replica seeds the directory, and the driver then cancels the seed (the next start finishes it)."""
        service = name.split("-")[0]
        log = tmp_path / f"{name}.log"
        for attempt in range(1, attempts + 1):
            ports[name] = free_port()  # taken just before use: other test runs on this machine pick ports too
            processes.start(
                name,
                [sys.executable, "-m", f"services.{service}"],
                log,
                {**env, f"{service.upper()}_HTTP_PORT": str(ports[name])},
            )
            process = processes.started[-1][1]
            wait_until(
                lambda process=process: (
                    process.poll() is not None or http_ready(f"http://127.0.0.1:{ports[name]}/readyz")
                ),
                120,
                f"{name} ready (log {log})",
            )
            if process.poll() is None:
                return
            processes.stop(name)
            if attempt == attempts:
                raise AssertionError(f"{name} exited with code {process.returncode} {attempts} times; see {log}")

    try:
        # One at a time: the first replica of each service seeds its database (directory, operator token), and
        # two seeding at once can keep the single-threaded stand-in from answering the driver's heartbeats. The
        # second replica joins a database already set up, as a scaled-out deployment does.
        for name in names:
            start(name)
            if name == "tracking-1":  # intake and the notifiers ask the replica that is never killed about tokens
                env["AUTH_URL"] = f"http://127.0.0.1:{ports[name]}"
        yield Stack(
            {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, processes, mongo, databases, folder
        )
    finally:
        processes.stop()
        try:
            for database in databases.values():
                mongo.drop_database(database)
        except PyMongoError as exc:  # the session's stand-in goes with its folder; a database left is harmless
            sys.stderr.write(f"databases not dropped: {exc!r}\n")
        finally:
            mongo.close()


# --- reading the replicas' /metrics -------------------------------------------------------------------------


def samples(url: str, name: str) -> list[tuple[dict[str, str], float]]:
    text = call("GET", f"{url}/metrics").text
    return [
        (s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples if s.name == name
    ]


def consumed(url: str) -> Counter[tuple[str, str]]:
    """(event_type, outcome) -> messages this process took from its queue."""
    counts: Counter[tuple[str, str]] = Counter()
    for labels, value in samples(url, "dondoc_messages_consumed_total"):
        counts[labels["event_type"], labels["outcome"]] += int(value)
    return counts


def published(url: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for labels, value in samples(url, "dondoc_messages_published_total"):
        counts[labels["event_type"]] += int(value)
    return counts


def counter(url: str, name: str, **match: str) -> int:
    return int(sum(value for labels, value in samples(url, name) if match.items() <= labels.items()))


def topic_matches(pattern: str, key: str) -> bool:
    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


def routed_to(bindings: tuple[str, ...], event_type: str) -> bool:
    """Whether the queue with these bindings receives events of this type (from the topology, as declared)."""
    model = EVENT_TYPES.get(event_type)
    key = f"{event_type}.party_cell.x" if model is not None and issubclass(model, AgencyEvent) else event_type
    return any(topic_matches(binding, key) for binding in bindings)


def expected_deliveries(stack: Stack, bindings: tuple[str, ...]) -> Counter[str]:
    """What every process published with a broker confirm, of the event types this queue is bound to."""
    total: Counter[str] = Counter()
    for url in stack.urls.values():
        total.update({t: n for t, n in published(url).items() if routed_to(bindings, t)})
    return total


def finished(url: str) -> Counter[str]:
    """event_type -> messages this process finished with (processed, duplicate or ignored) and acked."""
    total: Counter[str] = Counter()
    for (event_type, outcome), n in consumed(url).items():
        if outcome in FINAL_OUTCOMES:
            total[event_type] += n
    return total


def finished_by(urls: list[str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for url in urls:
        total.update(finished(url))
    return total


# --- e-mail --------------------------------------------------------------------------------------------------


def read_mail(folder: Path) -> list[EmailMessage]:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]  # type: ignore[misc]


def in_parallel(work: Callable[[str], None], items: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, items))


def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP request, tried again on a 5xx or a dropped connection: on a loaded machine the stand-in
    database can miss the driver's server selection for a few seconds. Every write sent through here is
    idempotent (an Idempotency-Key, or a plan submitted again), so a retry never acts twice."""
    for attempt in range(5):
        try:
            response = httpx.request(method, url, timeout=60, **kwargs)
        except httpx.TransportError:
            if attempt == 4:
                raise
        else:
            if response.status_code < 500 or attempt == 4:
                return response
        time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def post_plan(stack: Stack, number: str, due: str, status: str = "registered") -> tuple[str, dict[str, str]]:
    plan = {
        "issuer": "Đảng ủy xã",
        "number": number,
        "title": "Kế hoạch kiểm tra nhiều bản sao",
        "assignments": [{"agency": GROUP_NAME, "task": "Báo cáo kết quả thực hiện."}],
        "deadlines": [{"period": PERIOD, "due": due, "wording": "gửi trước hạn"}],
    }
    response = call("POST", f"{stack.urls['intake']}/plans", json=plan, headers=OPERATOR)
    # A retried submission that had landed the first time is answered "unchanged".
    assert response.status_code in (200, 201) and response.json()["status"] in (status, "unchanged"), response.text
    body = response.json()
    assignments = {a["agency"]: a["assignment_id"] for a in body["assignments"]}
    assert len(assignments) == CELLS
    return body["plan_id"], assignments


def agencies_act(stack: Stack, assignments: dict[str, str]) -> None:
    """Reporters report and acknowledgers acknowledge over HTTP, alternating between the tracking replicas."""
    tracking = [stack.urls[name] for name in stack.replicas("tracking")]

    def act(code: str) -> None:
        index = int(code.rsplit("-", 1)[1])
        url = tracking[index % len(tracking)]
        issued = call("POST", f"{url}/tokens", json={"subject": code, "role": "agency"}, headers=OPERATOR)
        assert issued.status_code == 201, issued.text
        headers = {"Authorization": f"Bearer {issued.json()['token']}", "Idempotency-Key": f"e2e-{code}"}
        url = tracking[(index + 1) % len(tracking)]  # the token was stored by the other replica
        if code in REPORTERS:
            answer = call(
                "POST", f"{url}/assignments/{assignments[code]}/reports", json={"period": PERIOD}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["event"]["late_by_seconds"] == 0
        else:
            answer = call("POST", f"{url}/assignments/{assignments[code]}/acknowledge", headers=headers)
            assert answer.status_code == 200, answer.text

    in_parallel(act, REPORTERS + ACKNOWLEDGERS)


def test_replicas_share_the_work_and_nothing_is_done_twice(stack: Stack) -> None:
    """Three bursts for both pairs of replicas: the plan's assignments; the agencies' reports and acknowledgements;
    then the issuer corrects the plan, moving the deadline to a few seconds away (a `deadline.extended` per
    assignment). Moving it only once the reports are in keeps the test from racing a fixed deadline on a slow
    machine: a report that reached the notifier after the deadline would rightly have been chased."""
    tracking_db, notifier_db = stack.db("tracking"), stack.db("notifier")
    number = f"{random_ref('r')}-KH/ĐU"
    plan_id, assignments = post_plan(stack, number, far_deadline())
    ids = set(assignments.values())
    wait_until(
        lambda: tracking_db.assignments.count_documents({"plan_id": plan_id}) == CELLS,
        120,
        "tracking to record every assignment",
        interval=1,
    )
    agencies_act(stack, assignments)
    reported = {f"{assignments[code]}:{PERIOD}" for code in REPORTERS}
    wait_until(
        lambda: (
            notifier_db.periods.count_documents({"_id": {"$in": sorted(reported)}, "state": "submitted"})
            == len(reported)
        ),
        120,
        "the notifier to know of every report",
        interval=1,
    )

    due = datetime.now(UTC) + timedelta(seconds=DEADLINE_SECONDS)
    again, _ = post_plan(stack, number, due.isoformat(), status="amended")
    assert again == plan_id

    # After the deadline: every overdue cell gets one notice, its supervisor a copy, each e-mail is received, the
    # escalations come back to tracking's audit trail, and everything published is consumed. Polled gently: the
    # SMTP server runs in this process, and every poll costs the busy stand-in database too.
    def outcome() -> dict[str, int]:
        return {
            "notices": notifier_db.notices.count_documents({}),
            "emails unsent": notifier_db.emails.count_documents({"status": {"$ne": "sent"}}),
            "emails": notifier_db.emails.count_documents({}),
            "received": len(list(stack.mail.glob("*.eml"))),
            "escalations in tracking": tracking_db.events.count_documents(
                {"plan_id": plan_id, "event_type": "escalation.sent"}
            ),
        }

    def queues() -> dict[str, tuple[Counter[str], Counter[str]]]:
        """Per queue: what its replicas finished, and what was published to it."""
        return {
            service: (
                finished_by([stack.urls[name] for name in stack.replicas(service)]),
                expected_deliveries(stack, queue.bindings),
            )
            for service, queue in (("tracking", TRACKING_QUEUE), ("notifier", NOTIFIER_QUEUE))
        }

    waited = time.monotonic()
    while True:
        now = outcome()
        if (
            now["notices"] >= 2 * len(OVERDUE)
            and now["emails unsent"] == 0
            and now["received"] >= now["emails"]
            and now["escalations in tracking"] >= len(OVERDUE)
        ):
            balance = queues()
            if all(done == sent for done, sent in balance.values()):
                break
            now |= {"queues": balance}  # type: ignore[dict-item]
        assert time.monotonic() - waited < SETTLE_SECONDS, f"not settled after {SETTLE_SECONDS} s: {now}"
        time.sleep(1)
    print(f"settled {time.monotonic() - waited:.1f} s after the deadline was moved")
    time.sleep(2 * SCAN_SECONDS)  # a few more scans: a replica that would send something twice has done so now

    # Tracking: one record per cell, one creation per assignment in the audit trail.
    records = tracking_db.assignments.find({"plan_id": plan_id}, {"agency.code": 1, "state": 1}).to_list()
    assert len(records) == CELLS and {r["_id"] for r in records} == ids
    assert sorted(r["agency"]["code"] for r in records) == sorted(assignments)
    history = Counter(
        (e["assignment_id"], e["event_type"])
        for e in tracking_db.events.find({"plan_id": plan_id}, {"assignment_id": 1, "event_type": 1})
    )
    assert {a for (a, t) in history if t == "assignment.created"} == ids
    assert set(history.values()) == {1}, [k for k, n in history.items() if n > 1][:5]
    assert {a for (a, t) in history if t == "report.submitted"} == {assignments[c] for c in REPORTERS}
    assert {a for (a, t) in history if t == "assignment.acknowledged"} == {assignments[c] for c in ACKNOWLEDGERS}
    assert {a for (a, t) in history if t == "escalation.sent"} == {assignments[c] for c in OVERDUE}
    assert {a for (a, t) in history if t == "deadline.extended"} == ids
    assert tracking_db.events.count_documents({"plan_id": plan_id, "event_type": "plan.registered"}) == 1

    # The notifier: an acknowledgement window and one reporting period per assignment, nothing else.
    periods = {p["_id"]: p for p in notifier_db.periods.find({"plan_id": plan_id}, {"state": 1})}
    assert set(periods) == {f"{a}:{k}" for a in ids for k in ("ack", PERIOD)}
    assert {p for p, row in periods.items() if row["state"] == "submitted"} == reported
    notices = notifier_db.notices.find(
        {}, {"period_id": 1, "occurrence": 1, "address": 1, "email_id": 1, "step": 1}
    ).to_list()
    per_key = Counter((n["period_id"], n["occurrence"], n["address"]) for n in notices)
    assert set(per_key.values()) == {1}
    assert {n["step"] for n in notices} == {"overdue"}
    assert Counter(n["address"] for n in notices) == {
        **{f"{c}@bench.example": 1 for c in OVERDUE},
        SUPERVISOR: len(OVERDUE),
    }
    assert {n["period_id"] for n in notices} == {f"{assignments[c]}:{PERIOD}" for c in OVERDUE}

    # E-mail: what the SMTP server received is exactly the notifier's e-mail outbox, each message once.
    emails = {e["_id"]: e for e in notifier_db.emails.find({}, {"to": 1, "notice_keys": 1, "status": 1})}
    messages = read_mail(stack.mail)
    message_ids = Counter(str(m["Message-ID"]) for m in messages)
    assert len(messages) == len(emails) and set(message_ids.values()) == {1}
    assert {mid.strip("<>").split("@")[0] for mid in message_ids} == set(emails)
    assert {e["status"] for e in emails.values()} == {"sent"}
    in_emails = Counter(key for e in emails.values() for key in e["notice_keys"])
    assert set(in_emails.values()) == {1} and set(in_emails) == {n["_id"] for n in notices}
    received = Counter(m["To"].addresses[0].addr_spec for m in messages)
    assert {a: n for a, n in received.items() if a != SUPERVISOR} == {f"{c}@bench.example": 1 for c in OVERDUE}
    assert not {f"{c}@bench.example" for c in REPORTERS} & set(received)
    to_cells = [m for m in messages if m["To"].addresses[0].addr_spec != SUPERVISOR]
    assert all(f"Quá hạn báo cáo – Kế hoạch số {number}" in str(m["Subject"]) for m in to_cells)

    # Competition: each replica did part of every kind of work, and together exactly what was published.
    work = {}
    for name in stack.replicas("tracking") + stack.replicas("notifier"):
        url = stack.urls[name]
        done = finished(url)
        work[name] = {
            "created": done["assignment.created"],
            "moved": done["deadline.extended"],
            "dead_lettered": sum(n for (_, o), n in consumed(url).items() if o == "dead_lettered"),
        }
        if name.startswith("notifier"):
            work[name] |= {
                "notices": counter(url, "dondoc_notices_total", result="queued"),
                "sent": counter(url, "dondoc_emails_sent_total", result="sent"),
            }
    print(f"work per replica: {work}")
    for name, done in work.items():
        assert done["dead_lettered"] == 0, name
        assert done["created"] > 0 and done["moved"] > 0, f"{name} took no share of a burst: {work}"
        if name.startswith("notifier"):
            assert done["notices"] > 0 and done["sent"] > 0, f"{name} scanned or sent nothing: {work}"
    # Publishing is at least once (an outbox row published but not marked goes again), so a queue may carry an
    # event twice; its replicas took every copy (checked while settling) and the databases above hold each once.
    for service in REPLICATED:
        assert sum(work[name]["created"] for name in stack.replicas(service)) >= CELLS, work
        assert sum(work[name]["moved"] for name in stack.replicas(service)) >= CELLS, work
    # At most what was done: a write the stand-in committed while the driver saw it cancelled (a missed heartbeat
    # on a loaded machine) is not counted, but nothing may be counted twice (the outbox and SMTP checks are exact).
    assert 0 < sum(work[name]["notices"] for name in stack.replicas("notifier")) <= len(notices), work
    assert 0 < sum(work[name]["sent"] for name in stack.replicas("notifier")) <= len(messages), work

    second_plan_survives_a_replica_of_each_killed_mid_fan_out(stack, len(messages))


def second_plan_survives_a_replica_of_each_killed_mid_fan_out(stack: Stack, emails_before: int) -> None:
    tracking_db, notifier_db = stack.db("tracking"), stack.db("notifier")
    plan_id, assignments = post_plan(stack, f"{random_ref('k')}-KH/ĐU", far_deadline())
    wait_until(
        lambda: (
            tracking_db.assignments.count_documents({"plan_id": plan_id}) > 0
            and notifier_db.periods.count_documents({"plan_id": plan_id}) > 0
        ),
        30,
        "the fan-out to start",
        interval=0.02,
    )
    recorded = tracking_db.assignments.count_documents({"plan_id": plan_id})
    opened = notifier_db.periods.count_documents({"plan_id": plan_id})
    for name in ("tracking-2", "notifier-2"):
        stack.processes.kill(name)
        del stack.urls[name]
    print(f"killed mid fan-out: tracking had {recorded}/{CELLS} assignments, the notifier {opened}/{2 * CELLS} periods")
    assert recorded < CELLS or opened < 2 * CELLS, "the fan-out was over before the kill: nothing was tested"

    # The messages the killed replicas held unacknowledged go back to the queue and the survivors take them.
    # Records first, then the audit rows that mark their events processed: wait for both.
    wait_until(
        lambda: (
            tracking_db.assignments.count_documents({"plan_id": plan_id}) == CELLS
            and tracking_db.events.count_documents({"plan_id": plan_id, "event_type": "assignment.created"}) >= CELLS
            and notifier_db.periods.count_documents({"plan_id": plan_id}) == 2 * CELLS
            and notifier_db.processed_events.count_documents({"event_type": "assignment.created"}) >= 2 * CELLS
        ),
        120,
        "the survivors to finish the fan-out",
        interval=1,
    )
    ids = set(assignments.values())
    created = Counter(
        e["assignment_id"]
        for e in tracking_db.events.find({"plan_id": plan_id, "event_type": "assignment.created"}, {"assignment_id": 1})
    )
    assert set(created) == ids and set(created.values()) == {1}
    records = tracking_db.assignments.find({"plan_id": plan_id}, {"agency.code": 1}).to_list()
    assert sorted(r["agency"]["code"] for r in records) == sorted(assignments)
    periods = {p["_id"] for p in notifier_db.periods.find({"plan_id": plan_id}, {"_id": 1})}
    assert periods == {f"{a}:{k}" for a in ids for k in ("ack", PERIOD)}
    # A far deadline: nothing more to send, and nothing sent again by the survivors.
    time.sleep(3 * SCAN_SECONDS)
    assert len(list(stack.mail.glob("*.eml"))) == emails_before == notifier_db.emails.count_documents({})
