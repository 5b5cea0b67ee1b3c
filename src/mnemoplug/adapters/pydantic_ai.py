"""PydanticAI adapter: long-term memory as a capability, and a ``ConversationStore``.

Add memory to any PydanticAI 2.x agent with one line::

    from mnemoplug import Memory
    from mnemoplug.adapters.pydantic_ai import MnemoplugCapability

    memory = Memory("sqlite:///memory.db")
    agent = Agent(model, capabilities=[MnemoplugCapability(memory)])
    await agent.run("Which theme do I like?", deps=Deps(user_id="u1"))
    # or, leaving an existing agent untouched, for one run only:
    await agent.run("…", capabilities=[MnemoplugCapability(memory)], metadata={"user_id": "u1"})

Per run, the capability

* selects the user's memories **once** with its :class:`~mnemoplug.InjectionStrategy` (query:
  the run's user prompt) in ``before_run`` and adds them to the instructions of every model
  request of that run, for that request only (``prepare_model_request``): they are never
  persisted in ``result.all_messages()``, so ``message_history`` and a conversation store keep
  the conversation without them (the capability is copied per run by ``for_run`` and the text
  is cached on the copy);
* with ``tools=True``, offers ``search_memory(query)`` and ``save_memory(content)`` tools;
* in ``after_run`` stores the new turn (the user prompt and the run's output) as two memories.
  A failing run never reaches ``after_run``, so it stores nothing. A write that a hook rejects
  (or that fails in the provider) is logged and the run's result is returned anyway, unless
  ``raise_on_store_error=True``.

The agent keeps its model, tools, instructions and output type; the capability only adds.

Who the run is for: ``user_id`` (and ``session_id``, ``tenant_id``, ``agent_id``) may be a
string, a callable ``f(ctx: RunContext) -> str | None``, or None to look it up in the run: first
``ctx.deps.user_id`` (an attribute, or a key when deps is a mapping), then
``ctx.metadata["user_id"]`` (``agent.run(..., metadata={...})``). ``session_id`` falls back to
the run's ``ctx.conversation_id``; it tags stored turns but does not narrow retrieval, so
memories of earlier conversations are found. A run with no user id raises
:class:`~mnemoplug.ConfigurationError`.

:class:`MnemoplugConversationStore` keeps PydanticAI conversations in mnemoplug session memory;
see its docstring.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from ..core.errors import ConfigurationError, MissingDependencyError, MnemoplugError
from ..core.memory import Memory
from ..core.records import MemoryRecord
from ..core.remember import store_turn
from ..core.session import SessionMemory, SessionOwnershipError, session_memory_from_url
from ..core.stores import SessionStore
from ..core.strategies import InjectionStrategy, as_memory, inject_memory
from ._checks import check_field, check_metadata_arg
from ._lookup import select_memories
from ._pydantic_ai_messages import (
    last_user_text,
    message_role,
    message_text,
    output_text,
    prompt_text,
)

try:
    from pydantic import TypeAdapter
    from pydantic_ai.capabilities import AbstractCapability
    from pydantic_ai.conversation_store import (
        ConversationConflict,
        ConversationEntry,
        ConversationRecord,
        ConversationStore,
    )
    from pydantic_ai.messages import InstructionPart, ModelMessagesTypeAdapter
    from pydantic_ai.models import ModelRequestContext
    from pydantic_ai.run import AgentRunResult
    from pydantic_ai.tools import RunContext
    from pydantic_ai.toolsets import FunctionToolset
except ImportError as _exc:  # pragma: no cover - exercised by a subprocess test
    raise MissingDependencyError(
        "mnemoplug.adapters.pydantic_ai", "pydantic-ai", "pydantic-ai-slim"
    ) from _exc

__all__ = ["MnemoplugCapability", "MnemoplugConversationStore", "ScopeValue", "prompt_text"]

logger = logging.getLogger("mnemoplug.adapters.pydantic_ai")

ScopeValue = str | Callable[[RunContext[Any]], str | None] | None
"""A scope field: a fixed string, ``f(ctx) -> str | None``, or None to read it from the run."""

_SCOPE_KEYS = ("tenant_id", "agent_id", "session_id")


def _from_run(ctx: RunContext[Any], key: str) -> str | None:
    """``ctx.deps.<key>`` / ``ctx.deps[key]``, then ``ctx.metadata[key]``."""
    deps = ctx.deps
    value: Any = None
    if isinstance(deps, Mapping):
        value = deps.get(key)
    elif deps is not None:
        value = getattr(deps, key, None)
    if value is None and ctx.metadata:
        value = ctx.metadata.get(key)
    return None if value is None else str(value)


@dataclass
class MnemoplugCapability(AbstractCapability[Any]):
    """Long-term memory for a PydanticAI agent.

    Args:
        memory: the :class:`~mnemoplug.Memory` (or a URL such as ``"sqlite:///memory.db"``, or
            your own :class:`~mnemoplug.MemoryProvider`, wrapped as ``Memory(provider=...)``);
            None to use the strategy's ``provider``.
        strategy: how memories are selected and rendered (default ``inject_memory("relevant")``);
            a strategy name such as ``"recent"`` is accepted too.
        tools: also offer ``search_memory`` and ``save_memory`` tools to the model.
        store_turns: store the user prompt and the run's output after a successful run.
        user_id, session_id, tenant_id, agent_id: a string, ``f(ctx) -> str | None``, or None
            to read ``ctx.deps.<name>`` / ``ctx.metadata[name]`` (``session_id`` then falls
            back to ``ctx.conversation_id``).
        metadata: metadata stored with every turn and ``save_memory`` memory.
        raise_on_store_error: re-raise a failed turn write (e.g. a hook's
            :class:`~mnemoplug.MemoryRejectedError`) instead of logging it.
        raise_on_lookup_error: let a failing memory lookup (a provider error, a raising
            ``on_memory_search`` hook) fail the run; by default the run goes on without
            memories and the cause is logged on ``mnemoplug.adapters.pydantic_ai``.
    """

    memory: Any = None
    strategy: InjectionStrategy | str | None = None
    tools: bool = False
    store_turns: bool = True
    user_id: ScopeValue = None
    session_id: ScopeValue = None
    tenant_id: ScopeValue = None
    agent_id: ScopeValue = None
    metadata: dict[str, Any] = field(default_factory=lambda: {"source": "pydantic_ai"})
    raise_on_store_error: bool = False
    raise_on_lookup_error: bool = False
    # per-run state, set on the copy that for_run returns
    _memories: list[MemoryRecord] | None = field(default=None, init=False, repr=False)
    _text: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        for key in ("user_id", *_SCOPE_KEYS):
            check_field(getattr(self, key), key)
        self.metadata = check_metadata_arg(self.metadata)
        if self.strategy is None:
            self.strategy = inject_memory("relevant")
        elif isinstance(self.strategy, str):
            self.strategy = inject_memory(self.strategy)  # type: ignore[arg-type]
        if not isinstance(self.strategy, InjectionStrategy):
            raise ConfigurationError(
                f"strategy must come from inject_memory(...), got {type(self.strategy).__name__}"
            )
        if self.memory is None:
            self.memory = self.strategy.memory
        # a URL or a user's own MemoryProvider becomes a Memory (validation, hooks, scopes)
        self.memory = as_memory(self.memory, self.strategy.memory)
        if self.memory is None:
            raise ConfigurationError(
                "MnemoplugCapability needs a Memory: MnemoplugCapability(memory) or "
                "strategy=inject_memory(provider=memory)"
            )
        if type(self.memory).__name__ == "SyncMemory":
            raise ConfigurationError(
                "MnemoplugCapability runs in PydanticAI's event loop: pass the async Memory "
                "(SyncMemory(...).memory belongs to another loop)"
            )

    @classmethod
    def get_serialization_name(cls) -> str | None:
        """Not constructible from an agent spec (it holds a live Memory)."""
        return None

    @property
    def _strategy(self) -> InjectionStrategy:
        assert isinstance(self.strategy, InjectionStrategy)
        return self.strategy

    # -- scope ------------------------------------------------------------------------------
    def _resolve(self, ctx: RunContext[Any], name: str) -> str | None:
        spec = getattr(self, name)
        if callable(spec):
            value = spec(ctx)
            return None if value is None else str(value)
        if spec is not None:
            return str(spec)
        value = _from_run(ctx, name)
        if value is None and name == "session_id":
            value = ctx.conversation_id
        return value

    def resolve_user_id(self, ctx: RunContext[Any]) -> str:
        """The run's user id; raises ConfigurationError when none can be found."""
        uid = self._resolve(ctx, "user_id")
        if not uid:
            raise ConfigurationError(
                "MnemoplugCapability found no user id for this run: pass "
                "MnemoplugCapability(memory, user_id=...) (a string or f(ctx)), deps with a "
                "`user_id` attribute/key, or agent.run(..., metadata={'user_id': ...})"
            )
        return uid

    def _scope(self, ctx: RunContext[Any], *, with_session: bool) -> dict[str, str]:
        scope: dict[str, str] = {}
        for key in _SCOPE_KEYS:
            if key == "session_id" and not with_session:
                continue
            value = self._resolve(ctx, key)
            if value:
                scope[key] = value
        return scope

    # -- lifecycle ----------------------------------------------------------------------------
    async def for_run(self, ctx: RunContext[Any]) -> MnemoplugCapability:
        """A fresh copy per run, so concurrent runs never share the selected memories."""
        run_copy = copy.copy(self)
        run_copy._memories = None
        run_copy._text = ""
        return run_copy

    async def _load(self, ctx: RunContext[Any]) -> None:
        if self._memories is not None:
            return
        user_id = self.resolve_user_id(ctx)
        query = prompt_text(ctx.prompt) or last_user_text(ctx.messages)
        memories = await select_memories(
            self._strategy,
            self.memory,
            user_id=user_id,
            query=query or None,
            raise_on_error=self.raise_on_lookup_error,
            logger=logger,
            **self._scope(ctx, with_session=False),
        )
        self._memories = memories
        self._text = self._strategy.render(memories)

    async def before_run(self, ctx: RunContext[Any]) -> None:
        """Select the memories for this run (once)."""
        await self._load(ctx)

    async def prepare_model_request(
        self, ctx: RunContext[Any], request_context: ModelRequestContext
    ) -> ModelRequestContext:
        """Add this run's rendered memories to the instructions of this model request only:
        PydanticAI does not persist request-only changes, so the memories never reach
        ``result.all_messages()``, ``message_history`` or a conversation store."""
        await self._load(ctx)  # a no-op after before_run
        if not self._text:
            return request_context
        params = request_context.model_request_parameters
        parts = [*(params.instruction_parts or []), InstructionPart(self._text, dynamic=True)]
        params = replace(params, instruction_parts=InstructionPart.sorted(parts))
        return replace(request_context, model_request_parameters=params)

    async def after_run(
        self, ctx: RunContext[Any], *, result: AgentRunResult[Any]
    ) -> AgentRunResult[Any]:
        """Store the user prompt and the run's output as the new turn."""
        if not self.store_turns:
            return result
        user_text = prompt_text(ctx.prompt)
        answer = output_text(result.output)
        turn = [{"role": "user", "content": user_text}, {"role": "assistant", "content": answer}]
        turn = [m for m in turn if m["content"] and m["content"].strip()]
        if not turn:
            return result
        try:
            await store_turn(
                self.memory,
                self.resolve_user_id(ctx),
                turn,
                dict(self.metadata),
                **self._scope(ctx, with_session=True),
            )
        except MnemoplugError as exc:
            if self.raise_on_store_error:
                raise
            logger.warning("mnemoplug: the turn of run %s was not stored: %s", ctx.run_id, exc)
        return result

    # -- tools ----------------------------------------------------------------------------------
    def get_toolset(self) -> FunctionToolset[Any] | None:
        """``search_memory`` and ``save_memory`` when ``tools=True``."""
        if not self.tools:
            return None
        cap = self

        async def search_memory(ctx: RunContext[Any], query: str, limit: int = 5) -> list[str]:
            """Search the user's long-term memory.

            Args:
                query: what to look for, in plain words.
                limit: at most this many memories.
            """
            hits = await cap.memory.search(
                cap.resolve_user_id(ctx),
                query,
                limit=max(1, min(int(limit), 50)),
                **cap._scope(ctx, with_session=False),
            )
            return [h.content for h in hits]

        async def save_memory(ctx: RunContext[Any], content: str) -> str:
            """Save a fact about the user to long-term memory, for later conversations.

            Args:
                content: the fact, as one short self-contained sentence.
            """
            try:
                mid = await cap.memory.add(
                    cap.resolve_user_id(ctx),
                    content,
                    dict(cap.metadata),
                    **cap._scope(ctx, with_session=True),
                )
            except MnemoplugError as exc:
                return f"not saved: {exc}"
            return f"saved (id {mid})"

        return FunctionToolset([search_memory, save_memory])


