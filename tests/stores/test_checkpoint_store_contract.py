"""The checkpoint-store contract: every backend in tests/stores/backends/ with a
checkpoint_store factory passes all of it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mnemoplug.core.checkpoints import (
    Checkpoint,
    CheckpointStore,
    InvalidCheckpointError,
    checkpoint_store_from_url,
)
from mnemoplug.core.errors import ConfigurationError, InvalidScopeError
from tests.stores.conftest import factory


def uid(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def make_checkpoints(
    kind: str, tmp_path: Path, **opts: Any
) -> AsyncIterator[CheckpointStore]:
    """A fresh, empty checkpoint store of backend ``kind`` (tests/stores/backends/<kind>.py)."""
    async with factory("checkpoint_store", kind)(tmp_path, **opts) as s:
        yield s


@pytest.fixture
def cps(checkpoint_store: CheckpointStore) -> CheckpointStore:
    return checkpoint_store


async def test_save_load_latest_and_by_id(cps: CheckpointStore) -> None:
    run = uid("run")
    assert await cps.load(run, user_id="u1") is None
    c1 = await cps.save(run, {"step": 1, "msgs": ["hi"]}, user_id="u1", metadata={"node": "a"})
    c2 = await cps.save(run, {"step": 2}, user_id="u1", parent_id=c1.checkpoint_id)
    assert isinstance(c1, Checkpoint) and c1.checkpoint_id != c2.checkpoint_id
    assert c1.created_at.tzinfo is not None and c1.state_type == "json"
    latest = await cps.load(run, user_id="u1")
    assert latest is not None
    assert (latest.checkpoint_id, latest.state, latest.parent_id) == (
        c2.checkpoint_id,
        {"step": 2},
        c1.checkpoint_id,
    )
    first = await cps.load(run, user_id="u1", checkpoint_id=c1.checkpoint_id)
    assert first is not None and first.state == {"step": 1, "msgs": ["hi"]}
    assert first.metadata == {"node": "a"} and first.run_id == run and first.user_id == "u1"
    assert first == c1
    assert await cps.load(run, user_id="u1", checkpoint_id="nope") is None


async def test_bytes_and_scalar_states(cps: CheckpointStore) -> None:
    run = uid("run")
    blob = bytes(range(256)) * 4
    c = await cps.save(run, blob, user_id="u1")
    assert c.state_type == "bytes"
    got = await cps.load(run, user_id="u1")
    assert got is not None and got.state == blob and got.state_type == "bytes"
    assert isinstance(got.state, bytes)
    for value in ("text", 3, 2.5, None, [1, "a"], True, {"nested": {"x": [None]}}):
        await cps.save(run, value, user_id="u1")
        loaded = await cps.load(run, user_id="u1")
        assert loaded is not None and loaded.state == value and loaded.state_type == "json"
    # json text that looks like bytes stays text, bytes that look like JSON stay bytes
    await cps.save(run, b'{"a": 1}', user_id="u1")
    got = await cps.load(run, user_id="u1")
    assert got is not None and got.state == b'{"a": 1}'


async def test_list_newest_first_limit_before(cps: CheckpointStore) -> None:
    run, other = uid("run"), uid("run")
    ids = [(await cps.save(run, {"i": i}, user_id="u1")).checkpoint_id for i in range(5)]
    o = await cps.save(other, {"o": 1}, user_id="u1")
    listed = await cps.list(user_id="u1", run_id=run)
    assert [c.checkpoint_id for c in listed] == ids[::-1]
    assert [c.state["i"] for c in listed] == [4, 3, 2, 1, 0]
    assert [c.checkpoint_id for c in await cps.list(user_id="u1", run_id=run, limit=2)] == ids[
        ::-1
    ][:2]
    before = await cps.list(user_id="u1", run_id=run, before=ids[3])
    assert [c.checkpoint_id for c in before] == [ids[2], ids[1], ids[0]]
    before_cp = await cps.list(user_id="u1", run_id=run, before=listed[0], limit=1)
    assert [c.checkpoint_id for c in before_cp] == [ids[3]]
    everything = await cps.list(user_id="u1")
    assert [c.checkpoint_id for c in everything] == [o.checkpoint_id, *ids[::-1]]
    assert await cps.list(user_id="u1", run_id=run, before="unknown") == []
    assert await cps.list(user_id="u2") == []


async def test_resave_same_id_replaces_in_place(cps: CheckpointStore) -> None:
    run = uid("run")
    a = await cps.save(run, {"v": 1}, user_id="u1", checkpoint_id="cp-a")
    await cps.save(run, {"v": 2}, user_id="u1", checkpoint_id="cp-b")
    await cps.save(run, {"v": 3}, user_id="u1", checkpoint_id="cp-a", metadata={"m": 1})
    assert a.checkpoint_id == "cp-a"
    listed = await cps.list(user_id="u1", run_id=run)
    assert [(c.checkpoint_id, c.state) for c in listed] == [("cp-b", {"v": 2}), ("cp-a", {"v": 3})]
    assert listed[1].metadata == {"m": 1}


async def test_delete_one_run_and_user(cps: CheckpointStore) -> None:
    r1, r2 = uid("run"), uid("run")
    c = [await cps.save(r1, {"i": i}, user_id="u1") for i in range(3)]
    await cps.save(r2, {"x": 1}, user_id="u1")
    await cps.save(r1, {"theirs": 1}, user_id="u2")
    await cps.save(r1, {"tenant": 1}, user_id="u1", tenant_id="acme")
    assert await cps.delete(r1, user_id="u1", checkpoint_id=c[2].checkpoint_id) == 1
    assert await cps.delete(r1, user_id="u1", checkpoint_id=c[2].checkpoint_id) == 0
    latest = await cps.load(r1, user_id="u1")
    assert latest is not None and latest.checkpoint_id == c[1].checkpoint_id
    assert await cps.delete(r1, user_id="u1") == 2
    assert await cps.load(r1, user_id="u1") is None
    assert await cps.delete_user("u1") == 1  # r2 only; tenant acme untouched
    assert await cps.list(user_id="u1") == []
    assert (await cps.load(r1, user_id="u2")).state == {"theirs": 1}  # type: ignore[union-attr]
    assert len(await cps.list(user_id="u1", tenant_id="acme")) == 1
    assert await cps.delete_user("u1", "acme") == 1
    assert await cps.delete_user("nobody") == 0


async def test_user_isolation(cps: CheckpointStore) -> None:
    run = uid("run")
    mine = await cps.save(run, {"secret": "u1"}, user_id="u1")
    assert await cps.load(run, user_id="u2") is None
    assert await cps.load(run, user_id="u2", checkpoint_id=mine.checkpoint_id) is None
    assert await cps.load(run, user_id="u1", tenant_id="acme") is None
    assert await cps.list(user_id="u2", run_id=run) == []
    assert await cps.delete(run, user_id="u2") == 0
    assert await cps.delete(run, user_id="u2", checkpoint_id=mine.checkpoint_id) == 0
    await cps.save(run, {"secret": "u2"}, user_id="u2")
    got = await cps.load(run, user_id="u1")
    assert got is not None and got.state == {"secret": "u1"}
    assert (await cps.load(run, user_id="u2")).state == {"secret": "u2"}  # type: ignore[union-attr]
    # ids with separators cannot alias another owner's keys
    await cps.save("r", {"v": "a:b"}, user_id="a:b", tenant_id="c")
    assert await cps.load("r", user_id="b", tenant_id="c:a") is None
    assert await cps.load("r", user_id="c:a:b") is None


async def test_bad_input_raises_typed_errors(cps: CheckpointStore) -> None:
    run = uid("run")
    with pytest.raises(InvalidCheckpointError, match="not JSON-serialisable"):
        await cps.save(run, {"when": object()}, user_id="u1")
    with pytest.raises(InvalidCheckpointError, match="NaN"):
        await cps.save(run, [float("nan")], user_id="u1")
    with pytest.raises(InvalidCheckpointError, match="keys must be"):
        await cps.save(run, {1: "x"}, user_id="u1")
    with pytest.raises(InvalidCheckpointError, match="run_id"):
        await cps.save("", {}, user_id="u1")
    with pytest.raises(InvalidScopeError):
        await cps.save(run, {}, user_id="")
    with pytest.raises(InvalidScopeError):
        await cps.load(run, user_id=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidCheckpointError):
        await cps.save(run, {}, user_id="u1", metadata={"bad": object()})
    with pytest.raises(InvalidCheckpointError, match="limit"):
        await cps.list(user_id="u1", limit=0)
    assert await cps.list(user_id="u1") == []


async def test_concurrent_saves(cps: CheckpointStore) -> None:
    run = uid("run")
    await asyncio.gather(*(cps.save(run, {"i": i}, user_id="u1") for i in range(30)))
    listed = await cps.list(user_id="u1", run_id=run)
    assert sorted(c.state["i"] for c in listed) == list(range(30))
    latest = await cps.load(run, user_id="u1")
    assert latest is not None and latest.checkpoint_id == listed[0].checkpoint_id


def test_from_url(tmp_path: Path) -> None:
    from mnemoplug.providers.inprocess import InMemoryCheckpointStore
    from mnemoplug.providers.sqlite import SQLiteCheckpointStore

    assert isinstance(checkpoint_store_from_url("memory://"), InMemoryCheckpointStore)
    s = checkpoint_store_from_url(f"sqlite:///{tmp_path}/c.db")
    assert isinstance(s, SQLiteCheckpointStore) and s.path == tmp_path / "c.db"
    with pytest.raises(ConfigurationError):
        checkpoint_store_from_url("mongodb://x")
    with pytest.raises(ConfigurationError, match="identifier"):
        checkpoint_store_from_url(f"sqlite:///{tmp_path}/c.db", table="x; DROP TABLE y")


async def test_sqlite_checkpoints_persist(tmp_path: Path) -> None:
    from mnemoplug.providers.sqlite import SQLiteCheckpointStore

    a = SQLiteCheckpointStore(path=tmp_path / "p.db")
    c = await a.save("run", b"\x00\x01state", user_id="u1", metadata={"step": 3})
    await a.close()
    b = SQLiteCheckpointStore(f"sqlite:///{tmp_path}/p.db")
    try:
        got = await b.load("run", user_id="u1")
        assert got == c
    finally:
        await b.close()
