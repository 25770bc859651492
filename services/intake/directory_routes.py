"""The agency directory over HTTP: read it, change one agency or group, or replace it whole.

Thin routes over `use_cases.directory`: every change is checked as a whole directory, stored with the next
version and published as `directory.updated` in one unit of work. A change made from a version someone else
has moved on from is refused (409), and `If-Match: <version>` lets a client say which version it edited (412).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, status
from prometheus_client import Counter

from services.intake.handlers import actor
from services.intake.use_cases.directory import DirectoryChange, DirectoryEdit, DirectoryUseCases
from services.intake.use_cases.errors import Conflict, Invalid, NotFound, Overtaken, VersionMismatch
from shared.contracts.events import Agency, Group
from shared.domain.directory import DirectoryFile
from shared.domain.wording import wording_of
from shared.platform.auth import IssuerOrOperator, Operator, Principal
from shared.platform.http import CONFLICT, Answer, Identifier

DIRECTORY_CHANGES = Counter(
    "dondoc_directory_changes_total", "Changes made to the agency directory, by outcome.", ["outcome"]
)

IfMatch = Annotated[int | None, Header(alias="If-Match", description="the directory version this change was made from")]


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except VersionMismatch as exc:
        DIRECTORY_CHANGES.labels("stale").inc()
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, wording_of(exc)) from exc
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, wording_of(exc)) from exc
    except Overtaken as exc:
        DIRECTORY_CHANGES.labels("conflict").inc()
        raise HTTPException(status.HTTP_409_CONFLICT, wording_of(exc)) from exc
    except Conflict as exc:
        DIRECTORY_CHANGES.labels("refused").inc()
        raise HTTPException(status.HTTP_409_CONFLICT, wording_of(exc)) from exc
    except Invalid as exc:
        DIRECTORY_CHANGES.labels("refused").inc()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, wording_of(exc)) from exc


def _answer(change: DirectoryChange) -> Answer:
    if not change.changed:
        return {"version": change.version, "changed": False}
    DIRECTORY_CHANGES.labels("applied").inc()
    return dict(vars(change))


def _edit(operator: Principal, if_match: int | None) -> DirectoryEdit:
    return DirectoryEdit(actor(operator), if_match)


def build_directory_router(directory: DirectoryUseCases) -> APIRouter:
    router = APIRouter(prefix="/directory", tags=["directory"])

    @router.get("")
    async def read_directory(principal: IssuerOrOperator) -> Answer:
        """The whole directory, as its YAML file describes it, with its version (send it back as If-Match)."""
        version, current = await directory.read()
        return {"version": version, **current.to_file().model_dump(mode="json")}

    @router.put("", responses=CONFLICT)
    async def replace_directory(body: DirectoryFile, operator: Operator, if_match: IfMatch = None) -> Answer:
        """Replace the whole directory (e.g. an edited export). Only the difference is stored and published.
        Refused while an agency it drops is still assigned work by a registered plan."""
        with _refusals():
            return _answer(await directory.replace(body, _edit(operator, if_match)))

    @router.get("/agencies/{code}")
    async def read_agency(code: Identifier, principal: IssuerOrOperator) -> Agency:
        with _refusals():
            return await directory.agency(code)

    @router.put("/agencies/{code}", responses=CONFLICT)
    async def put_agency(code: Identifier, agency: Agency, operator: Operator, if_match: IfMatch = None) -> Answer:
        """Add an agency or change one (names, aliases, e-mail addresses, supervisor)."""
        with _refusals():
            return _answer(await directory.put_agency(code, agency, _edit(operator, if_match)))

    @router.delete("/agencies/{code}", responses=CONFLICT)
    async def delete_agency(code: Identifier, operator: Operator, if_match: IfMatch = None) -> Answer:
        """Remove an agency. Refused (409) while it supervises another, belongs to a group by name, or is
        assigned work by a registered plan: escalations about it would have nowhere to go."""
        with _refusals():
            return _answer(await directory.delete_agency(code, _edit(operator, if_match)))

    @router.put("/groups/{code}", responses=CONFLICT)
    async def put_group(code: Identifier, group: Group, operator: Operator, if_match: IfMatch = None) -> Answer:
        """Add a group or change one (names, members, member kinds)."""
        with _refusals():
            return _answer(await directory.put_group(code, group, _edit(operator, if_match)))

    @router.delete("/groups/{code}", responses=CONFLICT)
    async def delete_group(code: Identifier, operator: Operator, if_match: IfMatch = None) -> Answer:
        with _refusals():
            return _answer(await directory.delete_group(code, _edit(operator, if_match)))

    @router.post("/republish")
    async def republish(operator: Operator) -> Answer:
        """Publish the whole directory again (`complete`, under a new version), for a notifier whose copy was
        lost or restored from an old backup: it ends up with exactly these entries."""
        with _refusals():
            return _answer(await directory.republish(actor(operator)))

    return router
