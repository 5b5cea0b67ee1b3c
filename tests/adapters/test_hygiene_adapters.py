"""Memory hygiene through each adapter's real agent loop (issue 10): a fact stated once stays
in the injected top 5 through 12 differently-worded questions about it. The frameworks' fake
models stand in for LLMs (see ``rex_scenario``)."""

from __future__ import annotations

from typing import Any

import pytest

from mnemoplug import Memory

from .rex_scenario import ADAPTERS, ASKS, FACT, run_scenario

pytest.importorskip("pydantic_ai")
pytest.importorskip("langchain.agents")
pytest.importorskip("agno")


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_fact_stays_injected_through_many_questions(adapter: str, embedder: Any) -> None:
    memory = Memory("memory://", embedder=embedder, load_entry_points=False)
    run = await run_scenario(adapter, memory)
    assert len(run.ranks) == len(ASKS) >= 10
    assert all(r is not None and r <= 5 for r in run.ranks), run.ranks
    assert all(run.told), run.told  # the model was told the fact on every ask
    kept = [m.content for m in await memory.get_all("u1")]
    assert FACT in kept and not any(q in kept for q in ASKS)  # no question became a memory
    assert len(kept) <= 3  # the fact, "Noted." once, at most one restated answer


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_fact_stays_injected_when_answers_vary(adapter: str, embedder: Any) -> None:
    """A model that words every answer differently: the restatements are kept (they are
    statements), yet the fact stays in the five."""
    memory = Memory("memory://", embedder=embedder, load_entry_points=False)
    run = await run_scenario(adapter, memory, vary=True)
    assert all(r is not None and r <= 5 for r in run.ranks), run.ranks
    assert all(run.told)


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_storing_every_message_loses_the_fact(adapter: str, embedder: Any) -> None:
    """The same run with the rules off (as before issue 10): the questions and repeated
    answers crowd the fact out of the injected five."""
    memory = Memory(
        "memory://", embedder=embedder, load_entry_points=False, dedupe=False, questions="keep"
    )
    run = await run_scenario(adapter, memory)
    assert not all(run.told)
    assert any(r is None or r > 5 for r in run.ranks)
