"""Every hook: when it runs, what it may change, sync and async, order, rejection."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from mnemoplug import (
    ConfigurationError,
    Memory,
    MemoryRejectedError,
    hook,
    hookimpl,
)
from mnemoplug.core import hookspecs
from mnemoplug.core.hookspecs import HOOK_NAMES
from mnemoplug.core.registry import reset_registry


@pytest.fixture
async def memory(embedder):
    m = Memory("memory://", embedder=embedder, load_entry_points=False)
    yield m
    await m.close()


async def test_sync_and_async_function_hooks_chain_in_order(memory: Memory) -> None:
    seen: list[str] = []

    @hook("on_memory_add")
    def first(ctx):  # registered first -> runs last (pluggy LIFO)
        seen.append(f"sync saw {ctx.memory_content}")
        ctx.memory_content = ctx.memory_content + " [sync]"

    @hook("on_memory_add")
    async def second(ctx):
        await asyncio.sleep(0)
        seen.append(f"async saw {ctx.memory_content}")
        ctx.memory_content = ctx.memory_content + " [async]"
        ctx.metadata["tagged"] = True

    memory.register(first)
    memory.register(second)
    mid = await memory.add("u", "hello")
    rec = await memory.get("u", mid)
    assert rec is not None
    assert rec.content == "hello [async] [sync]"
    assert rec.metadata == {"tagged": True}
    assert seen == ["async saw hello", "sync saw hello [async]"]


async def test_tryfirst_and_plugin_objects(memory: Memory) -> None:
    order: list[str] = []

    class Late:
        @hookimpl(trylast=True)
        async def on_memory_add(self, ctx):
            order.append("late")

    class Early:
        @hookimpl(tryfirst=True)
        def on_memory_add(self, ctx):
            order.append("early")

    memory.register(Late())
    memory.register(Early())
    await memory.add("u", "x")
    assert order == ["early", "late"]


async def test_rejection_stores_nothing_for_the_whole_call(memory: Memory) -> None:
    @hook("on_memory_add")
    def no_secrets(ctx):
        if "password" in ctx.memory_content:
            raise ValueError("contains a password")

    memory.register(no_secrets)
    await memory.add("u", "harmless")
    with pytest.raises(MemoryRejectedError) as info:
        await memory.add(
            "u",
            [{"role": "user", "content": "fine"}, {"role": "user", "content": "my password is x"}],
        )
    assert "no_secrets" in str(info.value) or info.value.hook
    assert "password" in info.value.reason
    assert [r.content for r in await memory.get_all("u")] == ["harmless"]


async def test_hook_emptying_content_is_rejected_cleanly(memory: Memory) -> None:
    from mnemoplug import InvalidContentError

    @hook("on_memory_add")
    def blank(ctx):
        ctx.memory_content = "  "

    memory.register(blank)
    with pytest.raises(InvalidContentError, match="after hooks"):
        await memory.add("u", "text")
    assert await memory.get_all("u") == []


async def test_on_memory_added_sees_stored_ids(memory: Memory) -> None:
    got: list[tuple[str, str]] = []

    @hook("on_memory_added")
    def after(ctx):
        got.append((ctx.memory_id, ctx.memory_content))

    memory.register(after)
    ids = await memory.add("u", ["a fact", "another fact"])
    assert got == list(zip(ids, ["a fact", "another fact"], strict=True))


async def test_on_memory_search_filters_and_rewrites(memory: Memory) -> None:
    await memory.add("u", "public note about cats", {"visibility": "public"})
    await memory.add("u", "private note about cats", {"visibility": "private"})
    queries: list[str] = []

    @hook("on_memory_search")
    def only_public(ctx):
        queries.append(ctx.memory_query)
        return [r for r in ctx.memory_results if r.metadata.get("visibility") == "public"]

    @hook("on_memory_search", trylast=True)
    async def shout(ctx):
        ctx.memory_results = [
            r.model_copy(update={"content": r.content.upper()}) for r in ctx.memory_results
        ]

    memory.register(only_public)
    memory.register(shout)
    hits = await memory.search("u", "cats")
    assert [h.content for h in hits] == ["PUBLIC NOTE ABOUT CATS"]
    assert queries == ["cats"]


async def test_on_memory_get_sees_get_and_get_all(memory: Memory) -> None:
    ops: list[tuple[str, int]] = []

    @hook("on_memory_get")
    def watch(ctx):
        ops.append((ctx.operation, len(ctx.memory_results)))

    memory.register(watch)
    mid = await memory.add("u", "x")
    await memory.get("u", mid)
    await memory.get("u", "missing")
    await memory.get_all("u")
    assert ops == [("get", 1), ("get", 0), ("get_all", 1)]


async def test_on_memory_update_rewrites_and_rejects(memory: Memory) -> None:
    mid = await memory.add("u", "old text")

    @hook("on_memory_update")
    def guard(ctx):
        assert ctx.previous is not None and ctx.previous.content in ("old text", "new text!")
        if ctx.memory_content == "forbidden":
            raise PermissionError("not allowed")
        if ctx.memory_content is not None:
            ctx.memory_content += "!"

    memory.register(guard)
    rec = await memory.update("u", mid, content="new text")
    assert rec.content == "new text!"
    with pytest.raises(MemoryRejectedError):
        await memory.update("u", mid, content="forbidden")
    assert (await memory.get("u", mid)).content == "new text!"  # type: ignore[union-attr]


async def test_on_memory_delete_counts(memory: Memory) -> None:
    events: list[tuple[str, list[str], int]] = []

    @hook("on_memory_delete")
    def watch(ctx):
        events.append((ctx.operation, ctx.memory_ids, ctx.deleted_count))

    memory.register(watch)
    a = await memory.add("u", "a")
    await memory.add("u", "b")
    await memory.delete("u", a)
    await memory.delete_all("u")
    assert events == [("delete", [a], 1), ("delete_all", [], 1)]


async def test_memory_hook_decorator(memory: Memory) -> None:
    @memory.hook("on_memory_add")
    def tag(ctx):
        ctx.metadata["via"] = "decorator"

    mid = await memory.add("u", "x")
    assert (await memory.get("u", mid)).metadata == {"via": "decorator"}  # type: ignore[union-attr]


def test_unknown_hook_name_and_plain_function_are_config_errors() -> None:
    with pytest.raises(ConfigurationError, match="on_memory_add"):
        hook("on_memory_ad")
    m = Memory("memory://", embedder=None, load_entry_points=False)

    def plain(ctx):
        return None

    with pytest.raises(ConfigurationError, match="@hook"):
        m.register(plain)


def test_hook_wrappers_are_refused() -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def on_memory_add(self, ctx):
            return (yield)

    m = Memory("memory://", embedder=None, load_entry_points=False)
    with pytest.raises(ConfigurationError, match="wrapper"):
        m.register(Wrapper())


async def test_entry_point_plugins_load_with_allow_list(monkeypatch, tmp_path: Path) -> None:
    """A plugin installed through the `mnemoplug` entry-point group is picked up."""
    import importlib.metadata as md
    import sys

    from mnemoplug.core import plugins as plugins_mod

    pkg = tmp_path / "mp_testplugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from mnemoplug import hookimpl\n"
        "@hookimpl\n"
        "def on_memory_add(ctx):\n"
        "    ctx.metadata['from_entry_point'] = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = md.EntryPoint(name="testplugin", value="mp_testplugin", group="mnemoplug")

    def fake_entry_points(group=None, **kw):
        return [ep] if group == "mnemoplug" else md.entry_points(group=group, **kw)

    monkeypatch.setattr(plugins_mod.importlib_metadata, "entry_points", fake_entry_points)
    reset_registry()
    try:
        m = Memory("memory://", embedder=None)
        mid = await m.add("u", "x")
        assert (await m.get("u", mid)).metadata == {"from_entry_point": True}  # type: ignore[union-attr]
        monkeypatch.setenv("MNEMOPLUG_LOAD_PLUGINS", "someotherplugin")
        reset_registry()
        m2 = Memory("memory://", embedder=None)
        mid2 = await m2.add("u", "x")
        assert (await m2.get("u", mid2)).metadata == {}  # type: ignore[union-attr]
    finally:
        reset_registry()
        sys.modules.pop("mp_testplugin", None)


def test_every_hook_is_specified_documented_and_tested() -> None:
    """Meta-test: every hookspec has a real docstring, a row in the README's hook table and a
    test that uses it."""
    this = inspect.getsource(test_every_hook_is_specified_documented_and_tested)
    root = Path(__file__).parent.parent.parent
    readme = (root / "README.md").read_text()
    all_tests = "\n".join(p.read_text() for p in (root / "tests").rglob("test_*.py"))
    specs = [n for n, v in vars(hookspecs).items() if hasattr(v, "mnemoplug_spec")]
    assert set(specs) == {*HOOK_NAMES, "register_providers", "register_embedders"}
    for name in specs:
        spec = getattr(hookspecs, name)
        assert inspect.getdoc(spec) and len(inspect.getdoc(spec) or "") > 60, name
        assert f"`{name}(" in readme, f"hook {name} is not in the README's hook table"
        assert name in all_tests.replace(this, ""), f"hook {name} has no test"
