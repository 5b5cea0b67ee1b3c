"""Encrypted stores join the store contracts: the in-process, SQLite, Redis and PostgreSQL
backends of ``tests/stores/backends`` wrapped in an ``EncryptingStore`` (memories), an
``EncryptingSessionStore`` (session messages) and an ``EncryptingCheckpointStore``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from mnemoplug import CheckpointStore, Memory, MemoryStore, SessionStore
from mnemoplug.encryption import (
    EncryptingCheckpointStore,
    EncryptingSessionStore,
    EncryptingStore,
)
from tests.stores.backends import inprocess, postgres, redis, sqlite

CONTRACT_BACKENDS = {"inprocess": inprocess, "sqlite": sqlite, "redis": redis, "postgres": postgres}


@pytest.fixture(params=sorted(CONTRACT_BACKENDS))
async def memory_store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[MemoryStore]:
    async with CONTRACT_BACKENDS[request.param].memory_store(tmp_path) as s:
        yield EncryptingStore(s, Fernet.generate_key())


@pytest.fixture
async def memory(memory_store: MemoryStore, embedder: Any) -> AsyncIterator[Memory]:
    m = Memory(memory_store, embedder=embedder, load_entry_points=False)
    yield m
    await m.close()


@pytest.fixture(params=sorted(CONTRACT_BACKENDS))
async def session_store(
    request: pytest.FixtureRequest, tmp_path: Any
) -> AsyncIterator[SessionStore]:
    async with CONTRACT_BACKENDS[request.param].session_store(tmp_path) as s:
        yield EncryptingSessionStore(s, Fernet.generate_key())


@pytest.fixture(params=sorted(CONTRACT_BACKENDS))
async def checkpoint_store(
    request: pytest.FixtureRequest, tmp_path: Any
) -> AsyncIterator[CheckpointStore]:
    async with CONTRACT_BACKENDS[request.param].checkpoint_store(tmp_path) as s:
        yield EncryptingCheckpointStore(s, Fernet.generate_key())
