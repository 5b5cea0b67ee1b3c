"""Edge cases of the memory-store contract, for every backend in tests/stores/backends/ with a
memory_store factory,
through the public Memory API (real embedding model):

* get/update/delete by id with a mismatching agent_id or session_id;
* filter truth tables (equality, $ne, $gt/$gte/$lt/$lte at the boundary, $in/$nin, $exists,
  $and/$or, record fields and times), through get_all(filters=...) and search(filters=...);
  unsupported operators ($not, $nor, ...) and bad operands are InvalidFilterError;
* expiry exactly at "now" with an injected clock (``expires_at <= now`` is expired), ttl
  relative to the clock;
* NUL characters in ids, content, metadata, queries and filters: typed errors (or "not found")
  that are the same on every backend, and existing data left intact.

Expected id sets are written out by hand (not computed with mnemoplug.core.filters), so a
backend that disagrees with the documented semantics fails.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mnemoplug import (
    InvalidContentError,
    InvalidFilterError,
    InvalidMetadataError,
    InvalidScopeError,
    Memory,
    MemoryNotFoundError,
    MnemoplugError,
)

T0 = 2_000_000_000.0  # the injected clock's start (2033-05-18T03:33:20Z), exact in binary


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class Clock:
    """A settable clock for ``Memory(clock=...)``: epoch seconds, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def clocked(memory_store: Any, embedder: Any) -> AsyncIterator[tuple[Memory, Clock]]:
    """A Memory over the memory_store whose every "now" comes from a Clock (starting at T0)."""
    clock = Clock(T0)
    m = Memory(memory_store, embedder=embedder, load_entry_points=False, clock=clock)
    yield m, clock
    await m.close()


async def snapshot(memory: Memory, user: str) -> list[tuple[Any, ...]]:
    """Everything observable about the user's memories (to check that nothing changed)."""
    recs = await memory.get_all(user, limit=1000)
    return sorted(
        (
            r.id,
            r.content,
            r.metadata,
            r.agent_id,
            r.session_id,
            r.role,
            r.created_at,
            r.updated_at,
            r.expires_at,
        )
        for r in recs
    )


class _Untyped:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __repr__(self) -> str:
        return f"UNTYPED {type(self.exc).__name__}: {self.exc}"


async def attempt(call: Callable[[], Awaitable[Any]]) -> Any:
    """The call's result, or the mnemoplug error it raised, or _Untyped(other exception)."""
    try:
        return await call()
    except MnemoplugError as exc:
        return exc
    except Exception as exc:
        return _Untyped(exc)


def assert_all_right(wrong: list[Any]) -> None:
    """Fail listing every wrong case (not just the first)."""
    assert not wrong, f"{len(wrong)} wrong case(s):\n" + "\n".join(repr(w) for w in wrong)


def _show(outcome: Any) -> str:
    if isinstance(outcome, _Untyped):
        text = repr(outcome)
    elif isinstance(outcome, BaseException):
        text = f"{type(outcome).__name__}: {outcome}"
    else:
        text = f"returned {outcome!r}"
    return text if len(text) <= 200 else text[:140] + " ... " + text[-55:]


# -- scope: agent_id / session_id on single-memory calls --------------------------------------
MISMATCHES = [
    {"agent_id": "a2"},
    {"session_id": "s2"},
    {"agent_id": "a1", "session_id": "s2"},
    {"agent_id": "a2", "session_id": "s1"},
]


