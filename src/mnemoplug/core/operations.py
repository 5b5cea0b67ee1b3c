"""Memory operations: what an extractor decides to do with a new turn (add, update, delete or
nothing), and the turn it decides on. ``Memory.remember`` applies the operations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .errors import MemoryValidationError
from .records import MemoryRecord

__all__ = ["Extractor", "MemoryOperation", "NewTurn", "OperationKind", "TurnMessage"]

OperationKind = Literal["add", "update", "delete", "none"]
_KINDS = ("add", "update", "delete", "none")


@dataclass(frozen=True)
class MemoryOperation:
    """One change to a user's long-term memories, as Mem0's extraction returns them.

    * ``add``: store ``content`` (with ``role``) as a new memory;
    * ``update``: replace the content of the existing memory ``memory_id``;
    * ``delete``: delete the memory ``memory_id``;
    * ``none``: keep nothing (``reason`` says why, e.g. ``"question"``).

    ``memory_id`` names a memory of the same user: an operation naming another user's memory
    (or one that does not exist) is skipped. After ``remember`` applied an ``add``, its
    ``memory_id`` is the new memory's id.
    """

    kind: OperationKind
    content: str | None = None
    memory_id: str | None = None
    role: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise MemoryValidationError(
                f"operation kind must be one of {', '.join(_KINDS)}, got {self.kind!r}"
            )
        if self.kind in ("add", "update") and (
            not isinstance(self.content, str) or not self.content.strip()
        ):
            raise MemoryValidationError(f"a {self.kind} operation needs non-empty content")
        if self.kind in ("update", "delete") and (
            not isinstance(self.memory_id, str) or not self.memory_id
        ):
            raise MemoryValidationError(f"a {self.kind} operation needs the memory_id it changes")

    @classmethod
    def add(cls, content: str, role: str | None = None, reason: str = "") -> MemoryOperation:
        return cls("add", content=content, role=role, reason=reason)

    @classmethod
    def update(cls, memory_id: str, content: str, reason: str = "") -> MemoryOperation:
        return cls("update", content=content, memory_id=memory_id, reason=reason)

    @classmethod
    def delete(cls, memory_id: str, reason: str = "") -> MemoryOperation:
        return cls("delete", memory_id=memory_id, reason=reason)

    @classmethod
    def none(cls, reason: str = "") -> MemoryOperation:
        return cls("none", reason=reason)


@dataclass(frozen=True)
class TurnMessage:
    """One message of the new turn and the user's existing memories most similar to it (best
    first; each record's ``similarity`` is its cosine to this message when the Memory embeds)."""

    role: str | None
    content: str
    related: tuple[MemoryRecord, ...] = ()


@dataclass(frozen=True)
class NewTurn:
    """What an extractor receives: the user, the turn's messages (system messages left out),
    each with its most related existing memories."""

    user_id: str
    messages: tuple[TurnMessage, ...]
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def related(self) -> list[MemoryRecord]:
        """The existing memories related to any message, each once, most similar first."""
        best: dict[str, MemoryRecord] = {}
        for m in self.messages:
            for r in m.related:
                old = best.get(r.id)
                if old is None or (r.similarity or 0.0) > (old.similarity or 0.0):
                    best[r.id] = r
        return sorted(best.values(), key=lambda r: -(r.similarity or 0.0))


#: ``extractor(turn) -> operations``, sync or async
Extractor = Callable[[NewTurn], Sequence[MemoryOperation] | Awaitable[Sequence[MemoryOperation]]]
