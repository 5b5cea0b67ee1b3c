"""Differential test: MnemoplugStore against LangGraph's InMemoryStore over seeded random
operation sequences (LangGraph publishes no store conformance suite; this is ours). Every
get, search (without a query: semantic scores differ by design), filter and namespace listing
must give the same answer; both namespace layouts are checked (issue 12).

One quirk of the reference is not copied: InMemoryStore lists a namespace once anything was
*read* from it (its dict creates the entry); namespaces are compared against the namespaces
that hold items, which InMemoryStore's listing must include.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

pytest.importorskip("langgraph.store.memory")

from langgraph.store.memory import InMemoryStore

from mnemoplug import Memory
from mnemoplug.adapters.langchain import MnemoplugStore

USERS = ("alice", "bob", "carol")
TOPICS = ("prefs", "facts", "notes")
KEYS = ("k1", "k2", "k3", "k4")


def namespace(rng: random.Random, user_index: int) -> tuple[str, ...]:
    user, topic = rng.choice(USERS), rng.choice(TOPICS)
    rest = [topic] + ([rng.choice(("a", "b"))] if rng.random() < 0.3 else [])
    return ("memories", user, *rest) if user_index == 1 else (user, *rest)


def prefix_of(ns: tuple[str, ...], rng: random.Random, user_index: int) -> tuple[str, ...]:
    return ns[: rng.randint(user_index + 1, len(ns))]


def value(rng: random.Random) -> dict[str, Any]:
    return {"text": f"note {rng.randint(0, 99)}", "n": rng.randint(0, 5), "tag": rng.choice("xy")}


def search_view(items: list[Any]) -> list[tuple[Any, ...]]:
    return sorted((i.namespace, i.key, repr(sorted(i.value.items()))) for i in items)


@pytest.mark.parametrize(("seed", "user_index"), [(1, 0), (2, 0), (3, 1), (4, 1)])
async def test_random_operation_sequences_match_in_memory_store(
    seed: int, user_index: int, embedder: Any
) -> None:
    rng = random.Random(seed)
    ours = MnemoplugStore(
        Memory("memory://", embedder=embedder, load_entry_points=False),
        index_fields=["text"],
        user_index=user_index,
    )
    ref = InMemoryStore()
    used: list[tuple[str, ...]] = [namespace(rng, user_index)]
    alive: set[tuple[tuple[str, ...], str]] = set()

    def expected_namespaces(prefix: tuple[str, ...], depth: int | None) -> list[tuple[str, ...]]:
        found = {ns[:depth] if depth else ns for ns, _ in alive if ns[: len(prefix)] == prefix}
        return sorted(found)

    for step in range(120):
        op = rng.choices(["put", "get", "delete", "search", "list"], [5, 3, 1, 3, 1])[0]
        ns = namespace(rng, user_index) if rng.random() < 0.3 else rng.choice(used)
        key = rng.choice(KEYS)
        where = f"seed {seed} step {step}: {op} {ns} {key}"
        if op == "put":
            v = value(rng)
            await ours.aput(ns, key, v)
            await ref.aput(ns, key, v)
            used.append(ns)
            alive.add((ns, key))
        elif op == "delete":
            await ours.adelete(ns, key)
            await ref.adelete(ns, key)
            alive.discard((ns, key))
        elif op == "get":
            a, b = await ours.aget(ns, key), await ref.aget(ns, key)
            assert (a and (a.namespace, a.key, a.value)) == (b and (b.namespace, b.key, b.value)), (
                where
            )
        elif op == "search":
            prefix = prefix_of(ns, rng, user_index)
            flt = rng.choice([None, {"tag": "x"}, {"n": {"$gte": 3}}, {"n": {"$ne": 2}}])
            a = await ours.asearch(prefix, filter=flt, limit=1000)
            b = await ref.asearch(prefix, filter=flt, limit=1000)
            assert search_view(a) == search_view(b), f"{where} prefix {prefix} filter {flt}"
        else:
            prefix = prefix_of(ns, rng, user_index)
            depth = rng.choice([None, user_index + 1, user_index + 2])
            a = await ours.alist_namespaces(prefix=prefix, max_depth=depth, limit=1000)
            b = await ref.alist_namespaces(prefix=prefix, max_depth=depth, limit=1000)
            assert sorted(a) == expected_namespaces(prefix, depth), f"{where} {prefix} {depth}"
            assert set(a) <= set(b)
    # and the whole store, every user at once
    everything = ("memories",) if user_index == 1 else ()
    if everything:
        a = await ours.asearch(everything, limit=1000)
        b = await ref.asearch(everything, limit=1000)
        assert search_view(a) == search_view(b)
    listed = await ours.alist_namespaces(limit=1000)
    assert sorted(listed) == expected_namespaces((), None)
    assert set(listed) <= set(await ref.alist_namespaces(limit=1000))


async def test_memories_user_namespace_maps_to_the_user(embedder: Any) -> None:
    memory = Memory("memory://", embedder=embedder, load_entry_points=False)
    store = MnemoplugStore(memory, index_fields=["text"], user_index=1)
    await store.aput(("memories", "alice"), "m1", {"text": "Alice likes tea"})
    await store.aput(("memories", "bob"), "m1", {"text": "Bob likes coffee"})
    assert [r.content for r in await memory.get_all("alice")] == ["Alice likes tea"]
    assert [r.content for r in await memory.get_all("bob")] == ["Bob likes coffee"]
    assert await memory.count("memories") == 0  # not one shared "memories" user
    hits = await store.asearch(("memories", "bob"), query="what does the user drink?")
    assert [h.namespace for h in hits] == [("memories", "bob")]
