"""Embedders: the ONNX path of the default model against sentence-transformers, caching,
fallback, and the default backend choice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mnemoplug import Memory
from mnemoplug.core.embedders import OnnxEmbedder, SentenceTransformerEmbedder, cache_dir

TEXTS = [
    "User prefers dark mode",
    "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    "Which UI theme does the user like?",
    "短い日本語の文",
    "x",
    "a much longer sentence " * 40,
]


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxEmbedder:
    e = OnnxEmbedder(fallback=False)
    e.warmup()
    return e


def test_onnx_matches_sentence_transformers(onnx_embedder: OnnxEmbedder, embedder) -> None:
    assert onnx_embedder.backend == "onnx"
    a = onnx_embedder.embed(TEXTS)
    b = embedder.embed(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    cos = (a * b).sum(axis=1)
    assert cos.min() > 0.9999, cos
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # batching and length-sorting keep the input order
    single = np.vstack([onnx_embedder.embed([t]) for t in TEXTS])
    assert np.allclose(single, a, atol=1e-5)
    assert onnx_embedder.name == embedder.name == "all-MiniLM-L6-v2"  # interchangeable vectors


def test_onnx_is_cached_and_reloads_fast(onnx_embedder: OnnxEmbedder) -> None:
    model_path, tok_path = onnx_embedder._paths()
    assert model_path.exists() and tok_path.exists()
    assert cache_dir() in model_path.parents
    t = time.perf_counter()
    again = OnnxEmbedder(fallback=False)
    again.warmup()
    assert again.backend == "onnx" and time.perf_counter() - t < 30


def test_export_into_a_fresh_cache_dir(tmp_path: Path, monkeypatch, onnx_embedder) -> None:
    monkeypatch.setenv("MNEMOPLUG_CACHE_DIR", str(tmp_path))
    fresh = OnnxEmbedder(fallback=False)
    v = fresh.embed(["User prefers dark mode"])
    assert (tmp_path / "onnx").is_dir() and fresh.backend == "onnx"
    assert float(v[0] @ onnx_embedder.embed(["User prefers dark mode"])[0]) > 0.9999


def test_fallback_to_torch_without_onnxruntime() -> None:
    code = textwrap.dedent(
        """
        import sys, logging
        sys.modules["onnxruntime"] = None
        from mnemoplug.core.embedders import OnnxEmbedder, default_embedder
        e = OnnxEmbedder()
        v = e.embed(["hello"])
        assert e.backend == "torch" and v.shape == (1, 384), e.backend
        assert type(default_embedder()).__name__ == "SentenceTransformerEmbedder"
        try:
            OnnxEmbedder(fallback=False).embed(["x"])
        except ImportError as exc:
            assert "mnemoplug[embeddings]" in str(exc), exc
        else:
            raise AssertionError("expected MissingDependencyError")
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_default_backend_choice(monkeypatch) -> None:
    code = "from mnemoplug.core.embedders import default_embedder as d; print(type(d()).__name__)"
    for backend, expected in (("auto", "OnnxEmbedder"), ("torch", "SentenceTransformerEmbedder")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            env={**__import__("os").environ, "MNEMOPLUG_EMBEDDER_BACKEND": backend},
        )
        assert out.stdout.strip() == expected, out.stderr[-1000:]


async def test_memory_with_onnx_default_finds_paraphrase(onnx_embedder: OnnxEmbedder) -> None:
    m = Memory("memory://", embedder=onnx_embedder, load_entry_points=False)
    await m.add("u", "User prefers dark mode")
    await m.add("u", "User's dog is called Rex")
    hits = await m.search("u", "Which UI theme does the user like?", limit=1)
    assert hits[0].content == "User prefers dark mode"
    assert hits[0].similarity == pytest.approx(0.40, abs=0.05)


def test_sentence_transformer_embedder_dimension_before_load() -> None:
    assert SentenceTransformerEmbedder().dimension == 384
