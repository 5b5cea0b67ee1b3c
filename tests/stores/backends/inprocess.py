"""The in-process backend joins the three store contracts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def memory_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    from mnemoplug.providers.inprocess import InProcessMemoryStore

    yield InProcessMemoryStore(**options)


@contextlib.asynccontextmanager
async def session_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    from mnemoplug.providers.inprocess import InMemorySessionMemory

    yield InMemorySessionMemory(**options)


@contextlib.asynccontextmanager
async def checkpoint_store(tmp_path: Any, **options: Any) -> AsyncIterator[Any]:
    from mnemoplug.providers.inprocess import InMemoryCheckpointStore

    yield InMemoryCheckpointStore(**options)
