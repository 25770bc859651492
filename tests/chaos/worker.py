"""A service as its own process, with a crash hook for the fault scenarios.

    python -m tests.chaos.worker tracking   the tracking consumer; with CHAOS_KILL_AFTER=N it SIGKILLs
                                            itself after the write that takes it past N new events, i.e.
                                            after the database write returned and before the broker ack
    python -m tests.chaos.worker intake     intake over HTTP; with CHAOS_KILL_AFTER=N it SIGKILLs itself
                                            after its outbox relay's N-th confirmed publish, mid-batch,
                                            before the rows are moved out of the outbox
    python -m tests.chaos.worker mailer     the notifier's Mailer alone (its real class, on NOTIFIER_*
                                            settings), polling every CHAOS_POLL_SECONDS; the test's SMTP
                                            server SIGKILLs it between its 250 and the row marked sent

CHAOS_RECORDS names a file the tracking worker appends `processed duplicate` counts to, written before
any kill, so the test can count deliveries the consumer recognised as duplicates across incarnations.
A short INTAKE_OUTBOX_LEASE_SECONDS (a service setting) lets a restarted relay take over sooner.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from shared.platform.deliveries import Outcome

KILL_AFTER = int(os.environ.get("CHAOS_KILL_AFTER", "0"))
RECORDS = os.environ.get("CHAOS_RECORDS", "")
_count = 0


def _die_if_due(new: int, may_die: bool = True) -> None:
    global _count
    _count += new
    if KILL_AFTER and _count >= KILL_AFTER and may_die:
        os.kill(os.getpid(), signal.SIGKILL)


def _record(outcomes: list[Outcome]) -> None:
    processed = sum(1 for o in outcomes if o is Outcome.PROCESSED)
    duplicate = sum(1 for o in outcomes if o is Outcome.DUPLICATE)
    if RECORDS:
        fd = os.open(RECORDS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{processed} {duplicate}\n".encode())
        finally:
            os.close(fd)
    # Never die on a write that also held redeliveries: the messages the last incarnation left unacked come
    # first, and killing on them every time would keep them unacked forever (each return counts toward the
    # queue's delivery limit on RabbitMQ before 4.3, until the broker dead-letters them).
    _die_if_due(processed, may_die=duplicate == 0)


def run_tracking() -> None:
    from services.tracking import main
    from services.tracking.config import Settings
    from shared.platform.logs import configure_logging

    class KillableRecorder(main.EventRecorder):
        async def __call__(self, message: Any) -> Outcome:
            outcome = await super().__call__(message)
            _record([outcome])
            return outcome

    class KillableBulk(main.AssignmentsInBulk):
        async def __call__(self, messages: list[Any]) -> list[Outcome]:
            outcomes = await super().__call__(messages)
            _record(outcomes)
            return outcomes

    main.EventRecorder = KillableRecorder  # type: ignore[misc]  # the chaos worker swaps in a recorder that can be killed
    main.AssignmentsInBulk = KillableBulk  # type: ignore[misc]  # the same, for the bulk path
    settings = Settings()
    configure_logging("tracking", "json", "warning")
    app = main.create_app(settings)

    async def serve() -> None:
        async with app.router.lifespan_context(app):
            print("ready", flush=True)  # noqa: T201 - the test waits for this line
            await asyncio.Event().wait()

    asyncio.run(serve())


def run_intake() -> None:
    from services.intake import main
    from services.intake.config import Settings
    from shared.platform import broker
    from shared.platform.http import run_service

    publish = broker.EventPublisher.publish_raw

    async def publish_then_maybe_die(self: broker.EventPublisher, **kwargs: Any) -> None:
        await publish(self, **kwargs)
        _die_if_due(1)

    broker.EventPublisher.publish_raw = publish_then_maybe_die  # type: ignore[method-assign]  # patched to die between the publish and its confirm
    run_service(main.SERVICE, Settings(), main.create_app)


def run_mailer() -> None:
    from services.notifier.config import Settings
    from services.notifier.mailer import Mailer
    from services.notifier.repository import NotifierRepository
    from shared.domain.clock import SystemClock
    from shared.platform.logs import configure_logging
    from shared.platform.mongo import make_client

    settings = Settings()
    configure_logging("notifier", "json", "warning")
    poll = float(os.environ.get("CHAOS_POLL_SECONDS", "0.1"))

    async def serve() -> None:
        client = make_client(settings.mongo_url)
        mailer = Mailer(NotifierRepository(client[settings.mongo_database]), settings, SystemClock())
        print("ready", flush=True)  # noqa: T201
        await mailer.run(poll_seconds=poll)

    asyncio.run(serve())


if __name__ == "__main__":
    {"tracking": run_tracking, "intake": run_intake, "mailer": run_mailer}[sys.argv[1]]()
