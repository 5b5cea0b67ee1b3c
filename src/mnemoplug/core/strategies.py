"""Injection strategies: select a user's memories for a run and render them as prompt text.

``inject_memory(...)`` returns one :class:`InjectionStrategy`; every adapter and the
``agent_endpoint`` decorator use it the same way::

    strategy = inject_memory("relevant", max_memories=5)
    memories = await strategy.select(memory, user_id="u1", query="what theme do I like?")
    prompt_text = strategy.render(memories)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .errors import ConfigurationError
from .records import MemoryRecord

__all__ = [
    "DEFAULT_TEMPLATE",
    "RECENT_TEMPLATE",
    "InjectionStrategy",
    "SelectionContext",
    "as_memory",
    "inject_memory",
]

StrategyName = Literal["relevant", "recent", "all", "custom"]
DEFAULT_TEMPLATE = "Relevant memories about the user (from earlier conversations):\n{memories}"
#: the default ``template`` of the ``"recent"`` strategy (its memories are the newest, not the
#: most relevant)
RECENT_TEMPLATE = "Recent memories about the user (newest first):\n{memories}"
DEFAULT_ITEM_TEMPLATE = "- {content}"
ALL_CAP = 1000


@dataclass(slots=True)
class SelectionContext:
    """What a custom ``selector(ctx, memories)`` sees."""

    user_id: str
    query: str | None
    scope: dict[str, Any]
    memory: Any
    now: datetime
    strategy: InjectionStrategy
    extra: dict[str, Any] = field(default_factory=dict)


class InjectionStrategy:
    """Selects and renders memories. Build it with :func:`inject_memory`."""

    def __init__(
        self,
        strategy: StrategyName = "relevant",
        *,
        provider: Any = None,
        max_memories: int | None = 5,
        min_relevance: float | None = None,
        time_window_hours: float | None = None,
        selector: Callable[..., Any] | None = None,
        template: str | Callable[[Sequence[MemoryRecord]], str] | None = None,
        item_template: str = DEFAULT_ITEM_TEMPLATE,
        filters: dict[str, Any] | None = None,
    ) -> None:
        if strategy not in ("relevant", "recent", "all", "custom"):
            raise ConfigurationError(
                f"unknown strategy {strategy!r}; use 'relevant', 'recent', 'all' or 'custom'"
            )
        if strategy == "custom" and selector is None:
            raise ConfigurationError("strategy='custom' needs selector=callable(ctx, memories)")
        if selector is not None and not callable(selector):
            raise ConfigurationError(
                f"selector must be a callable(ctx, memories), got {type(selector).__name__}"
            )
        if max_memories is not None and (
            isinstance(max_memories, bool) or not isinstance(max_memories, int) or max_memories < 1
        ):
            raise ConfigurationError(
                f"max_memories must be a positive integer or None, got {max_memories!r}"
            )
        if min_relevance is not None and not _is_number(min_relevance):
            raise ConfigurationError(
                f"min_relevance must be a number or None, got {min_relevance!r}"
            )
        if time_window_hours is not None and (
            not _is_number(time_window_hours) or time_window_hours <= 0
        ):
            raise ConfigurationError(
                f"time_window_hours must be a positive number or None, got {time_window_hours!r}"
            )
        if template is not None and not isinstance(template, str) and not callable(template):
            raise ConfigurationError(
                f"template must be a string with '{{memories}}' or a callable, got "
                f"{type(template).__name__}"
            )
        if isinstance(template, str) and "{memories}" not in template:
            raise ConfigurationError("template must contain '{memories}'")
        if not isinstance(item_template, str):
            raise ConfigurationError(
                f"item_template must be a string, got {type(item_template).__name__}"
            )
        if filters is not None and not isinstance(filters, Mapping):
            raise ConfigurationError(
                f"filters must be a dict or None, got {type(filters).__name__}"
            )
        self.strategy = strategy
        self.memory = as_memory(provider)
        self._wrapped: dict[int, tuple[Any, Any]] = {}
        self.max_memories = max_memories
        self.min_relevance = min_relevance
        self.time_window_hours = time_window_hours
        self.selector = selector
        if template is None:
            template = RECENT_TEMPLATE if strategy == "recent" else DEFAULT_TEMPLATE
        self.template = template
        self.item_template = item_template
        self.filters = dict(filters) if filters is not None else None

    def __repr__(self) -> str:
        return f"inject_memory({self.strategy!r}, max_memories={self.max_memories})"

    def _filters(self) -> dict[str, Any] | None:
        f = dict(self.filters or {})
        if self.time_window_hours is not None:
            since = datetime.now(UTC) - timedelta(hours=self.time_window_hours)
            f = (
                {"$and": [f, {"created_at": {"$gte": since}}]}
                if f
                else {"created_at": {"$gte": since}}
            )
        return f or None

    def relevance_floor(self, memory: Any) -> float | None:
        if self.min_relevance is not None:
            return self.min_relevance
        emb = getattr(memory, "embedder", None)
        return getattr(emb, "relevance_floor", None) if emb is not None else None

    def _memory_for(self, memory: Any) -> Any:
        """The memory to use: ``memory`` (a user's own MemoryProvider wrapped once as
        ``Memory(provider=...)``), else the strategy's own."""
        if memory is None:
            memory = self.memory
        if memory is None:
            raise ConfigurationError(
                "no Memory: pass one to select() or inject_memory(provider=...)"
            )
        if not _needs_wrapping(memory):
            return memory
        hit = self._wrapped.get(id(memory))
        if hit is not None and hit[0] is memory:
            return hit[1]
        wrapped = as_memory(memory, self.memory)
        if len(self._wrapped) >= _MAX_WRAPPED:
            self._wrapped.pop(next(iter(self._wrapped)))
        self._wrapped[id(memory)] = (memory, wrapped)
        return wrapped

    async def select(
        self,
        memory: Any = None,
        *,
        user_id: str,
        query: str | None = None,
        **scope: Any,
    ) -> list[MemoryRecord]:
        """The memories to inject for this run (``scope``: tenant_id, agent_id, session_id)."""
        memory = self._memory_for(memory)
        limit = self.max_memories
        filters = self._filters()
        if self.strategy == "relevant" and query and query.strip():
            return list(
                await memory.search(
                    user_id,
                    query,
                    limit=limit or 10,
                    filters=filters,
                    min_relevance=self.relevance_floor(memory),
                    **scope,
                )
            )
        if self.strategy in ("recent", "relevant"):  # relevant without a query: the newest
            return list(await memory.get_all(user_id, limit=limit or 10, filters=filters, **scope))
        if self.strategy == "all":
            return list(
                await memory.get_all(user_id, limit=limit or ALL_CAP, filters=filters, **scope)
            )
        candidates = list(await memory.get_all(user_id, limit=ALL_CAP, filters=filters, **scope))
        ctx = SelectionContext(
            user_id=user_id,
            query=query,
            scope=scope,
            memory=memory,
            now=datetime.now(UTC),
            strategy=self,
        )
        assert self.selector is not None
        chosen = self.selector(ctx, candidates)
        if inspect.isawaitable(chosen):
            chosen = await chosen
        chosen = list(chosen or [])
        return chosen[:limit] if limit else chosen

    def render(self, memories: Sequence[MemoryRecord | dict[str, Any] | str]) -> str:
        """Prompt text for ``memories`` ('' when there are none)."""
        if not memories:
            return ""
        if callable(self.template):
            return str(self.template(memories))  # type: ignore[arg-type]
        lines = []
        for m in memories:
            if isinstance(m, str):
                lines.append(
                    self.item_template.format(content=m, metadata={}, created_at="", score=None)
                )
                continue
            get = m.get if isinstance(m, dict) else m.__getitem__
            lines.append(
                self.item_template.format(
                    content=get("content"),
                    metadata=get("metadata"),
                    created_at=get("created_at"),
                    score=get("score"),
                    category=(get("metadata") or {}).get("category"),
                )
            )
        return self.template.replace("{memories}", "\n".join(lines))


