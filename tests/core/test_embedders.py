"""The default embedder's choice of backend, and the sentence-transformers embedder (the
ONNX embedder's own tests are in tests/embedding/)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from mnemoplug.core.embedders import SentenceTransformerEmbedder

CHOICE = textwrap.dedent(
    """
    import sys, warnings
    for name in sys.argv[1:]:
        sys.modules[name] = None  # not installed
    from mnemoplug.core.embedders import default_embedder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chosen = default_embedder()
    print(type(chosen).__name__, [type(w.message).__name__ for w in caught],
          getattr(chosen, "precision", "-"), getattr(chosen, "query_precision", "-"))
    """
)


def _default(
    *blocked: str, backend: str = "auto", precision: str = "fp32", queries: str = ""
) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CHOICE, *blocked],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "MNEMOPLUG_EMBEDDER_BACKEND": backend,
            "MNEMOPLUG_EMBEDDER_PRECISION": precision,
            "MNEMOPLUG_QUERY_PRECISION": queries,
        },
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_onnx_is_the_default_when_onnxruntime_is_installed() -> None:
    assert _default() == "OnnxEmbedder [] fp32 fp32"
    assert _default("torch", "sentence_transformers") == "OnnxEmbedder [] fp32 fp32"
    assert _default(precision="int8") == "OnnxEmbedder [] int8 int8"
    assert _default(queries="int8") == "OnnxEmbedder [] fp32 int8"


def test_sentence_transformers_without_onnxruntime_or_when_forced() -> None:
    assert _default("onnxruntime") == "SentenceTransformerEmbedder [] - -"
    assert _default(backend="torch") == "SentenceTransformerEmbedder [] - -"


def test_lexical_only_with_one_warning_without_either() -> None:
    assert _default("onnxruntime", "sentence_transformers") == "NoneType ['LexicalOnlyWarning'] - -"


def test_moved_names_still_import_from_core() -> None:
    from mnemoplug.core import embedders
    from mnemoplug.embedding import OnnxEmbedder, cache_dir

    assert embedders.OnnxEmbedder is OnnxEmbedder and embedders.cache_dir is cache_dir


def test_sentence_transformer_embedder_dimension_before_load() -> None:
    assert SentenceTransformerEmbedder().dimension == 384
