"""The MCP server: a Memory's operations as MCP tools, a user's memories as resources, the
injection strategies as a prompt.

Every tool acts on one user: the fixed principal of a stdio server (``--user``/``--tenant``),
or, over HTTP, the principal of the request's bearer token (put in the ASGI scope by
:mod:`mnemoplug.mcp.http`). Tools take no user argument, so a model cannot reach another user.
"""

# no ``from __future__ import annotations``: the SDK reads the tools' annotations at run time,
# and they name types imported inside create_mcp_server

import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field

from ..auth import Principal
from ..core.errors import MnemoplugError
from ..core.records import MemoryRecord
from ..core.strategies import inject_memory
from ._sdk import require_mcp

__all__ = ["PRINCIPAL_SCOPE_KEY", "MemoryOut", "create_mcp_server", "current_principal"]

#: where the HTTP transport's authentication puts the request's :class:`Principal`
PRINCIPAL_SCOPE_KEY = "mnemoplug.principal"

INSTRUCTIONS = (
    "Long-term memory about the current user. Call `search` with the user's message before "
    "answering to recall what you know; call `add` to remember a durable fact or preference "
    "the user stated (one fact per call); `update` or `delete` a memory that is wrong. "
    "`forget` erases everything about the user: call it only when the user asks for that."
)

_T = TypeVar("_T")

#: the principal of the HTTP request being served (set by the authentication middleware);
#: static resources get no request context, so they read it from here
current_principal: ContextVar[Principal | None] = ContextVar("mnemoplug_principal", default=None)

MemoryId = Annotated[str, Field(description="The id of a memory (from search, list or add).")]
AgentId = Annotated[str | None, Field(description="Only memories of this agent (optional scope).")]
SessionId = Annotated[
    str | None, Field(description="Only memories of this session (optional scope).")
]
Filters = Annotated[
    dict[str, Any] | None,
    Field(
        description=(
            'Metadata filter, e.g. {"category": "preferences"} or '
            '{"priority": {"$gte": 2}}; operators $eq $ne $gt $gte $lt $lte $in $nin $exists.'
        )
    ),
]
Metadata = Annotated[
    dict[str, Any] | None,
    Field(description='JSON metadata stored with the memory, e.g. {"category": "health"}.'),
]


class MemoryOut(BaseModel):
    """One memory as the tools return it."""

    id: str
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    agent_id: str | None = None
    session_id: str | None = None
    role: str | None = None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    score: float | None = Field(
        default=None, description="Search rank score in [0, 1] (search results only)."
    )
    similarity: float | None = Field(
        default=None, description="Cosine similarity to the query (search results only)."
    )

    @classmethod
    def of(cls, record: MemoryRecord) -> "MemoryOut":
        data = record.model_dump(exclude={"user_id", "tenant_id"})
        return cls(**data)


class Memories(BaseModel):
    memories: list[MemoryOut]


class Added(BaseModel):
    id: str = Field(description="The new memory's id.")


class Deleted(BaseModel):
    deleted: int = Field(description="How many memories were deleted.")


