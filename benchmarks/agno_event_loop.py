"""How long Agno's event loop stalls while the mnemoplug adapter looks memories up and stores
turns, with 8 concurrent ``agent.arun`` runs.

A ticker task sleeps 1 ms in a loop on the same event loop and records how late it wakes up:
the largest lateness is the longest stretch the loop was blocked. Scenarios (same agent, same
offline stand-in model that answers after an ``asyncio.sleep``, never an LLM):

* ``no memory``: the agent without the adapter (the floor).
* ``mnemoplug arun``: ``with_memory(agent, memory)``; ``arun`` awaits lookup and store natively.
* ``sync hooks in arun``: the same adapter driven through Agno's plain ``Agent.arun`` (what the
  adapter did before: its sync hooks block the loop while memory runs on a thread).

Memory: ``Memory`` over SQLite (a temp file) with the real all-MiniLM-L6-v2 embedder, 20
memories per user.

    HF_HUB_OFFLINE=1 python benchmarks/agno_event_loop.py [--concurrency 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agno.agent import Agent
from agno.models.base import Model
from agno.models.response import ModelResponse

from mnemoplug import Memory
from mnemoplug.adapters.agno import with_memory


@dataclass
class StandInModel(Model):
    """Offline stand-in for an LLM: answers after ``delay`` seconds (labelled fake)."""

    id: str = "stand-in"
    name: str = "StandInModel"
    provider: str = "fake"
    delay: float = 0.02

    def _reply(self, kwargs: dict[str, Any]) -> ModelResponse:
        user = [m for m in kwargs["messages"] if m.role == "user"]
        return ModelResponse(role="assistant", content=f"ok: {user[-1].get_content_string()}")

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._reply(kwargs)

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        await asyncio.sleep(self.delay)
        return self._reply(kwargs)

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Iterator[ModelResponse]:
        yield self._reply(kwargs)

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ModelResponse]:
        await asyncio.sleep(self.delay)
        yield self._reply(kwargs)

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        return response

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response


async def ticker(stop: asyncio.Event, lateness: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.001)
        lateness.append(time.perf_counter() - t - 0.001)


async def measure(
    run: Callable[[int, int], Any], concurrency: int, rounds: int
) -> tuple[list[float], float]:
    lateness: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(stop, lateness))
    await asyncio.sleep(0.01)
    start = time.perf_counter()
    for r in range(rounds):
        await asyncio.gather(*[run(r, i) for i in range(concurrency)])
    wall = time.perf_counter() - start
    stop.set()
    await tick
    return lateness, wall


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        memory = Memory(f"sqlite:///{Path(tmp) / 'bench.db'}")
        for i in range(args.concurrency):
            await memory.add(
                f"u{i}", [f"Fact {k} about user {i}: likes item {k}." for k in range(20)]
            )

        plain = Agent(model=StandInModel(), telemetry=False, instructions="Be brief.")
        agent = with_memory(
            Agent(model=StandInModel(), telemetry=False, instructions="Be brief."), memory
        )

        async def no_memory(r: int, i: int) -> Any:
            return await plain.arun(f"Round {r}: what do I like?", user_id=f"u{i}")

        async def native(r: int, i: int) -> Any:
            return await agent.arun(f"Round {r}: what do I like?", user_id=f"u{i}")

        async def sync_hooks(r: int, i: int) -> Any:
            return await Agent.arun(agent, f"Round {r}: what do I like?", user_id=f"u{i}")

        await native(0, 0)  # warm up: model loaded, tables open
        await sync_hooks(0, 0)
        rows = []
        for name, fn in (
            ("no memory", no_memory),
            ("mnemoplug arun", native),
            ("sync hooks in arun", sync_hooks),
        ):
            lateness, wall = await measure(fn, args.concurrency, args.rounds)
            rows.append(
                (
                    name,
                    max(lateness) * 1000,
                    statistics.median(lateness) * 1000,
                    wall / (args.rounds * args.concurrency) * 1000,
                )
            )
        await memory.close()

    print(f"Agno event-loop stalls, {args.concurrency} concurrent runs x {args.rounds} rounds\n")
    print("| scenario | max loop stall (ms) | median tick lateness (ms) | wall per run (ms) |")
    print("|---|---:|---:|---:|")
    for name, worst, med, per in rows:
        print(f"| {name} | {worst:.1f} | {med:.2f} | {per:.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
