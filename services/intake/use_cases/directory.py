"""The agency directory: read it, change one agency or group, replace it whole, publish it again.

Every change is checked as a whole directory (parents and members exist, no supervision loop), stored with
the next version, and published as `directory.updated` in the same unit of work, so the notifier's copy
follows. Writers race safely: a change made from a version someone else has moved on from is refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from services.intake.use_cases.errors import Conflict, Invalid, NotFound, Overtaken, VersionMismatch
from services.intake.use_cases.ports import Actor, Directories, Plans
from shared.contracts.events import Agency, DirectoryUpdated, Group
from shared.domain.clock import Clock
from shared.domain.directory import Directory, DirectoryError, DirectoryFile, StillReferenced, UnknownAgency
from shared.domain.wording import Wording, wording_of
from shared.platform.directory_store import changes_between
from shared.platform.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger()

CORRELATION_ID = "directory"
ASSIGNED_SHOWN = 5  # plans named when an agency with work cannot leave


@dataclass(frozen=True)
class DirectoryEdit:
    """One change to the directory, made by `actor` from version `if_match` (None: from the current one)."""

    actor: Actor
    if_match: int | None = None


@dataclass
class DirectoryChange:
    """The version after the change, and what it changed (nothing: `changed` is false, the version stays)."""

    version: int
    changed: bool
    agencies_changed: list[str] = field(default_factory=list)
    groups_changed: list[str] = field(default_factory=list)
    agencies_removed: list[str] = field(default_factory=list)
    groups_removed: list[str] = field(default_factory=list)


def _same_code(in_path: str, in_body: str) -> None:
    if in_body != in_path:
        raise Invalid(
            Wording(
                vi=f"nội dung gửi lên mô tả {in_body!r} nhưng đường dẫn ghi {in_path!r}",
                en=f"the body describes {in_body!r} but the path names {in_path!r}",
            )
        )


class DirectoryUseCases:
    def __init__(self, uow: UnitOfWork, directories: Directories, plans: Plans, clock: Clock) -> None:
        self._uow = uow
        self._directories = directories
        self._plans = plans
        self._clock = clock

    async def read(self) -> tuple[int, Directory]:
        await self._directories.refresh()
        return self._directories.version, self._directories.directory

    async def agency(self, code: str) -> Agency:
        await self._directories.refresh()
        try:
            return self._directories.directory.get(code)
        except UnknownAgency as exc:
            raise NotFound(wording_of(exc)) from exc

    async def replace(self, body: DirectoryFile, edit: DirectoryEdit) -> DirectoryChange:
        """Replace the whole directory; refused while an agency it drops is still assigned work."""
        await self._directories.refresh()
        await self._refuse_if_assigned(
            sorted(self._directories.directory.agencies.keys() - {a.code for a in body.agencies})
        )
        return await self._change(lambda _: Directory(body.agencies, body.groups, kinds=body.kinds), edit)

    async def put_agency(self, code: str, agency: Agency, edit: DirectoryEdit) -> DirectoryChange:
        _same_code(code, agency.code)
        return await self._change(lambda d: d.with_agency(agency), edit)

    async def delete_agency(self, code: str, edit: DirectoryEdit) -> DirectoryChange:
        await self._refuse_if_assigned([code])
        return await self._change(lambda d: d.without_agency(code), edit)

    async def put_group(self, code: str, group: Group, edit: DirectoryEdit) -> DirectoryChange:
        _same_code(code, group.code)
        return await self._change(lambda d: d.with_group(group), edit)

    async def delete_group(self, code: str, edit: DirectoryEdit) -> DirectoryChange:
        return await self._change(lambda d: d.without_group(code), edit)

    async def republish(self, actor: Actor) -> DirectoryChange:
        """The whole directory again (`complete`, under a new version), for a notifier whose copy was lost."""
        return await self._change(lambda d: d, DirectoryEdit(actor), complete=True)

    async def _refuse_if_assigned(self, codes: list[str]) -> None:
        """One query for all of `codes`: an agency with work assigned cannot leave the directory."""
        plan_ids = await self._plans.assigning(codes, limit=ASSIGNED_SHOWN)
        if plan_ids:
            agencies, plans = ", ".join(codes), ", ".join(plan_ids)
            raise Conflict(
                Wording(
                    vi=f"{agencies}: đang được giao nhiệm vụ theo kế hoạch {plans}: hãy sửa đổi hoặc thu hồi các kế "
                    "hoạch đó trước",
                    en=f"{agencies}: still assigned work by plan(s) {plans}: amend or withdraw those plans first",
                )
            )

    def _edited(self, edit: Callable[[Directory], Directory], before: Directory) -> Directory:
        try:
            return edit(before)
        except UnknownAgency as exc:
            raise NotFound(wording_of(exc)) from exc
        except StillReferenced as exc:
            raise Conflict(wording_of(exc)) from exc
        except DirectoryError as exc:
            raise Invalid(wording_of(exc)) from exc

    async def _change(
        self, edit: Callable[[Directory], Directory], request: DirectoryEdit, complete: bool = False
    ) -> DirectoryChange:
        """Apply `edit` to the current directory and store and publish the difference (with `complete`, the
        whole directory) under the next version."""
        await self._directories.refresh()
        version, before = self._directories.version, self._directories.directory
        if request.if_match is not None and request.if_match != version:
            raise VersionMismatch(
                Wording(
                    vi=f"danh bạ đang ở phiên bản {version}, không phải phiên bản {request.if_match}: hãy đọc lại "
                    "danh bạ",
                    en=f"the directory is at version {version}, not {request.if_match}: read it again",
                )
            )
        after = self._edited(edit, before)
        changes: dict[str, Any]
        if complete:
            changes = {
                "agencies": list(after.agencies.values()),
                "groups": list(after.groups.values()),
                "kinds": after.declared_kinds,
            }
        else:
            changes = changes_between(before, after)
            if not any(changes.values()):
                return DirectoryChange(version, changed=False)
        event = DirectoryUpdated(
            correlation_id=CORRELATION_ID,
            version=version + 1,
            changed_by=request.actor.label,
            occurred_at=self._clock.now(),
            complete=complete,
            **changes,
        )
        await self._uow.run(lambda tx: self._store(tx, version, event))
        self._directories.replace(event.version, after)
        change = DirectoryChange(
            event.version,
            changed=True,
            agencies_changed=[a.code for a in event.agencies],
            groups_changed=[g.code for g in event.groups],
            agencies_removed=event.removed_agencies,
            groups_removed=event.removed_groups,
        )
        summary = {k: v for k, v in vars(change).items() if k not in ("version", "changed")}
        log.info("agency directory changed", version=event.version, changed_by=event.changed_by, **summary)
        return change

    async def _store(self, tx: Transaction, version: int, event: DirectoryUpdated) -> None:
        store = self._directories.store
        if not await store.claim_version(version, event.changed_by, event.occurred_at, tx.session):
            raise Overtaken(
                Wording(
                    vi="danh bạ vừa được thay đổi trong lúc xử lý yêu cầu này: hãy đọc lại và thử lại",
                    en="the directory was changed while this request was handled: read it again and retry",
                )
            )
        await store.apply(event, tx.session)
        tx.publish(event)
