"""The query embedder side by side: onnxruntime fp32 and int8 (OnnxEmbedder) against
sentence-transformers (torch), same all-MiniLM-L6-v2 (issue 13 item 2).

(a) first use in a fresh process: preparing the ONNX graph from safetensors (an empty cache
    directory), and loading it once prepared, to the first vector;
(b) one query at a time (what a search embeds): p50/p95 over distinct questions, the three
    embedders interleaved query by query so that a busy machine disturbs them alike;
(c) batches of 64 texts (what a bulk add embeds): texts per second;
(d) quality on LoCoMo dev: every turn and question embedded, per conversation the turns ranked
    by cosine (dense retrieval alone, no store), hit@1/5/10 of an evidence turn; and the cosine
    of each ONNX vector to torch's.

    HF_HUB_OFFLINE=1 python benchmarks/embedding.py --data ../shared/data/locomo-dev.json

The data set is CC BY-NC 4.0 (research use): it is read from its path, never copied here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold_start import child_env, machine_line

RESULTS = Path(__file__).resolve().parent / "results"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)
EVIDENCE = re.compile(r"D\d+:\d+")
FIRST_USE = r"""
import sys, time
t = time.perf_counter()
kind = sys.argv[1]
if kind == "torch":
    from mnemoplug import SentenceTransformerEmbedder as E
    e = E()
else:
    from mnemoplug import OnnxEmbedder
    e = OnnxEmbedder(precision="int8" if kind == "onnx-int8" else "fp32")
