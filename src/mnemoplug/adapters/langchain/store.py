"""Stores over a mnemoplug Memory: a LangGraph ``BaseStore`` and a LangChain key-value store.

``MnemoplugStore`` (LangGraph long-term memory, ``create_agent(..., store=...)``,
``runtime.store``) maps each item to one mnemoplug memory:

* one label of the namespace is the **user id** (the isolation boundary: one user's items are
  never read, listed or deleted through another user's namespace): ``namespace[user_index]``,
  by default the first (``("u1", "prefs")``); for LangGraph's documented layout
  ``("memories", user_id)`` use ``MnemoplugStore(memory, user_index=1)``, so each user's items
  are that user's memories. ``tenant_id``/``agent_id`` given to the store fix the rest of the
  scope.
* the rest of the namespace (without the user label), the key and the value are kept in the
  memory's metadata (``lg_ns`` = ``"a.b"``, ``lg_prefixes`` = each of its prefixes,
  ``lg_key``, ``lg_value``); LangGraph forbids "." in labels, so the dotted form is
  unambiguous. A search prefix that stops before the user label searches every user.
* the memory's content (what is embedded and searched) is the text at the store's
  ``index_fields`` (or the put's ``index=[...]`` paths), else the value as JSON.
* ``search(prefix, query=...)`` is ``Memory.search`` (dense + lexical fusion) inside the user's
  scope; ``filter`` is LangGraph's value filter (equality, ``$eq $ne $gt $gte $lt $lte``);
  without a query items come newest first. ``SearchItem.score`` is mnemoplug's fused score.
* ``ttl`` (minutes) becomes the memory's expiry; reads do not refresh it.

``MnemoplugKVStore`` is a ``langchain_core.stores.BaseStore[str, Any]`` (the key-value ABC the
langchain-tests ``BaseStore*Tests`` check): one memory per key in one user's scope, values kept
as JSON (``bytes`` base64-encoded).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.stores import BaseStore as KVBaseStore
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path

from ...core.errors import ConfigurationError
from ...core.memory import MAX_LIMIT
from ...core.records import MemoryRecord
from .._checks import check_str
from ._runner import MemoryRunner

__all__ = ["MnemoplugKVStore", "MnemoplugStore"]

NS, PREFIXES, KEY, VALUE = "lg_ns", "lg_prefixes", "lg_key", "lg_value"


def _join(parts: Sequence[str]) -> str:
    return ".".join(parts)


def _prefixes(rest: Sequence[str]) -> list[str]:
    """'' and every dotted prefix of the namespace below the user."""
    return [_join(rest[:i]) for i in range(len(rest) + 1)]


def _apply_operator(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    try:
        a, b = float(value), float(operand)
    except (TypeError, ValueError):
        return False
    if operator == "$gt":
        return a > b
    if operator == "$gte":
        return a >= b
    if operator == "$lt":
        return a < b
    if operator == "$lte":
        return a <= b
    raise ValueError(f"unsupported filter operator {operator!r}; use $eq $ne $gt $gte $lt $lte")


def _matches(value: Any, cond: Any) -> bool:
    """LangGraph's JSON-like value filter semantics."""
    if isinstance(cond, Mapping):
        if any(str(k).startswith("$") for k in cond):
            return all(_apply_operator(value, k, v) for k, v in cond.items())
        return isinstance(value, Mapping) and all(
            _matches(value.get(k), v) for k, v in cond.items()
        )
    if isinstance(cond, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(cond)
            and all(_matches(a, b) for a, b in zip(value, cond, strict=True))
        )
    return bool(value == cond)


def _ns_matches(cond: MatchCondition, ns: tuple[str, ...]) -> bool:
    path = tuple(cond.path)
    if len(ns) < len(path):
        return False
    pairs = (
        zip(ns, path, strict=False)
        if cond.match_type == "prefix"
        else zip(reversed(ns), reversed(path), strict=False)
    )
    return all(p == "*" or a == p for a, p in pairs)


