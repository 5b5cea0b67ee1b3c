"""``MnemoplugMiddleware``: long-term memory for LangChain 1.x ``create_agent`` agents.

Where the scope of a run comes from (first found wins):

* ``user_id``: ``runtime.context`` (a dict, dataclass or pydantic model with a ``user_id``
  field, i.e. ``agent.invoke(..., context={"user_id": "u1"})``), then
  ``config["configurable"]["user_id"]``, then the ``user_id=`` given to the middleware.
* ``session_id``: ``context.session_id``, ``config["configurable"]["session_id"]``, then the
  LangGraph ``thread_id`` (``config["configurable"]["thread_id"]``). None when absent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, NotRequired, cast

from langchain.agents.middleware.types import (
    AgentMiddleware,
    AgentState,
    ModelRequest,
    ModelResponse,
    PrivateStateAttr,
)
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from ...core.errors import ConfigurationError, MnemoplugError
from ...core.remember import store_turn
from ...core.strategies import InjectionStrategy, inject_memory
from .._answers import answer_text
from .._checks import check_metadata_arg, check_optional_str, check_roles
from .._lookup import select_memories
from ._runner import MemoryRunner

__all__ = ["MnemoplugMiddleware", "MnemoplugState"]

logger = logging.getLogger("mnemoplug.adapters.langchain")

MEMORIES_KEY = "mnemoplug_memories"
SEEN_KEY = "mnemoplug_seen_ids"


class MnemoplugState(AgentState[Any]):
    """Agent state with the middleware's private fields (never in the agent's input/output).

    ``mnemoplug_memories`` is the text retrieved once at the start of the run;
    ``mnemoplug_seen_ids`` are the ids of the thread's messages already handled, so a
    checkpointed thread does not store earlier turns twice.
    """

    mnemoplug_memories: NotRequired[Annotated[str | None, PrivateStateAttr]]
    mnemoplug_seen_ids: NotRequired[Annotated[list[str], PrivateStateAttr]]


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _configurable() -> Mapping[str, Any]:
    try:
        from langgraph.config import get_config

        conf = get_config()
    except RuntimeError:  # outside a runnable context
        return {}
    return conf.get("configurable") or {}


def _last_human_text(messages: Sequence[BaseMessage]) -> str | None:
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            text = m.text.strip()
            return text or None
    return None


def _with_memories(system: SystemMessage | None, text: str) -> SystemMessage:
    """The system message with ``text`` appended (the existing prompt is kept, first)."""
    if system is None:
        return SystemMessage(content=text)
    content = system.content
    new_content: str | list[str | dict[Any, Any]]
    if isinstance(content, str):
        new_content = f"{content}\n\n{text}" if content else text
    else:
        new_content = [*content, {"type": "text", "text": text}]
    return system.model_copy(update={"content": new_content})


def _final_answer(messages: Sequence[BaseMessage]) -> BaseMessage | None:
    """The run's final answer: the last message, when it is an AI message without tool calls."""
    if messages and isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls:
        return messages[-1]
    return None


def run_turn(
    messages: Sequence[BaseMessage], seen: set[str], structured: Any = None
) -> list[tuple[str, str]]:
    """The run's new turn as ``(role, text)``: the human message(s) the run answered and its
    final answer.

    Earlier turns the client sent again (no checkpointer, whole history resent), text that
    accompanied a tool call, tool results and messages already handled (``seen`` ids, a
    checkpointed thread) are left out. A structured answer (``response_format``) is stored as
    its answer field, else as JSON.
    """
    last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    first = last_human
    while first > 0 and isinstance(messages[first - 1], HumanMessage):
        first -= 1  # several human messages sent together form one question
    turn: list[tuple[str, str]] = []
    if last_human >= 0:
        for m in messages[first : last_human + 1]:
            if m.id is None or m.id not in seen:
                turn.append(("user", m.text.strip()))
    answer = ""
    if structured is not None:
        answer = answer_text(structured)
    else:
        final = _final_answer(messages[last_human + 1 :])
        if final is not None and (final.id is None or final.id not in seen):
            answer = final.text.strip()
    turn.append(("assistant", answer))
    return [(role, text) for role, text in turn if text]


