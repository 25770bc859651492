"""Who would be notified about what at a given moment, with the silences then in force; nothing is written."""

from __future__ import annotations

from services.notifier.records import EmailRow
from services.notifier.rules.links import IssuedLink, LinkRequest, fill
from services.notifier.use_cases.commands import Preview, PreviewEscalations, Suppressed
from services.notifier.use_cases.errors import MomentWithoutOffset
from services.notifier.use_cases.ports import Store
from services.notifier.use_cases.scan import EscalationScan
from shared.domain.clock import Clock, as_utc


async def preview(command: PreviewEscalations, store: Store, scan: EscalationScan, clock: Clock) -> Preview:
    if command.at is not None and command.at.tzinfo is None:
        raise MomentWithoutOffset("`at` needs its UTC offset, e.g. 2026-07-01T08:00:00+07:00")
    moment = as_utc(command.at) if command.at is not None else clock.now()
    run = await scan.plan(await store.due_periods(moment, command.limit), moment)
    return Preview(
        at=moment,
        emails=[_unlinked(email) for email in run.emails],
        suppressed=[Suppressed(m.notice.key, m.silence.id, m.silence.ends_at) for d in run.decisions for m in d.muted],
        deferred_to_window=[d.period["_id"] for d in run.decisions if d.outside_window],
    )


PREVIEWED_LINK = IssuedLink("(đường dẫn riêng, do tracking cấp khi gửi thư)", personal=True)


def _unlinked(email: EmailRow) -> EmailRow:
    """The e-mail as it will read, with a stand-in where each personal link will be (none is issued for a preview)."""
    requests = [(LinkRequest.from_row(row), PREVIEWED_LINK) for row in email.get("links") or []]
    text, page = fill(email.get("text", ""), email.get("html", ""), email.get("link_marker", ""), requests)
    return {**email, "text": text, "html": page}
