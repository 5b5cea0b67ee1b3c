"""The Prometheus metrics of this process, summarised for the dashboard (no user data: they
are labelled by provider and operation only)."""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["summarize_metrics"]

_PREFIX = "mnemoplug_memory_"


def summarize_metrics(registry: Any = None) -> dict[str, Any]:
    """``{"available": bool, "operations": [{provider, operation, count, errors, mean_ms}],
    "memory_count": {provider: n}}`` from ``registry`` (default: the global one)."""
    if importlib.util.find_spec("prometheus_client") is None:
        return {"available": False, "operations": [], "memory_count": {}}
    if registry is None:
        from prometheus_client import REGISTRY as registry
    ops: dict[tuple[str, str], dict[str, Any]] = {}
    counts: dict[str, float] = {}

    def row(labels: dict[str, str]) -> dict[str, Any]:
        key = (labels.get("provider", ""), labels.get("operation", ""))
        return ops.setdefault(
            key,
            {"provider": key[0], "operation": key[1], "count": 0, "errors": 0, "sum_ms": 0.0},
        )

    for family in registry.collect():
        if not family.name.startswith(_PREFIX):
            continue
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == _PREFIX + "operations_total":
                row(labels)["count"] += int(value)
            elif name == _PREFIX + "errors_total":
                row(labels)["errors"] += int(value)
            elif name == _PREFIX + "latency_ms_sum":
                row(labels)["sum_ms"] += float(value)
            elif name == _PREFIX + "count":
                counts[labels.get("provider", "")] = value
    operations = []
    for r in sorted(ops.values(), key=lambda r: (r["provider"], r["operation"])):
        if not r["count"]:
            continue
        r["mean_ms"] = round(r.pop("sum_ms") / r["count"], 3)
        operations.append(r)
    return {"available": True, "operations": operations, "memory_count": counts}