async def test_get_update_delete_with_mismatching_agent_or_session(memory: Memory) -> None:
    u = uid()
    mid = await memory.add(
        u, "planner note: the launch moved to Friday", {"k": "v"}, agent_id="a1", session_id="s1"
    )
    plain = await memory.add(u, "unscoped note: the launch needs a checklist")
    before = await snapshot(memory, u)
    rec_before = await memory.get(u, mid)
    assert rec_before is not None and (rec_before.agent_id, rec_before.session_id) == ("a1", "s1")

    for kw in MISMATCHES:
        assert await memory.get(u, mid, **kw) is None, kw
        with pytest.raises(MemoryNotFoundError):
            await memory.update(u, mid, content="hijacked launch note", metadata={"k": "x"}, **kw)
        with pytest.raises(MemoryNotFoundError):
            await memory.update(u, mid, metadata={"k": "x"}, **kw)
        with pytest.raises(MemoryNotFoundError):
            await memory.update(u, mid, ttl=60, **kw)
        assert await memory.delete(u, mid, **kw) is False, kw
        # a memory stored without agent/session is outside every agent/session scope
        assert await memory.get(u, plain, **kw) is None, kw
        assert await memory.delete(u, plain, **kw) is False, kw
        with pytest.raises(MemoryNotFoundError):
            await memory.update(u, plain, content="hijacked launch note", **kw)
        assert await memory.get_all(u, **kw) == [], kw
        assert await memory.search(u, "launch note", **kw) == [], kw
        assert await memory.count(u, **kw) == 0, kw
        assert await memory.delete_all(u, **kw) == 0, kw
    assert await snapshot(memory, u) == before  # nothing changed, not even updated_at
    assert await memory.get(u, mid) == rec_before
    assert {h.id for h in await memory.search(u, "hijacked launch note")} == {mid, plain}
    assert all("hijacked" not in r.content for r in await memory.get_all(u))

    # the matching scope (or a part of it) works
    for kw in (
        {},
        {"agent_id": "a1"},
        {"session_id": "s1"},
        {"agent_id": "a1", "session_id": "s1"},
    ):
        got = await memory.get(u, mid, **kw)
        assert got is not None and got.id == mid, kw
    assert {r.id for r in await memory.get_all(u, agent_id="a1")} == {mid}
    assert {r.id for r in await memory.search(u, "launch", session_id="s1")} == {mid}
    assert await memory.count(u, agent_id="a1", session_id="s1") == 1
    new = await memory.update(
        u, mid, content="planner note: the launch moved to Monday", agent_id="a1", session_id="s1"
    )
    assert new.content == "planner note: the launch moved to Monday"
    assert (new.agent_id, new.session_id, new.metadata) == ("a1", "s1", {"k": "v"})
    assert (await memory.get(u, mid, session_id="s1")).content == new.content  # type: ignore[union-attr]
    assert await memory.delete(u, mid, agent_id="a1", session_id="s1") is True
    assert await memory.get(u, mid) is None
    assert await memory.delete(u, mid, agent_id="a1", session_id="s1") is False
    assert {r.id for r in await memory.get_all(u)} == {plain}


async def test_delete_with_matching_session_only(memory: Memory) -> None:
    u = uid()
    a = await memory.add(u, "note in session one", agent_id="a1", session_id="s1")
    b = await memory.add(u, "note in session two", agent_id="a1", session_id="s2")
    assert await memory.delete(u, a, session_id="s2") is False
    assert await memory.delete(u, b, session_id="s1") is False
    assert {r.id for r in await memory.get_all(u)} == {a, b}
    assert await memory.delete(u, a, session_id="s1") is True
    assert {r.id for r in await memory.get_all(u)} == {b}
    assert await memory.delete_all(u, session_id="s1") == 0
    assert await memory.delete_all(u, agent_id="a1", session_id="s2") == 1
    assert await memory.get_all(u) == []


# -- filter truth tables ----------------------------------------------------------------------
# name -> (metadata, agent_id)
RECORDS: dict[str, tuple[dict[str, Any], str | None]] = {
    "one": ({"n": 1, "tag": "a"}, "a1"),
    "two": ({"n": 2}, None),
    "two5": ({"n": 2.5, "tag": "b"}, None),
    "three": ({"n": 3}, "a2"),
    "list": ({"n": [3, 7]}, None),  # equality on a list: the list contains the value
    "null": ({"n": None}, None),  # an explicit JSON null
    "other": ({"other": "x"}, None),  # no "n"
    "tag": ({"tag": "a"}, None),  # no "n"
}
ALL = set(RECORDS)

