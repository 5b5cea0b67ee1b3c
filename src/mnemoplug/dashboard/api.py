"""The dashboard's JSON API (mounted under ``/api``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ..core.records import MemoryRecord
from ..core.session import Message, SessionInfo
from .access import Caller, Target
from .metrics_summary import summarize_metrics

__all__ = ["router"]

router = APIRouter(prefix="/api")


class Me(BaseModel):
    user_id: str = Field(description="The token's user ('*' for an administrator)")
    tenant_id: str | None
    admin: bool


class UserRef(BaseModel):
    user_id: str
    tenant_id: str | None


class Memories(BaseModel):
    memories: list[MemoryRecord]


class MemoryPatch(BaseModel):
    content: str | None = Field(default=None, description="New text (re-embedded)")
    metadata: dict[str, Any] | None = Field(default=None, description="Replaces the metadata")


class Deleted(BaseModel):
    deleted: int


class ForgetRequest(BaseModel):
    user_id: str
    tenant_id: str | None = None
    confirm: str = Field(description="Must repeat user_id: forgetting cannot be undone")


class Forgotten(BaseModel):
    memories: int
    sessions: int
    checkpoints: int
    audit_entries: int


class Sessions(BaseModel):
    configured: bool
    sessions: list[SessionInfo]


class Messages(BaseModel):
    messages: list[Message]


class Checkpoints(BaseModel):
    configured: bool
    checkpoints: list[dict[str, Any]]


class AuditEntries(BaseModel):
    configured: bool
    entries: list[dict[str, Any]]


Limit = Annotated[int, Query(ge=1, le=1000, description="Most items to return")]


@router.get("/me", response_model=Me, summary="The token's principal")
async def me(principal: Caller) -> Me:
    return Me(user_id=principal.user_id, tenant_id=principal.tenant_id, admin=principal.is_admin)


@router.get("/users", response_model=list[UserRef], summary="Users this token may open")
async def users(request: Request, principal: Caller) -> list[UserRef]:
    if not principal.is_admin:
        return [UserRef(user_id=principal.user_id, tenant_id=principal.tenant_id)]
    pairs = await request.app.state.memory.list_users()
    return [
        UserRef(user_id=user, tenant_id=tenant or None)
        for tenant, user in sorted(pairs)
        if principal.may_access(user, tenant or None)
    ]


@router.get("/memories", response_model=Memories, summary="A user's memories, newest first")
async def list_memories(
    target: Target, limit: Limit = 50, offset: int = Query(0, ge=0)
) -> Memories:
    records = await target.memory.get_all(
        target.user_id, limit, offset=offset, tenant_id=target.tenant_id
    )
    return Memories(memories=records)


@router.get("/search", response_model=Memories, summary="Search a user's memories (scored)")
async def search(
    target: Target,
    q: Annotated[str, Query(min_length=1, description="The query")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Memories:
    hits = await target.memory.search(target.user_id, q, limit, tenant_id=target.tenant_id)
    return Memories(memories=hits)


@router.get("/memories/{memory_id}", response_model=MemoryRecord, summary="One memory")
async def get_memory(target: Target, memory_id: str) -> MemoryRecord:
    record = await target.memory.get(target.user_id, memory_id, tenant_id=target.tenant_id)
    if record is None:
        raise HTTPException(404, f"no memory {memory_id!r} for this user")
    return record  # type: ignore[no-any-return]


@router.patch("/memories/{memory_id}", response_model=MemoryRecord, summary="Edit a memory")
async def update_memory(target: Target, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
    return await target.memory.update(  # type: ignore[no-any-return]
        target.user_id, memory_id, patch.content, patch.metadata, tenant_id=target.tenant_id
    )


@router.delete("/memories/{memory_id}", response_model=Deleted, summary="Delete a memory")
async def delete_memory(target: Target, memory_id: str) -> Deleted:
    if not await target.memory.delete(target.user_id, memory_id, tenant_id=target.tenant_id):
        raise HTTPException(404, f"no memory {memory_id!r} for this user")
    return Deleted(deleted=1)


@router.post("/forget", response_model=Forgotten, summary="Forget a user everywhere")
async def forget(request: Request, principal: Caller, body: ForgetRequest) -> Forgotten:
    tenant_id = body.tenant_id or None
    principal.check_access(body.user_id, tenant_id)
    if body.confirm != body.user_id:
        raise HTTPException(400, "confirm must repeat user_id: forgetting cannot be undone")
    counts = await request.app.state.memory.forget(body.user_id, tenant_id=tenant_id)
    return Forgotten(**counts)


@router.get("/sessions", response_model=Sessions, summary="A user's sessions")
async def sessions(target: Target, limit: Limit = 50) -> Sessions:
    store = target.memory.session
    if store is None:
        return Sessions(configured=False, sessions=[])
    infos = await store.list_sessions(
        user_id=target.user_id, tenant_id=target.tenant_id, limit=limit
    )
    return Sessions(configured=True, sessions=infos)


@router.get(
    "/sessions/{session_id}/messages", response_model=Messages, summary="A session's messages"
)
async def session_messages(target: Target, session_id: str, limit: Limit = 100) -> Messages:
    store = target.memory.session
    if store is None:
        return Messages(messages=[])
    got = await store.get_messages(
        session_id, limit, user_id=target.user_id, tenant_id=target.tenant_id
    )
    return Messages(messages=got)


@router.get("/checkpoints", response_model=Checkpoints, summary="A user's checkpoints")
async def checkpoints(
    target: Target, run_id: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> Checkpoints:
    store = target.memory.checkpoints
    if store is None:
        return Checkpoints(configured=False, checkpoints=[])
    found = await store.list(
        user_id=target.user_id, tenant_id=target.tenant_id, run_id=run_id, limit=limit
    )
    return Checkpoints(configured=True, checkpoints=[c.to_dict() for c in found])


@router.get("/audit", response_model=AuditEntries, summary="Recent audit entries, newest first")
async def audit(request: Request, principal: Caller, limit: Limit = 50) -> AuditEntries:
    log = request.app.state.audit
    if log is None:
        return AuditEntries(configured=False, entries=[])
    visible = []
    for entry in reversed(log.entries()):
        scope = entry.get("scope") or {}
        if principal.may_access(str(scope.get("user_id")), scope.get("tenant_id")):
            visible.append(entry)
            if len(visible) >= limit:
                break
    return AuditEntries(configured=True, entries=visible)


@router.get("/metrics", summary="Operation counts, errors and latency of this process")
async def metrics(principal: Caller) -> dict[str, Any]:
    return summarize_metrics()
