"""Agno adapter: long-term memory for an existing ``agno.agent.Agent`` in one line.

::

    from mnemoplug import Memory, inject_memory
    from mnemoplug.adapters.agno import with_memory

    agent = with_memory(agent, Memory(), strategy=inject_memory("relevant"))
    agent.run("What theme do I like?", user_id="u1", session_id="s1")

What :class:`MnemoplugAgno` does to the agent (its model, tools and instructions stay):

* a ``pre_hooks`` entry selects the user's memories for the run's input with the injection
  strategy (``user_id`` and ``session_id`` come from Agno's own run arguments);
* the agent's ``instructions`` become a callable returning the original instructions plus the
  rendered memories of *that* run only (keyed by Agno's run id, so nothing leaks into the next
  run or into another user's concurrent run);
* a ``post_hooks`` entry stores the new user/assistant turn after a successful run. Agno skips
  post-hooks when the model fails, so a failed run stores nothing.

Works with ``run``, ``arun`` and streaming (``stream=True``, sync and async). Memory calls run
on a private event loop thread (:class:`~mnemoplug.core.portal.Portal`), so the sync hooks never
deadlock inside a running loop; in ``arun`` they block the caller's loop for the lookup (one
embedding and one query, typically 10–30 ms).

Agno swallows exceptions raised by hooks. A failing lookup is logged on the
``mnemoplug.adapters.agno`` logger and injects nothing (never stale or another run's text);
``raise_on_lookup_error=True`` stops the run instead (Agno's ``InputCheckError``: the run ends
with status ``error`` before the model is called). A failed or rejected store (e.g. a
``MemoryRejectedError`` from an ``on_memory_add`` hook) is logged and the run completes;
``raise_on_store_error=True`` fails the run (Agno's ``OutputCheckError``: status ``error``).

Agno substitutes ``{var}`` and ``$var`` in the system message (``resolve_in_context``); memory
text is escaped so a remembered ``{user_name}`` reaches the model as written (a zero-width
word joiner follows each ``{``, ``$`` is doubled).

:class:`MnemoplugAgnoDb` (:mod:`mnemoplug.adapters.agno_db`) is a drop-in for Agno's own
user-memory storage: an ``agno.db.in_memory.InMemoryDb`` whose user memories live in
mnemoplug, scoped by user.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import ConfigurationError, MissingDependencyError

try:
    from agno.exceptions import CheckTrigger, InputCheckError, OutputCheckError
    from agno.utils.agent import aexecute_instructions, execute_instructions
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingDependencyError("the Agno adapter", "agno", "agno") from exc

from ..core.memory import Memory
from ..core.provider import MemoryProvider
from ..core.remember import store_turn
from ..core.strategies import InjectionStrategy, inject_memory
from ..core.sync import SyncMemory
from ._checks import check_metadata_arg, check_optional_str
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
_MAX_PENDING = 1024


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


@dataclass(slots=True)
class _RunState:
    user_id: str
    session_id: str | None
    text: str


class MnemoplugAgno:
    """Connects a mnemoplug :class:`Memory` to Agno agents. ``attach(agent)`` wires it in.

    Args:
        memory: a :class:`Memory` (used on the adapter's own loop thread), a
            :class:`SyncMemory` (used on its loop), or your own
            :class:`~mnemoplug.MemoryProvider` (wrapped as ``Memory(provider=...)``).
        strategy: how memories are selected and rendered (default ``inject_memory("relevant")``).
        store_turns: store each successful run's user/assistant turn (default True).
        default_user_id: the user when a run has none; by default such runs get no memory.
        tenant_id, agent_id: narrow the scope of lookups and writes.
        metadata: extra metadata stored with every turn.
        raise_on_store_error: fail the run (status ``error``) when storing the turn fails.
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
        self._pending: OrderedDict[str, _RunState] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MnemoplugAgno({self.memory!r}, strategy={self.strategy!r})"

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        portal = self._portal or agno_portal()
        return portal.call(coro)

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
                "mnemoplug: the agent sets system_message, so Agno ignores its instructions; "
                "memories are injected through the instructions and will not reach the model"
            )
        agent.pre_hooks = [*(agent.pre_hooks or []), self.pre_hook]
        agent.post_hooks = [*(agent.post_hooks or []), self.post_hook]
        agent.instructions = self._wrap_instructions(agent.instructions)
        return agent

    def _wrap_instructions(self, original: Any) -> Callable[..., Any]:
        adapter = self

        def combine(base: Any, agent: Any, run_context: Any) -> list[str]:
            if base is None:
                items: list[str] = []
            elif isinstance(base, str):
                items = [base]
            else:
                items = list(base)
            block = adapter.memory_text(run_context, agent)
            return [*items, block] if block else items

        if callable(original) and inspect.iscoroutinefunction(original):

            async def async_instructions(
                agent: Any = None, session_state: Any = None, run_context: Any = None
            ) -> list[str]:
                base = await aexecute_instructions(
                    instructions=original,
                    agent=agent,
                    session_state=session_state,
                    run_context=run_context,
                )
                return combine(base, agent, run_context)

            return async_instructions

        def instructions(
            agent: Any = None, session_state: Any = None, run_context: Any = None
        ) -> list[str]:
            base = original
            if callable(original):
                base = execute_instructions(
                    instructions=original,
                    agent=agent,
                    session_state=session_state,
                    run_context=run_context,
                )
            return combine(base, agent, run_context)

        return instructions

    # -- per-run state -------------------------------------------------------------------------
    def _set_pending(self, run_id: str, state: _RunState) -> None:
        with self._lock:
            self._pending[run_id] = state
            self._pending.move_to_end(run_id)
            while len(self._pending) > _MAX_PENDING:
                self._pending.popitem(last=False)

    def memory_text(self, run_context: Any, agent: Any = None) -> str:
        """The escaped memory block for the run of ``run_context`` ('' when none)."""
        run_id = getattr(run_context, "run_id", None)
        with self._lock:
            state = self._pending.get(run_id) if run_id else None
        if state is None or not state.text:
            return ""
        resolve = bool(getattr(agent, "resolve_in_context", True))
        return escape_agno_text(state.text, resolve_in_context=resolve)

    # -- hooks ---------------------------------------------------------------------------------
    def pre_hook(self, run_input: Any, run_context: Any, user_id: str | None = None) -> None:
        """Agno pre-hook: select and render this run's memories."""
        run_id = getattr(run_context, "run_id", None)
        if not run_id:
            return
        user = self._user(user_id, run_context)
        session_id = getattr(run_context, "session_id", None)
        if user is None:
            self._set_pending(run_id, _RunState("", session_id, ""))
            logger.debug("Agno run %s has no user_id; no memory injected", run_id)
            return
        state = _RunState(user, session_id, "")
        self._set_pending(run_id, state)  # a failed lookup leaves '' for this run, never stale text
        query = _input_text(run_input)
        try:
            memories = self._call(
                self.strategy.select(self.memory, user_id=user, query=query, **self._scope())
            )
            state.text = self.strategy.render(memories)
        except Exception as exc:
            logger.warning(
                "mnemoplug: memory lookup failed for user %r (run %s); no memory injected: %s",
                user,
                run_id,
                exc,
                exc_info=True,
            )
            if self.raise_on_lookup_error:
                raise InputCheckError(
                    f"memory lookup failed: {exc}", check_trigger=CheckTrigger.VALIDATION_FAILED
                ) from exc

    def post_hook(self, run_output: Any, run_context: Any, user_id: str | None = None) -> None:
        """Agno post-hook: store the run's user/assistant turn."""
        run_id = getattr(run_context, "run_id", None) or getattr(run_output, "run_id", None)
        with self._lock:
            state = self._pending.pop(run_id, None) if run_id else None
        if not self.store_turns:
            return
        user = state.user_id if state and state.user_id else self._user(user_id, run_context)
        if not user:
            return
        session_id = state.session_id if state else getattr(run_context, "session_id", None)
        turn = _turn(run_output)
        if not turn:
            return
        meta = {**self.metadata, "source": "agno"}
        if run_id:
            meta["agno_run_id"] = run_id
        try:
            self._call(
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
