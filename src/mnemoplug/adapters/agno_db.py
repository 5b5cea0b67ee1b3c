"""``MnemoplugAgnoDb``: a drop-in for Agno's ``db`` (``SqliteDb``, ``PostgresDb``...) whose
user memories live in mnemoplug, scoped by user, and whose sessions and runs are kept in the
Memory's session store. Import it from :mod:`mnemoplug.adapters.agno`."""

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
from ..core.session import session_memory_from_url
from ..core.stores import SessionStore
from ..core.sync import SyncMemory
from ._checks import check_optional_str
from ._memory import unwrap_memory

__all__ = ["PORTAL_NAME", "MnemoplugAgnoDb", "agno_portal"]

T = TypeVar("T")
PORTAL_NAME = "mnemoplug-agno"
_AGNO_KIND = "agno_user_memory"
_MAX_LIST = 10_000
_AGNO_LOG = "agno_db"
_SESSION_TEXT = "[agno session]"


def _run_text(run: dict[str, Any]) -> str:
    """A run as readable text for the session store: its input and its answer."""
    parts = []
    run_input = run.get("input")
    text = run_input.get("input_content") if isinstance(run_input, dict) else run_input
    if isinstance(text, str) and text.strip():
        parts.append(f"user: {text.strip()}")
    content = run.get("content")
    if isinstance(content, str) and content.strip():
        parts.append(f"assistant: {content.strip()}")
    return "\n".join(parts) or f"[agno run {run.get('run_id')}]"


def agno_portal() -> Portal:
    """The Agno adapter's shared portal thread (for a plain ``Memory``)."""
    return shared_portal(PORTAL_NAME)


