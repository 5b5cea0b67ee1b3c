"""``ZepProvider``: long-term memory in Zep (``zep-cloud``'s ``AsyncZep``, API v4).

``ZepProvider(api_key=..., url=...)`` is a :class:`~mnemoplug.Memory` over
:class:`ZepMemoryProvider`, so hooks, validation and injection strategies run on top.

Mapping onto Zep:

* Each mnemoplug user is a Zep user, looked up by its ``user_id`` (``"<tenant>/<user>"`` with
  a ``tenant_id``) and created on the first ``add``; reads of an unknown user return nothing.
* Each memory is an *episode* of the user's graph: ``add("text")`` adds a ``text`` episode,
  ``add(messages=[...])`` one ``message`` episode per message (``"role: content"``, the role
  kept). Zep extracts facts and entities from episodes into the user's graph by itself.
* ``search`` is Zep's episode search of the user's graph, ``get_all`` lists the episodes newest
  first, ``get``/``delete`` address one episode.
* ``update`` can change metadata only (Zep merges it onto the episode); changing the content
  raises :class:`ZepUnsupportedError` — delete and add instead.
* ``delete_all`` deletes the Zep user (its graph, threads and summaries) and returns how many
  episodes it held.
* ``agent_id``/``session_id`` are kept in the episode's metadata and narrowed on by ``Memory``.
  Metadata values must be scalars or lists of scalars, at most 7 keys (Zep allows 10 and
  mnemoplug uses up to 3).
* ``auto_summarize`` is accepted for compatibility: Zep summarises threads and builds user
  context server-side with no per-client switch, so it changes nothing here.
* Errors: a rejected key is a ConfigurationError, an unreachable server a
  ProviderUnavailableError, anything else a ProviderError; the key never appears in messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from ...core.errors import (
    ConfigurationError,
    InvalidMetadataError,
    MemoryNotFoundError,
    MnemoplugError,
    ProviderError,
    ProviderUnavailableError,
)
from ...core.factory import construct
from ...core.memory import Memory, split_options
from ...core.provider import MemoryProvider
from ...core.roles import message_parts
from ...core.validation import content_or_messages
from .._deps import import_optional

__all__ = ["ZepMemoryProvider", "ZepProvider", "ZepUnsupportedError"]

_ROLE = "mnemoplug_role"
_AGENT = "mnemoplug_agent_id"
_SESSION = "mnemoplug_session_id"
_SPEAKER = "mnemoplug_speaker"
_OWN_KEYS = (_ROLE, _AGENT, _SESSION, _SPEAKER)
_MAX_USER_KEYS = 7
_PAGE = 100


class ZepUnsupportedError(ConfigurationError, NotImplementedError):
    """Zep cannot do what was asked (e.g. change an episode's content)."""


def _import_zep() -> Any:
    return import_optional(
        "zep_cloud", feature="the 'zep' provider", extra="zep", package="zep-cloud"
    )


class ZepMemoryProvider(MemoryProvider):
    """Zep as a seven-method provider (see the module docs for the mapping).

    Args:
        api_key: the Zep API key (default ``$ZEP_API_KEY``, read by the client).
        url: the API base URL (default Zep Cloud, ``https://api.getzep.com/api/v4``), e.g. a
            self-hosted deployment; ``base_url`` is an alias.
        auto_summarize: accepted; Zep always summarises server-side.
        timeout: seconds per request (default 30).
        max_retries: the client's retries of failed requests (default 2).
    """

    name = "zep"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        url: str | None = None,
        base_url: str | None = None,
        auto_summarize: bool = True,
        timeout: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        if url is not None and base_url is not None and url != base_url:
            raise ConfigurationError("pass url= or base_url=, not both")
        if api_key is not None and not isinstance(api_key, str):
            raise ConfigurationError("api_key must be a string")
        import os

        key = api_key if api_key is not None else os.environ.get("ZEP_API_KEY")
        if not key:
            raise ConfigurationError("Zep needs an API key: pass api_key= or set $ZEP_API_KEY")
        self._api_key = key
        self.url = (url or base_url or "").rstrip("/") or None
        self.auto_summarize = bool(auto_summarize)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self._client: Any = None
        self._graphs: dict[str, tuple[str, str]] = {}  # zep user_id -> (user uuid, graph uuid)
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"ZepMemoryProvider(url={self.url or 'zep cloud'!r})"

    # -- connection ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is None:
            zep = _import_zep()
            self._client = zep.AsyncZep(
                api_key=self._api_key,
                base_url=self.url,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            http = getattr(getattr(client, "_client_wrapper", None), "httpx_client", None)
            inner = getattr(http, "httpx_client", None)
            if inner is not None:
                await inner.aclose()

    def _error(self, exc: Exception, what: str) -> MnemoplugError:
        if isinstance(exc, MnemoplugError):
            return exc
        where = f"Zep at {self.url or 'zep cloud'}"
        status = getattr(exc, "status_code", None)
        body = getattr(exc, "body", None)
        err = getattr(body, "error", None)
        detail = str(getattr(err, "message", None) or getattr(body, "message", None) or body or exc)
        detail = detail.replace(self._api_key, "***")[:300]
        if status in (401, 403):
            return ConfigurationError(
                f"{where} rejected the API key (HTTP {status}) during {what}: {detail}. "
                f"Check api_key= / $ZEP_API_KEY"
            )
        import httpx

        if isinstance(exc, httpx.TransportError | OSError) or status in (502, 503, 504):
            return ProviderUnavailableError(
                f"{where} cannot be reached ({what}): {type(exc).__name__}: {detail}",
                provider="zep",
                url=self.url,
            )
        return ProviderError(
            f"{where} failed during {what}: {type(exc).__name__}: {detail}",
            provider="zep",
            url=self.url,
        )

    async def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            raise self._error(exc, what) from None

    @staticmethod
    def _zep_user(user_id: str, tenant_id: str | None) -> str:
        return f"{tenant_id}/{user_id}" if tenant_id else user_id

    async def _graph(self, zep_user: str, *, create: bool) -> str | None:
        """The graph uuid of the Zep user (created when ``create``), None when absent."""
        await self.open()
        hit = self._graphs.get(zep_user)
        if hit is not None:
            return hit[1]
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            hit = self._graphs.get(zep_user)
            if hit is not None:
                return hit[1]
            try:
                user = await self._client.user.lookup(user_id=zep_user)
            except Exception as exc:
                if getattr(exc, "status_code", None) != 404:
                    raise self._error(exc, "user lookup") from None
                if not create:
                    return None
                user = await self._call("user create", self._client.user.create, user_id=zep_user)
            uuid = str(user.uuid_)
            graph = str(user.graph_uuid or uuid)
            self._graphs[zep_user] = (uuid, graph)
            return graph

    @staticmethod
    def _record(ep: Any, user_id: str) -> dict[str, Any]:
        meta = dict(ep.metadata or {})
        own = {k: meta.pop(k) for k in _OWN_KEYS if k in meta}
        content = str(ep.content or "")
        role = own.get(_ROLE) or (str(ep.role) if ep.role else None)
        if own.get(_ROLE) and content.startswith(f"{own[_ROLE]}: "):
            content = content[len(own[_ROLE]) + 2 :]
        out: dict[str, Any] = {
            "id": str(ep.uuid_),
            "content": content,
            "memory": content,
            "metadata": meta,
            "user_id": user_id,
            "created_at": ep.created_at,
        }
        if role:
            out["role"] = str(role)
        if own.get(_AGENT):
            out["agent_id"] = str(own[_AGENT])
        if own.get(_SESSION):
            out["session_id"] = str(own[_SESSION])
        if own.get(_SPEAKER):
            out["speaker"] = str(own[_SPEAKER])
        score = ep.score if ep.score is not None else ep.relevance
        if score is not None:
            out["score"] = float(score)
        return out

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
        """Add text (one ``text`` episode) or messages (one ``message`` episode each)."""
        content = content_or_messages(content, messages)
        meta = _check_metadata(metadata)
        if agent_id:
            meta[_AGENT] = agent_id
        if session_id:
            meta[_SESSION] = session_id
        graph = await self._graph(self._zep_user(user_id, tenant_id), create=True)
        ids: list[str] = []
        items: list[tuple[str | None, str, str | None]] = (
            [(None, content, None)] if isinstance(content, str) else [_message(m) for m in content]
        )
        for role, text, speaker in items:
            if role is None:
                kw: dict[str, Any] = {"data": text, "type": "text", "metadata": meta or None}
            else:
                own = {_ROLE: role} if speaker is None else {_ROLE: role, _SPEAKER: speaker}
                kw = {
                    "data": f"{role}: {text}",
                    "type": "message",
                    "metadata": {**meta, **own},
                }
            kw = {k: v for k, v in kw.items() if v is not None}
            res = await self._call("add", self._client.graph.episode.add, graph, **kw)
            ep = getattr(res, "episode", None)
            ids.append(str(getattr(ep, "uuid_", "") or ""))
        return ids[0] if isinstance(content, str) else ids

    async def search(
        self,
        user_id: str,
        query: str,
        limit: int = 10,
        filters: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Zep's episode search of the user's graph, best first, with ``score``."""
        graph = await self._graph(self._zep_user(user_id, tenant_id), create=False)
        if graph is None:
            return []
        size = limit if not filters else max(limit * 5, 50)
        pager = await self._call(
            "search", self._client.graph.search_episodes, graph, query=query, page_size=size
        )
        return [self._record(ep, user_id) for ep in (pager.items or [])][:size]

    async def get(
        self, user_id: str, memory_id: str, *, tenant_id: str | None = None
    ) -> dict[str, Any] | None:
        """The episode, or None when the user's graph holds none with that id."""
        graph = await self._graph(self._zep_user(user_id, tenant_id), create=False)
        if graph is None:
            return None
        try:
            ep = await self._client.graph.episode.get(graph, memory_id)
        except Exception as exc:
            if getattr(exc, "status_code", None) in (404, 400):
                return None
            raise self._error(exc, "get") from None
        if ep is None or (ep.graph_uuid and ep.graph_uuid != graph):
            return None
        return self._record(ep, user_id)

    async def get_all(
        self, user_id: str, limit: int = 100, *, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The user's episodes, newest first."""
        graph = await self._graph(self._zep_user(user_id, tenant_id), create=False)
        if graph is None:
            return []
        out: list[dict[str, Any]] = []
        pager = await self._call(
            "get_all",
            self._client.graph.episode.list,
            graph,
            page_size=min(limit, _PAGE),
            order_by="created_at",
            order="desc",
        )
        while True:
            out.extend(self._record(ep, user_id) for ep in (pager.items or []))
            if len(out) >= limit or not pager.has_next:
                break
            pager = await self._call("get_all", pager.next_page)
            if pager is None:
                break
        return out[:limit]

    async def update(
        self,
        user_id: str,
        memory_id: str,
        content: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        tenant_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Replace the episode's metadata. Zep cannot change an episode's content."""
        if content is not None:
            raise ZepUnsupportedError(
                "Zep cannot change a memory's content (its episodes are immutable); delete the "
                "memory and add the new text instead, or update metadata only"
            )
        prev = await self.get(user_id, memory_id, tenant_id=tenant_id)
        if prev is None:
            raise MemoryNotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
        if metadata is None:
            return prev
        new = _check_metadata(metadata)
        patch: dict[str, Any] = {k: None for k in prev["metadata"] if k not in new}
        patch.update(new)
        graph = await self._graph(self._zep_user(user_id, tenant_id), create=False)
        await self._call(
            "update", self._client.graph.episode.update, graph, memory_id, metadata=patch
        )
        return await self.get(user_id, memory_id, tenant_id=tenant_id)

    async def delete(self, user_id: str, memory_id: str, *, tenant_id: str | None = None) -> bool:
        """Delete one episode; False when the user's graph holds none with that id."""
        if await self.get(user_id, memory_id, tenant_id=tenant_id) is None:
            return False
        graph = await self._graph(self._zep_user(user_id, tenant_id), create=False)
        await self._call("delete", self._client.graph.episode.delete, graph, memory_id)
        return True

    async def delete_all(self, user_id: str, *, tenant_id: str | None = None) -> int:
        """Delete the Zep user (graph, threads, summaries); how many episodes it held."""
        zep_user = self._zep_user(user_id, tenant_id)
        if await self._graph(zep_user, create=False) is None:
            return 0
        n = len(await self.get_all(user_id, 10_000, tenant_id=tenant_id))
        user_uuid = self._graphs[zep_user][0]
        await self._call("delete_all", self._client.user.delete, user_uuid)
        self._graphs.pop(zep_user, None)
        return n


class ZepProvider(Memory):
    """Long-term memory in Zep, with mnemoplug's hooks, validation and strategies.

    >>> memory = ZepProvider(api_key="...", url="http://localhost:8000/api/v4")
    >>> await memory.add(user_id="u1", messages=[{"role": "user", "content": "hi"}])

    Args:
        api_key, url, auto_summarize, timeout, max_retries: see :class:`ZepMemoryProvider`.
        **options: ``Memory`` options (``plugins``, ``max_content_chars``, …).
    """

    name = "zep"

    def __init__(self, api_key: str | None = None, **options: Any) -> None:
        memory_options, provider_options = split_options(options)
        provider = construct(ZepMemoryProvider, api_key, **provider_options)
        super().__init__(provider, **memory_options)

    async def add(
        self,
        user_id: str,
        content: str | Sequence[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        messages: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``add(user_id, content)`` or ``add(user_id, messages=[...])``."""
        content = content_or_messages(content, messages)
        return await super().add(user_id, content, metadata, **kwargs)


def _message(m: Any) -> tuple[str, str, str | None]:
    if isinstance(m, str):
        return "user", m, None
    role, content = message_parts(m)
    name = m.get("name") if isinstance(m, Mapping) else getattr(m, "name", None)
    speaker = name if isinstance(name, str) and name else None
    return str(role or "user"), "" if content is None else str(content), speaker


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    meta = dict(metadata or {})
    if len(meta) > _MAX_USER_KEYS:
        raise InvalidMetadataError(
            f"Zep keeps at most {_MAX_USER_KEYS} metadata keys per memory, got {len(meta)}"
        )
    for k, v in meta.items():
        if k in _OWN_KEYS:
            raise InvalidMetadataError(f"metadata key {k!r} is reserved by mnemoplug")
        ok = _scalar(v) or (isinstance(v, list | tuple) and all(_scalar(x) for x in v))
        if not ok:
            raise InvalidMetadataError(
                f"Zep metadata values must be scalars or lists of scalars; {k!r} is "
                f"{type(v).__name__}"
            )
    return {k: list(v) if isinstance(v, tuple) else v for k, v in meta.items()}
