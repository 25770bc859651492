"""`make run`: the whole system on one machine, on its embedded defaults.

Starts what is missing (RabbitMQ locally, SecantusDB unless MONGO_URL answers, an SMTP sink that
writes .eml files), the three services, submits the sample plan with one deadline a few seconds away,
and prints where to look. Ctrl-C (or `make stop`) stops everything it started and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from deploy.local.infra import (
    DEFAULT_AMQP_URL,
    REPO,
    InfrastructureError,
    Processes,
    ensure_mongo,
    ensure_rabbitmq,
    http_ready,
    wait_until,
)

RUN_DIR = REPO / ".run"
PID_FILE = RUN_DIR / "pids"
SERVICES = {"intake": 8001, "tracking": 8002, "notifier": 8003, "web": 8004}
SMTP_PORT = 8025
DEMO_DEADLINE_SECONDS = 20


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def stop_recorded() -> int:
    """Stop the processes a previous `make run` recorded, and nothing else.

    The runner is asked first: it stops its children in order. Whatever it left is stopped here.
    """
    if not PID_FILE.exists():
        return 0
    lines = PID_FILE.read_text().splitlines()
    runner = next((int(line.split()[0]) for line in lines if line.endswith(" runner")), None)
    if runner is not None and runner != os.getpid():
        try:
            os.kill(runner, signal.SIGTERM)
            for _ in range(100):
                os.kill(runner, 0)
                time.sleep(0.2)
        except ProcessLookupError:
            say(f"stopped make run (pid {runner})")
            return 1
    if not PID_FILE.exists():
        return 1
    stopped = 0
    for line in reversed(PID_FILE.read_text().splitlines()):
        pid_text, _, name = line.partition(" ")
        if name == "runner":
            continue
        try:
            os.kill(int(pid_text), signal.SIGTERM)
            stopped += 1
            say(f"stopped {name} (pid {pid_text})")
        except (ProcessLookupError, ValueError):
            pass
    PID_FILE.unlink()
    return stopped


def submit_sample_plan(operator_token: str) -> dict[str, Any]:
    plan = json.loads((REPO / "deploy" / "local" / "sample-plan.json").read_text(encoding="utf-8"))
    now = datetime.now(UTC)
    # A new number each run (the plan number identifies a plan), and a deadline close enough to watch pass.
    plan["number"] = f"{now:%H%M%S}-KH/ĐU"
    # The sample's fixed deadlines may already be past on the day it runs: keep only those still ahead.
    plan["deadlines"] = [d for d in plan["deadlines"] if d["due"] >= now.date().isoformat()]
    plan["deadlines"].insert(
        0,
        {
            "period": f"{now.year}-DEMO",
            "due": (now + timedelta(seconds=DEMO_DEADLINE_SECONDS)).isoformat(),
            "wording": f"báo cáo nhanh, gửi trong {DEMO_DEADLINE_SECONDS} giây (thử nghiệm)",
        },
    )
    response = httpx.post(
        f"http://127.0.0.1:{SERVICES['intake']}/plans",
        json=plan,
        timeout=30,
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    result["number"] = plan["number"]
    result["demo_period"] = plan["deadlines"][0]["period"]
    return result


def act_as_agencies(plan: dict[str, Any], operator_token: str) -> None:
    """Two agencies acknowledge and one reports, so the e-mails go only to those that did not."""
    tracking = f"http://127.0.0.1:{SERVICES['tracking']}"
    operator = {"Authorization": f"Bearer {operator_token}"}
    assignments = plan["assignments"]

    def assignment_known(assignment_id: str) -> bool:
        return httpx.get(f"{tracking}/assignments/{assignment_id}", headers=operator, timeout=5).status_code == 200

    def token_for(agency: str) -> dict[str, str]:
        issued = httpx.post(
            f"{tracking}/tokens",
            json={"subject": agency, "role": "agency", "label": "make run"},
            headers=operator,
            timeout=10,
        )
        issued.raise_for_status()
        return {"Authorization": f"Bearer {issued.json()['token']}"}

    for item in assignments[:2]:
        wait_until(lambda item=item: assignment_known(item["assignment_id"]), 30, "tracking to record the plan")
        item["headers"] = token_for(item["agency"])
        httpx.post(
            f"{tracking}/assignments/{item['assignment_id']}/acknowledge", headers=item["headers"], timeout=10
        ).raise_for_status()
    first = assignments[0]
    httpx.post(
        f"{tracking}/assignments/{first['assignment_id']}/reports",
        json={"period": plan["demo_period"], "note": "Đã hoàn thành nội dung được giao."},
        headers=first["headers"],
        timeout=10,
    ).raise_for_status()


def run() -> int:
    if PID_FILE.exists():
        stop_recorded()
    RUN_DIR.mkdir(exist_ok=True)
    PID_FILE.write_text(f"{os.getpid()} runner\n")
    mail_dir = RUN_DIR / "mail"
    logs = RUN_DIR / "logs"
    processes = Processes(pid_file=PID_FILE)
    stopping = False

    def on_signal(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        amqp_url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
        say(f"RabbitMQ: {amqp_url.split('@')[-1]}")
        ensure_rabbitmq(amqp_url)
        mongo_url = ensure_mongo(processes, RUN_DIR / "mongo-data", logs / "secantusdb.log")
        say(f"MongoDB:  {mongo_url.split('@')[-1]}")
        python = sys.executable
        processes.start(
            "smtp-sink",
            [python, "-m", "deploy.local.smtp_sink", "--port", str(SMTP_PORT), "--dir", str(mail_dir)],
            logs / "smtp-sink.log",
        )
        operator_token = secrets.token_urlsafe(24)
        env = {
            "TRACKING_OPERATOR_TOKEN": operator_token,
            # Intake and the notifier ask tracking who a token belongs to.
            "AUTH_URL": f"http://127.0.0.1:{SERVICES['tracking']}",
            "AMQP_URL": amqp_url,
            "MONGO_URL": mongo_url,
            "LOG_FORMAT": "json",
            "NOTIFIER_SMTP_PORT": str(SMTP_PORT),
            # The demo deadline is seconds away at whatever hour `make run` starts: send outside working hours.
            "NOTIFIER_SENDING_WINDOW": os.environ.get("NOTIFIER_SENDING_WINDOW", "always"),
            # Personal links in the e-mails: the notifier asks tracking for them (POST /links) with this token.
            "NOTIFIER_TRACKING_URL": f"http://127.0.0.1:{SERVICES['tracking']}",
            "NOTIFIER_TRACKING_TOKEN": operator_token,
        }
        for name, port in SERVICES.items():
            env[f"{name.upper()}_HTTP_PORT"] = str(port)
        env["WEB_TRACKING_URL"] = f"http://127.0.0.1:{SERVICES['tracking']}"  # the portal acts through tracking
        for name in SERVICES:
            processes.start(name, [python, "-m", f"services.{name}"], logs / f"{name}.log", env)
        for name, port in SERVICES.items():
            wait_until(
                lambda port=port: (processes.check_alive(), http_ready(f"http://127.0.0.1:{port}/readyz"))[1],
                60,
                f"{name} to be ready (log: {logs / f'{name}.log'})",
            )
        plan = submit_sample_plan(operator_token)
        act_as_agencies(plan, operator_token)
        tracking = f"http://127.0.0.1:{SERVICES['tracking']}"
        say("")
        count = len(plan["assignments"])
        say(f"Sample plan {plan['number']} registered as {plan['plan_id']} with {count} assignments.")
        say(f"  operator token (this run only): {operator_token}")
        say(f"  status:   {tracking}/plans/{plan['plan_id']}/status   (Authorization: Bearer <operator token>)")
        say(f"  history:  {tracking}/assignments/{plan['assignments'][0]['assignment_id']}/history")
        for name, port in SERVICES.items():
            page = "/" if name == "web" else "/docs"  # the portal: agencies open it from the link in their e-mail
            say(f"  {name:9} http://127.0.0.1:{port}{page}   metrics: http://127.0.0.1:{port}/metrics")
        say(f"  e-mails:  {mail_dir}/*.eml   logs: {logs}/")
        say(f"The demo deadline passes in {DEMO_DEADLINE_SECONDS} s; escalation e-mails then appear in {mail_dir}.")
        say("Press Ctrl-C (or run `make stop`) to stop everything this started.")
        seen = len(list(mail_dir.glob("*.eml")))
        while not stopping:
            time.sleep(1)
            processes.check_alive()
            mails = sorted(mail_dir.glob("*.eml"))
            for path in mails[seen:]:
                say(f"  e-mail written: {path.name}")
            seen = len(mails)
    except KeyboardInterrupt:
        pass
    except (InfrastructureError, httpx.HTTPError) as exc:
        say(f"make run failed: {exc}")
        return 1
    finally:
        say("stopping …")
        processes.stop()
        PID_FILE.unlink(missing_ok=True)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run", "stop"], nargs="?", default="run")
    args = parser.parse_args()
    if args.command == "stop":
        say("nothing was running" if stop_recorded() == 0 else "stopped")
        return
    sys.exit(run())


if __name__ == "__main__":
    main()
