"""Injection strategies: select a user's memories for a run and render them as prompt text.

``inject_memory(...)`` returns one :class:`InjectionStrategy`; every adapter and the
``agent_endpoint`` decorator use it the same way::

    strategy = inject_memory("relevant", max_memories=5)
    memories = await strategy.select(memory, user_id="u1", query="what theme do I like?")
    prompt_text = strategy.render(memories)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .errors import ConfigurationError
from .records import MemoryRecord

__all__ = ["DEFAULT_TEMPLATE", "InjectionStrategy", "SelectionContext", "inject_memory"]

StrategyName = Literal["relevant", "recent", "all", "custom"]
DEFAULT_TEMPLATE = "Relevant memories about the user (from earlier conversations):\n{memories}"
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
        if max_memories is not None and (not isinstance(max_memories, int) or max_memories < 1):
            raise ConfigurationError(
                f"max_memories must be a positive integer or None, got {max_memories!r}"
            )
        if time_window_hours is not None and time_window_hours <= 0:
            raise ConfigurationError("time_window_hours must be positive")
        if isinstance(template, str) and "{memories}" not in template:
            raise ConfigurationError("template must contain '{memories}'")
        self.strategy = strategy
        self.memory = _as_memory(provider) if provider is not None else None
        self.max_memories = max_memories
        self.min_relevance = min_relevance
        self.time_window_hours = time_window_hours
        self.selector = selector
        self.template = template if template is not None else DEFAULT_TEMPLATE
        self.item_template = item_template
        self.filters = filters

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

    async def select(
        self,
        memory: Any = None,
        *,
        user_id: str,
        query: str | None = None,
        **scope: Any,
    ) -> list[MemoryRecord]:
        """The memories to inject for this run (``scope``: tenant_id, agent_id, session_id)."""
        memory = memory if memory is not None else self.memory
        if memory is None:
            raise ConfigurationError(
                "no Memory: pass one to select() or inject_memory(provider=...)"
            )
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


def _as_memory(provider: Any) -> Any:
    from .contracts import MemoryProvider
    from .memory import Memory

    if isinstance(provider, MemoryProvider):
        return Memory(provider)
    if isinstance(provider, str):
        return Memory.from_url(provider)
    return provider


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
    or a callable ``template(memories) -> str``. ``provider`` (a Memory, provider or URL) is
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
