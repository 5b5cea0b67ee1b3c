"""Providers' in-process cache of users' :class:`~mnemoplug.core.retrieval.UserIndex`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .retrieval import UserIndex

__all__ = ["UserIndexCache"]


class UserIndexCache:
    """Providers' in-process cache of users' :class:`UserIndex`, least recently used first out
    once more than ``max_records`` memories are cached, each entry valid for one *version* of
    its user (a generation counter every write bumps, or a token every write replaces).

    A provider reads the user's version from the store and calls :meth:`get`; on a miss it
    loads the user and calls :meth:`put`. After its own committed write it calls
    :meth:`advance` (or :meth:`after_write` for counters), which applies the change in place
    when the cached entry is exactly one write old and drops it otherwise (someone else
    wrote in between), so other processes' writes are always seen."""

    def __init__(self, max_records: int = 500_000) -> None:
        self.max_records = max_records
        self._entries: OrderedDict[Any, tuple[Any, UserIndex]] = OrderedDict()
        self.records = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Any) -> bool:
        return key in self._entries

    def __getitem__(self, key: Any) -> tuple[Any, UserIndex]:
        """``(version, index)`` of a cached user (KeyError when not cached)."""
        return self._entries[key]

    def version(self, key: Any) -> Any:
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def get(self, key: Any, version: Any) -> UserIndex | None:
        """The cached index when it is at ``version``, else None."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Any, version: Any, idx: UserIndex) -> None:
        self.drop(key)
        self._entries[key] = (version, idx)
        self.records += len(idx)
        while self.records > self.max_records and len(self._entries) > 1:
            self.drop(next(iter(self._entries)))

    def drop(self, key: Any) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.records -= len(entry[1])

    def clear(self) -> None:
        self._entries.clear()
        self.records = 0

    def advance(
        self, key: Any, expected: Any, new: Any, apply: Callable[[Any, UserIndex], Any]
    ) -> None:
        """After our own write moved the user from ``expected`` to ``new``: apply it to the
        cached index (``apply(key, idx)``) if that is at ``expected``; drop it otherwise."""
        entry = self._entries.get(key)
        if entry is None:
            return
        if entry[0] != expected:
            self.drop(key)
            return
        before = len(entry[1])
        apply(key, entry[1])
        self.records += len(entry[1]) - before
        self._entries[key] = (new, entry[1])

    def after_write(
        self, generations: dict[Any, int], apply: Callable[[Any, UserIndex], Any]
    ) -> None:
        """:meth:`advance` for counters: each user's generation after our write, one more
        than before it."""
        for key, gen in generations.items():
            self.advance(key, gen - 1, gen, apply)
