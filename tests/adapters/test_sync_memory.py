"""SyncMemory: Memory's typed API, blocking; session and checkpoint wrappers; the shared portal.

Real SQLite stores, called from plain sync code and from inside a running event loop."""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path
from typing import Any

import pytest

from mnemoplug import (
    ConfigurationError,
    InvalidContentError,
    Memory,
    MemoryNotFoundError,
    SyncMemory,
    hookimpl,
)
from mnemoplug.core import portal as portal_mod
from mnemoplug.core.sync import Portal, SyncCheckpointStore, SyncSessionMemory

from .test_custom_provider import SeedProvider

METHODS = [
    "add",
    "search",
    "get",
    "get_all",
    "update",
    "delete",
    "delete_all",
    "count",
    "forget",
    "purge_expired",
    "list_users",
]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sm(tmp_path: Path, clock: Clock) -> Any:
    mem = SyncMemory(
        f"sqlite:///{tmp_path / 'mem.db'}",
        embedder=None,
        load_entry_points=False,
        session=f"sqlite:///{tmp_path / 'sessions.db'}",
        checkpoints=f"sqlite:///{tmp_path / 'checkpoints.db'}",
        clock=clock,
    )
    yield mem
    mem.close()


def _params(fn: Any) -> list[tuple[str, Any, Any, str]]:
    return [
        (p.name, p.kind, p.default, str(p.annotation).replace("builtins.", ""))
        for p in inspect.signature(fn).parameters.values()
        if p.name != "self"
    ]


@pytest.mark.parametrize("name", METHODS)
def test_methods_have_memorys_parameters_and_return_types(name: str) -> None:
    sync_fn, async_fn = getattr(SyncMemory, name), getattr(Memory, name)
    assert _params(sync_fn) == _params(async_fn)
    assert not any(p.kind is p.VAR_KEYWORD for p in inspect.signature(sync_fn).parameters.values())
    sync_ret = inspect.signature(sync_fn).return_annotation
    async_ret = inspect.signature(async_fn).return_annotation
    assert sync_ret.replace("builtins.", "") == async_ret.replace("builtins.", "")


def test_the_memory_api_from_plain_sync_code(sm: Any, clock: Clock) -> None:
    mid = sm.add("u1", "User prefers dark mode", {"topic": "ui"})
    assert isinstance(mid, str)
    clock.now += 1  # get_all is newest first
    ids = sm.add(
        "u1",
        [{"role": "user", "content": "I live in Lisbon"}, {"role": "assistant", "content": "Nice"}],
        session_id="s1",
    )
    assert isinstance(ids, list) and len(ids) == 2
    rec = sm.get("u1", mid)
    assert (
        rec is not None
        and rec.content == "User prefers dark mode"
        and rec.metadata == {"topic": "ui"}
    )
    assert sm.get("u2", mid) is None
    hits = sm.search("u1", "dark mode", limit=2, filters={"topic": "ui"})
    assert [h.id for h in hits] == [mid]
    assert sm.search("u1", "Lisbon", session_id="s1")[0].id == ids[0]
    assert [r.id for r in sm.get_all("u1", limit=1, offset=2)] == [mid]
    assert len(sm.get_all("u1")) == 3 and sm.count("u1") == 3
    assert sm.count("u1", session_id="s1") == 2

    updated = sm.update("u1", mid, content="User prefers light mode", ttl=60)
    assert updated.content == "User prefers light mode" and updated.expires_at is not None
    with pytest.raises(MemoryNotFoundError):
        sm.update("u2", mid, content="nope")
    assert sm.list_users() == [("", "u1")]
    clock.now += 120  # the updated memory expired
    assert sm.count("u1") == 2 and sm.get("u1", mid) is None
    assert sm.purge_expired() == 1

    assert sm.delete("u1", ids[1]) is True and sm.delete("u1", ids[1]) is False
    assert sm.delete_all("u1") == 1 and sm.count("u1") == 0


def test_from_inside_a_running_event_loop(sm: Any) -> None:
    async def sync_callback_inside_a_loop() -> tuple[Any, ...]:
        # a sync framework callback running on an event loop's thread: no deadlock
        mid = sm.add("u1", "User likes jazz")
        hits = sm.search("u1", "jazz")
        sm.session.add_message("s1", {"role": "user", "content": "hi"}, user_id="u1")
        cp = sm.checkpoints.save("run1", {"step": 1}, user_id="u1")
        return (
            mid,
            hits,
            sm.session.get_messages("s1"),
            cp,
            sm.checkpoints.load("run1", user_id="u1"),
        )

    mid, hits, msgs, cp, loaded = asyncio.run(sync_callback_inside_a_loop())
    assert [h.id for h in hits] == [mid]
    assert [m.content for m in msgs] == ["hi"]
    assert (
        loaded is not None
        and loaded.checkpoint_id == cp.checkpoint_id
        and loaded.state == {"step": 1}
    )


