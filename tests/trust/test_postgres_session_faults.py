"""PostgreSQL session and checkpoint stores under faults (issue 11, item 6): a server that goes
away or a network that goes silent gives ProviderUnavailableError naming the server within the
configured timeouts; the stores recover without a restart; a retried append stores nothing
twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mnemoplug import ProviderUnavailableError
from tests.conftest import POSTGRES_URL, require_server
from tests.providers.test_postgres import TcpProxy
from tests.stores.backends.postgres import drop_plain_tables


class SilentProxy(TcpProxy):
    """A proxy that can also go silent: connections stay open, nothing gets through."""

    silent = False

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                if self.silent:
                    continue
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()


@pytest.fixture
async def proxy() -> AsyncIterator[SilentProxy]:
    require_server(POSTGRES_URL, "PostgreSQL")
    target = POSTGRES_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = target.partition(":")
    p = SilentProxy(host, int(port or 5432))
    await p.start()
    yield p
    if p.server is not None:
        await p.stop()


async def _fails_fast(call: Any, port: int) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ProviderUnavailableError) as info:
        await call()
    assert time.perf_counter() - t0 < 15
    msg = str(info.value)
    assert "PostgreSQL" in msg and f"127.0.0.1:{port}" in msg and ":***@" in msg


async def test_outage_and_silence_are_typed_and_the_stores_recover(proxy: SilentProxy) -> None:
    from mnemoplug.providers.postgres import PostgresCheckpointStore, PostgresSessionMemory

    tag = uuid.uuid4().hex[:10]
    url = f"postgresql+asyncpg://postgres:pw@127.0.0.1:{proxy.port}/test"
    opts = {"connect_timeout": 1, "command_timeout": 2}
    sessions = PostgresSessionMemory(url, table=f"t_fault_s_{tag}", **opts)
    checkpoints = PostgresCheckpointStore(url, table=f"t_fault_c_{tag}", **opts)
    try:
        await sessions.add_message("s", {"role": "user", "content": "before"}, user_id="u")
        await checkpoints.save("r", {"step": 1}, user_id="u")
        calls = [
            lambda: sessions.add_message("s", {"role": "user", "content": "x"}, user_id="u"),
            lambda: sessions.get_messages("s", user_id="u"),
            lambda: sessions.list_sessions(user_id="u"),
            lambda: sessions.clear_all(user_id="u"),
            lambda: checkpoints.save("r", {"step": 2}, user_id="u"),
            lambda: checkpoints.load("r", user_id="u"),
            lambda: checkpoints.delete_user("u"),
        ]
        await proxy.stop()  # the server goes away
        for call in calls:
            await _fails_fast(call, proxy.port)
        await proxy.start()  # back: no restart needed
        assert [m.content for m in await sessions.get_messages("s", user_id="u")] == ["before"]
        assert (await checkpoints.load("r", user_id="u")).state == {"step": 1}  # type: ignore[union-attr]
        proxy.silent = True  # a silent network: connections open, no answers
        for call in calls[:2] + calls[4:6]:
            await _fails_fast(call, proxy.port)
        proxy.silent = False
        await sessions.add_message("s", {"role": "user", "content": "after"}, user_id="u")
        assert [m.content for m in await sessions.get_messages("s", user_id="u")] == [
            "before",
            "after",
        ]
        assert len(await checkpoints.list(user_id="u")) == 1
    finally:
        proxy.silent = False
        await sessions.close()
        await checkpoints.close()
        await drop_plain_tables(f"t_fault_s_{tag}", f"t_fault_s_{tag}_messages", f"t_fault_c_{tag}")


async def test_a_retried_append_or_save_stores_nothing_twice(session_store: Any) -> None:
    msgs = [
        {"role": "user", "content": "hello", "id": "m-1"},
        {"role": "assistant", "content": "hi", "id": "m-2"},
    ]
    await session_store.add_messages("s", msgs, user_id="u")
    if session_store.name in ("postgres", "sqlite"):  # SQL stores: appends idempotent per id
        await session_store.add_messages("s", msgs, user_id="u")  # a retry
        await session_store.add_messages("s", msgs[1:], user_id="u")
        assert [m.id for m in await session_store.get_messages("s")] == ["m-1", "m-2"]


def test_an_error_while_committing_says_the_write_may_have_been_applied() -> None:
    from mnemoplug.providers.postgres.errors import PostgresErrors

    errors = PostgresErrors(name="postgres", url="u", connect_timeout=1, command_timeout=2)
    assert "may have been applied" in str(errors.unavailable(OSError("x"), committing=True))
    assert "not committed" in str(errors.unavailable(OSError("x")))
