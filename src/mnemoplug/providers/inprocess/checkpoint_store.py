"""In-process checkpoint store: ``checkpoint_store_from_url("memory://")``. Nothing persisted;
states are kept encoded, so later changes to a saved object do not leak into the store."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from ...core.checkpoints import Checkpoint, build_checkpoint
from ...core.records import copy_json
from ...core.stores import CheckpointStore
from .memory_store import memory_url

__all__ = ["InMemoryCheckpointStore"]


@dataclass(slots=True)
class _Row:
    seq: int
    run_id: str
    checkpoint_id: str
    parent_id: str | None
    state_type: str
    raw: bytes
    metadata: dict[str, Any]
    created_at: float


class InMemoryCheckpointStore(CheckpointStore):
    """Checkpoints in a dict: owner -> run -> checkpoint id -> row."""

    name = "memory"

    def __init__(self, url: str | None = None) -> None:
        self.url = memory_url(url)
        self._rows: dict[tuple[str, str], dict[str, dict[str, _Row]]] = {}
        self._seq = itertools.count(1)

    def _cp(self, owner: tuple[str, str], r: _Row) -> Checkpoint:
        return build_checkpoint(
            run_id=r.run_id,
            checkpoint_id=r.checkpoint_id,
            tenant=owner[0],
            user=owner[1],
            state_type=r.state_type,
            raw=r.raw,
            metadata=copy_json(r.metadata),
            parent_id=r.parent_id,
            created_at=r.created_at,
        )

    async def _save(
        self,
        owner: tuple[str, str],
        run_id: str,
        checkpoint_id: str,
        parent_id: str | None,
        state_type: str,
        raw: bytes,
        metadata: dict[str, Any],
        created_at: float,
    ) -> None:
        run = self._rows.setdefault(owner, {}).setdefault(run_id, {})
        old = run.get(checkpoint_id)
        seq = old.seq if old is not None else next(self._seq)
        run[checkpoint_id] = _Row(
            seq, run_id, checkpoint_id, parent_id, state_type, raw, copy_json(metadata), created_at
        )

    async def _load(
        self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None
    ) -> Checkpoint | None:
        run = self._rows.get(owner, {}).get(run_id)
        if not run:
            return None
        if checkpoint_id is not None:
            r = run.get(checkpoint_id)
        else:
            r = max(run.values(), key=lambda x: x.seq)
        return None if r is None else self._cp(owner, r)

    async def _list(
        self, owner: tuple[str, str], run_id: str | None, limit: int, before: str | None
    ) -> list[Checkpoint]:
        runs = self._rows.get(owner, {})
        rows = [
            r for rid, run in runs.items() if run_id is None or rid == run_id for r in run.values()
        ]
        if before is not None:
            marks = [r.seq for r in rows if r.checkpoint_id == before]
            if not marks:
                return []
            rows = [r for r in rows if r.seq < max(marks)]
        rows.sort(key=lambda r: r.seq, reverse=True)
        return [self._cp(owner, r) for r in rows[:limit]]

    async def _delete(self, owner: tuple[str, str], run_id: str, checkpoint_id: str | None) -> int:
        runs = self._rows.get(owner, {})
        run = runs.get(run_id)
        if not run:
            return 0
        if checkpoint_id is None:
            del runs[run_id]
            return len(run)
        n = int(run.pop(checkpoint_id, None) is not None)
        if not run:
            del runs[run_id]
        return n

    async def _delete_user(self, owner: tuple[str, str]) -> int:
        runs = self._rows.pop(owner, {})
        return sum(len(r) for r in runs.values())

    async def _owners(self) -> list[tuple[str, str]]:
        return [owner for owner, runs in self._rows.items() if runs]
