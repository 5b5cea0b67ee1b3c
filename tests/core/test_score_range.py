"""The documented range of ``score``: a weighted mean of cosine (-1..1), normalised BM25 and
recency, so at most 1 and, with the default weights, at least -2/3 (0..1 without an
embedder). ``similarity`` is the cosine itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnemoplug import CallableEmbedder, Memory


def axis_embedder() -> CallableEmbedder:
    """A stand-in embedder (labelled): "north…" texts point one way, "south…" the other."""

    def embed(texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0.0] if t.startswith("north") else [-1.0, 0.0] for t in texts])

    return CallableEmbedder(embed, name="axis", dimension=2)


@pytest.mark.parametrize("url", ["memory://", "sqlite"])
async def test_score_spans_its_documented_range(url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path}/s.db" if url == "sqlite" else url
    m = Memory(target, embedder=axis_embedder(), load_entry_points=False)
    await m.add("u", "north pole station")
    await m.add("u", "south harbour")
    best, worst = await m.search("u", "north pole station", limit=2)
    assert best.score == pytest.approx(1.0) and best.similarity == pytest.approx(1.0)
    assert worst.similarity == pytest.approx(-1.0)
    assert worst.score == pytest.approx(-2 / 3)  # cosine -1, no lexical match: -1 / 1.5
    await m.close()

    lexical = Memory("memory://", embedder=None, load_entry_points=False)
    await lexical.add("u", "north pole station")
    await lexical.add("u", "north sea")
    hits = await lexical.search("u", "north pole")
    assert all(0 < h.score <= 1 and h.similarity is None for h in hits)
    assert hits[0].score == pytest.approx(1.0)
