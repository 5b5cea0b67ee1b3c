"""Conversation structure on every backend: ``occurred_at``, ``speaker`` and the order of the
messages of one ``add`` are kept, read back, exported, filtered on and used by get_all's order
(issue 10). Real stores (Redis and PostgreSQL servers, qdrant local mode, mem0 on local
qdrant), real embedding model."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from mnemoplug import Memory, MemoryValidationError

MAY_8 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
JUNE_1 = datetime(2023, 6, 1, 9, 0, tzinfo=UTC)


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def _export(memory: Memory, user: str) -> list:  # type: ignore[type-arg]
    assert memory.store is not None
    rows = []
    async for batch in memory.store.export("", user):
        rows.extend(batch)
    return rows


async def test_speaker_time_and_order_round_trip(memory: Memory) -> None:
    u = uid()
    ids = await memory.add(
        u,
        [
            {"role": "user", "name": "Caroline", "content": "I went to a LGBTQ support group."},
            {"role": "assistant", "name": "Melanie", "content": "That sounds powerful!"},
            {"role": "user", "content": "It was.", "timestamp": "2023-05-08T14:00:00Z"},
        ],
        session_id="s1",
        occurred_at=MAY_8,
    )
    recs = [await memory.get(u, i) for i in ids]
    assert [r.speaker for r in recs] == ["Caroline", "Melanie", None]  # type: ignore[union-attr]
    assert [r.occurred_at for r in recs] == [  # type: ignore[union-attr]
        MAY_8,
        MAY_8,
        datetime(2023, 5, 8, 14, 0, tzinfo=UTC),
    ]
    assert recs[0].to_dict()["occurred_at"] == "2023-05-08T13:56:00Z"  # type: ignore[union-attr]
    rows = {m.id: m for m in await _export(memory, u)}
    assert [rows[i].seq for i in ids] == [0, 1, 2]
    assert [rows[i].speaker for i in ids] == ["Caroline", "Melanie", None]
    hits = await memory.search(u, "support group", limit=3)
    assert {h.id: h.speaker for h in hits}[ids[0]] == "Caroline"


async def test_occurred_at_defaults_to_now_and_takes_epoch_and_iso(memory: Memory) -> None:
    u = uid()
    plain = await memory.add(u, "no time given")
    rec = await memory.get(u, plain)
    assert rec is not None and rec.occurred_at == rec.created_at
    epoch = await memory.add(u, "an epoch", occurred_at=MAY_8.timestamp())
    iso = await memory.add(u, "an ISO string", occurred_at="2023-06-01T09:00:00+00:00")
    assert (await memory.get(u, epoch)).occurred_at == MAY_8  # type: ignore[union-attr]
    assert (await memory.get(u, iso)).occurred_at == JUNE_1  # type: ignore[union-attr]


async def test_occurred_at_filters_and_newest_first(memory: Memory) -> None:
    u = uid()
    june = await memory.add(u, "The team moved to Berlin in June.", occurred_at=JUNE_1)
    may = await memory.add(u, "The team was in Paris in May.", occurred_at=MAY_8)
    now = await memory.add(u, "The team is in Rome now.")
    # newest by when it happened, not by when it was added
    assert [r.id for r in await memory.get_all(u)] == [now, june, may]
    since = {"occurred_at": {"$gte": "2023-05-20T00:00:00Z"}}
    assert {r.id for r in await memory.get_all(u, filters=since)} == {june, now}
    before = {"occurred_at": {"$lt": JUNE_1}}
    assert [r.id for r in await memory.search(u, "where was the team", filters=before)] == [may]
    assert [r.id for r in await memory.get_all(u, filters={"occurred_at": MAY_8})] == [may]


async def test_speaker_filter(memory: Memory) -> None:
    u = uid()
    ids = await memory.add(
        u,
        [
            {"role": "user", "name": "Caroline", "content": "I adopted a cat."},
            {"role": "user", "name": "Melanie", "content": "I adopted a dog."},
        ],
    )
    got = await memory.get_all(u, filters={"speaker": "Melanie"})
    assert [r.id for r in got] == [ids[1]]


@pytest.mark.parametrize(
    "bad",
    [
        float("nan"),
        float("inf"),
        1e20,
        -1e13,
        "yesterday",
        "2023-13-01",
        True,
        [2023, 5, 8],
    ],
)
async def test_bad_occurred_at_is_refused_and_nothing_stored(memory: Memory, bad: object) -> None:
    u = uid()
    with pytest.raises(MemoryValidationError, match="occurred_at"):
        await memory.add(u, "never stored", occurred_at=bad)  # type: ignore[arg-type]
    with pytest.raises(MemoryValidationError, match="timestamp"):
        await memory.add(
            u,
            [
                {"role": "user", "content": "never stored either"},
                {"role": "user", "content": "nor this", "timestamp": bad},
            ],
        )
    with pytest.raises(MemoryValidationError, match="name"):
        await memory.add(u, [{"role": "user", "content": "no", "name": 42}])
    assert await memory.count(u) == 0
