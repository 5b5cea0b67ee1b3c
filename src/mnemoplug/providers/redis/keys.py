"""How ids become Redis key segments, and the memory store's key layout.

Tenant and user ids may hold any character, ``:`` included, so they are never written into a
key as they are: the memory store percent-encodes them (:func:`member`), the session and
checkpoint stores write ``<utf-8 byte length>:<id>`` (:func:`part`). Both are unambiguous;
they differ only because their stored data already uses them.

Memory store keys, schema 2 (``P`` is the prefix, ``<u>`` the user's :func:`member`)::

    P:meta                hash: schema version, embedder name and dimension
    P:{<u>}:m:<id>        hash: ``j`` = the memory as JSON, ``e`` = float32 embedding
    P:{<u>}:ids           set of the user's memory ids (the per-scope index)
    P:{<u>}:gen           the user's generation counter, INCR-ed by every write to the user
    P:{<u>}:exp           sorted set: the user's memory id -> expires_at (for purge_expired)
    P:users               set of the ``<u>`` that hold (or held) memories
    P:due                 sorted set: ``<u>`` -> a lower bound of the user's earliest expiry
    P:epoch               random token; a new one (after FLUSHDB, or a restart without
                          persistence) tells cached stores that generations restarted

``{<u>}`` is a Redis Cluster hash tag: all of one user's keys hash to one slot, so every
transaction and Lua script of the memory store, which touches one user's keys only, runs on one
node. On a cluster the store-wide keys (``P:users``, ``P:due``, ``P:epoch``, ``P:meta``) are
only ever read or written by single-key commands of their own (:mod:`.user_registry`). A memory id is therefore unique per user, not store-wide.

Schema 1 (mnemoplug before the cluster layout) wrote ``P:m:<id>``, ``P:u:<u>:ids``,
``P:u:<u>:gen`` and one store-wide ``P:exp``; :mod:`.migration` renames them on open.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from ...core.errors import ConfigurationError

__all__ = [
    "MemoryKeys",
    "check_cluster_prefix",
    "glob_escape",
    "member",
    "parse_member",
    "part",
]

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


def check_cluster_prefix(prefix: str) -> None:
    """Refuse a prefix with ``{`` or ``}`` on a cluster: Redis would take the hash tag from it
    (or from an empty ``{}``), and a store's keys that must share a slot might not."""
    if "{" in prefix or "}" in prefix:
        raise ConfigurationError(
            f"on a Redis Cluster the key prefix must not contain '{{' or '}}' (the keys' hash "
            f"tags use them), got {prefix!r}; choose another prefix"
        )


def glob_escape(s: str) -> str:
    """``s`` with the glob characters of ``SCAN MATCH`` escaped."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in s)


@dataclass(frozen=True)
class MemoryKeys:
    """The memory store's keys under one prefix (see the module docstring)."""

    prefix: str

    def tag(self, key: UserKey) -> str:
        """What every key of the user starts with: ``P:{<u>}:``."""
        return f"{self.prefix}:{{{member(key)}}}:"

    def memory(self, key: UserKey, memory_id: str) -> str:
        return f"{self.tag(key)}m:{memory_id}"

    def memory_prefix(self, key: UserKey) -> str:
        """What :meth:`memory` puts before the id (the Lua loader builds the user's keys from
        it; they share the slot of the keys it is given)."""
        return f"{self.tag(key)}m:"

    def user(self, key: UserKey, what: str) -> str:
        """The user's ``ids`` set, ``gen`` counter or ``exp`` sorted set."""
        return f"{self.tag(key)}{what}"

    @property
    def users(self) -> str:
        return f"{self.prefix}:users"

    @property
    def due(self) -> str:
        return f"{self.prefix}:due"

    @property
    def epoch(self) -> str:
        return f"{self.prefix}:epoch"

    @property
    def meta(self) -> str:
        return f"{self.prefix}:meta"

    def families(self) -> tuple[str, ...]:
        """SCAN patterns of the per-user keys, and of schema 1's per-memory and per-user keys
        (for dropping the store)."""
        p = glob_escape(self.prefix)
        return (f"{p}:{{*", f"{p}:m:*", f"{p}:u:*")

    def singles(self) -> tuple[str, ...]:
        """The store-wide keys (schema 1's ``P:exp`` too)."""
        return (self.users, self.due, self.epoch, self.meta, f"{self.prefix}:exp")