# filter -> the records it selects. The documented/implemented semantics (core/filters.py):
# * missing fields never equal anything, so they match $ne and $nin;
# * {"n": None} matches an explicit null only; $exists treats a null like a missing field;
# * $gt/$gte/$lt/$lte compare numbers only: lists, nulls, strings and missing fields never
#   match (unlike MongoDB, a list does not match when one of its elements would);
# * several operators on one field, or several fields, must all match.
TRUTH_TABLE: list[tuple[dict[str, Any], set[str]]] = [
    ({"n": 2}, {"two"}),
    ({"n": 2.5}, {"two5"}),
    ({"n": {"$eq": 3}}, {"three", "list"}),
    ({"n": 7}, {"list"}),
    ({"n": None}, {"null"}),
    ({"n": [3, 7]}, {"list"}),  # a list operand compares the whole list
    ({"n": {"$ne": 2}}, ALL - {"two"}),
    ({"n": {"$ne": 3}}, ALL - {"three", "list"}),
    ({"n": {"$ne": None}}, ALL - {"null"}),
    ({"n": {"$gt": 2}}, {"two5", "three"}),
    ({"n": {"$gte": 2}}, {"two", "two5", "three"}),
    ({"n": {"$gt": 2.5}}, {"three"}),
    ({"n": {"$gte": 2.5}}, {"two5", "three"}),
    ({"n": {"$gt": 3}}, set()),
    ({"n": {"$gte": 3}}, {"three"}),
    ({"n": {"$lt": 2}}, {"one"}),
    ({"n": {"$lte": 2}}, {"one", "two"}),
    ({"n": {"$lt": 1}}, set()),
    ({"n": {"$lte": 1}}, {"one"}),
    ({"n": {"$gt": 1, "$lt": 3}}, {"two", "two5"}),
    ({"n": {"$gte": 1, "$lte": 3}}, {"one", "two", "two5", "three"}),
    ({"n": {"$gt": 1.5, "$ne": 2.5}}, {"two", "three"}),
    ({"n": {"$in": [1, 3]}}, {"one", "three", "list"}),
    ({"n": {"$in": [2.5, None]}}, {"two5", "null"}),
    ({"n": {"$in": []}}, set()),
    ({"n": {"$nin": [1, 3]}}, {"two", "two5", "null", "other", "tag"}),
    ({"n": {"$nin": []}}, ALL),
    ({"n": {"$exists": True}}, {"one", "two", "two5", "three", "list"}),
    ({"n": {"$exists": False}}, {"null", "other", "tag"}),
    ({"tag": "a"}, {"one", "tag"}),
    ({"tag": {"$contains": "a"}}, {"one", "tag"}),
    ({"tag": {"$exists": False}}, {"two", "three", "list", "null", "other"}),
    ({"other": {"$exists": True}}, {"other"}),
    ({"metadata.tag": "b"}, {"two5"}),  # the explicit metadata. prefix
    ({"n": {"$lte": 2}, "tag": "a"}, {"one"}),  # several fields: AND
    ({"$and": [{"n": {"$gte": 2}}, {"tag": {"$exists": True}}]}, {"two5"}),
    ({"$or": [{"n": 1}, {"tag": "b"}, {"other": "x"}]}, {"one", "two5", "other"}),
    ({"$or": [{"n": {"$lt": 2}}, {"n": {"$gt": 2.5}}]}, {"one", "three"}),
    (
        {"$or": [{"$and": [{"n": {"$gt": 1}}, {"n": {"$lt": 3}}]}, {"n": {"$exists": False}}]},
        {"two", "two5", "null", "other", "tag"},
    ),
    ({"$and": [{"$or": [{"tag": "a"}, {"tag": "b"}]}, {"n": {"$ne": 1}}]}, {"two5", "tag"}),
    (
        {"$and": [{"n": {"$in": [1, 2, 3]}}, {"$or": [{"tag": "a"}, {"n": 3}]}]},
        {"one", "three", "list"},
    ),
    ({"$or": [{"n": 1}], "tag": "b"}, set()),  # $or beside a field: both must hold
    # record fields
    ({"agent_id": "a1"}, {"one"}),
    ({"agent_id": {"$in": ["a1", "a2"]}}, {"one", "three"}),
    ({"agent_id": {"$ne": "a1"}}, ALL - {"one"}),
    ({"agent_id": {"$exists": False}}, ALL - {"one", "three"}),
    ({"session_id": {"$exists": True}}, set()),
]