class MnemoplugStore(BaseStore):
    """LangGraph ``BaseStore`` over a mnemoplug :class:`Memory` (see the module docstring).

    Args:
        memory: a :class:`Memory` or :class:`SyncMemory`, or your own
            :class:`~mnemoplug.MemoryProvider` (wrapped as ``Memory(provider=...)``; searching
            or listing every user's namespaces needs the provider to have ``list_users()``).
        index_fields: JSON paths of the value to embed (LangGraph ``IndexConfig["fields"]``
            syntax, e.g. ``["text"]`` or ``["memories[*].text"]``); default: the whole value.
        tenant_id, agent_id: fixed scope parts for every item.
        user_index: which namespace label is the user id (0: ``("u1", ...)``; 1:
            ``("memories", "u1", ...)``).
    """

    supports_ttl: bool = True

    def __init__(
        self,
        memory: Any,
        *,
        index_fields: Sequence[str] | None = None,
        tenant_id: str | None = None,
        agent_id: str | None = None,
        user_index: int = 0,
    ) -> None:
        if isinstance(user_index, bool) or not isinstance(user_index, int) or user_index < 0:
            raise ConfigurationError(
                f"user_index must be the position of the user id in the namespace (0, 1, ...), "
                f"got {user_index!r}"
            )
        self.user_index = user_index
        self._runner = MemoryRunner(memory)
        self.memory = self._runner.memory
        self.index_fields = list(index_fields) if index_fields else None
        self._scope: dict[str, Any] = {}
        if tenant_id:
            self._scope["tenant_id"] = tenant_id
        if agent_id:
            self._scope["agent_id"] = agent_id

    # -- helpers -------------------------------------------------------------------------
    def _check_ns(self, namespace: tuple[str, ...], what: str = "namespace") -> None:
        if len(namespace) <= self.user_index:
            example = ("memories",) * self.user_index + ("u1", "prefs")
            raise InvalidNamespaceError(
                f"MnemoplugStore reads the user id from label {self.user_index} of the {what}, "
                f"e.g. {example}; got {namespace}"
            )
        for label in namespace:
            if not isinstance(label, str) or not label or "." in label or "\x00" in label:
                raise InvalidNamespaceError(f"invalid namespace label {label!r} in {namespace}")

    def _split(self, namespace: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """``(user id, the namespace without it)``."""
        i = self.user_index
        return namespace[i], (*namespace[:i], *namespace[i + 1 :])

    def _content(self, value: Mapping[str, Any], index: Any) -> str:
        fields = index if isinstance(index, list) else self.index_fields
        texts: list[str] = []
        if fields and index is not False:
            for path in fields:
                texts.extend(t for t in get_text_at_path(value, path) if t)
        text = "\n".join(texts) if texts else json.dumps(value, ensure_ascii=False, default=str)
        limit = getattr(self.memory, "max_content_chars", None)
        return text[:limit] if limit else text

    def _item(self, rec: MemoryRecord, cls: type[Item] = Item) -> Item:
        meta = rec.metadata
        rest = [p for p in str(meta[NS]).split(".") if p] if meta[NS] else []
        namespace = (*rest[: self.user_index], rec.user_id, *rest[self.user_index :])
        if cls is SearchItem:
            return SearchItem(
                namespace=namespace,
                key=str(meta[KEY]),
                value=dict(meta[VALUE]),
                created_at=rec.created_at,
                updated_at=rec.updated_at,
                score=rec.score,
            )
        return Item(
            value=dict(meta[VALUE]),
            key=str(meta[KEY]),
            namespace=namespace,
            created_at=rec.created_at,
            updated_at=rec.updated_at,
        )

    async def _find(self, namespace: tuple[str, ...], key: str) -> MemoryRecord | None:
        user_id, rest = self._split(namespace)
        recs = await self.memory.get_all(user_id, 1, {NS: _join(rest), KEY: key}, **self._scope)
        return recs[0] if recs else None

    async def _users(self, first: str | None) -> list[str]:
        if first is not None and first != "*":
            return [first]
        tenant = self._scope.get("tenant_id") or ""
        return sorted(u for t, u in await self.memory.list_users() if t == tenant)

    async def _all(self, user_id: str, filters: dict[str, Any]) -> list[MemoryRecord]:
        out: list[MemoryRecord] = []
        while True:
            page = await self.memory.get_all(
                user_id, MAX_LIMIT, filters, offset=len(out), **self._scope
            )
            out.extend(page)
            if len(page) < MAX_LIMIT:
                return out

    # -- ops -----------------------------------------------------------------------------
    async def _get(self, op: GetOp) -> Item | None:
        self._check_ns(op.namespace)
        rec = await self._find(op.namespace, op.key)
        return None if rec is None else self._item(rec)

    async def _put(self, op: PutOp) -> None:
        self._check_ns(op.namespace)
        user_id, rest = self._split(op.namespace)
        existing = await self._find(op.namespace, op.key)
        if op.value is None:
            if existing is not None:
                await self.memory.delete(user_id, existing.id, **self._scope)
            return
        value = dict(op.value)
        meta = {NS: _join(rest), PREFIXES: _prefixes(rest), KEY: op.key, VALUE: value}
        content = self._content(value, op.index)
        ttl = None if op.ttl is None else float(op.ttl) * 60.0
        if existing is not None:
            await self.memory.update(
                user_id, existing.id, content=content, metadata=meta, ttl=ttl, **self._scope
            )
        else:
            await self.memory.add(user_id, content, meta, ttl=ttl, **self._scope)

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        prefix = tuple(op.namespace_prefix)
        if len(prefix) > self.user_index:
            user, rest = self._split(prefix)
            users = await self._users(user)
        else:  # the prefix stops before the user label: every user
            users, rest = await self._users(None), prefix
        filters: dict[str, Any] = {PREFIXES: _join(rest)} if rest else {KEY: {"$exists": True}}
        want = op.offset + op.limit
        hits: list[MemoryRecord] = []
        for user_id in users:
            if op.query:
                fetch = MAX_LIMIT if op.filter else min(MAX_LIMIT, max(want, 1))
                recs = await self.memory.search(user_id, op.query, fetch, filters, **self._scope)
            else:
                recs = await self._all(user_id, filters)
            hits.extend(r for r in recs if not op.filter or _matches(r.metadata[VALUE], op.filter))
        if op.query:
            hits.sort(key=lambda r: -(r.score or 0.0))
        else:
            hits.sort(key=lambda r: r.updated_at, reverse=True)
        return [self._item(r, SearchItem) for r in hits[op.offset : want]]  # type: ignore[misc]

    async def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        first: str | None = None
        for cond in op.match_conditions or ():
            path = tuple(cond.path)
            if cond.match_type == "prefix" and len(path) > self.user_index:
                if path[self.user_index] != "*":
                    first = path[self.user_index]
        seen: set[tuple[str, ...]] = set()
        for user_id in await self._users(first):
            for rec in await self._all(user_id, {KEY: {"$exists": True}}):
                ns = self._item(rec).namespace
                if all(_ns_matches(c, ns) for c in op.match_conditions or ()):
                    seen.add(ns[: op.max_depth] if op.max_depth is not None else ns)
        return sorted(seen)[op.offset : op.offset + op.limit]

    async def _run(self, ops: Iterable[Op]) -> list[Result]:
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(await self._get(op))
            elif isinstance(op, PutOp):
                await self._put(op)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(await self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(await self._list_namespaces(op))
            else:
                raise TypeError(f"unknown store operation {type(op).__name__}")
        return results

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order (sync; through the memory's portal thread)."""
        return self._runner.run(self._run(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order (async)."""
        return await self._runner.arun(self._run(list(ops)))


# -- LangChain key-value store ---------------------------------------------------------------
KV_NS, KV_KEY, KV_VALUE = "kv_namespace", "kv_key", "kv_value"


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, bytes | bytearray):
        return {"bytes": base64.b64encode(bytes(value)).decode("ascii")}
    return {"json": value}


def _decode(stored: Mapping[str, Any]) -> Any:
    if "bytes" in stored:
        return base64.b64decode(stored["bytes"])
    return stored.get("json")


class MnemoplugKVStore(KVBaseStore[str, Any]):
    """A LangChain key-value ``BaseStore`` kept in one user's mnemoplug memory.

    ``MnemoplugKVStore(memory, user_id="u1", namespace="docs")``: each key is one memory (its
    content the key, so keys are searchable) with the value in metadata. Values are
    JSON-serialisable objects or ``bytes``.
    """

    def __init__(
        self,
        memory: Any,
        *,
        user_id: str,
        namespace: str = "default",
        tenant_id: str | None = None,
        agent_id: str | None = None,
    ) -> None:
        self._runner = MemoryRunner(memory)
        self.memory = self._runner.memory
        self.user_id = check_str(user_id, "user_id")
        self.namespace = check_str(namespace, "namespace")
        self._scope: dict[str, Any] = {}
        if tenant_id:
            self._scope["tenant_id"] = tenant_id
        if agent_id:
            self._scope["agent_id"] = agent_id

    async def _records(self, keys: Sequence[str] | None) -> dict[str, MemoryRecord]:
        filters: dict[str, Any] = {KV_NS: self.namespace}
        if keys is not None:
            if not keys:
                return {}
            filters[KV_KEY] = {"$in": list(keys)}
        out: dict[str, MemoryRecord] = {}
        offset = 0
        while True:
            page = await self.memory.get_all(
                self.user_id, MAX_LIMIT, filters, offset=offset, **self._scope
            )
            for rec in page:
                out.setdefault(str(rec.metadata[KV_KEY]), rec)
            if len(page) < MAX_LIMIT:
                return out
            offset += len(page)

    async def _amget(self, keys: Sequence[str]) -> list[Any]:
        recs = await self._records(keys)
        return [_decode(recs[k].metadata[KV_VALUE]) if k in recs else None for k in keys]

    async def _amset(self, pairs: Sequence[tuple[str, Any]]) -> None:
        latest = dict(pairs)
        recs = await self._records(list(latest))
        for key, value in latest.items():
            meta = {KV_NS: self.namespace, KV_KEY: key, KV_VALUE: _encode(value)}
            if key in recs:
                await self.memory.update(self.user_id, recs[key].id, metadata=meta, **self._scope)
            else:
                await self.memory.add(self.user_id, key, meta, **self._scope)

    async def _amdelete(self, keys: Sequence[str]) -> None:
        for rec in (await self._records(keys)).values():
            await self.memory.delete(self.user_id, rec.id, **self._scope)

    async def _keys(self, prefix: str | None) -> list[str]:
        recs = await self._records(None)
        return sorted(k for k in recs if prefix is None or k.startswith(prefix))

    def mget(self, keys: Sequence[str]) -> list[Any]:
        """Values for ``keys`` (None where absent)."""
        return self._runner.run(self._amget(keys))

    async def amget(self, keys: Sequence[str]) -> list[Any]:
        """Async :meth:`mget`."""
        return await self._runner.arun(self._amget(keys))

    def mset(self, key_value_pairs: Sequence[tuple[str, Any]]) -> None:
        """Set values (the last value wins for a repeated key)."""
        self._runner.run(self._amset(key_value_pairs))

    async def amset(self, key_value_pairs: Sequence[tuple[str, Any]]) -> None:
        """Async :meth:`mset`."""
        await self._runner.arun(self._amset(key_value_pairs))

    def mdelete(self, keys: Sequence[str]) -> None:
        """Delete keys (missing keys are ignored)."""
        self._runner.run(self._amdelete(keys))

    async def amdelete(self, keys: Sequence[str]) -> None:
        """Async :meth:`mdelete`."""
        await self._runner.arun(self._amdelete(keys))

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """The keys (starting with ``prefix``), sorted."""
        yield from self._runner.run(self._keys(prefix))

    async def ayield_keys(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        """Async :meth:`yield_keys`."""
        for key in await self._runner.arun(self._keys(prefix)):
            yield key
