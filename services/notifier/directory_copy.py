"""The notifier's copy of the agency directory: seeded from the deployment's file on the first start, then
kept up to date from intake's `directory.updated` events, so escalations reach the people the directory
names now (a new e-mail address, a new supervisor) without a restart."""

from __future__ import annotations

import structlog

from shared.contracts.events import DirectoryUpdated
from shared.platform.deliveries import Outcome
from shared.platform.directory_store import DirectoryHolder

log = structlog.get_logger()


class DirectoryFollower:
    def __init__(self, holder: DirectoryHolder) -> None:
        self._holder = holder

    async def __call__(self, event: DirectoryUpdated) -> Outcome:
        """Apply one change; entries already at that version or newer are left alone, so a replay or a late
        message changes nothing. Every replica reloads within its refresh interval; this one at once."""
        changed = await self._holder.store.apply(event)
        if changed == 0:
            return Outcome.DUPLICATE
        await self._holder.refresh()
        log.info("agency directory change applied", version=event.version, entries=changed, changed_by=event.changed_by)
        return Outcome.PROCESSED
