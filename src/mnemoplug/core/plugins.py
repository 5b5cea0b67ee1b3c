"""Plugin management: the ``@hook`` decorator (process-wide), a pluggy PluginManager per
Memory, and entry-point loading (group ``mnemoplug``).

Three ways to plug in, all running the same hooks:

* ``@hook("on_memory_add")`` on a plain sync or async function registers it **process-wide**:
  every :class:`~mnemoplug.Memory` and built-in provider in the process runs it, whether built
  before or after the decorator ran (``Memory(global_hooks=False)`` opts out).
  :func:`unregister_hook` removes one, :func:`reset_global_hooks` all (tests).
* plugin objects (or modules) with ``@hookimpl`` methods: ``Memory(plugins=[obj])`` or
  ``memory.register(obj)``, for one Memory.
* the ``mnemoplug`` entry-point group, loaded the first time a Memory is built (never at
  import). ``MNEMOPLUG_LOAD_PLUGINS`` is a comma-separated allow-list of entry-point names
  (empty loads none), like llm's ``LLM_LOAD_PLUGINS``; ``load_entry_points=False`` skips them.

``MNEMOPLUG_TRACE_HOOKS=1`` (set before the Memory is built) prints every hook call to stderr
with its plugin and duration (as datasette's ``DATASETTE_TRACE_PLUGINS`` does).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from importlib import metadata as importlib_metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, MemoryRejectedError, MnemoplugError
from .hookspecs import HOOK_NAMES, hookimpl

__all__ = [
    "DEFAULT_PLUGINS",
    "HookManager",
    "hook",
    "mark_hook",
    "reset_global_hooks",
    "unregister_hook",
]

log = logging.getLogger("mnemoplug")
ENTRY_POINT_GROUP = "mnemoplug"
TRACE_ENV = "MNEMOPLUG_TRACE_HOOKS"

#: built-in plugins, registered exactly like third-party ones (datasette's DEFAULT_PLUGINS)
DEFAULT_PLUGINS = ("mnemoplug.providers",)
#: the built-in metrics plugin: on when prometheus_client is installed (``metrics=False`` or
#: ``MNEMOPLUG_METRICS=0`` switch it off); a plugin with ``replaces_default_metrics = True``
#: (``MemoryMetrics``) takes its place on that manager
DEFAULT_METRICS_PLUGIN = "mnemoplug.plugins.default_metrics"


# -- marking functions ----------------------------------------------------------------------
def mark_hook(name: str, *, tryfirst: bool = False, trylast: bool = False) -> Callable[[Any], Any]:
    """Mark a function as an implementation of hook ``name`` without registering it anywhere
    (``memory.hook(...)`` uses this to register on one Memory only)."""
    if name not in HOOK_NAMES:
        raise ConfigurationError(f"unknown hook {name!r}; the hooks are: {', '.join(HOOK_NAMES)}")

    def mark(fn: Any) -> Any:
        if not callable(fn) or isinstance(fn, type):
            raise ConfigurationError(f'@hook("{name}") decorates a function')
        fn.__mnemoplug_hook__ = (name, tryfirst, trylast)
        return fn

    return mark


def hook(name: str, *, tryfirst: bool = False, trylast: bool = False) -> Callable[[Any], Any]:
    """Register a plain (sync or async) function as a process-wide implementation of ``name``.

    >>> @hook("on_memory_add")
    ... async def tag(ctx):
    ...     ctx.metadata["source"] = "chat"

    From then on every Memory and provider in the process runs ``tag`` (unless built with
    ``global_hooks=False``). ``unregister_hook(tag)`` undoes it.
    """
    marker = mark_hook(name, tryfirst=tryfirst, trylast=trylast)

    def deco(fn: Any) -> Any:
        marker(fn)
        GLOBAL_HOOKS.add(fn)
        return fn

    return deco


def function_plugin(fn: Any) -> Any:
    """A pluggy plugin object wrapping a ``@hook``-marked function."""
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


class GlobalHooks:
    """The process-wide ``@hook`` functions. HookManagers pick up changes on their next call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plugins: dict[int, tuple[Any, Any]] = {}  # id(fn) -> (fn, plugin)
        self.version = 0

    def add(self, fn: Any) -> Any:
        with self._lock:
            entry = self._plugins.get(id(fn))
            if entry is None:
                entry = (fn, function_plugin(fn))
                self._plugins[id(fn)] = entry
                self.version += 1
            return entry[1]

    def remove(self, fn: Any) -> bool:
        with self._lock:
            found = self._plugins.pop(id(fn), None) is not None
            if found:
                self.version += 1
            return found

    def contains(self, fn: Any) -> bool:
        return id(fn) in self._plugins

    def reset(self) -> None:
        with self._lock:
            if self._plugins:
                self._plugins.clear()
                self.version += 1

    def plugins(self) -> list[tuple[str, Any]]:
        """``(name, plugin)`` in registration order."""
        with self._lock:
            return [
                (f"global:{getattr(fn, '__qualname__', 'hook')}:{key:x}", plugin)
                for key, (fn, plugin) in self._plugins.items()
            ]


GLOBAL_HOOKS = GlobalHooks()


def unregister_hook(fn: Any) -> bool:
    """Remove a process-wide ``@hook`` function; False when it was not registered."""
    return GLOBAL_HOOKS.remove(fn)


def reset_global_hooks() -> None:
    """Remove every process-wide ``@hook`` function (for tests)."""
    GLOBAL_HOOKS.reset()


