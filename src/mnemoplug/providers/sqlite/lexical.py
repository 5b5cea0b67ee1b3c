"""Lexical scores of the SQLite store: FTS5's ``bm25()``, computed in process over one user.

The store used to ask FTS5 for ``bm25(mnemoplug_fts, 1.0, 0.0)``. That cost ~1.4 ms a query
and used whole-file statistics (row count, average length, document frequencies), so other
users' memories changed a user's scores (issue 11 item 4). :class:`UserBM25` gives the same
scores from the user's own statistics only, kept in the user's cached
:class:`~mnemoplug.core.retrieval.UserIndex` (loaded lazily, updated by this process's writes,
reloaded when another process wrote):

* tokens are FTS5's own ``porter unicode61`` tokens (:class:`FTS5Tokens`): each
  whitespace-separated chunk of text goes once through a private in-memory FTS5 table, then
  comes from a cache;
* each query word is a phrase, as in the former ``"word" OR "word"`` MATCH (two words with one
  stem count twice); a word FTS5 splits (``snake_case``) matches only consecutive tokens;
* ``score = sum over phrases of idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * D / avgdl))``
  with ``idf = log((N - n + 0.5) / (n + 0.5))`` (1e-6 when not positive), ``k1`` 1.2, ``b``
  0.75, ``D`` the document's token count plus one (FTS5 counted the hidden ``scope_token``
  column), ``N`` and ``n`` counted in the user's memories;
* with a dense score present and 1,000 memories or more, phrases found in more than
  ``common_term_ratio`` of them are dropped, the rarest always kept (as before, now with the
  user's own counts).
"""

from __future__ import annotations

import heapq
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from operator import itemgetter

import numpy as np

from ...core.fusion import best_rows
from ...core.records import StoredMemory
from ...core.retrieval import BM25Index, query_terms

__all__ = ["FTS5Tokens", "UserBM25", "fts5_tokens"]

_K1 = 1.2
_B = 0.75
#: up to this many (document, phrase) matches a query is scored in a dict, above in arrays
#: (measured on 10,000 memories: 0.06 ms in arrays against 0.2 ms in a dict at 1,024 matches)
_DICT_MAX = 64


class FTS5Tokens:
    """FTS5 ``porter unicode61`` tokenisation in Python: whitespace never joins two tokens, so
    text is split on whitespace and each distinct chunk is tokenised once, by FTS5 itself, in a
    private in-memory table, then cached (up to ``max_cached`` chunks)."""

    def __init__(self, max_cached: int = 300_000) -> None:
        self.max_cached = max_cached
        self._cache: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _fts5(self, chunks: Sequence[str]) -> list[tuple[str, ...]]:
        with self._lock:
            conn = self._conn
            if conn is None:
                conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
                conn.execute(
                    "CREATE VIRTUAL TABLE t USING fts5(c, content='', tokenize='porter unicode61')"
                )
                conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
                self._conn = conn
            conn.execute("BEGIN")
            try:
                conn.executemany("INSERT INTO t(rowid, c) VALUES (?, ?)", enumerate(chunks))
                rows = conn.execute("SELECT doc, offset, term FROM v").fetchall()
                conn.execute("INSERT INTO t(t) VALUES ('delete-all')")
            finally:
                conn.execute("COMMIT")
        rows.sort()
        out: list[list[str]] = [[] for _ in chunks]
        for doc, _offset, term in rows:
            out[doc].append(term)
        return [tuple(t) for t in out]

    def learn(self, texts: Iterable[str]) -> None:
        """Tokenise the chunks of ``texts`` not cached yet, in one FTS5 round."""
        cache = self._cache
        new = {c for t in texts for c in t.split() if c not in cache}
        if not new:
            return
        if len(cache) + len(new) > self.max_cached:
            cache.clear()
        chunks = sorted(new)
        cache.update(zip(chunks, self._fts5(chunks), strict=True))

    def tokens(self, text: str) -> list[str]:
        """FTS5's tokens of ``text``, in order."""
        cache = self._cache
        out: list[str] = []
        for chunk in text.split():
            toks = cache.get(chunk)
            if toks is None:
                self.learn([text])
                toks = cache.get(chunk)
                if toks is None:  # the cache was just cleared and refilled without it
                    toks = self._fts5([chunk])[0]
            out.extend(toks)
        return out


#: the process's tokeniser (its cache serves every store)
fts5_tokens = FTS5Tokens()


