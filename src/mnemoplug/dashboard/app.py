"""The FastAPI app: the JSON API, the dashboard page and mnemoplug errors as HTTP answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ..auth import AccessDeniedError, TokenMap
from ..core.errors import (
    MemoryNotFoundError,
    MemoryRejectedError,
    MemoryValidationError,
    MnemoplugError,
    ProviderUnavailableError,
    SessionOwnershipError,
)
from .api import router

__all__ = ["build_app", "find_audit_log"]

_STATUS: tuple[tuple[type[MnemoplugError], int], ...] = (
    (MemoryValidationError, 400),
    (MemoryRejectedError, 422),
    (MemoryNotFoundError, 404),
    (AccessDeniedError, 403),
    (SessionOwnershipError, 403),
    (ProviderUnavailableError, 503),
)


def find_audit_log(memory: Any) -> Any:
    """The first file-backed :class:`~mnemoplug.plugins.AuditLog` among the memory's plugins."""
    from ..plugins.audit import AuditLog

    hooks = getattr(memory, "hooks", None)
    for plugin in hooks.plugins() if hooks is not None else ():
        if isinstance(plugin, AuditLog) and plugin.path is not None:
            return plugin
    return None


def _page() -> str:
    return (files(__package__) / "static" / "index.html").read_text(encoding="utf-8")


def build_app(memory: Any, tokens: TokenMap, *, audit: Any = None) -> FastAPI:
    """See :func:`mnemoplug.dashboard.create_dashboard_app`."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with memory:
            yield

    from .. import __version__

    app = FastAPI(
        title="mnemoplug",
        version=__version__,
        description="Browse, search, correct and forget the memories of a mnemoplug store.",
        lifespan=lifespan,
    )
    app.state.memory = memory
    app.state.tokens = tokens
    app.state.audit = audit if audit is not None else find_audit_log(memory)
    app.include_router(router)

    @app.exception_handler(MnemoplugError)
    async def mnemoplug_error(_request: Request, exc: MnemoplugError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_page())

    return app