e.embed(["Which UI theme does the user like?"])
import resource
ru = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t, ru.ru_utime + ru.ru_stime)
"""


def load(path: Path) -> tuple[dict[str, list[tuple[str, str]]], list[dict[str, Any]]]:
    """LoCoMo's turns per conversation and its questions of categories 1-4 with evidence, as
    benchmarks/locomo_retrieval.py reads them."""
    turns: dict[str, list[tuple[str, str]]] = {}
    questions = []
    for sample in json.loads(path.read_text()):
        user, conv = sample["sample_id"], sample["conversation"]
        turns[user] = [
            (t["dia_id"], f"{t['speaker']}: {t['text']}")
            for key, value in conv.items()
            if re.fullmatch(r"session_\d+", key) and isinstance(value, list)
            for t in value
        ]
        for qa in sample["qa"]:
            ev = set(EVIDENCE.findall(" ".join(map(str, qa.get("evidence") or []))))
            if qa.get("category") in CATEGORIES and ev:
                questions.append({"user": user, "q": qa["question"], "evidence": ev,
                                  "cat": qa["category"]})
    return turns, questions


def embedders() -> dict[str, Any]:
    from mnemoplug import OnnxEmbedder, SentenceTransformerEmbedder

    out: dict[str, Any] = {
        "onnx fp32": OnnxEmbedder(),
        "onnx int8": OnnxEmbedder(precision="int8"),
        "sentence-transformers (torch)": SentenceTransformerEmbedder(),
    }
    for e in out.values():
        e.warmup()
    return out


def first_use(kind: str, cache: Path) -> tuple[float, float]:
    """Wall seconds to the first vector, and the process's CPU seconds (all threads)."""
    env = child_env(MNEMOPLUG_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", FIRST_USE, kind], capture_output=True,
                         text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def median_pair(runs: list[tuple[float, float]]) -> str:
    return (f"{statistics.median(r[0] for r in runs):.2f} "
            f"({statistics.median(r[1] for r in runs):.2f} CPU)")


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(root.parent / "shared" / "data" / "locomo-dev.json"))
    ap.add_argument("--queries", type=int, default=300, help="distinct queries timed in (b)")
    ap.add_argument("--first-use-runs", type=int, default=3)
    ap.add_argument("--out", default="embedding", help="result file name under benchmarks/results/")
    args = ap.parse_args()

    turns, questions = load(Path(args.data))
    lines = ["# Query embedding: onnxruntime (OnnxEmbedder) vs sentence-transformers", "",
             f"Machine: {machine_line()}.", ""]

    # (a) first use, fresh processes
    lines += ["(a) First use in a fresh process, to the first vector: median wall s "
              "(process CPU s, all threads, from interpreter start):", "",
              "| embedder | preparing (empty cache) | prepared (cache warm) |", "|---|---:|---:|"]
    for kind, label in (("onnx", "onnx fp32"), ("onnx-int8", "onnx int8"),
                        ("torch", "sentence-transformers (torch)")):
        runs = args.first_use_runs
        cold = "—" if kind == "torch" else median_pair(
            [first_use(kind, Path(tempfile.mkdtemp())) for _ in range(runs)])
        cache = Path(tempfile.mkdtemp())
        first_use(kind, cache)  # prepare once
        warm = median_pair([first_use(kind, cache) for _ in range(runs)])
        lines.append(f"| {label} | {cold} | {warm} |")
        print(lines[-1], flush=True)
    lines.append("")

    emb = embedders()
    names = list(emb)
    # (b) one query at a time, interleaved
    qs = [q["q"] for q in questions][: args.queries]
    times: dict[str, list[float]] = {n: [] for n in names}
    for q in qs:
        for n in names:
            times[n].append(timed(lambda e=emb[n], q=q: e.embed([q])))
    torch_p50 = statistics.median(times[names[-1]])
    lines += [f"(b) One query at a time, {len(qs)} distinct LoCoMo questions (ms):", "",
              "| embedder | p50 | p95 | p50 vs torch |", "|---|---:|---:|---:|"]
    for n in names:
        p50 = statistics.median(times[n])
        lines.append(f"| {n} | {p50 * 1000:.2f} | {pct(times[n], 95) * 1000:.2f} | "
                     f"{torch_p50 / p50:.1f}× |")
        print(lines[-1], flush=True)
    lines.append("")

    # (c) + (d): embed every turn in batches of 64 (timed), then dense retrieval per conversation
    texts = [t for rows in turns.values() for _, t in rows]
    vecs: dict[str, np.ndarray] = {}
    qvecs: dict[str, np.ndarray] = {}
    rate: dict[str, float] = {}
    for n in names:
        t = time.perf_counter()
        vecs[n] = np.vstack([emb[n].embed(texts[i : i + 64]) for i in range(0, len(texts), 64)])
        rate[n] = len(texts) / (time.perf_counter() - t)
        qvecs[n] = emb[n].embed([q["q"] for q in questions])
        print(f"{n}: {rate[n]:.0f} texts/s", flush=True)
    lines += [f"(c) Batches of 64 texts ({len(texts)} LoCoMo turns): "
              + ", ".join(f"{n} {rate[n]:.0f}/s" for n in names) + ".", ""]

    offsets, start = {}, 0
    for user, rows in turns.items():
        offsets[user] = (start, start + len(rows))
        start += len(rows)
    dia = [d for rows in turns.values() for d, _ in rows]
    header = ("| embedder | all hit@1 | all hit@5 | all hit@10 | "
              + " | ".join(f"{c} hit@10" for c in CATEGORIES.values())
              + " | cosine to torch (min / mean) |")
    lines += [f"(d) Dense retrieval alone on LoCoMo dev ({len(turns)} conversations, "
              f"{len(texts)} turns, {len(questions)} questions):", "", header,
              "|" + "---|" * (header.count("|") - 1)]
    # (label, memories embedded by, queries embedded by): OnnxEmbedder(query_precision="int8")
    # is the last row's combination
    rows = [(n, n, n) for n in names]
    rows.append(("onnx fp32 memories, int8 queries", "onnx fp32", "onnx int8"))
    for label, n, qn in rows:
        hits = {c: dict.fromkeys(KS, 0) for c in [0, *CATEGORIES]}
        count = dict.fromkeys([0, *CATEGORIES], 0)
        for q, v in zip(questions, qvecs[qn], strict=True):
            lo, hi = offsets[q["user"]]
            order = np.argsort(-(vecs[n][lo:hi] @ v))[: max(KS)]
            ranked = [dia[lo + i] for i in order]
            for c in (0, q["cat"]):
                count[c] += 1
                for k in KS:
                    hits[c][k] += bool(q["evidence"] & set(ranked[:k]))
        agree = (vecs[n] * vecs[names[-1]]).sum(axis=1)
        cells = [f"{hits[0][k] / count[0]:.3f}" for k in KS]
        cells += [f"{hits[c][10] / count[c]:.3f}" for c in CATEGORIES]
        cells.append(f"{agree.min():.4f} / {agree.mean():.4f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")

    text = "\n".join(lines)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
