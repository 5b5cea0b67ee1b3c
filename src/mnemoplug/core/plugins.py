"""Plugin management: a pluggy PluginManager per Memory, the ``@hook`` decorator, entry-point
loading (group ``mnemoplug``) and the provider/embedder registries.

Entry points load the first time a Memory is built (never at import). Set
``MNEMOPLUG_LOAD_PLUGINS`` to a comma-separated allow-list of entry-point names to load only
those (an empty value loads none), like llm's ``LLM_LOAD_PLUGINS``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, MemoryRejectedError, MnemoplugError
from .hookspecs import HOOK_NAMES, hookimpl

__all__ = ["HookManager", "ProviderSpec", "hook", "provider_registry"]

log = logging.getLogger("mnemoplug")
ENTRY_POINT_GROUP = "mnemoplug"

#: built-in plugins, registered exactly like third-party ones (datasette's DEFAULT_PLUGINS)
DEFAULT_PLUGINS = ("mnemoplug.providers",)


def hook(name: str, *, tryfirst: bool = False, trylast: bool = False) -> Callable[[Any], Any]:
    """Mark a plain (sync or async) function as an implementation of hook ``name``.

    >>> @hook("on_memory_add")
    ... async def tag(ctx):
    ...     ctx.metadata["source"] = "chat"

    Pass it as ``Memory(plugins=[tag])`` or ``memory.register(tag)``.
    """
    if name not in HOOK_NAMES:
        raise ConfigurationError(f"unknown hook {name!r}; the hooks are: {', '.join(HOOK_NAMES)}")

    def mark(fn: Any) -> Any:
        if not callable(fn):
            raise ConfigurationError("@hook(...) decorates a function")
        fn.__mnemoplug_hook__ = (name, tryfirst, trylast)
        return fn

    return mark


def _function_plugin(fn: Any) -> Any:
    name, tryfirst, trylast = fn.__mnemoplug_hook__
    params = list(inspect.signature(fn).parameters)
    if params[:1] != ["ctx"]:

        def call(ctx: Any) -> Any:
            return fn(ctx)

        call.__name__ = getattr(fn, "__name__", "hook")
    else:
        call = fn
    plugin_cls = type(
        f"HookFunction[{getattr(fn, '__qualname__', name)}]",
        (),
        {name: staticmethod(hookimpl(tryfirst=tryfirst, trylast=trylast)(call))},
    )
    return plugin_cls()


_ep_lock = threading.Lock()
_ep_plugins: list[tuple[str, Any]] | None = None


def entry_point_plugins() -> list[tuple[str, Any]]:
    """Objects of the ``mnemoplug`` entry-point group (loaded once per process)."""
    global _ep_plugins
    with _ep_lock:
        if _ep_plugins is None:
            allow = os.environ.get("MNEMOPLUG_LOAD_PLUGINS")
            allowed = None if allow is None else {s.strip() for s in allow.split(",") if s.strip()}
            loaded: list[tuple[str, Any]] = []
            for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
                if allowed is not None and ep.name not in allowed:
                    continue
                try:
                    loaded.append((ep.name, ep.load()))
                except Exception as exc:  # a broken third-party plugin must not break Memory()
                    log.warning("mnemoplug: could not load plugin %r: %s", ep.name, exc)
            _ep_plugins = loaded
        return _ep_plugins


class HookManager:
    """Wraps a pluggy PluginManager and dispatches hooks so that sync and async
    implementations run in order, each seeing the previous one's changes."""

    def __init__(self, plugins: Iterable[Any] = (), *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("mnemoplug")
        self.pm.add_hookspecs(hookspecs)
        self._cache: dict[str, list[Any]] = {}
        for modname in DEFAULT_PLUGINS:
            self.register(importlib.import_module(modname), name=modname)
        if load_entry_points:
            for name, obj in entry_point_plugins():
                if self.pm.is_registered(obj):
                    continue
                self.register(obj, name=f"entrypoint:{name}")
        for p in plugins:
            self.register(p)

    def register(self, plugin: Any, name: str | None = None) -> Any:
        """Register a plugin object, module, or ``@hook``-decorated function."""
        if hasattr(plugin, "__mnemoplug_hook__") and not isinstance(plugin, type):
            plugin = _function_plugin(plugin)
        elif callable(plugin) and inspect.isfunction(plugin):
            raise ConfigurationError(
                f"{plugin.__qualname__} is a plain function; decorate it with "
                f'@hook("on_memory_add") (or another hook name) to register it'
            )
        try:
            self.pm.register(plugin, name=name)
        except ValueError as exc:
            raise ConfigurationError(f"cannot register plugin {plugin!r}: {exc}") from exc
        except pluggy.PluginValidationError as exc:
            raise ConfigurationError(f"invalid plugin {plugin!r}: {exc}") from exc
        for hook_name in HOOK_NAMES:
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper):
                    self.pm.unregister(plugin)
                    raise ConfigurationError(
                        f"{hook_name}: hook wrappers are not supported on memory hooks; "
                        f"use a plain implementation with tryfirst/trylast"
                    )
        self._cache.clear()
        return plugin

    def unregister(self, plugin: Any) -> None:
        self.pm.unregister(plugin)
        self._cache.clear()

    def impls(self, name: str) -> list[Any]:
        impls = self._cache.get(name)
        if impls is None:
            impls = list(reversed(getattr(self.pm.hook, name).get_hookimpls()))
            self._cache[name] = impls
        return impls

    def has(self, name: str) -> bool:
        return bool(self.impls(name))

    async def call(self, name: str, ctx: Any, *, rejecting: bool = False) -> list[Any]:
        """Call every implementation of ``name`` in order; await async ones as they come.

        With ``rejecting``, any exception other than a MnemoplugError becomes a
        MemoryRejectedError naming the implementation."""
        results = []
        for impl in self.impls(name):
            try:
                res = impl.function(ctx)
                if inspect.isawaitable(res):
                    res = await res
            except MnemoplugError:
                raise
            except Exception as exc:
                if rejecting:
                    raise MemoryRejectedError(
                        f"{type(exc).__name__}: {exc}", hook=impl.plugin_name
                    ) from exc
                raise
            if res is not None:
                results.append(res)
                if name in ("on_memory_search", "on_memory_get") and isinstance(res, list):
                    ctx.memory_results = res
        return results


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    factory: Any
    schemes: tuple[str, ...]
    extra: str | None = None

    def load(self) -> Callable[..., Any]:
        f = self.factory
        if isinstance(f, str):
            module, _, attr = f.partition(":")
            f = getattr(importlib.import_module(module), attr)
        return f


