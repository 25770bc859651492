# No `from __future__ import annotations` here: FastAPI must see the route annotations.
"""Tracking's HTTP routes for personal links (docs/security.md, "Personal links, sessions and report files"):
operators (and the notifier, with its operator token) issue and revoke links; the secret alone exchanges a link
for a session or asks for a new link, both rate-limited per client address (shared/platform/client_address.py:
behind a trusted proxy, the address it forwarded). Secrets travel in bodies only, never in a path or a log line."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from services.tracking.handlers import error_status
from services.tracking.rate_limit import TokenBuckets, retry_after
from services.tracking.use_cases.errors import ActionError
from services.tracking.use_cases.links import IssuedLink, IssueLink, LinkService
from shared.contracts.events import AgencyCode
from shared.domain.wording import Wording, wording_of
from shared.platform.auth import Operator
from shared.platform.client_address import Networks, client_address
from shared.platform.http import Answer, validation_summary
from shared.platform.problems import in_language, prefers_english
from shared.platform.validation_wording import vietnamese_message

# A secret is what `secrets.token_urlsafe(32)` makes: 43 URL-safe characters. Anything else is unknown (404).
Secret = Annotated[str, Field(min_length=1, max_length=200, description="the secret of the personal link")]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: AgencyCode = Field(description="the agency the link is for (it holds the link)")
    scope: Literal["act", "view"] = "act"
    view_of: AgencyCode | None = Field(default=None, description='for scope "view": the body whose page it shows')


MAX_LINKS_PER_CALL = 100  # an e-mail's links: a supervisor's digest names one body a link, rarely past a few dozen


class LinksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Each item is checked alone, so that one the rules refuse is answered alone: the schema says what each must be.
    links: Annotated[
        list[Any],
        WithJsonSchema(
            {
                "type": "array",
                "items": {"$ref": "#/components/schemas/LinkIn"},
                "minItems": 1,
                "maxItems": MAX_LINKS_PER_CALL,
                "description": "the links to issue, each as the body of POST /links",
            }
        ),
    ] = Field(min_length=1, max_length=MAX_LINKS_PER_CALL)


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: Secret


_TOO_MANY_LINK_REQUESTS = Wording(
    vi="Có quá nhiều yêu cầu về đường dẫn từ địa chỉ này; vui lòng thử lại sau ít phút.",
    en="too many link requests from this address; try again later",
)
_AGENCY_OR_ALL = Wording(
    vi="Hãy ghi một trong hai: agency=<mã cơ quan> hoặc all=true.", en="give either agency=<code> or all=true"
)


def rate_limited(buckets: TokenBuckets, trusted_proxies: Networks) -> Any:
    """A dependency: 429 with Retry-After once the client's bucket is empty."""

    async def check(request: Request) -> None:
        wait = buckets.take(client_address(request, trusted_proxies))
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                _TOO_MANY_LINK_REQUESTS,
                headers={"Retry-After": retry_after(wait)},
            )

    return Depends(check)


def build_link_router(
    links: LinkService, exchange_limit: TokenBuckets, renewal_limit: TokenBuckets, trusted_proxies: Networks
) -> APIRouter:
    router = APIRouter(tags=["links"])

    _add_issue_routes(router, links)

    @router.post(
        "/links/exchange",
        dependencies=[rate_limited(exchange_limit, trusted_proxies)],
        responses={
            404: {"description": "no link has this secret"},
            410: {"description": "the link has expired or been revoked: `reason` is `expired` or `revoked`"},
            429: {"description": "too many attempts from this client address; see Retry-After"},
        },
    )
    async def exchange_link(body: SecretIn) -> Answer:
        """Exchange a link's secret for a session token (role agency for an act link, viewer for a view link):
        410 with `reason` expired or revoked, 404 for an unknown secret."""
        made = await links.exchange(body.secret)
        return {
            "session": made.session,
            "agency": made.agency,
            "scope": made.scope,
            "view_of": made.view_of,
            "expires_at": made.expires_at,
        }

    @router.post(
        "/links/renewal",
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=[rate_limited(renewal_limit, trusted_proxies)],
        responses={
            404: {"description": "no link has this secret"},
            429: {"description": "too many attempts from this client address; see Retry-After"},
        },
    )
    async def renew_link(body: SecretIn) -> Answer:
        """Ask for a new link with the secret of an old one (expired, revoked or valid): `link.requested` is
        published and the notifier sends the new link to the agency's registered address, not to the asker."""
        return {"agency": await links.request_renewal(body.secret)}

    @router.delete("/links")
    async def revoke_links(
        actor: Operator,
        agency: Annotated[AgencyCode | None, Query(description="revoke this agency's links")] = None,
        all: Annotated[bool, Query(description="revoke every agency's links")] = False,  # noqa: A002  # the API's name
    ) -> Answer:
        """Revoke one agency's links (or all, with all=true) and the sessions made from them."""
        if (agency is None) == (not all):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _AGENCY_OR_ALL)
        return {"revoked": await links.revoke(None if all else agency)}

    return router


def _add_issue_routes(router: APIRouter, links: LinkService) -> None:
    @router.post("/links", status_code=status.HTTP_201_CREATED)
    async def issue_link(body: LinkIn, actor: Operator) -> Answer:
        """Issue a personal link for an agency (the notifier calls this when it sends an e-mail). The secret is
        shown only in this answer; tracking keeps its SHA-256."""
        issued = await links.issue(IssueLink(body.agency, body.scope, body.view_of))
        return {"link_id": issued.link_id, "secret": issued.secret, "expires_at": issued.expires_at}

    @router.post("/links/batch")
    async def issue_links(body: LinksIn, actor: Operator, request: Request) -> Answer:
        """Issue several personal links at once (the notifier asks for all of an e-mail's links in one call), stored
        in one write. Each item is answered in order, alone: `status` 201 with its `link_id`, `secret` and
        `expires_at`, or the status `POST /links` would have answered for that body (409, 422) with its `detail`;
        one refused item does not refuse the others. More than the maximum items is refused whole (422)."""
        checked: list[LinkIn | dict[str, Any]] = [_checked(index, item) for index, item in enumerate(body.links)]
        commands = [IssueLink(c.agency, c.scope, c.view_of) for c in checked if isinstance(c, LinkIn)]
        issued = iter(await links.issue_many(commands))
        answers = [_answer(next(issued)) if isinstance(c, LinkIn) else c for c in checked]
        return {"links": in_language(answers, prefers_english(request.scope.get("headers") or ()))}


def _checked(index: int, item: Any) -> LinkIn | dict[str, Any]:
    """The item as a link request, or its 422 answer (what `POST /links` would say of that body)."""
    try:
        return LinkIn.model_validate(item)
    except ValidationError as exc:
        errors = [
            {
                "type": error["type"],
                "loc": ["body", "links", index, *error["loc"]],
                "msg": Wording(vi=str(vietnamese_message(error)), en=error["msg"]),
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        return {"status": 422, "detail": validation_summary(errors, len(errors)), "errors": errors}


def _answer(result: IssuedLink | ActionError) -> dict[str, Any]:
    if isinstance(result, ActionError):
        return {"status": error_status(result), "detail": wording_of(result)}
    return {"status": 201, "link_id": result.link_id, "secret": result.secret, "expires_at": result.expires_at}
