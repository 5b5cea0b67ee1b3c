"""Who is asking, and for whom: the bearer token's principal and the user a request names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth import Principal, TokenMap

__all__ = ["Caller", "Scoped", "Target", "caller", "target"]

_bearer = HTTPBearer(auto_error=False, description="A token from the server's token file")


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The request's principal; 401 without a known bearer token."""
    tokens: TokenMap = request.app.state.tokens
    principal = tokens.lookup(credentials.credentials) if credentials is not None else None
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="missing or unknown bearer token: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="mnemoplug"'},
        )
    return principal


Caller = Annotated[Principal, Depends(caller)]


@dataclass(frozen=True, slots=True)
class Scoped:
    """The user (and tenant) a request acts on, checked against the caller."""

    user_id: str
    tenant_id: str | None
    memory: Any


def target(
    request: Request,
    principal: Caller,
    user_id: Annotated[
        str | None, Query(description="The user; default: the token's own user")
    ] = None,
    tenant_id: Annotated[
        str | None, Query(description="The user's tenant; default: the token's tenant")
    ] = None,
) -> Scoped:
    """The requested user, or 403 when the token may not act on them."""
    if user_id is None:
        if principal.is_admin:
            raise HTTPException(400, "an administrator token must name user_id")
        user_id = principal.user_id
    if tenant_id is None and principal.tenant_id != "*":
        tenant_id = principal.tenant_id
    tenant_id = tenant_id or None
    if not principal.may_access(user_id, tenant_id):
        raise HTTPException(403, f"this token may not access user {user_id!r}")
    return Scoped(user_id=user_id, tenant_id=tenant_id, memory=request.app.state.memory)


Target = Annotated[Scoped, Depends(target)]