class Registry:
    def __init__(self) -> None:
        self.providers: dict[str, ProviderSpec] = {}
        self.schemes: dict[str, ProviderSpec] = {}
        self.embedders: dict[str, Any] = {}

    def register_provider(
        self, name: str, factory: Any, schemes: Iterable[str] = (), extra: str | None = None
    ) -> None:
        spec = ProviderSpec(name, factory, tuple(schemes), extra)
        self.providers[name] = spec
        for s in spec.schemes:
            self.schemes[s] = spec

    def register_embedder(self, name: str, factory: Any) -> None:
        self.embedders[name] = factory


_registry_lock = threading.Lock()
_registry: Registry | None = None


def provider_registry(extra_plugins: Iterable[Any] = ()) -> Registry:
    """Providers and embedders registered by built-in and entry-point plugins (and
    ``extra_plugins``)."""
    global _registry
    extra_plugins = list(extra_plugins)
    with _registry_lock:
        if _registry is None or extra_plugins:
            hm = HookManager(extra_plugins)
            reg = Registry()
            hm.pm.hook.register_providers(register=reg.register_provider)
            hm.pm.hook.register_embedders(register=reg.register_embedder)
            if extra_plugins:
                return reg
            _registry = reg
        return _registry


def reset_registry() -> None:
    """Forget the cached registry (tests; after installing a plugin at run time)."""
    global _registry, _ep_plugins
    with _registry_lock, _ep_lock:
        _registry = None
        _ep_plugins = None