# -- ConversationStore over mnemoplug session memory ------------------------------------------
_KEY = "pydantic_ai"
_SESSION_METHODS = ("get_messages", "add_messages", "list_sessions", "clear")
_SCAN_LIMIT = 10_000


class MnemoplugConversationStore(ConversationStore):
    """A PydanticAI ``ConversationStore`` kept in mnemoplug session memory.

    Each conversation is one session (``session_id`` = ``conversation_id``). Each stored
    PydanticAI message is one session message: readable text as ``content`` (so
    ``SessionMemory.search`` and summaries work) with the exact message, serialised with
    ``ModelMessagesTypeAdapter``, in ``metadata["pydantic_ai"]`` — it loads back equal
    (``==``). The conversation record (head, usage, revision, branches, scope) is appended as a
    ``system`` message after each save; the newest one is current. A fork copies the history it
    keeps into the new conversation's session, so every session is self-contained and
    :meth:`~pydantic_ai.conversation_store.ConversationStore.delete` erases all of a
    conversation's messages (``SessionMemory.clear``).

    ::

        store = MnemoplugConversationStore("sqlite:///sessions.db", user_id="u1")
        conversation = await store.load(cid) or Conversation(conversation_id=cid)
        result = await agent.run("hi", conversation=conversation)
        await store.save(result)

    Args:
        session: a :class:`~mnemoplug.core.session.SessionMemory`, a URL for
            ``session_memory_from_url`` (``"memory://"``, ``"sqlite:///sessions.db"``, …), or a
            :class:`~mnemoplug.Memory` with ``session=`` set.
        user_id, tenant_id: the owner of every conversation this store writes; reads and
            listings see only that owner's sessions. With no ``user_id``, a conversation's
            ``scope`` (``store.save(result, scope=...)``) is used as its session owner.

    Revisions are checked under a lock held by this store object: two store objects (or
    processes) saving the same conversation at once can both succeed, as ``SessionMemory``
    has no compare-and-append primitive. ``on_session_message`` hooks see every message; one
    that rewrites ``content`` (PII redaction) does not rewrite the serialised message in
    ``metadata``.
    """

    def __init__(
        self, session: Any, *, user_id: str | None = None, tenant_id: str | None = None
    ) -> None:
        if isinstance(session, str):
            session = session_memory_from_url(session)
        elif not isinstance(session, SessionMemory) and (
            isinstance(session, Memory) or hasattr(session, "provider")
        ):
            if getattr(session, "session", None) is None:
                raise ConfigurationError(
                    "this Memory has no session memory: Memory(..., session=...) or pass a "
                    "SessionMemory / URL to MnemoplugConversationStore"
                )
            session = session.session
        if not isinstance(session, SessionMemory):
            raise ConfigurationError(
                f"expected a SessionMemory, a session URL or a Memory, got {type(session).__name__}"
            )
        missing = [n for n in _SESSION_METHODS if not callable(getattr(session, n, None))]
        if missing:
            raise ConfigurationError(
                f"{type(session).__name__} lacks {', '.join(missing)}; MnemoplugConversationStore "
                f"needs a session store such as session_memory_from_url('sqlite:///sessions.db')"
            )
        self.session: SessionStore = cast("SessionStore", session)
        self.user_id = user_id
        self.tenant_id = tenant_id
        self._where: dict[str, str] = {}  # entry id -> conversation id holding it
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._record_ta: TypeAdapter[ConversationRecord] = TypeAdapter(ConversationRecord)

    # -- encoding ---------------------------------------------------------------------------
    def _read_kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.user_id is not None:
            out["user_id"] = self.user_id
        if self.tenant_id is not None:
            out["tenant_id"] = self.tenant_id
        return out

    def _owner(self, record: ConversationRecord) -> dict[str, str]:
        out: dict[str, str] = {}
        user = self.user_id if self.user_id is not None else record.scope
        if user:
            out["user_id"] = user
        if self.tenant_id is not None:
            out["tenant_id"] = self.tenant_id
        return out

    def _entry_message(self, entry: ConversationEntry) -> dict[str, Any]:
        payload = ModelMessagesTypeAdapter.dump_python([entry.message], mode="json")[0]
        return {
            "id": entry.id,
            "role": message_role(entry.message),
            "content": message_text(entry.message),
            "metadata": {_KEY: {"kind": "entry", "parent_id": entry.parent_id, "message": payload}},
        }

    def _record_message(self, record: ConversationRecord) -> dict[str, Any]:
        return {
            "role": "system",
            "content": f"[pydantic-ai conversation record, revision {record.revision}]",
            "metadata": {
                _KEY: {"kind": "record", "record": self._record_ta.dump_python(record, mode="json")}
            },
        }

    async def _read_session(
        self, conversation_id: str
    ) -> tuple[ConversationRecord | None, dict[str, ConversationEntry]]:
        records: ConversationRecord | None = None
        entries: dict[str, ConversationEntry] = {}
        for m in await self.session.get_messages(conversation_id, **self._read_kwargs()):
            data = (m.metadata or {}).get(_KEY)
            if not isinstance(data, dict):
                continue
            if data.get("kind") == "entry":
                message = ModelMessagesTypeAdapter.validate_python([data["message"]])[0]
                entries[m.id] = ConversationEntry(
                    id=m.id, parent_id=data.get("parent_id"), message=message
                )
                self._where[m.id] = conversation_id
            elif data.get("kind") == "record":
                records = self._record_ta.validate_python(data["record"])
        return records, entries

    async def _locate(self, entry_id: str) -> dict[str, ConversationEntry] | None:
        """The entries of the session holding ``entry_id``, or None."""
        cid = self._where.get(entry_id)
        if cid is not None:
            _, entries = await self._read_session(cid)
            if entry_id in entries:
                return entries
        for info in await self.session.list_sessions(**self._read_kwargs(), limit=_SCAN_LIMIT):
            _, entries = await self._read_session(info.session_id)
            if entry_id in entries:
                return entries
        return None

    def _get_lock(self) -> asyncio.Lock:
        """This store's lock in the running event loop (a new loop gets a new lock)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    # -- the five primitives (+ read_history in one read) -------------------------------------
    async def read_record(self, conversation_id: str) -> ConversationRecord | None:
        """The newest record stored in the conversation's session."""
        record, _ = await self._read_session(conversation_id)
        return record

    async def read_records(
        self, *, scope: str | None = None, limit: int | None = None
    ) -> Sequence[ConversationRecord]:
        """The records of this store's sessions (of ``scope``), newest save first."""
        kwargs = self._read_kwargs()
        if "user_id" not in kwargs and scope is not None:
            kwargs["user_id"] = scope
        records: list[ConversationRecord] = []
        for info in await self.session.list_sessions(**kwargs, limit=_SCAN_LIMIT):
            record, _ = await self._read_session(info.session_id)
            if record is not None and (scope is None or record.scope == scope):
                records.append(record)
        records.sort(key=lambda r: r.updated_at, reverse=True)
        return records[:limit] if limit is not None else records

    async def write_record(
        self,
        record: ConversationRecord,
        *,
        new_entries: Sequence[ConversationEntry] = (),
        expected_revision: str | None,
    ) -> None:
        """Append the new entries and the record, after checking the revision."""
        cid = record.conversation_id
        async with self._get_lock():
            stored, entries = await self._read_session(cid)
            if (stored.revision if stored is not None else None) != expected_revision:
                raise ConversationConflict(cid)
            new_ids = {e.id for e in new_entries}
            copied: list[ConversationEntry] = []
            head = record.head_id
            if head is not None and head not in entries and head not in new_ids:
                source = await self._locate(head)  # a fork: copy the history it keeps
                if source is None:
                    raise ConversationConflict(cid)
                entry_id: str | None = head
                while entry_id is not None and entry_id not in entries:
                    entry = source[entry_id]
                    copied.append(entry)
                    entry_id = entry.parent_id
                copied.reverse()
            payload = [self._entry_message(e) for e in (*copied, *new_entries)]
            payload.append(self._record_message(record))
            try:
                await self.session.add_messages(cid, payload, **self._owner(record))
            except SessionOwnershipError as exc:  # the id is taken by another owner's session
                raise ConversationConflict(cid) from exc
            for e in (*copied, *new_entries):
                self._where[e.id] = cid

    async def delete_record(self, conversation_id: str, *, expected_revision: str) -> None:
        """Clear the conversation's session: its record and all its messages."""
        async with self._get_lock():
            stored, entries = await self._read_session(conversation_id)
            if stored is None or stored.revision != expected_revision:
                raise ConversationConflict(conversation_id)
            await self.session.clear(conversation_id, **self._read_kwargs())
            for entry_id in entries:
                if self._where.get(entry_id) == conversation_id:
                    del self._where[entry_id]

    async def read_entry(self, entry_id: str) -> ConversationEntry:
        """The entry with this id (KeyError when no session of this store holds it)."""
        entries = await self._locate(entry_id)
        if entries is None:
            raise KeyError(entry_id)
        return entries[entry_id]

    async def read_history(
        self, head_id: str | None, *, limit: int | None = None
    ) -> list[ConversationEntry]:
        """The entries up to ``head_id`` (the last ``limit``), read with one session read."""
        if head_id is None:
            return []
        entries = await self._locate(head_id)
        if entries is None:
            raise KeyError(head_id)
        out: list[ConversationEntry] = []
        entry_id: str | None = head_id
        while entry_id is not None and (limit is None or len(out) < limit):
            entry = entries.get(entry_id)
            if entry is None:
                raise KeyError(entry_id)
            out.append(entry)
            entry_id = entry.parent_id
        out.reverse()
        return out
