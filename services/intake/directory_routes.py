"""The agency directory over HTTP: read it, change one agency or group, or replace it whole.

Every change is checked as a whole directory (parents and members exist, no supervision loop), stored with
the next version, and published as `directory.updated` in the same transaction, so the notifier's copy
follows. Writers race safely: a change made from a version someone else has moved on from is refused (409),
and `If-Match: <version>` lets a client say which version it edited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, HTTPException, status
from prometheus_client import Counter
from pymongo import AsyncMongoClient

from services.intake.repository import PlanRepository
from shared.auth import IssuerOrOperator, Operator, Principal
from shared.clock import Clock
from shared.contracts import Agency, DirectoryUpdated, Group
from shared.directory import Directory, DirectoryError, DirectoryFile, StillReferenced, UnknownAgency
from shared.directory_store import DirectoryHolder, changes_between
from shared.http import Identifier
from shared.mongo import in_transaction
from shared.outbox import Outbox

log = structlog.get_logger()

DIRECTORY_CHANGES = Counter(
    "dondoc_directory_changes_total", "Changes made to the agency directory, by outcome.", ["outcome"]
)
CORRELATION_ID = "directory"

IfMatch = Annotated[int | None, Header(alias="If-Match", description="the directory version this change was made from")]


class _Overtaken(Exception):
    """Another change moved the version between reading and writing."""


def _who(principal: Principal) -> str:
    return f"{principal.role}:{principal.code}"


def _same_code(in_path: str, in_body: str) -> None:
    if in_body != in_path:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"the body describes {in_body!r} but the path names {in_path!r}"
        )


def build_directory_router(
    client: AsyncMongoClient[dict[str, Any]],
    holder: DirectoryHolder,
    outbox: Outbox,
    plans: PlanRepository,
    clock: Clock,
) -> APIRouter:
    router = APIRouter(prefix="/directory", tags=["directory"])

    async def change(
        edit: Callable[[Directory], Directory], principal: Principal, if_match: int | None, complete: bool = False
    ) -> dict[str, Any]:
        """Apply `edit` to the current directory and store and publish the difference (with `complete`, the
        whole directory) under the next version."""
        await holder.refresh()
        version, before = holder.version, holder.directory
        if if_match is not None and if_match != version:
            DIRECTORY_CHANGES.labels("stale").inc()
            raise HTTPException(
                status.HTTP_412_PRECONDITION_FAILED,
                f"the directory is at version {version}, not {if_match}: read it again",
            )
        try:
            after = edit(before)
        except UnknownAgency as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except StillReferenced as exc:
            DIRECTORY_CHANGES.labels("refused").inc()
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        except DirectoryError as exc:
            DIRECTORY_CHANGES.labels("refused").inc()
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        if complete:
            changes: dict[str, Any] = {"agencies": list(after.agencies.values()), "groups": list(after.groups.values())}
        else:
            changes = changes_between(before, after)
            if not any(changes.values()):
                return {"version": version, "changed": False}
        event = DirectoryUpdated(
            correlation_id=CORRELATION_ID,
            version=version + 1,
            changed_by=_who(principal),
            occurred_at=clock.now(),
            complete=complete,
            **changes,
        )

        async def write(session: Any) -> None:
            if not await holder.store.claim_version(version, event.changed_by, event.occurred_at, session):
                raise _Overtaken
            await holder.store.apply(event, session)
            await outbox.add([event], session)

        try:
            await in_transaction(client, write)
        except _Overtaken:
            DIRECTORY_CHANGES.labels("conflict").inc()
            raise HTTPException(
                status.HTTP_409_CONFLICT, "the directory changed while this request ran: read it again and retry"
            ) from None
        outbox.wake()
        holder.replace(event.version, after)
        DIRECTORY_CHANGES.labels("applied").inc()
        summary = {
            "agencies_changed": [a.code for a in event.agencies],
            "groups_changed": [g.code for g in event.groups],
            "agencies_removed": event.removed_agencies,
            "groups_removed": event.removed_groups,
        }
        log.info("agency directory changed", version=event.version, changed_by=event.changed_by, **summary)
        return {"version": event.version, "changed": True, **summary}

    async def refuse_if_assigned(codes: list[str]) -> None:
        """One query for all of `codes`: an agency with work assigned cannot leave the directory."""
        plan_ids = await plans.assigning(codes, limit=5)
        if plan_ids:
            DIRECTORY_CHANGES.labels("refused").inc()
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"{', '.join(codes)}: assigned work by plan(s) {', '.join(plan_ids)}: amend or cancel them first",
            )

    @router.get("")
    async def read_directory(principal: IssuerOrOperator) -> dict[str, Any]:
        """The whole directory, as its YAML file describes it, with its version (send it back as If-Match)."""
        await holder.refresh()
        return {"version": holder.version, **holder.directory.to_file().model_dump(mode="json")}

    @router.put("")
    async def replace_directory(body: DirectoryFile, operator: Operator, if_match: IfMatch = None) -> dict[str, Any]:
        """Replace the whole directory (e.g. an edited export). Only the difference is stored and published.
        Refused while an agency it drops is still assigned work by a registered plan."""
        await holder.refresh()
        await refuse_if_assigned(sorted(holder.directory.agencies.keys() - {a.code for a in body.agencies}))
        return await change(lambda _: Directory(body.agencies, body.groups), operator, if_match)

    @router.get("/agencies/{code}")
    async def read_agency(code: Identifier, principal: IssuerOrOperator) -> Agency:
        await holder.refresh()
        try:
            return holder.directory.get(code)
        except UnknownAgency as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc

    @router.put("/agencies/{code}")
    async def put_agency(
        code: Identifier, agency: Agency, operator: Operator, if_match: IfMatch = None
    ) -> dict[str, Any]:
        """Add an agency or change one (names, aliases, e-mail addresses, supervisor)."""
        _same_code(code, agency.code)
        return await change(lambda d: d.with_agency(agency), operator, if_match)

    @router.delete("/agencies/{code}")
    async def delete_agency(code: Identifier, operator: Operator, if_match: IfMatch = None) -> dict[str, Any]:
        """Remove an agency. Refused (409) while it supervises another, belongs to a group by name, or is
        assigned work by a registered plan: escalations about it would have nowhere to go."""
        await refuse_if_assigned([code])
        return await change(lambda d: d.without_agency(code), operator, if_match)

    @router.put("/groups/{code}")
    async def put_group(code: Identifier, group: Group, operator: Operator, if_match: IfMatch = None) -> dict[str, Any]:
        """Add a group or change one (names, members, member kinds)."""
        _same_code(code, group.code)
        return await change(lambda d: d.with_group(group), operator, if_match)

    @router.delete("/groups/{code}")
    async def delete_group(code: Identifier, operator: Operator, if_match: IfMatch = None) -> dict[str, Any]:
        return await change(lambda d: d.without_group(code), operator, if_match)

    @router.post("/republish")
    async def republish(operator: Operator) -> dict[str, Any]:
        """Publish the whole directory again (`complete`, under a new version), for a notifier whose copy was
        lost or restored from an old backup: it ends up with exactly these entries."""
        return await change(lambda d: d, operator, None, complete=True)

    return router