class Forgotten(BaseModel):
    memories: int
    sessions: int
    checkpoints: int
    audit_entries: int


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def create_mcp_server(
    memory: Any, principal: Principal | None = None, *, name: str = "mnemoplug"
) -> Any:
    """An ``mcp`` ``MCPServer`` over ``memory`` (a :class:`~mnemoplug.Memory`).

    ``principal``: the one user a stdio server serves; None for HTTP, where each request's
    principal comes from its bearer token. The caller opens and closes ``memory``.
    """
    require_mcp()
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
    from mcp_types import ToolAnnotations

    def who(ctx: Any) -> Principal:
        if principal is not None:
            return principal
        request = getattr(ctx.request_context, "request", None)
        scope = getattr(request, "scope", None) or {}
        found = scope.get(PRINCIPAL_SCOPE_KEY)
        if not isinstance(found, Principal):
            raise ToolError("not authenticated: send Authorization: Bearer <token>")
        if found.is_admin:
            raise ToolError(
                "this token is an administrator token ('*' user); the MCP server needs a "
                "token mapped to one user"
            )
        return found

    def reader() -> Principal:
        """The principal of a resource read (resources get no request context)."""
        found = principal or current_principal.get()
        if found is None:
            raise ResourceError("not authenticated: send Authorization: Bearer <token>")
        if found.is_admin and principal is None:
            raise ResourceError("an administrator token has no memories; use a user's token")
        return found

    async def call(ctx: Any, op: Callable[[Principal], Awaitable[_T]]) -> _T:
        p = who(ctx)
        try:
            return await op(p)
        except MnemoplugError as exc:
            raise ToolError(str(exc)) from exc

    server: MCPServer[Any] = MCPServer(
        name,
        title="mnemoplug memory",
        instructions=INSTRUCTIONS,
        version=_version(),
        log_level="WARNING",
    )

    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
    destroys = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)

    @server.tool(name="add", annotations=writes)
    async def add(
        ctx: Context,
        content: Annotated[
            str,
            Field(
                description="The fact to remember, as one self-contained sentence.", min_length=1
            ),
        ],
        metadata: Metadata = None,
        agent_id: AgentId = None,
        session_id: SessionId = None,
        ttl_seconds: Annotated[
            float | None,
            Field(description="Forget the memory after this many seconds (optional).", gt=0),
        ] = None,
    ) -> Added:
        """Remember a fact about the user. Returns the new memory's id."""

        async def op(p: Principal) -> Added:
            new_id = await memory.add(
                p.user_id,
                content,
                metadata,
                tenant_id=p.tenant_id,
                agent_id=agent_id,
                session_id=session_id,
                ttl=ttl_seconds,
            )
            return Added(id=new_id)

        return await call(ctx, op)

    @server.tool(name="search", annotations=read_only)
    async def search(
        ctx: Context,
        query: Annotated[
            str, Field(description="What to look for, in natural language.", min_length=1)
        ],
        limit: Annotated[int, Field(description="Most results to return.", ge=1, le=100)] = 5,
        filters: Filters = None,
        min_relevance: Annotated[
            float | None,
            Field(description="Drop results whose similarity is below this (0..1).", ge=0, le=1),
        ] = None,
        agent_id: AgentId = None,
        session_id: SessionId = None,
    ) -> Memories:
        """Find the user's memories most relevant to a query, best first, with scores."""

        async def op(p: Principal) -> Memories:
            hits = await memory.search(
                p.user_id,
                query,
                limit,
                filters,
                tenant_id=p.tenant_id,
                agent_id=agent_id,
                session_id=session_id,
                min_relevance=min_relevance,
            )
            return Memories(memories=[MemoryOut.of(h) for h in hits])

        return await call(ctx, op)

    @server.tool(name="list", annotations=read_only)
    async def list_(
        ctx: Context,
        limit: Annotated[int, Field(description="Most memories to return.", ge=1, le=1000)] = 20,
        offset: Annotated[int, Field(description="Skip this many (for paging).", ge=0)] = 0,
        filters: Filters = None,
        agent_id: AgentId = None,
        session_id: SessionId = None,
    ) -> Memories:
        """List the user's memories, newest first."""

        async def op(p: Principal) -> Memories:
            records = await memory.get_all(
                p.user_id,
                limit,
                filters,
                offset=offset,
                tenant_id=p.tenant_id,
                agent_id=agent_id,
                session_id=session_id,
            )
            return Memories(memories=[MemoryOut.of(r) for r in records])

        return await call(ctx, op)

    @server.tool(name="get", annotations=read_only)
    async def get(ctx: Context, memory_id: MemoryId) -> MemoryOut:
        """Read one memory by id."""

        async def op(p: Principal) -> MemoryOut:
            record = await memory.get(p.user_id, memory_id, tenant_id=p.tenant_id)
            if record is None:
                raise ToolError(f"no memory {memory_id!r}: use search or list to find ids")
            return MemoryOut.of(record)

        return await call(ctx, op)

    @server.tool(name="update", annotations=writes)
    async def update(
        ctx: Context,
        memory_id: MemoryId,
        content: Annotated[
            str | None, Field(description="The corrected text (re-indexed for search).")
        ] = None,
        metadata: Annotated[
            dict[str, Any] | None,
            Field(description="New metadata; replaces the old metadata entirely."),
        ] = None,
    ) -> MemoryOut:
        """Correct a memory's text and/or replace its metadata. Returns the updated memory."""

        async def op(p: Principal) -> MemoryOut:
            record = await memory.update(
                p.user_id, memory_id, content, metadata, tenant_id=p.tenant_id
            )
            return MemoryOut.of(record)

        return await call(ctx, op)

    @server.tool(name="delete", annotations=destroys)
    async def delete(ctx: Context, memory_id: MemoryId) -> Deleted:
        """Delete one memory by id (0 deleted when there is no such memory)."""

        async def op(p: Principal) -> Deleted:
            ok = await memory.delete(p.user_id, memory_id, tenant_id=p.tenant_id)
            return Deleted(deleted=int(ok))

        return await call(ctx, op)

    @server.tool(name="delete_all", annotations=destroys)
    async def delete_all(
        ctx: Context, agent_id: AgentId = None, session_id: SessionId = None
    ) -> Deleted:
        """Delete all the user's long-term memories (or only one agent's or session's)."""

        async def op(p: Principal) -> Deleted:
            n = await memory.delete_all(
                p.user_id, tenant_id=p.tenant_id, agent_id=agent_id, session_id=session_id
            )
            return Deleted(deleted=n)

        return await call(ctx, op)

    @server.tool(name="forget", annotations=destroys)
    async def forget(ctx: Context) -> Forgotten:
        """Erase everything stored about the user: memories, sessions, checkpoints and audit
        entries. Irreversible; only when the user asks to be forgotten."""

        async def op(p: Principal) -> Forgotten:
            counts = await memory.forget(p.user_id, tenant_id=p.tenant_id)
            return Forgotten(**counts)

        return await call(ctx, op)

    @server.resource(
        "memory://memories",
        name="memories",
        title="The user's memories",
        description="The user's 100 newest memories, as JSON.",
        mime_type="application/json",
    )
    async def memories_resource() -> str:
        p = reader()
        records = await memory.get_all(p.user_id, 100, tenant_id=p.tenant_id)
        return _json([MemoryOut.of(r).model_dump(mode="json") for r in records])

    @server.resource(
        "memory://memories/{memory_id}",
        name="memory",
        title="One memory",
        description="One of the user's memories by id, as JSON.",
        mime_type="application/json",
    )
    async def memory_resource(memory_id: str) -> str:
        p = reader()
        try:
            record = await memory.get(p.user_id, memory_id, tenant_id=p.tenant_id)
        except MnemoplugError as exc:
            raise ResourceError(str(exc)) from exc
        if record is None:
            raise ResourceNotFoundError(f"no memory {memory_id!r}")
        return _json(MemoryOut.of(record).model_dump(mode="json"))

    @server.prompt(
        name="inject_memories",
        title="Memories for this conversation",
        description=(
            "The user's memories rendered as prompt text by an injection strategy: 'relevant' "
            "(best matches for the query), 'recent' (newest) or 'all'."
        ),
    )
    async def inject_memories(
        ctx: Context,
        strategy: Literal["relevant", "recent", "all"] = "relevant",
        query: str = "",
        max_memories: str = "5",
    ) -> str:
        async def op(p: Principal) -> str:
            try:
                most = int(max_memories)
            except ValueError:
                raise ToolError(
                    f"max_memories must be a whole number, got {max_memories!r}"
                ) from None
            chosen = inject_memory(strategy, max_memories=most)
            selected = await chosen.select(
                memory, user_id=p.user_id, query=query or None, tenant_id=p.tenant_id
            )
            return chosen.render(selected) or "(no memories about the user yet)"

        return await call(ctx, op)

    return server


def _version() -> str:
    from .. import __version__

    return __version__
