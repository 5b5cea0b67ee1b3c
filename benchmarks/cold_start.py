"""Cold start: a fresh process that imports mnemoplug, builds ``Memory()``, adds one memory and
runs the first search (issue 13 item 3), and what ``import mnemoplug`` costs.

Each run is a new interpreter (nothing warm but the OS page cache and the bytecode cache, as
after ``pip install``; the ONNX graph is built and the bytecode written before the first run). It prints, per configuration, the median wall time of each step and of
the whole, the process CPU time (all threads; less disturbed by a busy machine than wall time),
then the top entries of ``python -X importtime`` for ``import mnemoplug`` and for the whole cold
start, and the heavy modules ``import mnemoplug`` loads (none expected).

    HF_HUB_OFFLINE=1 python benchmarks/cold_start.py            # 7 runs per configuration
    HF_HUB_OFFLINE=1 python benchmarks/cold_start.py --runs 3 --torch
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line

RESULTS = Path(__file__).resolve().parent / "results"
HEAVY = [
    "numpy",
    "onnxruntime",
    "tokenizers",
    "torch",
    "sentence_transformers",
    "transformers",
    "sqlalchemy",
    "aiosqlite",
    "langchain_core",
    "langgraph",
    "agno",
    "pydantic_ai",
    "fastapi",
    "redis",
    "asyncpg",
    "qdrant_client",
    "prometheus_client",
]

CHILD = r"""
import time, resource, sys, json, os
t0 = time.perf_counter()
import mnemoplug
t1 = time.perf_counter()
from mnemoplug import SyncMemory
m = SyncMemory(sys.argv[1])
t2 = time.perf_counter()
m.add("u1", "User prefers dark mode")
t3 = time.perf_counter()
hits = m.search("u1", "Which UI theme does the user like?", limit=1)
t4 = time.perf_counter()
assert hits and hits[0].content == "User prefers dark mode", hits
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"import": t1 - t0, "Memory()": t2 - t1, "add": t3 - t2, "search": t4 - t3,
                  "total": t4 - t0, "cpu": ru.ru_utime + ru.ru_stime,
                  "embedder": type(m.memory.embedder).__name__}))
m.close()
"""

STEPS = ["import", "Memory()", "add", "search", "total", "cpu"]


#: the children's bytecode cache (an installed wheel has its .pyc files; a source checkout run
#: with PYTHONDONTWRITEBYTECODE=1 would compile mnemoplug's modules in every process)
PYCACHE = Path(tempfile.gettempdir()) / "mnemoplug-cold-start-pycache"


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    src = Path(__file__).resolve().parent.parent / "src"
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def run_child(url: str, env: dict[str, str]) -> dict[str, float | str]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url], capture_output=True, text=True, env=env, timeout=600
    )
    if out.returncode != 0:
        raise SystemExit(f"cold-start child failed:\n{out.stderr[-3000:]}")
    result: dict[str, float | str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def importtime(code: str, env: dict[str, str], top: int) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) of the ``top`` largest cumulative import times."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, cum_us, name = line.removeprefix("import time:").split("|", 2)
        rows.append((int(self_us), int(cum_us), name.rstrip()))
    return sorted(rows, key=lambda r: -r[1])[:top]


def loaded_by_import(env: dict[str, str]) -> list[str]:
    code = "import sys, json, mnemoplug; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    names = {m.split(".")[0] for m in json.loads(out.stdout)}
    return sorted(names & set(HEAVY))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per configuration")
    ap.add_argument("--top", type=int, default=15, help="importtime rows to print")
    ap.add_argument(
        "--torch",
        action="store_true",
        help="also the sentence-transformers (torch) embedder, 1 run",
    )
    ap.add_argument(
        "--out", default="cold_start", help="result file name under benchmarks/results/"
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mnemoplug-cold-"))
    env = child_env()
    # build the ONNX graph (once per machine), write the bytecode and warm the page cache
    # before timing anything
    run_child(f"sqlite:///{tmp}/warm.db", env)

    configs = [
        (
            "SQLite file (default store), ONNX embedder",
            lambda i: f"sqlite:///{tmp}/cold{i}.db",
            env,
            args.runs,
        ),
        ("in-process store (memory://), ONNX embedder", lambda i: "memory://", env, args.runs),
        (
            "SQLite file, default metrics off (MNEMOPLUG_METRICS=0: no prometheus_client)",
            lambda i: f"sqlite:///{tmp}/nometrics{i}.db",
            child_env(MNEMOPLUG_METRICS="0"),
            args.runs,
        ),
    ]
    if args.torch:
        torch_env = child_env(MNEMOPLUG_EMBEDDER_BACKEND="torch")
        configs.append(
            (
                "SQLite file, sentence-transformers (torch)",
                lambda i: f"sqlite:///{tmp}/torch{i}.db",
                torch_env,
                1,
            )
        )

    lines = [
        "# Cold start: import, Memory(), one add, first search (fresh process)",
        "",
        f"Machine: {machine_line()}. Medians of {args.runs} fresh processes; seconds.",
        "",
        "| configuration | embedder | " + " | ".join(STEPS) + " |",
        "|---|---|" + "---:|" * len(STEPS),
    ]
    for label, url, cenv, runs in configs:
        results = [run_child(url(i), cenv) for i in range(runs)]
        med = {s: statistics.median(float(r[s]) for r in results) for s in STEPS}
        lines.append(
            f"| {label} | {results[0]['embedder']} | "
            + " | ".join(f"{med[s]:.3f}" for s in STEPS)
            + " |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        "`total` is wall time from the first import to the first search's answer; "
        "`cpu` is the process's user + system CPU time (every thread).",
        "",
    ]

    heavy = loaded_by_import(env)
    lines += [
        f"Heavy modules loaded by `import mnemoplug`: {', '.join(heavy) or 'none'} "
        f"(checked: {', '.join(HEAVY)}).",
        "",
    ]
    for title, code in (
        ('`python -X importtime -c "import mnemoplug"`', "import mnemoplug"),
        (
            "`python -X importtime` over the whole cold start (SQLite)",
            CHILD.replace("sys.argv[1]", repr(f"sqlite:///{tmp}/imp.db")),
        ),
    ):
        lines += [
            f"Top {args.top} of {title}, by cumulative time:",
            "",
            "| module | self ms | cumulative ms |",
            "|---|---:|---:|",
        ]
        for self_us, cum_us, name in importtime(code, env, args.top):
            lines.append(f"| `{name.strip()}` | {self_us / 1000:.1f} | {cum_us / 1000:.1f} |")
        lines.append("")

    text = "\n".join(lines)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
