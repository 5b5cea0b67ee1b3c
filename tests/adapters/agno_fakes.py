"""An offline, deterministic Agno model for the Agno adapter tests and example."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from agno.models.base import Model
from agno.models.response import ModelResponse


@dataclass
class FakeAgnoModel(Model):
    """Records every request's messages and answers ``reply`` (or echoes the last user text).

    ``fail=True`` makes every call raise ``RuntimeError`` (a broken provider).
    """

    id: str = "fake-model"
    name: str = "FakeAgnoModel"
    provider: str = "fake"
    reply: str | None = None
    fail: bool = False
    delay: float = 0.0  # seconds the async paths sleep before answering (lets runs interleave)
    requests: list[list[dict[str, Any]]] = field(default_factory=list)

    # -- what the tests read --------------------------------------------------------------
    @property
    def last_system(self) -> str:
        """The system message text of the latest request ('' if none)."""
        for m in self.requests[-1] if self.requests else []:
            if m["role"] == "system":
                return str(m["content"])
        return ""

    def _answer(self, messages: list[Any]) -> str:
        self.requests.append(
            [{"role": m.role, "content": m.get_content_string()} for m in messages]
        )
        if self.fail:
            raise RuntimeError("model exploded")
        if self.reply is not None:
            return self.reply
        user = [m for m in messages if m.role == "user"]
        return f"echo: {user[-1].get_content_string() if user else ''}"

    # -- the agno Model interface ---------------------------------------------------------
    def _respond(self, kwargs: dict[str, Any]) -> ModelResponse:
        messages = kwargs["messages"]
        names = {_tool_name(t) for t in kwargs.get("tools") or []}
        if "add_memory" in names and not any(m.role == "tool" for m in messages):
            # Agno's MemoryManager asks the model to call its add_memory tool: do it, with the
            # conversation's last user line (the memory task sees the conversation as text).
            self._answer(messages)
            said = messages[-1].get_content_string().strip().splitlines()[-1]
            call = {"memory": f"The user said: {said}", "topics": ["conversation"]}
            return ModelResponse(
                role="assistant",
                tool_calls=[
                    {
                        "id": f"call_{len(self.requests)}",
                        "type": "function",
                        "function": {"name": "add_memory", "arguments": json.dumps(call)},
                    }
                ],
            )
        return ModelResponse(role="assistant", content=self._answer(messages))

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._respond(kwargs)

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        await asyncio.sleep(self.delay)
        return self._respond(kwargs)

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Iterator[ModelResponse]:
        text = self._answer(kwargs["messages"])
        for part in (text[: len(text) // 2], text[len(text) // 2 :]):
            yield ModelResponse(role="assistant", content=part)

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ModelResponse]:
        await asyncio.sleep(self.delay)
        text = self._answer(kwargs["messages"])
        for part in (text[: len(text) // 2], text[len(text) // 2 :]):
            yield ModelResponse(role="assistant", content=part)

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        return response

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response


def _tool_name(tool: Any) -> str | None:
    if isinstance(tool, dict):
        return (tool.get("function") or {}).get("name") or tool.get("name")
    return getattr(tool, "name", None)