# -- entry points -----------------------------------------------------------------------------
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


def reset_entry_points() -> None:
    """Load the entry-point group again on next use."""
    global _ep_plugins
    with _ep_lock:
        _ep_plugins = None


# -- the manager ------------------------------------------------------------------------------
class HookManager:
    """Wraps a pluggy PluginManager and dispatches hooks so that sync and async
    implementations run in order, each seeing the previous one's changes.

    Args:
        plugins: plugin objects, modules or ``@hook`` functions for this manager.
        load_entry_points: load the ``mnemoplug`` entry-point group.
        global_hooks: also run the process-wide ``@hook`` functions.
        metrics: register the built-in Prometheus metrics plugin (when ``prometheus_client``
            is installed and ``$MNEMOPLUG_METRICS`` does not switch it off).
    """

    def __init__(
        self,
        plugins: Iterable[Any] = (),
        *,
        load_entry_points: bool = True,
        global_hooks: bool = True,
        metrics: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager("mnemoplug")
        self.pm.add_hookspecs(hookspecs)
        self.global_hooks = global_hooks
        #: ``MNEMOPLUG_TRACE_HOOKS=1`` when this manager was built: print every hook call
        self.trace = os.environ.get(TRACE_ENV, "") not in ("", "0")
        self._cache: dict[str, list[Any]] = {}
        self._global_version = -1
        self._global_names: set[str] = set()
        self._sync_lock = threading.Lock()
        for modname in DEFAULT_PLUGINS:
            self.register(importlib.import_module(modname), name=modname)
        if metrics:
            default_metrics = importlib.import_module(DEFAULT_METRICS_PLUGIN)
            if default_metrics.enabled():
                self.register(default_metrics, name=DEFAULT_METRICS_PLUGIN)
        if load_entry_points:
            for name, obj in entry_point_plugins():
                if self.pm.is_registered(obj):
                    continue
                self.register(obj, name=f"entrypoint:{name}")
        for p in plugins:
            self.register(p)

    def register(self, plugin: Any, name: str | None = None) -> Any:
        """Register a plugin object, module, or ``@hook``-decorated function. A process-wide
        ``@hook`` function already runs here (unless ``global_hooks=False``): registering it
        again does not make it run twice."""
        if hasattr(plugin, "__mnemoplug_hook__") and not isinstance(plugin, type):
            if self.global_hooks and GLOBAL_HOOKS.contains(plugin):
                return GLOBAL_HOOKS.add(plugin)
            plugin = function_plugin(plugin)
        elif callable(plugin) and inspect.isfunction(plugin):
            raise ConfigurationError(
                f"{plugin.__qualname__} is a plain function; decorate it with "
                f'@hook("on_memory_add") (or another hook name) to register it'
            )
        self._add(plugin, name)
        return plugin

    def _add(self, plugin: Any, name: str | None) -> None:
        if getattr(plugin, "replaces_default_metrics", False):
            default = self.pm.get_plugin(DEFAULT_METRICS_PLUGIN)
            if default is not None:
                self.pm.unregister(default)
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

    def unregister(self, plugin: Any) -> None:
        self.pm.unregister(plugin)
        self._cache.clear()

    def _sync_global(self) -> None:
        """Bring the process-wide ``@hook`` functions into this manager when they changed."""
        if not self.global_hooks or self._global_version == GLOBAL_HOOKS.version:
            return
        with self._sync_lock:
            version = GLOBAL_HOOKS.version
            current = dict(GLOBAL_HOOKS.plugins())
            for name in self._global_names - current.keys():
                plugin = self.pm.get_plugin(name)
                if plugin is not None:
                    self.pm.unregister(plugin)
            for name, plugin in current.items():
                if name not in self._global_names and self.pm.get_plugin(name) is None:
                    self._add(plugin, name)
            self._global_names = set(current)
            self._global_version = version
            self._cache.clear()

    def impls(self, name: str) -> list[Any]:
        """The implementations of hook ``name``, in call order."""
        self._sync_global()
        impls = self._cache.get(name)
        if impls is None:
            impls = list(reversed(getattr(self.pm.hook, name).get_hookimpls()))
            self._cache[name] = impls
        return impls

    def has(self, name: str) -> bool:
        return bool(self.impls(name))

    def plugins(self) -> list[Any]:
        """Every registered plugin object (process-wide ``@hook`` functions included)."""
        self._sync_global()
        return list(self.pm.get_plugins())

    async def call(self, name: str, ctx: Any, *, rejecting: bool = False) -> list[Any]:
        """Call every implementation of ``name`` in order; await async ones as they come.

        A non-None return value is collected and offered to ``ctx.accept_result(value)``
        (search and read contexts take a list as the new results; other contexts ignore it).
        With ``rejecting``, any exception other than a MnemoplugError becomes a
        MemoryRejectedError naming the implementation."""
        impls = self.impls(name)
        if not impls:
            return []
        results: list[Any] = []
        trace = self.trace
        for impl in impls:
            start = time.perf_counter() if trace else 0.0
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
            finally:
                if trace:
                    ms = (time.perf_counter() - start) * 1000
                    print(
                        f"mnemoplug hook {name}: {impl.plugin_name} ({ms:.3f} ms)",
                        file=sys.stderr,
                    )
            if res is not None:
                results.append(res)
                accept = getattr(ctx, "accept_result", None)
                if accept is not None:
                    accept(res)
        return results