async def _add_table(memory: Memory, u: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    for name, (meta, agent) in RECORDS.items():
        ids[name] = await memory.add(u, f"filter table note {name}", meta, agent_id=agent)
    return ids


async def _select(memory: Memory, u: str, f: dict[str, Any], names: dict[str, str]) -> Any:
    """(names via get_all, names via search) for filter ``f``."""
    by_id = {v: k for k, v in names.items()}
    listed = {by_id.get(r.id, r.id) for r in await memory.get_all(u, limit=100, filters=f)}
    found = {by_id.get(r.id, r.id) for r in await memory.search(u, "note", limit=50, filters=f)}
    return listed, found


async def test_filter_truth_table(memory: Memory) -> None:
    u = uid()
    names = await _add_table(memory, u)
    stored = {r.id: r.metadata for r in await memory.get_all(u)}
    assert stored == {names[k]: RECORDS[k][0] for k in RECORDS}  # incl. the null, exactly
    wrong = []
    for f, want in TRUTH_TABLE:
        listed, found = await _select(memory, u, f, names)
        if listed != want or found != want:
            wrong.append(
                (f, {"want": sorted(want), "get_all": sorted(listed), "search": sorted(found)})
            )
    assert_all_right(wrong)


async def test_filters_on_times_with_the_clock(clocked: tuple[Memory, Clock]) -> None:
    memory, clock = clocked
    u = uid()
    ids = {}
    for i, name in enumerate(("a", "b", "c")):
        clock.now = T0 + 10 * i
        ttl = {"ttl": 1000.0} if name == "c" else {}
        ids[name] = await memory.add(u, f"timed note {name}", **ttl)
    clock.now = T0 + 40
    await memory.update(u, ids["a"], metadata={"touched": True})
    clock.now = T0 + 50
    table: list[tuple[dict[str, Any], set[str]]] = [
        ({"created_at": {"$gt": T0 + 10}}, {"c"}),
        ({"created_at": {"$gte": T0 + 10}}, {"b", "c"}),
        ({"created_at": {"$lt": T0 + 10}}, {"a"}),
        ({"created_at": {"$lte": T0 + 10}}, {"a", "b"}),
        ({"created_at": {"$gt": dt(T0 + 10)}}, {"c"}),
        ({"created_at": {"$gte": dt(T0 + 10).isoformat()}}, {"b", "c"}),
        ({"created_at": {"$lte": dt(T0 + 10).isoformat().replace("+00:00", "Z")}}, {"a", "b"}),
        ({"created_at": {"$gt": T0, "$lt": T0 + 20}}, {"b"}),
        ({"updated_at": {"$gte": T0 + 40}}, {"a"}),
        ({"updated_at": {"$lt": T0 + 40}}, {"b", "c"}),
        ({"expires_at": {"$exists": True}}, {"c"}),
        ({"expires_at": {"$exists": False}}, {"a", "b"}),
        ({"expires_at": {"$lte": T0 + 1020}}, {"c"}),
        ({"expires_at": {"$lt": T0 + 1020}}, set()),
        ({"$or": [{"created_at": {"$lt": T0 + 5}}, {"expires_at": {"$exists": True}}]}, {"a", "c"}),
    ]
    rec_a = await memory.get(u, ids["a"])
    assert rec_a is not None and (rec_a.created_at, rec_a.updated_at) == (dt(T0), dt(T0 + 40))
    wrong = []
    for f, want in table:
        listed, found = await _select(memory, u, f, ids)
        if listed != want or found != want:
            wrong.append(
                (f, {"want": sorted(want), "get_all": sorted(listed), "search": sorted(found)})
            )
    assert_all_right(wrong)


BAD_FILTERS: list[dict[str, Any]] = [
    {"$not": {"n": 1}},  # there is no $not: negate with $ne / $nin / $exists
    {"n": {"$not": {"$eq": 1}}},
    {"$nor": [{"n": 1}]},
    {"$or": []},
    {"$and": {"n": 1}},
    {"n": {"$exists": 1}},
    {"n": {"$gt": None}},
    {"n": {"$gt": True}},
    {"n": {"$lt": "soon"}},
    {"n": {"$nin": "abc"}},
    {"n": {"$regex": "^1"}},
    {"": 1},
]


async def test_unsupported_filters_are_typed_errors(memory: Memory) -> None:
    u = uid()
    mid = await memory.add(u, "filter target", {"n": 1})
    wrong = []
    for bad in BAD_FILTERS:
        for name, call in (
            ("get_all", lambda bad=bad: memory.get_all(u, filters=bad)),
            ("search", lambda bad=bad: memory.search(u, "filter target", filters=bad)),
        ):
            out = await attempt(call)
            if not isinstance(out, InvalidFilterError):
                wrong.append((bad, name, _show(out)))
    assert_all_right(wrong)
    assert [r.id for r in await memory.get_all(u)] == [mid]


# -- expiry at the boundary, with an injected clock --------------------------------------------
async def test_expiry_exactly_at_now(clocked: tuple[Memory, Clock]) -> None:
    memory, clock = clocked
    u = uid()
    t = T0 + 100
    exp = {
        "float": await memory.add(u, "dentist note expiring (epoch)", expires_at=t),
        "datetime": await memory.add(u, "dentist note expiring (datetime)", expires_at=dt(t)),
        "iso": await memory.add(u, "dentist note expiring (iso)", expires_at=dt(t).isoformat()),
    }
    stays = await memory.add(u, "dentist note that stays")
    later = await memory.add(u, "dentist note expiring a millisecond later", expires_at=t + 0.001)
    for mid in exp.values():
        rec = await memory.get(u, mid)
        assert rec is not None and rec.expires_at == dt(t)

    async def visible() -> dict[str, Any]:
        return {
            "get": {
                m
                for m in (*exp.values(), stays, later)
                if (r := await memory.get(u, m)) is not None and r.id == m
            },
            "get_all": {r.id for r in await memory.get_all(u)},
            "search": {r.id for r in await memory.search(u, "dentist note", limit=20)},
            "count": await memory.count(u),
        }

    clock.now = t - 0.001  # just before: everything visible
    everything = {*exp.values(), stays, later}
    assert await visible() == {
        "get": everything,
        "get_all": everything,
        "search": everything,
        "count": 5,
    }
    assert await memory.purge_expired() == 0

    clock.now = t  # expires_at <= now: expired exactly at t
    live = {stays, later}
    assert await visible() == {"get": live, "get_all": live, "search": live, "count": 2}
    for mid in exp.values():
        with pytest.raises(MemoryNotFoundError):
            await memory.update(u, mid, content="revived dentist note")
        with pytest.raises(MemoryNotFoundError):
            await memory.update(u, mid, ttl=3600)  # no resurrection by a new expiry either
    upd = await memory.update(u, later, metadata={"still": "here"})
    assert upd.updated_at == dt(t) and upd.expires_at == dt(t + 0.001)

    clock.now = t - 0.001  # expiry is evaluated against the clock on every call
    assert (await visible())["get_all"] == everything
    clock.now = t
    assert await memory.purge_expired() == 3
    assert await memory.purge_expired() == 0
    clock.now = t - 0.001  # purged for good now
    assert (await visible())["get_all"] == live
    clock.now = t + 0.001
    assert (await visible())["get_all"] == {stays}
    assert await memory.purge_expired() == 1


async def test_already_expired_when_added(clocked: tuple[Memory, Clock]) -> None:
    memory, clock = clocked
    u = uid()
    clock.now = T0
    born_dead = await memory.add(u, "expires the instant it is stored", expires_at=T0)
    assert await memory.get(u, born_dead) is None
    assert await memory.get_all(u) == [] and await memory.count(u) == 0
    assert await memory.search(u, "instant stored") == []
    dead = await memory.add(u, "another note that expires the instant it is stored", expires_at=T0)
    # delete/delete_all erase expired-but-unpurged memories too (and count them): every
    # backend agrees, and erasure must not leave them behind for purge_expired
    assert await memory.delete(u, dead) is True
    assert await memory.delete_all(u) == 1
    assert await memory.purge_expired() == 0
    assert await memory.get(u, born_dead) is None


async def test_ttl_is_relative_to_the_clock(clocked: tuple[Memory, Clock]) -> None:
    memory, clock = clocked
    u = uid()
    clock.now = T0 + 0.5
    a = await memory.add(u, "ttl note of thirty seconds", ttl=30)
    b = await memory.add(u, "ttl note of one minute", ttl=timedelta(minutes=1))
    rec = await memory.get(u, a)
    assert rec is not None
    assert (rec.created_at, rec.updated_at, rec.expires_at) == (
        dt(T0 + 0.5),
        dt(T0 + 0.5),
        dt(T0 + 30.5),
    )
    assert (await memory.get(u, b)).expires_at == dt(T0 + 60.5)  # type: ignore[union-attr]

    clock.now = T0 + 30.499
    assert {r.id for r in await memory.get_all(u)} == {a, b}
    clock.now = T0 + 30.5
    assert {r.id for r in await memory.get_all(u)} == {b}
    assert await memory.get(u, a) is None

    # update(ttl=...) counts from the clock at the update, not from the creation
    clock.now = T0 + 50
    upd = await memory.update(u, b, ttl=100)
    assert (upd.updated_at, upd.expires_at, upd.created_at) == (
        dt(T0 + 50),
        dt(T0 + 150),
        dt(T0 + 0.5),
    )
    clock.now = T0 + 149.999
    assert [r.id for r in await memory.search(u, "ttl note", limit=5)] == [b]
    clock.now = T0 + 150
    assert await memory.search(u, "ttl note", limit=5) == []
    assert await memory.count(u) == 0


# -- NUL characters -----------------------------------------------------------------------------
async def test_nul_in_scope_ids_is_an_invalid_scope_error(memory: Memory) -> None:
    u = uid()
    keep = await memory.add(u, "existing fact", agent_id="a1", session_id="s1")
    before = await snapshot(memory, u)
    bad_scopes = [
        {"user_id": u + "\x00"},
        {"user_id": "\x00"},
        {"user_id": u, "tenant_id": "t\x00"},
        {"user_id": u, "agent_id": "a1\x00"},
        {"user_id": u, "session_id": "\x00s1"},
    ]
    wrong = []
    for s in bad_scopes:
        uid_, kw = s["user_id"], {k: v for k, v in s.items() if k != "user_id"}
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "add": lambda u=uid_, kw=kw: memory.add(u, "new fact", **kw),
            "get": lambda u=uid_, kw=kw: memory.get(u, keep, **kw),
            "get_all": lambda u=uid_, kw=kw: memory.get_all(u, **kw),
            "search": lambda u=uid_, kw=kw: memory.search(u, "fact", **kw),
            "update": lambda u=uid_, kw=kw: memory.update(u, keep, content="changed", **kw),
            "delete": lambda u=uid_, kw=kw: memory.delete(u, keep, **kw),
            "delete_all": lambda u=uid_, kw=kw: memory.delete_all(u, **kw),
            "count": lambda u=uid_, kw=kw: memory.count(u, **kw),
        }
        for name, call in calls.items():
            out = await attempt(call)
            if not isinstance(out, InvalidScopeError):
                wrong.append((repr(s), name, _show(out)))
    assert_all_right(wrong)
    assert await snapshot(memory, u) == before


