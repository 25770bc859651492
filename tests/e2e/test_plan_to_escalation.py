"""End to end: the three services as separate processes, a plan for four agencies with a deadline a
few seconds away; each agency gets its assignment notice (with a personal link tracking issued); two
acknowledge, one reports; after the deadline exactly the agencies without a report get one notice each;
restarting the notifier sends nothing again."""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

from deploy.local.infra import Processes, free_port, http_ready, wait_until
from tests.conftest import random_ref

SERVICES = ("intake", "tracking", "notifier")
# The plan, four acknowledgements, a report and a preview all happen before it: 8 s was too tight on a busy machine.
DEADLINE_SECONDS = 15
SCAN_SECONDS = 0.3
# A service SIGKILLed inside a transaction leaves it open on the database server until the server reaps it, 60 s
# after its last statement (mongod's transactionLifetimeLimitSeconds; the stand-in's too): what the transaction
# wrote waits for that long, so a crash run may take that much longer.
TRANSACTION_LIFETIME_SECONDS = 60
OPERATOR = {"Authorization": "Bearer e2e-operator-token"}


@pytest.fixture
def stack(own_vhost: str, mongo_url: str, mail_folder, tmp_path: Path):
    folder, smtp_port = mail_folder
    ports = {name: free_port() for name in SERVICES}
    env = {
        "AMQP_URL": own_vhost,
        "MONGO_URL": mongo_url,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "TRACKING_OPERATOR_TOKEN": OPERATOR["Authorization"].removeprefix("Bearer "),
        "NOTIFIER_SCAN_INTERVAL_SECONDS": str(SCAN_SECONDS),
        # The test runs at any hour of any day: no working-hours window, or a night run would wait for 07:30.
        "NOTIFIER_SENDING_WINDOW": "always",
        # A service SIGKILLed holding claims (outbox rows, periods, e-mails) has them taken over once its lease
        # runs out: short leases, so the crash tests wait seconds, not the production minutes.
        "INTAKE_OUTBOX_LEASE_SECONDS": "2",
        "TRACKING_OUTBOX_LEASE_SECONDS": "2",
        "NOTIFIER_OUTBOX_LEASE_SECONDS": "2",
        "NOTIFIER_SCAN_LEASE_SECONDS": "2",
        "NOTIFIER_MAIL_LEASE_SECONDS": "5",
        # An e-mail whose links tracking could not issue (tracking SIGKILLed) is retried after seconds, not 30 s.
        "NOTIFIER_MAIL_RETRY_BASE_SECONDS": "1",
    }
    run = random_ref()
    for name, port in ports.items():
        env[f"{name.upper()}_HTTP_PORT"] = str(port)
        env[f"{name.upper()}_MONGO_DATABASE"] = f"dondoc_e2e_{name}_{run}"
    # Intake and the notifier ask tracking who a token belongs to: the operator's token works everywhere.
    env["AUTH_URL"] = f"http://127.0.0.1:{ports['tracking']}"
    # The notifier asks tracking for each e-mail's personal links with the same token.
    env["NOTIFIER_TRACKING_URL"] = env["AUTH_URL"]
    env["NOTIFIER_TRACKING_TOKEN"] = env["TRACKING_OPERATOR_TOKEN"]
    processes = Processes()

    def start(name: str) -> None:
        processes.start(name, [sys.executable, "-m", f"services.{name}"], tmp_path / f"{name}.log", env)
        wait_until(
            lambda: (processes.check_alive(), http_ready(f"http://127.0.0.1:{ports[name]}/readyz"))[1],
            60,
            f"{name} ready (log {tmp_path / f'{name}.log'})",
        )

    for name in SERVICES:
        start(name)
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    yield urls, folder, start, processes
    processes.stop()


def read_mail(folder: Path) -> list[EmailMessage]:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]  # type: ignore[misc]


def plain_text(message: EmailMessage) -> str:
    """The plain-text part (the e-mails are multipart/alternative: plain text and HTML)."""
    part = message.get_body(("plain",))
    assert part is not None, "no plain-text part"
    return str(part.get_content())


NOTICE_SUBJECT = "[Đôn đốc] Thông báo giao nhiệm vụ"


def is_notice(message: EmailMessage) -> bool:
    """The assignment notice (the first step of the acknowledgement ladder), as opposed to the deadline's e-mails."""
    return str(message["Subject"]).startswith(NOTICE_SUBJECT)


def deadline_mail(folder: Path) -> list[EmailMessage]:
    return [m for m in read_mail(folder) if not is_notice(m)]


