"""In-process session memory: ``session_memory_from_url("memory://")``.

Nothing is persisted. Bounded three ways, all optional:

* ``max_sessions``: when a new session would exceed it, the least recently used session (read
  or written) is evicted;
* ``max_messages`` (alias ``max_messages_per_session``): the oldest messages are dropped;
* ``ttl_seconds`` (or ``ttl``): seconds (or a timedelta) since a session's last write, after
  which it is gone.

Safe for concurrent tasks of one event loop (every primitive runs without awaiting).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from ...core._time import now_ts
from ...core.errors import ConfigurationError
from ...core.session import Message, SessionInfo, Summarizer, make_info
from ...core.stores import SessionStore
from .._options import optional_positive_int
from .._sessions import max_messages_option, ownership_error, session_ttl
from .memory_store import memory_url

__all__ = ["InMemorySessionMemory"]


@dataclass(slots=True)
class _Session:
    tenant: str
    user: str
    created_at: float
    updated_at: float
    messages: list[Message] = field(default_factory=list)


class InMemorySessionMemory(SessionStore):
    """Sessions in a dict in this process.

    Args:
        url: ``memory://`` (the default).
        max_sessions: keep at most this many sessions (LRU eviction); None = unbounded.
        max_messages: keep the last N messages per session; None = all.
        ttl_seconds: a session expires this long after its last write (seconds or a
            timedelta); None = never. ``ttl`` is the older name (pass one of them).
        summarizer: see :class:`~mnemoplug.core.stores.SessionStore`.
    """

    name = "memory"

    def __init__(
        self,
        url: str | None = None,
        *,
        max_sessions: int | None = None,
        max_messages: int | None = None,
        max_messages_per_session: int | None = None,
        ttl: float | timedelta | None = None,
        ttl_seconds: float | timedelta | None = None,
        summarizer: Summarizer | None = None,
    ) -> None:
        super().__init__(summarizer=summarizer)
        if max_messages is not None and max_messages_per_session is not None:
            raise ConfigurationError("pass max_messages or max_messages_per_session, not both")
        self.url = memory_url(url)
        self.max_sessions = optional_positive_int("max_sessions", max_sessions)
        if max_messages is None and max_messages_per_session is not None:
            self.max_messages = max_messages_option(
                max_messages_per_session, "max_messages_per_session"
            )
        else:
            self.max_messages = max_messages_option(max_messages)
        self.ttl = session_ttl(ttl, ttl_seconds)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def _live(self, session_id: str, *, touch: bool = True) -> _Session | None:
        s = self._sessions.get(session_id)
        if s is None:
            return None
        if self.ttl is not None and s.updated_at + self.ttl <= now_ts():
            del self._sessions[session_id]
            return None
        if touch:
            self._sessions.move_to_end(session_id)
        return s

    def _purge_expired(self) -> None:
        if self.ttl is None:
            return
        cutoff = now_ts() - self.ttl
        for sid in [k for k, s in self._sessions.items() if s.updated_at <= cutoff]:
            del self._sessions[sid]

    def _info_of(self, sid: str, s: _Session) -> SessionInfo:
        return make_info(sid, s.tenant, s.user, s.created_at, s.updated_at, len(s.messages))

    async def _append(
        self, session_id: str, messages: list[Message], owner: tuple[str, str], now: float
    ) -> None:
        s = self._live(session_id)
        if s is None:
            self._purge_expired()
            s = _Session(tenant=owner[0], user=owner[1], created_at=now, updated_at=now)
            self._sessions[session_id] = s
            if self.max_sessions is not None:
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
        elif (s.tenant, s.user) != owner:
            raise ownership_error(session_id)
        s.messages.extend(m.model_copy(deep=True) for m in messages)  # not the caller's
        if self.max_messages is not None and len(s.messages) > self.max_messages:
            del s.messages[: len(s.messages) - self.max_messages]
        s.updated_at = max(now, s.updated_at)

    async def _info(self, session_id: str) -> SessionInfo | None:
        s = self._live(session_id, touch=False)
        return None if s is None else self._info_of(session_id, s)

    async def _get(self, session_id: str, limit: int | None) -> list[Message]:
        s = self._live(session_id)
        if s is None:
            return []
        msgs = s.messages if limit is None else s.messages[-limit:]
        return [m.model_copy(deep=True) for m in msgs]

    async def _clear(self, session_id: str) -> int:
        s = self._live(session_id, touch=False)  # an expired session held nothing any more
        self._sessions.pop(session_id, None)
        return 0 if s is None else len(s.messages)

    async def _list(
        self, tenant: str | None, user: str | None, limit: int | None
    ) -> list[SessionInfo]:
        self._purge_expired()
        rows = [
            (sid, s)
            for sid, s in self._sessions.items()
            if (tenant is None or s.tenant == tenant) and (user is None or s.user == user)
        ]
        rows.sort(key=lambda r: r[1].updated_at, reverse=True)
        if limit is not None:
            rows = rows[:limit]
        return [self._info_of(sid, s) for sid, s in rows]

    async def _clear_older(self, cutoff: float) -> int:
        self._purge_expired()  # gone already: not counted
        old = [sid for sid, s in self._sessions.items() if s.updated_at < cutoff]
        for sid in old:
            del self._sessions[sid]
        return len(old)

    async def _rewrite(
        self, session_id: str, transform: Callable[[Message], Message | None]
    ) -> int:
        s = self._live(session_id, touch=False)
        if s is None:
            return 0
        new = [transform(m.model_copy(deep=True)) for m in s.messages]  # all or nothing
        for i, m in enumerate(new):
            if m is not None:
                s.messages[i] = m
        return sum(m is not None for m in new)

    def session_ids(self) -> list[str]:
        """Live session ids, least recently used first (for inspection and tests)."""
        self._purge_expired()
        return list(self._sessions)
