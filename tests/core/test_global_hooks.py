"""Hooks as the seeds use them: a bare ``@hook("...")`` on a function registers it for every
Memory and provider in the process (tests/conftest.py resets the registry around each test)."""

from __future__ import annotations

import importlib.metadata as md
import re
import uuid
from typing import Any

import pytest

from mnemoplug import (
    ConfigurationError,
    HookContext,
    InMemoryProvider,
    Memory,
    SQLiteProvider,
    create_memory,
    hook,
    hookimpl,
    unregister_hook,
)
from mnemoplug.core import plugins as plugins_mod
from mnemoplug.core.registry import reset_registry

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def contains_pii(text: str) -> bool:
    return bool(EMAIL.search(text))


def redact_pii(text: str) -> str:
    return EMAIL.sub("[EMAIL]", text)


async def test_seed_pii_hook_redacts_for_memories_built_before_and_after(tmp_path) -> None:
    before = SQLiteProvider(tmp_path / "before.db", embedder=None)

    @hook("on_memory_add")
    async def before_memory_add(ctx: HookContext) -> None:
        if contains_pii(ctx.memory_content):  # type: ignore[attr-defined]
            ctx.memory_content = redact_pii(ctx.memory_content)  # type: ignore[attr-defined]

    after = InMemoryProvider(embedder=None)
    plain = Memory("memory://", embedder=None)
    for memory in (before, after, plain):
        mid = await memory.add(user_id="u1", content="Mail me at bob@example.com")
        rec = await memory.get("u1", mid)
        assert rec is not None and rec["content"] == "Mail me at [EMAIL]"
    await before.close()


async def test_seed_audit_hook_reads_ctx_user_id() -> None:
    audit: list[dict[str, Any]] = []

    @hook("on_memory_search")
    async def after_memory_search(ctx: HookContext) -> None:
        audit.append(
            {
                "user": ctx.user.id,
                "tenant": ctx.user.tenant_id,
                "action": "memory_search",
                "query": ctx.memory_query,  # type: ignore[attr-defined]
                "results_count": len(ctx.memory_results),  # type: ignore[attr-defined]
            }
        )

    memory = InMemoryProvider(embedder=None)
    await memory.add("user_a", "likes tea", tenant_id="acme")
    await memory.search(user_id="user_a", query="tea", tenant_id="acme")
    assert audit == [
        {
            "user": "user_a",
            "tenant": "acme",
            "action": "memory_search",
            "query": "tea",
            "results_count": 1,
        }
    ]


async def test_global_hooks_false_opts_out_and_unregister_removes() -> None:
    seen: list[str] = []

    @hook("on_memory_add")
    def tag(ctx: Any) -> None:
        seen.append(ctx.memory_content)

    opted_out = Memory("memory://", embedder=None, global_hooks=False)
    await opted_out.add("u", "not seen")
    normal = Memory("memory://", embedder=None)
    await normal.add("u", "seen")
    assert seen == ["seen"]
    assert unregister_hook(tag) is True
    await normal.add("u", "after unregister")
    assert seen == ["seen"] and unregister_hook(tag) is False


async def test_global_function_passed_as_plugin_runs_once() -> None:
    calls: list[str] = []

    @hook("on_memory_add")
    def count(ctx: Any) -> None:
        calls.append(ctx.memory_content)

    memory = Memory("memory://", embedder=None, plugins=[count])
    memory.register(count)
    await memory.add("u", "once")
    assert calls == ["once"]
    # opted out of global hooks, an explicitly passed function still runs (exactly once)
    local = Memory("memory://", embedder=None, plugins=[count], global_hooks=False)
    await local.add("u", "local")
    assert calls == ["once", "local"]


async def test_memory_hook_decorator_stays_local() -> None:
    a = Memory("memory://", embedder=None)
    b = Memory("memory://", embedder=None)

    @a.hook("on_memory_add")
    def mark(ctx: Any) -> None:
        ctx.metadata["from"] = "a"

    ida, idb = await a.add("u", "x"), await b.add("u", "y")
    assert (await a.get("u", ida)).metadata == {"from": "a"}  # type: ignore[union-attr]
    assert (await b.get("u", idb)).metadata == {}  # type: ignore[union-attr]


async def test_trace_env_logs_every_call_with_plugin_and_duration(monkeypatch, capsys) -> None:
    @hook("on_memory_add")
    def traced(ctx: Any) -> None:
        return None

    monkeypatch.setenv("MNEMOPLUG_TRACE_HOOKS", "1")
    memory = Memory("memory://", embedder=None)
    await memory.add("u", "x")
    err = capsys.readouterr().err
    assert re.search(r"mnemoplug hook on_memory_add: global:.*traced.* \(\d+\.\d{3} ms\)", err)
    monkeypatch.setenv("MNEMOPLUG_TRACE_HOOKS", "0")
    quiet = Memory("memory://", embedder=None)
    await quiet.add("u", "y")
    assert "mnemoplug hook" not in capsys.readouterr().err


