"""Vectors mnemoplug already computed, handed to mem0 instead of being embedded twice."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PrecomputedEmbedder"]


class PrecomputedEmbedder:
    """Wraps mem0's embedder: a text whose vector mnemoplug already computed (with the same
    dimension) is not embedded again. Everything else goes to mem0's own model."""

    def __init__(self, inner: Any, dimension: int | None) -> None:
        self.inner = inner
        self.config = getattr(inner, "config", None)
        self.dimension = dimension
        self.pending: dict[str, list[float]] = {}

    def offer(self, text: str, vector: np.ndarray | None) -> bool:
        """Use ``vector`` for ``text`` until :meth:`withdraw`; False when it does not fit."""
        if vector is None or (self.dimension is not None and vector.shape[-1] != self.dimension):
            return False
        self.pending[text] = np.asarray(vector, dtype=np.float32).tolist()
        return True

    def withdraw(self, text: str) -> None:
        self.pending.pop(text, None)

    def embed(self, text: Any, memory_action: Any = None) -> Any:
        vec = self.pending.get(text) if isinstance(text, str) else None
        return vec if vec is not None else self.inner.embed(text, memory_action)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