_MAX_WRAPPED = 64


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _needs_wrapping(obj: Any) -> bool:
    """True for a user's own MemoryProvider / a MemoryStore / a URL (not already a Memory)."""
    from .memory import Memory
    from .provider import MemoryProvider
    from .stores import MemoryStore

    if isinstance(obj, Memory):
        return False
    return isinstance(obj, MemoryProvider | MemoryStore | str)


def as_memory(obj: Any, *reuse: Any) -> Any:
    """The memory an adapter, ``agent_endpoint`` or strategy should call for ``obj``.

    * a :class:`~mnemoplug.Memory` (or built-in provider): ``obj`` itself;
    * your own :class:`~mnemoplug.MemoryProvider` (the seven seed methods only):
      ``Memory(provider=obj)``, which adds validation, hooks, ``min_relevance`` filtering and
      scope handling over its own storage and search — or one of ``reuse`` when it already
      wraps ``obj`` (so a strategy and an adapter given the same provider share one Memory);
    * a :class:`~mnemoplug.MemoryStore`: ``Memory(obj)``; a URL: ``Memory.from_url(obj)``;
    * None or anything else (a ``SyncMemory``, an object that merely looks like a memory):
      unchanged.
    """
    if obj is None or not _needs_wrapping(obj):
        return obj
    from .memory import Memory

    if isinstance(obj, str):
        return Memory.from_url(obj)
    for candidate in reuse:
        if isinstance(candidate, Memory) and _wrapped_provider(candidate) is obj:
            return candidate
    return Memory(provider=obj)


