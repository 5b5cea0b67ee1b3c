"""Chat roles: the four mnemoplug knows and the aliases other frameworks use for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ROLES", "ROLE_ALIASES", "message_parts", "normalise_role"]

ROLES: tuple[str, ...] = ("user", "assistant", "system", "tool")
#: LangChain's ``human``/``ai``, Gemini's ``model``, OpenAI's ``developer``/``function``
ROLE_ALIASES: dict[str, str] = {
    "human": "user",
    "ai": "assistant",
    "model": "assistant",
    "developer": "system",
    "function": "tool",
}


def normalise_role(value: Any) -> str | None:
    """The canonical role for ``value`` (case-insensitive, aliases resolved); None when it
    is not a role mnemoplug knows."""
    if not isinstance(value, str) or not value:
        return None
    role = ROLE_ALIASES.get(value.lower(), value.lower())
    return role if role in ROLES else None


def message_parts(item: Any) -> tuple[Any, Any]:
    """``(role, content)`` of a chat message given as a dict or an object with
    ``role`` (or LangChain's ``type``) and ``content``; either may be None."""
    if isinstance(item, Mapping):
        return item.get("role"), item.get("content")
    role = getattr(item, "role", None) or getattr(item, "type", None)
    return role, getattr(item, "content", None)
