"""The stored text of an agent's answer, the same in every adapter: a string as it is; a
structured answer (a pydantic model, dataclass or dict) by its answer field, else as JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ANSWER_KEYS", "answer_text", "field_of"]

#: the fields tried, in order, when no ``answer_field`` is given
ANSWER_KEYS = ("answer", "response", "reply", "output", "content", "text", "message")

FieldSpec = str | Callable[[Mapping[str, Any]], Any] | None


def field_of(value: Any, name: str) -> Any:
    """``value[name]`` of a mapping, else the (non-callable) attribute ``name``, else None."""
    if isinstance(value, Mapping):
        return value.get(name)
    if value is None or isinstance(value, str | bytes | int | float | bool):
        return None
    found = getattr(value, name, None)
    return None if callable(found) else found


def _json(value: Any) -> str:
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def answer_text(value: Any, answer_field: FieldSpec = None) -> str:
    """The text to store for an answer ``value`` ('' for None).

    ``answer_field`` names the field holding the answer (or is ``f({"return": value})``);
    without one, the first string field among :data:`ANSWER_KEYS`, else the JSON of the value.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if answer_field is not None:
        found = (
            answer_field({"return": value})
            if callable(answer_field)
            else field_of(value, answer_field)
        )
        if found is None:
            return ""
        return found if isinstance(found, str) else _json(found)
    for key in ANSWER_KEYS:
        found = field_of(value, key)
        if isinstance(found, str):
            return found
    return _json(value)
