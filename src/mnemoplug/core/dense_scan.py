"""A fast first pass over a user's vectors that still gives exact results.

Scanning 10,000 float32 vectors of 384 dimensions reads 15 MB per query; after a model run has
pushed them out of the CPU cache that read alone costs about 0.6 ms, and numpy's single-threaded
kernel needs 0.8 ms even when they are cached. :class:`Int8Sketch` keeps an int8 copy of the
matrix (a quarter of the bytes, one scale per row) that SimSIMD's integer kernels scan in about
0.15 ms, together with a bound on each row's quantisation error. A search uses the sketch only
to rule rows out: a row whose best possible score is below what the ``pool``-th best row is sure
to reach cannot be among the best ``pool``; the few hundred rows left are scored exactly from the
float32 matrix. The results are those of the exact scan.

The bound, for a query ``q`` and a row ``x`` with quantised ``q̂`` and ``x̂``::

    |q·x - q̂·x̂| = |q·(x - x̂) + (q - q̂)·x̂| <= |q| |x - x̂| + |q - q̂| |x̂|     (Cauchy-Schwarz)

``|x - x̂|`` and ``|x̂|`` are kept per row; ``q̂·x̂`` is an exact integer dot product times the
two scales.

The sketch needs the ``simsimd`` package (a dependency of mnemoplug); where it cannot be
imported, :func:`sketch_available` is False and searches scan the float32 matrix.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_module("numpy", globals(), "np")

__all__ = ["SKETCH_MIN_ROWS", "Int8Sketch", "exact_dots", "sketch_available"]

# below this many rows the float32 scan is as fast as the two passes
SKETCH_MIN_ROWS = 2_000


@cache
def _kernels() -> Any:
    try:
        import simsimd
    except ImportError:  # pragma: no cover - simsimd is a dependency; a platform without it
        return None
    return simsimd


def sketch_available() -> bool:
    """Whether the integer kernels are importable here."""
    return _kernels() is not None


def exact_dots(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The float32 dot products of ``query`` with each of ``rows`` (float32, ``[k, dim]``): the
    exact scores every search computes, by SimSIMD's float32 kernel (each row on its own, so a
    row scores the same whichever rows are scanned with it; 2.4x numpy's einsum for 1,000 x 384
    here), or by ``np.einsum`` where SimSIMD is missing. Not BLAS: a multi-threaded BLAS spins
    its threads after each call and fights the embedder's threads on small machines."""
    kernels = _kernels()
    if kernels is None or not len(rows):
        plain: np.ndarray = np.einsum("ij,j->i", rows, query).astype(np.float32, copy=False)
        return plain
    q = np.ascontiguousarray(query, dtype=np.float32)
    out = kernels.cdist(q[None], rows, metric="dot", threads=1, out_dtype="float32")
    dots: np.ndarray = np.asarray(out).reshape(len(rows))
    return dots


def _quantise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """int8 codes, scales, ``|x - x̂|`` and ``|x̂|`` of each row of a float32 matrix."""
    broken = ~np.isfinite(rows).all(axis=1)
    if broken.any():  # NaN or inf from an embedder: quantised as zeros, see below
        rows = np.where(broken[:, None], np.float32(0), rows)
    scale = (np.abs(rows).max(axis=1) / np.float32(127)).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1))
    codes = np.clip(np.rint(rows / safe[:, None]), -127, 127).astype(np.int8)
    approx = codes.astype(np.float32) * scale[:, None]
    # float64 norms, rounded up to float32: the bound must not be an underestimate
    diff = (rows - approx).astype(np.float64)
    approx64 = approx.astype(np.float64)
    err = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    norm = np.sqrt(np.einsum("ij,ij->i", approx64, approx64))
    up = np.float32(1 + 1e-6)
    err, norm = (err * up).astype(np.float32), (norm * up).astype(np.float32)
    if broken.any():  # never ruled out: the exact scan decides (it never ranks them)
        err[broken] = np.finfo(np.float32).max
    return codes, scale, err, norm