async def test_search_hook_returning_a_list_replaces_results() -> None:
    @hook("on_memory_search")
    def only_first(ctx: Any) -> list[Any]:
        return ctx.memory_results[:1]

    memory = Memory("memory://", embedder=None)
    await memory.add("u", ["tea with milk", "tea without sugar"])
    assert len(await memory.search("u", "tea")) == 1


def test_bare_hook_validates_name_and_target() -> None:
    with pytest.raises(ConfigurationError, match="unknown hook"):
        hook("on_memory_ad")
    with pytest.raises(ConfigurationError, match="decorates a function"):
        hook("on_memory_add")(object)


@pytest.fixture
def entry_point_plugin(monkeypatch, tmp_path):
    """A fake installed plugin (entry point ``mnemoplug = mp_ep_marker``) tagging metadata."""
    name = f"mp_ep_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "from mnemoplug import hookimpl\n"
        "@hookimpl\n"
        "def on_memory_add(ctx):\n"
        "    ctx.metadata['ep'] = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = md.EntryPoint(name="marker", value=name, group="mnemoplug")

    def fake_entry_points(group=None, **kw):
        return [ep] if group == "mnemoplug" else md.entry_points(group=group, **kw)

    monkeypatch.setattr(plugins_mod.importlib_metadata, "entry_points", fake_entry_points)
    reset_registry()
    yield
    reset_registry()


async def test_load_entry_points_false_is_honoured_everywhere(entry_point_plugin, tmp_path) -> None:
    loaded = Memory("memory://", embedder=None)
    assert (await loaded.get("u", await loaded.add("u", "x"))).metadata == {"ep": True}  # type: ignore[union-attr]
    built = [
        Memory("memory://", embedder=None, load_entry_points=False),
        Memory.from_url("memory://", embedder=None, load_entry_points=False),
        create_memory("memory", embedder=None, load_entry_points=False),
        InMemoryProvider(embedder=None, load_entry_points=False),
        SQLiteProvider(tmp_path / "e.db", embedder=None, load_entry_points=False),
    ]
    for memory in built:
        mid = await memory.add("u", "x")
        assert (await memory.get("u", mid)).metadata == {}, memory  # type: ignore[union-attr]
        names = [n for n, _ in memory.hooks.pm.list_name_plugin()]
        assert not any(n.startswith("entrypoint:") for n in names)
        await memory.close()


class _Tagger:
    @hookimpl
    def on_memory_add(self, ctx: Any) -> None:
        ctx.metadata["tagger"] = True


async def test_plugin_objects_still_work_beside_global_hooks() -> None:
    @hook("on_memory_add")
    def upper(ctx: Any) -> None:
        ctx.memory_content = ctx.memory_content.upper()

    memory = Memory("memory://", embedder=None, plugins=[_Tagger()])
    rec = await memory.get("u", await memory.add("u", "abc"))
    assert rec is not None and rec.content == "ABC" and rec.metadata == {"tagger": True}


async def test_load_entry_points_false_never_reads_the_entry_points(monkeypatch, tmp_path) -> None:
    calls: list[int] = []
    real = plugins_mod.entry_point_plugins

    def counting() -> Any:
        calls.append(1)
        return real()

    monkeypatch.setattr(plugins_mod, "entry_point_plugins", counting)
    reset_registry()
    try:
        m = Memory(
            f"sqlite:///{tmp_path}/m.db",
            embedder=None,
            session="memory://",
            checkpoints=f"sqlite:///{tmp_path}/c.db",
            load_entry_points=False,
        )
        await m.add("u", "x")
        await m.close()
        create_memory("memory", embedder=None, load_entry_points=False)
        Memory.from_url("memory://", embedder=None, load_entry_points=False)
        assert calls == []
        Memory("memory://", embedder=None)
        assert calls  # the default does read them
    finally:
        reset_registry()


async def test_wrapping_a_customised_builtin_runs_global_hooks_once() -> None:
    seen: list[str] = []

    @hook("on_memory_add")
    def count(ctx: Any) -> None:
        seen.append(ctx.memory_content)

    class LoggingProvider(InMemoryProvider):  # a user's subclass overriding one method
        added: list[str] = []

        async def add(self, user_id: str, content: Any, metadata: Any = None, **kw: Any) -> Any:
            self.added.append(content)
            return await super().add(user_id, content, metadata, **kw)

    inner = LoggingProvider(embedder=None)
    outer = Memory(provider=inner)
    await outer.add("u", "once")
    assert seen == ["once"] and inner.added == ["once"]
