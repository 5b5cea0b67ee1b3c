"""``mnemoplug mcp``: a Model Context Protocol server over any mnemoplug Memory URL.

* stdio (for a host that starts the server itself): ``mnemoplug mcp --db URL --user USER
  [--tenant T]`` serves that one user;
* streamable HTTP: ``mnemoplug mcp --http [--host 127.0.0.1] [--port 8765] --tokens FILE``
  serves each request as the user its bearer token maps to (:mod:`mnemoplug.auth`); a request
  without a known token gets 401.

Tools: ``add``, ``search``, ``list``, ``get``, ``update``, ``delete``, ``delete_all``,
``forget``. Resources: ``memory://memories`` and ``memory://memories/{memory_id}``. Prompt:
``inject_memories`` (the injection strategies). Needs ``pip install "mnemoplug[mcp]"``.
"""

from __future__ import annotations

from .http import create_mcp_http_app
from .server import PRINCIPAL_SCOPE_KEY, create_mcp_server
from .stdio import run_stdio

__all__ = ["PRINCIPAL_SCOPE_KEY", "create_mcp_http_app", "create_mcp_server", "run_stdio"]