async def test_nul_in_memory_ids_finds_nothing(memory: Memory) -> None:
    """No memory has an id with NUL in it, so such an id is simply not found: get -> None,
    delete -> False, update -> MemoryNotFoundError (not a backend failure)."""
    u = uid()
    keep = await memory.add(u, "existing fact")
    before = await snapshot(memory, u)
    wrong = []
    for bad in ("id\x00x", keep + "\x00", "\x00" + keep, keep[:8] + "\x00" + keep[9:], "\x00"):
        for name, call, ok in (
            ("get", lambda b=bad: memory.get(u, b), lambda o: o is None),
            ("delete", lambda b=bad: memory.delete(u, b), lambda o: o is False),
            (
                "update",
                lambda b=bad: memory.update(u, b, content="changed"),
                lambda o: isinstance(o, MemoryNotFoundError),
            ),
        ):
            out = await attempt(call)
            if not ok(out):
                wrong.append((repr(bad), name, _show(out)))
    assert_all_right(wrong)
    assert await snapshot(memory, u) == before
    assert (await memory.get(u, keep)).content == "existing fact"  # type: ignore[union-attr]


async def test_nul_in_content_is_rejected_before_anything_is_stored(memory: Memory) -> None:
    """Content with NUL is refused with InvalidContentError on every backend (PostgreSQL text
    cannot hold it, so accepting it elsewhere would make stores, and migrations between them,
    disagree); nothing of a rejected call is stored or changed."""
    u = uid()
    keep = await memory.add(u, "existing fact", {"k": "v"})
    before = await snapshot(memory, u)
    calls = {
        "add text": lambda: memory.add(u, "hello\x00world"),
        "add text ending in NUL": lambda: memory.add(u, "hello world\x00"),
        "add list, second bad": lambda: memory.add(u, ["a fine fact", "a bad\x00fact"]),
        "add messages": lambda: memory.add(
            u, [{"role": "user", "content": "fine"}, {"role": "assistant", "content": "x\x00"}]
        ),
        "update content": lambda: memory.update(u, keep, content="changed\x00"),
        "update content and metadata": lambda: memory.update(
            u, keep, content="changed\x00", metadata={"k": "changed"}
        ),
    }
    wrong = []
    for name, call in calls.items():
        out = await attempt(call)
        if not isinstance(out, InvalidContentError):
            wrong.append((name, _show(out)))
    assert_all_right(wrong)
    assert await snapshot(memory, u) == before


