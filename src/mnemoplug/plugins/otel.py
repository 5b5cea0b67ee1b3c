"""OpenTelemetry tracing: one span per memory operation, with ``embed`` / ``store`` children.

``Memory(plugins=[MemoryTracing()])`` traces through the global tracer provider (whatever
exporter the application configured); ``MemoryTracing(tracer_provider=provider)`` uses a given
one. Only the OpenTelemetry *API* is needed (extra ``otel``).

Spans follow the OpenTelemetry GenAI memory conventions (``semantic-conventions-genai``,
development stability): span kind CLIENT, name ``"{gen_ai.operation.name} {provider}"``.

==========================================================  ========================
mnemoplug operation                                         ``gen_ai.operation.name``
==========================================================  ========================
``add``                                                     ``create_memory``
``search``, ``get``, ``get_all``, ``count``, ``list_users``  ``search_memory``
``update``                                                  ``update_memory``
``delete``, ``delete_all``, ``forget``, ``purge_expired``   ``delete_memory``
==========================================================  ========================

(The convention has no separate read-by-id operation; ``search_memory`` is its read operation.
``mnemoplug.operation`` keeps the exact method name.)

Attributes: ``gen_ai.operation.name``, ``gen_ai.provider.name`` (the store's short name),
``mnemoplug.operation``, ``gen_ai.memory.record.count`` (the operation's result count),
``enduser.id``, ``mnemoplug.tenant.id``, ``gen_ai.agent.id``, ``gen_ai.conversation.id``
(session) and, on failure, ``error.type`` plus status ERROR and an exception event. Never the
content of a memory or a search query (the convention's opt-in ``gen_ai.memory.query.text`` /
``gen_ai.memory.records`` are not emitted).

The operation span is a child of the span current when the operation is called. It is not made
current itself; the ``embed`` and ``store`` child spans (kind INTERNAL) are created from the
timings the operation recorded, with their real start and end times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.errors import MissingDependencyError
from ..core.hookspecs import hookimpl

if TYPE_CHECKING:
    from ..core.instrumentation import OperationContext

__all__ = ["OPERATION_NAMES", "MemoryTracing"]

#: mnemoplug operation -> ``gen_ai.operation.name``
OPERATION_NAMES: dict[str, str] = {
    "add": "create_memory",
    "search": "search_memory",
    "get": "search_memory",
    "get_all": "search_memory",
    "count": "search_memory",
    "list_users": "search_memory",
    "update": "update_memory",
    "delete": "delete_memory",
    "delete_all": "delete_memory",
    "forget": "delete_memory",
    "purge_expired": "delete_memory",
}

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_MEMORY_RECORD_COUNT = "gen_ai.memory.record.count"
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
ENDUSER_ID = "enduser.id"
ERROR_TYPE = "error.type"
MNEMOPLUG_OPERATION = "mnemoplug.operation"
MNEMOPLUG_TENANT_ID = "mnemoplug.tenant.id"

_STATE_KEY = "mnemoplug.otel.span"


class MemoryTracing:
    """Plugin: an OpenTelemetry span per memory operation (see the module docs).

    Args:
        tracer_provider: the ``TracerProvider`` to use; default the global one.
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        try:
            from opentelemetry import trace
        except ImportError as exc:
            raise MissingDependencyError("memory tracing", "otel", "opentelemetry-api") from exc
        self._trace = trace
        self.tracer = trace.get_tracer("mnemoplug", tracer_provider=tracer_provider)

    @hookimpl
    def on_operation_start(self, ctx: OperationContext) -> None:
        name = OPERATION_NAMES.get(ctx.operation, ctx.operation)
        attributes: dict[str, str] = {
            GEN_AI_OPERATION_NAME: name,
            MNEMOPLUG_OPERATION: ctx.operation,
        }
        if ctx.provider:
            attributes[GEN_AI_PROVIDER_NAME] = ctx.provider
        scope = ctx.scope
        for key, value in (
            (ENDUSER_ID, scope.user_id),
            (MNEMOPLUG_TENANT_ID, scope.tenant_id),
            (GEN_AI_AGENT_ID, scope.agent_id),
            (GEN_AI_CONVERSATION_ID, scope.session_id),
        ):
            if value:
                attributes[key] = value
        span = self.tracer.start_span(
            f"{name} {ctx.provider}" if ctx.provider else name,
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=ctx.started_ns or None,
        )
        ctx.state[_STATE_KEY] = span

    @hookimpl
    def on_operation_end(self, ctx: OperationContext) -> None:
        span = ctx.state.pop(_STATE_KEY, None)
        if span is None:  # on_operation_start did not run or failed
            return
        trace = self._trace
        parent = trace.set_span_in_context(span)
        for phase_name, phase_start, phase_end in ctx.phases:
            child = self.tracer.start_span(
                phase_name, context=parent, kind=trace.SpanKind.INTERNAL, start_time=phase_start
            )
            child.end(end_time=phase_end)
        if ctx.result_count is not None:
            span.set_attribute(GEN_AI_MEMORY_RECORD_COUNT, ctx.result_count)
        error = ctx.error
        if error is not None:
            span.set_attribute(ERROR_TYPE, type(error).__qualname__)
            span.record_exception(error, escaped=True)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__qualname__))
        end_ns: int | None = None
        if ctx.started_ns:  # the wall-clock start plus the measured duration, never before a phase
            end_ns = max([ctx.started_ns + int(ctx.duration_ms * 1e6), *(p[2] for p in ctx.phases)])
        span.end(end_time=end_ns)
