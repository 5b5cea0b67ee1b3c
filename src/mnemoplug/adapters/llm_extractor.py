"""``llm_extractor(model)``: an extractor that asks a model you already have (a PydanticAI model
or a LangChain chat model) what to remember of a turn, Mem0-style.

The model receives :data:`EXTRACTION_PROMPT` as its system prompt and, as the user message, a
JSON object with the turn and the user's most related existing memories, each memory under a
short id ("0", "1", …) rather than its real one. It must answer with JSON only::

    {"operations": [{"op": "add", "content": "..."},
                    {"op": "update", "id": "0", "content": "..."},
                    {"op": "delete", "id": "1"}]}

Parsing is strict: anything else — not JSON, another shape, an unknown ``op``, an id that was
not shown, empty content — is malformed, and the extractor falls back to storing the whole
turn (``fallback=`` changes that, e.g. ``fallback=HygieneExtractor()``). A model cannot name
another user's memory: it only ever sees, and can only address, the caller's related memories
(and ``Memory.remember`` checks every id against the caller's scope again).
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..core.errors import ConfigurationError, MissingDependencyError
from ..core.operations import MemoryOperation, NewTurn

__all__ = ["EXTRACTION_PROMPT", "llm_extractor"]

logger = logging.getLogger("mnemoplug")

EXTRACTION_PROMPT = """\
You maintain the long-term memory of an assistant about one user.
You receive JSON: "turn", the newest messages of a conversation (role and content), and
"memories", what is already remembered about the user that relates to them (id, role, content).

Decide what to remember for future conversations:
- Keep facts, preferences, plans and events the user states, as short self-contained
  sentences in the user's words. Questions, greetings and small talk are not memories.
- If a new fact only repeats a memory, do nothing.
- If it adds detail to or changes a memory, update that memory (give its id and the new content).
- If it shows that a memory is no longer true, delete that memory (give its id).
- Use only ids from "memories".

Answer with JSON only, no prose and no code fence, exactly in this form:
{"operations": [{"op": "add", "content": "..."}, {"op": "update", "id": "0", "content": "..."},
{"op": "delete", "id": "1"}]}
Answer {"operations": []} when there is nothing to remember."""

_OPS = ("add", "update", "delete", "none")


class MalformedOutput(ValueError):
    """The model's answer is not the JSON the prompt asks for."""


def llm_extractor(
    model: Any,
    *,
    prompt: str = EXTRACTION_PROMPT,
    max_memories: int = 10,
    fallback: Callable[[NewTurn], Any] | None = None,
) -> Callable[[NewTurn], Any]:
    """An async extractor driving ``model``: ``Memory(extractor=llm_extractor(model))``.

    Args:
        model: a PydanticAI model (``pydantic_ai.models.Model``, e.g. ``OpenAIChatModel(...)``
            or ``FunctionModel``) or a LangChain chat model (``BaseChatModel``).
        prompt: the system prompt (default :data:`EXTRACTION_PROMPT`).
        max_memories: at most this many related memories are shown to the model.
        fallback: the extractor used when the model's answer is malformed; by default the
            whole turn is stored.
    """
    ask = _asker(model, prompt)
    if isinstance(max_memories, bool) or not isinstance(max_memories, int) or max_memories < 0:
        raise ConfigurationError("max_memories must be a non-negative integer")

    async def extract(turn: NewTurn) -> Sequence[MemoryOperation]:
        related = turn.related[:max_memories]
        ids = {str(i): r.id for i, r in enumerate(related)}
        payload = {
            "turn": [{"role": m.role or "user", "content": m.content} for m in turn.messages],
            "memories": [
                {"id": short, "role": r.role, "content": r.content}
                for short, r in zip(ids, related, strict=True)
            ],
        }
        answer = await ask(json.dumps(payload, ensure_ascii=False))
        try:
            return parse_operations(answer, ids)
        except MalformedOutput as exc:
            logger.warning("mnemoplug: the extraction model's answer is malformed (%s)", exc)
            if fallback is not None:
                out = fallback(turn)
                return list(await out if inspect.isawaitable(out) else out)
            return [MemoryOperation.add(m.content, role=m.role) for m in turn.messages]

    extract.related_limit = max_memories  # type: ignore[attr-defined]
    return extract


def parse_operations(answer: str, ids: dict[str, str]) -> list[MemoryOperation]:
    """The operations in a model's ``answer``; ``ids`` maps the short ids shown to real ones.
    Raises MalformedOutput on anything but the documented JSON."""
    text = answer.strip()
    if text.startswith("```") and text.endswith("```"):  # one fenced block, as models do
        text = text[3:-3].removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedOutput(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("operations"), list):
        raise MalformedOutput('expected {"operations": [...]}')
    ops: list[MemoryOperation] = []
    for item in data["operations"]:
        if not isinstance(item, dict) or item.get("op") not in _OPS:
            raise MalformedOutput(f"bad operation {item!r}")
        kind = item["op"]
        content = item.get("content")
        if kind in ("add", "update") and (not isinstance(content, str) or not content.strip()):
            raise MalformedOutput(f"{kind} without content")
        new_text = content if isinstance(content, str) else ""
        if kind in ("update", "delete"):
            short = item.get("id")
            if not isinstance(short, str | int) or str(short) not in ids:
                raise MalformedOutput(f"{kind} of unknown memory id {short!r}")
            real = ids[str(short)]
            ops.append(
                MemoryOperation.update(real, new_text, reason="llm")
                if kind == "update"
                else MemoryOperation.delete(real, reason="llm")
            )
        elif kind == "add":
            ops.append(MemoryOperation.add(new_text, role="user", reason="llm"))
        else:
            ops.append(MemoryOperation.none("llm"))
    return ops


def _asker(model: Any, prompt: str) -> Callable[[str], Any]:
    kinds = {c.__module__.split(".", 1)[0] for c in type(model).__mro__}
    if "pydantic_ai" in kinds:
        return _pydantic_ai_asker(model, prompt)
    if "langchain_core" in kinds:
        return _langchain_asker(model, prompt)
    raise ConfigurationError(
        f"llm_extractor needs a PydanticAI model or a LangChain chat model, got "
        f"{type(model).__name__}"
    )


def _pydantic_ai_asker(model: Any, prompt: str) -> Callable[[str], Any]:
    try:
        from pydantic_ai import Agent
    except ImportError as exc:  # pragma: no cover - the model came from pydantic_ai
        raise MissingDependencyError("llm_extractor", "pydantic-ai", "pydantic-ai-slim") from exc
    agent: Agent[None, str] = Agent(model, instructions=prompt, output_type=str)

    async def ask(text: str) -> str:
        result = await agent.run(text)
        return str(result.output)

    return ask


def _langchain_asker(model: Any, prompt: str) -> Callable[[str], Any]:
    try:
        from langchain_core.messages import HumanMessage, SystemMessage
    except ImportError as exc:  # pragma: no cover - the model came from langchain_core
        raise MissingDependencyError("llm_extractor", "langchain", "langchain-core") from exc

    async def ask(text: str) -> str:
        reply = await model.ainvoke([SystemMessage(prompt), HumanMessage(text)])
        return str(getattr(reply, "text", None) or reply.content)

    return ask
