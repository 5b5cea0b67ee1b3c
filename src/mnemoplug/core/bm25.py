"""Lexical matching in process: tokenisation (lower-cased, Porter-stemmed words), query words
without stop words, the FTS5 query of a text, and an incremental BM25 index per user
(:class:`BM25Index`, what the in-process, Redis and Qdrant stores rank with)."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads at first use, not with ``import mnemoplug``
    np = lazy_module("numpy", globals(), "np")

__all__ = ["STOPWORDS", "BM25Index", "fts5_query", "query_terms", "tokenize"]

_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t don ll m re ve d""".split()
)
_stemmer: Any = None  # snowballstemmer's Porter stemmer, loaded at the first word (~20 ms)
_stem_cache: dict[str, str] = {}


def _porter() -> Any:
    global _stemmer
    if _stemmer is None:
        import snowballstemmer

        _stemmer = snowballstemmer.stemmer("porter")
    return _stemmer


def _stem(word: str) -> str:
    s = _stem_cache.get(word)
    if s is None:
        s = _porter().stemWord(word)
        if len(_stem_cache) < 200_000:
            _stem_cache[word] = s
    return s


def tokenize(text: str) -> list[str]:
    """Lower-cased, Porter-stemmed word tokens (what the in-process BM25 indexes)."""
    return [_stem(w) for w in _WORD.findall(text.lower())]


def query_terms(text: str) -> list[str]:
    """Distinct lower-cased query words without stop words (unstemmed)."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text.lower()):
        if w not in STOPWORDS:
            seen.setdefault(w, None)
    return list(seen)


def fts5_query(text: str) -> str | None:
    """An FTS5 MATCH expression: the query's words, quoted, OR-ed (None when nothing is left)."""
    words = query_terms(text)
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


class BM25Index:
    """An incremental BM25 index over documents keyed by id."""

    __slots__ = ("_doc_len", "_doc_terms", "_postings", "_term_cache", "_total_len", "b", "k1")

    #: terms matching at least this many documents keep their arrays for :meth:`term_scores`
    CACHE_MIN_DOCS = 64

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._postings: dict[str, dict[str, int]] = {}
        self._doc_len: dict[str, int] = {}
        self._doc_terms: dict[str, tuple[str, ...]] = {}
        self._total_len = 0
        # term -> (its documents, their tf, their lengths), dropped when the term's docs change
        self._term_cache: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._doc_len)

    def add(self, doc_id: str, text: str) -> None:
        if doc_id in self._doc_len:
            self.remove(doc_id)
        tokens = tokenize(text)
        self._doc_len[doc_id] = len(tokens)
        self._total_len += len(tokens)
        counts = Counter(tokens)
        self._doc_terms[doc_id] = tuple(counts)
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[doc_id] = tf
            self._term_cache.pop(term, None)

    def remove(self, doc_id: str) -> None:
        n = self._doc_len.pop(doc_id, None)
        if n is None:
            return
        self._total_len -= n
        for term in self._doc_terms.pop(doc_id, ()):
            self._term_cache.pop(term, None)
            plist = self._postings.get(term)
            if plist is not None:
                plist.pop(doc_id, None)
                if not plist:
                    del self._postings[term]

    def _terms(self, query: str, common_term_ratio: float | None) -> list[tuple[str, float]]:
        """The query's indexed terms (pruned, see :attr:`RetrievalConfig.common_term_ratio`)
        with their IDF."""
        n_docs = len(self._doc_len)
        terms = [t for t in {_stem(w) for w in query_terms(query)} if t in self._postings]
        if common_term_ratio is not None and n_docs >= 1000 and terms:
            rarest = min(terms, key=lambda t: len(self._postings[t]))
            limit = common_term_ratio * n_docs
            terms = [t for t in terms if t == rarest or len(self._postings[t]) <= limit]
        out = []
        for term in terms:
            df = len(self._postings[term])
            out.append((term, math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))))
        return out

    def scores(self, query: str, common_term_ratio: float | None = None) -> dict[str, float]:
        """BM25 score of every document matching a query term (see
        :attr:`RetrievalConfig.common_term_ratio` for ``common_term_ratio``)."""
        n_docs = len(self._doc_len)
        if not n_docs:
            return {}
        avgdl = self._total_len / n_docs or 1.0
        k1, b = self.k1, self.b
        out: dict[str, float] = {}
        for term, idf in self._terms(query, common_term_ratio):
            for doc_id, tf in self._postings[term].items():
                dl = self._doc_len[doc_id]
                s = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
                out[doc_id] = out.get(doc_id, 0.0) + s
        return out

    def _term_postings(self, term: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        got = self._term_cache.get(term)
        if got is None:
            plist = self._postings[term]
            docs = list(plist)
            n = len(docs)
            got = (
                docs,
                np.fromiter(plist.values(), dtype=np.float64, count=n),
                np.fromiter(map(self._doc_len.__getitem__, docs), dtype=np.float64, count=n),
            )
            if n >= self.CACHE_MIN_DOCS:
                self._term_cache[term] = got
        return got

    def term_scores(
        self, query: str, common_term_ratio: float | None = None
    ) -> list[tuple[str, list[str], np.ndarray]]:
        """:meth:`scores` before the sum over terms: per matching term, its documents and
        their scores for it (arrays kept per term until its documents change). Summing each
        document's scores in term order gives exactly :meth:`scores`."""
        n_docs = len(self._doc_len)
        if not n_docs:
            return []
        avgdl = self._total_len / n_docs or 1.0
        k1, b = self.k1, self.b
        out = []
        for term, idf in self._terms(query, common_term_ratio):
            docs, tf, dl = self._term_postings(term)
            out.append((term, docs, idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))))
        return out
