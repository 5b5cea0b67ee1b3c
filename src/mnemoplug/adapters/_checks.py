"""Argument checks shared by the adapters' constructors: a bad argument raises
:class:`~mnemoplug.ConfigurationError` at construction, not a TypeError on first use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.errors import ConfigurationError
from ..core.roles import normalise_role

__all__ = ["check_field", "check_metadata_arg", "check_optional_str", "check_roles", "check_str"]


def check_metadata_arg(value: Any, name: str = "metadata") -> dict[str, Any]:
    """A copy of ``value`` (a mapping; None gives {})."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{name} must be a dict or None, got {type(value).__name__}")
    return dict(value)


def check_str(value: Any, name: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    return value


def check_optional_str(value: Any, name: str) -> str | None:
    """None or a non-empty string."""
    return None if value is None else check_str(value, name)


def check_field(value: Any, name: str) -> Any:
    """None, a non-empty string, or a callable (a field spec or a scope value)."""
    if value is None or callable(value):
        return value
    return check_str(value, name)


def check_roles(value: Any, name: str = "store_roles") -> tuple[str, ...]:
    """Chat roles, canonical (``human`` -> ``user``, ``ai`` -> ``assistant``)."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigurationError(f"{name} must be a list of roles such as ['user', 'assistant']")
    out: list[str] = []
    for role in value:
        canonical = normalise_role(role)
        if canonical is None:
            raise ConfigurationError(
                f"{name} has unknown role {role!r}; use user, assistant, system or tool"
            )
        out.append(canonical)
    return tuple(out)
