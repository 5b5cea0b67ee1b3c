"""Input validation shared by the facade and every provider. Errors say how to fix the input."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from ._time import to_ts
from .errors import (
    ContentTooLargeError,
    InvalidContentError,
    InvalidMetadataError,
    InvalidScopeError,
    MemoryValidationError,
)
from .records import Scope
from .roles import message_parts, normalise_role

MAX_ID_CHARS = 256
DEFAULT_MAX_CONTENT_CHARS = 32_768
#: most memories one call returns (search, get_all)
MAX_LIMIT = 10_000
#: the epoch seconds of 0001-01-01 and 9999-12-31T23:59:59.999999 (UTC): what a datetime holds
_FIRST_TS, _LAST_TS = -62_135_596_800.0, 253_402_300_799.999999
#: largest ``offset`` of ``get_all``
MAX_OFFSET = 1_000_000_000
#: deepest nesting of dicts/lists in metadata (and checkpoint state, filter operands)
MAX_METADATA_DEPTH = 32
#: largest metadata, as compact JSON text (characters)
MAX_METADATA_CHARS = 1_000_000
#: integers in metadata and filters: signed 64-bit (what every store keeps exactly)
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1


def check_text(value: str, what: str, error: type[MemoryValidationError]) -> str:
    """``value`` if it is valid Unicode text (encodable as UTF-8, so no lone surrogates), else
    ``error`` naming the position. Every store keeps text as UTF-8."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(
            f"{what} is not valid Unicode text: it has a lone surrogate {value[exc.start]!r} at "
            f"index {exc.start}; decode bytes with errors='replace' (or fix the text) first"
        ) from None
    return value


