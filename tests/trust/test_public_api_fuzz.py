"""Fuzzing the public API (issue 11, item 2): whatever the arguments — wrong types, huge or
non-finite numbers, lone surrogates, NUL characters, self-referencing or deeply nested
metadata and filters, odd URLs — only :class:`~mnemoplug.MnemoplugError` subclasses escape,
and after an error nothing stored has changed.

Budget: a few hundred calls per store by default; ``MNEMOPLUG_SLOW_TESTS=1`` runs ten times
as many."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnemoplug import Memory, MemoryStore, MnemoplugError
from tests.budget import examples


def _self_ref() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["me"] = d
    return d


def _deep(n: int, op: str | None = None) -> Any:
    v: Any = {"x": 1}
    for _ in range(n):
        v = {op: [v]} if op else [v]
    return v if op else {"k": v}


ODD_TEXT = [
    "",
    " ",
    "caf\udce9",
    "\ud800",
    "a\x00b",
    "x" * 300,
    "x" * 40_000,
    "2024-01-01",
    "a:b",
    "*",
    "'; DROP TABLE mnemoplug_memories; --",
    "%00",
    "\u2028",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([10**400, -(10**400), 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(ODD_TEXT),
    st.binary(max_size=4),
    st.datetimes(),
    st.sampled_from([datetime.max, datetime.min, datetime(9999, 12, 31, tzinfo=UTC)]),
    st.timedeltas(),
    st.sampled_from([timedelta.max, timedelta(0), timedelta(seconds=-1)]),
)
ODD = st.one_of(
    SCALARS,
    st.builds(_self_ref),
    st.builds(_deep, st.sampled_from([40, 400])),
    st.recursive(
        SCALARS,
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.one_of(st.text(max_size=4), st.integers(), st.none()), c, max_size=3
            )
        ),
        max_leaves=8,
    ),
)
FILTER_KEYS = st.sampled_from(["$and", "$or", "$gt", "$in", "n", "tags", "created_at", "$x", ""])
FILTERS = st.one_of(
    ODD,
    st.builds(_deep, st.sampled_from([20, 400]), st.sampled_from(["$and", "$or"])),
    st.dictionaries(FILTER_KEYS, st.one_of(ODD, st.dictionaries(FILTER_KEYS, ODD, max_size=2))),
)


def arg(valid: Any, odd: Any = ODD) -> Any:
    """Mostly a valid value (so calls get past the first check), often an odd one."""
    return st.one_of(st.just(valid), odd, odd)


CALLS = st.one_of(
    st.tuples(
        st.just("add"),
        st.fixed_dictionaries(
            {"user_id": arg("u"), "content": arg("my dog is called Rex"), "metadata": arg(None)},
            optional={
                "tenant_id": ODD,
                "agent_id": ODD,
                "session_id": ODD,
                "expires_at": ODD,
                "ttl": ODD,
            },
        ),
    ),
    st.tuples(
        st.just("search"),
        st.fixed_dictionaries(
            {"user_id": arg("u"), "query": arg("dog")},
            optional={
                "limit": ODD,
                "filters": FILTERS,
                "min_relevance": ODD,
                "retrieval": ODD,
                "tenant_id": ODD,
            },
        ),
    ),
    st.tuples(
        st.just("get_all"),
        st.fixed_dictionaries(
            {"user_id": arg("u")},
            optional={"limit": ODD, "filters": FILTERS, "offset": ODD, "agent_id": ODD},
        ),
    ),
    st.tuples(st.just("get"), st.fixed_dictionaries({"user_id": arg("u"), "memory_id": ODD})),
    st.tuples(
        st.just("update"),
        st.fixed_dictionaries(
            {"user_id": arg("u"), "memory_id": ODD},
            optional={"content": ODD, "metadata": ODD, "expires_at": ODD, "ttl": ODD},
        ),
    ),
    st.tuples(
        st.just("update_own"),
        st.fixed_dictionaries(
            {"user_id": arg("u")},
            optional={"content": ODD, "metadata": ODD, "expires_at": ODD, "ttl": ODD},
        ),
    ),
    st.tuples(st.just("delete"), st.fixed_dictionaries({"user_id": arg("u"), "memory_id": ODD})),
    st.tuples(st.just("delete_all"), st.fixed_dictionaries({"user_id": ODD, "tenant_id": ODD})),
    st.tuples(st.just("count"), st.fixed_dictionaries({"user_id": ODD, "session_id": ODD})),
    st.tuples(st.just("forget"), st.fixed_dictionaries({"user_id": ODD, "tenant_id": ODD})),
)
SETTINGS = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and -0.0 differs from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and repr(a) == repr(b))
    return bool(a == b)


async def _snapshot(m: Memory) -> list[Any]:
    out = []
    for user in ("u", "v"):
        recs = await m.get_all(user, limit=1000)
        out.append(sorted((r.id, r.content, repr(r.metadata), r.expires_at) for r in recs))
    return out


@pytest.fixture
async def lexical(memory_store: MemoryStore) -> Any:
    m = Memory(memory_store, embedder=None, load_entry_points=False)
    await m.add("u", "the user's dog is called Rex", {"tags": ["pets"], "n": 1})
    await m.add("v", "another user's secret", {"n": 2})
    yield m
    await m.close()


async def _run_calls(m: Memory, calls: list[Any]) -> None:
    for name, kwargs in calls:
        before = await _snapshot(m)
        try:
            if name == "update_own":
                own = await m.get_all("u", limit=1)
                if not own:
                    continue
                await m.update(memory_id=own[0].id, **kwargs)
            else:
                await getattr(m, name)(**kwargs)
        except MnemoplugError:
            assert await _snapshot(m) == before, (name, kwargs)
        except Exception as exc:  # pragma: no cover - what the test is for
            raise AssertionError(f"{name}({kwargs!r}) raised untyped {exc!r}") from exc


@SETTINGS
@given(calls=st.lists(CALLS, min_size=1, max_size=6))
async def test_only_typed_errors_escape_and_errors_change_nothing(
    lexical: Memory, calls: list[Any]
) -> None:
    await _run_calls(lexical, calls)
    assert (await lexical.get_all("v"))[0].content == "another user's secret"


@settings(max_examples=examples(500), deadline=None)
@given(calls=st.lists(CALLS, min_size=1, max_size=8))
async def test_many_more_calls_in_process(calls: list[Any]) -> None:
    """The same on the in-process store, where calls are cheap: many more of them."""
    m = Memory("memory://", embedder=None, load_entry_points=False)
    await m.add("u", "the user's dog is called Rex", {"tags": ["pets"], "n": 1})
    await m.add("v", "another user's secret", {"n": 2})
    await _run_calls(m, calls)
    assert (await m.get_all("v"))[0].content == "another user's secret"


SESSION_CALLS = st.one_of(
    st.tuples(
        st.just("add_message"),
        st.fixed_dictionaries(
            {
                "session_id": arg("s"),
                "message": arg(
                    {"role": "user", "content": "hello"},
                    st.one_of(
                        ODD,
                        st.fixed_dictionaries(
                            {"role": arg("user"), "content": arg("hi")},
                            optional={"id": ODD, "metadata": ODD, "timestamp": ODD},
                        ),
                    ),
                ),
                "user_id": arg("u"),
            },
            optional={"tenant_id": ODD},
        ),
    ),
    st.tuples(
        st.just("get_messages"),
        st.fixed_dictionaries({"session_id": arg("s")}, optional={"limit": ODD, "user_id": ODD}),
    ),
    st.tuples(
        st.just("search"),
        st.fixed_dictionaries(
            {"query": arg("hello")},
            optional={"session_id": ODD, "limit": ODD, "user_id": ODD, "all_users": ODD},
        ),
    ),
    st.tuples(st.just("clear_old_sessions"), st.fixed_dictionaries({"older_than": ODD})),
    st.tuples(
        st.just("list_sessions"),
        st.fixed_dictionaries({}, optional={"user_id": ODD, "limit": ODD}),
    ),
)
CHECKPOINT_CALLS = st.one_of(
    st.tuples(
        st.just("save"),
        st.fixed_dictionaries(
            {"run_id": arg("r"), "state": arg({"step": 1}), "user_id": arg("u")},
            optional={"metadata": ODD, "checkpoint_id": ODD, "parent_id": ODD, "tenant_id": ODD},
        ),
    ),
    st.tuples(
        st.just("load"),
        st.fixed_dictionaries(
            {"run_id": arg("r"), "user_id": arg("u")}, optional={"checkpoint_id": ODD}
        ),
    ),
    st.tuples(
        st.just("list"),
        st.fixed_dictionaries(
            {"user_id": arg("u")}, optional={"run_id": ODD, "limit": ODD, "before": ODD}
        ),
    ),
)


async def _session_snapshot(store: Any) -> Any:
    return [(m.id, m.content, repr(m.metadata)) for m in await store.get_messages("s")]


async def _checkpoint_snapshot(store: Any) -> Any:
    return [(c.checkpoint_id, repr(c.state)) for c in await store.list(user_id="u", limit=1000)]


@SETTINGS
@given(
    session_calls=st.lists(SESSION_CALLS, min_size=1, max_size=5),
    checkpoint_calls=st.lists(CHECKPOINT_CALLS, min_size=1, max_size=5),
)
async def test_session_and_checkpoint_stores_raise_only_typed_errors(
    session_store: Any, checkpoint_store: Any, session_calls: Any, checkpoint_calls: Any
) -> None:
    for store, calls, snap in (
        (session_store, session_calls, _session_snapshot),
        (checkpoint_store, checkpoint_calls, _checkpoint_snapshot),
    ):
        for name, kwargs in calls:
            before = await snap(store)
            try:
                await getattr(store, name)(**kwargs)
            except MnemoplugError:
                assert await snap(store) == before, (name, kwargs)
            except Exception as exc:  # pragma: no cover - what the test is for
                raise AssertionError(f"{name}({kwargs!r}) raised untyped {exc!r}") from exc


@settings(max_examples=examples(200), deadline=None)
@given(
    st.sampled_from(["sqlite:///", "memory://", "redis://", "postgresql://", "qdrant://", "x://"]),
    st.one_of(st.text(max_size=20), st.sampled_from(["%00x.db", "%ED%A0%80", "a/%00/b", ":0"])),
)
def test_constructing_from_any_url_raises_only_typed_errors(scheme: str, rest: str) -> None:
    try:
        Memory(scheme + rest, embedder=None, load_entry_points=False)
    except MnemoplugError:
        pass
