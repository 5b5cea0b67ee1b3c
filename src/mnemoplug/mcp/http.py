"""The MCP server on streamable HTTP, behind bearer-token authentication.

A request without a known token is answered 401 before it reaches the MCP transport; a known
token's :class:`~mnemoplug.auth.Principal` goes into the ASGI scope, where the tools read it.
The SDK also binds each MCP session to the token that opened it (another token gets 404).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..auth import TokenMap, token_digest
from .server import PRINCIPAL_SCOPE_KEY, create_mcp_server, current_principal

__all__ = ["BearerAuthMiddleware", "create_mcp_http_app"]

Scope = dict[str, Any]


class BearerAuthMiddleware:
    """ASGI middleware: 401 unless ``Authorization: Bearer <known token>``; else the
    request's scope carries the principal (and the SDK's ``AuthenticatedUser``)."""

    def __init__(self, app: Any, tokens: TokenMap) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                header = value.decode("latin-1")
                break
        principal = self.tokens.from_header(header)
        if principal is None or scope["type"] != "http":
            await _unauthorized(send, "missing" if header is None else "invalid")
            return
        from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
        from mcp.server.auth.provider import AccessToken

        token = header.partition(" ")[2].strip() if header else ""
        user = AuthenticatedUser(
            AccessToken(
                token=token,
                client_id=token_digest(token),  # one MCP session per token
                scopes=[],
                subject=f"{principal.tenant}/{principal.user_id}",
            )
        )
        reset = current_principal.set(principal)
        try:
            await self.app({**scope, PRINCIPAL_SCOPE_KEY: principal, "user": user}, receive, send)
        finally:
            current_principal.reset(reset)


async def _unauthorized(send: Any, what: str) -> None:
    body = json.dumps(
        {
            "error": "invalid_token",
            "error_description": (
                f"{what} bearer token: send Authorization: Bearer <token> with a token "
                "listed in the server's token file"
            ),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="mnemoplug", error="invalid_token"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_mcp_http_app(
    memory: Any, tokens: TokenMap, *, host: str = "127.0.0.1", path: str = "/mcp"
) -> Any:
    """A Starlette app serving the MCP server at ``path`` for the holders of ``tokens``.

    ``host`` is the address it will bind: on a loopback address the SDK's DNS-rebinding
    protection (Host and Origin checks) is on. The app opens ``memory`` at start-up and closes
    it at shutdown."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    server = create_mcp_server(memory)
    inner = server.streamable_http_app(streamable_http_path=path, host=host)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with memory, server.session_manager.run():
            yield

    return Starlette(
        routes=list(inner.routes),
        middleware=[Middleware(BearerAuthMiddleware, tokens=tokens)],
        lifespan=lifespan,
    )