def last_scan(notifier: str) -> float:
    for line in httpx.get(f"{notifier}/metrics", timeout=5).text.splitlines():
        if line.startswith("dondoc_notifier_last_scan_timestamp_seconds "):
            return float(line.split()[1])
    return 0.0


AGENCY_NAMES = {
    "tuyen-giao@hoa-an.example": "Ban Tuyên giáo Đảng ủy phường",
    "mttq@hoa-an.example": "Ủy ban Mặt trận Tổ quốc Việt Nam phường",
    "chi-bo-khu-1@hoa-an.example": "Chi bộ khu dân cư số 1",
}
# What an undisturbed run ends with, and so must a run in which one service was SIGKILLed and started again:
# an assignment notice to each of the four agencies (before any acts: they act from it); then one e-mail to each
# agency without a report and one digest to their supervisor; the plan's four states.
AGENCY_ADDRESSES = {
    "ubnd": "ubnd@hoa-an.example",
    "tuyen-giao": "tuyen-giao@hoa-an.example",
    "mttq": "mttq@hoa-an.example",
    "chi-bo-khu-1": "chi-bo-khu-1@hoa-an.example",
}
EXPECTED_NOTICES = {address: 1 for address in AGENCY_ADDRESSES.values()}
EXPECTED_EMAILS = {address: 1 for address in [*AGENCY_NAMES, "thuong-truc@hoa-an.example"]}
EXPECTED_TOTALS = {"overdue": 3, "done_on_time": 1, "done_late": 0, "open": 0}
# And what tracking recorded of each assignment, in order: no event lost, none twice (the first escalation.sent
# of each is its assignment notice).
EXPECTED_HISTORIES = {
    "ubnd": ["assignment.created", "escalation.sent", "assignment.acknowledged", "report.submitted"],
    "tuyen-giao": ["assignment.created", "escalation.sent", "assignment.acknowledged", "escalation.sent"],
    "mttq": ["assignment.created", "escalation.sent", "escalation.sent"],
    "chi-bo-khu-1": ["assignment.created", "escalation.sent", "escalation.sent"],
}


@dataclass
class Run:
    number: str
    plan_id: str
    assignments: dict[str, str]
    messages: list[EmailMessage]  # the deadline's e-mails (the assignment notices apart)
    emails: dict[str, int]  # distinct e-mails (by Message-ID) per recipient address
    copies: int  # e-mails received, duplicates included
    notices: dict[str, int]  # distinct assignment notices per recipient address
    links: dict[str, str]  # per agency: the exchange of the personal link its notice carried (agency, scope)
    totals: dict[str, int]
    histories: dict[str, list[str]]  # per agency: the event types tracking recorded, in order


