"""Bearer tokens for the HTTP servers (``mnemoplug mcp --http``, ``mnemoplug serve``).

A token maps to one user in one tenant; a request is served only with a known token, and only
on that user's memories. A token may instead name ``"*"`` as its user (an administrator of its
tenant, or of every tenant with ``"tenant": "*"``): the dashboard then lets it pick any user;
the MCP server, whose tools have no user argument, refuses it.

Tokens come from a JSON file (``--tokens FILE`` or ``$MNEMOPLUG_TOKEN_FILE``) or from
``$MNEMOPLUG_TOKENS`` holding the same JSON::

    {"tokens": [
        {"token": "alice-secret-0123456789", "user": "alice", "tenant": "acme"},
        {"token_sha256": "<hex digest of a token>", "user": "bob"},
        {"token": "admin-secret-0123456789", "user": "*", "tenant": "*", "name": "ops"}
    ]}

``token_sha256`` keeps the secret itself out of the file. Make a token with
``python -c "import secrets; print(secrets.token_urlsafe(32))"``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.errors import ConfigurationError, InvalidScopeError, MnemoplugError
from .core.validation import check_id

__all__ = [
    "ANY",
    "MIN_TOKEN_CHARS",
    "AccessDeniedError",
    "Principal",
    "TokenMap",
    "load_tokens",
    "token_digest",
]

#: the wildcard user or tenant of an administrator token
ANY = "*"
#: shortest token accepted (a short token can be guessed)
MIN_TOKEN_CHARS = 16
_HOW = (
    'expected {"tokens": [{"token": "...", "user": "alice", "tenant": "acme"}, ...]} '
    "(see mnemoplug.auth)"
)


class AccessDeniedError(MnemoplugError, PermissionError):
    """The request's token may not touch the memories it asked for."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a token stands for: one user of one tenant, or ``"*"`` (an administrator)."""

    user_id: str
    tenant_id: str | None = None
    name: str = ""

    @property
    def is_admin(self) -> bool:
        return self.user_id == ANY

    @property
    def tenant(self) -> str:
        """The tenant as stores key it ('' is the default tenant)."""
        return self.tenant_id or ""

    def may_access(self, user_id: str, tenant_id: str | None) -> bool:
        """True when this principal may read and change ``user_id``'s memories in ``tenant_id``."""
        if self.tenant_id != ANY and (tenant_id or "") != self.tenant:
            return False
        return self.is_admin or user_id == self.user_id

    def check_access(self, user_id: str, tenant_id: str | None) -> None:
        """Raise AccessDeniedError unless :meth:`may_access`."""
        if not self.may_access(user_id, tenant_id):
            raise AccessDeniedError(
                f"this token may not access user {user_id!r} in tenant {tenant_id or ''!r}"
            )


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token (what ``token_sha256`` holds)."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenMap:
    """Known tokens (as digests) and the principal each one stands for."""

    def __init__(self, entries: Iterable[tuple[str, Principal]] = ()) -> None:
        self._entries: list[tuple[bytes, Principal]] = [
            (bytes.fromhex(digest), principal) for digest, principal in entries
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TokenMap({len(self)} tokens)"

    @classmethod
    def from_mapping(cls, data: Any, *, source: str = "tokens") -> TokenMap:
        """Parse ``{"tokens": [...]}`` (see the module docstring); ConfigurationError if bad."""
        items = data.get("tokens") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise ConfigurationError(f"{source}: {_HOW}")
        entries: list[tuple[str, Principal]] = []
        for i, item in enumerate(items):
            where = f"{source}: tokens[{i}]"
            if not isinstance(item, Mapping):
                raise ConfigurationError(f"{where} is not an object; {_HOW}")
            entries.append((_digest_of(item, where), _principal_of(item, where)))
        return cls(entries)

    @classmethod
    def single(cls, token: str, user_id: str, tenant_id: str | None = None) -> TokenMap:
        """One token for one user (for tests and quick set-ups)."""
        return cls.from_mapping(
            {"tokens": [{"token": token, "user": user_id, "tenant": tenant_id}]}
        )

    def lookup(self, token: str | None) -> Principal | None:
        """The principal of ``token``, or None for a missing or unknown token."""
        if not token:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        found: Principal | None = None
        for known, principal in self._entries:  # compare with every entry, in constant time
            if hmac.compare_digest(known, digest):
                found = principal
        return found

    def from_header(self, authorization: str | None) -> Principal | None:
        """The principal of an ``Authorization: Bearer <token>`` header value, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.lookup(token.strip())


def _digest_of(item: Mapping[str, Any], where: str) -> str:
    token, digest = item.get("token"), item.get("token_sha256")
    if (token is None) == (digest is None):
        raise ConfigurationError(f"{where} needs exactly one of 'token' or 'token_sha256'")
    if token is not None:
        if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS:
            raise ConfigurationError(
                f"{where}: a token must be a string of at least {MIN_TOKEN_CHARS} characters; "
                'make one with python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        return token_digest(token)
    if not isinstance(digest, str) or len(digest) != 64:
        raise ConfigurationError(f"{where}: token_sha256 must be 64 hex characters")
    try:
        bytes.fromhex(digest)
    except ValueError:
        raise ConfigurationError(f"{where}: token_sha256 must be 64 hex characters") from None
    return digest.lower()


def _principal_of(item: Mapping[str, Any], where: str) -> Principal:
    user, tenant, name = item.get("user"), item.get("tenant"), item.get("name", "")
    try:
        if user != ANY:
            check_id("user_id", user, required=True)
        if tenant not in (None, "", ANY):
            check_id("tenant_id", tenant, required=False)
    except InvalidScopeError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    if tenant == ANY and user != ANY:
        raise ConfigurationError(f"{where}: tenant '*' needs user '*' (an administrator)")
    if not isinstance(name, str):
        raise ConfigurationError(f"{where}: name must be a string")
    return Principal(user_id=str(user), tenant_id=str(tenant) if tenant else None, name=name)


def load_tokens(path: str | os.PathLike[str] | None = None) -> TokenMap:
    """The tokens of ``path``, else of ``$MNEMOPLUG_TOKEN_FILE``, else of ``$MNEMOPLUG_TOKENS``.

    Raises ConfigurationError when none is configured (no token, no access) or one is bad."""
    path = path or os.environ.get("MNEMOPLUG_TOKEN_FILE") or None
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the token file {source}: {exc}") from None
    elif os.environ.get("MNEMOPLUG_TOKENS"):
        source, text = "$MNEMOPLUG_TOKENS", os.environ["MNEMOPLUG_TOKENS"]
    else:
        raise ConfigurationError(
            "no bearer tokens configured: the HTTP server serves no request without one. "
            "Pass --tokens FILE or set $MNEMOPLUG_TOKEN_FILE or $MNEMOPLUG_TOKENS to "
            '{"tokens": [{"token": "...", "user": "alice"}]} (see mnemoplug.auth)'
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{source} is not valid JSON ({exc}); {_HOW}") from None
    tokens = TokenMap.from_mapping(data, source=source)
    if not tokens:
        raise ConfigurationError(f"{source} lists no tokens; {_HOW}")
    return tokens
