"""Personal links from tracking (PORTAL-CONTRACT.md): the HTTP adapter of the `LinkIssuer` port
(services/notifier/use_cases/ports.py). Each e-mail's links are issued when it is sent, all in one call
(`POST /links/batch` with the notifier's operator token; `POST /links` one by one against a tracking older than
that route) and go into its text then; the secret is never stored, logged or put into an error message. Without
tracking settings, every e-mail carries the page where a body asks for a link."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
import structlog
from prometheus_client import Counter

from services.notifier.config import Settings
from services.notifier.rules.links import IssuedLink, LinkRequest
from services.notifier.use_cases.errors import LinkRefused, LinkUnavailable
from services.notifier.use_cases.ports import LinkIssuer

log = structlog.get_logger()

LINKS = Counter(
    "dondoc_notifier_links_total",
    "Personal links asked of tracking for e-mails, by scope and result (issued, unavailable, refused).",
    ["scope", "result"],
)
ASK_FOR_A_LINK = "/lien-ket-moi"  # the web page where a body asks for a new link
# Answers that say "not for this body, ever": trying again cannot help. Anything else (a connection error, a
# timeout, 401/403 while a token is being fixed, 429, 5xx) may pass, and the e-mail waits for it.
REFUSALS = (400, 404, 409, 410, 422)
BATCH = 100  # tracking's most links a call (services/tracking/link_routes.py MAX_LINKS_PER_CALL)


class RequestNewLinkPage:
    """No tracking configured: every e-mail points to the page where a body asks for a link."""

    def __init__(self, public_url: str) -> None:
        self._url = public_url.rstrip("/") + ASK_FOR_A_LINK

    async def issue_all(self, requests: Sequence[LinkRequest]) -> list[IssuedLink | LinkRefused]:
        return [self.fallback(request) for request in requests]

    async def aclose(self) -> None:
        """Nothing held here; tracking's adapter closes its connections."""

    def fallback(self, request: LinkRequest) -> IssuedLink:
        return IssuedLink(self._url, personal=False)


