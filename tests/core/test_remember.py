"""Memory.remember and the default hygiene rules (issue 10, item 3), on a real store and the
real embedding model; add() stays literal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from mnemoplug import ConfigurationError, Memory
from mnemoplug.core.hygiene import Dedupe, HygieneExtractor, is_question, near_duplicate

from .hygiene_pairs import DIFFERENT, QUESTIONS, SAME


@pytest.fixture
async def memory(embedder: Any, tmp_path: Any) -> AsyncIterator[Memory]:
    mem = Memory(f"sqlite:///{tmp_path / 'm.db'}", embedder=embedder, load_entry_points=False)
    yield mem
    await mem.close()


def _cosine(embedder: Any, a: str, b: str) -> float:
    v = np.asarray(embedder.embed([a, b]), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return float(v[0] @ v[1])


def test_thresholds_on_the_labelled_pairs(embedder: Any) -> None:
    d = Dedupe()
    merged_same = [a for a, b in SAME if near_duplicate(b, a, _cosine(embedder, a, b), d)]
    merged_different = [
        (a, b) for a, b in DIFFERENT if near_duplicate(b, a, _cosine(embedder, a, b), d)
    ]
    assert merged_different == []  # never merge two different facts
    assert len(merged_same) >= 14  # of 18 paraphrases
    # without an embedder only the text rule is left: still no wrong merge
    assert not any(near_duplicate(b, a, None, d) for a, b in DIFFERENT)


@pytest.mark.parametrize(("text", "asks"), QUESTIONS)
def test_question_rule(text: str, asks: bool) -> None:
    assert is_question(text) is asks


async def test_add_of_a_conversation_stores_every_message_in_order(memory: Memory) -> None:
    convo = [
        {"role": "user", "content": "My dog is called Rex."},
        {"role": "assistant", "content": "Nice!"},
        {"role": "user", "content": "What is my dog called?"},
        {"role": "assistant", "content": "Nice!"},
        {"role": "user", "content": "My dog is called Rex."},
    ]
    ids = await memory.add("u1", convo)
    assert len(ids) == 5 and len(set(ids)) == 5
    got = [await memory.get("u1", i) for i in ids]
    assert [(r.role, r.content) for r in got if r] == [(m["role"], m["content"]) for m in convo]


async def test_remember_skips_questions_and_merges_repeats(memory: Memory) -> None:
    ops = await memory.remember(
        "u1",
        [
            {"role": "user", "content": "My dog is called Rex."},
            {"role": "assistant", "content": "Noted."},
        ],
    )
    assert [o.kind for o in ops] == ["add", "add"] and all(o.memory_id for o in ops)
    fact_id = ops[0].memory_id
    ops = await memory.remember(
        "u1",
        [
            {"role": "user", "content": "What is my dog called?"},
            {"role": "assistant", "content": "Noted."},
        ],
    )
    assert [(o.kind, o.reason) for o in ops] == [("none", "question"), ("none", ops[1].reason)]
    assert await memory.count("u1") == 2
    # the same fact in other words updates the memory instead of adding a row
    ops = await memory.remember("u1", [{"role": "user", "content": "My dog's name is Rex."}])
    assert [(o.kind, o.memory_id) for o in ops] == [("update", fact_id)]
    assert await memory.count("u1") == 2
    rec = await memory.get("u1", fact_id or "")
    assert rec is not None and rec.content == "My dog's name is Rex."
    # a different fact in nearly the same words is a new memory
    ops = await memory.remember("u1", [{"role": "user", "content": "My dog is called Max."}])
    assert [o.kind for o in ops] == ["add"] and await memory.count("u1") == 3


async def test_dedupe_never_crosses_users(memory: Memory) -> None:
    await memory.add("bob", "My dog is called Rex.", session_id="s")
    ops = await memory.remember("alice", [{"role": "user", "content": "My dog is called Rex."}])
    assert [o.kind for o in ops] == ["add"]
    assert await memory.count("alice") == 1 and await memory.count("bob") == 1


async def test_dedupe_across_sessions_of_the_user(memory: Memory) -> None:
    await memory.remember("u1", ["My dog is called Rex."], session_id="s1")
    ops = await memory.remember("u1", ["my dog is called Rex"], session_id="s2")
    assert [o.kind for o in ops] == ["none"]
    assert await memory.count("u1") == 1


async def test_settings_restore_store_everything(embedder: Any) -> None:
    memory = Memory(
        "memory://", embedder=embedder, load_entry_points=False, dedupe=False, questions="keep"
    )
    turn = [
        {"role": "user", "content": "What is my dog called?"},
        {"role": "assistant", "content": "Rex."},
    ]
    for _ in range(2):
        ops = await memory.remember("u1", turn)
        assert [o.kind for o in ops] == ["add", "add"]
    assert await memory.count("u1") == 4


async def test_without_an_embedder_the_text_rule_dedupes() -> None:
    memory = Memory("memory://", embedder=None, load_entry_points=False)
    await memory.remember("u1", ["I'm allergic to peanuts."])
    ops = await memory.remember("u1", ["I am allergic to peanuts."])
    assert [o.kind for o in ops] == ["update"] and await memory.count("u1") == 1


def test_bad_settings_say_what_to_pass() -> None:
    with pytest.raises(ConfigurationError, match="questions"):
        Memory("memory://", embedder=None, questions="sometimes")
    with pytest.raises(ConfigurationError, match="dedupe"):
        Memory("memory://", embedder=None, dedupe="yes")
    with pytest.raises(ConfigurationError, match="cosine"):
        Dedupe(cosine=1.5)
    with pytest.raises(ConfigurationError, match="default extractor"):
        Memory("memory://", embedder=None, extractor=lambda t: [], dedupe=False)
    with pytest.raises(ConfigurationError, match="callable"):
        Memory("memory://", embedder=None, extractor="llm")
    assert isinstance(Memory("memory://", embedder=None).extractor, HygieneExtractor)


def test_sync_memory_remember(embedder: Any) -> None:
    from mnemoplug import SyncMemory

    with SyncMemory("memory://", embedder=embedder, load_entry_points=False) as sm:
        assert [o.kind for o in sm.remember("u1", ["My dog is called Rex."])] == ["add"]
        assert [o.kind for o in sm.remember("u1", ["What is my dog called?"])] == ["none"]
        assert sm.count("u1") == 1
