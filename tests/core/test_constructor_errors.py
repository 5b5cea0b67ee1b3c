"""Public constructors raise mnemoplug's own errors (never a bare ValueError/TypeError), and say
what to pass instead."""

from __future__ import annotations

from typing import Any

import pytest

from mnemoplug import (
    ConfigurationError,
    InMemoryProvider,
    Memory,
    MemoryProvider,
    MnemoplugError,
    RetrievalConfig,
    SQLiteProvider,
    inject_memory,
)
from mnemoplug.plugins import AuditLog, PIIRedactor

BAD: list[tuple[str, Any]] = [
    ("provider", lambda: Memory(42)),  # type: ignore[arg-type]
    ("plugins", lambda: Memory("memory://", embedder=None, plugins=5)),  # type: ignore[arg-type]
    ("retrieval", lambda: Memory("memory://", embedder=None, retrieval="fast")),  # type: ignore[arg-type]
    ("max_content_chars", lambda: Memory("memory://", embedder=None, max_content_chars=0)),
    ("clock", lambda: Memory("memory://", embedder=None, clock=3)),  # type: ignore[arg-type]
    ("default_ttl", lambda: Memory("memory://", embedder=None, default_ttl=-1)),
    ("embedder", lambda: Memory("memory://", embedder=3.5)),
    ("url", lambda: Memory("nosuch://x", embedder=None)),
    ("weights", lambda: RetrievalConfig(dense_weight=-1)),
    ("weight type", lambda: RetrievalConfig(lexical_weight="a")),  # type: ignore[arg-type]
    ("strategy", lambda: inject_memory("closest")),  # type: ignore[arg-type]
    ("pii kinds", lambda: PIIRedactor(kinds=["shoe size"])),
    ("audit", lambda: AuditLog()),
    ("in-memory option", lambda: InMemoryProvider(embedder=None, no_such_option=1)),
]


@pytest.mark.parametrize(("what", "build"), BAD, ids=[b[0] for b in BAD])
def test_bad_constructor_arguments_raise_mnemoplug_errors(what: str, build: Any) -> None:
    with pytest.raises(MnemoplugError) as info:
        build()
    assert type(info.value).__module__.startswith("mnemoplug"), what


def test_configuration_error_is_still_a_value_error() -> None:
    with pytest.raises(ValueError):
        Memory("memory://", embedder=None, max_content_chars=-5)


def test_storage_style_subclass_of_the_seven_method_interface_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="MemoryStore"):

        class OldStyle(MemoryProvider):  # the pre-0.2 storage interface
            async def insert(self, memories: Any) -> None: ...
            async def upsert(self, memories: Any) -> None: ...
            async def list_users(self) -> Any: ...


def test_sqlite_provider_bad_path(tmp_path: Any) -> None:
    with pytest.raises(MnemoplugError):
        SQLiteProvider("sqlite://", embedder=None)
