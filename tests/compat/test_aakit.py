"""mnemoplug.compat.aakit: AA Kit's memory API reference, run as written (imports changed,
server addresses replaced by the test ones) against the in-process, SQLite, Redis and
PostgreSQL session stores."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mnemoplug.compat.aakit import (
    InMemoryBackend,
    MemoryBackend,
    MemoryConfig,
    Message,
    MigrationResult,
    PostgreSQLBackend,
    RedisBackend,
    SessionInfo,
    SQLiteBackend,
    create_memory,
    migrate_memory,
)
from mnemoplug.core.errors import (
    ConfigurationError,
    InvalidMessageError,
    MemoryValidationError,
    SessionOwnershipError,
)
from tests.conftest import POSTGRES_URL, REDIS_URL, require_server
from tests.stores.backends.postgres import drop_plain_tables
from tests.stores.backends.redis import drop_prefix

PG_PLAIN = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1)


def _prefix() -> str:
    return f"mp-compat-aakit-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    require_server(REDIS_URL, "Redis")
    p = _prefix()
    yield p
    await drop_prefix(p)


@pytest.fixture
async def pg_table() -> AsyncIterator[str]:
    require_server(POSTGRES_URL, "PostgreSQL")
    t = f"t_aakit_{uuid.uuid4().hex[:10]}"
    yield t
    await drop_plain_tables(t, f"{t}_messages")


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Any]:
    name = request.param
    cleanup: Any = None
    if name == "memory":
        b: Any = InMemoryBackend()
    elif name == "sqlite":
        b = SQLiteBackend(db_path=str(tmp_path / "conversations.db"))
    elif name == "redis":
        require_server(REDIS_URL, "Redis")
        prefix = _prefix()
        b = RedisBackend(url=REDIS_URL, prefix=prefix)

        async def cleanup() -> None:
            await drop_prefix(prefix)
    else:
        require_server(POSTGRES_URL, "PostgreSQL")
        table = f"t_aakit_{uuid.uuid4().hex[:10]}"
        b = PostgreSQLBackend(connection_string=PG_PLAIN, table_name=table)

        async def cleanup() -> None:
            await drop_plain_tables(table, f"{table}_messages")

    try:
        yield b
    finally:
        await b.close()
        if cleanup is not None:
            await cleanup()


def _pairs(msgs: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in msgs]


# -- the MemoryBackend methods, on every backend ------------------------------------------------
async def test_save_and_load_as_the_reference_writes_them(backend: Any) -> None:
    memory = backend
    await memory.save(
        "user_123",
        [Message(role="user", content="Hello"), Message(role="assistant", content="Hi there!")],
    )
    messages = await memory.load("user_123", limit=50)
    assert _pairs(messages) == [("user", "Hello"), ("assistant", "Hi there!")]
    # save appends; load(limit) keeps the last N, oldest first
    await memory.save("user_123", [Message(role="user", content="Third")])
    assert _pairs(await memory.load("user_123", limit=2)) == [
        ("assistant", "Hi there!"),
        ("user", "Third"),
    ]
    assert len(await memory.load("user_123")) == 3
    assert await memory.load("nobody") == []


async def test_save_keeps_ids_timestamps_and_metadata(backend: Any) -> None:
    ts = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    m = Message(role="tool", content="42", timestamp=ts, metadata={"tokens": 3, "k": ["v"]})
    await backend.save("s1", [m])
    (got,) = await backend.load("s1")
    assert (got.id, got.role, got.content, got.timestamp, got.metadata) == (
        m.id,
        "tool",
        "42",
        ts,
        {"tokens": 3, "k": ["v"]},
    )
    assert Message.from_dict(got.to_dict()) == got


async def test_clear_one_session_then_all(backend: Any) -> None:
    memory = backend
    for sid in ("user_123", "user_456", "user_789"):
        await memory.save(sid, [Message(role="user", content=f"hi from {sid}")])
    # Clear specific session
    await memory.clear("user_123")
    assert await memory.load("user_123") == []
    assert _pairs(await memory.load("user_456")) == [("user", "hi from user_456")]
    # Clear all sessions
    await memory.clear()
    assert await memory.load("user_456") == [] and await memory.load("user_789") == []
    assert await memory.list_sessions() == []


async def test_search_within_a_session_and_across(backend: Any) -> None:
    memory = backend
    await memory.save(
        "user_123",
        [
            Message(role="user", content="I love python programming"),
            Message(role="assistant", content="Rust is nice too"),
        ],
    )
    await memory.save("user_456", [Message(role="user", content="python snakes at the zoo")])
    results = await memory.search("python programming", session_id="user_123", limit=5)
    assert [m.content for m in results] == ["I love python programming"]
    everywhere = await memory.search("python")
    assert sorted(m.content for m in everywhere) == [
        "I love python programming",
        "python snakes at the zoo",
    ]
    assert (
        await memory.search("python", limit=1) and len(await memory.search("python", limit=1)) == 1
    )


async def test_clear_old_sessions_takes_a_naive_local_cutoff(backend: Any) -> None:
    memory = backend
    await memory.save("old", [Message(role="user", content="x")])
    # the reference's call: nothing is 30 days old
    assert await memory.clear_old_sessions(older_than=datetime.now() - timedelta(days=30)) == 0
    assert len(await memory.load("old")) == 1
    # a naive "now + 1 s" is read as local time: the session is older, so it goes
    assert await memory.clear_old_sessions(older_than=datetime.now() + timedelta(seconds=1)) == 1
    assert await memory.load("old") == []
    with pytest.raises(ConfigurationError):
        await memory.clear_old_sessions(older_than="yesterday")


async def test_bad_arguments_raise_typed_errors(backend: Any) -> None:
    with pytest.raises(InvalidMessageError):
        await backend.save("s", Message(role="user", content="not in a list"))
    with pytest.raises(InvalidMessageError):
        await backend.save("", [Message(role="user", content="x")])
    with pytest.raises(InvalidMessageError):
        await backend.save("s", [{"role": "robot", "content": "x"}])
    with pytest.raises(InvalidMessageError):
        await backend.load("s", limit=0)
    with pytest.raises(ConfigurationError):
        await backend.search("x", limit=0)
    with pytest.raises(InvalidMessageError):
        await backend.search("")
    assert await backend.load("s") == []  # nothing was stored


async def test_session_info_and_owner_extension(backend: Any) -> None:
    await backend.save("s", [Message(role="user", content="x")], user_id="u1")
    info = await backend.session_info("s")
    assert isinstance(info, SessionInfo)
    assert (info.session_id, info.message_count, info.user_id) == ("s", 1, "u1")
    with pytest.raises(SessionOwnershipError):
        await backend.save("s", [Message(role="user", content="y")], user_id="u2")
    assert len(await backend.load("s")) == 1


# -- InMemoryBackend ----------------------------------------------------------------------------
async def test_in_memory_backend_reference_options_and_limits() -> None:
    memory = InMemoryBackend(max_sessions=500, max_messages_per_session=200, ttl=3600)
    assert memory.config == {"max_sessions": 500, "max_messages_per_session": 200, "ttl": 3600}
    small = InMemoryBackend(max_sessions=2, max_messages_per_session=3)
    await small.save("a", [Message(role="user", content=str(i)) for i in range(5)])
    assert [m.content for m in await small.load("a")] == ["2", "3", "4"]
    await small.save("b", [Message(role="user", content="b")])
    await small.save("c", [Message(role="user", content="c")])
    assert await small.load("a") == []  # least recently used, evicted
    with pytest.raises(ConfigurationError):
        InMemoryBackend(max_sessions=0)


# -- RedisBackend -------------------------------------------------------------------------------
async def test_redis_backend_option_1_with_a_sync_client(redis_prefix: str) -> None:
    import redis

    # Option 1: With existing client (the reference passes a synchronous redis.Redis)
    redis_client = redis.Redis(host="127.0.0.1", port=6379, db=15)
    memory = RedisBackend(client=redis_client, ttl=7200, prefix=redis_prefix)
    try:
        await memory.save("user_123", [Message(role="user", content="Hello")])
        assert _pairs(await memory.load("user_123")) == [("user", "Hello")]
        assert memory.store.ttl == 7200
        remaining = await memory.store.ttl_remaining("user_123")
        assert remaining is not None and 7100 < remaining <= 7200
        # the data went to db 15 through the backend's own async client
        assert redis_client.exists(f"{redis_prefix}m:user_123") == 1
    finally:
        await memory.close()
        redis_client.close()


async def test_redis_backend_option_2_with_url(redis_prefix: str) -> None:
    # Option 2: With URL
    memory = RedisBackend(url=REDIS_URL, prefix=redis_prefix, ttl=86400, compression=True)
    try:
        await memory.save("s", [Message(role="user", content="compressed " * 50)])
        assert (await memory.load("s"))[0].content == "compressed " * 50
        assert memory.store.compress is True and memory.store.prefix == redis_prefix
    finally:
        await memory.close()


async def test_redis_backend_complete_example_client_with_pool(redis_prefix: str) -> None:
    import redis

    redis_client = redis.Redis(
        host="127.0.0.1",
        port=6379,
        decode_responses=True,
        connection_pool=redis.ConnectionPool(
            host="127.0.0.1", port=6379, db=15, max_connections=50, health_check_interval=30
        ),
    )
    memory = RedisBackend(
        client=redis_client,
        prefix=redis_prefix,
        ttl=86400,  # 24 hours
        max_messages=1000,
        compression=True,
    )
    try:
        assert memory.store.max_connections == 50
        session_id = "user_123"
        await memory.save(
            session_id,
            [
                Message(role="user", content="My name is Alice and I work at TechCorp"),
                Message(role="assistant", content="Nice to meet you, Alice."),
            ],
        )
        search_results = await memory.search("TechCorp", session_id=session_id)
        assert [m.content for m in search_results] == ["My name is Alice and I work at TechCorp"]
        history = await memory.load(session_id)
        assert len(history) == 2
        export_data = {
            "session_id": session_id,
            "messages": [msg.to_dict() for msg in history],
            "exported_at": datetime.now().isoformat(),
        }
        assert [d["content"] for d in export_data["messages"]][1] == "Nice to meet you, Alice."
        assert await memory.clear_old_sessions(older_than=datetime.now() - timedelta(days=30)) == 0
    finally:
        await memory.close()
        redis_client.close()


async def test_redis_backend_takes_an_async_client_and_refuses_others(redis_prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        memory = RedisBackend(client=client, prefix=redis_prefix)
        await memory.save("s", [Message(role="user", content="via async client")])
        assert _pairs(await memory.load("s")) == [("user", "via async client")]
        await memory.close()
        assert await client.ping()  # the caller's client is not closed
    finally:
        await client.aclose()
    with pytest.raises(ConfigurationError, match="decode_responses"):
        RedisBackend(client=aioredis.from_url(REDIS_URL, decode_responses=True))
    with pytest.raises(ConfigurationError, match=r"redis\.asyncio\.Redis"):
        RedisBackend(client=object())
    with pytest.raises(ConfigurationError):
        RedisBackend(url="http://localhost:6379")


async def test_custom_backend_subclassing_redis_backend(redis_prefix: str) -> None:
    class TimedMemoryBackend(RedisBackend):
        """Memory backend that tracks message timing"""

        async def save(self, session_id: str, messages: list[Message]) -> None:  # type: ignore[override]
            for msg in messages:
                msg.metadata["saved_at"] = datetime.now().isoformat()
            await super().save(session_id, messages)

        async def get_recent_messages(self, session_id: str, since: datetime) -> list[Message]:
            all_messages = await self.load(session_id)
            recent = []
            for msg in all_messages:
                if "saved_at" in msg.metadata:
                    msg_time = datetime.fromisoformat(msg.metadata["saved_at"])
                    if msg_time > since:
                        recent.append(msg)
            return recent

    memory = TimedMemoryBackend(url=REDIS_URL, prefix=redis_prefix)
    try:
        before = datetime.now() - timedelta(seconds=1)
        await memory.save(
            "s", [Message(role="user", content="a"), Message(role="user", content="b")]
        )
        recent = await memory.get_recent_messages("s", since=before)
        assert [m.content for m in recent] == ["a", "b"]
        assert await memory.get_recent_messages("s", since=datetime.now() + timedelta(1)) == []
    finally:
        await memory.close()


def test_custom_memory_backend_pattern() -> None:
    class CustomMemoryBackend(MemoryBackend):
        async def save(self, session_id: str, messages: list[Message]) -> None:
            pass

        async def load(self, session_id: str, limit: int | None = None) -> list[Message]:
            return []

        async def clear(self, session_id: str | None = None) -> None:
            pass

    assert CustomMemoryBackend({"a": 1}).config == {"a": 1}

    class Incomplete(MemoryBackend):
        async def save(self, session_id: str, messages: list[Message]) -> None:
            pass

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


# -- SQLiteBackend ------------------------------------------------------------------------------
async def test_sqlite_backend_reference_example_and_query(tmp_path: Any) -> None:
    memory = SQLiteBackend(
        db_path=str(tmp_path / "data" / "conversations.db"),
        table_name="agent_memory",
        auto_vacuum=True,
    )
    try:
        await memory.save(
            "s1",
            [
                Message(role="user", content="teach me python", metadata={"n": 1}),
                Message(role="assistant", content="sure"),
                Message(role="user", content="more Python please"),
            ],
        )
        await memory.save("s2", [Message(role="user", content="no snakes here")])
        # Query with SQL
        results = await memory.query(
            "SELECT * FROM agent_memory WHERE content LIKE ?",
            ("%python%",),
        )
        assert [(r["session_id"], r["role"], r["content"]) for r in results] == [
            ("s1", "user", "teach me python"),
            ("s1", "user", "more Python please"),
        ]
        assert set(results[0]) == {
            "seq", "session_id", "message_id", "role", "content", "timestamp", "metadata",
        }  # fmt: skip
        sessions = await memory.query(
            "SELECT session_id, message_count FROM agent_memory_sessions ORDER BY session_id"
        )
        assert sessions == [
            {"session_id": "s1", "message_count": 3},
            {"session_id": "s2", "message_count": 1},
        ]
        named = await memory.query(
            "WITH c AS (SELECT session_id FROM agent_memory) "
            "SELECT count(*) AS n FROM c WHERE session_id = :s",
            {"s": "s1"},
        )
        assert named == [{"n": 3}]
        with sqlite3.connect(memory.db_path) as conn:
            assert conn.execute("PRAGMA auto_vacuum").fetchone() == (1,)
    finally:
        await memory.close()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE main.agent_memory_messages SET data = '{}'",
        "DELETE FROM main.agent_memory_messages",
        "DELETE FROM agent_memory",
        "INSERT INTO main.agent_memory (session_id) VALUES ('x')",
        "DROP TABLE main.agent_memory_messages",
        "PRAGMA user_version = 7",
        "ATTACH DATABASE 'other.db' AS other",
        "SELECT 1; DELETE FROM main.agent_memory_messages",
        "SELECT 1; PRAGMA user_version = 7",
        "WITH x AS (SELECT 1) DELETE FROM main.agent_memory_messages",
        "WITH x AS (SELECT 1) UPDATE main.agent_memory SET message_count = 0",
        "SELECT * FROM agent_memory; ATTACH DATABASE 'x.db' AS x",
        "/* hi */ VACUUM",
        "  select count(*) from main.agent_memory_messages where 0; drop table main.agent_memory",
    ],
)
async def test_sqlite_query_refuses_anything_but_one_select(tmp_path: Any, sql: str) -> None:
    memory = SQLiteBackend(db_path=str(tmp_path / "q.db"), table_name="agent_memory")
    try:
        await memory.save("s1", [Message(role="user", content="keep me")])
        with pytest.raises(MemoryValidationError):
            await memory.query(sql)
        assert _pairs(await memory.load("s1")) == [("user", "keep me")]
        with sqlite3.connect(memory.db_path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone() == (0,)
            assert conn.execute("SELECT message_count FROM agent_memory").fetchall() == [(1,)]
        assert not (tmp_path / "other.db").exists() and not (tmp_path / "x.db").exists()
    finally:
        await memory.close()


async def test_sqlite_backend_options(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError, match="WAL"):
        SQLiteBackend(db_path=str(tmp_path / "x.db"), journal_mode="DELETE")
    with pytest.raises(ConfigurationError):
        SQLiteBackend(db_path=str(tmp_path / "x.db"), table_name="bad name; drop")
    memory = SQLiteBackend(db_path=str(tmp_path / "nv.db"), auto_vacuum=False)
    try:
        await memory.save("s", [Message(role="user", content="x")])
        with sqlite3.connect(memory.db_path) as conn:
            assert conn.execute("PRAGMA auto_vacuum").fetchone() == (0,)
        with pytest.raises(MemoryValidationError):
            await memory.query("SELECT ?", "not-a-tuple")
        with pytest.raises(MemoryValidationError):
            await memory.query("SELECT * FROM no_such_table")
    finally:
        await memory.close()


async def test_sqlite_backend_persists_across_instances(tmp_path: Any) -> None:
    path = str(tmp_path / "agent.db")
    first = SQLiteBackend(path)
    await first.save("s", [Message(role="user", content="persisted")])
    await first.close()
    second = SQLiteBackend(path)
    try:
        assert _pairs(await second.load("s")) == [("user", "persisted")]
    finally:
        await second.close()


# -- PostgreSQLBackend --------------------------------------------------------------------------
async def test_postgres_backend_reference_example_and_fulltext(pg_table: str) -> None:
    memory = PostgreSQLBackend(
        connection_string=PG_PLAIN,
        pool_size=20,
        table_name=pg_table,
        enable_search=True,
    )
    try:
        await memory.save(
            "user_123",
            [
                Message(role="user", content="Tell me about machine learning"),
                Message(role="assistant", content="Machine learning models learn from data"),
            ],
        )
        await memory.save("user_456", [Message(role="user", content="I am learning machines")])
        await memory.save("user_789", [Message(role="user", content="machine learning again")])
        # Full-text search
        results = await memory.search_fulltext(
            "machine learning",
            session_ids=["user_123", "user_456"],
            limit=10,
        )
        assert sorted(m.content for m in results) == [
            "I am learning machines",
            "Machine learning models learn from data",
            "Tell me about machine learning",
        ]
        everywhere = await memory.search_fulltext("machine learning", limit=10)
        assert len(everywhere) == 4
        assert len(await memory.search_fulltext("machine learning", limit=2)) == 2
        assert await memory.search_fulltext("zebra") == []
        assert await memory.search_fulltext("machine", session_ids=[]) == []
    finally:
        await memory.close()


async def test_postgres_backend_options(pg_table: str) -> None:
    with pytest.raises(ConfigurationError, match="schema"):
        PostgreSQLBackend(connection_string=PG_PLAIN, schema="other")
    with pytest.raises(ConfigurationError, match="connection_string"):
        PostgreSQLBackend()
    off = PostgreSQLBackend(connection_string=PG_PLAIN, table_name=pg_table, enable_search=False)
    try:
        with pytest.raises(ConfigurationError, match="enable_search"):
            await off.search_fulltext("x")
    finally:
        await off.close()


# -- create_memory, MemoryConfig ----------------------------------------------------------------
async def test_create_memory_reference_calls(tmp_path: Any) -> None:
    require_server(REDIS_URL, "Redis")
    # Create Redis backend
    memory: Any = create_memory("redis", url=REDIS_URL, ttl=3600)
    sid = f"compat-{uuid.uuid4().hex}"
    try:
        assert isinstance(memory, RedisBackend) and memory.store.ttl == 3600
        assert memory.store.prefix == "agentz:sessions:"
        await memory.save(sid, [Message(role="user", content="hi")])
        assert _pairs(await memory.load(sid)) == [("user", "hi")]
    finally:
        await memory.clear(sid)
        await memory.close()
    # Create SQLite backend
    memory = create_memory("sqlite", db_path=str(tmp_path / "agent.db"))
    assert isinstance(memory, SQLiteBackend)
    await memory.save("s", [Message(role="user", content="x")])
    assert len(await memory.load("s")) == 1
    await memory.close()
    assert isinstance(create_memory("memory"), InMemoryBackend)
    assert isinstance(create_memory("postgres", connection_string=PG_PLAIN), PostgreSQLBackend)
    with pytest.raises(ConfigurationError, match="unknown memory backend"):
        create_memory("mongo")
    with pytest.raises(ConfigurationError, match="does not take"):
        create_memory("sqlite", path="x.db")


def test_memory_config_defaults_and_reference_example() -> None:
    assert MemoryConfig() == MemoryConfig(
        backend="memory",
        max_messages=1000,
        context_window=20,
        summarization=False,
        compression=False,
        encryption=False,
        search_enabled=True,
    )
    config = MemoryConfig(
        backend="redis",
        max_messages=5000,
        context_window=50,
        summarization=True,
        compression=True,
    )
    assert (config.backend, config.max_messages, config.context_window) == ("redis", 5000, 50)
    with pytest.raises(ConfigurationError):
        MemoryConfig(backend="mongo")
    with pytest.raises(ConfigurationError):
        MemoryConfig(max_messages=0)


# -- migrate_memory -----------------------------------------------------------------------------
async def test_migrate_sqlite_to_redis_as_the_reference_writes_it(
    tmp_path: Any, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # Migrate from SQLite to Redis
    source = SQLiteBackend("old.db")
    target = RedisBackend(url=REDIS_URL, prefix=redis_prefix)
    try:
        base = datetime(2024, 1, 1, tzinfo=UTC)
        originals = {
            f"s{k}": [
                Message(
                    role=["user", "assistant", "system", "tool"][i % 4],
                    content=f"session {k} message {i}",
                    timestamp=base + timedelta(minutes=k * 10 + i),
                    metadata={"i": i},
                )
                for i in range(k + 1)
            ]
            for k in range(3)
        }
        for sid, msgs in originals.items():
            await source.save(sid, msgs, user_id=f"owner-{sid}")
        result = await migrate_memory(source, target, batch_size=500)
        assert isinstance(result, MigrationResult)
        assert (result.success, result.total_sessions, result.total_messages) == (True, 3, 6)
        assert result.failed_sessions == [] and result.errors == [] and result.duration >= 0
        for sid, msgs in originals.items():
            got = await target.load(sid)
            assert [m.model_dump() for m in got] == [m.model_dump() for m in msgs]
            info = await target.session_info(sid)
            assert info is not None and info.user_id == f"owner-{sid}"
        # running it again copies nothing twice
        again = await migrate_memory(source, target)
        assert (again.success, again.total_sessions, again.total_messages) == (True, 3, 0)
        assert len(await target.load("s2")) == 3
    finally:
        await source.close()
        await target.close()


async def test_migrate_selected_sessions_in_batches_to_postgres(
    tmp_path: Any, pg_table: str
) -> None:
    source = InMemoryBackend()
    target = PostgreSQLBackend(connection_string=PG_PLAIN, table_name=pg_table)
    try:
        msgs = [Message(role="user", content=f"m{i}") for i in range(5)]
        await source.save("a", msgs)
        await source.save("b", [Message(role="user", content="not migrated")])
        result = await migrate_memory(source, target, session_ids=["a"], batch_size=2)
        assert (result.success, result.total_sessions, result.total_messages) == (True, 1, 5)
        assert [m.id for m in await target.load("a")] == [m.id for m in msgs]
        assert await target.load("b") == []
    finally:
        await target.close()


async def test_migrate_reports_failed_sessions() -> None:
    class Flaky(InMemoryBackend):
        async def save(self, session_id: str, messages: list[Message], **kw: Any) -> None:
            if session_id == "bad":
                raise RuntimeError("disk full")
            await super().save(session_id, messages, **kw)

    source, target = InMemoryBackend(), Flaky()
    await source.save("good", [Message(role="user", content="ok")])
    await source.save("bad", [Message(role="user", content="lost")])
    result = await migrate_memory(source, target)
    assert (result.success, result.total_sessions, result.total_messages) == (False, 1, 1)
    assert result.failed_sessions == ["bad"]
    assert result.errors == ["bad: RuntimeError: disk full"]
    with pytest.raises(ConfigurationError):
        await migrate_memory(source, target, batch_size=0)
    with pytest.raises(ConfigurationError):
        await migrate_memory(source, "not a backend")  # type: ignore[arg-type]


async def test_migrate_from_a_custom_backend_needs_session_ids() -> None:
    class Custom(MemoryBackend):
        def __init__(self) -> None:
            super().__init__()
            self.data: dict[str, list[Message]] = {}

        async def save(self, session_id: str, messages: list[Message]) -> None:
            self.data.setdefault(session_id, []).extend(messages)

        async def load(self, session_id: str, limit: int | None = None) -> list[Message]:
            return list(self.data.get(session_id, []))

        async def clear(self, session_id: str | None = None) -> None:
            self.data.clear()

    src = Custom()
    await src.save("x", [Message(role="user", content="from custom")])
    with pytest.raises(ConfigurationError, match="session_ids"):
        await migrate_memory(src, InMemoryBackend())
    target = InMemoryBackend()
    result = await migrate_memory(src, target, session_ids=["x"])
    assert result.total_messages == 1 and _pairs(await target.load("x")) == [
        ("user", "from custom")
    ]
    # and into a custom target whose save takes no owner keywords
    back = Custom()
    assert (await migrate_memory(target, back)).total_messages == 1
    assert await back.search("custom", session_id="x") == back.data["x"]
    with pytest.raises(ConfigurationError):
        await back.search("custom")