class MnemoplugAgnoDb(InMemoryDb):
    """An Agno ``db`` whose user memories and sessions are kept by mnemoplug.

    ``Agent(db=MnemoplugAgnoDb(memory), update_memory_on_run=True)`` or
    ``MemoryManager(db=MnemoplugAgnoDb(memory))``:

    * Agno's user memories become mnemoplug memories of the same user (tagged
      ``metadata["kind"] == "agno_user_memory"``), pass through the mnemoplug hooks (PII
      redaction, audit, …) and are found by the adapter's injection. Agno's memory id, topics,
      input, team id and feedback are kept in metadata; Agno's ``agent_id`` becomes the
      mnemoplug ``agent_id``. Calls with ``user_id=None`` cover every user of the store (over
      your own MemoryProvider that needs its ``list_users()``; pass a user id otherwise).
    * Agno's sessions and their runs are written through to the Memory's session store
      (``Memory(..., session="sqlite:///sessions.db")``, or ``sessions=``): one mnemoplug
      session per Agno session, owned by its user, holding a log of the session's rows and
      runs (each run readable as text: input and answer). A new process reads them back on
      first use, so swapping ``SqliteDb`` for this db keeps history across restarts. Without a
      session store, sessions live in this process only (as with ``InMemoryDb``).
    * Metrics, evals, knowledge and traces stay in process, as with ``InMemoryDb``.
    """

    def __init__(
        self,
        memory: Memory | SyncMemory | MemoryProvider,
        *,
        tenant_id: str | None = None,
        sessions: Any = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.memory, self._portal = unwrap_memory(memory)
        self.tenant_id = check_optional_str(tenant_id, "tenant_id")
        if isinstance(sessions, str):
            sessions = session_memory_from_url(sessions)
        self.sessions: SessionStore | None = (
            sessions if sessions is not None else getattr(self.memory, "session", None)
        )
        self._loaded: set[str] = set()
        self._listed = False

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return (self._portal or agno_portal()).call(coro)

    # -- sessions: written through to the session store ------------------------------------------
    def _owner(self, user_id: str | None) -> dict[str, Any]:
        kw: dict[str, Any] = {"user_id": user_id or "default"}
        if self.tenant_id is not None:
            kw["tenant_id"] = self.tenant_id
        return kw

    def _log(self, session_id: str, user_id: str | None, event: dict[str, Any], text: str) -> None:
        if self.sessions is None:
            return
        message = {"role": "system", "content": text, "metadata": {_AGNO_LOG: event}}
        self._call(self.sessions.add_messages(session_id, [message], **self._owner(user_id)))

    def _load(self, session_id: str) -> None:
        """Read a session written by another process (once per session and process)."""
        if self.sessions is None or session_id in self._loaded or session_id in self._sessions:
            self._loaded.add(session_id)
            return
        self._loaded.add(session_id)
        row: dict[str, Any] | None = None
        runs: dict[str, dict[str, Any]] = {}
        for m in self._call(self.sessions.get_messages(session_id, tenant_id=self.tenant_id)):
            event = (m.metadata or {}).get(_AGNO_LOG)
            if not isinstance(event, dict):
                continue
            if event.get("kind") == "session":
                row = dict(event["row"])
            elif event.get("kind") == "run":
                runs[str(event["run"]["run_id"])] = event["run"]
            elif event.get("kind") == "delete_run":
                runs.pop(str(event["run_id"]), None)
        if row is not None:
            row["runs"] = list(runs.values()) or None
            self._sessions[session_id] = row

    def _load_all(self, user_id: str | None) -> None:
        if self.sessions is None or self._listed:
            return
        owner: dict[str, Any] = {"tenant_id": self.tenant_id} if self.tenant_id else {}
        if user_id is not None:
            owner["user_id"] = user_id
        for info in self._call(self.sessions.list_sessions(limit=_MAX_LIST, **owner)):
            self._load(info.session_id)
        if user_id is None:
            self._listed = True

    def _log_session(self, session_id: str) -> None:
        stored = self._sessions.get(session_id)
        if stored is None:
            return
        row = {k: v for k, v in stored.items() if k != "runs"}
        self._log(session_id, row.get("user_id"), {"kind": "session", "row": row}, _SESSION_TEXT)

    def get_session(self, session_id: str, *args: Any, **kwargs: Any) -> Any:
        """Agno's ``get_session`` (reading the session store first when needed)."""
        self._load(session_id)
        return super().get_session(session_id, *args, **kwargs)

    def get_sessions(self, *args: Any, **kwargs: Any) -> Any:
        """Agno's ``get_sessions`` over every session in the session store."""
        self._load_all(kwargs.get("user_id"))
        return super().get_sessions(*args, **kwargs)

    def upsert_session(self, session: Any, deserialize: bool | None = True) -> Any:
        """Agno's ``upsert_session``, written through."""
        self._load(session.session_id)
        new = session.session_id not in self._sessions
        out = super().upsert_session(session, deserialize=deserialize)
        if out is not None:
            self._log_session(session.session_id)
            stored = self._sessions.get(session.session_id) or {}
            for r in (stored.get("runs") or []) if new else []:  # a first insert with runs
                if isinstance(r, dict):
                    event = {"kind": "run", "run": r}
                    self._log(session.session_id, stored.get("user_id"), event, _run_text(r))
        return out

    def upsert_sessions(
        self,
        sessions: list[Any],
        deserialize: bool | None = True,
        preserve_updated_at: bool = False,
    ) -> list[Any]:
        """Agno's ``upsert_sessions``, one session at a time (each written through)."""
        out = [self.upsert_session(s, deserialize=deserialize) for s in sessions]
        return [o for o in out if o is not None]

    def rename_session(self, session_id: str, *args: Any, **kwargs: Any) -> Any:
        """Agno's ``rename_session``, written through."""
        self._load(session_id)
        out = super().rename_session(session_id, *args, **kwargs)
        if out is not None:
            self._log_session(session_id)
        return out

    def upsert_run(
        self, run: Any, session_id: str, user_id: str | None = None, run_index: int | None = None
    ) -> None:
        """Agno's ``upsert_run``, written through (the run's input and answer as text)."""
        self._load(session_id)
        super().upsert_run(run, session_id, user_id=user_id, run_index=run_index)
        stored = self._sessions.get(session_id)
        run_id = run.get("run_id") if isinstance(run, dict) else getattr(run, "run_id", None)
        for r in (stored or {}).get("runs") or []:
            if isinstance(r, dict) and r.get("run_id") == run_id:
                self._log(
                    session_id,
                    (stored or {}).get("user_id"),
                    {"kind": "run", "run": r},
                    _run_text(r),
                )

    def _session_of_run(self, run_id: str) -> dict[str, Any] | None:
        for stored in self._sessions.values():
            if any(
                isinstance(r, dict) and r.get("run_id") == run_id for r in stored.get("runs") or []
            ):
                return stored
        return None

    def delete_run(self, run_id: str) -> bool:
        """Agno's ``delete_run``, written through."""
        self._load_all(None)
        stored = self._session_of_run(run_id)
        deleted = bool(super().delete_run(run_id))
        if deleted and stored is not None:
            event = {"kind": "delete_run", "run_id": run_id}
            self._log(
                stored["session_id"], stored.get("user_id"), event, f"[agno run {run_id} deleted]"
            )
        return deleted

    def delete_runs(self, run_ids: list[str]) -> None:
        """Agno's ``delete_runs``, written through."""
        for run_id in run_ids:
            self.delete_run(run_id)

    def delete_session(self, session_id: str, user_id: str | None = None) -> bool:
        """Agno's ``delete_session``; also erases it from the session store."""
        self._load(session_id)
        stored = self._sessions.get(session_id)
        deleted = bool(super().delete_session(session_id, user_id=user_id))
        if deleted and self.sessions is not None and stored is not None:
            owner = self._owner(stored.get("user_id"))
            self._call(self.sessions.clear(session_id, **owner))
        return deleted

    def delete_sessions(self, session_ids: list[str], user_id: str | None = None) -> None:
        """Agno's ``delete_sessions``; also erases them from the session store."""
        for session_id in session_ids:
            self.delete_session(session_id, user_id=user_id)

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
