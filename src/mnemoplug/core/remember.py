"""``Memory.remember``: what the adapters call to keep a live run's turn. An extractor (the
hygiene rules by default) decides per message: add, update, delete or nothing; the operations
apply within the caller's scope only. ``add()`` stays literal: it stores every message given."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import MemoryNotFoundError, MemoryValidationError
from .filters import compile_filters
from .hygiene import HygieneExtractor, QuestionPolicy
from .operations import Extractor, MemoryOperation, NewTurn, TurnMessage
from .records import MemoryRecord, Scope
from .retrieval import SearchRequest
from .validation import AddItem, content_items, make_scope

if TYPE_CHECKING:
    from .hygiene import Dedupe
    from .memory import Memory

__all__ = ["RememberMixin", "make_extractor", "store_turn"]

logger = logging.getLogger("mnemoplug")

_DEFAULT_RELATED = 5


def make_extractor(
    extractor: Any, dedupe: bool | Dedupe | None, questions: QuestionPolicy | None
) -> Any:
    """The extractor ``Memory(extractor=..., dedupe=..., questions=...)`` runs."""
    from .errors import ConfigurationError

    if extractor is None:
        return HygieneExtractor(
            dedupe=True if dedupe is None else dedupe, questions=questions or "skip"
        )
    if dedupe is not None or questions is not None:
        raise ConfigurationError(
            "dedupe= and questions= configure the default extractor; with extractor=... "
            "your extractor decides (pass HygieneExtractor(dedupe=..., questions=...) to mix)"
        )
    if not callable(extractor):
        raise ConfigurationError(
            f"extractor must be a callable turn -> operations, got {type(extractor).__name__}"
        )
    return extractor


class RememberMixin:
    """Adds :meth:`remember` to ``Memory``."""

    extractor: Extractor

    async def remember(
        self,
        user_id: str,
        messages: str | Sequence[Any],
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        **add_options: Any,
    ) -> list[MemoryOperation]:
        """Keep what is worth keeping of a live turn; return the operations applied.

        The Memory's extractor (by default the hygiene rules: questions are not stored,
        near-duplicates update the memory they repeat) receives the turn and each message's
        most related existing memories of the user (any session; same tenant and agent) and
        returns operations. Adds are stored with ``metadata`` and the scope given (one
        ``add``); updates and deletes touch only this user's memories. An extractor that
        fails or returns something other than operations makes the whole turn be stored.
        ``add_options`` (``ttl``, ``expires_at``, ...) go to ``add``.
        """
        memory: Memory = self  # type: ignore[assignment]
        scope: dict[str, Any] = {"tenant_id": tenant_id, "agent_id": agent_id}
        items = content_items(messages, memory.max_content_chars)
        originals = _message_list(messages)
        if not items:
            return []
        limit = int(getattr(self.extractor, "related_limit", _DEFAULT_RELATED))
        related = await _related(memory, make_scope(user_id, tenant_id, agent_id), items, limit)
        turn_messages = [
            TurnMessage(role, text, tuple(rel))
            for (role, text, *_), rel in zip(items, related, strict=True)
        ]
        turn = NewTurn(user_id, tuple(turn_messages), dict(metadata or {}))
        ops = await _extract(self.extractor, turn)
        if ops is None:  # the extractor failed: keep the whole turn
            ops = [MemoryOperation.add(text, role=role) for role, text, *_ in items]
        return await _apply(
            memory, user_id, ops, originals, metadata, scope, session_id, add_options
        )


async def _related(
    memory: Memory, scope: Scope, items: list[AddItem], limit: int
) -> list[list[MemoryRecord]]:
    """Per message, the scope's ``limit`` memories most related to it (any session), read
    without ``on_memory_search`` hooks: a lookup for deciding, not a search by the user."""
    if limit <= 0:
        return [[] for _ in items]
    await memory.open()
    texts = [item.text for item in items]
    filt = compile_filters(None)
    if memory._calls is not None:
        return [
            await memory._calls.search_records(scope, text, limit, filt, None) for text in texts
        ]
    vecs = await memory._vectors.texts(memory.embedder, memory.store, texts)
    if vecs is not None:
        memory._vectors.keep(texts, vecs)  # the add that follows reuses them
    out: list[list[MemoryRecord]] = []
    for i, text in enumerate(texts):
        req = SearchRequest(
            query=text,
            vector=None if vecs is None else vecs[i],
            limit=limit,
            filters=filt,
            now=memory._clock(),
            min_relevance=None,
            config=memory.retrieval,
        )
        hits = await memory._store().search(scope, req)
        out.append([h.memory.to_record(score=h.score, similarity=h.similarity) for h in hits])
    return out


async def _extract(extractor: Any, turn: NewTurn) -> list[MemoryOperation] | None:
    try:
        out = extractor(turn)
        if inspect.isawaitable(out):
            out = await out
    except Exception as exc:
        logger.warning("mnemoplug: the extractor failed (%s); storing the whole turn", exc)
        return None
    if isinstance(out, MemoryOperation):
        out = [out]
    if not isinstance(out, Sequence) or not all(isinstance(o, MemoryOperation) for o in out):
        logger.warning(
            "mnemoplug: the extractor returned %s, not MemoryOperations; storing the whole turn",
            type(out).__name__,
        )
        return None
    return list(out)


def _message_list(messages: Any) -> list[Any]:
    if isinstance(messages, str):
        return [messages]
    return [m for m in messages if not (isinstance(m, Mapping) and m.get("role") == "system")]


def _source(op: MemoryOperation, originals: list[Any], used: set[int]) -> Any:
    """The caller's own message for an add that keeps it as it was (so its extra fields, such
    as a speaker name or timestamp, reach ``add``); else a plain message."""
    for i, m in enumerate(originals):
        text = m if isinstance(m, str) else _field(m, "content")
        role = None if isinstance(m, str) else _field(m, "role")
        if i not in used and text == op.content and (op.role is None or role == op.role):
            used.add(i)
            return m
    return op.content if op.role is None else {"role": op.role, "content": op.content}


def _field(m: Any, name: str) -> Any:
    return m.get(name) if isinstance(m, Mapping) else getattr(m, name, None)


async def _apply(
    memory: Memory,
    user_id: str,
    ops: list[MemoryOperation],
    originals: list[Any],
    metadata: Mapping[str, Any] | None,
    scope: dict[str, Any],
    session_id: str | None,
    add_options: dict[str, Any],
) -> list[MemoryOperation]:
    applied: list[MemoryOperation] = []
    adds: list[int] = []
    used: set[int] = set()
    sources: list[Any] = []
    for op in ops:
        if op.kind == "add":
            adds.append(len(applied))
            sources.append(_source(op, originals, used))
        elif op.kind in ("update", "delete"):
            assert op.memory_id is not None
            if not await _owned(memory, user_id, op.memory_id, scope):
                logger.warning(
                    "mnemoplug: skipped %s of memory %r: user %r has no such memory",
                    op.kind,
                    op.memory_id,
                    user_id,
                )
                continue
            try:
                if op.kind == "update":
                    await memory.update(user_id, op.memory_id, content=op.content, **scope)
                else:
                    await memory.delete(user_id, op.memory_id, **scope)
            except MemoryNotFoundError:
                continue
        applied.append(op)
    if sources:
        ids = await memory.add(
            user_id, sources, metadata, session_id=session_id, **scope, **add_options
        )
        for i, mid in zip(adds, ids, strict=False):
            applied[i] = replace(applied[i], memory_id=mid)
    return applied


async def _owned(memory: Memory, user_id: str, memory_id: str, scope: dict[str, Any]) -> bool:
    try:
        return await memory.get(user_id, memory_id, **scope) is not None
    except MemoryValidationError:
        return False


async def store_turn(
    memory: Any,
    user_id: str,
    messages: Sequence[Any],
    metadata: Mapping[str, Any] | None = None,
    **scope: Any,
) -> Any:
    """What an adapter calls with a run's turn: ``memory.remember`` on a Memory, ``add`` on an
    object that only looks like one."""
    remember = getattr(memory, "remember", None)
    if remember is not None and isinstance(memory, RememberMixin):
        return await remember(user_id, list(messages), metadata, **scope)
    return await memory.add(user_id, list(messages), metadata, **scope)
