"""``on_operation_start`` / ``on_operation_end``: every memory operation's boundaries, for
metrics and tracing plugins."""

from __future__ import annotations

from typing import Any

import pytest

from mnemoplug import InvalidScopeError, Memory, OperationContext, hookimpl


class Recorder:
    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        self.ended: list[OperationContext] = []

    @hookimpl
    def on_operation_start(self, ctx: OperationContext) -> None:
        ctx.state["seen_start"] = True
        self.started.append((ctx.operation, ctx.user.id))

    @hookimpl
    def on_operation_end(self, ctx: OperationContext) -> None:
        assert ctx.state["seen_start"]
        self.ended.append(ctx)


async def test_every_operation_is_bracketed_with_duration_count_and_phases(embedder: Any) -> None:
    rec = Recorder()
    m = Memory("memory://", embedder=embedder, plugins=[rec], load_entry_points=False)
    ids = await m.add("u1", ["tea with milk", "a cat named Rex"], tenant_id="t1")
    await m.search("u1", "what pet?", tenant_id="t1")
    await m.get("u1", ids[0], tenant_id="t1")
    await m.get_all("u1", tenant_id="t1")
    await m.update("u1", ids[0], content="green tea", tenant_id="t1")
    await m.delete("u1", ids[1], tenant_id="t1")
    await m.count("u1", tenant_id="t1")
    await m.forget("u1", tenant_id="t1")
    ops = [c.operation for c in rec.ended]
    assert ops == ["add", "search", "get", "get_all", "update", "delete", "count", "forget"]
    assert rec.started == [(o, "u1") for o in ops]  # forget's inner delete_all is not counted
    by = {c.operation: c for c in rec.ended}
    assert by["add"].result_count == 2 and by["search"].result_count == 2
    assert by["delete"].result_count == 1 and by["count"].result_count == 1
    assert all(c.provider == "memory" and c.error is None for c in rec.ended)
    assert all(c.duration_ms > 0 and c.scope.tenant_id == "t1" for c in rec.ended)
    add_phases = [name for name, start, end in by["add"].phases if end >= start]
    assert add_phases == ["embed", "store"]
    assert [p[0] for p in by["search"].phases] == ["embed", "store"]
    assert [p[0] for p in by["get"].phases] == ["store"]


async def test_a_failing_operation_ends_with_its_error() -> None:
    rec = Recorder()
    m = Memory("memory://", embedder=None, plugins=[rec], load_entry_points=False)
    with pytest.raises(InvalidScopeError):
        await m.search("", "x")
    assert [(c.operation, type(c.error).__name__) for c in rec.ended] == [
        ("search", "InvalidScopeError")
    ]


async def test_a_raising_instrumentation_hook_never_breaks_the_operation(caplog) -> None:
    class Broken:
        @hookimpl
        def on_operation_end(self, ctx: OperationContext) -> None:
            raise RuntimeError("exporter down")

    m = Memory("memory://", embedder=None, plugins=[Broken()], load_entry_points=False)
    mid = await m.add("u", "still stored")
    assert (await m.get("u", mid)) is not None
    assert "exporter down" in caplog.text
