"""The default metrics plugin: Prometheus metrics for every Memory, on whenever
``prometheus_client`` is installed (``pip install "mnemoplug[metrics]"``).

Registered by every hook manager as a built-in plugin (``mnemoplug.plugins.default_metrics``),
exactly like third-party plugins. It records into a process-wide :class:`MemoryMetrics` on
``prometheus_client``'s global ``REGISTRY`` (namespace ``mnemoplug``), created — and
``prometheus_client`` imported — at the first operation, not at ``import mnemoplug`` or
``Memory()``.

Switch it off with ``Memory(metrics=False)`` (one Memory) or ``MNEMOPLUG_METRICS=0`` (the
process). Registering your own :class:`MemoryMetrics` on a Memory replaces the default one
there, so nothing is counted twice.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Any

from ..core.hookspecs import hookimpl

__all__ = ["ENV", "enabled", "instance"]

#: environment variable: "0", "false", "off" or "no" switches the default metrics off
ENV = "MNEMOPLUG_METRICS"

_lock = threading.Lock()
_metrics: Any = None


def enabled() -> bool:
    """True when the default metrics should run: ``prometheus_client`` is installed and
    ``$MNEMOPLUG_METRICS`` does not switch them off."""
    if os.environ.get(ENV, "").strip().lower() in ("0", "false", "off", "no"):
        return False
    return importlib.util.find_spec("prometheus_client") is not None


def instance() -> Any:
    """The process-wide :class:`~mnemoplug.plugins.metrics.MemoryMetrics` the default plugin
    records into (created on first use)."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                from .metrics import MemoryMetrics

                _metrics = MemoryMetrics()
    return _metrics


@hookimpl
def on_operation_start(ctx: Any) -> None:
    instance().on_operation_start(ctx)


@hookimpl
def on_memory_added(ctx: Any) -> None:
    instance().on_memory_added(ctx)


@hookimpl
def on_memory_delete(ctx: Any) -> None:
    instance().on_memory_delete(ctx)


@hookimpl
def on_operation_end(ctx: Any) -> None:
    instance().on_operation_end(ctx)
