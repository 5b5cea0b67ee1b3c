"""Bad arguments to the public constructors raise mnemoplug's own errors, at construction."""

from __future__ import annotations

from typing import Any

import pytest

from mnemoplug import (
    ConfigurationError,
    Memory,
    MnemoplugError,
    SyncMemory,
    checkpoint_store_from_url,
    inject_memory,
)
from mnemoplug.adapters.endpoint import agent_endpoint


@pytest.fixture
def memory() -> Memory:
    return Memory("memory://", embedder=None, load_entry_points=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "nearest"},
        {"max_memories": 0},
        {"max_memories": True},
        {"min_relevance": "high"},
        {"time_window_hours": "1"},
        {"time_window_hours": -1},
        {"template": 3},
        {"template": "no placeholder"},
        {"item_template": None},
        {"filters": ["category"]},
        {"strategy": "custom"},
        {"strategy": "custom", "selector": "pick"},
    ],
)
def test_inject_memory(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        inject_memory(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"metadata": ["x"]},
        {"user_id_field": 3},
        {"agent_id": 3},
        {"strategy": 3},
        {"strategy": "nearest"},
    ],
)
def test_agent_endpoint(memory: Memory, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        agent_endpoint(memory, **kwargs)
    with pytest.raises(ConfigurationError):
        agent_endpoint(None)


def test_sync_memory(memory: Memory) -> None:
    with pytest.raises(ConfigurationError):
        SyncMemory(memory=object())  # type: ignore[arg-type]
    with pytest.raises(MnemoplugError):
        SyncMemory(object())


def test_agno(memory: Memory) -> None:
    pytest.importorskip("agno")
    from mnemoplug.adapters.agno import MnemoplugAgno, MnemoplugAgnoDb

    for bad in (
        lambda: MnemoplugAgno(object()),  # type: ignore[arg-type]
        lambda: MnemoplugAgno(memory, "relevant"),  # type: ignore[arg-type]
        lambda: MnemoplugAgno(memory, metadata=["x"]),  # type: ignore[arg-type]
        lambda: MnemoplugAgno(memory, tenant_id=3),  # type: ignore[arg-type]
        lambda: MnemoplugAgnoDb(object()),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigurationError):
            bad()


def test_langchain(memory: Memory) -> None:
    pytest.importorskip("langchain.agents")
    from mnemoplug.adapters.langchain import (
        MnemoplugChatMessageHistory,
        MnemoplugCheckpointer,
        MnemoplugKVStore,
        MnemoplugMiddleware,
        MnemoplugRetriever,
        MnemoplugStore,
    )

    for bad in (
        lambda: MnemoplugMiddleware(object()),
        lambda: MnemoplugMiddleware(memory, "relevant"),  # type: ignore[arg-type]
        lambda: MnemoplugMiddleware(memory, store_roles=["bot"]),
        lambda: MnemoplugMiddleware(memory, store_roles="user"),
        lambda: MnemoplugMiddleware(memory, metadata=3),  # type: ignore[arg-type]
        lambda: MnemoplugRetriever(memory=object(), user_id="u1"),
        lambda: MnemoplugRetriever(memory=memory),
        lambda: MnemoplugRetriever(memory=memory, user_id="u1", k="many"),
        lambda: MnemoplugStore(object()),
        lambda: MnemoplugKVStore(memory, user_id=""),
        lambda: MnemoplugChatMessageHistory(memory, "c1"),  # no session memory
        lambda: MnemoplugCheckpointer(memory),  # no checkpoint store
        lambda: MnemoplugCheckpointer(checkpoint_store_from_url("memory://"), user_id=""),
    ):
        with pytest.raises(ConfigurationError):
            bad()
    # human/ai are accepted as aliases
    assert MnemoplugMiddleware(memory, store_roles=["human", "ai"]).store_roles == (
        "user",
        "assistant",
    )


def test_pydantic_ai(memory: Memory) -> None:
    pytest.importorskip("pydantic_ai")
    from mnemoplug.adapters.pydantic_ai import MnemoplugCapability, MnemoplugConversationStore

    for bad in (
        lambda: MnemoplugCapability(object(), strategy=3),  # type: ignore[arg-type]
        lambda: MnemoplugCapability(None),
        lambda: MnemoplugCapability(memory, user_id=3),  # type: ignore[arg-type]
        lambda: MnemoplugCapability(memory, metadata=["x"]),  # type: ignore[arg-type]
        lambda: MnemoplugConversationStore(memory),  # no session memory
        lambda: MnemoplugConversationStore(3),
    ):
        with pytest.raises(ConfigurationError):
            bad()
