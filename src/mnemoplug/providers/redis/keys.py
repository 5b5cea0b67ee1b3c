"""How ids become Redis key segments, and the memory store's key layout.

Tenant and user ids may hold any character, ``:`` included, so they are never written into a
key as they are: the memory store percent-encodes them (:func:`member`), the session and
checkpoint stores write ``<utf-8 byte length>:<id>`` (:func:`part`). Both are unambiguous;
they differ only because their stored data already uses them.

Memory store keys (``P`` is the prefix)::

    P:meta                    hash: schema version, embedder name and dimension
    P:m:<id>                  hash: ``j`` = the memory as JSON, ``e`` = float32 embedding
    P:u:<tenant>:<user>:ids   set of the user's memory ids (the per-scope index)
    P:u:<tenant>:<user>:gen   the user's generation counter, INCR-ed by every write to the user
    P:users                   set of ``<tenant>:<user>`` that ever held memories
    P:exp                     sorted set: memory id -> expires_at (for purge_expired)
    P:epoch                   random token; a new one (after FLUSHDB, or a restart without
                              persistence) tells cached stores that generations restarted
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = ["MemoryKeys", "glob_escape", "member", "parse_member", "part"]

UserKey = tuple[str, str]


def part(value: str) -> str:
    """An id as an unambiguous key segment: ``<utf-8 byte length>:<value>``."""
    return f"{len(value.encode('utf-8'))}:{value}"


def member(key: UserKey) -> str:
    """``<tenant>:<user>``, both percent-encoded (``:`` in them is safe)."""
    return f"{quote(key[0], safe='')}:{quote(key[1], safe='')}"


def parse_member(value: str) -> UserKey:
    """The ``(tenant, user)`` of a :func:`member` string."""
    t, _, u = value.partition(":")
    return unquote(t), unquote(u)


def glob_escape(s: str) -> str:
    """``s`` with the glob characters of ``SCAN MATCH`` escaped."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in s)


@dataclass(frozen=True)
class MemoryKeys:
    """The memory store's keys under one prefix (see the module docstring)."""

    prefix: str

    def memory(self, memory_id: str) -> str:
        return f"{self.prefix}:m:{memory_id}"

    @property
    def memory_prefix(self) -> str:
        """What :meth:`memory` puts before the id (the Lua loaders build keys from it)."""
        return f"{self.prefix}:m:"

    def user(self, key: UserKey, what: str) -> str:
        """The user's ``ids`` set or ``gen`` counter."""
        return f"{self.prefix}:u:{member(key)}:{what}"

    @property
    def users(self) -> str:
        return f"{self.prefix}:users"

    @property
    def expiry(self) -> str:
        return f"{self.prefix}:exp"

    @property
    def epoch(self) -> str:
        return f"{self.prefix}:epoch"

    @property
    def meta(self) -> str:
        return f"{self.prefix}:meta"

    def families(self) -> tuple[str, ...]:
        """SCAN patterns of the per-memory and per-user keys (for dropping the store)."""
        p = glob_escape(self.prefix)
        return (f"{p}:m:*", f"{p}:u:*")
