"""``MnemoplugAgnoDb``: a drop-in for Agno's own user-memory storage (an
``agno.db.in_memory.InMemoryDb`` whose user memories live in mnemoplug, scoped by user).
Also importable from :mod:`mnemoplug.adapters.agno`."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from ..core.errors import MissingDependencyError

try:
    from agno.db.in_memory import InMemoryDb
    from agno.db.in_memory.utils import apply_sorting
    from agno.db.schemas.memory import UserMemory
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingDependencyError("the Agno adapter", "agno", "agno") from exc

from ..core.memory import Memory
from ..core.portal import Portal, shared_portal
from ..core.provider import MemoryProvider
from ..core.records import MemoryRecord
from ..core.sync import SyncMemory
from ._checks import check_optional_str
from ._memory import unwrap_memory

__all__ = ["PORTAL_NAME", "MnemoplugAgnoDb", "agno_portal"]

T = TypeVar("T")
PORTAL_NAME = "mnemoplug-agno"
_AGNO_KIND = "agno_user_memory"
_MAX_LIST = 10_000


def agno_portal() -> Portal:
    """The Agno adapter's shared portal thread (for a plain ``Memory``)."""
    return shared_portal(PORTAL_NAME)


class MnemoplugAgnoDb(InMemoryDb):
    """An Agno ``InMemoryDb`` whose *user memories* are stored in mnemoplug.

    ``Agent(db=MnemoplugAgnoDb(memory), update_memory_on_run=True)`` or
    ``MemoryManager(db=MnemoplugAgnoDb(memory))``: Agno's user memories become mnemoplug
    memories of the same user (tagged ``metadata["kind"] == "agno_user_memory"``), pass through
    the mnemoplug hooks (PII redaction, audit, …) and are found by the adapter's injection.
    Sessions, runs and everything else stay in memory as with ``InMemoryDb``. Agno's memory id,
    topics, input, team id and feedback are kept in metadata; Agno's ``agent_id`` becomes the
    mnemoplug ``agent_id``. Calls with ``user_id=None`` cover every user of the store (over
    your own MemoryProvider that needs its ``list_users()``; pass a user id otherwise).
    """

    def __init__(
        self, memory: Memory | SyncMemory | MemoryProvider, *, tenant_id: str | None = None
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.memory, self._portal = unwrap_memory(memory)
        self.tenant_id = check_optional_str(tenant_id, "tenant_id")

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return (self._portal or agno_portal()).call(coro)

    # -- helpers -------------------------------------------------------------------------------
    def _users(self, user_id: str | None) -> list[str]:
        if user_id is not None:
            return [user_id]
        pairs = self._call(self._list_users())
        tenant = self.tenant_id or ""
        return [u for t, u in pairs if t == tenant]

    async def _list_users(self) -> list[tuple[str, str]]:
        await self.memory.open()
        return list(await self.memory.list_users())

    def _records(self, user_id: str | None, agent_id: str | None = None) -> list[Any]:
        out: list[Any] = []
        for user in self._users(user_id):
            out.extend(
                self._call(
                    self.memory.get_all(
                        user,
                        limit=_MAX_LIST,
                        filters={"kind": _AGNO_KIND},
                        tenant_id=self.tenant_id,
                        agent_id=agent_id,
                    )
                )
            )
        return out

    @staticmethod
    def _to_dict(rec: Any) -> dict[str, Any]:
        meta = rec.metadata or {}
        data: dict[str, Any] = {
            "memory_id": meta.get("agno_memory_id") or rec.id,
            "memory": rec.content,
            "topics": meta.get("topics"),
            "input": meta.get("input"),
            "user_id": rec.user_id,
            "agent_id": rec.agent_id,
            "team_id": meta.get("team_id"),
            "feedback": meta.get("feedback"),
            "created_at": int(meta.get("agno_created_at") or rec.created_at.timestamp()),
            "updated_at": int(rec.updated_at.timestamp()),
        }
        return {k: v for k, v in data.items() if v is not None}

    def _find(self, memory_id: str, user_id: str | None) -> Any:
        for user in self._users(user_id):
            hits = self._call(
                self.memory.get_all(
                    user,
                    limit=1,
                    filters={"kind": _AGNO_KIND, "agno_memory_id": memory_id},
                    tenant_id=self.tenant_id,
                )
            )
            if hits:
                return hits[0]
            rec = self._call(self.memory.get(user, memory_id, tenant_id=self.tenant_id))
            if rec is not None and (rec.metadata or {}).get("kind") == _AGNO_KIND:
                return rec
        return None

    # -- Agno's user-memory API ----------------------------------------------------------------
    def upsert_user_memory(
        self, memory: UserMemory, deserialize: bool | None = True
    ) -> UserMemory | dict[str, Any] | None:
        """Insert or update one Agno user memory (``user_id`` None means Agno's "default")."""
        user = memory.user_id or "default"
        meta: dict[str, Any] = {"kind": _AGNO_KIND}
        for key in ("topics", "input", "team_id", "feedback"):
            value = getattr(memory, key, None)
            if value is not None:
                meta[key] = list(value) if key == "topics" else value
        if memory.created_at is not None:
            meta["agno_created_at"] = int(memory.created_at)
        existing = self._find(memory.memory_id, user) if memory.memory_id else None
        rec: MemoryRecord | None
        if existing is not None:
            if (existing.metadata or {}).get("agno_memory_id"):
                meta["agno_memory_id"] = existing.metadata["agno_memory_id"]
            rec = self._call(
                self.memory.update(
                    user,
                    existing.id,
                    content=memory.memory,
                    metadata=meta,
                    tenant_id=self.tenant_id,
                )
            )
        else:
            if memory.memory_id:
                meta["agno_memory_id"] = memory.memory_id
            mid = self._call(
                self.memory.add(
                    user, memory.memory, meta, tenant_id=self.tenant_id, agent_id=memory.agent_id
                )
            )
            if not memory.memory_id:
                memory.memory_id = mid
            rec = self._call(self.memory.get(user, mid, tenant_id=self.tenant_id))
        if rec is None:  # pragma: no cover - a concurrent delete
            return None
        data = self._to_dict(rec)
        return UserMemory.from_dict(data) if deserialize else data

    def upsert_memories(
        self,
        memories: list[UserMemory],
        deserialize: bool | None = True,
        preserve_updated_at: bool = False,
    ) -> list[UserMemory | dict[str, Any]]:
        """Upsert several memories (one by one, each through the hooks)."""
        out: list[UserMemory | dict[str, Any]] = []
        for m in memories:
            if m is not None:
                res = self.upsert_user_memory(m, deserialize=deserialize)
                if res is not None:
                    out.append(res)
        return out

    def get_user_memory(
        self, memory_id: str, deserialize: bool | None = True, user_id: str | None = None
    ) -> UserMemory | dict[str, Any] | None:
        """One memory by Agno id (or mnemoplug id), None when absent or another user's."""
        rec = self._find(memory_id, user_id)
        if rec is None:
            return None
        data = self._to_dict(rec)
        return UserMemory.from_dict(data) if deserialize else data

    def get_user_memories(
        self,
        user_id: str | None = None,
        agent_id: str | None = None,
        team_id: str | None = None,
        topics: list[str] | None = None,
        search_content: str | None = None,
        limit: int | None = None,
        page: int | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        deserialize: bool | None = True,
    ) -> list[UserMemory] | tuple[list[dict[str, Any]], int]:
        """The memories matching Agno's filters, with Agno's sorting and paging."""
        rows = [self._to_dict(r) for r in self._records(user_id, agent_id)]
        if team_id is not None:
            rows = [r for r in rows if r.get("team_id") == team_id]
        if topics is not None:
            rows = [r for r in rows if any(t in (r.get("topics") or []) for t in topics)]
        if search_content is not None:
            needle = search_content.lower()
            rows = [r for r in rows if needle in str(r.get("memory", "")).lower()]
        total = len(rows)
        if sort_by is None:
            rows.sort(key=lambda r: r.get("created_at", 0))
        else:
            rows = apply_sorting(rows, sort_by, sort_order)
        if limit is not None:
            start = (page - 1) * limit if page is not None else 0
            rows = rows[start : start + limit]
        if not deserialize:
            return rows, total
        return [UserMemory.from_dict(r) for r in rows]

    def get_all_memory_topics(self, user_id: str | None = None) -> list[str]:
        """Every topic used by the user's (or everyone's) memories."""
        topics: set[str] = set()
        for r in self._records(user_id):
            topics.update((r.metadata or {}).get("topics") or [])
        return sorted(topics)

    def get_user_memory_stats(
        self, limit: int | None = None, page: int | None = None, user_id: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Per-user counts and last update time, most recently updated first."""
        stats: dict[str, dict[str, Any]] = {}
        for r in self._records(user_id):
            s = stats.setdefault(
                r.user_id,
                {"user_id": r.user_id, "total_memories": 0, "last_memory_updated_at": 0},
            )
            s["total_memories"] += 1
            s["last_memory_updated_at"] = max(
                s["last_memory_updated_at"], int(r.updated_at.timestamp())
            )
        rows = sorted(stats.values(), key=lambda s: s["last_memory_updated_at"], reverse=True)
        total = len(rows)
        if limit is not None:
            start = (page - 1) * limit if page is not None else 0
            rows = rows[start : start + limit]
        return rows, total

    def delete_user_memory(self, memory_id: str, user_id: str | None = None) -> None:
        """Delete one memory (only the given user's when ``user_id`` is set)."""
        rec = self._find(memory_id, user_id)
        if rec is not None:
            self._call(self.memory.delete(rec.user_id, rec.id, tenant_id=self.tenant_id))

    def delete_user_memories(self, memory_ids: list[str], user_id: str | None = None) -> None:
        """Delete several memories (only the given user's when ``user_id`` is set)."""
        for mid in memory_ids:
            self.delete_user_memory(mid, user_id=user_id)

    def clear_memories(self) -> None:
        """Delete every Agno user memory in the store (other mnemoplug memories stay)."""
        for r in self._records(None):
            self._call(self.memory.delete(r.user_id, r.id, tenant_id=self.tenant_id))
