"""Retrieval quality on LoCoMo: hit@1/5/10 per question category.

Each dialog turn is stored as one memory ``"Speaker: text"`` of its conversation's user (the
conversation's sample_id); each question of categories 1-4 with evidence is one search of that
user's memories; a hit@k when an evidence turn is among the top k.

    HF_HUB_OFFLINE=1 python benchmarks/locomo_retrieval.py --data ../shared/data/locomo-dev.json

Compares plain BM25 (SQLite FTS5), plain dense (all-MiniLM-L6-v2 cosine) and the fused default
on the SQLite default provider, side by side; ``--grid`` also sweeps fusion weights.
The data set is CC BY-NC 4.0 (research use): it is read from its path, never copied here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from mnemoplug import Memory, RetrievalConfig
from mnemoplug.core._time import now_ts
from mnemoplug.core.filters import Filter
from mnemoplug.core.memory import provider_from_url
from mnemoplug.core.retrieval import SearchRequest
from mnemoplug.providers.sqlite import SQLiteMemoryStore

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)
EVIDENCE = re.compile(r"D\d+:\d+")


def load(path: Path) -> tuple[dict[str, list[tuple[str, str]]], list[dict[str, Any]]]:
    data = json.loads(path.read_text())
    turns: dict[str, list[tuple[str, str]]] = {}
    questions = []
    for sample in data:
        user = sample["sample_id"]
        conv = sample["conversation"]
        rows = []
        for key, value in conv.items():
            if re.fullmatch(r"session_\d+", key) and isinstance(value, list):
                for t in value:
                    rows.append((t["dia_id"], f"{t['speaker']}: {t['text']}"))
        turns[user] = rows
        for qa in sample["qa"]:
            ev = set(EVIDENCE.findall(" ".join(map(str, qa.get("evidence") or []))))
            if qa.get("category") in CATEGORIES and ev:
                questions.append(
                    {"user": user, "q": qa["question"], "evidence": ev, "cat": qa["category"]}
                )
    return turns, questions


CONFIGS = {
    "bm25 (FTS5 on SQLite, else in-process)": RetrievalConfig(dense_weight=0.0, lexical_weight=1.0),
    "dense (MiniLM)": RetrievalConfig(dense_weight=1.0, lexical_weight=0.0),
    "mnemoplug default": RetrievalConfig(),
}


async def run(args: argparse.Namespace) -> str:
    turns, questions = load(Path(args.data))
    tmp = tempfile.mkdtemp(prefix="mnemoplug-locomo-")
    provider: Any = (
        SQLiteMemoryStore(path=Path(tmp) / "locomo.db")
        if args.url is None
        else provider_from_url(args.url)
    )
    memory = Memory(provider, load_entry_points=False)
    assert memory.embedder is not None, "install mnemoplug[embeddings]"
    t0 = time.perf_counter()
    id_to_dia: dict[str, str] = {}
    for user, rows in turns.items():
        for i in range(0, len(rows), 256):
            chunk = rows[i : i + 256]
            ids = await memory.add(user, [text for _, text in chunk])
            id_to_dia.update(zip(ids, (d for d, _ in chunk), strict=True))
    t_add = time.perf_counter() - t0
    qvecs = await asyncio.to_thread(memory.embedder.embed, [q["q"] for q in questions])
    n_turns = sum(len(r) for r in turns.values())
    print(
        f"stored {n_turns} turns of {len(turns)} conversations in {t_add:.1f}s; "
        f"{len(questions)} questions",
        file=sys.stderr,
    )

    configs = dict(CONFIGS)
    if args.grid:
        for dw in (1.0,):
            for lw in (0.2, 0.3, 0.4, 0.7, 1.0):
                configs[f"dense {dw} + lexical {lw}"] = RetrievalConfig(
                    dense_weight=dw, lexical_weight=lw
                )
        for ratio in (None, 0.02, 0.1, 0.25):
            configs[f"default, common_term_ratio={ratio}"] = RetrievalConfig(
                common_term_ratio=ratio
            )

    async def evaluate(cfg: RetrievalConfig) -> dict[int, dict[int, float]]:
        hits: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        counts: dict[int, int] = defaultdict(int)
        for q, v in zip(questions, qvecs, strict=True):
            from mnemoplug.core.records import Scope

            req = SearchRequest(
                query=q["q"],
                vector=v if cfg.dense_weight > 0 else None,
                limit=max(KS),
                filters=Filter(None),
                now=now_ts(),
                config=cfg,
            )
            res = await provider.search(Scope(q["user"]), req)
            ranked = [id_to_dia[r.memory.id] for r in res]
            counts[q["cat"]] += 1
            counts[0] += 1
            for k in KS:
                if q["evidence"] & set(ranked[:k]):
                    hits[q["cat"]][k] += 1
                    hits[0][k] += 1
        return {c: {k: hits[c][k] / counts[c] for k in KS} for c in counts}

    header = (
        "| retrieval | "
        + " | ".join(
            f"{name} hit@{k}"
            for name in ["all", *CATEGORIES.values()]
            for k in KS
            if name == "all" or k == 10
        )
        + " |"
    )
    cols = header.count("|") - 1
    lines = [header, "|" + "---|" * cols]
    for name, cfg in configs.items():
        r = await evaluate(cfg)
        cells = [f"{r[0][k]:.3f}" for k in KS] + [f"{r[c][10]:.3f}" for c in CATEGORIES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    await memory.close()
    n_q = {c: sum(1 for q in questions if q["cat"] == c) for c in CATEGORIES}
    meta = (
        f"\nLoCoMo dev ({len(turns)} conversations, {n_turns} turns, {len(questions)} questions: "
        + ", ".join(f"{CATEGORIES[c]} {n}" for c, n in n_q.items())
        + f"), provider: {provider.name} ({type(provider).__name__}), all-MiniLM-L6-v2.\n"
    )
    return "\n".join(lines) + "\n" + meta


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=str(root.parent / "shared" / "data" / "locomo-dev.json"))
    ap.add_argument("--grid", action="store_true", help="also sweep fusion weights")
    ap.add_argument("--url", help="another provider by URL, e.g. memory:// (default: SQLite)")
    ap.add_argument("--out", default=str(root / "benchmarks" / "results" / "locomo.md"))
    args = ap.parse_args()
    table = asyncio.run(run(args))
    print(table)
    if args.out:
        Path(args.out).write_text("# LoCoMo retrieval (benchmarks/locomo_retrieval.py)\n\n" + table)


if __name__ == "__main__":
    main()
