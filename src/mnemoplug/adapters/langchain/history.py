"""``MnemoplugChatMessageHistory``: a LangChain ``BaseChatMessageHistory`` over mnemoplug
session memory (:class:`~mnemoplug.core.session.SessionMemory`).

Each LangChain message becomes one session :class:`~mnemoplug.core.session.Message`: ``role``
from the message type through :mod:`mnemoplug.core.roles` (human → user, ai → assistant,
system, tool, function → tool; message chunks and a ``ChatMessage``'s role alike; anything else
→ user), ``content`` its text, and the full LangChain dump (``message_to_dict``) in
``metadata["lc_message"]`` so tool calls, content blocks and ids round-trip. A message with no text (an AI tool-call turn) is stored with
a short placeholder content. Messages written by other code (no ``lc_message``) come back as
plain Human/AI/System/Tool messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
    messages_from_dict,
)

from ...core.errors import ConfigurationError
from ...core.roles import normalise_role
from ...core.sync import SyncMemory
from ._runner import MemoryRunner

__all__ = ["MnemoplugChatMessageHistory"]


def _resolve_session(target: Any) -> Any:
    if isinstance(target, SyncMemory):
        target = target.memory
    if hasattr(target, "get_messages") and hasattr(target, "add_messages"):
        return target
    session = getattr(target, "session", None)
    if session is None:
        raise ConfigurationError(
            "MnemoplugChatMessageHistory needs session memory: pass a SessionMemory (e.g. "
            "session_memory_from_url('sqlite:///sessions.db')) or a Memory built with session=..."
        )
    return session


def _role(message: BaseMessage) -> str:
    """The session role of a LangChain message: its type (human, ai, system, tool, function;
    chunks too) or a ``ChatMessage``'s own role, through mnemoplug's role aliases; else user."""
    kind = message.type
    if kind.endswith("MessageChunk"):  # "AIMessageChunk" -> "AI"
        kind = kind[: -len("MessageChunk")]
    role = normalise_role(kind) or normalise_role(getattr(message, "role", None))
    return role or "user"


def _to_session(message: BaseMessage) -> dict[str, Any]:
    role = _role(message)
    text = message.text.strip()
    if not text:
        calls = getattr(message, "tool_calls", None) or []
        names = ", ".join(c.get("name", "?") for c in calls)
        text = f"[tool call: {names}]" if names else f"[{message.type} message]"
    data: dict[str, Any] = {
        "role": role,
        "content": text,
        "metadata": {"lc_message": message_to_dict(message)},
    }
    if message.id:
        data["id"] = message.id
    return data


def _from_session(m: Any) -> BaseMessage:
    dumped = (m.metadata or {}).get("lc_message")
    if isinstance(dumped, dict):
        return messages_from_dict([dumped])[0]
    if m.role == "user":
        return HumanMessage(content=m.content, id=m.id)
    if m.role == "assistant":
        return AIMessage(content=m.content, id=m.id)
    if m.role == "system":
        return SystemMessage(content=m.content, id=m.id)
    call_id = str(m.metadata.get("tool_call_id", ""))
    return ToolMessage(content=m.content, id=m.id, tool_call_id=call_id)


class MnemoplugChatMessageHistory(BaseChatMessageHistory):
    """One conversation (``session_id``) kept in mnemoplug session memory.

    ``MnemoplugChatMessageHistory(session_store, session_id="c1", user_id="u1")``; with
    ``user_id`` the session belongs to that user (another user's session reads as empty and
    cannot be written). Works with ``RunnableWithMessageHistory`` and anything else taking a
    ``BaseChatMessageHistory``; sync methods run on a portal thread, async ones on the caller's
    loop (or on a SyncMemory's portal when given one).
    """

    def __init__(
        self,
        session: Any,
        session_id: str,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
        limit: int | None = None,
    ) -> None:
        self._runner = MemoryRunner(session, any_object=True)
        self.session = _resolve_session(session)
        if not isinstance(session, SyncMemory):
            self._runner.memory = self.session
        self.session_id = session_id
        self.user_id = user_id
        self.tenant_id = tenant_id
        self.limit = limit

    def _owner(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "tenant_id": self.tenant_id}

    async def _get(self) -> list[BaseMessage]:
        msgs = await self.session.get_messages(self.session_id, self.limit, **self._owner())
        return [_from_session(m) for m in msgs]

    async def _add(self, messages: Sequence[BaseMessage]) -> None:
        if messages:
            await self.session.add_messages(
                self.session_id, [_to_session(m) for m in messages], **self._owner()
            )

    async def _clear(self) -> None:
        await self.session.clear(self.session_id, **self._owner())

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The conversation, oldest first (the last ``limit`` when set)."""
        return self._runner.run(self._get())

    async def aget_messages(self) -> list[BaseMessage]:
        """Async :attr:`messages`."""
        return await self._runner.arun(self._get())

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages atomically (hooks may reject the whole write)."""
        self._runner.run(self._add(list(messages)))

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async :meth:`add_messages`."""
        await self._runner.arun(self._add(list(messages)))

    def clear(self) -> None:
        """Delete the conversation."""
        self._runner.run(self._clear())

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await self._runner.arun(self._clear())
