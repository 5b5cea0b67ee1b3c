"""A tiny local HTTP server for tests: a STAND-IN for hosted memory services (Mem0, Zep).

It runs :class:`http.server.ThreadingHTTPServer` on 127.0.0.1 with an ephemeral port in a
background thread; a ``handle(method, path, query, headers, body) -> (status, json)`` callable
answers each request. It is not the real service: it implements only the requests the official
SDKs send in these tests, with an in-memory store behind them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Handler = Callable[[str, str, dict[str, str], dict[str, str], Any], tuple[int, Any]]

__all__ = ["Handler", "free_port", "serve"]


def free_port() -> int:
    """A loopback port nothing listens on (for "server down" tests)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(handle: Handler) -> Iterator[str]:
    """Serve ``handle`` on 127.0.0.1; yield the base URL ``http://127.0.0.1:<port>``."""

    class _H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: "down" means down

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _do(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, payload = handle(self.command, parts.path, query, headers, body)
            except Exception as exc:  # a bug in the stand-in: answer 500, visibly
                status, payload = 500, {"detail": f"stand-in error: {exc!r}"}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _do

    server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
