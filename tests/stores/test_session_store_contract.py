"""The session-store contract: every backend in tests/stores/backends/ with a session_store
factory passes all of it; backend-specific behaviour (LRU, TTL, compression, persistence)
follows."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mnemoplug import SessionStore
from mnemoplug.core.contexts import SessionMessageContext
from mnemoplug.core.errors import (
    ConfigurationError,
    InvalidMessageError,
    InvalidScopeError,
    MemoryRejectedError,
)
from mnemoplug.core.plugins import HookManager, hook
from mnemoplug.core.session import (
    Message,
    SessionInfo,
    SessionMemory,
    SessionOwnershipError,
    conversation_id_for,
    create_conversation_id,
    default_summarizer,
    session_memory_from_url,
)
from tests.conftest import POSTGRES_URL, REDIS_URL, require_server
from tests.stores.backends.postgres import drop_plain_tables
from tests.stores.backends.redis import drop_prefix
from tests.stores.conftest import factory, joining


def uid(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def make_store(kind: str, tmp_path: Path, **options: Any) -> AsyncIterator[SessionMemory]:
    """A fresh, empty session store of backend ``kind`` (tests/stores/backends/<kind>.py)."""
    async with factory("session_store", kind)(tmp_path, **options) as s:
        yield s


KINDS = joining("session_store")


@pytest.fixture
def store(session_store: SessionStore) -> SessionStore:
    return session_store


def msgs(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in pairs]


# -- the model -----------------------------------------------------------------------------------
def test_message_model_roundtrip_and_aliases() -> None:
    m = Message.from_dict({"role": "human", "content": "hi", "metadata": {"k": 1}})
    assert m.role == "user" and m.content == "hi" and m.metadata == {"k": 1}
    assert m.timestamp.tzinfo is not None and m.timestamp.utcoffset() == timedelta(0)
    assert Message.from_dict({"type": "ai", "content": "yo"}).role == "assistant"
    d = m.to_dict()
    assert d["timestamp"].endswith("+00:00")
    back = Message.from_dict(d)
    assert back == m
    naive = Message(role="user", content="x", timestamp=datetime(2024, 1, 1, 12))
    assert naive.timestamp == datetime(2024, 1, 1, 12, tzinfo=UTC)
    a, b = Message(role="user", content="a"), Message(role="user", content="b")
    assert a.id != b.id and len(a.id) == 36


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"role": "wizard", "content": "x"}, "unknown role"),
        ({"role": "user", "content": 42}, "must be a string"),
        ({"role": "user", "content": ["a", "b"]}, "must be a string"),
        ({"role": "user", "content": "   "}, "empty"),
        ({"content": "no role"}, "no role"),
        ({"role": "user", "content": "x", "colour": "red"}, "metadata"),
        ({"role": "user", "content": "x", "metadata": {"t": object()}}, "JSON"),
    ],
)
def test_message_validation_errors_say_how_to_fix(data: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidMessageError, match=needle):
        Message.from_dict(data)


def test_conversation_ids() -> None:
    a, b = create_conversation_id(), create_conversation_id("chat")
    assert a != b and b.startswith("chat-")
    assert a[:8] <= create_conversation_id()[:8]  # time-ordered prefix
    c1 = conversation_id_for("u1")
    assert c1 == conversation_id_for("u1") and c1.startswith("conv-")
    assert c1 != conversation_id_for("u2")
    assert c1 != conversation_id_for("u1", tenant_id="t1")
    assert conversation_id_for("u1", channel="web") != conversation_id_for("u1", channel="sms")
    # stable across processes: a fixed value (sha256-based)
    assert (
        conversation_id_for("u1")
        == "conv-"
        + __import__("hashlib")
        .sha256(b"\x00\x00\x00\x00" + b"\x00\x00\x00\x02u1" + b"\x00\x00\x00\x00")
        .hexdigest()[:32]
    )
    with pytest.raises(InvalidScopeError):
        conversation_id_for("")


def test_default_summarizer_is_deterministic() -> None:
    ms = [
        Message(role=r, content=c)
        for r, c in [
            ("system", "Be brief."),
            ("user", "I want to book a flight to Oslo"),
            ("assistant", "Which date?"),
            ("user", "Friday"),
            ("assistant", "Booked."),
        ]
    ]
    s = default_summarizer(ms)
    assert s == (
        "5 messages (2 user, 2 assistant, 1 system).\n"
        "First user message: I want to book a flight to Oslo\n"
        "Last 4 messages:\n"
        "user: I want to book a flight to Oslo\nassistant: Which date?\n"
        "user: Friday\nassistant: Booked."
    )
    assert default_summarizer([]) == ""


def test_from_url_routes_and_rejects() -> None:
    from mnemoplug.providers.inprocess import InMemorySessionMemory

    assert isinstance(session_memory_from_url("memory://"), InMemorySessionMemory)
    with pytest.raises(ConfigurationError, match="no session store"):
        session_memory_from_url("ftp://x")
    with pytest.raises(ConfigurationError):
        session_memory_from_url("not a url")


# -- the contract --------------------------------------------------------------------------------
async def test_order_and_limit(store: SessionMemory) -> None:
    s = uid("s")
    stored = await store.add_messages(
        s, msgs(("user", "one"), ("assistant", "two"), ("user", "three")), user_id="u1"
    )
    assert [m.content for m in stored] == ["one", "two", "three"]
    one = await store.add_message(s, Message(role="assistant", content="four"), user_id="u1")
    assert isinstance(one, Message) and one.role == "assistant"
    got = await store.get_messages(s)
    assert [m.content for m in got] == ["one", "two", "three", "four"]
    assert [m.id for m in got[:3]] == [m.id for m in stored]
    assert got[0].timestamp.tzinfo is not None
    assert [m.content for m in await store.get_messages(s, limit=2)] == ["three", "four"]
    assert [m.content for m in await store.get_messages(s, limit=10)] == [
        "one",
        "two",
        "three",
        "four",
    ]
    assert await store.get_messages(uid("none")) == []
    with pytest.raises(InvalidMessageError):
        await store.get_messages(s, limit=0)


async def test_langchain_like_objects_and_metadata(store: SessionMemory) -> None:
    class Obj:
        def __init__(self, type_: str, content: str) -> None:
            self.type, self.content, self.id = type_, content, None

    s = uid("s")
    await store.add_messages(s, [Obj("human", "hello"), Obj("ai", "hi there")])
    await store.add_message(s, {"role": "tool", "content": "42", "metadata": {"tool": "calc"}})
    got = await store.get_messages(s)
    assert [(m.role, m.content) for m in got] == [
        ("user", "hello"),
        ("assistant", "hi there"),
        ("tool", "42"),
    ]
    assert got[2].metadata == {"tool": "calc"}


async def test_clear(store: SessionMemory) -> None:
    a, b = uid("a"), uid("b")
    await store.add_messages(a, msgs(("user", "x"), ("assistant", "y")), user_id="u1")
    await store.add_message(b, {"role": "user", "content": "z"}, user_id="u1")
    assert await store.clear(a) == 2
    assert await store.get_messages(a) == []
    assert await store.clear(a) == 0
    assert [m.content for m in await store.get_messages(b)] == ["z"]
    # a cleared session is free again: a new owner may start it
    await store.add_message(a, {"role": "user", "content": "fresh"}, user_id="u2")
    assert [m.content for m in await store.get_messages(a, user_id="u2")] == ["fresh"]


async def test_clear_all_per_user_and_tenant(store: SessionMemory) -> None:
    u1, u2 = uid("u"), uid("u")
    for i in range(3):
        await store.add_message(uid("s"), {"role": "user", "content": f"m{i}"}, user_id=u1)
    keep = uid("s")
    await store.add_message(keep, {"role": "user", "content": "mine"}, user_id=u2)
    tenant_s = uid("s")
    await store.add_message(
        tenant_s, {"role": "user", "content": "t"}, user_id=u1, tenant_id="acme"
    )
    assert await store.clear_all(user_id=u1) == 3
    assert await store.list_sessions(user_id=u1) == []
    assert [m.content for m in await store.get_messages(keep)] == ["mine"]
    assert len(await store.list_sessions(user_id=u1, tenant_id="acme")) == 1
    assert await store.clear_all(user_id=u1, tenant_id="acme") == 1
    assert len(await store.list_sessions(user_id=u2)) == 1
    assert await store.clear_all() >= 1
    assert await store.list_sessions() == []


async def test_list_sessions(store: SessionMemory) -> None:
    u = uid("u")
    s1, s2, s3 = uid("s1"), uid("s2"), uid("s3")
    await store.add_messages(s1, msgs(("user", "a"), ("assistant", "b")), user_id=u)
    await asyncio.sleep(0.01)
    await store.add_message(s2, {"role": "user", "content": "c"}, user_id=u, tenant_id="t1")
    await asyncio.sleep(0.01)
    await store.add_message(s3, {"role": "user", "content": "d"}, user_id=u)
    await store.add_message(uid("other"), {"role": "user", "content": "e"}, user_id=uid("u"))
    infos = await store.list_sessions(user_id=u)
    assert [i.session_id for i in infos] == [s3, s1]
    assert all(isinstance(i, SessionInfo) for i in infos)
    assert infos[1].message_count == 2 and infos[0].message_count == 1
    assert infos[1].user_id == u and infos[1].tenant_id is None
    assert infos[1].created_at <= infos[1].updated_at
    assert infos[0].updated_at.tzinfo is not None
    t = await store.list_sessions(user_id=u, tenant_id="t1")
    assert [(i.session_id, i.tenant_id) for i in t] == [(s2, "t1")]
    assert [i.session_id for i in await store.list_sessions(tenant_id="t1")] == [s2]
    assert len(await store.list_sessions(user_id=u, limit=1)) == 1
    # writing again moves a session to the front
    await asyncio.sleep(0.01)
    await store.add_message(s1, {"role": "user", "content": "again"}, user_id=u)
    infos = await store.list_sessions(user_id=u)
    assert [i.session_id for i in infos] == [s1, s3] and infos[0].message_count == 3
    assert len(await store.list_sessions()) == 4
    info = await store.info(s1)
    assert info is not None and info.message_count == 3


async def test_clear_old_sessions(store: SessionMemory) -> None:
    old, new = uid("old"), uid("new")
    await store.add_message(old, {"role": "user", "content": "old"}, user_id="u1")
    await asyncio.sleep(0.3)
    cutoff = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await store.add_message(new, {"role": "user", "content": "new"}, user_id="u1")
    assert await store.clear_old_sessions(timedelta(days=1)) == 0
    assert await store.clear_old_sessions(cutoff) == 1
    assert await store.get_messages(old) == []
    assert [m.content for m in await store.get_messages(new)] == ["new"]
    await asyncio.sleep(0.2)
    assert await store.clear_old_sessions(timedelta(seconds=0.1)) == 1
    assert await store.list_sessions() == []
    with pytest.raises(InvalidMessageError):
        await store.clear_old_sessions("yesterday")  # type: ignore[arg-type]


async def test_summarize_default_and_custom(store: SessionMemory) -> None:
    s = uid("s")
    await store.add_messages(
        s,
        msgs(("user", "Plan a trip to Rome"), ("assistant", "When?"), ("user", "In May")),
        user_id="u1",
    )
    text = await store.summarize(s)
    assert text == default_summarizer(await store.get_messages(s))
    assert text.startswith("3 messages (2 user, 1 assistant).")

    def sync_sum(messages: list[Message]) -> str:
        return " | ".join(m.content for m in messages)

    async def async_sum(messages: list[Message]) -> str:
        await asyncio.sleep(0)
        return f"{len(messages)} turns, last: {messages[-1].content}"

    assert await store.summarize(s, summarizer=sync_sum) == "Plan a trip to Rome | When? | In May"
    assert await store.summarize(s, summarizer=async_sum) == "3 turns, last: In May"
    store.summarizer = async_sum
    assert await store.summarize(s) == "3 turns, last: In May"
    assert await store.summarize(uid("empty"), summarizer=default_summarizer) == ""
    with pytest.raises(ConfigurationError, match="string"):
        await store.summarize(s, summarizer=lambda m: 3)  # type: ignore[arg-type,return-value]


async def test_search(store: SessionMemory) -> None:
    u1, u2 = uid("u"), uid("u")
    s1, s2, s3 = uid("s"), uid("s"), uid("s")
    await store.add_messages(
        s1,
        msgs(
            ("user", "My dog is called Rex"),
            ("assistant", "Nice name for a dog!"),
            ("user", "I like pizza"),
        ),
        user_id=u1,
    )
    await store.add_message(s2, {"role": "user", "content": "Walked the dogs today"}, user_id=u1)
    await store.add_message(s3, {"role": "user", "content": "my dog Bella is secret"}, user_id=u2)
    hits = await store.search("dog", session_id=s1, user_id=u1)
    assert {m.content for m in hits} == {"My dog is called Rex", "Nice name for a dog!"}
    across = await store.search("dog", user_id=u1)
    assert {m.content for m in across} == {
        "My dog is called Rex",
        "Nice name for a dog!",
        "Walked the dogs today",
    }
    assert all("Bella" not in m.content for m in across)
    # another user's session searched by id reads as nothing
    assert await store.search("dog", session_id=s3, user_id=u1) == []
    assert [m.content for m in await store.search("pizza", session_id=s1)] == ["I like pizza"]
    assert await store.search("zebra", user_id=u1) == []
    assert len(await store.search("dog", user_id=u1, limit=1)) == 1


async def test_isolation(store: SessionMemory) -> None:
    s = uid("s")
    await store.add_message(s, {"role": "user", "content": "u1 secret"}, user_id="u1")
    with pytest.raises(SessionOwnershipError, match="another user"):
        await store.add_message(s, {"role": "user", "content": "intrusion"}, user_id="u2")
    with pytest.raises(SessionOwnershipError):
        await store.add_message(s, {"role": "user", "content": "anon"})
    with pytest.raises(SessionOwnershipError):
        await store.add_message(
            s, {"role": "user", "content": "t"}, user_id="u1", tenant_id="other"
        )
    assert await store.get_messages(s, user_id="u2") == []
    assert await store.get_messages(s, user_id="u1", tenant_id="other") == []
    assert await store.info(s, user_id="u2") is None
    assert await store.clear(s, user_id="u2") == 0
    assert await store.summarize(s, user_id="u2") == ""
    got = await store.get_messages(s, user_id="u1")
    assert [m.content for m in got] == ["u1 secret"]
    assert await store.list_sessions(user_id="u2") == []
    assert (await store.info(s)).message_count == 1  # type: ignore[union-attr]
    # the same session id in a tenant is owned by that tenant's user
    t = uid("t")
    await store.add_message(t, {"role": "user", "content": "x"}, user_id="u1", tenant_id="acme")
    assert await store.get_messages(t, user_id="u1") == []
    assert len(await store.get_messages(t, user_id="u1", tenant_id="acme")) == 1


async def test_bad_input_stores_nothing(store: SessionMemory) -> None:
    s = uid("s")
    with pytest.raises(InvalidMessageError, match="unknown role"):
        await store.add_messages(
            s, [{"role": "user", "content": "ok"}, {"role": "wizard", "content": "x"}], user_id="u1"
        )
    with pytest.raises(InvalidMessageError, match="must be a string"):
        await store.add_messages(
            s, [{"role": "user", "content": "ok"}, {"role": "user", "content": 12}], user_id="u1"
        )
    with pytest.raises(InvalidMessageError, match="message 0"):
        await store.add_message(s, 42, user_id="u1")
    with pytest.raises(InvalidMessageError, match="session_id"):
        await store.add_message("", {"role": "user", "content": "x"}, user_id="u1")
    with pytest.raises(InvalidMessageError, match="session_id"):
        await store.add_message("   ", {"role": "user", "content": "x"})
    with pytest.raises(InvalidMessageError, match="session_id"):
        await store.get_messages(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidMessageError, match="list"):
        await store.add_messages(s, {"role": "user", "content": "x"})  # type: ignore[arg-type]
    with pytest.raises(InvalidScopeError):
        await store.add_message(s, {"role": "user", "content": "x"}, user_id="")
    assert await store.get_messages(s) == []
    assert await store.list_sessions() == []
    assert await store.add_messages(s, []) == []


async def test_concurrent_appends_lose_nothing(store: SessionMemory) -> None:
    s = uid("s")

    async def writer(task: int) -> None:
        for i in range(5):
            await store.add_message(s, {"role": "user", "content": f"t{task}-{i}"}, user_id="u1")

    await asyncio.gather(*(writer(t) for t in range(20)))
    got = [m.content for m in await store.get_messages(s)]
    assert len(got) == 100 and len(set(got)) == 100
    for t in range(20):
        mine = [c for c in got if c.startswith(f"t{t}-")]
        assert mine == [f"t{t}-{i}" for i in range(5)]
    assert (await store.info(s)).message_count == 100  # type: ignore[union-attr]


async def test_hooks_rewrite_and_reject(store: SessionMemory) -> None:
    seen: list[SessionMessageContext] = []

    @hook("on_session_message")
    async def redact(ctx: SessionMessageContext) -> None:
        seen.append(ctx)
        if "forbidden" in ctx.message.content:
            raise ValueError("no forbidden words")
        ctx.message.content = ctx.message.content.replace("4111", "[card]")

    store.bind_hooks(HookManager([redact], load_entry_points=False))
    s = uid("s")
    stored = await store.add_message(s, {"role": "user", "content": "card 4111"}, user_id="u1")
    assert stored.content == "card [card]"
    assert seen[0].operation == "session_message" and seen[0].scope.user_id == "u1"
    with pytest.raises(MemoryRejectedError, match="forbidden"):
        await store.add_messages(s, msgs(("user", "fine"), ("user", "forbidden")), user_id="u1")
    assert [m.content for m in await store.get_messages(s)] == ["card [card]"]
    store.bind_hooks(None)
    await store.add_message(s, {"role": "user", "content": "forbidden 4111"}, user_id="u1")
    assert len(await store.get_messages(s)) == 2


# -- backend specifics ---------------------------------------------------------------------------
async def test_memory_lru_eviction_and_max_messages(tmp_path: Path) -> None:
    from mnemoplug.providers.inprocess import InMemorySessionMemory

    st = InMemorySessionMemory(max_sessions=2, max_messages_per_session=3)
    await st.add_message("a", {"role": "user", "content": "a1"})
    await st.add_message("b", {"role": "user", "content": "b1"})
    await st.get_messages("a")  # a is now more recently used than b
    await st.add_message("c", {"role": "user", "content": "c1"})
    assert st.session_ids() == ["a", "c"]
    assert await st.get_messages("b") == []
    await st.add_message("d", {"role": "user", "content": "d1"})
    assert st.session_ids() == ["c", "d"]
    await st.add_messages("c", msgs(*[("user", f"c{i}") for i in range(2, 7)]))
    assert [m.content for m in await st.get_messages("c")] == ["c4", "c5", "c6"]
    assert (await st.info("c")).message_count == 3  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError):
        InMemorySessionMemory(max_sessions=0)


async def test_memory_ttl() -> None:
    from mnemoplug.providers.inprocess import InMemorySessionMemory

    st = InMemorySessionMemory(ttl=0.3)
    await st.add_message("a", {"role": "user", "content": "x"})
    await asyncio.sleep(0.2)
    await st.add_message("a", {"role": "user", "content": "y"})  # refreshes
    await asyncio.sleep(0.2)
    assert len(await st.get_messages("a")) == 2
    await asyncio.sleep(0.35)
    assert await st.get_messages("a") == []
    assert await st.list_sessions() == []


async def test_redis_ttl_expiry_and_refresh(tmp_path: Path) -> None:
    async with make_store("redis", tmp_path, ttl=1) as st:
        s = uid("s")
        await st.add_message(s, {"role": "user", "content": "x"}, user_id="u1")
        left = await st.ttl_remaining(s)  # type: ignore[attr-defined]
        assert left is not None and 0.5 < left <= 1.0
        await asyncio.sleep(0.6)
        await st.add_message(s, {"role": "user", "content": "y"}, user_id="u1")
        assert await st.ttl_remaining(s) > 0.8  # type: ignore[attr-defined]
        await asyncio.sleep(0.6)  # 1.2 s after the first write, 0.6 s after the last
        assert len(await st.get_messages(s)) == 2
        await asyncio.sleep(0.6)
        assert await st.get_messages(s) == []
        assert await st.list_sessions(user_id="u1") == []
        # expired: the id is free for a new owner
        await st.add_message(s, {"role": "user", "content": "z"}, user_id="u2")


async def test_redis_max_messages_atomic_under_concurrency(tmp_path: Path) -> None:
    async with make_store("redis", tmp_path, max_messages=10) as st:
        s = uid("s")

        async def writer(task: int) -> None:
            for i in range(5):
                await st.add_messages(
                    s,
                    msgs((("user", f"t{task}-{i}a")), ("assistant", f"t{task}-{i}b")),
                    user_id="u1",
                )
                n = await st.client.llen(st._k_msgs(s))  # type: ignore[attr-defined]
                assert n <= 10

        await asyncio.gather(*(writer(t) for t in range(20)))
        got = [m.content for m in await st.get_messages(s)]
        assert len(got) == 10
        # batches are never split: each 'a' is directly followed by its 'b'
        for x, y in zip(got[::2], got[1::2], strict=True):
            assert x.endswith("a") and y == x[:-1] + "b"
        assert (await st.info(s)).message_count == 10  # type: ignore[union-attr]


async def test_redis_compression_roundtrip(tmp_path: Path) -> None:
    async with make_store("redis", tmp_path, compress=True) as st:
        s = uid("s")
        long = "lorem ipsum dolor sit amet " * 200
        await st.add_messages(s, msgs(("user", long), ("assistant", "ok ✓ ünïcode")), user_id="u1")
        raw = await st.client.lindex(st._k_msgs(s), 0)  # type: ignore[attr-defined]
        assert raw[:1] != b"{" and len(raw) < len(long) / 5
        got = await st.get_messages(s)
        assert [m.content for m in got] == [long, "ok ✓ ünïcode"]
        # a store without compression reads compressed payloads too
        async with make_store("redis", tmp_path, prefix=st.prefix) as plain:  # type: ignore[attr-defined]
            await plain.add_message(s, {"role": "user", "content": "plain"}, user_id="u1")
            raw2 = await plain.client.lindex(plain._k_msgs(s), -1)  # type: ignore[attr-defined]
            assert raw2[:1] == b"{"
            assert [m.content for m in await plain.get_messages(s)][-2:] == [
                "ok ✓ ünïcode",
                "plain",
            ]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_sql_persistence_across_reopen(kind: str, tmp_path: Path) -> None:
    opts: dict[str, Any] = (
        {"path": tmp_path / "p.db"}
        if kind == "sqlite"
        else {"table": f"t_sess_{uuid.uuid4().hex[:12]}"}
    )
    async with make_store(kind, tmp_path, **dict(opts)) as st:
        await st.add_messages(
            "s1", msgs(("user", "remember me"), ("assistant", "sure")), user_id="u1", tenant_id="t"
        )
        await st.close()
        if kind == "postgres":
            from mnemoplug.providers.postgres import PostgresSessionMemory

            again: SessionMemory = PostgresSessionMemory(POSTGRES_URL, **opts)
        else:
            from mnemoplug.providers.sqlite import SQLiteSessionMemory

            again = SQLiteSessionMemory(f"sqlite:///{opts['path']}")
        try:
            got = await again.get_messages("s1", user_id="u1", tenant_id="t")
            assert [m.content for m in got] == ["remember me", "sure"]
            (info,) = await again.list_sessions(user_id="u1", tenant_id="t")
            assert info.message_count == 2 and info.tenant_id == "t"
            with pytest.raises(SessionOwnershipError):
                await again.add_message("s1", {"role": "user", "content": "x"}, user_id="u2")
        finally:
            await again.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_sql_max_messages(kind: str, tmp_path: Path) -> None:
    async with make_store(kind, tmp_path, max_messages=3) as st:
        await st.add_messages("s", msgs(*[("user", f"m{i}") for i in range(5)]))
        await st.add_message("s", {"role": "user", "content": "m5"})
        assert [m.content for m in await st.get_messages("s")] == ["m3", "m4", "m5"]
        assert (await st.info("s")).message_count == 3  # type: ignore[union-attr]


def test_missing_redis_dependency_is_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from mnemoplug.core.errors import MissingDependencyError
    from mnemoplug.providers.redis import RedisSessionMemory

    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError, match=r"mnemoplug\[redis\]"):
        RedisSessionMemory("redis://localhost:6379/0")


async def test_redis_unreachable_is_typed() -> None:
    from mnemoplug.core.errors import ProviderUnavailableError
    from mnemoplug.providers.redis import RedisSessionMemory

    st = RedisSessionMemory("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        with pytest.raises(ProviderUnavailableError, match="not reachable"):
            await st.get_messages("s")
    finally:
        await st.close()


async def test_postgres_unreachable_is_typed() -> None:
    from mnemoplug.core.errors import ProviderUnavailableError

    st = session_memory_from_url("postgresql://postgres:pw@127.0.0.1:1/test")
    try:
        with pytest.raises(ProviderUnavailableError) as info:
            await st.get_messages("s")
        assert "pw" not in str(info.value) and "***" in str(info.value)
    finally:
        await st.close()


def test_from_url_builds_every_backend(tmp_path: Path) -> None:
    from mnemoplug.providers.postgres import PostgresSessionMemory
    from mnemoplug.providers.redis import RedisSessionMemory
    from mnemoplug.providers.sqlite import SQLiteSessionMemory

    s = session_memory_from_url(f"sqlite:///{tmp_path}/x.db", max_messages=5)
    assert isinstance(s, SQLiteSessionMemory) and s.path == tmp_path / "x.db"
    r = session_memory_from_url("redis://localhost:6379/0", ttl=timedelta(minutes=5), compress=True)
    assert isinstance(r, RedisSessionMemory) and r.ttl == 300 and r.compress
    p = session_memory_from_url("postgresql://u@h/db", table="chat")
    assert isinstance(p, PostgresSessionMemory) and p.table == "chat"
    with pytest.raises(ConfigurationError, match="identifier"):
        session_memory_from_url("postgresql://u@h/db", table="bad-name")
    with pytest.raises(ConfigurationError, match="ttl"):
        session_memory_from_url("redis://localhost", ttl=0)


# -- the seeds' constructor arguments: url=, ttl_seconds=, max_messages= ------------------------
@contextlib.asynccontextmanager
async def seeds_store(kind: str, tmp_path: Path, **options: Any) -> AsyncIterator[SessionMemory]:
    """A session store of ``kind`` built as the seeds write it: ``url=`` as a keyword."""
    if kind == "inprocess":
        from mnemoplug.providers.inprocess import InMemorySessionMemory

        yield InMemorySessionMemory(url="memory://", **options)
        return
    if kind == "sqlite":
        from mnemoplug.providers.sqlite import SQLiteSessionMemory

        s: Any = SQLiteSessionMemory(url=f"sqlite:///{tmp_path}/seeds.db", **options)
        cleanup: Any = None
    elif kind == "redis":
        require_server(REDIS_URL, "Redis")
        from mnemoplug.providers.redis import RedisSessionMemory

        prefix = f"mnemotest:{uuid.uuid4().hex[:12]}:"
        s = RedisSessionMemory(url=REDIS_URL, prefix=prefix, **options)
        cleanup = drop_prefix(prefix)
    else:
        require_server(POSTGRES_URL, "PostgreSQL")
        from mnemoplug.providers.postgres import PostgresSessionMemory

        table = f"t_sess_{uuid.uuid4().hex[:12]}"
        s = PostgresSessionMemory(url=POSTGRES_URL, table=table, **options)
        cleanup = drop_plain_tables(table, f"{table}_messages")
    try:
        yield s
    finally:
        await s.close()
        if cleanup is not None:
            await cleanup


async def _stored_sessions(kind: str, st: Any) -> int:
    """Session rows physically left in a SQL store (expired ones included)."""
    if kind == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(st.path)) as con:
            return int(con.execute(f"SELECT count(*) FROM {st.table}").fetchone()[0])
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    eng = create_async_engine(POSTGRES_URL)
    try:
        async with eng.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {st.table}"))).scalar())
    finally:
        await eng.dispose()


@pytest.mark.parametrize("kind", KINDS)
async def test_seeds_arguments_url_ttl_seconds_max_messages(kind: str, tmp_path: Path) -> None:
    async with seeds_store(kind, tmp_path, ttl_seconds=3600, max_messages=50) as st:
        assert st.ttl == 3600 and st.max_messages == 50  # type: ignore[attr-defined]
        s = uid("s")
        await st.add_messages(s, msgs(*[("user", f"m{i}") for i in range(55)]), user_id="u1")
        await st.add_message(s, {"role": "assistant", "content": "last"}, user_id="u1")
        got = await st.get_messages(s)
        assert len(got) == 50 and got[0].content == "m6" and got[-1].content == "last"
        assert (await st.summarize(s)).startswith("50 messages")
        assert await st.clear(s) == 50
        assert await st.get_messages(s) == []


@pytest.mark.parametrize("kind", KINDS)
def test_ttl_seconds_and_ttl_are_one_setting(kind: str, tmp_path: Path) -> None:
    from mnemoplug.providers.inprocess import InMemorySessionMemory
    from mnemoplug.providers.postgres import PostgresSessionMemory
    from mnemoplug.providers.redis import RedisSessionMemory
    from mnemoplug.providers.sqlite import SQLiteSessionMemory

    def build(**options: Any) -> Any:
        if kind == "inprocess":
            return InMemorySessionMemory(**options)
        if kind == "sqlite":
            return SQLiteSessionMemory(url=f"sqlite:///{tmp_path}/t.db", **options)
        if kind == "redis":
            return RedisSessionMemory(url="redis://localhost:6379", **options)
        return PostgresSessionMemory(url="postgresql://u@h/db", **options)

    assert build(ttl_seconds=90).ttl == 90.0
    assert build(ttl_seconds=timedelta(minutes=5)).ttl == 300.0
    assert build(ttl=2.5).ttl == 2.5  # the older name keeps working
    assert build().ttl is None
    with pytest.raises(ConfigurationError, match="not both"):
        build(ttl=10, ttl_seconds=10)
    for bad in (0, -1, "60", True):
        with pytest.raises(ConfigurationError, match="ttl_seconds"):
            build(ttl_seconds=bad)
    for bad in (0, -3, 2.5, "50"):
        with pytest.raises(ConfigurationError, match="max_messages"):
            build(max_messages=bad)


@pytest.mark.parametrize("kind", KINDS)
async def test_ttl_seconds_expires_sessions_not_written_for_that_long(
    kind: str, tmp_path: Path
) -> None:
    # wide margins: on a loaded CI machine a few store calls can take a tenth of a second
    async with seeds_store(kind, tmp_path, ttl_seconds=1.0) as st:
        kept, gone = uid("kept"), uid("gone")
        await st.add_message(gone, {"role": "user", "content": "old"}, user_id="u1")
        await st.add_message(kept, {"role": "user", "content": "k1"}, user_id="u1")
        await asyncio.sleep(0.6)
        await st.add_message(kept, {"role": "user", "content": "k2"}, user_id="u1")  # refreshes
        await asyncio.sleep(0.6)  # gone: 1.2 s since its write; kept: 0.6 s
        assert [m.content for m in await st.get_messages(kept)] == ["k1", "k2"]
        assert await st.get_messages(gone) == []
        assert await st.info(gone) is None
        assert [i.session_id for i in await st.list_sessions(user_id="u1")] == [kept]
        assert await st.search("old", user_id="u1") == []
        # an expired session is free again: another user starts it afresh
        await st.add_message(gone, {"role": "user", "content": "new owner"}, user_id="u2")
        assert [m.content for m in await st.get_messages(gone, user_id="u2")] == ["new owner"]
        assert (await st.info(gone)).message_count == 1  # type: ignore[union-attr]
        await asyncio.sleep(1.1)
        assert await st.clear(kept) == 0  # expired: held nothing any more
        assert await st.clear_old_sessions(timedelta(days=1)) == 0  # expired ones not counted
        assert await st.list_sessions() == []
        if kind in ("sqlite", "postgres"):  # deleted, not only hidden
            assert await _stored_sessions(kind, st) == 0


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_sql_expired_sessions_are_deleted_by_clear_all(kind: str, tmp_path: Path) -> None:
    async with seeds_store(kind, tmp_path, ttl_seconds=0.3) as st:
        for i in range(3):
            await st.add_message(uid("s"), {"role": "user", "content": f"m{i}"}, user_id="u1")
        await asyncio.sleep(0.35)
        live = uid("s")
        await st.add_message(live, {"role": "user", "content": "live"}, user_id="u1")
        assert await _stored_sessions(kind, st) == 4
        assert await st.clear_all(user_id="u1") == 1  # only the live one counts
        assert await _stored_sessions(kind, st) == 0


def test_session_constructors_raise_configuration_errors(tmp_path: Path) -> None:
    from mnemoplug.providers.inprocess import InMemorySessionMemory
    from mnemoplug.providers.postgres import PostgresSessionMemory
    from mnemoplug.providers.redis import RedisSessionMemory
    from mnemoplug.providers.sqlite import SQLiteSessionMemory

    bad: list[Any] = [
        lambda: InMemorySessionMemory(url=42),  # type: ignore[arg-type]
        lambda: InMemorySessionMemory(max_sessions="3"),
        lambda: SQLiteSessionMemory(url="postgresql://u@h/db"),
        lambda: SQLiteSessionMemory(url=42),
        lambda: SQLiteSessionMemory(url=f"sqlite:///{tmp_path}/x.db", path=tmp_path / "y.db"),
        lambda: SQLiteSessionMemory(path=tmp_path / "x.db", table="no spaces"),
        lambda: SQLiteSessionMemory(path=tmp_path / "x.db", busy_timeout_ms=-1),
        lambda: RedisSessionMemory(url="http://localhost:6379"),
        lambda: RedisSessionMemory(url="redis://localhost:notaport/0"),
        lambda: RedisSessionMemory(url=None),  # type: ignore[arg-type]
        lambda: RedisSessionMemory(prefix=""),
        lambda: RedisSessionMemory(socket_timeout="5"),
        lambda: RedisSessionMemory(max_connections=0),
        lambda: RedisSessionMemory(retries=-1),
        lambda: PostgresSessionMemory(url="mysql://root@localhost/db"),
        lambda: PostgresSessionMemory(url="postgresql://u@h:notaport/db"),
        lambda: PostgresSessionMemory(url="postgresql://u@h/db", pool_size=-1),
        lambda: PostgresSessionMemory(url="postgresql://u@h/db", table="x; DROP TABLE y"),
    ]
    for make in bad:
        with pytest.raises(ConfigurationError):
            make()
    # the seeds' call, without a server: nothing connects before the first use
    r = RedisSessionMemory(url="redis://:secret@localhost:6379", ttl_seconds=3600, max_messages=50)
    assert (r.ttl, r.max_messages) == (3600, 50) and "secret" not in repr(r)
    p = PostgresSessionMemory(url="postgres://bob:pw@db.example/mem", ttl_seconds=60)
    assert "pw" not in repr(p) and p.ttl == 60