class TrackingLinks(RequestNewLinkPage):
    def __init__(
        self,
        tracking_url: str,
        token: str,
        public_url: str,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(public_url)
        self._transport = transport
        self._endpoint = tracking_url.rstrip("/") + "/links"
        self._batch_endpoint = self._endpoint + "/batch"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._public = public_url.rstrip("/")
        self._timeout = timeout_seconds
        # One client, its connections kept alive: a client per call cost 71-104 ms a link (building it, its TLS
        # context, a new connection), one kept 5-16 ms (200 links against tracking on SecantusDB, 2 shared cores
        # under a load of 8).
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        return self._client

    async def issue_all(self, requests: Sequence[LinkRequest]) -> list[IssuedLink | LinkRefused]:
        answers: list[IssuedLink | LinkRefused] = []
        for start in range(0, len(requests), BATCH):
            answers += await self._issue_batch(requests[start : start + BATCH])
        return answers

    async def _issue_batch(self, requests: Sequence[LinkRequest]) -> list[IssuedLink | LinkRefused]:
        body = {"links": [_body(request) for request in requests]}
        try:
            response = await self._http().post(self._batch_endpoint, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            _count(requests, "unavailable")
            raise LinkUnavailable(f"tracking did not answer POST /links/batch: {type(exc).__name__}") from None
        if response.status_code in (404, 405):
            log.warning("tracking has no POST /links/batch (a version before it): links asked one by one")
            return [await self._one(request) for request in requests]
        if response.status_code != 200:
            refused = response.status_code in REFUSALS
            _count(requests, "refused" if refused else "unavailable")
            what = f"tracking answered POST /links/batch with {response.status_code}: {_detail(response)}"
            if not refused:
                raise LinkUnavailable(what)
            return [LinkRefused(what) for _ in requests]
        try:
            items = response.json()["links"]
            if not isinstance(items, list) or len(items) != len(requests):
                raise TypeError
            answers = [self._item(request, item) for request, item in zip(requests, items, strict=True)]
        except (ValueError, KeyError, TypeError):
            _count(requests, "unavailable")
            raise LinkUnavailable("tracking's answer to POST /links/batch is not the contract's") from None
        for request, answer in zip(requests, answers, strict=True):
            LINKS.labels(request.scope, _result(answer)).inc()
        unavailable = next((a for a in answers if isinstance(a, LinkUnavailable)), None)
        if unavailable is not None:
            raise unavailable
        return [a for a in answers if not isinstance(a, LinkUnavailable)]

    def _item(self, request: LinkRequest, item: Any) -> IssuedLink | LinkRefused | LinkUnavailable:
        """One item of tracking's batch answer; raises KeyError, TypeError or ValueError when it is not the
        contract's."""
        status = int(item["status"])
        if status == 201:
            expires = datetime.fromisoformat(item["expires_at"]) if item.get("expires_at") else None
            return IssuedLink(f"{self._public}/l/{str(item['secret'])}", personal=True, expires_at=expires)
        detail = str(item.get("detail", ""))[:200]
        what = f"tracking answered POST /links/batch for {request.agency} with {status}: {detail}"
        return LinkRefused(what) if status in REFUSALS else LinkUnavailable(what)

    async def _one(self, request: LinkRequest) -> IssuedLink | LinkRefused:
        try:
            return await self.issue(request)
        except LinkRefused as exc:
            return exc

    async def issue(self, request: LinkRequest) -> IssuedLink:
        """One link (`POST /links`); raises LinkUnavailable (try later) or LinkRefused (never for this body)."""
        try:
            response = await self._http().post(self._endpoint, json=_body(request), headers=self._headers)
        except httpx.HTTPError as exc:
            LINKS.labels(request.scope, "unavailable").inc()
            raise LinkUnavailable(f"tracking did not answer POST /links: {type(exc).__name__}") from None
        if response.status_code != 201:
            refused = response.status_code in REFUSALS
            LINKS.labels(request.scope, "refused" if refused else "unavailable").inc()
            what = (
                f"tracking answered POST /links for {request.agency} with {response.status_code}: {_detail(response)}"
            )
            raise (LinkRefused if refused else LinkUnavailable)(what)
        try:
            issued = response.json()
            secret = str(issued["secret"])
            expires = datetime.fromisoformat(issued["expires_at"]) if issued.get("expires_at") else None
        except (ValueError, KeyError, TypeError):
            LINKS.labels(request.scope, "unavailable").inc()
            raise LinkUnavailable("tracking's answer to POST /links is not the contract's") from None
        LINKS.labels(request.scope, "issued").inc()
        return IssuedLink(f"{self._public}/l/{secret}", personal=True, expires_at=expires)


def _body(request: LinkRequest) -> dict[str, Any]:
    return {"agency": request.agency, "scope": request.scope, "view_of": request.view_of}


def _count(requests: Sequence[LinkRequest], result: str) -> None:
    for request in requests:
        LINKS.labels(request.scope, result).inc()


def _result(answer: IssuedLink | LinkRefused | LinkUnavailable) -> str:
    if isinstance(answer, IssuedLink):
        return "issued"
    return "refused" if isinstance(answer, LinkRefused) else "unavailable"


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    return str(detail)[:200]


def link_issuer(settings: Settings) -> LinkIssuer:
    """Tracking's links when both its address and a token are configured, else the page to ask for one."""
    if settings.tracking_url and settings.tracking_token is not None:
        token = settings.tracking_token.get_secret_value()
        return TrackingLinks(settings.tracking_url, token, settings.web_public_url, settings.tracking_timeout_seconds)
    if settings.tracking_url or settings.tracking_token is not None:
        log.warning("personal links need both NOTIFIER_TRACKING_URL and NOTIFIER_TRACKING_TOKEN; e-mails go without")
    return RequestNewLinkPage(settings.web_public_url)
