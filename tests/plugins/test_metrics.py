"""Prometheus metrics plugin: counters, errors, latency histogram and gauges, read back from the
real text exposition."""

from __future__ import annotations

import builtins
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mnemoplug import Memory
from mnemoplug.core.errors import (
    InvalidScopeError,
    MemoryNotFoundError,
    MissingDependencyError,
)
from mnemoplug.plugins import AuditLog, MemoryMetrics, mount_metrics
from mnemoplug.plugins.metrics import LATENCY_BUCKETS_MS

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def samples(registry: CollectorRegistry) -> Samples:
    return parse(generate_latest(registry).decode())


def value(got: Samples, name: str, **labels: str) -> float:
    return got.get((name, tuple(sorted(labels.items()))), 0.0)


def ops(got: Samples, provider: str) -> dict[str, float]:
    return {
        dict(lbl)["operation"]: v
        for (name, lbl), v in got.items()
        if name == "mnemoplug_memory_operations_total" and dict(lbl)["provider"] == provider
    }


def make_memory(url: str, registry: CollectorRegistry, *extra: Any) -> Memory:
    return Memory(
        url,
        embedder=None,
        plugins=[MemoryMetrics(registry=registry), *extra],
        load_entry_points=False,
    )


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> tuple[str, str]:
    if request.param == "memory":
        return "memory://", "memory"
    return f"sqlite:///{tmp_path}/m.db", "sqlite"


async def test_counters_errors_histogram_and_gauges(backend: tuple[str, str]) -> None:
    url, provider = backend
    reg = CollectorRegistry()
    m = make_memory(url, reg)
    a = await m.add("alice", "héllo wörld")  # 13 UTF-8 bytes
    ids = await m.add("alice", ["one", "two", "three"])  # 3 + 3 + 5 bytes
    assert len(ids) == 3
    await m.add("bob", "bob's note")  # 10 bytes
    await m.search("alice", "hello")
    await m.search("alice", "two")
    assert await m.get("alice", a) is not None
    assert await m.delete("alice", a) is True
    assert await m.delete("alice", a) is False  # already gone: not subtracted again
    with pytest.raises(InvalidScopeError):
        await m.search("", "q")
    with pytest.raises(InvalidScopeError):
        await m.search("", "q")
    with pytest.raises(MemoryNotFoundError):
        await m.update("alice", "no-such-id", content="x")
    assert await m.delete_all("alice") == 3

    got = samples(reg)
    assert ops(got, provider) == {
        "add": 3,
        "search": 4,
        "get": 1,
        "delete": 2,
        "update": 1,
        "delete_all": 1,
    }
    errors = {
        (dict(lbl)["operation"], dict(lbl)["error"]): v
        for (name, lbl), v in got.items()
        if name == "mnemoplug_memory_errors_total"
    }
    assert errors == {("search", "InvalidScopeError"): 2, ("update", "MemoryNotFoundError"): 1}
    for operation, n in ops(got, provider).items():
        labels = {"provider": provider, "operation": operation}
        assert value(got, "mnemoplug_memory_latency_ms_count", **labels) == n
        assert value(got, "mnemoplug_memory_latency_ms_bucket", le="+Inf", **labels) == n
        assert value(got, "mnemoplug_memory_latency_ms_sum", **labels) > 0
    # 5 added, 1 deleted, 3 deleted by delete_all: bob's memory is left
    assert value(got, "mnemoplug_memory_count", provider=provider) == 1
    assert value(got, "mnemoplug_memory_bytes", provider=provider) == 13 + 11 + 10
    assert await m.count("bob") == 1


async def test_histogram_buckets_span_sub_millisecond_to_ten_seconds() -> None:
    reg = CollectorRegistry()
    m = make_memory("memory://", reg)
    await m.add("alice", "x")
    got = samples(reg)
    les = sorted(
        float(dict(lbl)["le"])
        for (name, lbl), _ in got.items()
        if name == "mnemoplug_memory_latency_ms_bucket"
    )
    assert les[0] == 0.1 and les[-2] == 10000.0 and les[-1] == float("inf")
    assert les[:-1] == list(LATENCY_BUCKETS_MS)


async def test_forget_and_purge_lower_the_count(tmp_path: Any) -> None:
    reg = CollectorRegistry()
    m = make_memory("memory://", reg, AuditLog(tmp_path / "audit.jsonl"))
    await m.add("alice", ["a", "b"])
    await m.add("bob", "c")
    counts = await m.forget("alice")
    assert counts["memories"] == 2 and counts["audit_entries"] >= 1
    got = samples(reg)
    assert value(got, "mnemoplug_memory_count", provider="memory") == 1  # not 2 + audit entries
    assert ops(got, "memory")["forget"] == 1
    # the nested delete_all is not counted as an operation of its own
    assert "delete_all" not in ops(got, "memory")
    assert await m.purge_expired() == 0
    assert value(samples(reg), "mnemoplug_memory_count", provider="memory") == 1


