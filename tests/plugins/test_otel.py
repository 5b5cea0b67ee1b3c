"""OpenTelemetry tracing plugin: one GenAI-convention span per operation, embed/store children."""

from __future__ import annotations

import hashlib

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mnemoplug import Memory
from mnemoplug.core.errors import MemoryNotFoundError, MissingDependencyError
from mnemoplug.plugins.otel import OPERATION_NAMES, MemoryTracing

SECRET = "User's secret project is codenamed Bluebird"
QUERY = "what is the hidden codename of the project?"


def tiny_embedder(texts: list[str]) -> list[list[float]]:
    """Deterministic 16-dimensional bag-of-words vectors (no model download)."""
    out = []
    for text in texts:
        v = [0.0] * 16
        for word in text.lower().split():
            v[hashlib.sha256(word.encode()).digest()[0] % 16] += 1.0
        out.append(v)
    return out


@pytest.fixture
def tracing() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _memory(provider: TracerProvider) -> Memory:
    return Memory(
        "memory://",
        embedder=tiny_embedder,
        plugins=[MemoryTracing(tracer_provider=provider)],
        load_entry_points=False,
    )


def _ops(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [s for s in spans if s.attributes and "mnemoplug.operation" in s.attributes]


def _children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    pid = parent.context.span_id
    return [s for s in spans if s.parent is not None and s.parent.span_id == pid]


async def test_spans_follow_genai_memory_conventions(tracing) -> None:
    provider, exporter = tracing
    m = _memory(provider)
    backend = m.backend_name
    scope = {"tenant_id": "acme", "agent_id": "planner", "session_id": "s-1"}
    mid = await m.add("alice", SECRET, **scope)
    hits = await m.search("alice", QUERY, **scope)
    everything = await m.get_all("alice", tenant_id="acme")
    await m.update("alice", mid, metadata={"k": 1}, tenant_id="acme")
    await m.delete("alice", mid, tenant_id="acme")
    with pytest.raises(MemoryNotFoundError):
        await m.update("alice", "no-such-id", metadata={"k": 2}, tenant_id="acme")

    spans = exporter.get_finished_spans()
    ops = _ops(spans)
    assert [s.attributes["mnemoplug.operation"] for s in ops] == [
        "add",
        "search",
        "get_all",
        "update",
        "delete",
        "update",
    ]
    expected = [
        "create_memory",
        "search_memory",
        "search_memory",
        "update_memory",
        "delete_memory",
        "update_memory",
    ]
    assert [s.name for s in ops] == [f"{op} {backend}" for op in expected]
    assert [s.attributes["gen_ai.operation.name"] for s in ops] == expected
    for s in ops:
        assert s.kind is SpanKind.CLIENT
        assert s.attributes["gen_ai.provider.name"] == backend
        assert s.attributes["enduser.id"] == "alice"
        assert s.attributes["mnemoplug.tenant.id"] == "acme"
        assert s.parent is None  # no application span was current
        assert s.instrumentation_scope is not None
        assert s.instrumentation_scope.name == "mnemoplug"
    for s in ops[:2]:
        assert s.attributes["gen_ai.agent.id"] == "planner"
        assert s.attributes["gen_ai.conversation.id"] == "s-1"
    for s in ops[2:]:
        assert "gen_ai.agent.id" not in s.attributes
        assert "gen_ai.conversation.id" not in s.attributes

    counts = [s.attributes.get("gen_ai.memory.record.count") for s in ops]
    assert counts == [1, len(hits), len(everything), 1, 1, None]
    assert len(hits) == 1 and len(everything) == 1

    # embed and store phases: children of their operation span, inside its time window
    add_children = _children(spans, ops[0])
    assert sorted(c.name for c in add_children) == ["embed", "store"]
    assert sorted(c.name for c in _children(spans, ops[1])) == ["embed", "store"]
    for op in ops:
        kids = _children(spans, op)
        assert {c.name for c in kids} <= {"embed", "store"}
        for c in kids:
            assert c.kind is SpanKind.INTERNAL
            assert c.context.trace_id == op.context.trace_id
            assert op.start_time <= c.start_time <= c.end_time <= op.end_time
    assert "store" in {c.name for c in _children(spans, ops[4])}
    # every span is an operation or one of its phases
    op_ids = {s.context.span_id for s in ops}
    for s in spans:
        if s not in ops:
            assert s.parent is not None and s.parent.span_id in op_ids

    # success vs failure
    for s in ops[:-1]:
        assert s.status.status_code is StatusCode.UNSET
        assert not s.events
    failed = ops[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "MemoryNotFoundError"
    [event] = failed.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("MemoryNotFoundError")

    # never content or queries in attribute values
    for s in spans:
        values = [str(v) for v in (s.attributes or {}).values()]
        values += [s.name, s.status.description or ""]
        for v in values:
            assert "Bluebird" not in v and "secret" not in v
            assert QUERY not in v and "codename" not in v


async def test_operation_span_is_child_of_current_application_span(tracing) -> None:
    provider, exporter = tracing
    m = _memory(provider)
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as outer:
        await m.add("bob", "Bob likes tea")
        await m.count("bob")
    spans = exporter.get_finished_spans()
    ops = _ops(spans)
    assert [s.attributes["gen_ai.operation.name"] for s in ops] == [
        "create_memory",
        "search_memory",
    ]
    for s in ops:
        assert s.parent is not None
        assert s.parent.span_id == outer.get_span_context().span_id
        assert s.context.trace_id == outer.get_span_context().trace_id
    assert ops[1].attributes["gen_ai.memory.record.count"] == 1
    [app] = [s for s in spans if s.name == "handle request"]
    assert app.parent is None


async def test_forget_and_delete_all_are_delete_memory(tracing) -> None:
    provider, exporter = tracing
    m = _memory(provider)
    await m.add("carol", ["one fact", "another fact"])
    await m.delete_all("carol")
    ops = _ops(exporter.get_finished_spans())
    assert [s.attributes["gen_ai.operation.name"] for s in ops] == [
        "create_memory",
        "delete_memory",
    ]
    assert [s.attributes["gen_ai.memory.record.count"] for s in ops] == [2, 2]


def test_mapping_covers_every_operation() -> None:
    assert set(OPERATION_NAMES) == {
        "add",
        "search",
        "get",
        "get_all",
        "update",
        "delete",
        "delete_all",
        "count",
        "forget",
        "list_users",
        "purge_expired",
    }
    assert set(OPERATION_NAMES.values()) == {
        "create_memory",
        "search_memory",
        "update_memory",
        "delete_memory",
    }


def test_missing_opentelemetry_raises_missing_dependency(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(MissingDependencyError, match=r"mnemoplug\[otel\]"):
        MemoryTracing()


def test_default_uses_global_tracer_provider() -> None:
    tracing = MemoryTracing()  # the global (no-op unless configured) provider; nothing to reset
    assert tracing.tracer is not None


def test_hooks_called_directly_without_phases(tracing) -> None:
    from mnemoplug.core.instrumentation import OperationContext
    from mnemoplug.core.records import Scope

    provider, exporter = tracing
    plugin = MemoryTracing(tracer_provider=provider)
    ctx = OperationContext(
        operation="purge_expired",
        scope=Scope(user_id=""),
        provider="",
        started_ns=1_000_000_000,
    )
    plugin.on_operation_end(ctx)  # no span started: nothing happens, no error
    plugin.on_operation_start(ctx)
    ctx.duration_ms = 2.5
    ctx.result_count = 0
    plugin.on_operation_end(ctx)
    [span] = exporter.get_finished_spans()
    assert span.name == "delete_memory"  # no provider: the operation name alone
    assert span.start_time == 1_000_000_000
    assert span.end_time == 1_002_500_000
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "delete_memory",
        "mnemoplug.operation": "purge_expired",
        "gen_ai.memory.record.count": 0,
    }
