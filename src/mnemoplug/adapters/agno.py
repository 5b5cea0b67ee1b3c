"""Agno adapter: long-term memory for an existing ``agno.agent.Agent`` in one line.

::

    from mnemoplug import Memory, inject_memory
    from mnemoplug.adapters.agno import with_memory

    agent = with_memory(agent, Memory(), strategy=inject_memory("relevant"))
    agent.run("What theme do I like?", user_id="u1", session_id="s1")

What :class:`MnemoplugAgno` does to the agent (its model, tools and instructions stay):

* memories are selected for the run's input with the injection strategy (``user_id`` and
  ``session_id`` come from Agno's own run arguments) and added to the system message through
  the agent's ``additional_context`` for *that* run only (a context variable per run, so
  nothing leaks into the next run or into another user's concurrent run). Agno appends
  ``additional_context`` after its ``{var}`` substitution: memory text reaches the model
  exactly as stored, and the agent's ``instructions`` are not touched;
* a ``post_hooks`` entry stores the new user message and the final answer after a successful
  run. Agno skips post-hooks when the model fails, so a failed run stores nothing.

``arun`` (and ``arun(stream=True)``) awaits the lookup and the store on the caller's event
loop, never blocking it (with a :class:`SyncMemory`, on that memory's loop, awaited). The sync
``run`` calls memory on a private event loop thread (:class:`~mnemoplug.core.portal.Portal`),
so it never deadlocks inside a running loop.

A failing lookup is logged on the ``mnemoplug.adapters.agno`` logger and the run goes on
without memories (never stale or another run's text); ``raise_on_lookup_error=True`` stops the
run instead (Agno's ``InputCheckError``: status ``error`` before the model is called). A failed
or rejected store (e.g. a ``MemoryRejectedError`` from an ``on_memory_add`` hook) is logged and
the run completes; ``raise_on_store_error=True`` gives the run status ``error`` (streams end
with a ``RunErrorEvent``).

:class:`MnemoplugAgnoDb` (import it from here) is a drop-in for Agno's ``db``: Agno's user
memories live in mnemoplug, scoped by user, and its sessions and runs in the Memory's session
store, so replacing ``SqliteDb`` with it loses nothing across restarts.

``escape_agno_text`` is kept for text you put into Agno's own instructions yourself; the
adapter no longer needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import ConfigurationError, MissingDependencyError

try:
    from agno.exceptions import CheckTrigger, InputCheckError, OutputCheckError
    from agno.run.agent import RunErrorEvent, RunOutput
    from agno.run.base import RunStatus
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingDependencyError("the Agno adapter", "agno", "agno") from exc

from ..core.memory import Memory
from ..core.provider import MemoryProvider
from ..core.remember import store_turn
from ..core.strategies import InjectionStrategy, inject_memory
from ..core.sync import SyncMemory
from ._checks import check_metadata_arg, check_optional_str
from ._lookup import select_memories
from ._memory import unwrap_memory
from .agno_db import PORTAL_NAME, MnemoplugAgnoDb, agno_portal

if TYPE_CHECKING:
    from agno.agent import Agent

__all__ = [
    "PORTAL_NAME",
    "MnemoplugAgno",
    "MnemoplugAgnoDb",
    "agno_portal",
    "escape_agno_text",
    "with_memory",
]

logger = logging.getLogger("mnemoplug.adapters.agno")

T = TypeVar("T")
_WJ = "\u2060"  # WORD JOINER: invisible, breaks Agno's ``{var}`` pattern


def escape_agno_text(text: str, *, resolve_in_context: bool = True) -> str:
    """Escape ``text`` so Agno's variable substitution leaves it as written.

    Agno rewrites ``{name}`` to ``${name}`` for every known variable (session state,
    dependencies, metadata, ``user_id``) and then runs ``string.Template.safe_substitute`` over
    the whole system message. A word joiner (U+2060, invisible) after each ``{`` breaks the
    first step; ``$$`` is the template escape for ``$``. With ``resolve_in_context=False`` Agno
    substitutes nothing and the text is returned unchanged.
    """
    if not resolve_in_context:
        return text
    return text.replace("$", "$$").replace("{", "{" + _WJ)


@dataclass
class _RunState:
    """One run's memory state, in a context variable of its adapter (so concurrent runs, in
    tasks or threads, never see each other's)."""

    user_id: str | None = None
    session_id: str | None = None
    text: str = ""
    native: bool = False  # inside the adapter's ``arun``: lookup done, stores awaited there
    prefetched: bool = False  # the native lookup has not been used by a pre-hook yet
    error: BaseException | None = None
    stores: list[asyncio.Task[None]] = field(default_factory=list)


class _MemoryContext(str):
    """The agent's ``additional_context`` plus the current run's memory block.

    Agno appends ``additional_context`` to the system message after its ``{var}``/``$var``
    substitution, so the memory text reaches the model exactly as stored. As a ``str`` it is
    the agent's own context (what Agno saves in its config); formatted into the system
    message it adds the memories of the run in progress.
    """

    adapter: MnemoplugAgno

    def __new__(cls, base: str | None, adapter: MnemoplugAgno) -> _MemoryContext:
        obj = super().__new__(cls, base or "")
        obj.adapter = adapter
        return obj

    def __format__(self, spec: str) -> str:
        base = str.__str__(self)
        block = self.adapter.memory_text()
        if not block:
            return format(base, spec)
        return format(f"{base}\n\n{block}" if base else block, spec)

    def __deepcopy__(self, memo: dict[int, Any]) -> _MemoryContext:
        return self

    def __copy__(self) -> _MemoryContext:
        return self

    def __reduce__(self) -> Any:
        return (str, (str.__str__(self),))


class MnemoplugAgno:
    """Connects a mnemoplug :class:`Memory` to Agno agents. ``attach(agent)`` wires it in.

    Args:
        memory: a :class:`Memory` (``arun`` awaits it on the caller's loop; ``run`` uses it on
            the adapter's own loop thread), a :class:`SyncMemory` (every call on its loop),
            or your own :class:`~mnemoplug.MemoryProvider` (wrapped as
            ``Memory(provider=...)``).
        strategy: how memories are selected and rendered (default ``inject_memory("relevant")``).
        store_turns: store each successful run's user/assistant turn (default True).
        default_user_id: the user when a run has none; by default such runs get no memory.
        tenant_id, agent_id: narrow the scope of lookups and writes.
        metadata: extra metadata stored with every turn.
        raise_on_store_error: fail the run (status ``error``; ``arun`` raises Agno's
            ``OutputCheckError``) when storing the turn fails.
        raise_on_lookup_error: fail the run (before the model call) when the lookup fails.
    """

    def __init__(
        self,
        memory: Memory | SyncMemory | MemoryProvider,
        strategy: InjectionStrategy | None = None,
        *,
        store_turns: bool = True,
        default_user_id: str | None = None,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        raise_on_store_error: bool = False,
        raise_on_lookup_error: bool = False,
    ) -> None:
        if strategy is not None and not isinstance(strategy, InjectionStrategy):
            raise ConfigurationError(
                f"strategy must come from inject_memory(...), got {type(strategy).__name__}"
            )
        self.strategy = strategy if strategy is not None else inject_memory("relevant")
        self.memory, portal = unwrap_memory(memory, self.strategy.memory)
        self._portal = portal
        self.store_turns = store_turns
        self.default_user_id = check_optional_str(default_user_id, "default_user_id")
        self.tenant_id = check_optional_str(tenant_id, "tenant_id")
        self.agent_id = check_optional_str(agent_id, "agent_id")
        self.metadata = check_metadata_arg(metadata)
        self.raise_on_store_error = raise_on_store_error
        self.raise_on_lookup_error = raise_on_lookup_error
        self._run: ContextVar[_RunState | None] = ContextVar(
            f"mnemoplug_agno_run_{id(self)}", default=None
        )
        self._background: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"MnemoplugAgno({self.memory!r}, strategy={self.strategy!r})"

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` from sync code (Agno's ``run``) on the memory's loop thread."""
        portal = self._portal or agno_portal()
        return portal.call(coro)

    async def _await(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` from async code: natively, or on a SyncMemory's own loop (whose
        providers belong to it) without blocking the caller's loop."""
        if self._portal is None:
            return await coro
        fut = asyncio.run_coroutine_threadsafe(coro, self._portal.loop)
        return await asyncio.wrap_future(fut)

    def _scope(self) -> dict[str, Any]:
        scope: dict[str, Any] = {}
        if self.tenant_id is not None:
            scope["tenant_id"] = self.tenant_id
        if self.agent_id is not None:
            scope["agent_id"] = self.agent_id
        return scope

    def _user(self, user_id: str | None, run_context: Any) -> str | None:
        return user_id or getattr(run_context, "user_id", None) or self.default_user_id

    # -- wiring --------------------------------------------------------------------------------
    def __copy__(self) -> MnemoplugAgno:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> MnemoplugAgno:
        # Agno deep-copies agents (``agent.deep_copy()``, AgentOS): copies share this adapter.
        return self

    @staticmethod
    def attached_to(agent: Agent) -> MnemoplugAgno | None:
        """The adapter attached to ``agent`` (or to the agent it was copied from), if any."""
        for h in agent.pre_hooks or []:
            owner = getattr(h, "__self__", None)
            if isinstance(owner, MnemoplugAgno):
                return owner
        return None

    def attach(self, agent: Agent) -> Agent:
        """Add this memory to ``agent`` (in place) and return it. Attaching twice is a no-op;
        attaching a second, different adapter raises :class:`~mnemoplug.ConfigurationError`."""
        current = self.attached_to(agent)
        if current is self:
            return agent
        if current is not None:
            raise ConfigurationError("this agent already has a mnemoplug memory attached")
        if getattr(agent, "system_message", None) is not None:
            logger.warning(
                "mnemoplug: the agent sets system_message, so Agno ignores its "
                "additional_context; memories are injected there and will not reach the model"
            )
        agent.pre_hooks = [*(agent.pre_hooks or []), self.pre_hook]
        agent.post_hooks = [*(agent.post_hooks or []), self.post_hook]
        agent.additional_context = _MemoryContext(agent.additional_context, self)
        self._wrap_arun(agent)
        return agent

    def _wrap_arun(self, agent: Agent) -> None:
        """``agent.arun`` looks memories up and stores the turn with ``await`` (the pre- and
        post-hooks then only hand over); Agno's sync hooks would block the event loop."""
        original = agent.arun
        adapter = self

        def arun(input: Any = None, *args: Any, **kwargs: Any) -> Any:
            result = original(input, *args, **kwargs)
            user = adapter._user(kwargs.get("user_id"), None) or getattr(agent, "user_id", None)
            session = kwargs.get("session_id") or getattr(agent, "session_id", None)
            query = _input_text(input)
            if inspect.iscoroutine(result):
                return adapter._native_run(result, user, session, query)
            if hasattr(result, "__aiter__"):
                return adapter._native_stream(result, user, session, query)
            return result  # pragma: no cover - an Agno version returning something else

        arun.__doc__ = original.__doc__
        arun._mnemoplug_adapter = adapter  # type: ignore[attr-defined]
        agent.arun = arun  # type: ignore[method-assign]

    def _ensure_native(self, agent: Any) -> None:
        """A copy of an attached agent (``agent.deep_copy()``, AgentOS) shares the hooks but
        not the instance's ``arun``: wrap it too, for its next runs."""
        if agent is None or getattr(agent, "arun", None) is None:
            return
        if getattr(agent.arun, "_mnemoplug_adapter", None) is not self:
            with contextlib.suppress(AttributeError, TypeError):
                self._wrap_arun(agent)

    async def _prefetch(self, user: str | None, session: str | None, query: str | None) -> Any:
        state = _RunState(user, session, native=True, prefetched=True)
        if user is not None:
            try:
                memories = await self._await(
                    select_memories(
                        self.strategy,
                        self.memory,
                        user_id=user,
                        query=query,
                        raise_on_error=True,
                        logger=logger,
                        **self._scope(),
                    )
                )
                state.text = self.strategy.render(memories)
            except Exception as exc:
                state.error = exc  # reported by the pre-hook, inside Agno's run
        return self._run.set(state), state

    async def _finish(self, state: _RunState) -> OutputCheckError | None:
        """Await the run's stores; the error to report with ``raise_on_store_error``."""
        for task in state.stores:
            try:
                await task
            except OutputCheckError as exc:
                return exc
        return None

    async def _native_run(
        self,
        run: Coroutine[Any, Any, Any],
        user: str | None,
        session: str | None,
        query: str | None,
    ) -> Any:
        token, state = await self._prefetch(user, session, query)
        try:
            out = await run
            error = await self._finish(state)
            if error is not None and isinstance(out, RunOutput):  # as Agno reports its own
                out.status = RunStatus.error
                if out.content is None:
                    out.content = str(error)
            return out
        finally:
            self._run.reset(token)

    async def _native_stream(
        self, stream: Any, user: str | None, session: str | None, query: str | None
    ) -> AsyncIterator[Any]:
        token, state = await self._prefetch(user, session, query)
        try:
            last: Any = None
            async for event in stream:
                last = event
                yield event
            error = await self._finish(state)
            if error is not None:
                if isinstance(last, RunOutput):
                    last.status = RunStatus.error
                yield RunErrorEvent(
                    run_id=getattr(last, "run_id", None),
                    session_id=getattr(last, "session_id", None),
                    content=str(error),
                    error_type=error.type,
                    error_id=error.error_id,
                )
        finally:
            with contextlib.suppress(ValueError):  # consumed from another context
                self._run.reset(token)

    def memory_text(self, run_context: Any = None, agent: Any = None) -> str:
        """The memory block of the run in progress ('' when none)."""
        state = self._run.get()
        return state.text if state is not None else ""

    # -- hooks ---------------------------------------------------------------------------------
    def pre_hook(
        self, run_input: Any, run_context: Any, user_id: str | None = None, agent: Any = None
    ) -> None:
        """Agno pre-hook: this run's memories (looked up already in ``arun``; here in ``run``)."""
        self._ensure_native(agent)
        state = self._run.get()
        if state is not None and state.native and state.prefetched:
            state.prefetched = False
            if state.error is not None:
                self._lookup_failed(state.user_id, run_context, state.error)
            return
        run_id = getattr(run_context, "run_id", None)
        user = self._user(user_id, run_context)
        session_id = getattr(run_context, "session_id", None)
        state = _RunState(user, session_id)
        self._run.set(state)  # a failed lookup leaves '' for this run, never stale text
        if user is None:
            logger.debug("Agno run %s has no user_id; no memory injected", run_id)
            return
        try:
            memories = self._call(
                select_memories(
                    self.strategy,
                    self.memory,
                    user_id=user,
                    query=_input_text(run_input),
                    raise_on_error=True,
                    logger=logger,
                    **self._scope(),
                )
            )
            state.text = self.strategy.render(memories)
        except Exception as exc:
            self._lookup_failed(user, run_context, exc)

    def _lookup_failed(self, user: str | None, run_context: Any, exc: BaseException) -> None:
        logger.warning(
            "mnemoplug: memory lookup failed for user %r (run %s); running without memories: "
            "%s: %s",
            user,
            getattr(run_context, "run_id", None),
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        if self.raise_on_lookup_error:
            raise InputCheckError(
                f"memory lookup failed: {exc}", check_trigger=CheckTrigger.VALIDATION_FAILED
            ) from exc

    def post_hook(self, run_output: Any, run_context: Any, user_id: str | None = None) -> None:
        """Agno post-hook: store the run's user/assistant turn."""
        run_id = getattr(run_context, "run_id", None) or getattr(run_output, "run_id", None)
        state = self._run.get()
        if not self.store_turns:
            return
        user = state.user_id if state and state.user_id else self._user(user_id, run_context)
        if not user:
            return
        session_id = (state.session_id if state else None) or getattr(
            run_context, "session_id", None
        )
        turn = _turn(run_output)
        if not turn:
            return
        meta = {**self.metadata, "source": "agno"}
        if run_id:
            meta["agno_run_id"] = run_id
        if state is not None and state.native:  # in arun: stored with await, not blocking
            task = asyncio.get_running_loop().create_task(
                self._store(user, turn, meta, session_id, run_id)
            )
            state.stores.append(task)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        self._call(self._store(user, turn, meta, session_id, run_id))

    async def _store(
        self,
        user: str,
        turn: list[dict[str, str]],
        meta: dict[str, Any],
        session_id: str | None,
        run_id: str | None,
    ) -> None:
        try:
            await self._await(
                store_turn(self.memory, user, turn, meta, session_id=session_id, **self._scope())
            )
        except Exception as exc:
            logger.warning(
                "mnemoplug: storing the turn of run %s for user %r failed; nothing stored: %s",
                run_id,
                user,
                exc,
                exc_info=not isinstance(exc, _expected_store_errors()),
            )
            if self.raise_on_store_error:
                raise OutputCheckError(
                    f"memory store failed: {exc}", check_trigger=CheckTrigger.VALIDATION_FAILED
                ) from exc


def _expected_store_errors() -> tuple[type[BaseException], ...]:
    from ..core.errors import MemoryRejectedError, MemoryValidationError

    return (MemoryRejectedError, MemoryValidationError)


def _input_text(run_input: Any) -> str | None:
    if run_input is None:
        return None
    if isinstance(run_input, str):  # agent.arun("...") hands the text itself
        return run_input if run_input.strip() else None
    getter = getattr(run_input, "input_content_string", None)
    text = getter() if callable(getter) else getattr(run_input, "input_content", None)
    return text if isinstance(text, str) and text.strip() else None


def _text(message: Any) -> str:
    getter = getattr(message, "get_content_string", None)
    text = getter() if callable(getter) else getattr(message, "content", None)
    return text.strip() if isinstance(text, str) else ""


def _turn(run_output: Any) -> list[dict[str, str]]:
    """The new user message and the final assistant answer of a run (history excluded)."""
    messages = [
        m
        for m in (getattr(run_output, "messages", None) or [])
        if not getattr(m, "from_history", False)
    ]
    user = next((_text(m) for m in reversed(messages) if m.role == "user" and _text(m)), "")
    if not user:
        user = _input_text(getattr(run_output, "input", None)) or ""
    answer = next((_text(m) for m in reversed(messages) if m.role == "assistant" and _text(m)), "")
    if not answer and isinstance(getattr(run_output, "content", None), str):
        answer = run_output.content.strip()
    turn = []
    if user:
        turn.append({"role": "user", "content": user})
    if answer:
        turn.append({"role": "assistant", "content": answer})
    return turn


def with_memory(
    agent: Agent,
    memory: Memory | SyncMemory | MemoryProvider,
    strategy: InjectionStrategy | None = None,
    **options: Any,
) -> Agent:
    """Give ``agent`` long-term memory: ``agent = with_memory(agent, memory)``.

    ``strategy`` defaults to ``inject_memory("relevant")``; ``options`` go to
    :class:`MnemoplugAgno`. Returns the same agent, changed in place.
    """
    return MnemoplugAgno(memory, strategy, **options).attach(agent)
