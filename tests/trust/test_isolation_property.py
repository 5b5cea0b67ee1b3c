"""Isolation, as a property (issue 11): random operations by users with adversarial ids (``a:b``
in tenant ``c`` against ``a`` in ``b:c``, prefixes of each other, glob and SQL
metacharacters, percent signs, look-alikes) on every memory store, session store and
checkpoint store, compared after every step with an exact model of what each (tenant, user)
owns. One user's data never reaches another, and never changes theirs.

Budget: a few dozen short programs per store by default; ``MNEMOPLUG_SLOW_TESTS=1`` runs ten
times as many."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnemoplug import Memory, MemoryNotFoundError, MemoryStore, SessionOwnershipError
from tests.budget import examples

USERS = [
    "a",
    "a:b",
    "b",
    "b:c",
    "c",
    "a:b:c",
    "ab",
    "a*",
    "*",
    "a?",
    "[a]",
    "a\\",
    "a%",
    "a_",
    "%2F",
    "a/b",
    "'; DROP TABLE x; --",
    'a"b',
    "a b",
    "A",
    "é",
    "e\u0301",
    "a\u2028b",
]
TENANTS: list[str | None] = [None, "a", "b:c", "a:b", "c", "*", "t%"]
WORDS = ["dog", "cat", "alpha", "mango", "rex"]
OWNERS = st.tuples(st.sampled_from(USERS), st.sampled_from(TENANTS))
SETTINGS = settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def key(owner: tuple[str, str | None]) -> tuple[str, str]:
    return (owner[1] or "", owner[0])


# -- memories --------------------------------------------------------------------------------
MEMORY_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), OWNERS, st.sampled_from(WORDS)),
        st.tuples(st.just("get_all"), OWNERS),
        st.tuples(st.just("search"), OWNERS, st.sampled_from(WORDS)),
        st.tuples(st.just("delete"), OWNERS, st.integers(0, 50)),
        st.tuples(st.just("update"), OWNERS, st.integers(0, 50)),
        st.tuples(st.just("delete_all"), OWNERS),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
async def lexical(memory_store: MemoryStore) -> Any:
    m = Memory(memory_store, embedder=None, load_entry_points=False)
    yield m
    await m.close()


@SETTINGS
@given(ops=MEMORY_OPS)
async def test_memory_stores_keep_users_apart(lexical: Memory, ops: list[Any]) -> None:
    model: dict[tuple[str, str], dict[str, str]] = {}
    ids: list[tuple[tuple[str, str], str]] = []  # every id ever made, with its owner
    n = 0
    try:
        for op in ops:
            name, owner = op[0], op[1]
            user, tenant = owner
            mine = model.setdefault(key(owner), {})
            if name == "add":
                n += 1
                content = f"{op[2]} note number{n}"
                mid = await lexical.add(user, content, {"n": n}, tenant_id=tenant)
                mine[mid] = content
                ids.append((key(owner), mid))
            elif name == "get_all":
                got = await lexical.get_all(user, tenant_id=tenant, limit=1000)
                assert {r.id: r.content for r in got} == mine
                assert all((r.tenant_id or "", r.user_id) == key(owner) for r in got)
            elif name == "search":
                got = await lexical.search(user, op[2], tenant_id=tenant, limit=50)
                assert {r.id for r in got} <= set(mine)
            elif ids and name in ("delete", "update"):
                k, mid = ids[op[2] % len(ids)]
                owned = k == key(owner) and mid in mine
                if name == "delete":
                    assert await lexical.delete(user, mid, tenant_id=tenant) is owned
                    mine.pop(mid, None)
                elif owned:
                    rec = await lexical.update(user, mid, content="changed", tenant_id=tenant)
                    assert rec.content == "changed"
                    mine[mid] = "changed"
                else:
                    with pytest.raises(MemoryNotFoundError):
                        await lexical.update(user, mid, content="stolen", tenant_id=tenant)
            elif name == "delete_all":
                assert await lexical.delete_all(user, tenant_id=tenant) == len(mine)
                mine.clear()
            assert await lexical.count(user, tenant_id=tenant) == len(mine)
        for (tenant_key, user), mine in model.items():
            got = await lexical.get_all(user, tenant_id=tenant_key or None, limit=1000)
            assert {r.id: r.content for r in got} == mine
    finally:
        for tenant_key, user in model:
            await lexical.delete_all(user, tenant_id=tenant_key or None)


# -- sessions --------------------------------------------------------------------------------
SESSIONS = ["s", "s:a", "s:a:b", "a", "*", "s%", "s_", "s'", "s\\", "[s]"]
SESSION_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), OWNERS, st.sampled_from(SESSIONS), st.sampled_from(WORDS)),
        st.tuples(st.just("get"), OWNERS, st.sampled_from(SESSIONS)),
        st.tuples(st.just("list"), OWNERS),
        st.tuples(st.just("search"), OWNERS, st.sampled_from(WORDS)),
        st.tuples(st.just("clear"), OWNERS, st.sampled_from(SESSIONS)),
        st.tuples(st.just("clear_all"), OWNERS),
    ),
    min_size=1,
    max_size=25,
)


@SETTINGS
@given(ops=SESSION_OPS)
async def test_session_stores_keep_users_apart(session_store: Any, ops: list[Any]) -> None:
    owner_of: dict[str, tuple[str, str]] = {}
    texts: dict[str, list[str]] = {}
    n = 0
    try:
        for op in ops:
            name, owner = op[0], op[1]
            user, tenant = owner
            if name == "add":
                sid = op[2]
                n += 1
                text = f"{op[3]} message{n}"
                if sid in owner_of and owner_of[sid] != key(owner):
                    with pytest.raises(SessionOwnershipError):
                        await session_store.add_message(
                            sid, {"role": "user", "content": text}, user_id=user, tenant_id=tenant
                        )
                    continue
                await session_store.add_message(
                    sid, {"role": "user", "content": text}, user_id=user, tenant_id=tenant
                )
                owner_of[sid] = key(owner)
                texts.setdefault(sid, []).append(text)
            elif name == "get":
                sid = op[2]
                got = await session_store.get_messages(sid, user_id=user, tenant_id=tenant)
                want = texts.get(sid, []) if owner_of.get(sid) == key(owner) else []
                assert [m.content for m in got] == want
            elif name == "list":
                got = await session_store.list_sessions(user_id=user, tenant_id=tenant)
                assert {i.session_id for i in got} == {
                    s for s, k in owner_of.items() if k == key(owner)
                }
            elif name == "search":
                got = await session_store.search(op[2], user_id=user, tenant_id=tenant)
                allowed = {t for s, k in owner_of.items() if k == key(owner) for t in texts[s]}
                assert {m.content for m in got} <= allowed
            elif name == "clear":
                sid = op[2]
                owned = owner_of.get(sid) == key(owner)
                n_cleared = await session_store.clear(sid, user_id=user, tenant_id=tenant)
                assert n_cleared == (len(texts.get(sid, [])) if owned else 0)
                if owned:
                    owner_of.pop(sid)
                    texts.pop(sid)
            elif name == "clear_all":
                mine = [s for s, k in owner_of.items() if k == key(owner)]
                assert await session_store.clear_all(user_id=user, tenant_id=tenant) == len(mine)
                for s in mine:
                    owner_of.pop(s)
                    texts.pop(s)
    finally:
        for sid in SESSIONS:
            await session_store.clear(sid)


# -- checkpoints -----------------------------------------------------------------------------
RUNS = ["r", "r:a", "r:a:b", "a", "*", "r%", "r_"]
CHECKPOINT_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("save"), OWNERS, st.sampled_from(RUNS)),
        st.tuples(st.just("load"), OWNERS, st.sampled_from(RUNS)),
        st.tuples(st.just("list"), OWNERS),
        st.tuples(st.just("delete"), OWNERS, st.sampled_from(RUNS)),
        st.tuples(st.just("delete_user"), OWNERS),
    ),
    min_size=1,
    max_size=25,
)


@SETTINGS
@given(ops=CHECKPOINT_OPS)
async def test_checkpoint_stores_keep_users_apart(checkpoint_store: Any, ops: list[Any]) -> None:
    model: dict[tuple[str, str], dict[str, list[int]]] = {}
    n = 0
    try:
        for op in ops:
            name, owner = op[0], op[1]
            user, tenant = owner
            runs = model.setdefault(key(owner), {})
            if name == "save":
                n += 1
                await checkpoint_store.save(op[2], {"n": n}, user_id=user, tenant_id=tenant)
                runs.setdefault(op[2], []).append(n)
            elif name == "load":
                got = await checkpoint_store.load(op[2], user_id=user, tenant_id=tenant)
                want = runs.get(op[2])
                assert (got.state["n"] if got else None) == (want[-1] if want else None)
            elif name == "list":
                got = await checkpoint_store.list(user_id=user, tenant_id=tenant, limit=1000)
                assert sorted(c.state["n"] for c in got) == sorted(
                    x for xs in runs.values() for x in xs
                )
            elif name == "delete":
                deleted = await checkpoint_store.delete(op[2], user_id=user, tenant_id=tenant)
                assert deleted == len(runs.pop(op[2], []))
            elif name == "delete_user":
                want = sum(len(xs) for xs in runs.values())
                assert await checkpoint_store.delete_user(user, tenant) == want
                runs.clear()
    finally:
        for tenant_key, user in model:
            await checkpoint_store.delete_user(user, tenant_key or None)
