"""Prometheus metrics for memory operations (extra ``metrics``).

``Memory(plugins=[MemoryMetrics()])`` exports, per provider (the store's or provider's short
name, e.g. ``memory``, ``sqlite``):

* ``mnemoplug_memory_operations_total{provider, operation}`` — every operation, failed or not;
* ``mnemoplug_memory_errors_total{provider, operation, error}`` — failed ones, by exception
  class name;
* ``mnemoplug_memory_latency_ms{provider, operation}`` — a histogram in milliseconds (buckets
  0.1 ms … 10 s, so ``histogram_quantile(0.99, ...)`` gives p99);
* ``mnemoplug_memory_count{provider}`` — memories added minus memories deleted (``delete``,
  ``delete_all``, ``forget``, ``purge_expired``) *as seen by this process*: it starts at 0 (or at
  ``initial_counts``) when the process starts, it is not read from the store;
* ``mnemoplug_memory_bytes{provider}`` — UTF-8 bytes of the content this process added (as
  stored, after redaction). Deletes do not lower it (their content is not seen), so it is a
  running total of bytes written, not the size of the store.

``mount_metrics(app)`` adds a ``GET /metrics`` route to a FastAPI app (extra ``fastapi``).
Several ``MemoryMetrics`` on one registry share the same collectors.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import MissingDependencyError
from ..core.hookspecs import hookimpl

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["LATENCY_BUCKETS_MS", "MemoryMetrics", "mount_metrics"]

#: histogram buckets in milliseconds, 0.1 ms … 10 s
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
)

#: operations whose result count is the number of memories they removed
_DELETING = frozenset({"delete", "delete_all", "purge_expired"})
_BYTES_KEY = "mnemoplug_metrics_bytes"
_FORGOTTEN_KEY = "mnemoplug_metrics_forgotten"

# the operation being run in this task (set by on_operation_start), for the per-memory hooks
_active: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "mnemoplug_metrics_operation", default=None
)


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise MissingDependencyError("memory metrics", "metrics", "prometheus_client") from exc
    return prometheus_client


@dataclass(frozen=True, slots=True)
class _Collectors:
    operations: Counter
    errors: Counter
    latency: Histogram
    count: Gauge
    bytes: Gauge


_lock = threading.Lock()
# registry -> namespace -> collectors (weak: a dropped test registry frees its collectors)
_cache: weakref.WeakKeyDictionary[Any, dict[str, _Collectors]] = weakref.WeakKeyDictionary()


def _collectors(registry: CollectorRegistry, namespace: str) -> _Collectors:
    prom = _prometheus()
    with _lock:
        per_ns = _cache.setdefault(registry, {})
        found = per_ns.get(namespace)
        if found is not None:
            return found
        kw: dict[str, Any] = {"namespace": namespace, "registry": registry}
        made = _Collectors(
            operations=prom.Counter(
                "memory_operations",
                "Memory operations, failed or not.",
                ["provider", "operation"],
                **kw,
            ),
            errors=prom.Counter(
                "memory_errors",
                "Failed memory operations, by exception class name.",
                ["provider", "operation", "error"],
                **kw,
            ),
            latency=prom.Histogram(
                "memory_latency_ms",
                "Memory operation latency in milliseconds.",
                ["provider", "operation"],
                buckets=LATENCY_BUCKETS_MS,
                **kw,
            ),
            count=prom.Gauge(
                "memory_count",
                "Memories added minus deleted, as seen by this process since it started.",
                ["provider"],
                **kw,
            ),
            bytes=prom.Gauge(
                "memory_bytes",
                "UTF-8 bytes of memory content added by this process (deletes not subtracted).",
                ["provider"],
                **kw,
            ),
        )
        per_ns[namespace] = made
        return made


class MemoryMetrics:
    """Prometheus metrics plugin: ``Memory(plugins=[MemoryMetrics()])``.

    Args:
        registry: a ``prometheus_client.CollectorRegistry`` (default: the global ``REGISTRY``).
            Instances on the same registry and namespace share their collectors.
        namespace: metric name prefix (default ``"mnemoplug"``).
        initial_counts: starting values of ``memory_count`` per provider (e.g. from
            ``await memory.count(...)`` at startup); otherwise the gauge starts at 0.

    Raises:
        MissingDependencyError: ``prometheus_client`` is not installed (extra ``metrics``).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        namespace: str = "mnemoplug",
        *,
        initial_counts: Mapping[str, int] | None = None,
    ) -> None:
        prom = _prometheus()
        self.registry: CollectorRegistry = prom.REGISTRY if registry is None else registry
        self.namespace = namespace
        self._c = _collectors(self.registry, namespace)
        # (provider, operation) -> its counter and histogram children: ``labels()`` costs
        # more than the update itself
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}
        for provider, n in (initial_counts or {}).items():
            self._c.count.labels(provider=provider).set(n)

    #: a Memory given this plugin does not also run the default metrics plugin
    replaces_default_metrics = True

    def __repr__(self) -> str:
        return f"MemoryMetrics(namespace={self.namespace!r})"

    @hookimpl
    def on_operation_start(self, ctx: Any) -> None:
        ctx.state["mnemoplug_metrics_token"] = _active.set(ctx)

    @hookimpl
    def on_memory_added(self, ctx: Any) -> None:
        op = _active.get()
        if op is not None:
            size = len(ctx.memory_content.encode("utf-8"))
            op.state[_BYTES_KEY] = op.state.get(_BYTES_KEY, 0) + size

    @hookimpl
    def on_memory_delete(self, ctx: Any) -> None:
        # forget's own notification counts sessions and checkpoints too; the delete_all it runs
        # first carries the number of memories
        op = _active.get()
        if op is not None and op.operation == "forget" and ctx.operation == "delete_all":
            op.state[_FORGOTTEN_KEY] = op.state.get(_FORGOTTEN_KEY, 0) + ctx.deleted_count

    @hookimpl
    def on_operation_end(self, ctx: Any) -> None:
        token = ctx.state.pop("mnemoplug_metrics_token", None)
        if token is not None:
            try:
                _active.reset(token)
            except ValueError:  # ended in another context
                _active.set(None)
        c = self._c
        provider = ctx.provider or "unknown"
        operation = ctx.operation
        children = self._children.get((provider, operation))
        if children is None:
            children = (
                c.operations.labels(provider=provider, operation=operation),
                c.latency.labels(provider=provider, operation=operation),
            )
            self._children[(provider, operation)] = children
        children[0].inc()
        children[1].observe(ctx.duration_ms)
        if ctx.error is not None:
            c.errors.labels(
                provider=provider, operation=operation, error=type(ctx.error).__name__
            ).inc()
        added_bytes = ctx.state.pop(_BYTES_KEY, 0)
        if added_bytes:
            c.bytes.labels(provider=provider).inc(added_bytes)
        n = ctx.result_count or 0
        if ctx.error is not None:
            n = 0
        if operation == "add" and n:
            c.count.labels(provider=provider).inc(n)
        elif operation in _DELETING and n:
            c.count.labels(provider=provider).dec(n)
        elif operation == "forget":
            forgotten = ctx.state.pop(_FORGOTTEN_KEY, 0)
            if forgotten:
                c.count.labels(provider=provider).dec(forgotten)


def mount_metrics(
    app: Any, path: str = "/metrics", registry: CollectorRegistry | None = None
) -> Any:
    """Add ``GET path`` serving the Prometheus text exposition of ``registry`` (default: the
    global ``REGISTRY``) to the FastAPI ``app``; return the app.

    Raises:
        MissingDependencyError: FastAPI (extra ``fastapi``) or ``prometheus_client`` (extra
            ``metrics``) is not installed.
    """
    prom = _prometheus()
    try:
        from fastapi.responses import Response
    except ImportError as exc:
        raise MissingDependencyError("the metrics endpoint", "fastapi", "fastapi") from exc
    reg = prom.REGISTRY if registry is None else registry

    def metrics() -> Response:
        return Response(content=prom.generate_latest(reg), media_type=prom.CONTENT_TYPE_LATEST)

    app.add_api_route(path, metrics, methods=["GET"], include_in_schema=False)
    return app
