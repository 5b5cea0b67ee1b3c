"""Text of PydanticAI prompts, messages and outputs: what the capability searches and stores
and what the conversation store keeps as readable session content."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..core.errors import MissingDependencyError

try:
    from pydantic_ai import messages as _messages
except ImportError as _exc:  # pragma: no cover - exercised by a subprocess test
    raise MissingDependencyError(
        "mnemoplug.adapters.pydantic_ai", "pydantic-ai", "pydantic-ai-slim"
    ) from _exc

__all__ = ["last_user_text", "message_role", "message_text", "output_text", "prompt_text"]


def prompt_text(prompt: str | Sequence[Any] | None) -> str:
    """The text of a PydanticAI user prompt (a string, or the text items of a content list)."""
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    parts: list[str] = []
    for item in prompt:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, _messages.TextContent):
            parts.append(item.content)
    return "\n".join(p for p in parts if p)


def last_user_text(messages: Sequence[_messages.ModelMessage]) -> str:
    for msg in reversed(messages):
        if isinstance(msg, _messages.ModelRequest):
            for part in reversed(msg.parts):
                if isinstance(part, _messages.UserPromptPart):
                    text = prompt_text(part.content)
                    if text:
                        return text
    return ""


def output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    dump = getattr(output, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    try:
        return json.dumps(output, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(output)


def message_role(message: _messages.ModelMessage) -> str:
    if isinstance(message, _messages.ModelResponse):
        return "assistant"
    kinds = {type(p) for p in message.parts}
    if _messages.UserPromptPart in kinds:
        return "user"
    if kinds and kinds <= {_messages.ToolReturnPart, _messages.RetryPromptPart}:
        return "tool"
    if kinds and kinds <= {_messages.SystemPromptPart}:
        return "system"
    return "user"


def message_text(message: _messages.ModelMessage) -> str:
    """Readable text of a PydanticAI message (what session search and summaries see)."""
    out: list[str] = []
    for part in message.parts:
        if isinstance(part, _messages.UserPromptPart):
            out.append(prompt_text(part.content))
        elif isinstance(part, _messages.SystemPromptPart | _messages.TextPart):
            out.append(part.content)
        elif isinstance(part, _messages.ToolCallPart):
            out.append(f"[tool call {part.tool_name}({part.args_as_json_str()})]")
        elif isinstance(part, _messages.ToolReturnPart):
            out.append(f"[tool {part.tool_name} returned {part.model_response_str()}]")
        elif isinstance(part, _messages.RetryPromptPart):
            out.append(f"[retry: {part.model_response()}]")
    text = "\n".join(t for t in out if t and t.strip())
    return text or f"[{message.kind}]"
