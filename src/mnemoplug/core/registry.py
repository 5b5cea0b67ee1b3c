"""One registry for the three kinds of store: ``memory``, ``session`` and ``checkpoint``.

Backends register in a plugin's ``register_providers(register)`` hook (built-in ones in
:mod:`mnemoplug.providers`, exactly like third-party plugins)::

    @hookimpl
    def register_providers(register):
        register("sqlite", "mnemoplug.providers.sqlite:SQLiteMemoryStore",
                 schemes=("sqlite",))                                  # kind="memory"
        register("sqlite", "mnemoplug.providers.sqlite:SQLiteSessionMemory",
                 schemes=("sqlite",), kind="session")

``factory`` is a class, a callable ``factory(url=None, **options)`` or a ``"module:attribute"``
string imported on first use, so registering costs no import and the core imports no backend.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import ConfigurationError, MissingDependencyError

__all__ = [
    "KINDS",
    "Registry",
    "StoreKind",
    "StoreSpec",
    "provider_registry",
    "reset_registry",
    "store_by_name",
    "store_from_url",
]

StoreKind = Literal["memory", "session", "checkpoint"]
KINDS: tuple[StoreKind, ...] = ("memory", "session", "checkpoint")

_URL_EXAMPLES = {
    "memory": "sqlite:///memory.db, memory://, redis://localhost:6379/0, "
    "postgresql+asyncpg://host/db or qdrant://host:6333",
    "session": "memory://, sqlite:///sessions.db, redis://localhost:6379/0 or "
    "postgresql+asyncpg://host/db",
    "checkpoint": "memory://, sqlite:///checkpoints.db, redis://localhost:6379/0 or "
    "postgresql+asyncpg://host/db",
}
_WHAT = {"memory": "memory store", "session": "session store", "checkpoint": "checkpoint store"}


@dataclass(frozen=True)
class StoreSpec:
    """One registered store: its kind, name, factory, URL schemes and pip extra."""

    name: str
    factory: Any
    schemes: tuple[str, ...]
    extra: str | None = None
    kind: StoreKind = "memory"

    def load(self) -> Callable[..., Any]:
        """The factory, imported when it was registered as ``"module:attribute"``."""
        f = self.factory
        if isinstance(f, str):
            module, _, attr = f.partition(":")
            try:
                f = getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                if self.extra:
                    raise MissingDependencyError(
                        f"the {self.name!r} {_WHAT[self.kind]}", self.extra, exc.name
                    ) from exc
                raise
        return f  # type: ignore[no-any-return]

    def build(self, url: str | None, options: dict[str, Any]) -> Any:
        from .factory import construct

        factory = self.load()
        return (
            construct(factory, url, **options) if url is not None else construct(factory, **options)
        )


@dataclass
class Registry:
    """Stores by kind and name, and by kind and URL scheme; embedders by name."""

    specs: dict[str, dict[str, StoreSpec]] = field(default_factory=lambda: {k: {} for k in KINDS})
    schemes: dict[str, dict[str, StoreSpec]] = field(default_factory=lambda: {k: {} for k in KINDS})
    embedders: dict[str, Any] = field(default_factory=dict)

    def register_store(
        self,
        name: str,
        factory: Any,
        schemes: Iterable[str] = (),
        extra: str | None = None,
        kind: StoreKind = "memory",
    ) -> None:
        """The ``register`` callback handed to ``register_providers``."""
        if kind not in KINDS:
            raise ConfigurationError(
                f"register({name!r}, ...): kind must be one of {', '.join(KINDS)}, got {kind!r}"
            )
        spec = StoreSpec(name, factory, tuple(s.lower() for s in schemes), extra, kind)
        self.specs[kind][name] = spec
        for s in spec.schemes:
            self.schemes[kind][s] = spec

    def register_embedder(self, name: str, factory: Any) -> None:
        self.embedders[name] = factory

    @property
    def providers(self) -> dict[str, StoreSpec]:
        """Memory stores by name (the name ``create_memory`` takes)."""
        return self.specs["memory"]


_lock = threading.Lock()
_cache: dict[bool, Registry] = {}


def provider_registry(
    extra_plugins: Iterable[Any] = (), *, load_entry_points: bool = True
) -> Registry:
    """Stores and embedders registered by the built-in plugins, entry-point plugins (unless
    ``load_entry_points=False``) and ``extra_plugins``."""
    from .plugins import HookManager

    extra = list(extra_plugins)
    with _lock:
        cached = _cache.get(load_entry_points)
        if cached is not None and not extra:
            return cached
        hm = HookManager(
            extra, load_entry_points=load_entry_points, global_hooks=False, metrics=False
        )
        reg = Registry()
        hm.pm.hook.register_providers(register=reg.register_store)
        hm.pm.hook.register_embedders(register=reg.register_embedder)
        if not extra:
            _cache[load_entry_points] = reg
        return reg


def reset_registry() -> None:
    """Forget the cached registries and entry points (tests; after installing a plugin)."""
    from .plugins import reset_entry_points

    with _lock:
        _cache.clear()
    reset_entry_points()


def store_from_url(
    kind: StoreKind,
    url: str,
    *,
    plugins: Iterable[Any] = (),
    load_entry_points: bool = True,
    **options: Any,
) -> Any:
    """Build the ``kind`` store registered for ``url``'s scheme."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"expected a URL such as {_URL_EXAMPLES[kind]}; got {url!r}")
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise ConfigurationError(f"cannot parse the URL: {exc}") from None
    reg = provider_registry(plugins, load_entry_points=load_entry_points)
    spec = reg.schemes[kind].get(scheme)
    if spec is None:
        known = ", ".join(sorted(f"{s}://" for s in reg.schemes[kind]))
        raise ConfigurationError(
            f"no {_WHAT[kind]} handles {scheme}:// URLs; known schemes: {known}"
        )
    return spec.build(url, options)


def store_by_name(
    kind: StoreKind,
    name: str,
    url: str | None = None,
    *,
    plugins: Iterable[Any] = (),
    load_entry_points: bool = True,
    **options: Any,
) -> Any:
    """Build the ``kind`` store registered as ``name``."""
    reg = provider_registry(plugins, load_entry_points=load_entry_points)
    spec = reg.specs[kind].get(name)
    if spec is None:
        raise ConfigurationError(
            f"unknown {_WHAT[kind]} {name!r}; registered: {', '.join(sorted(reg.specs[kind]))}"
        )
    return spec.build(url, options)
