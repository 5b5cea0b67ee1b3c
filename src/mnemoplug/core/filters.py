"""Metadata filters: a small, Mongo-like language, validated once and compiled to a predicate.

Grammar::

    filters  := {field: value | {op: operand, ...}, ..., "$and": [filters], "$or": [filters]}
    op       := $eq $ne $in $nin $gt $gte $lt $lte $exists $contains

* A field is a metadata key (``"topic"``, dotted for nesting: ``"source.app"``, or spelled
  ``"metadata.topic"``) or one of the record fields ``category`` (= ``metadata["category"]``),
  ``role``, ``speaker``, ``agent_id``, ``session_id``, ``created_at``, ``updated_at``,
  ``expires_at``, ``occurred_at``.
* Equality on a list-valued field matches when the list contains the value (so
  ``{"category": "work"}`` matches ``metadata={"category": ["work", "travel"]}``).
* ``$gt/$gte/$lt/$lte`` take numbers or timestamps (``datetime`` or ISO-8601 strings); metadata
  values stored as ISO strings compare as times.
* Several fields, or several operators on one field, must all match.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ._time import to_ts
from .errors import InvalidFilterError
from .records import StoredMemory
from .validation import check_json_value

__all__ = ["OPERATORS", "Filter", "compile_filters"]

OPERATORS = ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$contains")
_TIME_FIELDS = {"created_at", "updated_at", "expires_at", "occurred_at"}
_RECORD_FIELDS = {"role", "speaker", "agent_id", "session_id"} | _TIME_FIELDS
_MISSING = object()
#: deepest nesting of ``$and``/``$or``
MAX_FILTER_DEPTH = 16

Predicate = Callable[[StoredMemory], bool]


def _getter(field: str) -> Callable[[StoredMemory], Any]:
    if field == "occurred_at":
        return lambda m: m.when
    if field in _RECORD_FIELDS:
        return lambda m: getattr(m, field)
    path = field.removeprefix("metadata.").split(".")
    if field == "category":
        path = ["category"]

    def get(m: StoredMemory) -> Any:
        cur: Any = m.metadata
        for part in path:
            if not isinstance(cur, Mapping) or part not in cur:
                return _MISSING
            cur = cur[part]
        return cur

    return get


def _as_number(value: Any, *, time_mode: bool) -> float | None:
    if isinstance(value, bool) or value is None or value is _MISSING:
        return None
    if isinstance(value, int | float) and not time_mode:
        return float(value)
    if time_mode:
        try:
            return round(to_ts(value), 6)
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def _same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (Python's ``True == 1`` would say it is)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def _eq(actual: Any, expected: Any) -> bool:
    if actual is _MISSING:
        return False
    if isinstance(actual, list) and not isinstance(expected, list):
        return any(_same(a, expected) for a in actual)
    return _same(actual, expected)


def _time_operand(field: str, op: str, value: Any) -> Any:
    """Times given to equality on ``created_at``/``updated_at``/``expires_at``/``occurred_at`` as epoch
    seconds (how they are stored); None stays None (``expires_at`` of a memory that never
    expires)."""
    if value is None:
        return None
    try:
        return round(to_ts(value), 6)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidFilterError(
            f"filter {field!r}: {op} takes a datetime, epoch seconds or ISO-8601 string, got "
            f"{value!r}"
        ) from exc


def _check_operand(field: str, op: str, operand: Any) -> None:
    """Operands are JSON values (or datetimes, or sets for $in/$nin) within the metadata
    limits, so matching can neither overflow nor recurse without end."""
    if isinstance(operand, datetime):
        return
    if isinstance(operand, set | frozenset):
        operand = list(operand)
    if isinstance(operand, list | tuple):
        for i, v in enumerate(operand):
            if not isinstance(v, datetime):
                check_json_value(
                    v, f"[{i}]", InvalidFilterError, what=f"filter {field!r} {op}", operand=True
                )
        return
    check_json_value(operand, "", InvalidFilterError, what=f"filter {field!r} {op}", operand=True)


def _compile_op(field: str, op: str, operand: Any) -> Predicate:
    _check_operand(field, op, operand)
    get = _getter(field)
    if field in _TIME_FIELDS and op in ("$eq", "$ne"):
        operand = _time_operand(field, op, operand)
    if field in _TIME_FIELDS and op in ("$in", "$nin") and isinstance(operand, list | tuple):
        operand = [_time_operand(field, op, v) for v in operand]
    if op == "$eq":
        return lambda m: _eq(get(m), operand)
    if op == "$ne":
        return lambda m: not _eq(get(m), operand)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list | tuple | set | frozenset):
            raise InvalidFilterError(
                f"filter {field!r}: {op} takes a list, got {type(operand).__name__}; "
                f'write {{"{field}": {{"{op}": [value1, value2]}}}}'
            )
        values = list(operand)

        def inside(m: StoredMemory) -> bool:
            actual = get(m)
            return any(_eq(actual, v) for v in values)

        return inside if op == "$in" else (lambda m: not inside(m))
    if op == "$exists":
        if not isinstance(operand, bool):
            raise InvalidFilterError(f"filter {field!r}: $exists takes true or false")
        return lambda m: (get(m) not in (_MISSING, None)) == operand
    if op == "$contains":

        def contains(m: StoredMemory) -> bool:
            actual = get(m)
            if isinstance(actual, str) and isinstance(operand, str):
                return operand in actual
            return isinstance(actual, list) and operand in actual

        return contains
    # comparisons
    is_time = isinstance(operand, datetime) or field in _TIME_FIELDS or isinstance(operand, str)
    if isinstance(operand, bool) or not isinstance(operand, int | float | datetime | str):
        raise InvalidFilterError(
            f"filter {field!r}: {op} takes a number or a timestamp (datetime or ISO-8601 "
            f"string), got {type(operand).__name__}"
        )
    try:
        bound = to_ts(operand) if is_time else float(operand)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidFilterError(
            f"filter {field!r}: {op} operand {operand!r} is neither a number nor an ISO-8601 "
            f"timestamp"
        ) from exc
    if not math.isfinite(bound):
        raise InvalidFilterError(f"filter {field!r}: {op} takes a finite number, got {operand!r}")
    cmp: Callable[[float, float], bool] = {
        "$gt": float.__gt__,
        "$gte": float.__ge__,
        "$lt": float.__lt__,
        "$lte": float.__le__,
    }[op]

    def compare(m: StoredMemory) -> bool:
        actual = _as_number(get(m), time_mode=is_time)
        return actual is not None and cmp(actual, bound)

    return compare


def _group(groups: list[list[Predicate]], *, conjunction: bool) -> Predicate:
    if conjunction:
        return lambda m: all(all(p(m) for p in ps) for ps in groups)
    return lambda m: any(all(p(m) for p in ps) for ps in groups)


def _compile(filters: Mapping[str, Any], where: str, depth: int = 0) -> list[Predicate]:
    if depth > MAX_FILTER_DEPTH:
        raise InvalidFilterError(
            f"{where}: $and/$or are nested more than {MAX_FILTER_DEPTH} levels deep; flatten "
            f"the filter"
        )
    if not isinstance(filters, Mapping):
        raise InvalidFilterError(
            f"{where} must be a dict such as {{'category': 'preferences'}}, "
            f"got {type(filters).__name__}"
        )
    preds: list[Predicate] = []
    for key, value in filters.items():
        if not isinstance(key, str) or not key:
            raise InvalidFilterError(f"{where}: field names must be non-empty strings, got {key!r}")
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise InvalidFilterError(f"{where}: {key} takes a non-empty list of filter dicts")
            groups = [_compile(v, f"{where}.{key}[{i}]", depth + 1) for i, v in enumerate(value)]
            preds.append(_group(groups, conjunction=key == "$and"))
            continue
        if key.startswith("$"):
            raise InvalidFilterError(
                f"{where}: unknown top-level operator {key!r}; use $and or $or, or a field name"
            )
        if isinstance(value, Mapping) and any(
            isinstance(k, str) and k.startswith("$") for k in value
        ):
            for op, operand in value.items():
                if op not in OPERATORS:
                    raise InvalidFilterError(
                        f"filter {key!r}: unknown operator {op!r}; supported operators are "
                        f"{', '.join(OPERATORS)}"
                    )
                preds.append(_compile_op(key, op, operand))
        else:
            preds.append(_compile_op(key, "$eq", value))
    return preds


class Filter:
    """A validated, compiled filter. ``Filter(None)`` matches everything."""

    __slots__ = ("_preds", "spec")

    def __init__(self, spec: Mapping[str, Any] | None) -> None:
        if spec is not None and not isinstance(spec, Mapping):
            raise InvalidFilterError(
                f"filters must be a dict such as {{'category': 'preferences'}} or None, "
                f"got {type(spec).__name__}"
            )
        self.spec = dict(spec) if spec else None
        self._preds = _compile(spec, "filters") if spec else []

    def __bool__(self) -> bool:
        return bool(self._preds)

    def matches(self, m: StoredMemory) -> bool:
        return all(p(m) for p in self._preds)


def compile_filters(filters: Mapping[str, Any] | Filter | None) -> Filter:
    if isinstance(filters, Filter):
        return filters
    return Filter(filters)
