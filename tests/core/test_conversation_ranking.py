"""The conversation adjustments of the ranking (issue 10): neighbour smoothing, the session
prior, speaker and date matching — each on and off on real providers with the real embedding
model, the same on every provider; memories added one by one rank exactly as without them."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from mnemoplug import ConfigurationError, Memory, RetrievalConfig
from mnemoplug.core.conversation import QueryDate, query_dates, speakers_named
from mnemoplug.core.records import StoredMemory
from tests.stores.backends import inprocess, redis, sqlite

OFF = RetrievalConfig(neighbour_weight=0.0, session_weight=0.0, speaker_weight=0.0, date_weight=0.0)
BACKENDS = {"sqlite": sqlite, "inprocess": inprocess, "redis": redis}


@pytest.fixture(params=list(BACKENDS))
async def memory(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: Any
) -> AsyncIterator[Memory]:
    async with BACKENDS[request.param].memory_store(tmp_path) as store:
        m = Memory(store, embedder=embedder, load_entry_points=False)
        yield m
        await m.close()


def only(**weights: float) -> RetrievalConfig:
    """The fusion plus the named adjustments only."""
    return dataclasses.replace(OFF, **weights)


def uid() -> str:
    return f"u-{uuid.uuid4().hex[:10]}"


def say(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": "user", "name": name, "content": text} for name, text in turns]


async def ranked(memory: Memory, user: str, query: str, cfg: RetrievalConfig) -> list[str]:
    return [r.id for r in await memory.search(user, query, limit=10, retrieval=cfg)]


async def test_neighbour_smoothing_lifts_the_answer_after_its_question(memory: Memory) -> None:
    u = uid()
    ids = await memory.add(
        u,
        [
            {"role": "user", "content": "Which instrument have you been learning, Sam?"},
            {"role": "assistant", "content": "The cello, for two years now."},
            {"role": "user", "content": "Nice, see you at the weekend."},
        ],
        session_id="s1",
    )
    for text in [
        "Sam listens to jazz records in the evening.",
        "The orchestra hall downtown reopened last month.",
        "Sam's sister plays football on Saturdays.",
        "Learning a language takes a lot of practice.",
    ]:
        await memory.add(u, text)
    q = "What instrument is Sam learning?"
    off = await ranked(memory, u, q, OFF)
    on = await ranked(memory, u, q, only(neighbour_weight=0.5))
    assert on.index(ids[1]) < off.index(ids[1])
    assert on.index(ids[1]) <= 1


async def test_neighbours_follow_insertion_order_without_a_session(memory: Memory) -> None:
    u = uid()
    await memory.add(u, "Learning a language takes a lot of practice.")
    ids = await memory.add(
        u, ["Which instrument have you been learning, Sam?", "The cello, for two years now."]
    )
    await memory.add(u, "Sam listens to jazz records in the evening.")
    q = "What instrument is Sam learning?"
    off = await ranked(memory, u, q, OFF)
    on = await ranked(memory, u, q, only(neighbour_weight=0.5))
    assert on.index(ids[1]) < off.index(ids[1])


async def test_session_prior_lifts_the_turns_of_the_best_session(memory: Memory) -> None:
    u = uid()
    trip = await memory.add(
        u,
        say(
            ("Ana", "We finally went on our trip to Japan!"),
            ("Ben", "How was the food?"),
            ("Ben", "Did you see any mountains?"),
            ("Ana", "We climbed a volcano on the third day, it was exhausting."),
        ),
        session_id="trip",
    )
    office = await memory.add(
        u,
        say(("Ben", "I climbed the stairs to the top of the tower today."), ("Ana", "Why?")),
        session_id="office",
    )
    q = "What did Ana climb in Japan?"
    off = await ranked(memory, u, q, OFF)
    on = await ranked(memory, u, q, only(session_weight=0.8))
    assert off.index(office[0]) < off.index(trip[2])  # the fusion prefers the stairs
    assert on.index(trip[2]) < on.index(office[0])


async def test_speaker_named_in_the_question_is_preferred(memory: Memory) -> None:
    u = uid()
    ids = await memory.add(
        u,
        say(
            ("Caroline", "Last weekend I went hiking in the mountains with friends."),
            ("Melanie", "Same here, we did a long walk up the hill."),
        ),
        session_id="s1",
    )
    q = "Where did Melanie go hiking last weekend?"
    assert (await ranked(memory, u, q, OFF))[0] == ids[0]
    assert (await ranked(memory, u, q, only(speaker_weight=0.4)))[0] == ids[1]
    assert (await ranked(memory, u, q.replace("Melanie", "she"), only(speaker_weight=0.4)))[
        0
    ] == ids[0]


async def test_date_named_in_the_question_is_preferred(memory: Memory) -> None:
    u = uid()
    may = await memory.add(
        u, "Ana painted a sunset.", occurred_at=datetime(2023, 5, 8, 13, 0, tzinfo=UTC)
    )
    june = await memory.add(
        u,
        "Ana painted a picture of a lake at sunrise.",
        occurred_at=datetime(2023, 6, 2, 9, 0, tzinfo=UTC),
    )
    q = "What picture did Ana paint on 8 May, 2023?"
    assert (await ranked(memory, u, q, OFF))[0] == june
    assert (await ranked(memory, u, q, only(date_weight=0.2)))[0] == may
    assert (await ranked(memory, u, "What did Ana paint in June 2023?", only(date_weight=0.2)))[
        0
    ] == june


async def test_memories_added_one_by_one_rank_as_without_the_adjustments(
    memory: Memory,
) -> None:
    u = uid()
    facts = [
        "The user's dog is called Rex.",
        "The user lives in Lisbon.",
        "The user is allergic to peanuts.",
        "The user works as a nurse at night.",
        "The user's sister Melanie visits in May.",
        "The user plays the cello.",
        "Rex likes long walks on the beach.",
        "The user prefers tea to coffee.",
    ]
    for f in facts:
        await memory.add(u, f, session_id=None)
    for q in [
        "What is my dog called?",
        "Where do I live?",
        "What food should I avoid?",
        "When does Melanie visit?",
        "What do I drink in the morning?",
        "Tell me about Rex",
    ]:
        base = await memory.search(u, q, limit=8, retrieval=OFF)
        now = await memory.search(u, q, limit=8)  # the defaults
        assert [r.id for r in now] == [r.id for r in base]
        assert [r.score for r in now] == pytest.approx([r.score for r in base])


async def test_same_ranking_on_every_provider(tmp_path: Path, embedder: Any) -> None:
    orders = []
    for name, backend in BACKENDS.items():
        with contextlib.suppress(pytest.skip.Exception):
            async with backend.memory_store(tmp_path / name) as store:
                m = Memory(store, embedder=embedder, load_entry_points=False)
                u = uid()
                await m.add(
                    u,
                    say(
                        ("Ana", "Which instrument have you been learning, Sam?"),
                        ("Sam", "The cello, for two years now."),
                    ),
                    session_id="s1",
                    occurred_at="2023-05-08T10:00:00Z",
                )
                await m.add(u, say(("Sam", "I went to a jazz concert.")), session_id="s2")
                # dense + the adjustments (lexical scores are each backend's own: FTS5, BM25)
                hits = await m.search(
                    u,
                    "What instrument did Sam learn on 8 May 2023?",
                    retrieval=RetrievalConfig(lexical_weight=0.0),
                )
                orders.append([(h.content, round(h.score or 0, 6)) for h in hits])
                await m.close()
    assert len(orders) >= 2 and all(o == orders[0] for o in orders)


def test_query_dates() -> None:
    assert query_dates("What did Ana do on 8 May, 2023?") == [QueryDate(2023, 5, 8)]
    assert query_dates("on October 13, 2023 and 2023-06-01") == [
        QueryDate(2023, 6, 1),
        QueryDate(2023, 10, 13),
    ]
    assert query_dates("in December 2023") == [QueryDate(2023, 12, None)]
    assert query_dates("camping in June?") == [QueryDate(None, 6, None)]
    assert query_dates("we may march in 2023") == []  # verbs and a bare year are no dates
    assert query_dates("Jan said so") == []
    assert QueryDate(None, 6, None).matches(date(2021, 6, 30))
    assert not QueryDate(2023, 6, 1).matches(date(2023, 6, 2))


def test_speakers_named() -> None:
    people = ["Caroline", "Melanie", "Will Smith"]
    assert speakers_named("What did Caroline paint?", people) == {"Caroline"}
    assert speakers_named("what did caroline paint?", people) == {"Caroline"}
    assert speakers_named("What will Melanie do?", people) == {"Melanie"}
    assert speakers_named("Did Will Smith and Melanie meet?", people) == {"Will Smith", "Melanie"}


def test_thread_order_uses_when_then_added_then_position() -> None:
    from mnemoplug.core.conversation import Threads

    def m(i: str, session: str | None, when: float, created: float, seq: int) -> StoredMemory:
        return StoredMemory(
            id=i, user_id="u", content=i, session_id=session, occurred_at=when,
            created_at=created, seq=seq,
        )  # fmt: skip

    rows = [
        m("b", "s", 10, 5, 1),
        m("a", "s", 10, 5, 0),
        m("c", "s", 20, 1, 0),
        m("x", None, 1, 7, 0),
        m("y", None, 1, 7, 1),
        m("z", None, 1, 8, 0),  # another add call: no neighbour of y
    ]
    t = Threads(rows)
    assert t.prev[:6].tolist() == [1, -1, 0, -1, 3, -1]
    assert t.next[:6].tolist() == [2, 0, -1, 4, -1, -1]


@pytest.mark.parametrize(
    "field", ["neighbour_weight", "session_weight", "speaker_weight", "date_weight"]
)
def test_bad_adjustment_settings(field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        RetrievalConfig(**{field: -0.1})
    with pytest.raises(ConfigurationError, match=field):
        RetrievalConfig(**{field: "high"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="structure_candidates"):
        RetrievalConfig(structure_candidates=0)


def test_threads_grow_with_new_turns_as_if_rebuilt() -> None:
    from mnemoplug.core.conversation import Threads
    from mnemoplug.core.retrieval import UserIndex

    def m(i: int, session: str | None, when: float, seq: int = 0) -> StoredMemory:
        return StoredMemory(
            id=f"m{i}", user_id="u", content=f"turn {i}", session_id=session, occurred_at=when,
            created_at=when, seq=seq, speaker=f"p{i % 3}",
        )  # fmt: skip

    idx = UserIndex()
    idx.extend([m(0, "s", 1), m(1, "s", 2), m(2, None, 3), m(3, None, 3, 1)])
    assert idx.threads.prev[:4].tolist() == [-1, 0, -1, 2]
    for row in [m(4, "s", 5), m(5, "t", 6), m(6, "s", 7), m(7, None, 8)]:  # live turns
        idx.upsert(row)
        assert idx._threads is not None  # extended, not dropped
    idx.upsert(m(8, "s", 4))  # an older turn of s arrives late: rebuilt
    assert idx._threads is None
    t = idx.threads
    order = []
    j = 0
    while j != -1:
        order.append(idx.records[j].id)
        j = int(t.next[j])
    assert order == ["m0", "m1", "m8", "m4", "m6"]
    idx2 = UserIndex()
    idx2.extend([m(0, "s", 1), m(1, "s", 2)])
    _ = idx2.threads
    for row in [m(4, "s", 5), m(5, "t", 6), m(6, "s", 7)]:
        idx2.upsert(row)
    fresh = Threads(idx2.records)
    assert idx2.threads.prev[:5].tolist() == fresh.prev[:5].tolist()
    assert idx2.threads.next[:5].tolist() == fresh.next[:5].tolist()
    assert idx2.threads.speakers == ["p0", "p1", "p2"]


async def test_a_turn_embeds_who_said_it(memory: Memory, embedder: Any) -> None:
    import numpy as np

    u = uid()
    [mid] = await memory.add(u, say(("Sam", "The cello, for two years now.")))
    plain = await memory.add(u, "The cello, for two years now.")

    async def vector(i: str) -> Any:
        assert memory.store is not None
        async for batch in memory.store.export("", u):
            for m in batch:
                if m.id == i:
                    return m.embedding
        raise AssertionError(i)

    said, alone = embedder.embed(
        ["Sam: The cello, for two years now.", "The cello, for two years now."]
    )
    assert np.allclose(await vector(mid), said, atol=1e-5)
    assert np.allclose(await vector(plain), alone, atol=1e-5)
    await memory.update(u, mid, "The violin, since May.")
    assert np.allclose(
        await vector(mid), embedder.embed(["Sam: The violin, since May."])[0], atol=1e-5
    )