def run_plan(stack, crash: str | None = None) -> Run:  # type: ignore[no-untyped-def]
    """The plan of four agencies, a deadline seconds away; two acknowledge, one reports. With `crash`, that
    service is SIGKILLed at its busiest moment and started again: intake and tracking right after the plan
    is accepted (intake's relay publishing, tracking recording), the notifier just after the deadline (scanning
    and sending)."""
    urls, mail, start, processes = stack

    def crash_and_restart(name: str) -> None:
        processes.kill(name)
        start(name)

    number = f"{random_ref('e')}-KH/ĐU"
    due = datetime.now(UTC) + timedelta(seconds=DEADLINE_SECONDS)
    plan = {
        "issuer": "Đảng ủy phường",
        "number": number,
        "title": "Kế hoạch tổng kết công tác dân vận năm 2026",
        "assignments": [
            {"agency": "UBND phường", "task": "Tổng hợp số liệu."},
            {"agency": "Ban Tuyên giáo", "task": "Viết báo cáo chuyên đề."},
            {"agency": "UBMTTQ phường", "task": "Lấy ý kiến nhân dân."},
            {"agency": "Chi bộ khu dân cư số 1", "task": "Báo cáo kết quả ở khu dân cư."},
        ],
        "deadlines": [{"period": "2026-DEMO", "due": due.isoformat(), "wording": f"gửi trong {DEADLINE_SECONDS} giây"}],
    }
    response = httpx.post(f"{urls['intake']}/plans", json=plan, headers=OPERATOR, timeout=30)
    assert response.status_code == 201, response.text
    if crash in ("intake", "tracking"):
        crash_and_restart(crash)
    body = response.json()
    assignments = {a["agency"]: a["assignment_id"] for a in body["assignments"]}
    assert set(assignments) == {"ubnd", "tuyen-giao", "mttq", "chi-bo-khu-1"}
    tracking = urls["tracking"]
    recovery = TRANSACTION_LIFETIME_SECONDS if crash else 0
    # The agencies act from their assignment notices: wait for the four.
    wait_until(
        lambda: len({m["To"].addresses[0].addr_spec for m in read_mail(mail) if is_notice(m)}) >= 4,
        30 + recovery,
        "the assignment notices",
    )

    tokens = {}
    for agency in ("ubnd", "tuyen-giao"):
        issued = httpx.post(f"{tracking}/tokens", json={"subject": agency, "role": "agency"}, headers=OPERATOR)
        tokens[agency] = {"Authorization": f"Bearer {issued.json()['token']}"}
        path = f"{tracking}/assignments/{assignments[agency]}"
        wait_until(
            lambda path=path: httpx.get(path, headers=OPERATOR, timeout=5).status_code == 200,
            20 + recovery,
            "tracking to record it",
        )
        ack = httpx.post(f"{path}/acknowledge", headers=tokens[agency], timeout=10)
        assert ack.status_code == 200, ack.text
    report = httpx.post(
        f"{tracking}/assignments/{assignments['ubnd']}/reports",
        json={"period": "2026-DEMO"},
        headers=tokens["ubnd"],
        timeout=10,
    )
    assert report.status_code == 200 and report.json()["event"]["late_by_seconds"] == 0

    if crash is None:
        # Before the deadline, the preview already says who will be notified once it has passed.
        import subprocess

        preview = subprocess.run(
            [
                sys.executable,
                "-m",
                "services.cli",
                "escalations",
                "preview",
                "--url",
                urls["notifier"],
                "--token",
                OPERATOR["Authorization"].removeprefix("Bearer "),
                "--at",
                (due + timedelta(minutes=1)).isoformat(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert preview.returncode == 0, preview.stderr
        assert "4 thư sẽ được gửi" in preview.stdout and "ubnd@hoa-an.example" not in preview.stdout
        # A preview sends nothing: no deadline e-mail is dated before the deadline (on a busy machine the deadline
        # may already have passed by now, and then its e-mails rightly go out; the Date header counts whole seconds).
        early = [m for m in deadline_mail(mail) if m["Date"].datetime < due - timedelta(seconds=1)]
        assert early == [], [(str(m["Date"]), str(m["To"]), str(m["Subject"]), plain_text(m)[:600]) for m in early]
    if crash == "notifier":
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + SCAN_SECONDS)
        crash_and_restart("notifier")

    wait_until(
        lambda: len(deadline_mail(mail)) >= len(EXPECTED_EMAILS), DEADLINE_SECONDS + 30 + recovery, "the e-mails"
    )
    settle = time.time()
    wait_until(lambda: last_scan(urls["notifier"]) > settle + SCAN_SECONDS, 10, "two more scans")
    everything = read_mail(mail)
    messages = [m for m in everything if not is_notice(m)]
    distinct = {str(m["Message-ID"]): m["To"].addresses[0].addr_spec for m in messages}
    notices = {str(m["Message-ID"]): m for m in everything if is_notice(m)}
    status = httpx.get(f"{tracking}/plans/{body['plan_id']}/status", headers=OPERATOR, timeout=10).json()

    def read_histories() -> dict[str, list[str]]:
        return {
            agency: [
                e["event_type"]
                for e in httpx.get(
                    f"{tracking}/assignments/{assignment_id}/history", headers=OPERATOR, timeout=10
                ).json()["events"]
            ]
            for agency, assignment_id in assignments.items()
        }

    # The escalation.sent facts reach tracking through the notifier's outbox, which may trail the e-mails: a
    # restarted notifier sends the e-mails at once but takes the relay over only when its predecessor's lease
    # runs out. Read until tracking has them all, or for 15 s; the caller's assertion shows any difference.
    histories = read_histories()
    deadline = time.monotonic() + 15
    while histories != EXPECTED_HISTORIES and time.monotonic() < deadline:
        time.sleep(0.2)
        histories = read_histories()
    return Run(
        number,
        body["plan_id"],
        assignments,
        messages,
        dict(Counter(distinct.values())),
        len(messages),
        dict(Counter(m["To"].addresses[0].addr_spec for m in notices.values())),
        {m["To"].addresses[0].addr_spec: exchanged(tracking, m) for m in notices.values()},
        {k: status["totals"][k] for k in EXPECTED_TOTALS},
        histories,
    )


def exchanged(tracking: str, notice: EmailMessage) -> str:
    """Exchange the personal link a notice carries at tracking: `<agency> <scope>`, or the answer's status."""
    found = re.search(r"http://127\.0\.0\.1:8004/l/([A-Za-z0-9_-]+)", plain_text(notice))
    if found is None:
        return "no personal link"
    answer = httpx.post(f"{tracking}/links/exchange", json={"secret": found.group(1)}, timeout=10)
    return (
        f"{answer.json()['agency']} {answer.json()['scope']}" if answer.status_code == 200 else str(answer.status_code)
    )


def test_a_missed_deadline_reaches_exactly_the_agencies_that_did_not_report(stack) -> None:
    run = run_plan(stack)
    assert run.emails == EXPECTED_EMAILS and run.copies == len(EXPECTED_EMAILS)
    assert run.notices == EXPECTED_NOTICES
    assert run.links == {address: f"{agency} act" for agency, address in AGENCY_ADDRESSES.items()}
    # Recipients carry their directory display names ("Ban Tuyên giáo … <tuyen-giao@…>"): compare addresses.
    by_recipient = {m["To"].addresses[0].addr_spec: m for m in run.messages}
    for address, name in AGENCY_NAMES.items():
        text = plain_text(by_recipient[address])
        assert f"Kế hoạch số {run.number}" in text and name in text and "đã quá hạn" in text
        assert run.number in str(by_recipient[address]["Subject"])
    digest = plain_text(by_recipient["thuong-truc@hoa-an.example"])
    assert all(name in digest for name in AGENCY_NAMES.values())
    assert "Ủy ban nhân dân" not in digest
    # The supervisor's digest carries a read-only link to each late body's page.
    views = re.findall(r"http://127\.0\.0\.1:8004/l/([A-Za-z0-9_-]+)", digest)
    urls = stack[0]
    exchanged_views = [httpx.post(f"{urls['tracking']}/links/exchange", json={"secret": v}, timeout=10) for v in views]
    assert sorted((e.json()["agency"], e.json()["scope"], e.json()["view_of"]) for e in exchanged_views) == [
        ("thuong-truc", "view", code) for code in ("chi-bo-khu-1", "mttq", "tuyen-giao")
    ]
    assert run.totals == EXPECTED_TOTALS and run.histories == EXPECTED_HISTORIES

    urls, mail, start, processes = stack
    processes.stop("notifier")
    restarted = time.time()
    start("notifier")
    wait_until(lambda: last_scan(urls["notifier"]) > restarted + 2 * SCAN_SECONDS, 15, "scans after restart")
    assert len(list(mail.glob("*.eml"))) == 4 + 4, "the restarted notifier sent a notice again"


@pytest.mark.parametrize("crash", ["intake", "tracking", "notifier"])
def test_a_service_killed_mid_run_and_started_again_changes_nothing(stack, crash: str) -> None:
    run = run_plan(stack, crash)
    assert run.emails == EXPECTED_EMAILS and run.totals == EXPECTED_TOTALS and run.histories == EXPECTED_HISTORIES
    assert run.notices == EXPECTED_NOTICES
    # Only a notifier killed between the SMTP server's 250 and marking the row sent can send one e-mail twice
    # (the same Message-ID: the bound of fault scenario 8); nothing else may ever be doubled.
    assert run.copies - len(EXPECTED_EMAILS) <= (1 if crash == "notifier" else 0)


def test_a_real_prometheus_scrapes_the_business_metrics(stack, tmp_path: Path) -> None:
    """Prometheus (Debian's package) scrapes the three services; one business metric comes back
    through its HTTP API with the value the system produced."""
    import shutil

    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus; `make test-tools` does it)")
    urls, _, _, processes = stack
    targets = ", ".join(f"'{url.removeprefix('http://')}'" for url in urls.values())
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: dondoc\n"
        f"    static_configs: [{{targets: [{targets}]}}]\n",
        encoding="utf-8",
    )
    port = free_port()
    processes.start(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
    )
    plan = {
        "issuer": "Đảng ủy phường",
        "number": f"{random_ref('p')}-KH/ĐU",
        "title": "Kế hoạch đo đếm",
        "assignments": [
            {"agency": "UBND phường", "task": "Báo cáo."},
            {"agency": "Ban Tuyên giáo", "task": "Báo cáo."},
        ],
        "deadlines": [{"period": "2027-H1", "due": "2027-06-30"}],
    }
    assert httpx.post(f"{urls['intake']}/plans", json=plan, headers=OPERATOR, timeout=30).status_code == 201

    def assignments_created() -> float:
        try:
            response = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/query",
                params={"query": "sum(dondoc_assignments_created_total)"},
                timeout=5,
            )
        except httpx.HTTPError:
            return 0.0
        if response.status_code != 200:  # "Service Unavailable" (plain text) while Prometheus starts up
            return 0.0
        answer = response.json()
        result = answer.get("data", {}).get("result", [])
        return float(result[0]["value"][1]) if result else 0.0

    wait_until(lambda: assignments_created() >= 2, 60, "Prometheus to scrape dondoc_assignments_created_total")
    assert assignments_created() == 2