class MnemoplugMiddleware(AgentMiddleware[MnemoplugState, Any, Any]):
    """Inject a user's memories into each run and remember the new turn afterwards.

    ``create_agent(model, tools, system_prompt=..., middleware=[MnemoplugMiddleware(memory)])``;
    run it with ``agent.invoke({"messages": [...]}, context={"user_id": "u1"})`` or
    ``config={"configurable": {"user_id": "u1", "thread_id": "t1"}}`` (see the module docstring
    for the lookup order). ``invoke`` and ``ainvoke`` both work.

    * Once per run (``before_agent``), the strategy selects memories for the latest human
      message; the rendered text is appended to the system message of every model request of
      that run, for that request only (the agent's own prompt is kept and never rewritten).
    * After the run (``after_agent``), the run's turn is added to memory with ``metadata`` and
      ``source: "langchain"``: the human message the run answered and the final answer (the
      last AI message, without tool calls; a ``response_format`` answer by its answer field,
      else as JSON). Text that accompanies a tool call, tool results and earlier turns the
      client sends again are not stored; with a checkpointer, messages already handled in
      earlier runs are skipped by message id. A run that raises (e.g. the model call fails)
      never reaches ``after_agent`` and stores nothing.
    * A store error (a hook raising :class:`MemoryRejectedError`, a provider failure) is
      logged and the run's answer returned, unless ``raise_on_store_error=True``.

    Args:
        memory: a :class:`Memory` or :class:`SyncMemory` (use a SyncMemory when the same agent
            runs through both ``invoke`` and ``ainvoke`` over a loop-bound provider such as
            SQLite), or your own :class:`~mnemoplug.MemoryProvider` (wrapped as
            ``Memory(provider=...)``).
        strategy: an :func:`inject_memory` strategy (default ``inject_memory("relevant")``).
        user_id: fallback user id when the run's context/config has none.
        agent_id, tenant_id: fixed scope parts for reads and writes.
        session_scoped: read only memories of the run's session (default: all of the user's).
        store: store the run's turn after it (default True).
        store_roles: which roles to store ("user", "assistant").
        metadata: extra metadata for stored messages.
        raise_on_store_error: re-raise store errors instead of logging them.
        raise_on_lookup_error: let a failing memory lookup (a provider error, a raising
            ``on_memory_search`` hook) fail the run; by default the run goes on without
            memories and the cause is logged on ``mnemoplug.adapters.langchain``.
    """

    state_schema = MnemoplugState

    def __init__(
        self,
        memory: Any,
        strategy: InjectionStrategy | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        tenant_id: str | None = None,
        session_scoped: bool = False,
        store: bool = True,
        store_roles: Sequence[str] = ("user", "assistant"),
        metadata: Mapping[str, Any] | None = None,
        raise_on_store_error: bool = False,
        raise_on_lookup_error: bool = False,
    ) -> None:
        super().__init__()
        if strategy is not None and not isinstance(strategy, InjectionStrategy):
            raise ConfigurationError(
                f"strategy must come from inject_memory(...), got {type(strategy).__name__}"
            )
        self.strategy = strategy if strategy is not None else inject_memory("relevant")
        self._runner = MemoryRunner(memory, reuse=self.strategy.memory)
        self.memory = self._runner.memory
        self.user_id = check_optional_str(user_id, "user_id")
        self.agent_id = check_optional_str(agent_id, "agent_id")
        self.tenant_id = check_optional_str(tenant_id, "tenant_id")
        self.session_scoped = session_scoped
        self.store = store
        self.store_roles = check_roles(store_roles)
        self.metadata = {"source": "langchain", **check_metadata_arg(metadata)}
        self.raise_on_store_error = raise_on_store_error
        self.raise_on_lookup_error = raise_on_lookup_error
        self.tools = []

    # -- scope ---------------------------------------------------------------------------
    def _scope(self, runtime: Runtime[Any]) -> tuple[str, str | None]:
        ctx = getattr(runtime, "context", None)
        conf = _configurable()
        user_id = _field(ctx, "user_id") or conf.get("user_id") or self.user_id
        if not user_id:
            raise ConfigurationError(
                "MnemoplugMiddleware needs a user id: run the agent with "
                "context={'user_id': ...}, config={'configurable': {'user_id': ...}}, "
                "or pass MnemoplugMiddleware(memory, user_id=...)"
            )
        session_id = _field(ctx, "session_id") or conf.get("session_id") or conf.get("thread_id")
        if session_id is None:
            info = getattr(runtime, "execution_info", None)
            session_id = getattr(info, "thread_id", None)
        return str(user_id), (str(session_id) if session_id else None)

    def _scope_kwargs(self, session_id: str | None, *, read: bool) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if self.tenant_id:
            kw["tenant_id"] = self.tenant_id
        if self.agent_id:
            kw["agent_id"] = self.agent_id
        if session_id and (not read or self.session_scoped):
            kw["session_id"] = session_id
        return kw

    # -- retrieval (once per run) --------------------------------------------------------
    # The scope is read in the caller's thread (LangGraph's config lives in a contextvar there);
    # the coroutine may then run on the portal's loop.
    async def _select(
        self, state: MnemoplugState, user_id: str, session_id: str | None
    ) -> dict[str, Any]:
        query = _last_human_text(state.get("messages", []))
        memories = await select_memories(
            self.strategy,
            self.memory,
            user_id=user_id,
            query=query,
            raise_on_error=self.raise_on_lookup_error,
            logger=logger,
            **self._scope_kwargs(session_id, read=True),
        )
        return {MEMORIES_KEY: self.strategy.render(memories) or None}

    def before_agent(self, state: MnemoplugState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Select the run's memories (sync ``invoke``)."""
        return self._runner.run(self._select(state, *self._scope(runtime)))

    async def abefore_agent(
        self, state: MnemoplugState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Select the run's memories (``ainvoke``)."""
        return await self._runner.arun(self._select(state, *self._scope(runtime)))

    # -- injection (every model call of the run, same text) -------------------------------
    def _inject(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        text = cast("str | None", request.state.get(MEMORIES_KEY) if request.state else None)
        if not text:
            return request
        return request.override(system_message=_with_memories(request.system_message, text))

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Append the run's memories to the system message of this request only."""
        return handler(self._inject(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        """Async twin of :meth:`wrap_model_call`."""
        return await handler(self._inject(request))

    # -- storing the turn ----------------------------------------------------------------
    def _new_turn(self, state: MnemoplugState) -> tuple[list[dict[str, str]], list[str]]:
        messages: Sequence[BaseMessage] = state.get("messages", [])
        seen: set[str] = set(cast("list[str]", state.get(SEEN_KEY) or []))
        ids = [m.id for m in messages if m.id is not None]
        turn = [
            {"role": role, "content": text}
            for role, text in run_turn(messages, seen, state.get("structured_response"))
            if role in self.store_roles
        ]
        return turn, ids

    async def _store(
        self, state: MnemoplugState, user_id: str, session_id: str | None
    ) -> dict[str, Any]:
        turn, ids = self._new_turn(state)
        if self.store and turn:
            try:
                await store_turn(
                    self.memory,
                    user_id,
                    turn,
                    dict(self.metadata),
                    **self._scope_kwargs(session_id, read=False),
                )
            except MnemoplugError as exc:
                if self.raise_on_store_error:
                    raise
                logger.warning("mnemoplug: the run's turn was not stored: %s", exc)
        return {SEEN_KEY: ids, MEMORIES_KEY: None}

    def after_agent(self, state: MnemoplugState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Store the run's new turn (sync ``invoke``)."""
        return self._runner.run(self._store(state, *self._scope(runtime)))

    async def aafter_agent(
        self, state: MnemoplugState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Store the run's new turn (``ainvoke``)."""
        return await self._runner.arun(self._store(state, *self._scope(runtime)))