#: rows quantised at a time: small temporaries stay in the CPU cache (one pass over 10,000
#: rows took 0.43 s in whole-matrix temporaries, mostly page faults, 0.03 s in chunks)
_CHUNK = 256


class Int8Sketch:
    """int8 codes of a float32 matrix's rows, kept row for row beside it (same positions)."""

    def __init__(self, capacity: int, dim: int) -> None:
        self.dim = dim
        self.codes = np.zeros((capacity, dim), dtype=np.int8)
        self.scale = np.zeros(capacity, dtype=np.float32)
        self.err = np.zeros(capacity, dtype=np.float32)
        self.norm = np.zeros(capacity, dtype=np.float32)

    @classmethod
    def of(cls, matrix: np.ndarray, capacity: int) -> Int8Sketch:
        """The sketch of ``matrix`` (its rows become rows ``0..len(matrix)-1``)."""
        sketch = cls(max(capacity, len(matrix)), int(matrix.shape[1]))
        sketch.set_rows(0, matrix)
        return sketch

    def grow(self, capacity: int) -> None:
        have = len(self.scale)
        if capacity <= have:
            return
        codes = np.zeros((capacity, self.dim), dtype=np.int8)
        codes[:have] = self.codes
        self.codes = codes
        for name in ("scale", "err", "norm"):
            column = np.zeros(capacity, dtype=np.float32)
            column[:have] = getattr(self, name)
            setattr(self, name, column)

    def set_rows(self, start: int, rows: np.ndarray) -> None:
        """Quantise ``rows`` (float32, ``[k, dim]``) into positions ``start..start+k-1``."""
        self.grow(start + len(rows))
        for at in range(0, len(rows), _CHUNK):
            chunk = np.asarray(rows[at : at + _CHUNK], dtype=np.float32)
            lo, hi = start + at, start + at + len(chunk)
            self.codes[lo:hi], self.scale[lo:hi], self.err[lo:hi], self.norm[lo:hi] = _quantise(
                chunk
            )

    def move(self, src: int, dst: int) -> None:
        self.codes[dst] = self.codes[src]
        self.scale[dst] = self.scale[src]
        self.err[dst] = self.err[src]
        self.norm[dst] = self.norm[src]

    def scan(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Approximate dot products of ``query`` with rows ``0..n-1`` and, per row, a bound on
        their distance from the exact dot products (both float32, the bound rounded up)."""
        kernels = _kernels()
        q = np.asarray(query, dtype=np.float32)
        if not np.isfinite(q).all():  # rules nothing out: the exact scan decides
            return np.zeros(n, dtype=np.float32), np.full(n, np.inf, dtype=np.float32)
        q_scale = float(np.abs(q).max()) / 127.0
        q_codes = np.clip(np.rint(q / (q_scale or 1.0)), -127, 127).astype(np.int8)
        q64 = q.astype(np.float64)
        q_err = float(np.linalg.norm(q64 - q_codes.astype(np.float64) * q_scale))
        q_norm = float(np.linalg.norm(q64))
        # integer dot products, exact in float32 up to 2**24 (any dim up to 1040), else within
        # float32 rounding, which the relative term below covers
        approx = np.asarray(
            kernels.cdist(
                q_codes[None], self.codes[:n], metric="dot", threads=1, out_dtype="float32"
            )
        ).reshape(n)
        approx *= self.scale[:n]
        approx *= np.float32(q_scale)
        # the exact scan rounds too: at most dim * 2**-23 of sum |q_j x_j| <= |q| (|x̂| + |x - x̂|);
        # the float32 products above round within 1e-6 of |q̂·x̂| <= (|q| + |q - q̂|) |x̂|
        rounding = self.dim * 1.2e-7 * q_norm
        safety = 1 + 1e-5
        with np.errstate(over="ignore"):  # a broken row's bound may overflow to inf: right
            bound = self.err[:n] * np.float32((q_norm + rounding) * safety)
            bound += self.norm[:n] * np.float32(
                (q_err + rounding + 1e-6 * (q_norm + q_err)) * safety
            )
        return approx, bound