async def test_nul_in_metadata_is_rejected_before_anything_is_stored(memory: Memory) -> None:
    """Metadata keys or values with NUL are refused with InvalidMetadataError on every backend
    (PostgreSQL JSONB cannot hold them); nothing of a rejected call is stored or changed."""
    u = uid()
    keep = await memory.add(u, "existing fact", {"k": "v"})
    before = await snapshot(memory, u)
    bad_metadata = {
        "key": {"k\x00": 1},
        "value": {"k": "v\x00"},
        "nested key": {"outer": {"in\x00ner": "x"}},
        "nested value": {"outer": {"inner": "\x00"}},
        "list item": {"tags": ["ok", "b\x00d"]},
    }
    wrong = []
    for name, md in bad_metadata.items():
        for op, call in (
            ("add", lambda md=md, name=name: memory.add(u, f"new fact with {name}", md)),
            ("update", lambda md=md: memory.update(u, keep, metadata=md)),
            (
                "update+content",
                lambda md=md: memory.update(u, keep, content="changed", metadata=md),
            ),
        ):
            out = await attempt(call)
            if not isinstance(out, InvalidMetadataError):
                wrong.append((name, op, _show(out)))
    assert_all_right(wrong)
    assert await snapshot(memory, u) == before


async def test_nul_in_queries_and_filters_is_harmless(memory: Memory) -> None:
    u = uid()
    keep = await memory.add(u, "User's favourite fruit is the mango", {"k": "v"})
    before = await snapshot(memory, u)
    for q in ("favourite fruit\x00", "\x00mango", "\x00"):
        out = await attempt(lambda q=q: memory.search(u, q, limit=5))
        assert isinstance(out, list), (repr(q), _show(out))
        assert [r.id for r in out] == [keep], repr(q)
    for f in (
        {"k\x00": "v"},
        {"k": "v\x00"},
        {"k": {"$in": ["\x00"]}},
        {"\x00": {"$exists": True}},
    ):
        for call in (
            lambda f=f: memory.get_all(u, filters=f),
            lambda f=f: memory.search(u, "mango", filters=f),
        ):
            out = await attempt(call)
            assert out == [], (f, _show(out))
    out = await attempt(lambda: memory.get_all(u, filters={"k": {"$ne": "v\x00"}}))
    assert isinstance(out, list) and [r.id for r in out] == [keep], _show(out)
    assert await snapshot(memory, u) == before