def _wrapped_provider(memory: Any) -> Any:
    """The user's provider a ``Memory(provider=...)`` delegates to (None for a store-backed one)."""
    calls = getattr(memory, "_calls", None)
    return getattr(calls, "provider", None) if calls is not None else None


def inject_memory(
    strategy: StrategyName = "relevant",
    *,
    provider: Any = None,
    max_memories: int | None = 5,
    min_relevance: float | None = None,
    time_window_hours: float | None = None,
    selector: Callable[..., Any] | None = None,
    template: str | Callable[[Sequence[MemoryRecord]], str] | None = None,
    item_template: str = DEFAULT_ITEM_TEMPLATE,
    filters: dict[str, Any] | None = None,
) -> InjectionStrategy:
    """Build an injection strategy.

    * ``"relevant"``: the memories most relevant to the run's input (``memory.search``), at most
      ``max_memories``, dropping hits whose cosine similarity is under ``min_relevance``
      (default: the embedder's calibrated floor, 0.25 for all-MiniLM-L6-v2). With no query,
      the newest.
    * ``"recent"``: the newest ``max_memories``, newest first.
    * ``"all"``: every memory (up to ``max_memories``, or 1,000), newest first.
    * ``"custom"``: ``selector(ctx, memories)`` (sync or async) picks from the user's newest
      1,000 memories; ``ctx`` is a :class:`SelectionContext`.

    ``time_window_hours`` keeps only memories created in that window. ``template`` is a string
    with ``{memories}`` (each memory rendered by ``item_template``, default ``"- {content}"``)
    or a callable ``template(memories) -> str``; by default the block is headed "Relevant
    memories about the user (from earlier conversations):" ("Recent memories about the user
    (newest first):" for ``"recent"``). ``provider`` (a Memory, your own
    :class:`~mnemoplug.MemoryProvider` — wrapped as ``Memory(provider=...)`` — or a URL) is
    the memory ``select`` uses when none is passed to it.
    """
    return InjectionStrategy(
        strategy,
        provider=provider,
        max_memories=max_memories,
        min_relevance=min_relevance,
        time_window_hours=time_window_hours,
        selector=selector,
        template=template,
        item_template=item_template,
        filters=filters,
    )
