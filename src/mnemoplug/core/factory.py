"""Building what a Memory is made of: stores from URLs and names, embedders, options."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .delegate import ProviderCalls
from .embedders import Embedder, as_embedder, default_embedder
from .errors import ConfigurationError
from .provider import MemoryProvider
from .registry import provider_registry, store_by_name, store_from_url
from .stores import MemoryStore

if TYPE_CHECKING:
    from .memory import Memory

__all__ = [
    "MEMORY_OPTIONS",
    "attached_stores",
    "check_options",
    "check_store",
    "construct",
    "create_memory",
    "make_embedder",
    "provider_from_url",
    "resolve_backend",
    "split_options",
    "start_default_embedder",
]

_SEVEN = ("add", "search", "get", "get_all", "update", "delete", "delete_all")


def provider_from_url(
    url: str, plugins: Iterable[Any] = (), *, load_entry_points: bool = True, **options: Any
) -> MemoryStore:
    """The memory store registered for ``url``'s scheme (``sqlite://``, ``redis://``, …)."""
    store = store_from_url(
        "memory", url, plugins=plugins, load_entry_points=load_entry_points, **options
    )
    return check_store(store, url)


def check_store(store: Any, what: str) -> MemoryStore:
    if not isinstance(store, MemoryStore):
        raise ConfigurationError(
            f"the store registered for {what!r} built {type(store).__name__}, not a MemoryStore"
        )
    return store


