"""``HostedMem0Provider``: the seven methods over the hosted Mem0 platform (``AsyncMemoryClient``).

``Mem0Provider(api_key=...)`` (or ``Mem0Provider()`` with ``$MEM0_API_KEY`` set) is a
:class:`~mnemoplug.Memory` over this provider, so hooks, validation and strategies run on top.

Mapping onto Mem0:

* ``user_id`` is Mem0's ``user_id``; with a ``tenant_id`` it becomes ``"<tenant>/<user>"`` (as
  the self-hosted store does), so tenants never share memories.
* ``agent_id`` is Mem0's ``agent_id``, ``session_id`` Mem0's ``run_id``; reads return them and
  ``Memory`` narrows on them.
* ``add`` sends text or chat messages to ``POST /v3/memories/add/`` (Mem0 extracts memories
  unless ``infer=False``) and returns the ids Mem0 reports (or the queued event's id).
* ``get``/``update``/``delete`` check that the memory belongs to the caller's user first.
* ``org_id``/``project_id`` go as query parameters on every request; ``host=`` (alias ``url=``)
  points the client at a self-hosted platform deployment.
* Errors: a rejected key is a ConfigurationError, an unreachable host a
  ProviderUnavailableError, anything else a ProviderError; the key never appears in messages.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ...core.errors import (
    ConfigurationError,
    MnemoplugError,
    ProviderError,
    ProviderUnavailableError,
)
from ...core.provider import MemoryProvider
from ...core.roles import message_parts
from ...core.validation import content_or_messages
from .config import import_mem0

__all__ = ["DEFAULT_HOST", "HostedMem0Provider", "hosted_requested"]

DEFAULT_HOST = "https://api.mem0.ai"
_HOSTED_OPTIONS = ("api_key", "org_id", "project_id", "host", "url", "infer", "timeout")


def hosted_requested(config: Any, options: Mapping[str, Any]) -> bool:
    """Whether ``Mem0Provider(config, **options)`` means the hosted platform: an ``api_key``
    (or ``org_id``/``project_id``/``host``), or ``$MEM0_API_KEY`` with neither config nor path."""
    if any(k in options for k in ("api_key", "org_id", "project_id", "host")):
        return True
    self_hosted = config is not None or "path" in options or "memory" in options
    return not self_hosted and bool(os.environ.get("MEM0_API_KEY"))


class HostedMem0Provider(MemoryProvider):
    """The hosted Mem0 platform as a seven-method provider.

    Args:
        api_key: the Mem0 API key (default ``$MEM0_API_KEY``).
        org_id, project_id: the organisation and project (sent with every request).
        host: the platform's base URL (default ``https://api.mem0.ai``); ``url`` is an alias.
        infer: passed to Mem0's ``add`` (None: the platform's default, which extracts facts).
        timeout: seconds per request (default 30).
    """

    name = "mem0"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        org_id: str | None = None,
        project_id: str | None = None,
        host: str | None = None,
        url: str | None = None,
        infer: bool | None = None,
        timeout: float = 30.0,
    ) -> None:
        if host is not None and url is not None and host != url:
            raise ConfigurationError("pass host= or url=, not both")
        key = api_key if api_key is not None else os.environ.get("MEM0_API_KEY")
        if not key or not isinstance(key, str):
            raise ConfigurationError(
                "the hosted Mem0 platform needs an API key: pass api_key= or set $MEM0_API_KEY"
            )
        self._api_key = key
        self.org_id = org_id
        self.project_id = project_id
        self.host = (host or url or DEFAULT_HOST).rstrip("/")
        self.infer = infer
        self.timeout = float(timeout)
        self._client: Any = None
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"HostedMem0Provider(host={self.host!r}, project_id={self.project_id!r})"

    # -- connection ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is not None:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                self._client = await self._connect()

    async def _connect(self) -> Any:
        import_mem0()
        import httpx
        import mem0.memory.telemetry as mem0_telemetry

        mem0_telemetry.MEM0_TELEMETRY = False
        from mem0.client.main import AsyncMemoryClient

        params = {k: v for k, v in (("org_id", self.org_id), ("project_id", self.project_id)) if v}
        http = httpx.AsyncClient(params=params, timeout=self.timeout)

        def build() -> Any:  # the client pings the host (blocking) in its constructor
            return AsyncMemoryClient(api_key=self._api_key, host=self.host, client=http)

        try:
            return await asyncio.wait_for(asyncio.to_thread(build), self.timeout)
        except BaseException as exc:
            await http.aclose()
            if isinstance(exc, Exception):
                raise self._error(exc, "connect") from None
            raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.async_client.aclose()

    async def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        await self.open()
        try:
            return await getattr(self._client, method)(*args, **kwargs)
        except Exception as exc:
            raise self._error(exc, what) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _error(self, exc: Exception, what: str) -> MnemoplugError:
        """The mnemoplug error for a failure of the Mem0 client (never naming the key)."""
        if isinstance(exc, MnemoplugError):
            return exc
        where = f"Mem0 at {self.host}"
        status = _status(exc)
        detail = self._scrub(str(getattr(exc, "message", None) or exc))[:300]
        name = type(exc).__name__
        if status in (401, 403) or name == "AuthenticationError":
            return ConfigurationError(
                f"{where} rejected the API key (HTTP {status or 401}) during {what}: {detail}. "
                f"Check api_key= / $MEM0_API_KEY, org_id= and project_id="
            )
        unreachable = name in ("NetworkError", "ConnectionError", "ConnectTimeout", "Timeout")
        if unreachable or isinstance(exc, OSError | TimeoutError) or status in (502, 503, 504):
            return ProviderUnavailableError(
                f"{where} cannot be reached ({what}): {detail}", provider="mem0", url=self.host
            )
        return ProviderError(
            f"{where} failed during {what}: {name}: {detail}", provider="mem0", url=self.host
        )

    # -- mapping ------------------------------------------------------------------------------
    @staticmethod
    def _mem0_user(user_id: str, tenant_id: str | None) -> str:
        return f"{tenant_id}/{user_id}" if tenant_id else user_id

    def _record(self, m: Mapping[str, Any], user_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(m.get("id", "")),
            "memory": str(m.get("memory", m.get("content", "")) or ""),
            "metadata": dict(m.get("metadata") or {}),
            "user_id": user_id,
            "created_at": m.get("created_at"),
            "updated_at": m.get("updated_at"),
        }
        out["content"] = out["memory"]
        if isinstance(m.get("agent_id"), str):
            out["agent_id"] = m["agent_id"]
        if isinstance(m.get("run_id"), str):
            out["session_id"] = m["run_id"]
        for key in ("score", "categories"):
            if m.get(key) is not None:
                out[key] = m[key]
        return out

    @staticmethod
    def _results(res: Any) -> list[Mapping[str, Any]]:
        if isinstance(res, Mapping):
            res = res.get("results", res.get("memories", []))
        if not isinstance(res, list):
            return []
        return [r for r in res if isinstance(r, Mapping)]

    # -- the seven ----------------------------------------------------------------------------
    async def add(
        self,
        user_id: str,
        content: str | Sequence[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        messages: Sequence[Any] | None = None,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> str | list[str]:
        """Send text or chat messages to Mem0; the id (text) or ids (messages) it reports."""
        content = content_or_messages(content, messages)
        single = isinstance(content, str)
        msgs = (
            [{"role": "user", "content": content}]
            if isinstance(content, str)
            else [_message(m) for m in content]
        )
        filters: dict[str, Any] = {"user_id": self._mem0_user(user_id, tenant_id)}
        if agent_id:
            filters["agent_id"] = agent_id
        if session_id:
            filters["run_id"] = session_id
        kwargs: dict[str, Any] = {"filters": filters}
        if metadata:
            kwargs["metadata"] = dict(metadata)
        if self.infer is not None:
            kwargs["infer"] = self.infer
        res = await self._call("add", "add", msgs, **kwargs)
        ids = [str(r.get("id") or r.get("event_id")) for r in self._results(res)]
        if not ids and isinstance(res, Mapping) and (res.get("id") or res.get("event_id")):
            ids = [str(res.get("id") or res.get("event_id"))]
        ids = [i for i in ids if i and i != "None"]
        if single:
            return ids[0] if ids else ""
        return ids

    async def search(
        self,
        user_id: str,
        query: str,
        limit: int = 10,
        filters: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Mem0's semantic search over the user's memories, best first, with ``score``.
        (mnemoplug ``filters`` are applied by ``Memory`` on the results.)"""
        mem_user = self._mem0_user(user_id, tenant_id)
        top_k = limit if not filters else max(limit * 5, 50)
        res = await self._call(
            "search", "search", query, filters={"user_id": mem_user}, top_k=top_k
        )
        return [self._record(r, user_id) for r in self._results(res)][:top_k]

    async def get(
        self, user_id: str, memory_id: str, *, tenant_id: str | None = None
    ) -> dict[str, Any] | None:
        """The memory, or None when Mem0 has none with that id for this user."""
        await self.open()
        try:
            res = await self._client.get(memory_id)
        except Exception as exc:
            if _status(exc) == 404 or type(exc).__name__ == "MemoryNotFoundError":
                return None
            raise self._error(exc, "get") from None
        if not isinstance(res, Mapping) or not res.get("id"):
            return None
        owner = res.get("user_id")
        if owner is not None and owner != self._mem0_user(user_id, tenant_id):
            return None
        return self._record(res, user_id)

    async def get_all(
        self, user_id: str, limit: int = 100, *, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The user's memories (Mem0's first page of ``limit``), newest first."""
        mem_user = self._mem0_user(user_id, tenant_id)
        res = await self._call(
            "get_all", "get_all", filters={"user_id": mem_user}, page=1, page_size=limit
        )
        recs = [self._record(r, user_id) for r in self._results(res)]
        recs.sort(key=lambda r: str(r.get("created_at") or ""), reverse=True)
        return recs[:limit]

    async def update(
        self,
        user_id: str,
        memory_id: str,
        content: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Change the memory's text and/or metadata through Mem0's update."""
        if await self.get(user_id, memory_id, tenant_id=tenant_id) is None:
            from ...core.errors import MemoryNotFoundError

            raise MemoryNotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
        kwargs: dict[str, Any] = {}
        if content is not None:
            kwargs["text"] = content
        if metadata is not None:
            kwargs["metadata"] = dict(metadata)
        if kwargs:
            await self._call("update", "update", memory_id, **kwargs)
        return await self.get(user_id, memory_id, tenant_id=tenant_id)

    async def delete(self, user_id: str, memory_id: str, *, tenant_id: str | None = None) -> bool:
        """Delete one memory; False when the user has no such memory."""
        if await self.get(user_id, memory_id, tenant_id=tenant_id) is None:
            return False
        await self._call("delete", "delete", memory_id)
        return True

    async def delete_all(
        self,
        user_id: str,
        *,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> int:
        """Delete the user's memories (narrowed to an agent/run when given); how many."""
        mem_user = self._mem0_user(user_id, tenant_id)
        recs = await self.get_all(user_id, 1000, tenant_id=tenant_id)
        recs = [
            r
            for r in recs
            if (agent_id is None or r.get("agent_id") == agent_id)
            and (session_id is None or r.get("session_id") == session_id)
        ]
        if not recs:
            return 0
        # DELETE /v1/memories/ takes the entity ids as query parameters
        entity: dict[str, Any] = {"user_id": mem_user}
        if agent_id:
            entity["agent_id"] = agent_id
        if session_id:
            entity["run_id"] = session_id
        await self._call("delete_all", "delete_all", **entity)
        return len(recs)


def _message(m: Any) -> dict[str, str]:
    if isinstance(m, str):
        return {"role": "user", "content": m}
    role, content = message_parts(m)
    return {"role": str(role or "user"), "content": "" if content is None else str(content)}


def _status(exc: BaseException) -> int | None:
    """The HTTP status behind a Mem0 client error (also through the ``ValueError`` its
    constructor raises for a failed ping)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        info = getattr(cur, "debug_info", None)
        if isinstance(info, Mapping) and isinstance(info.get("status_code"), int):
            return int(info["status_code"])
        resp = getattr(cur, "response", None)
        code = getattr(resp, "status_code", None)
        if isinstance(code, int):
            return code
        cur = cur.__cause__ or cur.__context__
    return None
