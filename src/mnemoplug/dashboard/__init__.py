"""``mnemoplug serve``: a small web app over a Memory — a JSON API (OpenAPI at ``/docs``) and a
dashboard page at ``/`` (plain HTML and JavaScript, no build step).

Pick a tenant and user, browse and search their memories (scores shown), see their sessions and
checkpoints, edit or delete a memory, forget the user (after typing their id), read recent audit
entries and the operation metrics. Authentication is the MCP server's: every ``/api`` request
needs ``Authorization: Bearer <token>`` (:mod:`mnemoplug.auth`); a user's token sees only that
user, an administrator token (``"user": "*"``) any user of its tenant. Needs
``pip install "mnemoplug[dashboard]"``.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import MissingDependencyError

__all__ = ["create_dashboard_app"]


def create_dashboard_app(memory: Any, tokens: Any, *, audit: Any = None) -> Any:
    """The FastAPI app serving ``memory`` to the holders of ``tokens`` (a
    :class:`~mnemoplug.auth.TokenMap`). ``audit``: an :class:`~mnemoplug.plugins.AuditLog`
    whose entries the dashboard shows (default: the first file-backed one among the memory's
    plugins). The app opens ``memory`` at start-up and closes it at shutdown."""
    try:
        import fastapi  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("the dashboard", "dashboard", "fastapi") from exc
    from .app import build_app

    return build_app(memory, tokens, audit=audit)
