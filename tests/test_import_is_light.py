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


def test_sqlite_add_and_search_load_no_sqlalchemy(tmp_path) -> None:
    """The default store's first add and search run on plain sqlite3 (cold start, issue 13);
    SQLAlchemy and aiosqlite load when a session or checkpoint store is first used, not when
    it is attached."""
    code = (
        "import asyncio\nfrom mnemoplug import Memory\n"
        f"m = Memory.from_url('sqlite:///{tmp_path}/m.db', embedder=None,\n"
        f"    session='sqlite:///{tmp_path}/s.db', checkpoints='sqlite:///{tmp_path}/c.db')\n"
        "async def go():\n"
        "    await m.add('u', 'User prefers dark mode')\n"
        "    assert [h.content for h in await m.search('u', 'dark mode')] == "
        "['User prefers dark mode']\n"
        "    USE_SESSION\n"
        "    await m.close()\n"
        "asyncio.run(go())"
    )
    loaded = _loaded_after(code.replace("USE_SESSION", "pass"))
    assert "sqlalchemy" not in loaded and "aiosqlite" not in loaded, loaded
    used = "await m.session.add_message('s1', {'role': 'user', 'content': 'hi'})"
    assert {"sqlalchemy", "aiosqlite"} <= set(
        _loaded_after(code.replace("m.db", "m2.db").replace("USE_SESSION", used))
    )
