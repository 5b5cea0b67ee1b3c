"""Vectors for one Memory's store: texts embedded with its embedder, the store asked once
whether it accepts that embedder, and query vectors cached (an agent asks the same things)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_module
from .embedders import aembed, normalise
from .instrumentation import phase

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads at first use, not with ``import mnemoplug``
    np = lazy_module("numpy", globals(), "np")

__all__ = ["StoreVectors"]


class StoreVectors:
    """Embeds for a store; ``query`` keeps the last ``cache_size`` query vectors."""

    def __init__(self, cache_size: int = 1024) -> None:
        self.cache_size = cache_size
        self._checked = False
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    async def texts(self, embedder: Any, store: Any, texts: Sequence[str]) -> np.ndarray | None:
        """One normalised vector per text, or None without an embedder (or a store)."""
        if embedder is None or not texts or store is None:
            return None
        if self._checked and all(t in self._queries for t in texts):  # just looked up
            return np.stack([self._queries[t] for t in texts])
        with phase("embed"):
            vecs: np.ndarray = await aembed(embedder, texts)
        if not self._checked:
            await store.check_embedder(str(embedder.name), int(vecs.shape[1]))
            self._checked = True
        return vecs

    def keep(self, texts: Sequence[str], vecs: np.ndarray) -> None:
        """Cache ``vecs`` as the query vectors of ``texts`` (embedded for a lookup, about to
        be stored: ``Memory.remember``)."""
        for t, v in zip(texts, vecs, strict=True):
            self._queries[t] = np.asarray(v)
            self._queries.move_to_end(t)
        while len(self._queries) > self.cache_size:
            self._queries.popitem(last=False)

    def embed_query_here(self, embedder: Any, query: str) -> np.ndarray | None:
        """The query's vector embedded in the calling thread, when that saves a thread hop: the
        embedder may run in any thread (``runs_in_any_thread``), the store has accepted it
        and the query is not cached. None otherwise (the loop embeds it as usual). Pass the
        result to :meth:`keep` on the loop."""
        if (
            embedder is None
            or not self._checked
            or not getattr(embedder, "runs_in_any_thread", False)
            or query in self._queries  # read only: a miss at worst embeds once more
        ):
            return None
        with phase("embed"):
            return normalise(embedder.embed([query]))

    async def query(self, embedder: Any, store: Any, query: str) -> np.ndarray | None:
        v = self._queries.get(query)
        if v is not None:
            self._queries.move_to_end(query)
            return v
        vecs = await self.texts(embedder, store, [query])
        if vecs is None:
            return None
        v = np.asarray(vecs[0])
        self._queries[query] = v
        if len(self._queries) > self.cache_size:
            self._queries.popitem(last=False)
        return v
