"""Memory hygiene: the default extractor, with no LLM, deciding what a live run keeps.

Two rules, each a setting of ``Memory``:

* ``questions="skip"`` (default): a message that only asks (every sentence is a question or a
  recall request such as "remind me what my dog is called") carries no new statement, so it is
  not stored as a long-term memory. ``questions="keep"`` stores it as before.
* ``dedupe=True`` (default): a message that near-duplicates an existing memory of the same
  user (and agent) updates that memory instead of adding a row; the same words again, or a
  restatement by the other role, store nothing. ``dedupe=False`` adds every message;
  ``dedupe=Dedupe(cosine=..., text=...)`` changes the thresholds.

Near-duplicate means: the same numbers, names (capitalised words), negation and order of
shared content words, and either cosine similarity ≥ ``Dedupe.cosine`` (0.93) or
normalised-text similarity (difflib ratio over lower-cased words) ≥ ``Dedupe.text`` (0.95).
Calibrated with all-MiniLM-L6-v2 on a labelled set of 18 paraphrase pairs and 20 different-fact
pairs (``tests/core/hygiene_pairs.py``): no different-fact pair merges; 14 of 18 paraphrases
do (the misses stay separate rows). Cosine alone cannot tell "34 years old" from "43 years old"
(0.88) or "meeting on Monday" from "on Friday" (0.97): hence the guards.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .errors import ConfigurationError
from .operations import MemoryOperation, NewTurn

__all__ = [
    "Dedupe",
    "HygieneExtractor",
    "QuestionPolicy",
    "is_question",
    "near_duplicate",
    "normalize_text",
]

QuestionPolicy = Literal["skip", "keep"]

_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]*")
_ASKS = frozenset(
    "what what's whats who who's whos whom whose where where's when when's why how how's "
    "which".split()
)
_AUX = frozenset(
    "do does did is are was were am can could would will should shall may might have has "
    "had isn't aren't don't doesn't didn't".split()
)
_RECALL = re.compile(
    r"^(please\s+)?(tell me|remind me|any idea|guess|recall|do you (still )?(remember|know))\b"
)
_STATES = re.compile(
    r"\b(remember|note|keep in mind|forget|know|tell you|told you|mention(ed)?)\s+(that\b|:)"
)
_FIRST_PERSON = re.compile(r"\b(i|we)\s+\w+|\bmy \w+(\s+\w+)? (is|are|was|has)\b")
_NEGATION = re.compile(r"\b(not|no|never|nothing|none|cannot)\b|n't\b")
_NUMBER = re.compile(r"\d+")
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z]+")
_STOP = frozenset(
    "a an the is are was were be been am i i'm im me my mine you your yours we our he she it "
    "his her its they their them to of in on at for with and or but that this these those "
    "s do does did have has had will would can could should called named name now".split()
)


def normalize_text(text: str) -> str:
    """Lower-cased words joined by single spaces (punctuation dropped)."""
    return " ".join(_WORD.findall(text.lower()))


def _is_question_sentence(sentence: str) -> bool:
    s = sentence.strip().lower()
    if not s:
        return True
    if _STATES.search(s):
        return False
    first = s.split(None, 1)[0].strip(",:")
    if first in _ASKS or first in _AUX or _RECALL.match(s):
        return True
    if s.endswith("?"):
        return not _FIRST_PERSON.search(s)  # "I just moved to Berlin, any tips?" states
    return False


def is_question(text: str) -> bool:
    """True when every sentence of ``text`` asks (a question or a recall request) and none
    states something (such as "Did I tell you that my dog is called Rex?")."""
    sentences = [s for s in _SENTENCE.findall(text) if s.strip(" \t.!?;")]
    return bool(sentences) and all(_is_question_sentence(s) for s in sentences)


@dataclass(frozen=True)
class Dedupe:
    """Near-duplicate thresholds (see the module docstring for how they were calibrated).

    Args:
        cosine: embedding cosine at or above which two texts may be the same memory.
        text: normalised-text similarity (0..1) at or above which they may be, with no
            embedder needed.
        candidates: how many of the most similar existing memories to compare with.
    """

    cosine: float = 0.93
    text: float = 0.95
    candidates: int = 5

    def __post_init__(self) -> None:
        for name in ("cosine", "text"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 < v <= 1.0:
                raise ConfigurationError(f"Dedupe({name}=...) must be in (0, 1], got {v!r}")
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, int):
            raise ConfigurationError("Dedupe(candidates=...) must be a positive integer")
        if self.candidates < 1:
            raise ConfigurationError("Dedupe(candidates=...) must be a positive integer")


def _names(text: str) -> set[str]:
    """Capitalised words not opening a sentence (names, places, days), lower-cased."""
    out: set[str] = set()
    for sentence in _SENTENCE.findall(text):
        parts = sentence.strip().split(None, 1)
        if len(parts) == 2:
            out.update(w.lower() for w in _CAPITALISED.findall(parts[1]) if w != "I")
    return out


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _content_words(norm: str) -> list[str]:
    return [w for w in norm.split() if w not in _STOP]


def _same_order(a: list[str], b: list[str]) -> bool:
    shared = set(a) & set(b)
    return [w for w in dict.fromkeys(a) if w in shared] == [
        w for w in dict.fromkeys(b) if w in shared
    ]


def _guards_agree(a: str, b: str, na: str, nb: str) -> bool:
    if set(_NUMBER.findall(na)) != set(_NUMBER.findall(nb)):
        return False
    if bool(_NEGATION.search(a.lower())) != bool(_NEGATION.search(b.lower())):
        return False
    wa, wb = {_stem(w) for w in na.split()}, {_stem(w) for w in nb.split()}
    if not ({_stem(w) for w in _names(a)} <= wb and {_stem(w) for w in _names(b)} <= wa):
        return False
    return _same_order(_content_words(na), _content_words(nb))


def near_duplicate(a: str, b: str, cosine: float | None, dedupe: Dedupe) -> bool:
    """Whether ``a`` restates ``b`` (``cosine``: their embedding cosine, None without one)."""
    na, nb = normalize_text(a), normalize_text(b)
    if na == nb:
        return True
    if not _guards_agree(a, b, na, nb):
        return False
    if cosine is not None and cosine >= dedupe.cosine:
        return True
    return difflib.SequenceMatcher(None, na, nb).ratio() >= dedupe.text


class HygieneExtractor:
    """The default extractor: the hygiene rules of this module, deterministic, no LLM.

    Per message of the turn: a question (``questions="skip"``) → ``none``; a near-duplicate of
    an existing memory (``dedupe``) → ``update`` of that memory when the wording changed and the
    role is the same, else ``none``; anything else → ``add``.
    """

    def __init__(self, *, dedupe: bool | Dedupe = True, questions: QuestionPolicy = "skip") -> None:
        if questions not in ("skip", "keep"):
            raise ConfigurationError(f'questions must be "skip" or "keep", got {questions!r}')
        if isinstance(dedupe, bool):
            self.dedupe: Dedupe | None = Dedupe() if dedupe else None
        elif isinstance(dedupe, Dedupe):
            self.dedupe = dedupe
        else:
            raise ConfigurationError(
                f"dedupe must be True, False or Dedupe(cosine=..., text=...), got {dedupe!r}"
            )
        self.questions: QuestionPolicy = questions

    @property
    def related_limit(self) -> int:
        """How many related memories ``remember`` should look up per message (0: none)."""
        return 0 if self.dedupe is None else self.dedupe.candidates

    def __repr__(self) -> str:
        return f"HygieneExtractor(dedupe={self.dedupe!r}, questions={self.questions!r})"

    def __call__(self, turn: NewTurn) -> Sequence[MemoryOperation]:
        ops: list[MemoryOperation] = []
        kept: list[tuple[str | None, str]] = []  # earlier messages of this turn that are stored
        for m in turn.messages:
            if self.questions == "skip" and is_question(m.content):
                ops.append(MemoryOperation.none("question"))
                continue
            if self.dedupe is not None:
                op = self._against_existing(m.role, m.content, m.related, self.dedupe)
                if op is None and any(
                    near_duplicate(m.content, text, None, self.dedupe) for _, text in kept
                ):
                    op = MemoryOperation.none("repeats this turn")
                if op is not None:
                    ops.append(op)
                    continue
            kept.append((m.role, m.content))
            ops.append(MemoryOperation.add(m.content, role=m.role))
        return ops

    @staticmethod
    def _against_existing(
        role: str | None, content: str, related: Sequence[object], dedupe: Dedupe
    ) -> MemoryOperation | None:
        for r in related:
            rec_content = getattr(r, "content", "")
            if not near_duplicate(content, rec_content, getattr(r, "similarity", None), dedupe):
                continue
            rec_id = str(getattr(r, "id", ""))
            if normalize_text(content) == normalize_text(rec_content):
                return MemoryOperation.none(f"same as {rec_id}")
            if getattr(r, "role", None) != role:
                return MemoryOperation.none(f"restates {rec_id}")
            return MemoryOperation.update(rec_id, content, reason="near-duplicate")
        return None
