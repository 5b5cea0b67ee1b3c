"""``import mnemoplug`` imports no framework, no embedding runtime and no numpy: they load when
a feature uses them (a fresh interpreter, so other tests' imports do not count)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "numpy",
    "onnxruntime",
    "tokenizers",
    "torch",
    "sentence_transformers",
    "transformers",
    "huggingface_hub",
    "safetensors",
    "sqlalchemy",
    "aiosqlite",
    "langchain_core",
    "langgraph",
    "agno",
    "pydantic_ai",
    "fastapi",
    "starlette",
    "redis",
    "asyncpg",
    "qdrant_client",
    "mem0",
    "cryptography",
    "prometheus_client",
    "opentelemetry",
]


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    modules = json.loads(out.stdout)
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_import_mnemoplug_loads_nothing_heavy() -> None:
    assert _loaded_after("import mnemoplug") == []


def test_public_names_stay_light() -> None:
    code = "import mnemoplug\nfrom mnemoplug import OnnxEmbedder, SyncMemory, Memory, hook"
    assert _loaded_after(code) == []


def test_the_probe_sees_an_import() -> None:  # the check above can fail
    assert _loaded_after("import mnemoplug, numpy") == ["numpy"]
