"""A throw-away three-node Redis Cluster for the tests, from the local ``redis-server``.

Started once per test session on first use and stopped at interpreter exit:

* three masters (no replicas) with ``cluster-enabled yes``, no persistence
  (``--save '' --appendonly no``), on free ports of 127.0.0.1 (each port and its cluster bus
  port, +10000, checked free), their directories under a fresh ``mkdtemp`` directory;
* the slots spread by ``redis-cli --cluster create ... --cluster-yes``; ready once every node
  reports ``cluster_state:ok``.

``require_redis_cluster()`` returns the running cluster, or skips the calling test when
``redis-server``/``redis-cli`` are missing or the cluster does not come up (fails it instead when
``CI`` is set, like ``tests.conftest.require_server``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["RedisClusterServer", "require_redis_cluster"]

_lock = threading.Lock()
_cluster: RedisClusterServer | None = None
_error: str | None = None


@dataclass
class RedisClusterServer:
    """A running cluster: ``url`` of its first node (a cluster client discovers the others)."""

    ports: list[int]
    base: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def cli(self, *args: str, port: int | None = None) -> str:
        """``redis-cli`` against one node (the first by default); its stdout."""
        out = subprocess.run(
            ["redis-cli", "-p", str(port or self.ports[0]), *args],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return out.stdout.decode()

    def keyslot(self, key: str) -> int:
        return int(self.cli("CLUSTER", "KEYSLOT", key).strip())

    def node_of_slot(self, slot: int) -> int:
        """The port of the master serving ``slot``."""
        for port in self.ports:
            if self._owns(port, slot):
                return port
        raise AssertionError(f"no node serves slot {slot}")

    def _owns(self, port: int, slot: int) -> bool:
        for line in self.cli("CLUSTER", "NODES", port=port).splitlines():
            fields = line.split()
            if "myself" not in fields[2]:
                continue
            for rng in fields[8:]:
                lo, _, hi = rng.partition("-")
                if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                    return True
        return False

    def stop(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs = []
        shutil.rmtree(self.base, ignore_errors=True)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(n: int) -> list[int]:
    for _ in range(200):
        base = random.randrange(20000, 30000 - n)
        ports = list(range(base, base + n))
        if all(_free(p) and _free(p + 10000) for p in ports):
            return ports
    raise RuntimeError("no free ports for a Redis Cluster")


def _start() -> RedisClusterServer:
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        raise RuntimeError("redis-server or redis-cli is not installed")
    base = Path(tempfile.mkdtemp(prefix="mnemoplug-redis-cluster-"))
    server = RedisClusterServer(ports=_pick_ports(3), base=base)
    try:
        for port in server.ports:
            d = base / str(port)
            d.mkdir()
            log = open(d / "server.log", "wb")  # the process keeps it open
            server.procs.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(d / "nodes.conf"),
                        "--cluster-node-timeout",
                        "5000",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(d),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 20
        for port in server.ports:
            while True:
                with contextlib.suppress(subprocess.SubprocessError):
                    if server.cli("PING", port=port).strip() == "PONG":
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {port} did not start")
                time.sleep(0.05)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in server.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while not all(
            "cluster_state:ok" in server.cli("CLUSTER", "INFO", port=p) for p in server.ports
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise
    return server


def _stop() -> None:
    global _cluster
    c, _cluster = _cluster, None
    if c is not None:
        c.stop()


def require_redis_cluster() -> RedisClusterServer:
    """The session's cluster, started on the first call; skips (fails with CI set) when it
    cannot start."""
    global _cluster, _error
    with _lock:
        if _cluster is None and _error is None:
            for _ in range(3):  # free ports can be taken between the check and the bind
                try:
                    _cluster = _start()
                except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                    _error = f"a local Redis Cluster could not start: {exc}"
                    if "not installed" in str(exc):
                        break
                else:
                    _error = None
                    atexit.register(_stop)
                    break
        if _cluster is not None:
            return _cluster
    msg = _error or "no Redis Cluster"
    if os.environ.get("CI"):
        pytest.fail(msg + " (CI requires it)")
    pytest.skip(msg)