class UserBM25(BM25Index):
    """One user's FTS5-compatible BM25 (see the module docstring). Kept in the user's
    :class:`~mnemoplug.core.retrieval.UserIndex` as its ``bm25``, so the index's own upsert
    and remove keep it in step with the records."""

    __slots__ = ("_arrays", "_free", "_lens", "_slot", "_slot_ids", "_texts")

    def __init__(self) -> None:
        super().__init__(_K1, _B)
        self._texts: dict[str, str] = {}  # the records' own strings: phrases re-tokenise them
        # for queries with many matches: each document has a slot, each term (once queried)
        # its (slots, tf) arrays, dropped when a document with the term comes or goes
        self._slot: dict[str, int] = {}
        self._slot_ids: list[str | None] = []
        self._free: list[int] = []
        self._lens = np.zeros(16, dtype=np.float64)
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def of(cls, memories: Sequence[StoredMemory]) -> UserBM25:
        """The index of ``memories`` (tokenised in one FTS5 round)."""
        fts5_tokens.learn(m.indexed_text for m in memories)
        idx = cls()
        idx._fill(memories)
        return idx

    def _fill(self, memories: Sequence[StoredMemory]) -> None:
        """:meth:`add` of each memory into this new, empty index, without what an update
        needs (dropping a document's old postings and cached arrays)."""
        tokens_of = fts5_tokens.tokens
        postings, doc_len, doc_terms = self._postings, self._doc_len, self._doc_terms
        texts, slot, slot_ids = self._texts, self._slot, self._slot_ids
        if len({m.id for m in memories}) < len(memories):  # a repeated id replaces the first
            for m in memories:
                self.add(m.id, m.indexed_text)
            return
        lens: list[int] = []
        for m in memories:
            doc_id, text = m.id, m.indexed_text
            counts: dict[str, int] = {}
            for term in tokens_of(text):
                counts[term] = counts.get(term, 0) + 1
            n = sum(counts.values()) + 1  # FTS5 also counted the row's scope_token
            texts[doc_id] = text
            doc_len[doc_id] = n
            self._total_len += n
            doc_terms[doc_id] = tuple(counts)
            for term, tf in counts.items():
                plist = postings.get(term)
                if plist is None:
                    postings[term] = {doc_id: tf}
                else:
                    plist[doc_id] = tf
            slot[doc_id] = len(slot_ids)
            slot_ids.append(doc_id)
            lens.append(n)
        self._lens = np.zeros(max(16, 2 * len(lens)), dtype=np.float64)
        self._lens[: len(lens)] = lens

    def add(self, doc_id: str, text: str) -> None:
        if doc_id in self._doc_len:
            self.remove(doc_id)
        tokens = fts5_tokens.tokens(text)
        self._texts[doc_id] = text
        n = len(tokens) + 1  # FTS5 also counted the row's scope_token
        self._doc_len[doc_id] = n
        self._total_len += n
        counts = Counter(tokens)
        self._doc_terms[doc_id] = tuple(counts)
        arrays = self._arrays
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[doc_id] = tf
            arrays.pop(term, None)
            self._term_cache.pop(term, None)
        if self._free:
            slot = self._free.pop()
            self._slot_ids[slot] = doc_id
        else:
            slot = len(self._slot_ids)
            self._slot_ids.append(doc_id)
            if slot >= len(self._lens):
                self._lens = np.resize(self._lens, 2 * len(self._lens))
        self._slot[doc_id] = slot
        self._lens[slot] = n

    def remove(self, doc_id: str) -> None:
        if doc_id in self._doc_len:
            for term in self._doc_terms.get(doc_id, ()):
                self._arrays.pop(term, None)
            super().remove(doc_id)
            del self._texts[doc_id]
            slot = self._slot.pop(doc_id)
            self._slot_ids[slot] = None
            self._lens[slot] = 0.0
            self._free.append(slot)

    def _term_arrays(self, term: str, hits: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """The slots and term frequencies of a term's documents (cached until it changes)."""
        got = self._arrays.get(term)
        if got is None:
            got = self._arrays[term] = self._hit_arrays(hits)
        return got

    def _hit_arrays(self, hits: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        slot = self._slot
        return (
            np.fromiter((slot[d] for d in hits), dtype=np.int64, count=len(hits)),
            np.fromiter(hits.values(), dtype=np.float64, count=len(hits)),
        )

    def _phrase(self, tokens: tuple[str, ...]) -> dict[str, int]:
        """Documents containing the phrase and how often (consecutive tokens)."""
        if len(tokens) == 1:
            return self._postings.get(tokens[0], {})
        lists = [self._postings.get(t) for t in tokens]
        if not all(lists):
            return {}
        shortest = min(lists, key=len)  # type: ignore[arg-type]
        n = len(tokens)
        out: dict[str, int] = {}
        for doc_id in shortest:  # type: ignore[union-attr]
            seq = tuple(fts5_tokens.tokens(self._texts[doc_id]))
            tf = sum(1 for i in range(len(seq) - n + 1) if seq[i : i + n] == tokens)
            if tf:
                out[doc_id] = tf
        return out

    def _phrases(
        self, query: str, common_term_ratio: float | None
    ) -> list[tuple[tuple[str, ...], dict[str, int], float]]:
        """Each query word's tokens, matching documents and FTS5 IDF (pruned as documented)."""
        n_docs = len(self._doc_len)
        phrases: list[tuple[str, tuple[str, ...], dict[str, int]]] = []
        for word in query_terms(query):
            tokens = tuple(fts5_tokens.tokens(word))
            if tokens:
                phrases.append((word, tokens, self._phrase(tokens)))
        if phrases and common_term_ratio is not None and n_docs >= 1000:
            rarest = min(phrases, key=lambda p: len(p[2]))[0]
            limit = common_term_ratio * n_docs
            phrases = [p for p in phrases if p[0] == rarest or len(p[2]) <= limit]
        out = []
        for _word, tokens, hits in phrases:
            if hits:
                n = len(hits)
                idf = math.log((n_docs - n + 0.5) / (n + 0.5))
                out.append((tokens, hits, idf if idf > 0.0 else 1e-6))
        return out

    def top(self, query: str, k: int, common_term_ratio: float | None = None) -> dict[str, float]:
        """BM25 scores (positive, higher is better) of the ``k`` best matches of ``query``."""
        ids, scores = self.best(query, k, common_term_ratio)
        return dict(zip(ids, scores.tolist(), strict=True))

    def best(
        self, query: str, k: int, common_term_ratio: float | None = None
    ) -> tuple[list[str], np.ndarray]:
        """:meth:`top` as (ids, scores): what ``UserIndex.search`` takes without a dict."""
        n_docs = len(self._doc_len)
        if not n_docs:
            return [], np.zeros(0)
        phrases = self._phrases(query, common_term_ratio)
        if sum(len(p[1]) for p in phrases) <= _DICT_MAX:
            scores = self._sum(phrases)
            items = (
                list(scores.items())
                if len(scores) <= k
                else heapq.nlargest(k, scores.items(), key=itemgetter(1))
            )
            return [i for i, _ in items], np.fromiter(
                (s for _, s in items), dtype=np.float64, count=len(items)
            )
        # many matches: the same sums over arrays of slots (same operations, same order)
        base, per_len = self._norms()
        acc = np.zeros(len(self._slot_ids), dtype=np.float64)
        for tokens, hits, idf in phrases:
            slots, tf = (
                self._term_arrays(tokens[0], hits) if len(tokens) == 1 else self._hit_arrays(hits)
            )
            acc[slots] += idf * (_K1 + 1.0) * tf / (tf + base + per_len * self._lens[slots])
        found = np.flatnonzero(acc)
        if len(found) > k:
            found = found[best_rows(acc[found], k)]
        ids = self._slot_ids
        return [ids[i] for i in found.tolist()], acc[found]  # type: ignore[misc]

    def _norms(self) -> tuple[float, float]:
        """``k1 * (1 - b)`` and ``k1 * b / avgdl``."""
        return _K1 * (1 - _B), _K1 * _B / (self._total_len / len(self._doc_len))

    def _sum(
        self, phrases: list[tuple[tuple[str, ...], dict[str, int], float]]
    ) -> dict[str, float]:
        base, per_len = self._norms()
        doc_len = self._doc_len
        out: dict[str, float] = {}
        get = out.get
        for _tokens, hits, idf in phrases:
            top = idf * (_K1 + 1.0)
            for doc_id, tf in hits.items():
                out[doc_id] = get(doc_id, 0.0) + top * tf / (tf + base + per_len * doc_len[doc_id])
        return out

    def scores(self, query: str, common_term_ratio: float | None = None) -> dict[str, float]:
        if not self._doc_len:
            return {}
        return self._sum(self._phrases(query, common_term_ratio))
