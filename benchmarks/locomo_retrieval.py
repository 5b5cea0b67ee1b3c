"""Retrieval quality on LoCoMo: hit@1/5/10 per question category, stored two ways.

* **one by one** (how memories without structure are stored): each dialog turn is one
  ``add(user, "Speaker: text")`` of its conversation's user (the sample_id), no session;
* **structured** (importing a conversation): each session is one ``add`` of its messages,
  ``{"role": "user", "name": speaker, "content": text}``, with ``session_id`` and the
  session's date as ``occurred_at``.

Each question of categories 1-4 with evidence is one search of that user's memories; a hit@k
when an evidence turn is among the top k. Rows compare BM25 (SQLite FTS5) and dense
(all-MiniLM-L6-v2 cosine) alone (each with the conversation adjustments, which change nothing
for memories stored one by one), the fusion without the adjustments and the default (fusion +
adjustments, see ``mnemoplug.core.conversation``) on the SQLite default provider.
The last table is search latency (p50/p95, query embedding excluded) at 10,000 memories.

    HF_HUB_OFFLINE=1 python benchmarks/locomo_retrieval.py --data ../shared/data/locomo-dev.json

``--grid`` also sweeps the adjustments' weights (each vector is embedded once, in one batch).
The data set is CC BY-NC 4.0 (research use): it is read from its path, never copied here.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mnemoplug import Memory, RetrievalConfig
from mnemoplug.core._time import now_ts
from mnemoplug.core.embedders import SentenceTransformerEmbedder
from mnemoplug.core.filters import Filter
from mnemoplug.core.memory import provider_from_url
from mnemoplug.core.records import Scope
from mnemoplug.core.retrieval import SearchRequest
from mnemoplug.providers.sqlite import SQLiteMemoryStore

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)
EVIDENCE = re.compile(r"D\d+:\d+")
#: the fusion alone, without the conversation adjustments
FUSION_ONLY = RetrievalConfig(
    neighbour_weight=0.0, session_weight=0.0, speaker_weight=0.0, date_weight=0.0
)


@dataclasses.dataclass
class Session:
    key: str
    date: datetime
    turns: list[tuple[str, str, str]]  # (dia_id, speaker, text)


def load(path: Path) -> tuple[dict[str, list[Session]], list[dict[str, Any]]]:
    data = json.loads(path.read_text())
    sessions: dict[str, list[Session]] = {}
    questions = []
    for sample in data:
        user = sample["sample_id"]
        conv = sample["conversation"]
        rows = []
        for key, value in conv.items():
            if re.fullmatch(r"session_\d+", key) and isinstance(value, list):
                when = datetime.strptime(conv[f"{key}_date_time"], "%I:%M %p on %d %B, %Y")
                turns = [(t["dia_id"], t["speaker"], t["text"]) for t in value]
                rows.append(Session(key, when.replace(tzinfo=UTC), turns))
        sessions[user] = rows
        for qa in sample["qa"]:
            ev = set(EVIDENCE.findall(" ".join(map(str, qa.get("evidence") or []))))
            if qa.get("category") in CATEGORIES and ev:
                questions.append(
                    {"user": user, "q": qa["question"], "evidence": ev, "cat": qa["category"]}
                )
    return sessions, questions


class CachedEmbedder:
    """all-MiniLM-L6-v2, every text embedded once (in batches) and served from a cache."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.relevance_floor = inner.relevance_floor
        self._cache: dict[str, np.ndarray] = {}

    def prime(self, texts: Sequence[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            self._cache.update(zip(todo, self.inner.embed(todo), strict=True))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.prime(texts)
        return np.stack([self._cache[t] for t in texts])


async def store_one_by_one(memory: Memory, sessions: dict[str, list[Session]]) -> dict[str, str]:
    id_to_dia: dict[str, str] = {}
    for user, rows in sessions.items():
        for s in rows:
            for dia, speaker, text in s.turns:
                mid = await memory.add(user, f"{speaker}: {text}")
                id_to_dia[mid] = dia
    return id_to_dia


async def store_structured(
    memory: Memory, sessions: dict[str, list[Session]], *, user: str | None = None, tag: str = ""
) -> dict[str, str]:
    id_to_dia: dict[str, str] = {}
    for owner, rows in sessions.items():
        for s in rows:
            messages = [
                {"role": "user", "name": speaker, "content": text} for _, speaker, text in s.turns
            ]
            ids = await memory.add(
                user or owner, messages, session_id=f"{owner}{tag}/{s.key}", occurred_at=s.date
            )
            id_to_dia.update(zip(ids, (d for d, _, _ in s.turns), strict=True))
    return id_to_dia


def request(q: dict[str, Any], v: np.ndarray, cfg: RetrievalConfig, limit: int) -> SearchRequest:
    return SearchRequest(
        query=q["q"],
        vector=v if cfg.dense_weight > 0 else None,
        limit=limit,
        filters=Filter(None),
        now=now_ts(),
        config=cfg,
    )


async def evaluate(
    provider: Any,
    id_to_dia: dict[str, str],
    questions: list[dict[str, Any]],
    qvecs: np.ndarray,
    cfg: RetrievalConfig,
) -> dict[int, dict[int, float]]:
    hits: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[int, int] = defaultdict(int)
    for q, v in zip(questions, qvecs, strict=True):
        res = await provider.search(Scope(q["user"]), request(q, v, cfg, max(KS)))
        ranked = [id_to_dia[r.memory.id] for r in res]
        counts[q["cat"]] += 1
        counts[0] += 1
        for k in KS:
            if q["evidence"] & set(ranked[:k]):
                hits[q["cat"]][k] += 1
                hits[0][k] += 1
    return {c: {k: hits[c][k] / counts[c] for k in KS} for c in counts}


async def latency(
    provider: Any, user: str, questions: list[dict[str, Any]], qvecs: np.ndarray
) -> dict[str, tuple[float, float]]:
    """p50/p95 milliseconds of provider.search (query vectors given) per configuration; the
    configurations take turns on each query, so a busy machine slows them alike."""
    configs = {"fusion only": FUSION_ONLY, "default (fusion + adjustments)": RetrievalConfig()}
    times: dict[str, list[float]] = {name: [] for name in configs}
    for q, v in zip(questions[:50], qvecs, strict=False):  # warm the cache
        for cfg in configs.values():
            await provider.search(Scope(user), request(q, v, cfg, 10))
    for _ in range(3):
        for q, v in zip(questions, qvecs, strict=True):
            for name, cfg in configs.items():
                t0 = time.perf_counter()
                await provider.search(Scope(user), request(q, v, cfg, 10))
                times[name].append((time.perf_counter() - t0) * 1000)
    out = {}
    for name, ts in times.items():
        ts.sort()
        out[name] = (statistics.median(ts), ts[int(0.95 * len(ts))])
    return out


def table(rows: dict[str, dict[int, dict[int, float]]]) -> list[str]:
    header = (
        "| stored / retrieval | "
        + " | ".join(
            f"{name} hit@{k}"
            for name in ["all", *CATEGORIES.values()]
            for k in KS
            if name == "all" or k == 10
        )
        + " |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for name, r in rows.items():
        cells = [f"{r[0][k]:.3f}" for k in KS] + [f"{r[c][10]:.3f}" for c in CATEGORIES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def grid() -> dict[str, RetrievalConfig]:
    out = {}
    base = RetrievalConfig()
    for field, values in {
        "neighbour_weight": (0.0, 0.25, 0.5, 1.0),
        "session_weight": (0.0, 0.1, 0.3, 0.5),
        "speaker_weight": (0.0, 0.1, 0.2, 0.4),
        "date_weight": (0.0, 0.1, 0.2, 0.4),
        "structure_candidates": (30, 100, 300),
    }.items():
        for v in values:
            if v != getattr(base, field):
                out[f"default, {field}={v}"] = dataclasses.replace(base, **{field: v})
    return out


async def run(args: argparse.Namespace) -> str:
    sessions, questions = load(Path(args.data))
    embedder = CachedEmbedder(SentenceTransformerEmbedder())
    texts = [t for rows in sessions.values() for s in rows for _, _, t in s.turns]
    said = [f"{sp}: {t}" for rows in sessions.values() for s in rows for _, sp, t in s.turns]
    embedder.prime(texts + said)
    qvecs = embedder.embed([q["q"] for q in questions])
    tmp = Path(tempfile.mkdtemp(prefix="mnemoplug-locomo-"))

    def open_store(name: str) -> Any:
        if args.url is None:
            return SQLiteMemoryStore(path=tmp / f"{name}.db")
        return provider_from_url(args.url.replace("{name}", name))

    results: dict[str, dict[int, dict[int, float]]] = {}
    ways = (("one by one", store_one_by_one), ("structured", store_structured))
    for way, store_fn in ways:
        provider = open_store(way.replace(" ", "-"))
        memory = Memory(provider, embedder=embedder, load_entry_points=False)
        t0 = time.perf_counter()
        id_to_dia = await store_fn(memory, sessions)
        print(f"{way}: stored {len(id_to_dia)} turns in {time.perf_counter() - t0:.1f}s",
              file=sys.stderr)  # fmt: skip
        configs = {
            "bm25 (FTS5 on SQLite, else in-process) + adjustments": RetrievalConfig(
                dense_weight=0.0, lexical_weight=1.0
            ),
            "dense (MiniLM) + adjustments": RetrievalConfig(dense_weight=1.0, lexical_weight=0.0),
            "fusion only": FUSION_ONLY,
            "mnemoplug default": RetrievalConfig(),
        }
        if args.grid and way == "structured":
            configs.update(grid())
        for name, cfg in configs.items():
            results[f"{way}: {name}"] = await evaluate(provider, id_to_dia, questions, qvecs, cfg)
        await memory.close()

    # latency at 10,000 memories: every conversation's sessions, repeated, as one user
    provider = open_store("speed")
    memory = Memory(provider, embedder=embedder, load_entry_points=False)
    stored, rounds = 0, 0
    while stored < args.speed_memories:
        part = {u: rows for u, rows in sessions.items()}
        stored += len(await store_structured(memory, part, user="speed", tag=f"#{rounds}"))
        rounds += 1
    speed = await latency(provider, "speed", questions, qvecs)
    await memory.close()

    n_turns = len(texts)
    n_q = {c: sum(1 for q in questions if q["cat"] == c) for c in CATEGORIES}
    lines = table(results)
    lines += [
        "",
        f"| search at {stored:,} memories (query embedding excluded) | p50 ms | p95 ms |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {p50:.2f} | {p95:.2f} |" for name, (p50, p95) in speed.items()]
    meta = (
        f"\nLoCoMo dev ({len(sessions)} conversations, {n_turns} turns, {len(questions)} "
        "questions: "
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
    ap.add_argument("--grid", action="store_true", help="also sweep the adjustments' weights")
    ap.add_argument(
        "--url", help="another provider by URL ({name} = a name per store), e.g. memory://"
    )
    ap.add_argument("--speed-memories", type=int, default=10_000)
    ap.add_argument("--out", default=str(root / "benchmarks" / "results" / "locomo.md"))
    args = ap.parse_args()
    table = asyncio.run(run(args))
    print(table)
    if args.out:
        Path(args.out).write_text("# LoCoMo retrieval (benchmarks/locomo_retrieval.py)\n\n" + table)


if __name__ == "__main__":
    main()
