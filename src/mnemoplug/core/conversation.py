"""Conversation-aware adjustments of the fused ranking (issue 10), shared by every provider.

Memories of a conversation have structure: the thread they belong to, their order in it, who
said them and when. A *thread* is a session (same ``agent_id`` and ``session_id``, ordered by
when it happened, then when it was added, then position in its ``add`` call) or, without a
session, the memories of one ``add`` call in their order. After the dense + lexical fusion,
the best ``structure_candidates`` memories (the pool) are re-scored::

    final = fused
          + neighbour_weight * max(0, best fused score of its previous/next turn - fused)
          + session_weight   * (best fused score in its thread - fused)
          + speaker_weight   * unit   when the question names the memory's speaker
          + date_weight      * unit   when the question names the date it occurred on

where ``unit`` is the fusion's weight sum (what a perfect fused score is: the boosts add to
the reported score directly). A turn is pulled toward a better neighbour, never past it, so
a run of similar turns cannot lift itself above a better memory (a margin over the lowest
candidate instead scored 0.005 better on LoCoMo dev but let restated answers crowd a stated
fact out of an agent's top 5). A memory alone in its thread (added on its own, without a session) gets no neighbour
or session term, so memories added one by one rank exactly as by the fusion alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from ._lazy import lazy_module
from .fusion import best_rows
from .records import StoredMemory

if TYPE_CHECKING:
    import numpy as np

    from .retrieval import RetrievalConfig
else:  # numpy loads at first use, not with ``import mnemoplug``
    np = lazy_module("numpy", globals(), "np")

__all__ = ["QueryDate", "ThreadColumns", "Threads", "query_dates", "rerank", "speakers_named"]

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_SHORT = {name for name in _MONTHS if len(name) <= 4 and name not in ("may", "june", "july")}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<year>\d{4})-(?P<mnum>\d{1,2})-(?P<day>\d{1,2})\b"),
    # 8 May 2023, 8 May, 2023, 8th of May 2023, 8 May
    re.compile(
        r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?\s+"
        + _MONTH
        + r"(?:,?\s+(?P<year>\d{4}))?\b",
        re.IGNORECASE,
    ),
    # May 8, 2023, May 8th 2023, May 2023, May
    re.compile(
        r"\b" + _MONTH + r"(?:\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?)?(?:,?\s+(?P<year>\d{4}))?\b",
        re.IGNORECASE,
    ),
]
_WORD = re.compile(r"\w+", re.UNICODE)


class QueryDate(NamedTuple):
    """A date a question names, as precise as it is given (None = not given)."""

    year: int | None
    month: int
    day: int | None

    def matches(self, d: date) -> bool:
        return (
            d.month == self.month
            and (self.year is None or d.year == self.year)
            and (self.day is None or d.day == self.day)
        )


def query_dates(query: str) -> list[QueryDate]:
    """The dates ``query`` names with at least a month ("8 May 2023", "May 8, 2023",
    "2023-05-08", "May 2023", "in June"); a year alone is too vague to count."""
    found: list[QueryDate] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(query):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            g = m.groupdict()
            month = int(g["mnum"]) if g.get("mnum") else _MONTHS[g["month"].lower()]
            alone = g.get("month") and not (g.get("day") or g.get("year"))
            if alone and (not m.group(0)[0].isupper() or g["month"].lower() in _SHORT):
                continue  # a month alone: capitalised and spelled out ("may", "march", "Jan")
            day = int(g["day"]) if g.get("day") else None
            year = int(g["year"]) if g.get("year") else None
            if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
                continue
            taken.append((m.start(), m.end()))
            found.append(QueryDate(year, month, day))
    return found


def speakers_named(query: str, speakers: Sequence[str]) -> set[str]:
    """The speakers whose name, or its first word, is a word of ``query`` (case-sensitive, or
    ignoring case when the query has no capital letters)."""
    fold = query == query.lower()
    words = {w.lower() if fold else w for w in _WORD.findall(query)}
    padded = f" {' '.join(_WORD.findall(query.lower() if fold else query))} "
    named = set()
    for s in speakers:
        name = s.lower() if fold else s
        parts = _WORD.findall(name)
        if not parts:
            continue
        if parts[0] in words or (len(parts) > 1 and f" {' '.join(parts)} " in padded):
            named.add(s)
    return named


def thread_key(m: StoredMemory) -> tuple[object, ...]:
    """The thread of a memory: its session, or (without one) its ``add`` call."""
    if m.session_id is not None:
        return (m.agent_id, m.session_id)
    return (m.agent_id, None, m.created_at)


def _position(m: StoredMemory) -> tuple[float, float, int]:
    return (m.when, m.created_at, m.seq)


class ThreadColumns(NamedTuple):
    """What the thread structure needs of each row, column by column."""

    agent_ids: Sequence[str | None]
    session_ids: Sequence[str | None]
    created: Sequence[float]  # created_at
    speakers: Sequence[str | None]
    when: Sequence[float]  # occurred_at, else created_at
    seq: Sequence[int]  # position in its add call


class Threads:
    """The thread structure of a user's memories (rows of a ``UserIndex``): each row's previous
    and next row in its thread (-1 when none), its thread's number, and its speaker's number
    (-1 when none) with the speakers' names. Built once, then extended row by row while new
    memories come after the last of their thread (a live conversation); anything else makes
    the owner rebuild it."""

    __slots__ = (
        "_speaker_ids",
        "_tails",
        "_threads",
        "next",
        "prev",
        "speaker",
        "speakers",
        "thread",
        "when",
    )

    def __init__(self, records: Sequence[StoredMemory]) -> None:
        self._build(
            ThreadColumns(
                [r.agent_id for r in records],
                [r.session_id for r in records],
                [r.created_at for r in records],
                [r.speaker for r in records],
                [r.when for r in records],
                [r.seq for r in records],
            )
        )

    @classmethod
    def of_columns(cls, columns: ThreadColumns) -> Threads:
        """The threads of rows given column by column, as ``Threads(memories)`` of them."""
        threads = cls.__new__(cls)
        threads._build(columns)
        return threads

    def _build(self, columns: ThreadColumns) -> None:
        agent_ids, session_ids, created, speakers, when, seq = columns
        n = len(created)
        cap = max(16, n)
        keys: dict[tuple[object, ...], int] = {}
        self._threads = keys
        self._speaker_ids: dict[str, int] = {}
        self.speakers: list[str] = []
        self.thread = np.empty(cap, dtype=np.int64)
        self.speaker = np.full(cap, -1, dtype=np.int64)
        self.prev = np.full(cap, -1, dtype=np.int64)
        self.next = np.full(cap, -1, dtype=np.int64)
        #: per thread number: (its last row, that row's position)
        self._tails: dict[int, tuple[int, tuple[float, float, int]]] = {}
        #: when each row happened (its ``when``)
        self.when = np.zeros(cap, dtype=np.float64)
        if not n:
            return
        # a row's thread is its session, or without one its ``add`` call (see thread_key)
        self.thread[:n] = [
            keys.setdefault((a, s) if s is not None else (a, None, c), len(keys))
            for a, s, c in zip(agent_ids, session_ids, created, strict=True)
        ]
        ids = self._speaker_ids
        self.speaker[:n] = [-1 if x is None else ids.setdefault(x, len(ids)) for x in speakers]
        self.speakers = list(ids)
        self.when[:n] = when
        thread = self.thread[:n]
        at = np.asarray(created, dtype=np.float64)
        order_in = np.asarray(seq, dtype=np.int64)
        # rows in a thread by when they happened, then were added, then position in the call
        order = np.lexsort((np.arange(n), order_in, at, self.when[:n], thread))
        a, b = order[:-1], order[1:]
        same = thread[a] == thread[b]
        self.prev[b[same]] = a[same]
        self.next[a[same]] = b[same]
        last = np.append(~same, True)  # the last row of each thread in ``order``
        for i in order[last].tolist():
            self._tails[int(thread[i])] = (i, (float(when[i]), float(created[i]), int(seq[i])))

    def _label(self, i: int, r: StoredMemory) -> int:
        t = self._threads.setdefault(thread_key(r), len(self._threads))
        self.thread[i] = t
        if r.speaker is not None:
            code = self._speaker_ids.get(r.speaker)
            if code is None:
                code = self._speaker_ids[r.speaker] = len(self.speakers)
                self.speakers.append(r.speaker)
            self.speaker[i] = code
        else:
            self.speaker[i] = -1
        return t

    def append(self, i: int, r: StoredMemory) -> bool:
        """Add row ``i`` (the newest row); False when it does not come after the last row
        of its thread (then rebuild)."""
        cap = len(self.thread)
        if i >= cap:
            grow = max(i + 1, 2 * cap) - cap
            self.thread = np.append(self.thread, np.zeros(grow, dtype=np.int64))
            self.speaker = np.append(self.speaker, np.full(grow, -1, dtype=np.int64))
            self.prev = np.append(self.prev, np.full(grow, -1, dtype=np.int64))
            self.next = np.append(self.next, np.full(grow, -1, dtype=np.int64))
            self.when = np.append(self.when, np.zeros(grow, dtype=np.float64))
        t = self._label(i, r)
        self.when[i] = r.when
        pos = _position(r)
        tail = self._tails.get(t)
        self.prev[i] = self.next[i] = -1
        if tail is not None:
            if pos < tail[1]:
                return False
            self.prev[i], self.next[tail[0]] = tail[0], i
        self._tails[t] = (i, pos)
        return True


def _on_dates(when: np.ndarray, dates: list[QueryDate]) -> np.ndarray:
    """Whether each time ``when`` (epoch seconds) falls (UTC) on one of ``dates``."""
    t = when.astype("datetime64[s]")
    months = t.astype("datetime64[M]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (t.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64) + 1
    hit = np.zeros(len(when), dtype=bool)
    for qd in dates:
        m = month == qd.month
        if qd.year is not None:
            m &= year == qd.year
        if qd.day is not None:
            m &= day == qd.day
        hit |= m
    return hit


def rerank(
    score: np.ndarray,
    threads: Threads,
    query: str,
    cfg: RetrievalConfig,
    limit: int,
    unit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``limit`` rows after the adjustments (best first) and their final scores.
    ``score`` is every row's fused score, -inf where excluded (scope, filters, expiry,
    ``min_relevance``); excluded rows never count, not even as neighbours."""
    cand = np.flatnonzero(np.isfinite(score))
    pool = max(cfg.structure_candidates, limit)
    if len(cand) > pool:
        cand = cand[best_rows(score[cand], pool)]
    fused = score[cand]
    final = fused.copy()
    if len(cand) > 1:
        if cfg.neighbour_weight > 0:
            p, q = threads.prev[cand], threads.next[cand]
            ps = np.where(p >= 0, score[np.maximum(p, 0)], -np.inf)
            qs = np.where(q >= 0, score[np.maximum(q, 0)], -np.inf)
            margin = np.maximum(ps, qs) - fused
            final += cfg.neighbour_weight * np.where(margin > 0, margin, 0.0)
        if cfg.session_weight > 0:
            thread = threads.thread[cand]
            best = np.full(int(thread.max()) + 1, -np.inf)
            np.maximum.at(best, thread, fused)
            final += cfg.session_weight * (best[thread] - fused)
        if cfg.speaker_weight > 0 and threads.speakers:
            named = speakers_named(query, threads.speakers)
            if named:
                codes = [i for i, s in enumerate(threads.speakers) if s in named]
                final += cfg.speaker_weight * unit * np.isin(threads.speaker[cand], codes)
        if cfg.date_weight > 0:
            dates = query_dates(query)
            if dates:
                final += cfg.date_weight * unit * _on_dates(threads.when[cand], dates)
    k = min(limit, len(cand))
    if k <= 0:
        return cand[:0], final[:0]
    top = best_rows(final, k)
    top = top[np.lexsort((cand[top], -fused[top], -final[top]))]
    return cand[top], final[top]