def check_id(name: str, value: Any, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise InvalidScopeError(
                f"{name} is required: pass {name}='...' (a non-empty string) so memories "
                f"stay scoped to one user"
            )
        return None
    if not isinstance(value, str):
        raise InvalidScopeError(
            f"{name} must be a string, got {type(value).__name__} {value!r}; "
            f"convert it with str() if it is a numeric id"
        )
    if not value.strip():
        raise InvalidScopeError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > MAX_ID_CHARS:
        raise InvalidScopeError(f"{name} is {len(value)} characters; the limit is {MAX_ID_CHARS}")
    if "\x00" in value:
        raise InvalidScopeError(f"{name} must not contain NUL characters")
    return check_text(value, name, InvalidScopeError)


def make_scope(
    user_id: Any,
    tenant_id: Any = None,
    agent_id: Any = None,
    session_id: Any = None,
) -> Scope:
    return Scope(
        user_id=check_id("user_id", user_id, required=True),  # type: ignore[arg-type]
        tenant_id=check_id("tenant_id", tenant_id, required=False),
        agent_id=check_id("agent_id", agent_id, required=False),
        session_id=check_id("session_id", session_id, required=False),
    )


def check_content(
    content: Any, max_chars: int, *, what: str = "content", allow_nul: bool = False
) -> str:
    """Text to store (or, with ``allow_nul``, a query): a non-empty string of at most
    ``max_chars`` characters. NUL characters are refused in stored text on every store alike
    (PostgreSQL text cannot hold them, so accepting them elsewhere would break a migration)."""
    if not isinstance(content, str):
        raise InvalidContentError(
            f"{what} must be a string (or, for add(), a list of chat messages), "
            f"got {type(content).__name__}"
        )
    if not content.strip():
        raise InvalidContentError(f"{what} is empty; pass the text to remember")
    if len(content) > max_chars:
        raise ContentTooLargeError(
            f"{what} is {len(content)} characters; the limit is {max_chars}. Split it into "
            f"several memories or raise Memory(max_content_chars=...)"
        )
    if not allow_nul and "\x00" in content:
        raise InvalidContentError(
            f"{what} contains a NUL character (\\x00); remove it or replace it before storing"
        )
    return check_text(content, what, InvalidContentError)


def check_json_value(
    value: Any,
    path: str,
    error: type[MemoryValidationError] = InvalidMetadataError,
    *,
    what: str = "metadata",
    depth: int = 0,
    operand: bool = False,
) -> None:
    """Refuse what is not plain JSON every store keeps exactly: NaN/infinity, integers beyond
    signed 64 bits, NUL characters and lone surrogates in strings or keys, non-string keys,
    nesting deeper than :data:`MAX_METADATA_DEPTH` (which also catches self-references).
    ``operand``: a filter operand, only compared in process: any text is harmless there."""
    if isinstance(value, str):
        if operand:
            return
        if "\x00" in value:
            raise error(f"{what}{path} contains a NUL character (\\x00)")
        check_text(value, f"{what}{path}", error)
        return
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise error(
                f"{what}{path} is an integer outside the signed 64-bit range; store it as a "
                f"string (str(value))"
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise error(f"{what}{path} is {value}; JSON has no NaN or infinity")
        return
    if depth >= MAX_METADATA_DEPTH and isinstance(value, list | tuple | Mapping):
        raise error(
            f"{what}{path} is nested more than {MAX_METADATA_DEPTH} levels deep (or refers to "
            f"itself); flatten it"
        )
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_json_value(v, f"{path}[{i}]", error, what=what, depth=depth + 1, operand=operand)
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise error(
                    f"{what}{path} has a key {k!r} of type {type(k).__name__}; keys must be strings"
                )
            if not operand:
                if "\x00" in k:
                    raise error(f"{what}{path} has a key with a NUL character")
                check_text(k, f"{what}{path} key", error)
            check_json_value(
                v, f"{path}[{k!r}]", error, what=what, depth=depth + 1, operand=operand
            )
        return
    raise error(
        f"{what}{path} is a {type(value).__name__}, which is not JSON-serialisable; "
        f"store a string, number, bool, None, list or dict instead (e.g. value.isoformat() "
        f"for a datetime)"
    )


def check_metadata(metadata: Any) -> dict[str, Any]:
    """A deep, JSON-normalised copy of ``metadata`` (later changes by the caller do not reach
    the store), or InvalidMetadataError saying what to fix. Limits: :data:`MAX_METADATA_DEPTH`
    levels, :data:`MAX_METADATA_CHARS` characters of JSON, signed 64-bit integers."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidMetadataError(
            f"metadata must be a dict, got {type(metadata).__name__}; e.g. metadata={{'category': 'preferences'}}"
        )
    check_json_value(metadata, "")
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_METADATA_CHARS:
        raise InvalidMetadataError(
            f"metadata is {len(text)} characters as JSON; the limit is {MAX_METADATA_CHARS}. "
            f"Store large data elsewhere and keep a reference in metadata"
        )
    copy: dict[str, Any] = json.loads(text)
    return copy


def check_limit(limit: Any, name: str = "limit", maximum: int = MAX_LIMIT) -> int:
    """``limit`` as an int from 1 to ``maximum``, else MemoryValidationError."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1 or limit > maximum:
        raise MemoryValidationError(f"{name} must be an integer from 1 to {maximum}, got {limit!r}")
    return limit


def check_offset(offset: Any) -> int:
    """``offset`` as an int from 0 to :data:`MAX_OFFSET`, else MemoryValidationError."""
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise MemoryValidationError(
            f"offset must be an integer from 0 to {MAX_OFFSET}, got {offset!r}"
        )
    return offset


def check_min_relevance(value: Any, retrieval: Any = None) -> float | None:
    """``min_relevance``: None or a finite number (a cosine similarity threshold, -1..1);
    also checks that ``retrieval`` is None or a RetrievalConfig."""
    from .retrieval import RetrievalConfig

    if retrieval is not None and not isinstance(retrieval, RetrievalConfig):
        raise MemoryValidationError(
            f"retrieval must be a RetrievalConfig or None, got {type(retrieval).__name__}"
        )
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not -1.0 <= value <= 1.0
    ):
        raise MemoryValidationError(
            f"min_relevance must be None or a number from -1 to 1 (a cosine similarity), "
            f"got {value!r}"
        )
    return float(value)


def check_memory_id(memory_id: Any) -> str:
    if not isinstance(memory_id, str) or not memory_id:
        raise MemoryValidationError(f"memory_id must be a non-empty string, got {memory_id!r}")
    if len(memory_id) > MAX_ID_CHARS:
        raise MemoryValidationError(
            f"memory_id is {len(memory_id)} characters; ids are at most {MAX_ID_CHARS}"
        )
    return check_text(memory_id, "memory_id", MemoryValidationError)


class AddItem(NamedTuple):
    """One memory an ``add`` call writes: its role, text, speaker and own time (or None)."""

    role: str | None
    text: str
    speaker: str | None = None
    occurred_at: float | None = None


def check_occurred_at(value: Any, what: str = "occurred_at") -> float:
    """``value`` (a datetime, epoch seconds or an ISO-8601 string; naive = UTC) as epoch
    seconds, finite and within years 1 to 9999, else MemoryValidationError."""
    hint = (
        f"pass {what} as a datetime, epoch seconds or an ISO-8601 string such as "
        f"'2023-05-08T13:56:00Z'"
    )
    if isinstance(value, bool) or not isinstance(value, datetime | int | float | str):
        raise MemoryValidationError(f"{what} is a {type(value).__name__}; {hint}")
    try:
        ts = to_ts(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise MemoryValidationError(f"{what} {value!r} is not a time ({exc}); {hint}") from None
    if not math.isfinite(ts) or not _FIRST_TS <= ts <= _LAST_TS:
        raise MemoryValidationError(f"{what} {value!r} is outside years 1 to 9999; {hint}")
    return ts


def _message_speaker(item: Any, i: int) -> str | None:
    name = item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise InvalidContentError(
            f"message {i} has name {name!r}; a message's name (its speaker) must be a "
            f"non-empty string without NUL characters"
        )
    if len(name) > MAX_ID_CHARS:
        raise InvalidContentError(
            f"message {i} name is {len(name)} characters; the limit is {MAX_ID_CHARS}"
        )
    return name


def _message_time(item: Any, i: int) -> float | None:
    for key in ("occurred_at", "timestamp"):
        value = item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
        if value is not None:
            return check_occurred_at(value, what=f"message {i} {key}")
    return None


def _message_item(item: Any, i: int) -> tuple[str, Any]:
    role, content = message_parts(item)
    if not isinstance(role, str) or not role:
        raise InvalidContentError(
            f"message {i} has no role; pass messages like {{'role': 'user', 'content': '...'}}"
        )
    canonical = normalise_role(role)
    if canonical is None:
        raise InvalidContentError(
            f"message {i} has unknown role {role!r}; use user, assistant, system or tool"
        )
    return canonical, content


def content_items(content: Any, max_chars: int) -> list[AddItem]:
    """One :class:`AddItem` per memory an ``add(content)`` writes, in order; system messages
    are skipped. A message's ``name`` is its speaker, its ``occurred_at`` (or ``timestamp``)
    its own time."""
    if isinstance(content, str):
        return [AddItem(None, check_content(content, max_chars))]
    if not isinstance(content, Sequence) or isinstance(content, bytes | bytearray):
        raise InvalidContentError(
            f"content must be a string or a list of chat messages, got {type(content).__name__}"
        )
    if not content:
        raise InvalidContentError("content is an empty list; pass text or chat messages")
    items: list[AddItem] = []
    for i, item in enumerate(content):
        if isinstance(item, str):
            items.append(AddItem(None, check_content(item, max_chars, what=f"content[{i}]")))
            continue
        role, text = _message_item(item, i)
        text = check_content(text, max_chars, what=f"message {i} content")
        speaker, when = _message_speaker(item, i), _message_time(item, i)
        if role != "system":
            items.append(AddItem(role, text, speaker, when))
    return items


def content_or_messages(content: Any, messages: Any) -> Any:
    """What to store from ``add(content=...)`` or, as Mem0 users write it,
    ``add(messages=[...])`` (one of the two)."""
    if messages is not None:
        if content is not None:
            raise InvalidContentError("pass content= or messages=, not both")
        return list(messages)
    if content is None:
        raise InvalidContentError("add() needs content (text or messages) or messages=")
    return content