def test_session_wrapper(sm: Any) -> None:
    session = sm.session
    assert isinstance(session, SyncSessionMemory) and session is sm.session
    assert session.wrapped is sm.memory.session
    first = session.add_message(
        "s1", {"role": "user", "content": "My dog is called Rex"}, user_id="u1"
    )
    assert first.role == "user" and first.content == "My dog is called Rex"
    stored = session.add_messages(
        "s1",
        [{"role": "assistant", "content": "Nice name"}, {"role": "human", "content": "Thanks"}],
        user_id="u1",
    )
    assert [m.role for m in stored] == ["assistant", "user"]
    assert [m.content for m in session.get_messages("s1", user_id="u1")] == [
        "My dog is called Rex",
        "Nice name",
        "Thanks",
    ]
    assert [m.content for m in session.get_messages("s1", 1)] == ["Thanks"]
    assert session.get_messages("s1", user_id="u2") == []  # another user's session reads empty
    info = session.info("s1", user_id="u1")
    assert info is not None and info.message_count == 3 and info.user_id == "u1"
    assert [i.session_id for i in session.list_sessions(user_id="u1")] == ["s1"]
    assert [m.content for m in session.search("dog Rex", user_id="u1")] == ["My dog is called Rex"]
    assert session.summarize("s1").startswith("3 messages")
    assert session.summarize("s1", summarizer=lambda ms: f"{len(ms)} msgs") == "3 msgs"
    session.add_message("s2", {"role": "user", "content": "other"}, user_id="u1")
    assert session.clear("s1", user_id="u2") == 0 and session.clear("s1", user_id="u1") == 3
    assert session.clear_all(user_id="u1") == 1
    assert session.list_sessions() == []
    # other methods of the store pass through, blocking
    assert session.clear_old_sessions(0) == 0


def test_checkpoint_wrapper(sm: Any) -> None:
    cps = sm.checkpoints
    assert isinstance(cps, SyncCheckpointStore) and cps is sm.checkpoints
    a = cps.save("run1", {"step": 1}, user_id="u1", metadata={"node": "a"})
    b = cps.save("run1", b"\x00blob", user_id="u1", parent_id=a.checkpoint_id)
    cps.save("run2", [1, 2], user_id="u1")
    cps.save("run1", {"other": True}, user_id="u2")
    latest = cps.load("run1", user_id="u1")
    assert (
        latest is not None
        and latest.checkpoint_id == b.checkpoint_id
        and latest.state == b"\x00blob"
    )
    named = cps.load("run1", user_id="u1", checkpoint_id=a.checkpoint_id)
    assert named is not None and named.metadata == {"node": "a"}
    assert [c.checkpoint_id for c in cps.list(user_id="u1", run_id="run1")] == [
        b.checkpoint_id,
        a.checkpoint_id,
    ]
    assert [c.checkpoint_id for c in cps.list(user_id="u1", run_id="run1", before=b)] == [
        a.checkpoint_id
    ]
    assert len(cps.list(user_id="u1")) == 3
    assert cps.delete("run1", user_id="u1", checkpoint_id=a.checkpoint_id) == 1
    assert cps.delete("run2", user_id="u1") == 1
    assert cps.delete_user("u1") == 1
    assert cps.load("run1", user_id="u2") is not None  # never another user's


def test_forget_counts_every_store(sm: Any) -> None:
    sm.add("u1", "User likes tea")
    sm.session.add_message("s1", {"role": "user", "content": "hi"}, user_id="u1")
    sm.checkpoints.save("r1", {"x": 1}, user_id="u1")
    sm.add("u2", "User likes coffee")
    out = sm.forget("u1")
    assert out == {"memories": 1, "sessions": 1, "checkpoints": 1, "audit_entries": 0}
    assert sm.count("u1") == 0 and sm.count("u2") == 1


def test_no_session_or_checkpoints_is_none(tmp_path: Path) -> None:
    with SyncMemory(f"sqlite:///{tmp_path / 'm.db'}", embedder=None, load_entry_points=False) as s:
        assert s.session is None and s.checkpoints is None
        ids = s.add("u", ["a", "b"])
        assert sorted(ids) == sorted(r.id for r in s.get_all("u"))


def test_memory_argument_accepts_a_custom_provider() -> None:
    custom = SeedProvider()
    with SyncMemory(memory=custom) as s:
        mid = s.add("u1", "User prefers dark mode")
        assert custom.contents("u1") == ["User prefers dark mode"]
        assert [h.id for h in s.search("u1", "dark mode")] == [mid]
        assert s.count("u1") == 1
        assert s.delete("u1", mid) is True and custom.contents("u1") == []
        s.add("u1", ["one", "two"])
        assert s.forget("u1")["memories"] == 2 and custom.data == {}
    with pytest.raises(ConfigurationError, match="memory="):
        SyncMemory(memory="sqlite:///x.db")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not both"):
        SyncMemory("memory://", memory=Memory("memory://", embedder=None))


