"""Session memory: the running conversation of one session, kept apart from long-term memory.

A session is an ordered list of :class:`Message` objects under a ``session_id``. It belongs
to the ``(tenant_id, user_id)`` given on its first write; a later write naming another owner
raises :class:`SessionOwnershipError` and stores nothing. Reads that name a ``user_id`` see
only that user's sessions (another user's session reads as empty); reads without ``user_id``
trust the caller (the session id is the capability).

:class:`SessionMemory` is the seeds' four-method interface. Every built-in backend implements
the :class:`~mnemoplug.core.stores.SessionStore` contract on top of it (``tests/stores/
test_session_store_contract.py`` holds them to it): the base class validates input, runs the
``on_session_message`` hook when bound to a :class:`~mnemoplug.core.plugins.HookManager`,
summarises and searches; a backend implements the ``_``-prefixed storage primitives.

Backends: ``memory://`` (in process), ``sqlite:///path.db``, ``redis://…``,
``postgresql+asyncpg://…`` — see :func:`session_memory_from_url`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._time import now_ts, to_dt, to_ts
from .errors import (
    InvalidMessageError,
    MnemoplugError,
    SessionOwnershipError,
)
from .records import new_memory_id
from .roles import ROLE_ALIASES, ROLES
from .validation import MAX_ID_CHARS, check_id, check_metadata, check_text

if TYPE_CHECKING:
    from .stores import SessionStore

__all__ = [
    "DEFAULT_SUMMARY_TURNS",
    "Message",
    "SessionInfo",
    "SessionMemory",
    "SessionOwnershipError",
    "Summarizer",
    "coerce_message",
    "conversation_id_for",
    "create_conversation_id",
    "default_summarizer",
    "session_memory_from_url",
]

Role = Literal["user", "assistant", "system", "tool"]
#: how many of the last messages the default summary quotes
DEFAULT_SUMMARY_TURNS = 4
_SUMMARY_CHARS = 200
#: the largest ``limit`` a session read takes
_MAX_MESSAGES = 2**31 - 1

#: a summarizer: any callable given the session's messages (chronological) returning the
#: summary text, or an awaitable of it (an LLM call, typically)
Summarizer = Callable[[list["Message"]], "str | Awaitable[str]"]


def _normalise_role(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"role must be one of {', '.join(ROLES)} (or the aliases human, ai), got {value!r}"
        )
    role = ROLE_ALIASES.get(value.lower(), value.lower())
    if role not in ROLES:
        raise ValueError(
            f"unknown role {value!r}; use one of {', '.join(ROLES)} "
            f"(human -> user and ai -> assistant are accepted)"
        )
    return role


class Message(BaseModel):
    """One session message.

    ``id`` is time-ordered (UUIDv7-style) unless given; ``timestamp`` is an aware UTC datetime
    (naive datetimes are taken as UTC). Invalid input raises :class:`InvalidMessageError`
    naming the fix. Hooks may change ``content`` and ``metadata`` in place; the result is
    validated again before it is stored.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_memory_id)
    role: Role
    content: str
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metadata: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidMessageError(_explain(exc)) from None

    @field_validator("id", mode="before")
    @classmethod
    def _check_id(cls, v: Any) -> Any:
        if not isinstance(v, str) or not v.strip() or len(v) > MAX_ID_CHARS or "\x00" in v:
            raise ValueError(
                f"message id must be a non-empty string of at most {MAX_ID_CHARS} characters "
                f"without NUL (or leave it out to get a new one), got {v!r}"
            )
        return _utf8(v, "message id")

    @field_validator("role", mode="before")
    @classmethod
    def _check_role(cls, v: Any) -> Any:
        return _normalise_role(v)

    @field_validator("content", mode="before")
    @classmethod
    def _check_content(cls, v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError(
                f"content must be a string, got {type(v).__name__}; join multi-part content "
                f"into text before storing it"
            )
        if not v.strip():
            raise ValueError("content is empty; pass the message text")
        if "\x00" in v:
            raise ValueError("content contains a NUL character (\\x00); remove it first")
        return _utf8(v, "content")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _check_timestamp(cls, v: Any) -> Any:
        try:
            ts = to_ts(v)
            if not math.isfinite(ts):
                raise ValueError(f"{v!r} is not a finite time")
            return to_dt(ts)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise ValueError(
                f"timestamp must be a datetime, epoch seconds or ISO-8601 string ({exc})"
            ) from None

    @field_validator("metadata", mode="before")
    @classmethod
    def _check_metadata(cls, v: Any) -> Any:
        try:
            return check_metadata(v)
        except MnemoplugError as exc:
            raise ValueError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``id, role, content, timestamp`` (ISO-8601), ``metadata``."""
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "timestamp": self.timestamp.isoformat(),
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Build a message from a dict like ``{"role": "user", "content": "hi"}``.

        Accepts ``type`` for ``role`` (LangChain's dumps) and the role aliases
        human → user, ai → assistant; ``id``, ``timestamp`` and ``metadata`` are optional.
        """
        if not isinstance(data, Mapping):
            raise InvalidMessageError(
                f"expected a dict like {{'role': 'user', 'content': '...'}}, "
                f"got {type(data).__name__}"
            )
        d = dict(data)
        if "role" not in d and "type" in d:
            d["role"] = d.pop("type")
        else:
            d.pop("type", None)
        if "role" not in d:
            raise InvalidMessageError(
                "message has no role; pass {'role': 'user', 'content': '...'}"
            )
        if d.get("id") is None:
            d.pop("id", None)
        if d.get("timestamp") is None:
            d.pop("timestamp", None)
        if d.get("metadata") is None:
            d.pop("metadata", None)
        unknown = set(d) - set(cls.model_fields)
        if unknown:
            raise InvalidMessageError(
                f"message has unknown keys {sorted(unknown)}; put extra data in 'metadata'"
            )
        return cls(**d)


def _utf8(value: str, what: str) -> str:
    try:
        return check_text(value, what, InvalidMessageError)
    except InvalidMessageError as exc:
        raise ValueError(str(exc)) from None


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "message"
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "missing":
            msg = "is required; pass e.g. {'role': 'user', 'content': '...'}"
        elif err.get("type") == "extra_forbidden":
            msg = "is not a message field; put extra data in 'metadata'"
        parts.append(f"{where}: {msg}")
    return "invalid session message: " + "; ".join(parts)


def coerce_message(item: Any) -> Message:
    """A :class:`Message` from a Message, a dict, or an object with ``role`` (or LangChain's
    ``type``) and ``content`` (and optionally ``id``). Raises :class:`InvalidMessageError`."""
    if isinstance(item, Message):
        return Message(**item.model_dump())  # a copy, validated again
    if isinstance(item, Mapping):
        return Message.from_dict(item)
    role = getattr(item, "role", None) or getattr(item, "type", None)
    if role is None or not hasattr(item, "content"):
        raise InvalidMessageError(
            f"cannot store a {type(item).__name__} as a session message; pass a Message, a dict "
            f"like {{'role': 'user', 'content': '...'}} or an object with role/type and content"
        )
    data: dict[str, Any] = {"role": role, "content": item.content}
    mid = getattr(item, "id", None)
    if isinstance(mid, str) and mid:
        data["id"] = mid
    meta = getattr(item, "metadata", None)
    if isinstance(meta, Mapping):
        data["metadata"] = meta
    return Message(**data)


class SessionInfo(BaseModel):
    """What a session holds: owner, times (aware UTC), message count and metadata."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    created_at: datetime
    updated_at: datetime
    message_count: int
    metadata: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = None
    tenant_id: str | None = None


# -- ids ----------------------------------------------------------------------------------------
def create_conversation_id(prefix: str | None = None) -> str:
    """A new random, time-ordered conversation id (``"<prefix>-<uuid7>"`` with a prefix)."""
    cid = new_memory_id()
    if prefix is None:
        return cid
    if not isinstance(prefix, str) or not prefix.strip():
        raise InvalidMessageError(f"prefix must be a non-empty string or None, got {prefix!r}")
    return f"{prefix}-{cid}"


def conversation_id_for(
    user_id: str,
    *,
    tenant_id: str | None = None,
    channel: str | None = None,
    key: bytes | str | None = None,
) -> str:
    """A deterministic conversation id for a user (and channel): the same in every process.

    ``"conv-" + sha256(tenant, user, channel)[:32]``; ids of different users never collide
    in practice, and the id reveals nothing of the user id. But anyone who knows a user id can
    compute the id, and so claim the session first (its first writer owns it). With ``key`` (a
    secret of at least 16 bytes, the same in every process of the application) the id is an
    HMAC-SHA256 instead, ``"convk-" + hmac(key, tenant, user, channel)[:32]``: unguessable
    without the key.
    """
    check_id("user_id", user_id, required=True)
    check_id("tenant_id", tenant_id, required=False)
    check_id("channel", channel, required=False)
    raw_key = _conversation_key(key)
    h = hashlib.sha256() if raw_key is None else hmac.new(raw_key, digestmod=hashlib.sha256)
    for part in (tenant_id or "", user_id, channel or ""):
        raw = part.encode("utf-8")
        h.update(len(raw).to_bytes(4, "big") + raw)
    return ("conv-" if raw_key is None else "convk-") + h.hexdigest()[:32]


def _conversation_key(key: Any) -> bytes | None:
    if key is None:
        return None
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if not isinstance(raw, bytes) or len(raw) < 16:
        raise InvalidMessageError(
            "key must be a secret of at least 16 bytes (bytes or str), e.g. "
            "secrets.token_bytes(32) kept in your configuration"
        )
    return raw


# -- validation helpers -------------------------------------------------------------------------
def check_session_id(session_id: Any) -> str:
    """The session id if valid; InvalidMessageError (with the fix) otherwise."""
    if not isinstance(session_id, str) or not session_id.strip():
        raise InvalidMessageError(
            f"session_id must be a non-empty string, got {session_id!r}; "
            f"use create_conversation_id() or conversation_id_for(user_id)"
        )
    if len(session_id) > MAX_ID_CHARS or "\x00" in session_id:
        raise InvalidMessageError(
            f"session_id must be at most {MAX_ID_CHARS} characters without NUL; "
            f"got {len(session_id)} characters"
        )
    return check_text(session_id, "session_id", InvalidMessageError)


def owner_key(user_id: Any, tenant_id: Any) -> tuple[str, str]:
    """``(tenant, user)`` as stored: '' for None. Validates both."""
    check_id("user_id", user_id, required=False)
    check_id("tenant_id", tenant_id, required=False)
    return (tenant_id or "", user_id or "")


def owner_filter(user_id: Any, tenant_id: Any) -> tuple[str | None, str | None]:
    """``(tenant, user)`` to filter by, None = any. A user_id without tenant_id means the
    default tenant; a tenant_id alone means every user of that tenant; neither means all."""
    check_id("user_id", user_id, required=False)
    check_id("tenant_id", tenant_id, required=False)
    if user_id is not None:
        return (tenant_id or "", user_id)
    return (tenant_id, None)


def _check_limit(limit: Any, name: str = "limit", *, allow_none: bool = False) -> int | None:
    if limit is None and allow_none:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_MESSAGES:
        raise InvalidMessageError(
            f"{name} must be an integer from 1 to {_MAX_MESSAGES}, got {limit!r}"
        )
    return limit


def _cutoff(older_than: timedelta | datetime | float) -> float:
    cutoff: float | None = None
    try:
        if isinstance(older_than, timedelta):
            cutoff = now_ts() - older_than.total_seconds()
        elif isinstance(older_than, datetime):
            cutoff = to_ts(older_than)
        elif isinstance(older_than, int | float) and not isinstance(older_than, bool):
            cutoff = now_ts() - float(older_than)  # seconds
    except (OverflowError, ValueError) as exc:
        raise InvalidMessageError(f"older_than {older_than!r} is out of range: {exc}") from None
    if cutoff is not None:
        if not math.isfinite(cutoff):
            raise InvalidMessageError(f"older_than must be finite, got {older_than!r}")
        return cutoff
    raise InvalidMessageError(
        f"older_than must be a timedelta (age), a datetime (cutoff) or seconds, "
        f"got {type(older_than).__name__}"
    )


def _truncate(text: str, n: int = _SUMMARY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def default_summarizer(messages: Sequence[Message], *, turns: int = DEFAULT_SUMMARY_TURNS) -> str:
    """The deterministic summary used without an LLM.

    Format (``""`` for an empty session)::

        5 messages (2 user, 2 assistant, 1 system).
        First user message: <text, whitespace collapsed, at most 200 characters>
        Last 4 messages:
        user: <…>
        assistant: <…>
    """
    if not messages:
        return ""
    counts = {r: 0 for r in ROLES}
    for m in messages:
        counts[m.role] += 1
    by_role = ", ".join(f"{n} {r}" for r, n in counts.items() if n)
    n = len(messages)
    lines = [f"{n} message{'s' if n != 1 else ''} ({by_role})."]
    first = next((m for m in messages if m.role == "user"), None)
    if first is not None:
        lines.append(f"First user message: {_truncate(first.content)}")
    tail = list(messages[-turns:]) if turns > 0 else []
    if tail:
        lines.append(f"Last {len(tail)} message{'s' if len(tail) != 1 else ''}:")
        lines.extend(f"{m.role}: {_truncate(m.content)}" for m in tail)
    return "\n".join(lines)


def encode_message(m: Message) -> str:
    """The JSON text backends store for a message."""
    import json

    return json.dumps(m.to_dict(), separators=(",", ":"), ensure_ascii=False)


def decode_message(raw: str | bytes) -> Message:
    import json

    d = json.loads(raw)
    return Message.model_construct(
        id=d["id"],
        role=d["role"],
        content=d["content"],
        timestamp=datetime.fromisoformat(d["timestamp"]),
        metadata=d.get("metadata") or {},
    )


def make_info(
    session_id: str,
    tenant: str,
    user: str,
    created_at: float,
    updated_at: float,
    count: int,
    metadata: dict[str, Any] | None = None,
) -> SessionInfo:
    return SessionInfo(
        session_id=session_id,
        created_at=to_dt(created_at),  # type: ignore[arg-type]
        updated_at=to_dt(updated_at),  # type: ignore[arg-type]
        message_count=count,
        metadata=metadata or {},
        user_id=user or None,
        tenant_id=tenant or None,
    )


# -- the ABC ------------------------------------------------------------------------------------
class SessionMemory(ABC):
    """The seeds' session-memory interface: the running conversation of one session.

    Four async methods: :meth:`get_messages`, :meth:`add_message`, :meth:`clear`,
    :meth:`summarize`. The built-in classes (``InMemorySessionMemory``, ``SQLiteSessionMemory``,
    ``RedisSessionMemory(url=..., ttl_seconds=..., max_messages=...)``,
    ``PostgresSessionMemory``) implement it on top of the :class:`~mnemoplug.core.stores.SessionStore`
    contract, which adds ownership, hooks, search and listing. Subclass this to plug in your
    own conversation store.
    """

    @abstractmethod
    async def get_messages(self, session_id: str) -> Sequence[Any]:
        """The conversation history, oldest first."""

    @abstractmethod
    async def add_message(self, session_id: str, message: Any) -> Any:
        """Append one message to the history."""

    @abstractmethod
    async def clear(self, session_id: str) -> Any:
        """Delete the session's history."""

    @abstractmethod
    async def summarize(self, session_id: str) -> str:
        """A summary of the conversation."""


# -- factory ------------------------------------------------------------------------------------
def session_memory_from_url(url: str, **options: Any) -> SessionStore:
    """A session store for ``url``: ``memory://``, ``sqlite:///path.db``, ``redis://host:6379/0``
    (also ``rediss://``), ``postgresql+asyncpg://user@host/db`` (``postgresql://`` too), or any
    scheme a plugin registered with ``kind="session"``. Keyword options go to the backend's
    constructor."""
    from .registry import store_from_url

    store: SessionStore = store_from_url("session", url, **options)
    return store