def construct(factory: Any, *args: Any, **kwargs: Any) -> Any:
    """``factory(*args, **kwargs)``, with unknown or missing arguments reported as a
    ConfigurationError naming the arguments ``factory`` takes."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return factory(*args, **kwargs)
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        takes = ", ".join(
            p.name
            for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )
        name = getattr(factory, "__name__", type(factory).__name__)
        raise ConfigurationError(f"{name}: {exc}; it takes: {takes}") from None
    return factory(*args, **kwargs)


def make_embedder(
    embedder: Any, plugins: Iterable[Any] = (), *, load_entry_points: bool = True
) -> Embedder | None:
    """An embedder from ``Memory(embedder=...)``: ``"default"``, a registered name, a
    sentence-transformers model name, None, an embedder object or a callable."""
    if isinstance(embedder, str):
        if embedder == "default":
            default: Embedder | None = as_embedder(default_embedder())
            return default
        reg = provider_registry(plugins, load_entry_points=load_entry_points)
        factory = reg.embedders.get(embedder)
        if factory is None:
            from .embedders import SentenceTransformerEmbedder

            named: Any = SentenceTransformerEmbedder(embedder)
            return named  # type: ignore[no-any-return]
        built: Embedder | None = as_embedder(factory())
        return built
    chosen: Embedder | None = as_embedder(embedder)
    return chosen


def start_default_embedder(embedder: Any, provider: Any = None) -> None:
    """Start loading the default embedding model (on the embedder's thread) when a Memory
    over ``provider`` (None or a URL) will use it, before the store is imported and built:
    the load then overlaps that work instead of following it (cold start)."""
    if isinstance(embedder, str) and embedder == "default" and isinstance(provider, str | None):
        default_embedder()


MEMORY_OPTIONS = (
    "embedder",
    "plugins",
    "global_hooks",
    "retrieval",
    "max_content_chars",
    "load_entry_points",
    "session",
    "checkpoints",
    "durable_store",
    "clock",
    "default_ttl",
    "extractor",
    "dedupe",
    "questions",
)


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(Memory options, store options)`` from one keyword dict (the built-in providers take
    both)."""
    mem = {k: v for k, v in options.items() if k in MEMORY_OPTIONS}
    return mem, {k: v for k, v in options.items() if k not in MEMORY_OPTIONS}


def _uses_builtin_methods(obj: Any) -> bool:
    """True when ``obj`` is a Memory (or built-in provider) whose seven methods are Memory's
    own, so wrapping it may reuse its store directly."""
    from .memory import Memory

    return all(getattr(type(obj), n) is getattr(Memory, n) for n in _SEVEN)


def resolve_backend(
    provider: Any, plugins: list[Any], load_entry_points: bool
) -> tuple[MemoryStore | None, ProviderCalls | None]:
    """``(store, None)`` or ``(None, calls)`` for ``Memory(provider=...)``."""
    from .memory import Memory

    if provider is None:
        default = store_by_name("memory", "sqlite", load_entry_points=load_entry_points)
        return check_store(default, "sqlite"), None
    if isinstance(provider, str):
        return provider_from_url(provider, plugins, load_entry_points=load_entry_points), None
    if isinstance(provider, MemoryStore):
        return provider, None
    if isinstance(provider, Memory) and provider.store is not None:
        if not _uses_builtin_methods(provider):
            return None, ProviderCalls(provider)
        return provider.store, None
    if isinstance(provider, MemoryProvider):
        return None, ProviderCalls(provider)
    raise ConfigurationError(
        f"provider must be a URL, a MemoryStore or a MemoryProvider, got {type(provider).__name__}"
    )


def create_memory(name: str, *, url: str | None = None, **options: Any) -> Memory:
    """``create_memory("redis", url="redis://localhost:6379/0")``: a Memory over the store
    registered as ``name``. Options named like ``Memory``'s (embedder, plugins, retrieval, …)
    go to Memory; the rest to the store."""
    mem_opts = {k: options.pop(k) for k in list(options) if k in MEMORY_OPTIONS}
    plugins = list(mem_opts.pop("plugins", ()))
    store = store_by_name(
        "memory",
        name,
        url,
        plugins=plugins,
        load_entry_points=mem_opts.get("load_entry_points", True),
        **options,
    )
    from .memory import Memory

    return Memory(check_store(store, name), plugins=plugins, **mem_opts)


def check_options(
    plugins: Any, retrieval: Any, clock: Any, max_content_chars: Any, default_ttl: Any
) -> list[Any]:
    """Validate ``Memory``'s options (ConfigurationError saying what to pass); the plugins as
    a list."""
    from ._time import expiry_ts
    from .retrieval import RetrievalConfig

    if isinstance(plugins, str | bytes) or not isinstance(plugins, Iterable):
        raise ConfigurationError(
            f"plugins must be a list of plugin objects or @hook functions, got "
            f"{type(plugins).__name__}"
        )
    if retrieval is not None and not isinstance(retrieval, RetrievalConfig):
        raise ConfigurationError(
            f"retrieval must be a RetrievalConfig, got {type(retrieval).__name__}"
        )
    if clock is not None and not callable(clock):
        raise ConfigurationError("clock must be a callable returning epoch seconds")
    if isinstance(max_content_chars, bool) or not isinstance(max_content_chars, int):
        raise ConfigurationError("max_content_chars must be a positive integer")
    if max_content_chars <= 0:
        raise ConfigurationError("max_content_chars must be positive")
    if default_ttl is not None:
        try:
            expiry_ts(None, default_ttl, 0.0)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigurationError(
                f"default_ttl must be positive seconds or a timedelta: {exc}"
            ) from None
    return list(plugins)


def attached_stores(
    session: Any, checkpoints: Any, hooks: Any, *, load_entry_points: bool = True
) -> tuple[Any, Any]:
    """Session memory and checkpoint store from objects or URLs; the session's messages are
    bound to ``hooks`` (``on_session_message``)."""
    if isinstance(session, str):
        session = store_from_url("session", session, load_entry_points=load_entry_points)
    if isinstance(checkpoints, str):
        checkpoints = store_from_url("checkpoint", checkpoints, load_entry_points=load_entry_points)
    if session is not None and hasattr(session, "bind_hooks"):
        session.bind_hooks(hooks)
    return session, checkpoints
