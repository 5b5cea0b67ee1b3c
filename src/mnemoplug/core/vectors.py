"""Vectors for one Memory's store: texts embedded with its embedder, the store asked once
whether it accepts that embedder, and recent vectors cached (an agent asks the same things).

Two caches, because an embedder may embed queries differently from the texts it stores
(``OnnxEmbedder(query_precision="int8")``): query vectors, and the vectors of texts about to be
stored (``Memory.remember`` embeds them for its lookup; the ``add`` that follows reuses them).
A cached query vector is never stored as a memory's vector."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_module
from .embedders import aembed, aembed_query, embed_query
from .instrumentation import phase, record_phase

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads at first use, not with ``import mnemoplug``
    np = lazy_module("numpy", globals(), "np")

__all__ = ["StoreVectors"]


def _remember(cache: OrderedDict[str, np.ndarray], text: str, v: np.ndarray, size: int) -> None:
    cache[text] = v
    cache.move_to_end(text)
    while len(cache) > size:
        cache.popitem(last=False)


class StoreVectors:
    """Embeds for a store; keeps the last ``cache_size`` query vectors and text vectors."""

    def __init__(self, cache_size: int = 1024) -> None:
        self.cache_size = cache_size
        self._checked = False
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()
        #: when queries embedded by :meth:`embed_query_here` were embedded: reported as the
        #: ``embed`` phase of the search that uses them
        self._embedded_at: dict[str, tuple[int, int]] = {}

    async def _check(self, embedder: Any, store: Any, vecs: np.ndarray) -> None:
        if not self._checked:
            await store.check_embedder(str(embedder.name), int(vecs.shape[1]))
            self._checked = True

    async def texts(self, embedder: Any, store: Any, texts: Sequence[str]) -> np.ndarray | None:
        """One normalised vector per text to store, or None without an embedder (or a store)."""
        if embedder is None or not texts or store is None:
            return None
        if self._checked and all(t in self._texts for t in texts):  # just looked up
            return np.stack([self._texts[t] for t in texts])
        with phase("embed"):
            vecs: np.ndarray = await aembed(embedder, texts)
        await self._check(embedder, store, vecs)
        return vecs

    def keep(self, texts: Sequence[str], vecs: np.ndarray) -> None:
        """Cache ``vecs`` (from :meth:`texts`) for texts about to be stored: the ``add`` that
        follows reuses them."""
        for t, v in zip(texts, vecs, strict=True):
            _remember(self._texts, t, np.asarray(v), self.cache_size)

    def keep_query(self, query: str, vector: np.ndarray, embedded_ns: tuple[int, int]) -> None:
        """Cache a query vector from :meth:`embed_query_here`, embedded between the two
        ``time.time_ns()`` values ``embedded_ns``."""
        _remember(self._queries, query, np.asarray(vector).reshape(-1), self.cache_size)
        if len(self._embedded_at) >= self.cache_size:  # searches that failed before using theirs
            self._embedded_at.clear()
        self._embedded_at[query] = embedded_ns

    def embed_query_here(self, embedder: Any, query: str) -> np.ndarray | None:
        """The query's vector embedded in the calling thread, when that saves a thread hop: the
        embedder may run in any thread (``runs_in_any_thread``), the store has accepted it
        and the query is not cached. None otherwise (the loop embeds it as usual). Pass the
        result to :meth:`keep_query` on the loop."""
        if (
            embedder is None
            or not self._checked
            or not getattr(embedder, "runs_in_any_thread", False)
            or query in self._queries  # read only: a miss at worst embeds once more
        ):
            return None
        return embed_query(embedder, query)

    async def query(self, embedder: Any, store: Any, query: str) -> np.ndarray | None:
        """The query's vector (cached), or None without an embedder (or a store)."""
        v = self._queries.get(query)
        if v is not None:
            self._queries.move_to_end(query)
            embedded = self._embedded_at.pop(query, None)
            if embedded is not None:  # embedded for this search, in the caller's thread
                record_phase("embed", *embedded)
            return v
        if embedder is None or store is None:
            return None
        with phase("embed"):
            vecs = await aembed_query(embedder, query)
        await self._check(embedder, store, vecs)
        v = np.asarray(vecs[0])
        _remember(self._queries, query, v, self.cache_size)
        return v
