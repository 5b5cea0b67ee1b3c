"""Speed of the embedded default (SQLite file + all-MiniLM-L6-v2) for one user (issue 2).

Measures, on one user with ``--n`` memories (10,000 by default):

(a) search latency EXCLUDING the query embedding — the provider called directly with a
    precomputed query vector, and the ``Memory`` facade with a warm query-embedding cache;
(b) search latency INCLUDING the query embedding — distinct queries, cold cache;
(c) add throughput — ``memory.add(user, list_of_strings)`` in batches, and one at a time;
(d) hook dispatch overhead — ``HookManager.call`` with PIIRedactor + AuditLog vs no plugins,
    and the add/search delta through the facade;
(e) numpy BLAS threads vs torch encode interplay (threadpoolctl / torch.set_num_threads).

Prints a markdown table and writes it to ``benchmarks/results/speed.md``.

    HF_HUB_OFFLINE=1 python benchmarks/speed.py                  # full run (10k memories)
    HF_HUB_OFFLINE=1 python benchmarks/speed.py --n 1000 --queries 50   # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

# -- synthetic but varied memories ------------------------------------------------------------
_NAMES = ["Alice", "Bob", "Carla", "Dmitri", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Jia",
          "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq"]
_RELS = ["sister", "brother", "manager", "dentist", "neighbour", "cousin", "colleague", "landlord",
         "best friend", "yoga teacher", "accountant", "daughter", "son", "flatmate"]
_FOODS = ["sushi", "ramen", "tacos", "lasagna", "falafel", "pho", "dumplings", "paella", "curry",
          "pancakes", "oatmeal", "kimchi", "risotto", "goulash", "ceviche", "dark chocolate",
          "espresso", "green tea", "oat milk lattes", "spicy food", "mushrooms", "olives"]
_CITIES = ["Lisbon", "Osaka", "Berlin", "Toronto", "Nairobi", "Lima", "Oslo", "Hanoi", "Denver",
           "Krakow", "Melbourne", "Marrakesh", "Reykjavik", "Seoul", "Porto", "Austin", "Zurich"]
_HOBBIES = ["bouldering", "watercolour painting", "chess", "sourdough baking", "trail running",
            "birdwatching", "playing the cello", "pottery", "salsa dancing", "woodworking",
            "kayaking", "knitting", "photography", "gardening", "astronomy", "fencing"]
_TOOLS = ["Python", "Rust", "TypeScript", "Go", "PostgreSQL", "Kubernetes", "Figma", "Excel",
          "Vim", "VS Code", "Terraform", "React", "Django", "Kotlin", "Julia", "Blender"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_PETS = ["a beagle", "two cats", "a parrot", "a corgi", "a rescue greyhound", "goldfish",
         "a tortoise", "a rabbit", "a husky", "a bearded dragon"]
_ADJ = ["really", "absolutely", "mildly", "deeply", "not at all", "secretly", "openly", "truly"]
_THINGS = ["dark mode", "long emails", "early meetings", "jazz", "podcasts about history",
           "sci-fi novels", "crowded trains", "rainy weather", "board games", "open-plan offices",
           "minimalist design", "spreadsheets", "horror films", "techno music", "cold showers"]

_TEMPLATES = [
    "User prefers {thing}.",
    "User {adj} dislikes {thing}.",
    "User's favourite food is {food}.",
    "User is allergic to {food}.",
    "User lives in {city} and works remotely on {day}s.",
    "User is planning a trip to {city} next {month}.",
    "User's {rel} {name} lives in {city}.",
    "User's {rel} is called {name} and loves {food}.",
    "User has {pet} named {name}.",
    "User took up {hobby} in {year}.",
    "User goes {hobby} every {day} with {name}.",
    "User writes most of their code in {tool} and reviews {tool2} on {day}s.",
    "User is learning {tool} for a project about {thing}.",
    "User's birthday is on {month} {dom}.",
    "User has a dentist appointment on {day} at {hour}:00.",
    "User asked to be reminded to call {name} about {thing} on {day}.",
    "User mentioned that {name} recommended a restaurant in {city} serving {food}.",
    "User drinks {food} every morning before {hobby}.",
    "User said the meeting with {name} about {tool} went badly.",
    "User moved from {city} to {city2} in {year}.",
]
_TAILS = [" (mentioned on {day})", " They said this in {month}.", " {name} was there too.",
          " This came up while talking about {city}.", " Not sure it still holds.",
          " It was said twice.", " Keep this in mind for {month}."]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def make_corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` varied, realistic-looking memory sentences (templated facts with a vocabulary)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = _TEMPLATES[i % len(_TEMPLATES)] if i < len(_TEMPLATES) else rng.choice(_TEMPLATES)
        out.append(t.format(
            thing=rng.choice(_THINGS), adj=rng.choice(_ADJ), food=rng.choice(_FOODS),
            city=rng.choice(_CITIES), city2=rng.choice(_CITIES), day=rng.choice(_DAYS),
            month=rng.choice(_MONTHS), rel=rng.choice(_RELS), name=rng.choice(_NAMES),
            pet=rng.choice(_PETS), hobby=rng.choice(_HOBBIES), year=rng.randint(1998, 2026),
            tool=rng.choice(_TOOLS), tool2=rng.choice(_TOOLS), dom=rng.randint(1, 28),
            hour=rng.randint(8, 18),
        ) + (rng.choice(_TAILS).format(day=rng.choice(_DAYS), month=rng.choice(_MONTHS),
                                       name=rng.choice(_NAMES), city=rng.choice(_CITIES))
             if rng.random() < 0.6 else ""))
    return out


_QTEMPLATES = [
    "What food does the user like?", "Where does the user's {rel} live?",
    "Does the user have any pets?", "When is the user's birthday?",
    "What does the user think about {thing}?", "Is the user allergic to anything?",
    "Which programming language does the user use?", "What hobbies does the user have?",
    "Who is {name}?", "Has the user been to {city}?", "What does the user do on {day}?",
    "Which UI theme does the user like?", "What is the user learning?",
    "When is the dentist appointment?", "What should I remind the user about?",
    "Where is the user travelling in {month}?", "Does the user like {food}?",
    "What does {name} recommend in {city}?", "How does the user feel about {hobby}?",
]


def make_queries(n: int, seed: int = 1) -> list[str]:
    """``n`` distinct natural-language questions (a numeric suffix keeps them distinct)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    i = 0
    while len(out) < n:
        q = rng.choice(_QTEMPLATES).format(
            rel=rng.choice(_RELS), thing=rng.choice(_THINGS), name=rng.choice(_NAMES),
            city=rng.choice(_CITIES), day=rng.choice(_DAYS), month=rng.choice(_MONTHS),
            food=rng.choice(_FOODS), hobby=rng.choice(_HOBBIES),
        )
        if q in seen:
            i += 1
            q = f"{q[:-1]} ({i})?"
        seen.add(q)
        out.append(q)
    return out