def test_closed_and_reentrant_calls_raise_configuration_errors(tmp_path: Path) -> None:
    s = SyncMemory(f"sqlite:///{tmp_path / 'm.db'}", embedder=None, load_entry_points=False)
    errors: list[BaseException] = []

    async def hook_calling_the_sync_api(ctx: Any) -> None:
        try:
            s.count("u1")  # on the portal's own thread: would deadlock
        except ConfigurationError as exc:
            errors.append(exc)

    s.hook("on_memory_added")(hook_calling_the_sync_api)
    s.add("u1", "x")
    assert len(errors) == 1 and "inside its own event loop" in str(errors[0])
    s.close()
    with pytest.raises(ConfigurationError, match="closed"):
        s.count("u1")


def test_one_portal_module_shared_by_sync_memory_and_the_adapters() -> None:
    from mnemoplug.core import sync

    assert sync.Portal is portal_mod.Portal is Portal
    a = portal_mod.shared_portal("mnemoplug-test")
    assert portal_mod.shared_portal("mnemoplug-test") is a
    assert portal_mod.shared_portal("mnemoplug-test-2") is not a
    assert a.name == "mnemoplug-test"
    assert a.call(asyncio.sleep(0, "ok")) == "ok"
    a.stop()
    b = portal_mod.shared_portal("mnemoplug-test")
    assert b is not a and b.call(_thread_name()) == "mnemoplug-test"
    b.stop()
    portal_mod.shared_portal("mnemoplug-test-2").stop()


async def _thread_name() -> str:
    return threading.current_thread().name


def test_adapters_use_the_shared_portal() -> None:
    pytest.importorskip("agno")
    pytest.importorskip("langchain.agents")
    from mnemoplug.adapters import agno
    from mnemoplug.adapters.langchain import _runner

    assert agno.agno_portal() is portal_mod.shared_portal("mnemoplug-agno")
    assert _runner.shared_portal() is portal_mod.shared_portal("mnemoplug-langchain")
    assert agno.agno_portal() is not _runner.shared_portal()
    assert _runner.shared_portal().call(_thread_name()) == "mnemoplug-langchain"


class ThreadRecordingEmbedder:
    """The real model (``embedder`` fixture) recording the thread each embed runs in."""

    def __init__(self, inner: Any, any_thread: bool) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.runs_in_any_thread = any_thread
        self.threads: list[str] = []

    def embed(self, texts: list[str]) -> Any:
        self.threads.append(threading.current_thread().name)
        return self.inner.embed(texts)


@pytest.mark.parametrize("any_thread", [True, False])
def test_search_embeds_the_query_in_the_calling_thread_when_the_embedder_allows(
    tmp_path: Path, embedder: Any, any_thread: bool
) -> None:
    emb = ThreadRecordingEmbedder(embedder, any_thread)
    phases: list[list[str]] = []

    class Phases:
        @hookimpl
        def on_operation_end(self, ctx: Any) -> None:
            if ctx.operation == "search":
                phases.append([name for name, _, _ in ctx.phases])

    sm = SyncMemory(
        f"sqlite:///{tmp_path / 'mem.db'}",
        embedder=emb,
        load_entry_points=False,
        plugins=[Phases()],
    )
    try:
        sm.add("u1", "My sister Ana plays the cello in an orchestra")
        sm.add("u1", "I am allergic to peanuts")
        emb.threads.clear()
        hits = sm.search("u1", "which instrument does my sister play?")
        here = threading.current_thread().name
        assert emb.threads == ([here] if any_thread else [emb.threads[0]])
        assert any_thread or emb.threads[0] != here
        assert hits[0].content == "My sister Ana plays the cello in an orchestra"
        assert phases[-1].count("embed") == 1  # reported on the search, in either thread
        # the same query again comes from the cache: no embedding at all
        emb.threads.clear()
        again = sm.search("u1", "which instrument does my sister play?")
        assert emb.threads == []
        assert "embed" not in phases[-1]  # cached: nothing embedded for it
        assert [(h.id, h.score) for h in again] == [(h.id, h.score) for h in hits]
        # and the ranking is the one the loop's own embedding gives
        loop_hits = sm.run(sm.memory.search("u1", "which instrument does my sister play?"))
        assert [h.id for h in loop_hits] == [h.id for h in hits]
        # a bad query still raises Memory.search's own typed error
        with pytest.raises(InvalidContentError):
            sm.search("u1", "   ")
    finally:
        sm.close()
