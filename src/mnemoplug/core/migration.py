"""Copy every memory from one store to another: ``migrate_memory(source, target)``.

Source and target may each be a :class:`~mnemoplug.Memory` (or a built-in provider), a
:class:`~mnemoplug.MemoryStore`, your own :class:`~mnemoplug.MemoryProvider` or a URL (``"sqlite:///old.db"``,
``"qdrant://localhost:6333"``, ``"redis://..."``). Every user of every tenant is read with
``provider.export()`` and written with ``provider.upsert()``, so ids, content, metadata,
roles, scopes (tenant, agent, session), ``created_at``/``updated_at``, expiry (expired memories
too) and embeddings are kept. Running it again is harmless (upsert). A target that is your own
seven-method provider gets each memory through its ``add`` (it assigns the ids; running again
adds them again).

Embeddings: vectors are copied as they are, unless the target is a ``Memory`` whose embedder
differs from the vectors', in which case the contents are re-embedded in batches with the
target's embedder (so the target store is searchable by its own embedder):

* both sides are ``Memory`` objects: re-embed when the embedder names or dimensions differ;
* otherwise: re-embed when a vector's dimension differs from the target embedder's, and embed
  memories that have no vector;
* ``reembed=True`` forces re-embedding with the target's embedder, ``reembed=False`` never
  re-embeds (vectors of the wrong size then fail their batch with the target's error).

Errors do not stop the migration: a batch that fails is recorded in ``MigrationResult.errors``
and counted in ``failed``; the other batches and users still migrate, and ``success`` is
False. Providers built here from URLs are opened and closed here; objects you pass are opened
(idempotent) but left open.

Progress: a bar on stderr when stderr is a terminal (tqdm when installed, else one updating
line); ``progress=False`` silences it, ``progress=True`` forces it, ``progress="tqdm"``
requires tqdm (``pip install "mnemoplug[progress]"``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from .delegate import ProviderStoreView
from .embedders import aembed
from .errors import ConfigurationError, MissingDependencyError
from .provider import MemoryProvider
from .records import StoredMemory
from .stores import MemoryStore

__all__ = ["MigrationResult", "migrate_memory"]


@dataclass(slots=True)
class MigrationResult:
    """What ``migrate_memory`` did.

    ``total_memories`` counts memories read from the source; ``failed`` those of them that
    could not be written; ``errors`` says what went wrong, one line per failed batch (or
    per user whose export failed)."""

    success: bool
    total_users: int
    total_memories: int
    failed: int
    duration: float
    errors: list[str] = field(default_factory=list)

    @property
    def migrated(self) -> int:
        """Memories written to the target."""
        return self.total_memories - self.failed


def _resolve(obj: Any, what: str, user_ids: Any) -> tuple[Any, Any, bool]:
    """(store or store view, Memory or None, created here)."""
    from .delegate import ProviderStoreView
    from .memory import Memory, provider_from_url

    if isinstance(obj, Memory) and obj.store is not None:
        return obj.store, obj, False
    if isinstance(obj, MemoryStore):
        return obj, None, False
    if isinstance(obj, MemoryProvider):
        return ProviderStoreView(obj, user_ids), None, False
    if isinstance(obj, str):
        return provider_from_url(obj), None, True
    raise ConfigurationError(
        f"migrate_memory {what} must be a Memory, a MemoryProvider, a MemoryStore or a URL "
        f"such as 'sqlite:///memory.db', got {type(obj).__name__}"
    )


class _Progress:
    def __init__(self, mode: Any, total_users: int, stream: TextIO) -> None:
        self.bar: Any = None
        self.stream = stream
        self.enabled = bool(mode) if mode is not None else stream.isatty()
        self.total_users = total_users
        self.users = 0
        self.memories = 0
        if not self.enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:
            if mode == "tqdm":
                raise MissingDependencyError(
                    "migrate_memory(progress='tqdm')", "progress", "tqdm"
                ) from exc
            return
        self.bar = tqdm(total=total_users, unit="user", desc="migrating", file=stream, leave=True)

    def update(self, users: int = 0, memories: int = 0) -> None:
        self.users += users
        self.memories += memories
        if not self.enabled:
            return
        if self.bar is not None:
            if users:
                self.bar.update(users)
            self.bar.set_postfix(memories=self.memories, refresh=False)
        else:
            self.stream.write(
                f"\rmigrating: {self.users}/{self.total_users} users, {self.memories} memories"
            )
            self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            self.stream.write("\n")
            self.stream.flush()


async def migrate_memory(
    source: Any,
    target: Any,
    batch_size: int = 500,
    *,
    progress: bool | str | None = None,
    reembed: bool | None = None,
    user_ids: Sequence[str | tuple[str, str]] | None = None,
) -> MigrationResult:
    """Copy every memory of every user from ``source`` to ``target`` (see the module docs).

    Returns a :class:`MigrationResult`; per-batch errors are collected, not raised.
    Configuration errors (a bad URL, a missing optional dependency, ``reembed=True`` without a
    target embedder) and an unreachable store raise before anything is written.

    ``user_ids`` limits the migration to those users (``"u1"`` or ``("tenant", "u1")``); a
    source that is your own seven-method provider needs it unless it has ``list_users()``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
    start = time.perf_counter()
    src, src_mem, src_owned = _resolve(source, "source", user_ids)
    try:
        dst, dst_mem, dst_owned = _resolve(target, "target", None)
    except BaseException:
        if src_owned:
            await src.close()
        raise
    target_embedder = getattr(dst_mem, "embedder", None)
    if reembed and target_embedder is None:
        raise ConfigurationError(
            "reembed=True needs the target to be a Memory with an embedder, e.g. "
            "migrate_memory(src, Memory('sqlite:///new.db', embedder='default'))"
        )
    errors: list[str] = []
    total = failed = 0
    users: list[tuple[str, str]] = []
    bar: _Progress | None = None
    try:
        if src_mem is not None:
            await src_mem.open()
        else:
            await src.open()
        if dst_mem is not None:
            await dst_mem.open()
        else:
            await dst.open()
        users = await src.list_users()
        if user_ids is not None:
            wanted = {(u if isinstance(u, tuple) else ("", u)) for u in user_ids}
            users = (
                [u for u in users if u in wanted]
                if not isinstance(src, ProviderStoreView)
                else users
            )
        same_embedder = (
            src_mem is not None
            and target_embedder is not None
            and getattr(src_mem, "embedder", None) is not None
            and str(src_mem.embedder.name) == str(target_embedder.name)
            and int(src_mem.embedder.dimension) == int(target_embedder.dimension)
        )
        src_embedder = getattr(src_mem, "embedder", None)
        force = bool(reembed) or (
            src_embedder is not None and target_embedder is not None and not same_embedder
        )
        checked = False
        bar = _Progress(progress, len(users), sys.stderr)
        for tenant_id, user_id in users:
            who = f"user {user_id!r}" + (f" of tenant {tenant_id!r}" if tenant_id else "")
            n_batch = 0
            try:
                async for batch in src.export(tenant_id, user_id, batch_size):
                    n_batch += 1
                    total += len(batch)
                    try:
                        rows = list(batch)
                        if target_embedder is not None and reembed is not False:
                            rows = await _fit_vectors(rows, target_embedder, force, same_embedder)
                            if not checked and any(r.embedding is not None for r in rows):
                                await dst.check_embedder(
                                    str(target_embedder.name), int(target_embedder.dimension)
                                )
                                checked = True
                        await dst.upsert(rows)
                    except Exception as exc:
                        failed += len(batch)
                        errors.append(f"{who}, batch {n_batch}: {type(exc).__name__}: {exc}")
                    bar.update(memories=len(batch))
            except Exception as exc:
                errors.append(f"{who}: export failed: {type(exc).__name__}: {exc}")
            bar.update(users=1)
    finally:
        if bar is not None:
            bar.close()
        if dst_owned:
            await dst.close()
        if src_owned:
            await src.close()
    return MigrationResult(
        success=not errors,
        total_users=len(users),
        total_memories=total,
        failed=failed,
        duration=time.perf_counter() - start,
        errors=errors,
    )


async def _fit_vectors(
    rows: list[StoredMemory], embedder: Any, force: bool, same_embedder: bool
) -> list[StoredMemory]:
    """Re-embed the rows whose vectors the target embedder cannot use (see module docs)."""
    dim = int(embedder.dimension)
    if force:
        todo = list(range(len(rows)))
    elif same_embedder:
        todo = [i for i, r in enumerate(rows) if r.embedding is None]
    else:
        todo = [
            i
            for i, r in enumerate(rows)
            if r.embedding is None or int(r.embedding.shape[-1]) != dim
        ]
    if not todo:
        return rows
    vecs = await aembed(embedder, [rows[i].indexed_text for i in todo])
    out = list(rows)
    for i, v in zip(todo, vecs, strict=True):
        out[i] = rows[i].copy(embedding=v)
    return out
