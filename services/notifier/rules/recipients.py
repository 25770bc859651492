"""Who a step reaches, from the agency directory only (never from a message): the agency, its supervisor
(`parent`) and the supervisor's own supervisor, each with the display name and addresses the directory has."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog

from services.notifier.rules.decisions import Recipient
from shared.contracts.events import Agency
from shared.contracts.ladder import Role, Step
from shared.domain.directory import Directory, UnknownAgency
from shared.platform.directory_store import DirectoryHolder

log = structlog.get_logger()


class Addressbook:
    def __init__(self, directory: Directory | DirectoryHolder, contact: str = "") -> None:
        """`directory`: a fixed one, or a holder whose current directory is read at each use (it follows the
        changes made over intake's HTTP routes)."""
        self._source = directory
        self._contact = contact

    @property
    def _directory(self) -> Directory:
        return self._source.directory if isinstance(self._source, DirectoryHolder) else self._source

    def _chain(self, code: str) -> dict[Role, Agency]:
        found: dict[Role, Agency] = {}
        try:
            found["agency"] = self._directory.get(code)
            supervisor = self._directory.supervisor(code)
            if supervisor is not None:
                found["supervisor"] = supervisor
                upper = self._directory.supervisor(supervisor.code)
                if upper is not None:
                    found["upper_supervisor"] = upper
        except UnknownAgency:
            log.error("agency of an open period is not in the directory", agency=code)
        return found

    def recipients_for(self, period: Mapping[str, Any]) -> Callable[[Step], list[Recipient]]:
        chain = self._chain(period["agency"]["code"])

        def recipients(step: Step) -> list[Recipient]:
            found: dict[str, Recipient] = {}
            for roles, copy in ((step.to, False), (step.cc, True)):
                for role in roles:
                    agency = chain.get(role)
                    if agency is None:
                        log.warning(
                            "no one in the directory for this role",
                            role=role,
                            step=step.name,
                            agency=period["agency"]["code"],
                        )
                        continue
                    for address in agency.emails:
                        # One address, one notice: asked ("to") wins over informed ("cc").
                        found.setdefault(address, Recipient(address, agency.name, agency.code, role, copy))
            if not found:
                log.warning("a ladder step reaches no address", step=step.name, agency=period["agency"]["code"])
            return list(found.values())

        return recipients

    def agency(self, code: str) -> Agency | None:
        """The body with this code as the directory describes it now, or None."""
        try:
            return self._directory.get(code)
        except UnknownAgency:
            return None

    def contact(self, period: Mapping[str, Any]) -> str:
        """Whom the recipient should contact: the configured contact, or the plan's issuer."""
        if self._contact:
            return self._contact
        issuer = period.get("issuer") or {}
        try:
            agency = self._directory.get(issuer.get("code", ""))
        except UnknownAgency:
            return str(issuer.get("name", ""))
        return f"{agency.name} ({', '.join(agency.emails)})" if agency.emails else agency.name
