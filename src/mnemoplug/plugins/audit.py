"""Audit log: one JSON line per memory operation — time, operation, scope, query (for
searches), result ids and counts. Never the content of a memory.

``AuditLog("audit.jsonl")`` appends to a file; ``AuditLog(sink=callable)`` hands each entry
(a dict) to the callable instead. Runs last (``trylast``), after redaction and other plugins.
``AuditLog.scrub_user(user_id)`` removes a user's queries from the file (GDPR forget).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import ConfigurationError
from ..core.hookspecs import hookimpl
from .pii import redact

__all__ = ["AuditLog"]


class AuditLog:
    """Append-only JSON-lines audit of memory operations.

    Args:
        path: file to append to (created with its directory).
        sink: alternatively, a callable receiving each entry dict.
        redact_queries: pass search queries through the PII redactor first (default True).
        include_reads: also log ``get``/``get_all`` (default True).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        sink: Callable[[dict[str, Any]], Any] | None = None,
        redact_queries: bool = True,
        include_reads: bool = True,
    ) -> None:
        if (path is None) == (sink is None):
            raise ConfigurationError("AuditLog needs exactly one of path= or sink=")
        self.path = Path(path) if path is not None else None
        self.sink = sink
        self.redact_queries = redact_queries
        self.include_reads = include_reads
        self._lock = threading.Lock()
        self._fh: Any = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, operation: str, scope: Any, **fields: Any) -> None:
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "operation": operation,
            "scope": scope.as_dict(),
        }
        entry.update({k: v for k, v in fields.items() if v is not None})
        if self.sink is not None:
            self.sink(entry)
            return
        assert self.path is not None
        line = json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self._lock:
            if self._fh is None:  # kept open, line-buffered: one write() per entry, O_APPEND
                self._fh = open(self.path, "a", encoding="utf-8", buffering=1)
            self._fh.write(line)

    def close(self) -> None:
        """Close the log file (it reopens on the next entry)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __del__(self) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None:
            fh.close()

    @hookimpl(trylast=True)
    def on_memory_added(self, ctx: Any) -> None:
        self.write(
            "add",
            ctx.scope,
            result_ids=[ctx.memory_id],
            role=ctx.role,
            redacted=ctx.state.get("pii_redacted"),
        )

    @hookimpl(trylast=True)
    def on_memory_search(self, ctx: Any) -> None:
        query = redact(ctx.memory_query) if self.redact_queries else ctx.memory_query
        self.write(
            "search",
            ctx.scope,
            query=query,
            limit=ctx.limit,
            result_ids=[r.id for r in ctx.memory_results],
        )

    @hookimpl(trylast=True)
    def on_memory_get(self, ctx: Any) -> None:
        if self.include_reads:
            self.write(
                ctx.operation,
                ctx.scope,
                memory_id=ctx.memory_id,
                result_ids=[r.id for r in ctx.memory_results],
            )

    @hookimpl(trylast=True)
    def on_memory_update(self, ctx: Any) -> None:
        changed = [
            k
            for k, v in (("content", ctx.memory_content), ("metadata", ctx.metadata))
            if v is not None
        ]
        self.write("update", ctx.scope, result_ids=[ctx.memory_id], changed=changed)

    @hookimpl(trylast=True)
    def on_memory_delete(self, ctx: Any) -> None:
        self.write(
            ctx.operation, ctx.scope, result_ids=ctx.memory_ids or None, count=ctx.deleted_count
        )

    @hookimpl(trylast=True)
    def on_session_message(self, ctx: Any) -> None:
        msg, scope = ctx.message, ctx.scope

        def stored() -> None:  # logged once stored: a refused write is not an event
            self.write(
                "session_message",
                scope,
                role=getattr(msg, "role", None),
                message_id=getattr(msg, "id", None),
            )

        after = getattr(ctx, "after_stored", None)
        if after is None:
            stored()
        else:
            after.append(stored)

    def entries(self) -> list[dict[str, Any]]:
        """The logged entries (file-backed logs only)."""
        if self.path is None or not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def scrub_user(self, user_id: str, tenant_id: str | None = None) -> int:
        """Remove the user's queries from the log (keeping operation, time and ids, with the
        user id replaced by ``"[forgotten]"``); return how many entries were scrubbed."""
        if self.path is None or not self.path.exists():
            return 0
        n = 0
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            with open(self.path, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
                for line in src:
                    if not line.strip():
                        continue
                    entry = json.loads(line)
                    scope = entry.get("scope", {})
                    if scope.get("user_id") == user_id and scope.get("tenant_id") == tenant_id:
                        entry.pop("query", None)
                        scope["user_id"] = "[forgotten]"
                        entry["scrubbed"] = True
                        n += 1
                        line = json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n"
                    dst.write(line)
            os.replace(tmp, self.path)
        return n
