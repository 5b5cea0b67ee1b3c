"""The answer inside a web framework's response object (Starlette/FastAPI ``Response``), for
``@agent_endpoint``: a JSON or text body is read; a streamed body is read as it is sent."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ._answers import FieldSpec, answer_text

__all__ = ["is_response", "is_streaming", "response_answer", "tee_stream"]


def is_response(value: Any) -> bool:
    """True for a Starlette (FastAPI) ``Response`` (Starlette is not imported for this)."""
    mod = sys.modules.get("starlette.responses")
    return mod is not None and isinstance(value, mod.Response)


def is_streaming(value: Any) -> bool:
    """True for a response whose body is sent in chunks (``StreamingResponse``)."""
    return is_response(value) and hasattr(value, "body_iterator")


def _chunk_bytes(chunk: Any, charset: str) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode(charset)
    return bytes(chunk)


def body_answer(body: bytes, media_type: str | None, charset: str, field: FieldSpec) -> str:
    """The answer in a response body: JSON by its answer field, text as it is, SSE events by
    their ``data:`` lines, anything else ('' for binary)."""
    try:
        text = body.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        return ""
    media = (media_type or "").split(";")[0].strip().lower()
    if media == "text/event-stream":
        datas = [
            line[5:].removeprefix(" ")
            for line in text.splitlines()
            if line.startswith("data:") and line[5:].strip() != "[DONE]"
        ]
        return "".join(datas)
    if media.endswith("json") or (not media and text.lstrip()[:1] in ("{", "[")):
        try:
            return answer_text(json.loads(text), field)
        except ValueError:
            return text
    if media.startswith("text/") or not media:
        return text
    return ""


def response_answer(response: Any, field: FieldSpec) -> str:
    """The answer in a non-streamed response's body."""
    body = getattr(response, "body", b"")
    if not isinstance(body, bytes | bytearray | memoryview):
        return ""
    return body_answer(bytes(body), response.media_type, response.charset, field)


def tee_stream(response: Any, field: FieldSpec, done: Callable[[str], Awaitable[None]]) -> None:
    """Pass the response's chunks through unchanged and, once the whole body has been sent,
    call ``done(answer)``. A stream the client abandons (or that fails) calls nothing."""
    source = response.body_iterator
    charset = response.charset

    async def chunks() -> AsyncIterator[Any]:
        seen: list[bytes] = []
        async for chunk in source:
            seen.append(_chunk_bytes(chunk, charset))
            yield chunk
        await done(body_answer(b"".join(seen), response.media_type, charset, field))

    response.body_iterator = chunks()
