"""Calling a user's own :class:`~mnemoplug.MemoryProvider` from ``Memory(provider=custom)``.

The seeds' seven methods take ``user_id`` and little else; mnemoplug's scope has a tenant, an
agent and a session too. :class:`ProviderCalls` passes each scope argument only to the methods
that declare it (a parameter of that name, or ``**kwargs``):

* ``tenant_id`` is an isolation boundary: a call with a tenant on a method that cannot take one
  raises :class:`~mnemoplug.ConfigurationError` instead of mixing tenants.
* ``agent_id``/``session_id`` narrow: when a method cannot take them they are not passed, and
  results are narrowed here where the provider's records say which agent or session they
  belong to.

Results may be :class:`~mnemoplug.MemoryRecord` objects, dicts as the seeds return them
(``id``, ``content`` — or Mem0's ``memory`` —, ``metadata``, ``score``, timestamps), or plain
strings; :func:`to_record` turns each into a ``MemoryRecord``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ._time import to_dt, to_ts
from .errors import ConfigurationError, MemoryNotFoundError, ProviderError
from .filters import Filter
from .provider import MemoryProvider
from .records import MemoryRecord, Scope, StoredMemory, copy_json, stored_from_record

__all__ = ["ProviderCalls", "ProviderStoreView", "to_record"]

_NARROWING = ("agent_id", "session_id")
_RECORD_KEYS = set(MemoryRecord.model_fields)


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return to_dt(to_ts(value))
    except (TypeError, ValueError, OverflowError):
        return None


def to_record(obj: Any, scope: Scope, *, what: str = "result") -> MemoryRecord:
    """A :class:`MemoryRecord` from what a provider returned (see the module docs)."""
    if isinstance(obj, MemoryRecord):  # a copy: the provider may keep (and change) its own
        return obj.model_copy(update={"metadata": copy_json(obj.metadata)})
    if isinstance(obj, str):
        obj = {"content": obj}
    if not isinstance(obj, Mapping):
        dump = getattr(obj, "model_dump", None) or getattr(obj, "to_dict", None)
        if dump is None:
            raise ProviderError(
                f"the provider returned {type(obj).__name__} as a {what}; return dicts with "
                f"'id' and 'content' (and optionally 'metadata', 'score') or MemoryRecord objects"
            )
        obj = dump()
    content = obj.get("content", obj.get("memory", obj.get("text")))
    if not isinstance(content, str):
        raise ProviderError(f"a {what} from the provider has no 'content' string: {obj!r}")
    now = datetime.now(UTC)
    created = _time(obj.get("created_at")) or now
    metadata = obj.get("metadata")
    fields: dict[str, Any] = {
        "id": str(obj.get("id", obj.get("memory_id", ""))),
        "content": content,
        "metadata": copy_json(dict(metadata)) if isinstance(metadata, Mapping) else {},
        "user_id": str(obj.get("user_id") or scope.user_id),
        "tenant_id": obj.get("tenant_id") or scope.tenant_id,
        "created_at": created,
        "updated_at": _time(obj.get("updated_at")) or created,
        "expires_at": _time(obj.get("expires_at")),
        "occurred_at": _time(obj.get("occurred_at")) or created,
    }
    for key in ("agent_id", "session_id", "role", "speaker"):
        if isinstance(obj.get(key), str):
            fields[key] = obj[key]
    for key in ("score", "similarity"):
        value = obj.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            fields[key] = float(value)
    return MemoryRecord(**fields)


class ProviderCalls:
    """A seeds-style provider, called with the scope arguments each method accepts."""

    def __init__(self, provider: MemoryProvider) -> None:
        self.provider = provider
        self._accepts: dict[str, tuple[bool, frozenset[str]]] = {}

    @property
    def name(self) -> str:
        return str(getattr(self.provider, "name", type(self.provider).__name__))

    def accepts(self, method: str, param: str) -> bool:
        """Whether ``provider.<method>`` takes a keyword argument ``param``."""
        entry = self._accepts.get(method)
        if entry is None:
            try:
                sig = inspect.signature(getattr(self.provider, method))
            except (TypeError, ValueError):
                entry = (True, frozenset())
            else:
                var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
                named = frozenset(
                    n
                    for n, p in sig.parameters.items()
                    if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
                )
                entry = (var_kw, named)
            self._accepts[method] = entry
        return entry[0] or param in entry[1]

    def scope_kwargs(self, method: str, scope: Scope) -> dict[str, Any]:
        """The scope keyword arguments to pass to ``provider.<method>``."""
        kw: dict[str, Any] = {}
        if scope.tenant_id:
            if not self.accepts(method, "tenant_id"):
                raise ConfigurationError(
                    f"{type(self.provider).__name__}.{method}() takes no tenant_id, so it cannot "
                    f"keep tenants apart; add a keyword-only tenant_id parameter to it, or call "
                    f"without tenant_id"
                )
            kw["tenant_id"] = scope.tenant_id
        for key in _NARROWING:
            value = getattr(scope, key)
            if value is not None and self.accepts(method, key):
                kw[key] = value
        return kw

    def narrow(self, method: str, scope: Scope, records: list[MemoryRecord]) -> list[MemoryRecord]:
        """Drop records of another agent/session when the provider could not narrow itself."""
        out = records
        for key in _NARROWING:
            want = getattr(scope, key)
            if want is not None and not self.accepts(method, key):
                out = [r for r in out if getattr(r, key) in (None, want)]
        return out

    def records(self, method: str, scope: Scope, results: Any) -> list[MemoryRecord]:
        if results is None:
            return []
        if isinstance(results, Mapping | str) or not isinstance(results, Sequence):
            if isinstance(results, Mapping) and isinstance(results.get("results"), list):
                results = results["results"]  # Mem0's {"results": [...]}
            else:
                raise ProviderError(
                    f"{type(self.provider).__name__}.{method}() returned "
                    f"{type(results).__name__}; return a list of memories"
                )
        recs = [to_record(r, scope, what=f"{method}() result") for r in results]
        return self.narrow(method, scope, recs)

    async def get_records(self, scope: Scope, memory_id: str) -> list[MemoryRecord]:
        kw = self.scope_kwargs("get", scope)
        res = await self.provider.get(scope.user_id, memory_id, **kw)
        return self.records("get", scope, [] if res is None else [res])

    async def all_records(self, scope: Scope, limit: int) -> list[MemoryRecord]:
        kw = self.scope_kwargs("get_all", scope)
        return self.records(
            "get_all", scope, await self.provider.get_all(scope.user_id, limit, **kw)
        )

    async def delete_record(self, scope: Scope, memory_id: str) -> bool:
        """Delete one memory; False when the scope holds none (checked first: the seeds'
        ``delete`` returns None either way)."""
        if not await self.get_records(scope, memory_id):
            return False
        kw = self.scope_kwargs("delete", scope)
        res = await self.provider.delete(scope.user_id, memory_id, **kw)
        return res if isinstance(res, bool) else True

    async def delete_all_records(self, scope: Scope) -> int:
        if (scope.agent_id or scope.session_id) and not all(
            self.accepts("delete_all", k) for k in ("agent_id", "session_id")
        ):
            raise ConfigurationError(
                f"{type(self.provider).__name__}.delete_all() cannot narrow by "
                f"agent_id/session_id; call it with user_id (and tenant_id) only"
            )
        kw = self.scope_kwargs("delete_all", scope)
        return int(await self.provider.delete_all(scope.user_id, **kw) or 0)

    async def add_records(
        self, scope: Scope, records: list[StoredMemory], single: bool, exp: float | None
    ) -> list[str]:
        calls = self
        kw = calls.scope_kwargs("add", scope)
        if exp is not None:
            if not calls.accepts("add", "expires_at"):
                raise ConfigurationError(
                    f"{type(calls.provider).__name__}.add() takes no expires_at; expiry (ttl, "
                    f"expires_at) needs a provider that supports it"
                )
            kw["expires_at"] = exp
        if single:
            r = records[0]
            res = await calls.provider.add(scope.user_id, r.content, r.metadata or None, **kw)
            return [str(res)]
        messages: list[dict[str, Any]] = [
            {"role": r.role or "user", "content": r.content} for r in records
        ]
        for msg, r in zip(messages, records, strict=True):
            if r.speaker is not None:
                msg["name"] = r.speaker
        res = await calls.provider.add(scope.user_id, messages, records[0].metadata or None, **kw)
        if isinstance(res, str):
            return [res]
        return [str(x) for x in (res or [])]

    async def search_records(
        self, scope: Scope, query: str, limit: int, filt: Filter, min_relevance: float | None
    ) -> list[MemoryRecord]:
        calls = self
        kw = calls.scope_kwargs("search", scope)
        res = await calls.provider.search(scope.user_id, query, limit, filt.spec or None, **kw)
        recs = matching(calls.records("search", scope, res), filt)
        if min_relevance is not None:
            recs = [r for r in recs if relevance(r) is None or relevance(r) >= min_relevance]  # type: ignore[operator]
        return recs[:limit]

    async def update_record(
        self, scope: Scope, memory_id: str, content: str | None, meta: Any, exp: Any
    ) -> MemoryRecord:
        calls = self
        kw = calls.scope_kwargs("update", scope)
        if exp is not ...:
            if not calls.accepts("update", "expires_at"):
                raise ConfigurationError(
                    f"{type(calls.provider).__name__}.update() takes no expires_at"
                )
            kw["expires_at"] = exp
        await calls.provider.update(scope.user_id, memory_id, content, meta, **kw)
        after = await self.get_records(scope, memory_id)
        if not after:
            raise MemoryNotFoundError(f"no memory {memory_id!r} for user {scope.user_id!r}")
        return after[0]


def relevance(r: MemoryRecord) -> float | None:
    return r.similarity if r.similarity is not None else r.score


def matching(records: list[MemoryRecord], filt: Filter) -> list[MemoryRecord]:
    """Apply mnemoplug's filters to a provider's records (its own filtering may be partial)."""
    if not filt:
        return records
    return [r for r in records if filt.matches(stored_from_record(r))]


class ProviderStoreView:
    """A seven-method provider through the part of the store interface that
    :func:`~mnemoplug.migrate_memory` uses: users come from ``user_ids`` (or the provider's own
    ``list_users()``), memories are read with ``get_all`` and written with ``add`` (so the
    target assigns new ids)."""

    name = "provider"

    def __init__(self, provider: MemoryProvider, user_ids: Sequence[Any] | None = None) -> None:
        self.calls = ProviderCalls(provider)
        self.user_ids = user_ids
        self.url = type(provider).__name__

    async def open(self) -> None:
        await self.calls.provider.open()

    async def close(self) -> None:
        await self.calls.provider.close()

    async def check_embedder(self, name: str, dimension: int) -> None:
        return None

    async def list_users(self) -> list[tuple[str, str]]:
        if self.user_ids is not None:
            out = []
            for u in self.user_ids:
                tenant, user = u if isinstance(u, tuple) else ("", u)
                out.append((str(tenant or ""), str(user)))
            return out
        own = getattr(self.calls.provider, "list_users", None)
        if own is None:
            raise ConfigurationError(
                f"{type(self.calls.provider).__name__} cannot list its users; pass "
                f"migrate_memory(..., user_ids=['u1', ...])"
            )
        users = await own()
        return [(u if isinstance(u, tuple) else ("", str(u))) for u in users]

    async def export(
        self, tenant_id: str, user_id: str, batch_size: int = 500
    ) -> AsyncIterator[list[StoredMemory]]:
        from .memory import MAX_LIMIT

        scope = Scope(user_id=user_id, tenant_id=tenant_id or None)
        kw = self.calls.scope_kwargs("get_all", scope)
        res = await self.calls.provider.get_all(user_id, MAX_LIMIT, **kw)
        rows = [stored_from_record(r) for r in self.calls.records("get_all", scope, res)]
        for i in range(0, len(rows), batch_size):
            yield rows[i : i + batch_size]

    async def upsert(self, memories: Sequence[StoredMemory]) -> None:
        for m in memories:
            scope = Scope(m.user_id, m.tenant_id or None, m.agent_id, m.session_id)
            kw = self.calls.scope_kwargs("add", scope)
            await self.calls.provider.add(m.user_id, m.content, m.metadata or None, **kw)
