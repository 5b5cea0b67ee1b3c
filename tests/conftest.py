"""Shared fixtures. The real all-MiniLM-L6-v2 model is loaded once per session.

Server-backed tests use MNEMOPLUG_TEST_REDIS_URL / MNEMOPLUG_TEST_POSTGRES_URL (localhost
defaults). Locally they skip when the server is absent; with CI set (as .ci/run does) a missing
server fails the run instead.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REDIS_URL = os.environ.get("MNEMOPLUG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "MNEMOPLUG_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def server_up(url: str, timeout: float = 0.5) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 0), timeout=timeout
        ):
            return True
    except OSError:
        return False


def require_server(url: str, what: str) -> None:
    """Skip locally when the server is down; fail in CI."""
    if server_up(url):
        return
    msg = f"{what} is not reachable at {url}"
    if os.environ.get("CI"):
        pytest.fail(msg + " (CI requires it)")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def embedder():
    from mnemoplug.core.embedders import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.warmup()
    return e


@pytest.fixture(autouse=True)
def _no_global_hooks_leak():
    """``@hook`` registers process-wide: forget what a test registered once it ends."""
    from mnemoplug import reset_global_hooks

    reset_global_hooks()
    yield
    reset_global_hooks()
