# No `from __future__ import annotations` here: FastAPI must see the route annotations.
"""Tracking's token routes: operators issue, rotate and revoke API tokens; anyone asks who its token belongs to
(intake and the notifier ask this for every caller). Expiry and rotation: docs/security.md, "API tokens: expiry
and rotation"."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.tracking.tokens import TokenStore
from services.tracking.use_cases import ActionError, IssuedToken, IssueToken, RotateToken, TrackingService
from shared.contracts.events import AgencyCode, format_instant
from shared.domain.wording import wording_of
from shared.platform.auth import AnyRole, Operator, Role, Unauthenticated
from shared.platform.http import Answer, Identifier

MAX_OVERLAP_HOURS = 24 * 30


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: AgencyCode = Field(description="the agency code (or operator name) the token acts as")
    role: Role
    label: str = Field(default="", max_length=200)
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="when the token stops working (with its UTC offset); by default after TRACKING_TOKEN_TTL_DAYS",
    )


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: float = Field(
        default=24,
        ge=0,
        le=MAX_OVERLAP_HOURS,
        description="how long the old token keeps working beside the new one (never longer than it would have)",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="when the new token stops working; by default after TRACKING_TOKEN_TTL_DAYS"
    )


def _instant(value: datetime | None) -> str | None:
    return format_instant(value) if value is not None else None


def _issued(token: IssuedToken) -> Answer:
    return {
        "token_id": token.token_id,
        "token": token.token,
        "subject": token.subject,
        "role": token.role,
        "expires_at": _instant(token.expires_at),
    }


def _failing(exc: ActionError) -> HTTPException:
    code = status.HTTP_404_NOT_FOUND if exc.kind == "not_found" else status.HTTP_422_UNPROCESSABLE_CONTENT
    return HTTPException(code, wording_of(exc))


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Không có token còn hiệu lực với mã này"}}


def token_routes(router: APIRouter, service: TrackingService) -> None:
    @router.post("/tokens", tags=["operators"], status_code=status.HTTP_201_CREATED)
    async def issue_token(body: TokenIn, actor: Operator) -> Answer:
        """Issue a token for an agency, an issuer or an operator, valid until `expires_at` (by default one year,
        TRACKING_TOKEN_TTL_DAYS). The token is shown only in this answer."""
        try:
            issued = await service.issue_token(IssueToken(body.subject, body.role, body.label, body.expires_at))
        except ActionError as exc:
            raise _failing(exc) from None
        return _issued(issued)

    @router.post(
        "/tokens/{token_id}/rotate", tags=["operators"], status_code=status.HTTP_201_CREATED, responses=NOT_FOUND
    )
    async def rotate_token(token_id: Identifier, body: RotateIn, actor: Operator) -> Answer:
        """Issue the successor of a live token (same subject, role and label; shown only in this answer). The old
        token keeps working for `overlap_hours`, so its holder can switch over without a request refused."""
        command = RotateToken(token_id, timedelta(hours=body.overlap_hours), body.expires_at)
        try:
            rotated = await service.rotate_token(command)
        except ActionError as exc:
            raise _failing(exc) from None
        old = {"token_id": rotated.old_token_id, "expires_at": _instant(rotated.old_expires_at)}
        return {**_issued(rotated.new), "rotated_from": old}

    @router.get("/tokens/me", tags=["tokens"])
    async def who_am_i(
        request: Request, actor: AnyRole, authorization: Annotated[str | None, Header()] = None
    ) -> Answer:
        """Who the token in the request belongs to, and until when it is valid (`expires_at`, null for a token
        that lasts until revoked). Intake and the notifier ask this (token introspection) and trust the answer for
        a short while (`AUTH_CACHE_SECONDS`), never past `expires_at`."""
        store = request.app.state.token_verifier
        try:
            identity = await store.identity(authorization) if isinstance(store, TokenStore) else None
        except Unauthenticated as exc:  # expired in the instant since the check above
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, wording_of(exc), headers={"WWW-Authenticate": "Bearer"}
            ) from None
        expires_at = identity.expires_at if identity else None
        return {"subject": actor.code, "role": actor.role, "expires_at": _instant(expires_at)}

    @router.delete("/tokens/{token_id}", tags=["operators"], responses=NOT_FOUND)
    async def revoke_token(token_id: Identifier, actor: Operator) -> Answer:
        """Revoke a token at once."""
        try:
            await service.revoke_token(token_id)
        except ActionError as exc:
            raise _failing(exc) from None
        return {"token_id": token_id, "revoked": True}
