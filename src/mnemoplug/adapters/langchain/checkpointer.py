"""``MnemoplugCheckpointer``: a LangGraph ``BaseCheckpointSaver`` over a mnemoplug
:class:`~mnemoplug.core.checkpoints.CheckpointStore`.

Mapping onto the store (one owner = ``(tenant_id, user_id)``):

* a thread is named by its ``thread_id`` alone, as everywhere in LangGraph: a config without
  ``user_id`` reaches the thread whoever saved it (this saver, another instance or another
  process), looked up among the store's owners (the saver's ``user_id`` first) and
  remembered per saver. New threads belong to the saver's ``user_id`` (default
  ``"langgraph"``); ``tenant_id`` is fixed per saver.
* per-user ownership: a config with ``config["configurable"]["user_id"]`` reads and writes
  only that user's threads; another user's thread of the same id reads as absent. Two users
  may use the same thread id; a config without ``user_id`` then gets the saver's user's
  thread, else the first owner in sorted order.
* a LangGraph checkpoint is one store checkpoint: ``run_id = thread_id + "\\x1f" +
  checkpoint_ns``, ``checkpoint_id`` = LangGraph's id (time-ordered), ``parent_id`` = the
  parent's id; the state is bytes: the saver's serde output for ``{checkpoint, metadata}``.
  Store metadata holds ``thread_id``/``checkpoint_ns`` (for listing).
* pending writes of a checkpoint are store checkpoints of the run
  ``thread_id \\x1f ns \\x1f "w" \\x1f checkpoint_id``, one per ``(task_id, idx)``.
* ``list`` sorts by checkpoint id (newest first) and applies ``filter`` (metadata equality)
  and ``before`` in the saver; listing a thread without ``checkpoint_ns`` or listing everything
  scans the owner's checkpoints.
* ``delete_thread``, ``copy_thread``, ``prune`` and ``delete_for_runs`` act on every owner of
  the saver's tenant (all the store's users, on backends that list them: all built-in ones),
  so a thread saved by another instance or process with its own ``user_id`` is deleted too.
  To erase one user everywhere use ``CheckpointStore.delete_user``.

Build it over a Memory with a checkpoint store, a store, or a SyncMemory::

    saver = MnemoplugCheckpointer(Memory(..., checkpoints="sqlite:///checkpoints.db"))
    saver = MnemoplugCheckpointer(checkpoint_store_from_url("postgresql://..."))
    agent = create_agent(model, tools, checkpointer=saver)
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.base.id import uuid6

from ...core.checkpoints import Checkpoint as StoredCheckpoint
from ...core.checkpoints import CheckpointStore
from ...core.errors import ConfigurationError
from ...core.sync import SyncMemory
from .._checks import check_optional_str, check_str
from ._runner import MemoryRunner

__all__ = ["MnemoplugCheckpointer"]

SEP = "\x1f"
SCAN_LIMIT = 1_000_000


def _resolve_store(target: Any) -> Any:
    if isinstance(target, SyncMemory):
        store = target.memory.checkpoints
    elif isinstance(target, CheckpointStore):
        return target
    else:
        store = getattr(target, "checkpoints", None)
    if store is None:
        raise ConfigurationError(
            "MnemoplugCheckpointer needs a CheckpointStore: pass one (e.g. "
            "checkpoint_store_from_url('sqlite:///checkpoints.db')) or a Memory built with "
            "checkpoints=..."
        )
    return store


class MnemoplugCheckpointer(BaseCheckpointSaver[str]):
    """LangGraph thread persistence (``create_agent(..., checkpointer=...)``) in a mnemoplug
    checkpoint store. See the module docstring for the mapping.

    Args:
        store: a :class:`CheckpointStore`, a :class:`Memory` with ``checkpoints=`` or a
            :class:`SyncMemory` over one (then every call runs on its portal loop).
        user_id: owner of threads whose config carries no ``user_id``.
        tenant_id: tenant of every thread.
        serde: LangGraph serializer (default: ``JsonPlusSerializer``).
    """

    def __init__(
        self,
        store: Any,
        *,
        user_id: str = "langgraph",
        tenant_id: str | None = None,
        serde: Any = None,
    ) -> None:
        super().__init__(serde=serde)
        self._runner = MemoryRunner(store, any_object=True)
        if isinstance(store, SyncMemory):
            self.store: CheckpointStore = _resolve_store(store)
        else:
            self.store = _resolve_store(store)
            self._runner.memory = self.store
        self.user_id = check_str(user_id, "user_id")
        self.tenant_id = check_optional_str(tenant_id, "tenant_id")
        self._users: set[str] = {user_id}
        self._threads: dict[str, str] = {}  # thread id -> its owner, as seen by this saver
        self._users_lock = threading.Lock()

    # -- encoding ------------------------------------------------------------------------
    def _dump(self, obj: Any) -> bytes:
        type_, data = self.serde.dumps_typed(obj)
        return type_.encode("utf-8") + b"\x00" + data

    def _load(self, raw: bytes) -> Any:
        type_, _, data = bytes(raw).partition(b"\x00")
        return self.serde.loads_typed((type_.decode("utf-8"), data))

    def _owner_of(self, user: str) -> dict[str, Any]:
        kw: dict[str, Any] = {"user_id": user}
        if self.tenant_id:
            kw["tenant_id"] = self.tenant_id
        return kw

    async def _owner(self, config: RunnableConfig | None) -> dict[str, Any]:
        """The owner of the thread ``config`` names: the config's ``user_id``; without one,
        whoever saved the thread (any instance or process), else the saver's ``user_id``."""
        conf = (config or {}).get("configurable") or {}
        if conf.get("user_id"):
            return self._owner_of(str(conf["user_id"]))
        thread_id = conf.get("thread_id")
        if thread_id is None:
            return self._owner_of(self.user_id)
        thread_id = str(thread_id)
        with self._users_lock:
            known = self._threads.get(thread_id)
        if known is not None:
            return self._owner_of(known)
        ns = str(conf.get("checkpoint_ns", ""))
        for owner in await self._all_owners():
            if await self.store.list(run_id=self._run_id(thread_id, ns), limit=1, **owner):
                self._remember(owner, thread_id)
                return owner
        return self._owner_of(self.user_id)

    @staticmethod
    def _run_id(thread_id: str, ns: str) -> str:
        return f"{thread_id}{SEP}{ns}"

    @staticmethod
    def _writes_run(thread_id: str, ns: str, checkpoint_id: str) -> str:
        return f"{thread_id}{SEP}{ns}{SEP}w{SEP}{checkpoint_id}"

    # -- reading -------------------------------------------------------------------------
    async def _writes(
        self, owner: dict[str, Any], thread_id: str, ns: str, checkpoint_id: str
    ) -> list[tuple[str, str, Any]]:
        rows = await self.store.list(
            run_id=self._writes_run(thread_id, ns, checkpoint_id), limit=SCAN_LIMIT, **owner
        )
        writes = []
        for row in rows:
            task_id, channel, value, task_path, idx = self._load(row.state)
            writes.append((writes_sort_key(task_path, task_id, idx), (task_id, channel, value)))
        writes.sort(key=lambda w: w[0])
        return [w for _, w in writes]

    async def _tuple(
        self, owner: dict[str, Any], row: StoredCheckpoint, with_config: RunnableConfig | None
    ) -> CheckpointTuple:
        thread_id = str(row.metadata["thread_id"])
        ns = str(row.metadata["checkpoint_ns"])
        body = self._load(row.state)
        config: RunnableConfig = with_config or {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": row.checkpoint_id,
            }
        }
        parent = (
            {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": row.parent_id,
                }
            }
            if row.parent_id
            else None
        )
        return CheckpointTuple(
            config=config,
            checkpoint=body["checkpoint"],
            metadata=body["metadata"],
            parent_config=parent,  # type: ignore[arg-type]
            pending_writes=await self._writes(owner, thread_id, ns, row.checkpoint_id),
        )

    async def _aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (or the thread's latest) with its writes."""
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        owner = await self._owner(config)
        cid = get_checkpoint_id(config)
        if cid:
            row = await self.store.load(self._run_id(thread_id, ns), checkpoint_id=cid, **owner)
            return None if row is None else await self._tuple(owner, row, config)
        rows = await self.store.list(run_id=self._run_id(thread_id, ns), limit=SCAN_LIMIT, **owner)
        if not rows:
            return None
        latest = max(rows, key=lambda r: r.checkpoint_id)
        return await self._tuple(owner, latest, None)

    async def _rows(
        self, owner: dict[str, Any], thread_id: str | None, ns: str | None
    ) -> list[StoredCheckpoint]:
        if thread_id is not None and ns is not None:
            rows = await self.store.list(
                run_id=self._run_id(thread_id, ns), limit=SCAN_LIMIT, **owner
            )
        else:
            rows = [
                r
                for r in await self.store.list(limit=SCAN_LIMIT, **owner)
                if r.metadata.get("kind") == "checkpoint"
                and (thread_id is None or r.metadata.get("thread_id") == thread_id)
            ]
        return rows

    async def _alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first (of a thread/namespace when ``config`` names them)."""
        owner = await self._owner(config)
        conf = (config or {}).get("configurable") or {}
        thread_id = conf.get("thread_id")
        ns = conf.get("checkpoint_ns")
        only_id = get_checkpoint_id(config) if config else None
        before_id = get_checkpoint_id(before) if before else None
        rows = await self._rows(owner, None if thread_id is None else str(thread_id), ns)
        rows.sort(
            key=lambda r: (
                str(r.metadata.get("thread_id")),
                str(r.metadata.get("checkpoint_ns")),
                r.checkpoint_id,
            ),
            reverse=True,
        )
        if thread_id is not None:
            rows.sort(key=lambda r: r.checkpoint_id, reverse=True)
        remaining = limit
        for row in rows:
            if only_id and row.checkpoint_id != only_id:
                continue
            if before_id and row.checkpoint_id >= before_id:
                continue
            tup = await self._tuple(owner, row, None)
            if filter and not all(tup.metadata.get(k) == v for k, v in filter.items()):
                continue
            if remaining is not None:
                if remaining <= 0:
                    return
                remaining -= 1
            yield tup

    # -- writing -------------------------------------------------------------------------
    def _remember(self, owner: dict[str, Any], thread_id: str | None = None) -> None:
        with self._users_lock:
            self._users.add(owner["user_id"])
            if thread_id is not None:
                self._threads.setdefault(thread_id, owner["user_id"])

    async def _aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint; return the config naming it."""
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        owner = await self._owner(config)
        self._remember(owner, thread_id)
        state = self._dump(
            {"checkpoint": checkpoint, "metadata": get_checkpoint_metadata(config, metadata)}
        )
        await self.store.save(
            self._run_id(thread_id, ns),
            state,
            metadata={"kind": "checkpoint", "thread_id": thread_id, "checkpoint_ns": ns},
            checkpoint_id=checkpoint["id"],
            parent_id=conf.get("checkpoint_id"),
            **owner,
        )
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def _aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Save a task's pending writes for a checkpoint (regular writes are kept once;
        special writes such as errors and interrupts are replaced)."""
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        checkpoint_id = str(conf["checkpoint_id"])
        owner = await self._owner(config)
        self._remember(owner)
        run = self._writes_run(thread_id, ns, checkpoint_id)
        rows = await self.store.list(run_id=run, limit=SCAN_LIMIT, **owner)
        existing = {r.checkpoint_id for r in rows}
        for i, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, i)
            wid = f"{task_id}{SEP}{idx}"
            if idx >= 0 and wid in existing:
                continue
            await self.store.save(
                run,
                self._dump((task_id, channel, value, task_path, idx)),
                metadata={"kind": "writes", "thread_id": thread_id, "checkpoint_ns": ns},
                checkpoint_id=wid,
                **owner,
            )

    async def _all_owners(self) -> list[dict[str, Any]]:
        """Every owner of this saver's tenant: the saver's ``user_id`` first, then every user
        with checkpoints in the store (saved by any instance or process), then users this
        instance wrote for (stores that cannot list their owners)."""
        with self._users_lock:
            users = set(self._users)
        try:
            pairs = await self.store._owners()
        except NotImplementedError:
            pairs = []
        tenant = self.tenant_id or ""
        users.update(u for t, u in pairs if t == tenant)
        users.discard(self.user_id)
        return [self._owner_of(u) for u in [self.user_id, *sorted(users)]]

    async def _thread_rows(
        self, owner: dict[str, Any], thread_ids: Sequence[str]
    ) -> list[StoredCheckpoint]:
        wanted = set(thread_ids)
        rows = await self.store.list(limit=SCAN_LIMIT, **owner)
        return [r for r in rows if r.metadata.get("thread_id") in wanted]

    async def _delete_checkpoint(self, owner: dict[str, Any], row: StoredCheckpoint) -> None:
        thread_id, ns = str(row.metadata["thread_id"]), str(row.metadata["checkpoint_ns"])
        await self.store.delete(row.run_id, checkpoint_id=row.checkpoint_id, **owner)
        await self.store.delete(self._writes_run(thread_id, ns, row.checkpoint_id), **owner)

    async def _adelete_thread(self, thread_id: str) -> None:
        for owner in await self._all_owners():
            for run in {r.run_id for r in await self._thread_rows(owner, [thread_id])}:
                await self.store.delete(run, **owner)
        with self._users_lock:
            self._threads.pop(thread_id, None)

    async def _adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        wanted = {str(r) for r in run_ids}
        if not wanted:
            return
        for owner in await self._all_owners():
            for row in await self.store.list(limit=SCAN_LIMIT, **owner):
                if row.metadata.get("kind") != "checkpoint":
                    continue
                meta = self._load(row.state)["metadata"] or {}
                if str(meta.get("run_id")) in wanted:
                    await self._delete_checkpoint(owner, row)

    async def _acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        for owner in await self._all_owners():
            rows = await self._thread_rows(owner, [source_thread_id])
            for row in reversed(rows):  # oldest first: keep the save order
                suffix = row.run_id[len(source_thread_id) :]
                meta = {**row.metadata, "thread_id": target_thread_id}
                await self.store.save(
                    target_thread_id + suffix,
                    row.state,
                    metadata=meta,
                    checkpoint_id=row.checkpoint_id,
                    parent_id=row.parent_id,
                    **owner,
                )

    async def _aprune(self, thread_ids: Sequence[str], strategy: str) -> None:
        if strategy == "delete":
            for thread_id in thread_ids:
                await self._adelete_thread(thread_id)
            return
        if strategy != "keep_latest":
            raise ValueError(f"unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'")
        for owner in await self._all_owners():
            rows = [
                r
                for r in await self._thread_rows(owner, thread_ids)
                if r.metadata.get("kind") == "checkpoint"
            ]
            latest: dict[str, str] = {}
            for r in rows:
                latest[r.run_id] = max(latest.get(r.run_id, ""), r.checkpoint_id)
            for r in rows:
                if r.checkpoint_id != latest[r.run_id]:
                    await self._delete_checkpoint(owner, r)

    # -- the public async API (on the SyncMemory's portal when given one) ------------------
    async def _collect(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> list[CheckpointTuple]:
        return [t async for t in self._alist(config, filter=filter, before=before, limit=limit)]

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (or the thread's latest) with its writes."""
        return await self._runner.arun(self._aget_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first (of a thread/namespace when ``config`` names them)."""
        for tup in await self._runner.arun(self._collect(config, filter, before, limit)):
            yield tup

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint; return the config naming it."""
        return await self._runner.arun(self._aput(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Save a task's pending writes for a checkpoint."""
        await self._runner.arun(self._aput_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete the thread's checkpoints and writes (all namespaces)."""
        await self._runner.arun(self._adelete_thread(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) made by the given LangGraph runs."""
        await self._runner.arun(self._adelete_for_runs(list(run_ids)))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write of a thread (all namespaces) to another thread."""
        await self._runner.arun(self._acopy_thread(source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest``: keep each namespace's newest checkpoint; ``delete``: drop all."""
        await self._runner.arun(self._aprune(list(thread_ids), strategy))

    # -- sync twins (through the portal) ---------------------------------------------------
    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Sync :meth:`adelete_for_runs`."""
        self._runner.run(self._adelete_for_runs(list(run_ids)))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Sync :meth:`acopy_thread`."""
        self._runner.run(self._acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Sync :meth:`aprune`."""
        self._runner.run(self._aprune(list(thread_ids), strategy))

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Sync :meth:`aget_tuple`."""
        return self._runner.run(self._aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Sync :meth:`alist`."""

        yield from self._runner.run(self._collect(config, filter, before, limit))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Sync :meth:`aput`."""
        return self._runner.run(self._aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Sync :meth:`aput_writes`."""
        self._runner.run(self._aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Sync :meth:`adelete_thread`."""
        self._runner.run(self._adelete_thread(thread_id))

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Monotonic, string-sortable channel versions (as LangGraph's InMemorySaver)."""
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(str(current).split(".")[0])
        return f"{current_v + 1:032}.{uuid6().int % 10**16:016}"
