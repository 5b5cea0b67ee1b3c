"""Memory hygiene (issue 10): does a fact stated once stay in the injected top 5?

The user says "My dog is called Rex." once, then asks about it in 12 differently-worded
questions, through each adapter's real agent loop on the framework's fake model (PydanticAI
``FunctionModel``, a LangChain fake chat model, a small Agno ``Model`` subclass, and
``agent_endpoint``; each fake answers "Your dog is called Rex." when it was told the fact,
else "Noted."). Printed per ask: the fact's rank among the memories searched with that ask
(what the adapter injects; top 5 by default), before (``dedupe=False, questions="keep"``:
every message stored, as before issue 10) and after (the defaults). Also: the dedupe rule on
the labelled pairs it was calibrated on, and what ``remember`` costs over ``add`` per turn.

    HF_HUB_OFFLINE=1 python benchmarks/hygiene.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np
from speed import write_result

from mnemoplug import Memory
from mnemoplug.core.embedders import SentenceTransformerEmbedder
from mnemoplug.core.hygiene import Dedupe, near_duplicate
from tests.adapters.rex_scenario import ADAPTERS, ASKS, run_scenario
from tests.core.hygiene_pairs import DIFFERENT, SAME

BEFORE = {"dedupe": False, "questions": "keep"}
SETTINGS: list[tuple[str, dict[str, Any], bool]] = [
    ("before", BEFORE, False),
    ("after", {}, False),
    ("after, answers vary", {}, True),
]


def _rank(r: int | None) -> str:
    return "—" if r is None else str(r)


async def scenario(embedder: Any) -> list[str]:
    lines = [
        "## The Rex scenario: the fact's rank per ask (top 5 is injected)",
        "",
        "Columns per adapter: before (every message stored) / after (defaults) / after with a "
        "model that words every answer differently.",
        "",
        "| ask | " + " | ".join(f"{a} before | after | vary" for a in ADAPTERS) + " |",
        "|---|" + "---|---|---|" * len(ADAPTERS),
    ]
    runs: dict[tuple[str, str], Any] = {}
    rows: dict[tuple[str, str], int] = {}
    for adapter in ADAPTERS:
        for label, opts, vary in SETTINGS:
            memory = Memory("memory://", embedder=embedder, load_entry_points=False, **opts)
            runs[adapter, label] = await run_scenario(adapter, memory, vary=vary)
            rows[adapter, label] = await memory.count("u1")
    for i, ask in enumerate(ASKS):
        cells = []
        for adapter in ADAPTERS:
            for label, _, _ in SETTINGS:
                cells.append(_rank(runs[adapter, label].ranks[i]))
        lines.append(f"| {i + 1}. {ask} | " + " | ".join(cells) + " |")
    lines += ["", "| adapter | setting | asks with the fact in the top 5 | memories kept |"]
    lines.append("|---|---|---|---|")
    for adapter in ADAPTERS:
        for label, _, _ in SETTINGS:
            ranks = runs[adapter, label].ranks
            hit = sum(1 for r in ranks if r is not None and r <= 5)
            lines.append(f"| {adapter} | {label} | {hit}/{len(ranks)} | {rows[adapter, label]} |")
    return lines


def pairs(embedder: Any) -> list[str]:
    d = Dedupe()

    def cos(a: str, b: str) -> float:
        v = np.asarray(embedder.embed([a, b]), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return float(v[0] @ v[1])

    same = [(a, b, cos(a, b)) for a, b in SAME]
    diff = [(a, b, cos(a, b)) for a, b in DIFFERENT]
    merged_same = sum(near_duplicate(b, a, c, d) for a, b, c in same)
    merged_diff = sum(near_duplicate(b, a, c, d) for a, b, c in diff)
    cos_only = sum(c >= d.cosine for _, _, c in diff)
    return [
        "## Dedupe on the labelled pairs (tests/core/hygiene_pairs.py)",
        "",
        "| rule | paraphrases merged | different facts merged |",
        "|---|---|---|",
        f"| cosine ≥ {d.cosine} alone | {sum(c >= d.cosine for *_, c in same)}/{len(same)} | "
        f"{cos_only}/{len(diff)} |",
        f"| near_duplicate (cosine or text ≥ {d.text}, with the guards) | "
        f"{merged_same}/{len(same)} | {merged_diff}/{len(diff)} |",
        "",
        f"Cosine of paraphrases: min {min(c for *_, c in same):.3f}, median "
        f"{statistics.median(c for *_, c in same):.3f}; of different facts: median "
        f"{statistics.median(c for *_, c in diff):.3f}, max {max(c for *_, c in diff):.3f}.",
    ]


async def cost(embedder: Any, n: int, turns: int) -> list[str]:
    out: dict[str, list[float]] = {}
    for label, opts in (("add", None), ("remember", {})):
        memory = Memory("memory://", embedder=embedder, load_entry_points=False)
        await memory.add("u1", [f"Fact number {i} about topic {i % 97}." for i in range(n)])
        times = []
        for t in range(turns):
            turn = [
                {"role": "user", "content": f"I visited city {t} on day {t % 7}."},
                {"role": "assistant", "content": f"How was city {t}?"},
            ]
            t0 = time.perf_counter()
            if opts is None:
                await memory.add("u1", turn)
            else:
                await memory.remember("u1", turn)
            times.append(time.perf_counter() - t0)
        out[label] = times
    p50 = {k: statistics.median(v) * 1000 for k, v in out.items()}
    return [
        f"## Cost per two-message turn ({n} memories, {turns} turns, in-process store)",
        "",
        "| call | p50 ms |",
        "|---|---|",
        f"| add(turn) | {p50['add']:.2f} |",
        f"| remember(turn) (one lookup per message, then add) | {p50['remember']:.2f} |",
    ]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="memories for the cost table")
    ap.add_argument("--turns", type=int, default=30, help="turns timed for the cost table")
    ap.add_argument("--out", default="hygiene")
    args = ap.parse_args()
    embedder = SentenceTransformerEmbedder()
    embedder.warmup()
    lines = ["# Memory hygiene", ""]
    lines += await scenario(embedder)
    lines += ["", *pairs(embedder)]
    lines += ["", *await cost(embedder, args.n, args.turns)]
    text = "\n".join(lines) + "\n"
    print(text)
    print(f"written to {write_result(args.out, text)}")


if __name__ == "__main__":
    asyncio.run(main())
