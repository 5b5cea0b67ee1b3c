"""MnemoplugStore: LangGraph BaseStore ops, semantic search, isolation, and a real graph."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("langgraph.store.base")

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore, InvalidNamespaceError
from typing_extensions import TypedDict

from mnemoplug import Memory, SyncMemory
from mnemoplug.adapters.langchain import MnemoplugStore


@pytest.fixture
def memory(embedder: Any) -> Memory:
    return Memory("memory://", embedder=embedder, load_entry_points=False)


@pytest.fixture
def store(memory: Memory) -> MnemoplugStore:
    return MnemoplugStore(memory, index_fields=["text"])


def test_put_get_update_delete(store: MnemoplugStore, memory: Memory) -> None:
    assert isinstance(store, BaseStore)
    store.put(("u1", "prefs"), "theme", {"text": "User prefers dark mode", "level": 3})
    item = store.get(("u1", "prefs"), "theme")
    assert item is not None and item.namespace == ("u1", "prefs") and item.key == "theme"
    assert item.value == {"text": "User prefers dark mode", "level": 3}
    created = item.created_at
    store.put(("u1", "prefs"), "theme", {"text": "User prefers light mode", "level": 4})
    item2 = store.get(("u1", "prefs"), "theme")
    assert item2 is not None and item2.value["level"] == 4
    assert item2.created_at == created and item2.updated_at >= created
    # one memory per item, in user u1's scope, its content the indexed field
    recs = asyncio.run(memory.get_all("u1"))
    assert [r.content for r in recs] == ["User prefers light mode"]
    assert store.get(("u1", "other"), "theme") is None
    store.delete(("u1", "prefs"), "theme")
    assert store.get(("u1", "prefs"), "theme") is None
    assert asyncio.run(memory.count("u1")) == 0


def test_users_are_isolated(store: MnemoplugStore) -> None:
    store.put(("alice", "facts"), "pet", {"text": "Alice has a dog called Rex"})
    store.put(("bob", "facts"), "pet", {"text": "Bob has a cat called Tom"})
    bob = store.get(("bob", "facts"), "pet")
    assert bob is not None and bob.value["text"] == "Bob has a cat called Tom"
    hits = store.search(("bob",), query="what pet is called Rex?")
    assert [h.value["text"] for h in hits] == ["Bob has a cat called Tom"]
    store.delete(("bob", "facts"), "pet")
    assert store.get(("alice", "facts"), "pet") is not None


async def test_semantic_search_filter_and_paging(store: MnemoplugStore) -> None:
    ns = ("u1", "memories")
    await store.aput(ns, "a", {"text": "User prefers dark mode", "kind": "pref", "n": 1})
    await store.aput(ns, "b", {"text": "User's dog is called Rex", "kind": "fact", "n": 2})
    await store.aput(ns, "c", {"text": "User likes jazz music", "kind": "pref", "n": 3})
    await store.aput(("u1", "other"), "d", {"text": "User prefers dark chocolate", "kind": "pref"})
    hits = await store.asearch(ns, query="Which display theme does the user prefer?")
    assert hits[0].key == "a" and hits[0].score is not None
    assert {h.namespace for h in hits} == {ns}
    prefs = await store.asearch(ns, filter={"kind": "pref"})
    assert sorted(h.key for h in prefs) == ["a", "c"]
    big = await store.asearch(ns, filter={"n": {"$gte": 2}})
    assert sorted(h.key for h in big) == ["b", "c"]
    page = await store.asearch(ns, limit=1, offset=1)
    assert len(page) == 1
    everything = await store.asearch(("u1",), limit=10)
    assert len(everything) == 4
    ranked = await store.asearch(("u1",), query="dog", filter={"kind": "fact"})
    assert [h.key for h in ranked] == ["b"]


async def test_list_namespaces(store: MnemoplugStore) -> None:
    await store.aput(("u1", "a", "x"), "k", {"text": "one"})
    await store.aput(("u1", "b"), "k", {"text": "two"})
    await store.aput(("u2", "a"), "k", {"text": "three"})
    assert await store.alist_namespaces(prefix=("u1",)) == [("u1", "a", "x"), ("u1", "b")]
    assert await store.alist_namespaces(max_depth=2) == [("u1", "a"), ("u1", "b"), ("u2", "a")]
    assert await store.alist_namespaces(suffix=("a",)) == [("u2", "a")]
    assert await store.alist_namespaces(prefix=("*", "a")) == [("u1", "a", "x"), ("u2", "a")]


def test_batch_mixed_ops_and_invalid_namespace(store: MnemoplugStore) -> None:
    from langgraph.store.base import GetOp, PutOp, SearchOp

    res = store.batch(
        [
            PutOp(("u1", "n"), "k", {"text": "hello world"}),
            GetOp(("u1", "n"), "k"),
            SearchOp(("u1",), query="hello"),
        ]
    )
    assert res[0] is None and res[1].value == {"text": "hello world"}  # type: ignore[union-attr]
    assert [i.key for i in res[2]] == ["k"]  # type: ignore[union-attr]
    with pytest.raises(InvalidNamespaceError):
        store.put(("u.1",), "k", {"text": "x"})


def test_ttl_sets_expiry(store: MnemoplugStore, memory: Memory) -> None:
    store.put(("u1",), "temp", {"text": "short lived"}, ttl=1.0)
    rec = asyncio.run(memory.get_all("u1"))[0]
    assert rec.expires_at is not None
    assert 50 <= (rec.expires_at - rec.created_at).total_seconds() <= 70


class _State(TypedDict, total=False):
    question: str
    answer: str


class _Ctx(TypedDict):
    user_id: str


def _graph(store: BaseStore) -> Any:
    def remember(state: _State, runtime: Runtime[_Ctx]) -> _State:
        assert runtime.store is not None
        uid = runtime.context["user_id"]
        runtime.store.put((uid, "facts"), "q", {"text": state["question"]})
        hits = runtime.store.search((uid, "facts"), query=state["question"], limit=5)
        return {"answer": " | ".join(h.value["text"] for h in hits)}

    async def aremember(state: _State, runtime: Runtime[_Ctx]) -> _State:
        assert runtime.store is not None
        uid = runtime.context["user_id"]
        await runtime.store.aput((uid, "facts"), "q2", {"text": state["question"]})
        hits = await runtime.store.asearch((uid, "facts"), query=state["question"], limit=5)
        return {"answer": " | ".join(sorted(h.value["text"] for h in hits))}

    g = StateGraph(_State, context_schema=_Ctx)
    g.add_node("remember", remember)
    g.add_edge(START, "remember")
    g.add_edge("remember", END)
    ga = StateGraph(_State, context_schema=_Ctx)
    ga.add_node("remember", aremember)
    ga.add_edge(START, "remember")
    ga.add_edge("remember", END)
    return g.compile(store=store), ga.compile(store=store)


async def test_store_through_a_real_graph(embedder: Any, tmp_path: Any) -> None:
    sm = SyncMemory(f"sqlite:///{tmp_path / 's.db'}", embedder=embedder, load_entry_points=False)
    try:
        store = MnemoplugStore(sm, index_fields=["text"])
        sync_graph, async_graph = _graph(store)
        out = sync_graph.invoke({"question": "I like tea"}, context={"user_id": "u1"})
        assert out["answer"] == "I like tea"
        out = await async_graph.ainvoke({"question": "I like coffee"}, context={"user_id": "u1"})
        assert out["answer"] == "I like coffee | I like tea"
        out = await async_graph.ainvoke({"question": "hello"}, context={"user_id": "u2"})
        assert out["answer"] == "hello"  # u2 never sees u1's items
        assert sm.count("u1") == 2
    finally:
        sm.close()