async def test_initial_counts() -> None:
    reg = CollectorRegistry()
    m = Memory(
        "memory://",
        embedder=None,
        plugins=[MemoryMetrics(registry=reg, initial_counts={"memory": 40})],
        load_entry_points=False,
    )
    await m.add("alice", "x")
    assert value(samples(reg), "mnemoplug_memory_count", provider="memory") == 41


async def test_two_instances_on_one_registry_share_collectors() -> None:
    reg = CollectorRegistry()
    first, second = MemoryMetrics(registry=reg), MemoryMetrics(registry=reg)
    m1 = Memory("memory://", embedder=None, plugins=[first], load_entry_points=False)
    m2 = Memory("memory://", embedder=None, plugins=[second], load_entry_points=False)
    await m1.add("alice", "x")
    await m2.add("alice", "y")
    assert ops(samples(reg), "memory") == {"add": 2}
    # other namespaces and the global registry work side by side
    MemoryMetrics(registry=reg, namespace="other")
    MemoryMetrics()
    MemoryMetrics()


async def test_fastapi_metrics_route() -> None:
    reg = CollectorRegistry()
    m = make_memory("memory://", reg)
    await m.add("alice", "hello")
    await m.search("alice", "hello")
    app = mount_metrics(FastAPI(), registry=reg)
    with TestClient(app) as client:
        resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    got = parse(resp.text)
    assert ops(got, "memory") == {"add": 1, "search": 1}
    assert value(got, "mnemoplug_memory_count", provider="memory") == 1


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "prometheus_client" or name.startswith("prometheus_client."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingDependencyError) as info:
        MemoryMetrics(registry=None)
    assert info.value.extra == "metrics"
    assert "prometheus_client" in str(info.value)


def test_missing_fastapi_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "fastapi" or name.startswith("fastapi."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingDependencyError) as info:
        mount_metrics(object(), registry=CollectorRegistry())
    assert info.value.extra == "fastapi"


# -- the default plugin ------------------------------------------------------------------------
def _global_ops(provider: str) -> dict[str, float]:
    from prometheus_client import REGISTRY

    return ops(samples(REGISTRY), provider)


async def test_default_metrics_count_every_memory_without_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MNEMOPLUG_METRICS", raising=False)
    before = _global_ops("memory")
    async with Memory("memory://", embedder=None, load_entry_points=False) as m:
        await m.add("u1", "the default metrics plugin counts this")
        await m.search("u1", "metrics")
    after = _global_ops("memory")
    assert after.get("add", 0) - before.get("add", 0) == 1
    assert after.get("search", 0) - before.get("search", 0) == 1
    # the exposition a /metrics route serves shows it
    app = mount_metrics(FastAPI())
    body = TestClient(app).get("/metrics").text
    assert 'mnemoplug_memory_operations_total{operation="add",provider="memory"}' in body


@pytest.mark.parametrize("how", ["argument", "environment"])
async def test_default_metrics_switch_off(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    kw: dict[str, Any] = {}
    if how == "argument":
        kw["metrics"] = False
    else:
        monkeypatch.setenv("MNEMOPLUG_METRICS", "0")
    before = _global_ops("memory")
    async with Memory("memory://", embedder=None, load_entry_points=False, **kw) as m:
        assert "mnemoplug.plugins.default_metrics" not in {
            m.hooks.pm.get_name(p) for p in m.hooks.pm.get_plugins()
        }
        await m.add("u1", "not counted")
    assert _global_ops("memory") == before


async def test_own_metrics_plugin_replaces_the_default_one() -> None:
    registry = CollectorRegistry()
    before = _global_ops("memory")
    async with make_memory("memory://", registry) as m:
        await m.add("u1", "counted once, in my registry")
    assert ops(samples(registry), "memory") == {"add": 1.0}
    assert _global_ops("memory") == before


def test_default_metrics_off_without_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from mnemoplug.plugins import default_metrics

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "prometheus_client" else real(name, *a),
    )
    assert default_metrics.enabled() is False
    m = Memory("memory://", embedder=None, load_entry_points=False)
    assert m.hooks.pm.get_plugin("mnemoplug.plugins.default_metrics") is None