# -- timing helpers (the shared harness) ------------------------------------------------------
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Latencies, Table, ameasure, machine_line, ms, pct, write_result  # noqa: E402


def stats_ms(xs_s: list[float]) -> tuple[float, float]:
    ms_ = [x * 1000 for x in xs_s]
    return statistics.median(ms_), pct(ms_, 95)


def env_line() -> str:
    return machine_line()


class CachedEmbedder:
    """Wraps a real embedder; vectors of texts seen before come from a dict (to take the
    model out of a measurement while the facade and provider do their normal work)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.table: dict[str, np.ndarray] = {}

    def prime(self, texts: list[str], vecs: np.ndarray) -> None:
        self.table.update(zip(texts, vecs, strict=True))

    def embed(self, texts: Any) -> np.ndarray:
        missing = [t for t in texts if t not in self.table]
        if missing:
            self.prime(missing, self.inner.embed(missing))
        return np.stack([self.table[t] for t in texts])

    async def aembed(self, texts: Any) -> np.ndarray:
        return self.embed(texts)


# -- the benchmark ----------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> str:
    from mnemoplug.core.embedders import SentenceTransformerEmbedder
    from mnemoplug.embedding import OnnxEmbedder
    from mnemoplug.core.filters import compile_filters
    from mnemoplug.core.memory import Memory
    from mnemoplug.core.plugins import HookManager
    from mnemoplug.core.records import Scope
    from mnemoplug.core.retrieval import SearchRequest
    from mnemoplug.plugins.audit import AuditLog
    from mnemoplug.plugins.pii import PIIRedactor
    from mnemoplug.providers.sqlite import SQLiteMemoryStore

    rows: list[tuple[str, str, str, str]] = []  # (what, p50/value, p95, target)
    notes: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="mnemoplug-speed-"))
    corpus = make_corpus(args.n)
    queries = make_queries(args.queries * 3)
    q_warm, q_cold, q_hooks = (queries[: args.queries], queries[args.queries: 2 * args.queries],
                               queries[2 * args.queries:])

    t0 = time.perf_counter()
    emb: Any = OnnxEmbedder() if args.embedder == "onnx" else SentenceTransformerEmbedder()
    # warm up on the embedder's own thread, the one Memory encodes on: torch (OpenMP) gives every
    # calling thread its own worker team, and two teams fight over 2 cores
    await emb.aembed(["warm up"])
    notes.append(f"embedder load + first encode: {time.perf_counter() - t0:.2f} s")

    # (c) add throughput, batched: this also fills the store for the search measurements
    provider = SQLiteMemoryStore(path=tmp / "speed.db")
    memory = Memory(provider, embedder=emb, load_entry_points=False)
    await memory.open()
    user = "user-1"
    t0 = time.perf_counter()
    for i in range(0, len(corpus), args.batch):
        await memory.add(user, corpus[i: i + args.batch], metadata={"source": "bench"})
    dt = time.perf_counter() - t0
    rows.append((f"(c) add, batches of {args.batch} ({args.n:,} memories)", f"{args.n / dt:,.0f} /s", "",
                 "≥ 250 /s"))
    # embedding alone, same batches, to show where the add time goes
    t0 = time.perf_counter()
    sample = corpus[: min(len(corpus), 2000)]
    for i in range(0, len(sample), args.batch):
        await emb.aembed(sample[i: i + args.batch])
    dt_e = time.perf_counter() - t0
    rows.append((f"(c) … of which embedding alone ({len(sample):,} texts)", f"{len(sample) / dt_e:,.0f} /s",
                 "", ""))
    one = make_corpus(args.single, seed=7)
    t0 = time.perf_counter()
    for s in one:
        await memory.add("user-single", s)
    dt = time.perf_counter() - t0
    rows.append((f"(c) add, one at a time ({args.single} memories)", f"{args.single / dt:,.0f} /s", "", ""))

    # (a) provider directly with precomputed query vectors
    scope = Scope(user_id=user)
    qvecs = await emb.aembed(q_warm)
    nofilter = compile_filters(None)

    def req(q: str, v: np.ndarray, **kw: Any) -> SearchRequest:
        return SearchRequest(query=q, vector=v, limit=10, filters=nofilter, now=time.time(),
                             config=memory.retrieval, **kw)

    t0 = time.perf_counter()
    await provider.search(scope, req(q_warm[0], qvecs[0]))  # builds this user's cached index
    notes.append(f"first search after the adds (index already cached by our own writes): "
                 f"{(time.perf_counter() - t0) * 1000:.1f} ms")
    # a cold cache: a fresh provider on the same file loads the user's matrix once
    cold = SQLiteMemoryStore(path=tmp / "speed.db")
    await cold.open()
    t0 = time.perf_counter()
    await cold.search(scope, req(q_warm[0], qvecs[0]))
    notes.append(f"first search on a freshly opened provider (loads {args.n:,} rows into the index): "
                 f"{(time.perf_counter() - t0) * 1000:.1f} ms")
    await cold.close()

    async def time_provider(tag: str) -> None:
        lat = []
        for _ in range(args.rounds):
            for q, v in zip(q_warm, qvecs, strict=True):
                r = req(q, v)
                t = time.perf_counter()
                await provider.search(scope, r)
                lat.append(time.perf_counter() - t)
        p50, p95 = stats_ms(lat)
        rows.append((f"(a) provider.search, precomputed vector{tag}", f"{p50:.2f} ms", f"{p95:.2f} ms", "p50 < 2 ms"))

    await time_provider("")
    # facade with a warm query-embedding cache
    for q in q_warm:
        await memory.search(user, q)
    lat = []
    for _ in range(args.rounds):
        for q in q_warm:
            t = time.perf_counter()
            await memory.search(user, q)
            lat.append(time.perf_counter() - t)
    p50, p95 = stats_ms(lat)
    rows.append(("(a) Memory.search, warm query cache", f"{p50:.2f} ms", f"{p95:.2f} ms", "p50 < 2 ms"))

    # (b) including the query embedding: distinct queries, cold cache
    lat = []
    for q in q_cold:
        t = time.perf_counter()
        await memory.search(user, q)
        lat.append(time.perf_counter() - t)
    p50, p95 = stats_ms(lat)
    rows.append(("(b) Memory.search, cold cache (embeds the query)", f"{p50:.2f} ms", f"{p95:.2f} ms", "< 15 ms"))
    lat = []
    for q in q_hooks:
        t = time.perf_counter()
        await emb.aembed([q])
        lat.append(time.perf_counter() - t)
    p50, p95 = stats_ms(lat)
    rows.append(("(b) … of which the query embedding alone (aembed, one text)", f"{p50:.2f} ms", f"{p95:.2f} ms", ""))

    # (d) hook dispatch overhead
    from mnemoplug.core.contexts import MemoryAddContext, MemorySearchContext

    audit_path = tmp / "audit.jsonl"
    hm_none = HookManager([], load_entry_points=False)
    hm_both = HookManager([PIIRedactor(), AuditLog(audit_path)], load_entry_points=False)
    hits = await memory.search(user, q_warm[0])

    def add_ctx(text: str) -> Any:
        return MemoryAddContext(operation="add", scope=scope, memory_content=text,
                                metadata={"source": "bench"}, role=None, memory_id="x")

    def search_ctx(q: str) -> Any:
        return MemorySearchContext(operation="search", scope=scope, memory_query=q,
                                   memory_results=list(hits), limit=10, filters=None)

    async def per_op(hm: Any, name: str, make: Any, texts: list[str]) -> float:
        if not hm.has(name):
            t = time.perf_counter()
            for x in texts:
                make(x)
                hm.has(name)
            return (time.perf_counter() - t) / len(texts)
        ctxs = [make(x) for x in texts]
        t = time.perf_counter()
        for c in ctxs:
            await hm.call(name, c, rejecting=name == "on_memory_add")
        return (time.perf_counter() - t) / len(texts)

    hook_texts = corpus[: args.hook_ops]
    for name, make, texts in (("on_memory_add", add_ctx, hook_texts),
                              ("on_memory_added", add_ctx, hook_texts),
                              ("on_memory_search", search_ctx, [q for q in queries][: args.hook_ops])):
        reps_none, reps_both = [], []
        for _ in range(5):
            reps_none.append(await per_op(hm_none, name, make, texts))
            reps_both.append(await per_op(hm_both, name, make, texts))
        n_us, b_us = statistics.median(reps_none) * 1e6, statistics.median(reps_both) * 1e6
        rows.append((f"(d) HookManager.call {name}: PII+audit vs none", f"{b_us:.1f} µs vs {n_us:.1f} µs",
                     "", "< 50 µs"))

    # facade deltas with the model taken out (vectors from a table), same provider kind
    cached = CachedEmbedder(emb)
    delta_texts = make_corpus(args.hook_ops * 2, seed=11)
    cached.prime(delta_texts, await emb.aembed(delta_texts))
    cached.prime(q_warm, qvecs)
    # in-process provider here: the hooks do not depend on the provider, and a SQLite commit
    # (~2 ms) would bury a 50 µs difference in noise
    from mnemoplug.providers.inprocess import InProcessMemoryStore

    dprov_a, dprov_b = InProcessMemoryStore(), InProcessMemoryStore()
    m_none = Memory(dprov_a, embedder=cached, load_entry_points=False)
    m_both = Memory(dprov_b, embedder=cached, plugins=[PIIRedactor(), AuditLog(tmp / "audit2.jsonl")],
                    load_entry_points=False)
    for m in (m_none, m_both):
        await m.open()
        await m.add(user, corpus[: 1000])
    add_none, add_both, s_none, s_both = [], [], [], []
    half = args.hook_ops
    for j in range(half):
        for m, acc, txt in ((m_none, add_none, delta_texts[j]), (m_both, add_both, delta_texts[half + j])):
            t = time.perf_counter()
            await m.add(user, txt)
            acc.append(time.perf_counter() - t)
    for _ in range(args.rounds):
        for q in q_warm:
            for m, acc in ((m_none, s_none), (m_both, s_both)):
                t = time.perf_counter()
                await m.search(user, q)
                acc.append(time.perf_counter() - t)
    an, _ = stats_ms(add_none)
    ab, _ = stats_ms(add_both)
    sn, _ = stats_ms(s_none)
    sb, _ = stats_ms(s_both)
    rows.append(("(d) Memory.add (memory://, 1 memory, vector from a table): PII+audit vs none",
                 f"{ab:.3f} vs {an:.3f} ms", f"Δ {1000 * (ab - an):.0f} µs", "< 50 µs"))
    rows.append(("(d) Memory.search (memory://, 1k memories, warm cache): PII+audit vs none",
                 f"{sb:.3f} vs {sn:.3f} ms", f"Δ {1000 * (sb - sn):.0f} µs", "< 50 µs"))
    for m in (m_none, m_both):
        await m.close()

    # (f) the SyncMemory path on a store filled one add at a time, and (g) where the time goes
    breakdown = await sync_path_and_breakdown(provider, memory, emb, user, corpus, q_warm, q_cold,
                                              rows, tmp, args)

    # (e) numpy BLAS threads vs torch encode
    if not args.skip_threads:
        rows.extend(await thread_interplay(provider, scope, emb, q_cold, qvecs, req, args))

    await memory.close()
    await provider.close()

    head = [
        f"# Speed: SQLite default provider, one user, {args.n:,} memories, all-MiniLM-L6-v2",
        "",
        f"Machine: {env_line()}. Query count {args.queries} × {args.rounds} rounds; "
        f"latencies are medians (p50) and 95th percentiles over all calls in one run.",
        "",
        "| measurement | p50 / value | p95 / note | target |",
        "|---|---|---|---|",
    ]
    body = [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    tail = ["", *[f"- {n}" for n in notes], "", breakdown, ""]
    return "\n".join(head + body + tail)


async def sync_path_and_breakdown(provider: Any, memory: Any, emb: Any, user: str, corpus: list[str],
                                  q_warm: list[str], q_cold: list[str],
                                  rows: list[tuple[str, str, str, str]], tmp: Path,
                                  args: argparse.Namespace) -> str:
    """(f) ``SyncMemory.search`` on a store filled one ``add`` at a time (as an agent fills it),
    with the query vector cached and without; (g) where the time of each operation goes."""
    from mnemoplug import SyncMemory
    from mnemoplug.core.filters import compile_filters
    from mnemoplug.core.memory import Memory
    from mnemoplug.core.records import Scope, StoredMemory, new_memory_id
    from mnemoplug.core.retrieval import SearchRequest
    from mnemoplug.providers.sqlite import SQLiteMemoryStore

    scope = Scope(user_id=user)
    vec_of: dict[str, np.ndarray] = {}
    async for batch in provider.export("", user):
        for m in batch:
            vec_of[m.content] = m.embedding
    cached = CachedEmbedder(emb)
    cached.prime(list(vec_of), np.stack(list(vec_of.values())))
    qvecs = await emb.aembed(q_warm)
    cached.prime(q_warm, qvecs)

    # (f) fill a second file one Memory.add at a time (vectors from a table: the model out)
    one_store = SQLiteMemoryStore(path=tmp / "one-at-a-time.db")
    one = Memory(one_store, embedder=cached, load_entry_points=False)
    t0 = time.perf_counter()
    for text in corpus:
        await one.add(user, text, metadata={"source": "bench"})
    fill_s = time.perf_counter() - t0
    rows.append((f"(f) Memory.add one at a time, vectors from a table ({len(corpus):,})",
                 f"{len(corpus) / fill_s:,.0f} /s", "", "≥ 150 /s"))
    # concurrent single adds share commits (group commit)
    conc = make_corpus(1000, seed=13)
    cached.prime(conc, await emb.aembed(conc))
    t0 = time.perf_counter()
    await asyncio.gather(*(one.add("user-concurrent", t) for t in conc))
    rows.append(("(f) Memory.add, 1,000 single adds at once (group commit), vectors from a table",
                 f"{len(conc) / (time.perf_counter() - t0):,.0f} /s", "", ""))
    await one.close()

    sync = SyncMemory(memory=Memory(SQLiteMemoryStore(path=tmp / "one-at-a-time.db"),
                                    embedder=cached, load_entry_points=False))
    sync_cold = SyncMemory(memory=Memory(SQLiteMemoryStore(path=tmp / "one-at-a-time.db"),
                                         embedder=emb, load_entry_points=False))

    def sync_runs() -> tuple[Latencies, Latencies]:
        for q in q_warm:  # loads the user's index, caches the query vectors
            sync.search(user, q)
        warm = Latencies()
        for _ in range(args.rounds):
            for q in q_warm:
                c, t = time.thread_time(), time.perf_counter()
                sync.search(user, q)
                warm.add(time.perf_counter() - t, time.thread_time() - c)
        sync_cold.search(user, "warm up")
        cold = Latencies()
        for q in q_cold:
            c, t = time.thread_time(), time.perf_counter()
            sync_cold.search(user, q + " ?")
            cold.add(time.perf_counter() - t, time.thread_time() - c)
        return warm, cold

    warm, cold = await asyncio.to_thread(sync_runs)
    sync.close()
    sync_cold.close()
    rows.append(("(f) SyncMemory.search, store filled one add at a time, query vector cached",
                 ms(warm.p50), ms(warm.p95), "p50 ≤ 0.5 ms, p95 ≤ 1 ms"))
    rows.append(("(f) SyncMemory.search, same store, embeds the query",
                 ms(cold.p50), ms(cold.p95), "p50 ≤ 3 ms, p95 ≤ 4.5 ms"))
    if args.embedder == "onnx":  # the same store searched with int8 queries (memories stay fp32)
        from mnemoplug.embedding import OnnxEmbedder

        q8 = OnnxEmbedder(query_precision="int8")
        q8.warmup()
        sync_q8 = SyncMemory(memory=Memory(SQLiteMemoryStore(path=tmp / "one-at-a-time.db"),
                                           embedder=q8, load_entry_points=False))

        def q8_runs() -> Latencies:
            for i in range(20):  # steady state, as the fp32 embedder above (its sessions built)
                sync_q8.search(user, f"warm up {i}")
            time.sleep(0.5)
            lat = Latencies()
            for q in q_cold:
                c, t = time.thread_time(), time.perf_counter()
                sync_q8.search(user, q + " ??")
                lat.add(time.perf_counter() - t, time.thread_time() - c)
            return lat

        q8_lat = await asyncio.to_thread(q8_runs)
        sync_q8.close()
        rows.append(("(f) … same, OnnxEmbedder(query_precision=\"int8\"): int8 queries, fp32 memories",
                     ms(q8_lat.p50), ms(q8_lat.p95), "p50 ≤ 3 ms, p95 ≤ 4.5 ms"))

    # (g) where the time goes: each step of an operation timed alone, same data
    nofilter = compile_filters(None)
    cfg = memory.retrieval

    def req(i: int) -> SearchRequest:
        j = i % len(q_warm)
        return SearchRequest(query=q_warm[j], vector=qvecs[j], limit=10, filters=nofilter,
                             now=time.time(), config=cfg)

    await provider.search(scope, req(0))
    idx = await provider._search_index(scope.user_key)
    n = args.queries * args.rounds
    t = Table("operation / step", "p50", "p95", "thread CPU p50")

    def put(label: str, lat: Latencies) -> None:
        t.row(label, ms(lat.p50, 3), ms(lat.p95, 3), ms(lat.cpu_p50, 3))

    async def gen(i: int) -> None:
        provider._quick.generation(scope.user_key)

    async def bm25(i: int) -> None:
        r = req(i)
        idx.bm25.top(r.query, cfg.lexical_candidates, cfg.common_term_ratio)

    lex_of = [idx.bm25.top(q, cfg.lexical_candidates, cfg.common_term_ratio) for q in q_warm]

    async def fuse(i: int) -> None:
        idx.search(scope, req(i), lexical=lex_of[i % len(q_warm)])

    async def prov(i: int) -> None:
        await provider.search(scope, req(i))

    async def facade(i: int) -> None:
        await memory.search(user, q_warm[i % len(q_warm)])

    async def embed1(i: int) -> None:
        await emb.aembed([q_cold[i % len(q_cold)] + " #" + str(i)])

    for q in q_warm:
        await memory.search(user, q)
    t.row("**search, one user, excluding the query embedding**")
    put("· freshness check (the user's generation, quick connection)", await ameasure(gen, n))
    put("· BM25, the user's best 200 lexical matches (in process)", await ameasure(bm25, n))
    put("· dense scan + fusion + top 10 (UserIndex.search)", await ameasure(fuse, n))
    # the same step without the int8 first pass (every row scanned in float32, as before it),
    # side by side in this run
    import mnemoplug.core.retrieval as retrieval_module

    saved = (retrieval_module.SKETCH_MIN_ROWS, idx._sketch)
    retrieval_module.SKETCH_MIN_ROWS, idx._sketch = 10**12, None
    put("· same, float32 scan of every row (no int8 first pass), for comparison",
        await ameasure(fuse, n))
    retrieval_module.SKETCH_MIN_ROWS, idx._sketch = saved
    put("= provider.search", await ameasure(prov, n))
    put("= Memory.search (validation, hooks, records), query vector cached", await ameasure(facade, n))
    put("= SyncMemory.search (+ the hop to its loop thread), query vector cached", warm)
    t.row("**search, including the query embedding**")
    put("· the query embedding alone (aembed of one text: on the loop's thread when it has no other task)", await ameasure(embed1, min(n, 100)))
    put("= SyncMemory.search, query embedded", cold)

    single = make_corpus(100, seed=17)
    cached.prime(single, await emb.aembed(single))
    now = time.time()
    mems = [StoredMemory(id=new_memory_id(), user_id="user-break", content=x, created_at=now,
                         updated_at=now, embedding=cached.table[x]) for x in single]

    async def insert1(i: int) -> None:
        m = mems[i % len(mems)]
        await provider.insert([m.copy(id=new_memory_id())])

    async def embed_one(i: int) -> None:
        await emb.aembed([single[i % len(single)] + f" {i}"])

    facade_mem = Memory(provider, embedder=cached, load_entry_points=False)

    async def add_cached(i: int) -> None:
        await facade_mem.add("user-break", single[i % len(single)])

    async def embed100(i: int) -> None:
        await emb.aembed([x + f" {i}" for x in single])

    async def insert100(i: int) -> None:
        await provider.insert([m.copy(id=new_memory_id()) for m in mems])

    t.row("**add, one memory**")
    put("· embedding one text", await ameasure(embed_one, 50))
    put("· provider.insert of one memory (one transaction, committed)", await ameasure(insert1, 200))
    put("= Memory.add with the vector from a table", await ameasure(add_cached, 200))
    t.row("**add, a batch of 100**")
    put("· embedding 100 texts", await ameasure(embed100, 5))
    put("· provider.insert of 100 memories", await ameasure(insert100, 20))
    return "## Where the time goes\n\n" + t.render()


async def thread_interplay(provider: Any, scope: Any, emb: Any, queries: list[str], qvecs: np.ndarray,
                           req: Any, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    """A search loop as an agent runs it: score (numpy) then encode the next query (torch)."""
    import torch
    from threadpoolctl import threadpool_limits

    out: list[tuple[str, str, str, str]] = []
    mat = np.random.default_rng(0).standard_normal((args.n, 384)).astype(np.float32)

    def loop(blas_prod: bool | str) -> list[float]:
        lat = []
        for i, q in enumerate(queries):
            if blas_prod == "einsum":
                _ = np.einsum("ij,j->i", mat, qvecs[i % len(qvecs)])  # the same GEMV without BLAS
            elif blas_prod:
                _ = mat @ qvecs[i % len(qvecs)]  # the GEMV of UserIndex.search
            t = time.perf_counter()
            emb.embed([q + " " + str(i)])
            lat.append(time.perf_counter() - t)
        return lat

    orig_threads = torch.get_num_threads()
    configs = [
        ("default threads", None, orig_threads),
        ("BLAS limited to 1 thread (threadpoolctl)", 1, orig_threads),
        ("torch.set_num_threads(1)", None, 1),
    ]
    for label, blas, tth in configs:
        torch.set_num_threads(tth)
        try:
            if blas is None:
                lat = loop(True)
            else:
                with threadpool_limits(limits=blas, user_api="blas"):
                    lat = loop(True)
        finally:
            torch.set_num_threads(orig_threads)
        p50, p95 = stats_ms(lat)
        out.append((f"(e) encode after a 10k×384 GEMV (numpy @): {label}", f"{p50:.2f} ms", f"{p95:.2f} ms", ""))
    lat = loop("einsum")
    p50, p95 = stats_ms(lat)
    out.append(("(e) encode after the same product by np.einsum (no BLAS)", f"{p50:.2f} ms", f"{p95:.2f} ms", ""))
    lat = loop(False)
    p50, p95 = stats_ms(lat)
    out.append(("(e) encode with no numpy work in between (reference)", f"{p50:.2f} ms", f"{p95:.2f} ms", ""))
    # the full search path (provider scoring + encode) on the executor thread, as Memory does it
    for label, blas in (("default", None), ("BLAS 1 thread", 1)):
        lat = []

        async def go(lat: list[float] = lat) -> None:
            for i, q in enumerate(queries):
                t = time.perf_counter()
                v = (await emb.aembed([q + " #" + str(i)]))[0]
                await provider.search(scope, req(q, v))
                lat.append(time.perf_counter() - t)

        if blas is None:
            await go()
        else:
            with threadpool_limits(limits=blas, user_api="blas"):
                await go()
        p50, p95 = stats_ms(lat)
        out.append((f"(e) embed on executor + provider.search, {label}", f"{p50:.2f} ms", f"{p95:.2f} ms", ""))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="memories for the one user (10,000)")
    ap.add_argument("--queries", type=int, default=100, help="distinct queries per measurement (100)")
    ap.add_argument("--rounds", type=int, default=3, help="repeats of the warm query set (3)")
    ap.add_argument("--batch", type=int, default=100, help="add batch size (100)")
    ap.add_argument("--single", type=int, default=200, help="memories added one at a time (200)")
    ap.add_argument("--hook-ops", type=int, default=200, help="operations per hook measurement (200)")
    ap.add_argument("--embedder", choices=("onnx", "torch"), default="onnx",
                    help="all-MiniLM-L6-v2 backend: onnx (the default when installed) or torch")
    ap.add_argument("--skip-threads", action="store_true", help="skip the thread interplay part")
    ap.add_argument("--out", default="speed", help="result file name under benchmarks/results/")
    args = ap.parse_args(argv)
    table = asyncio.run(run(args))
    print(table)
    path = write_result(args.out, table)
    print(f"written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
