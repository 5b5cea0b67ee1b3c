"""``agent_endpoint``: memory for a plain async agent function, callable directly or from FastAPI.

::

    from pydantic import BaseModel
    from mnemoplug import Memory, inject_memory
    from mnemoplug.adapters.endpoint import AgentContext, agent_endpoint

    class ChatRequest(BaseModel):
        user_id: str
        message: str
        session_id: str | None = None

    memory = Memory("sqlite:///memory.db")

    @agent_endpoint(memory=inject_memory(provider=memory, strategy="relevant"))
    async def chat(request: ChatRequest, ctx: AgentContext) -> dict[str, str]:
        prompt = ctx.memory_text + "\\n\\n" + request.message   # what the model is told
        return {"answer": await call_llm(prompt)}

    await chat(ChatRequest(user_id="u1", message="hi"))   # called directly: ctx is supplied
    app.post("/chat")(chat)                                # or mounted on FastAPI

The decorated function takes a context parameter (annotated :class:`AgentContext`, or named
``ctx``); the wrapper supplies it, and the signature FastAPI sees omits it, so FastAPI still
validates the request body (a bad body gets 422). Before the call the wrapper reads the user id,
message and optional session id from the call's arguments: a parameter with that name
(``user_id_field="user_id"``, ``message_field="message"``, ``session_id_field="session_id"``), or
that attribute/key of an argument (the request model); selects the user's memories with the
strategy (query: the message) into ``ctx.memories`` / ``ctx.memory_text``. After the function
returns, it stores the turn (the message and the answer) unless ``ctx.store`` was set False. An
exception in the function stores nothing. Nothing here imports FastAPI: the decorator works for
any caller; mounting it needs ``mnemoplug[fastapi]``.

``path="/chat"`` lets ``chat.mount(app_or_router)`` add the route in one call (``app.post(...)``
still works); ``runnable=agent`` is handed to the function as ``ctx.runnable``. With
``durable=True`` every call is a run with a run id (from ``run_id_field``, else the
``X-Run-Id`` request header under FastAPI, else a new time-ordered one) that the function can
checkpoint (``await ctx.checkpoint(state)``) and resume after a crash (``ctx.resumed_state``); a
finished run returns its stored result instead of running again. See
:mod:`mnemoplug.adapters.durable`.
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..core.errors import ConfigurationError, MissingDependencyError, MnemoplugError
from ..core.records import MemoryRecord
from ..core.remember import store_turn
from ..core.strategies import InjectionStrategy, as_memory, inject_memory
from ._answers import answer_text
from ._checks import check_field, check_metadata_arg, check_optional_str
from ._endpoint_route import AgentEndpoint, make_mount
from ._lookup import select_memories
from ._responses import is_response, is_streaming, response_answer, tee_stream
from .durable import (
    REQUEST_PARAM,
    RESPONSE_PARAM,
    RUN_ID_HEADER,
    RUN_STATUS_HEADER,
    AgentUser,
    DurableRun,
    checkpoint_store_of,
    encode_result,
    http_params,
    new_run_id,
    result_decoder,
    with_run_id,
)

__all__ = ["AgentContext", "AgentEndpoint", "AgentUser", "agent_endpoint", "require_fastapi"]

logger = logging.getLogger("mnemoplug.adapters.endpoint")

R = TypeVar("R")
FieldSpec = str | Callable[[Mapping[str, Any]], Any] | None


def require_fastapi(feature: str = "mounting an agent_endpoint on FastAPI") -> Any:
    """Import and return the ``fastapi`` module, or raise MissingDependencyError."""
    try:
        import fastapi
    except ImportError as exc:
        raise MissingDependencyError(feature, "fastapi", "fastapi") from exc
    return fastapi


@dataclass
class AgentContext:
    """What an ``@agent_endpoint`` function receives besides its own arguments.

    Attributes:
        memories: the memories selected for this request (best first).
        memory: the :class:`~mnemoplug.Memory`, for explicit reads and writes.
        memory_text: ``memories`` rendered by the strategy's template ('' when none) — add it to
            the prompt or system message.
        user_id, session_id, message: read from the request.
        strategy: the injection strategy used.
        store: set to False to skip storing this turn.
        metadata: metadata stored with the turn (may be changed by the function).
        user: ``AgentUser(id, tenant_id)`` — the same as ``user_id`` / ``tenant_id``.
        runnable: the ``runnable=`` given to ``agent_endpoint`` (the agent to run), or None.
        run_id: the run id of a durable call (None unless ``durable=True``).
        resumed_state: the last state checkpointed by an earlier, unfinished call with this run
            id (None for a new run); ``resumed`` says whether there was one.
    """

    memory: Any
    strategy: InjectionStrategy
    user_id: str
    message: str
    session_id: str | None = None
    tenant_id: str | None = None
    agent_id: str | None = None
    memories: list[MemoryRecord] = field(default_factory=list)
    memory_text: str = ""
    store: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    runnable: Any = None
    run_id: str | None = None
    resumed_state: Any = None
    resumed: bool = False
    _run: DurableRun | None = field(default=None, repr=False, compare=False)

    @property
    def user(self) -> AgentUser:
        """The request's user: ``ctx.user.id``, ``ctx.user.tenant_id``."""
        return AgentUser(self.user_id, self.tenant_id)

    async def checkpoint(self, state: Any, metadata: Mapping[str, Any] | None = None) -> Any:
        """Save the run's progress (a JSON value or bytes), owned by this user and tenant; a
        later call with the same run id after a crash gets it as ``ctx.resumed_state``. Returns
        the :class:`~mnemoplug.Checkpoint`. Only in ``agent_endpoint(durable=True)``."""
        if self._run is None:
            raise ConfigurationError(
                "ctx.checkpoint() needs agent_endpoint(durable=True) and a Memory with a "
                'checkpoint store, e.g. Memory(..., checkpoints="sqlite:///runs.db")'
            )
        return await self._run.checkpoint(state, metadata)

    def scope(self, *, with_session: bool = True) -> dict[str, str]:
        """Scope keyword arguments for ``memory`` calls (tenant/agent/session when set)."""
        out: dict[str, str] = {}
        for key in ("tenant_id", "agent_id", "session_id"):
            if key == "session_id" and not with_session:
                continue
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


def _lookup(arguments: Mapping[str, Any], spec: FieldSpec) -> Any:
    """A field of the call: a parameter of that name, else an attribute/key of an argument."""
    if spec is None:
        return None
    if callable(spec):
        return spec(arguments)
    if spec in arguments and arguments[spec] is not None:
        return arguments[spec]
    for value in arguments.values():
        if isinstance(value, Mapping):
            if value.get(spec) is not None:
                return value[spec]
        elif value is not None and not isinstance(value, str | bytes | int | float | bool):
            found = getattr(value, spec, None)
            if found is not None and not callable(found):
                return found
    return None


def _as_strategy(
    memory: Any, strategy: InjectionStrategy | str | None
) -> tuple[Any, InjectionStrategy]:
    if isinstance(memory, InjectionStrategy):
        if strategy is not None:
            raise ConfigurationError(
                "pass the strategy inside inject_memory(...) or as strategy=, not both"
            )
        strat = memory
        mem = strat.memory
    else:
        if isinstance(strategy, str):
            strat = inject_memory(strategy)  # type: ignore[arg-type]
        else:
            strat = strategy if strategy is not None else inject_memory()
        if not isinstance(strat, InjectionStrategy):
            raise ConfigurationError(
                f"strategy must come from inject_memory(...), got {type(strat).__name__}"
            )
        mem = memory if memory is not None else strat.memory
    # a user's own MemoryProvider (or a URL) becomes Memory(provider=...): validation, hooks,
    # min_relevance and scope handling on top of its seven methods
    mem = as_memory(mem, strat.memory)
    if mem is None:
        raise ConfigurationError(
            "agent_endpoint needs a Memory: "
            "agent_endpoint(memory=inject_memory(provider=memory_or_url)) "
            "or agent_endpoint(memory=Memory(...))"
        )
    if type(mem).__name__ == "SyncMemory":
        raise ConfigurationError("agent_endpoint is async: pass the async Memory, not a SyncMemory")
    return mem, strat


def _ctx_param(fn: Callable[..., Any], hints: Mapping[str, Any]) -> str:
    sig = inspect.signature(fn)
    for name, p in sig.parameters.items():
        ann = hints.get(name, p.annotation)
        if ann is AgentContext or ann == "AgentContext":
            return name
    if "ctx" in sig.parameters:
        return "ctx"
    raise ConfigurationError(
        f"{fn.__qualname__} needs a parameter for the memory context: add `ctx: AgentContext`"
    )


def agent_endpoint(
    memory: Any = None,
    *,
    path: str | None = None,
    runnable: Any = None,
    strategy: InjectionStrategy | str | None = None,
    user_id_field: FieldSpec = "user_id",
    message_field: FieldSpec = "message",
    session_id_field: FieldSpec = "session_id",
    tenant_id_field: FieldSpec = None,
    agent_id: str | None = None,
    answer_field: FieldSpec = None,
    store_turns: bool = True,
    metadata: Mapping[str, Any] | None = None,
    raise_on_store_error: bool = False,
    raise_on_lookup_error: bool = False,
    durable: bool = False,
    run_id_field: FieldSpec = "run_id",
) -> Callable[[Callable[..., Awaitable[R]]], AgentEndpoint[R]]:
    """Give an async agent function long-term memory (and, with ``durable=True``, resumable runs).

    Args:
        memory: ``inject_memory(provider=memory_or_url, strategy=...)``, a
            :class:`~mnemoplug.Memory`, your own :class:`~mnemoplug.MemoryProvider` (wrapped
            as ``Memory(provider=...)``), or a URL.
        path: the route path, for ``fn.mount(app_or_router)`` (e.g. ``"/chat"``).
        runnable: what the function runs (an agent, a chain...), given as ``ctx.runnable``.
        strategy: the strategy (or its name) when ``memory`` is a Memory or URL.
        user_id_field, message_field, session_id_field, tenant_id_field: where the call carries
            these — a parameter or request-model field name, or ``f(arguments) -> value`` (the
            bound arguments by parameter name, e.g. to read an authenticated user).
        agent_id: scope memories to this agent.
        answer_field: the field of the returned value holding the answer text (default: the
            value itself if it is a string, else its first string field among answer, response,
            reply, output, content, text, message; else its JSON). A returned FastAPI
            ``Response`` is read by its body (JSON by that field, text as it is); a
            ``StreamingResponse`` is stored once its whole body has been sent (server-sent
            events by their ``data:``), and not at all when the client abandons it.
        store_turns: store the message and the answer after a successful call.
        metadata: stored with every turn (default ``{"source": "agent_endpoint"}``).
        raise_on_store_error: re-raise a failed write (e.g. a hook's MemoryRejectedError) instead
            of logging it and returning the answer.
        raise_on_lookup_error: let a failing memory lookup (a provider error, a raising
            ``on_memory_search`` hook) fail the call; by default the function runs with no
            memories (``ctx.memories == []``) and the cause is logged on
            ``mnemoplug.adapters.endpoint``.
        durable: make every call a run in the Memory's checkpoint store (``memory.checkpoints``;
            ConfigurationError without one): ``ctx.checkpoint(state)`` saves progress, a call
            with the run id of an unfinished run resumes (``ctx.resumed_state``), a call with
            the run id of a finished run returns the stored result without running. The result
            must be JSON-serialisable (or bytes).
        run_id_field: where a durable call carries its run id (like ``user_id_field``); when
            absent, the ``X-Run-Id`` request header (under FastAPI), else a new time-ordered id.
            The id goes back in the ``X-Run-Id`` response header (and ``X-Run-Status``: new,
            resumed or replayed), and in the result under this name when the result is a dict
            or a pydantic model with such a field left None.
    """
    for name, spec in (
        ("user_id_field", user_id_field),
        ("message_field", message_field),
        ("session_id_field", session_id_field),
        ("tenant_id_field", tenant_id_field),
        ("answer_field", answer_field),
        ("run_id_field", run_id_field),
    ):
        check_field(spec, name)
    check_optional_str(agent_id, "agent_id")
    check_optional_str(path, "path")
    if path is not None and not path.startswith("/"):
        raise ConfigurationError(f"path must start with '/', got {path!r}")
    if not isinstance(durable, bool):
        raise ConfigurationError(f"durable must be True or False, got {durable!r}")
    mem, strat = _as_strategy(memory, strategy)
    base_meta = (
        check_metadata_arg(metadata) if metadata is not None else {"source": "agent_endpoint"}
    )
    store = checkpoint_store_of(mem, "agent_endpoint") if durable else None
    http = http_params() if durable else None

    def decorate(fn: Callable[..., Awaitable[R]]) -> AgentEndpoint[R]:
        if not inspect.iscoroutinefunction(fn):
            raise ConfigurationError(
                f"@agent_endpoint needs an async function; {fn.__qualname__} is not"
            )
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception:  # unresolved forward refs: keep the raw annotations
            hints = {}
        ctx_name = _ctx_param(fn, hints)
        sig = inspect.signature(fn)
        params = [
            p.replace(annotation=hints.get(name, p.annotation))
            for name, p in sig.parameters.items()
            if name != ctx_name
        ]
        return_ann = hints.get("return", sig.return_annotation)
        public_sig = sig.replace(parameters=params, return_annotation=return_ann)
        kinds = {name: p.kind for name, p in sig.parameters.items()}
        if kinds[ctx_name] is inspect.Parameter.POSITIONAL_ONLY:
            raise ConfigurationError(f"{fn.__qualname__}: {ctx_name!r} must not be positional-only")
        # call by name unless the function has positional-only or *args parameters
        by_position = any(
            k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL)
            for k in kinds.values()
        )
        # under FastAPI a durable endpoint also takes the Request (X-Run-Id in) and the Response
        # (X-Run-Id out); the function never sees them
        extra: list[inspect.Parameter] = []
        if http is not None and not {REQUEST_PARAM, RESPONSE_PARAM} & set(kinds):
            kw = inspect.Parameter.KEYWORD_ONLY
            extra = [
                inspect.Parameter(REQUEST_PARAM, kw, default=None, annotation=http[0]),
                inspect.Parameter(RESPONSE_PARAM, kw, default=None, annotation=http[1]),
            ]
        var_kw = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
        http_sig = public_sig.replace(
            parameters=[p for p in params if p not in var_kw] + extra + var_kw
        )
        decode = result_decoder(return_ann) if durable else None

        def call_kwargs(bound: inspect.BoundArguments, ctx: AgentContext) -> dict[str, Any]:
            if by_position:
                return {**bound.kwargs, ctx_name: ctx}
            out: dict[str, Any] = {}
            for name, value in bound.arguments.items():
                if kinds[name] is inspect.Parameter.VAR_KEYWORD:
                    out.update(value)
                else:
                    out[name] = value
            out[ctx_name] = ctx
            return out

        async def select(ctx: AgentContext) -> None:
            ctx.memories = await select_memories(
                strat,
                mem,
                user_id=ctx.user_id,
                query=ctx.message or None,
                raise_on_error=raise_on_lookup_error,
                logger=logger,
                **ctx.scope(with_session=False),
            )
            ctx.memory_text = strat.render(ctx.memories)

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> R:
            request = kwargs.pop(REQUEST_PARAM, None) if extra else None
            response = kwargs.pop(RESPONSE_PARAM, None) if extra else None
            if ctx_name in kwargs:
                raise TypeError(
                    f"{fn.__qualname__}: the {ctx_name!r} argument is supplied by agent_endpoint"
                )
            bound = public_sig.bind(*args, **kwargs)
            bound.apply_defaults()
            call_args = bound.args if by_position else ()
            arguments = dict(bound.arguments)
            user_id = _lookup(arguments, user_id_field)
            if user_id is None or not str(user_id):
                raise ConfigurationError(
                    f"{fn.__qualname__}: no user id in the call; give the request a "
                    f"{user_id_field!r} field or set agent_endpoint(user_id_field=...)"
                )
            message = _lookup(arguments, message_field)
            session_id = _lookup(arguments, session_id_field)
            tenant_id = _lookup(arguments, tenant_id_field)
            ctx = AgentContext(
                memory=mem,
                strategy=strat,
                user_id=str(user_id),
                message="" if message is None else str(message),
                session_id=None if session_id is None else str(session_id),
                tenant_id=None if tenant_id is None else str(tenant_id),
                agent_id=agent_id,
                metadata=dict(base_meta),
                runnable=runnable,
            )
            if store is None:
                await select(ctx)
                result = await fn(*call_args, **call_kwargs(bound, ctx))
                if store_turns and ctx.store:
                    if is_streaming(result):  # stored once the body has been sent

                        async def store_streamed(answer: str, ctx: AgentContext = ctx) -> None:
                            await _store_turn(ctx, answer, raise_on_store_error)

                        tee_stream(result, answer_field, store_streamed)
                        return result
                    await _store_turn(ctx, _answer(result, answer_field), raise_on_store_error)
                return result

            run_id = _lookup(arguments, run_id_field)
            if run_id is None and request is not None:
                run_id = request.headers.get(RUN_ID_HEADER)
            run = DurableRun(
                store, new_run_id() if run_id is None else str(run_id), ctx.user_id, ctx.tenant_id
            )
            async with run.locked():
                await run.start()
                ctx.run_id, ctx._run = run.run_id, run
                ctx.resumed, ctx.resumed_state = run.status == "resumed", run.resumed_state
                if run.finished is not None:
                    assert decode is not None
                    result = decode(run.result)
                    pending = run.pending_turn
                else:
                    await select(ctx)
                    result = await fn(*call_args, **call_kwargs(bound, ctx))
                    pending = None
                    if store_turns and ctx.store:
                        messages = _turn_messages(ctx, answer_text(result, answer_field))
                        if messages:
                            pending = {
                                "messages": messages,
                                "metadata": encode_result(ctx.metadata, "ctx.metadata"),
                                "scope": ctx.scope(),
                            }
                    await run.finish(encode_result(result, fn.__qualname__), pending)
                if pending is not None:
                    await _add_turn(mem, ctx.user_id, pending, raise_on_store_error)
                    await run.mark_turn_stored()
            if response is not None:
                response.headers[RUN_ID_HEADER] = run.run_id
                response.headers[RUN_STATUS_HEADER] = run.status
            out: R = with_run_id(result, run_id_field, run.run_id)
            return out

        wrapper.__signature__ = http_sig  # type: ignore[attr-defined]
        annotations = {name: ann for name, ann in hints.items() if name != ctx_name}
        annotations.update({p.name: p.annotation for p in extra})
        wrapper.__annotations__ = annotations
        endpoint = typing.cast(AgentEndpoint[R], wrapper)
        endpoint.memory = mem
        endpoint.strategy = strat
        endpoint.path = path
        endpoint.runnable = runnable
        endpoint.durable = durable
        endpoint.mount = make_mount(fn, wrapper, path)  # type: ignore[method-assign]
        return endpoint

    return decorate


def _answer(result: Any, answer_field: FieldSpec) -> str:
    """The answer text of what the function returned (a Response: its body)."""
    if is_response(result):
        return response_answer(result, answer_field)
    return answer_text(result, answer_field)


def _turn_messages(ctx: AgentContext, answer: str) -> list[dict[str, str]]:
    turn = [
        {"role": "user", "content": ctx.message},
        {"role": "assistant", "content": answer},
    ]
    return [m for m in turn if m["content"].strip()]


async def _store_turn(ctx: AgentContext, answer: str, raise_on_error: bool) -> None:
    turn = _turn_messages(ctx, answer)
    if not turn:
        return
    pending = {"messages": turn, "metadata": ctx.metadata, "scope": ctx.scope()}
    await _add_turn(ctx.memory, ctx.user_id, pending, raise_on_error)


async def _add_turn(
    memory: Any, user_id: str, pending: Mapping[str, Any], raise_on_error: bool
) -> None:
    try:
        await store_turn(
            memory,
            user_id,
            list(pending["messages"]),
            dict(pending["metadata"]),
            **pending["scope"],
        )
    except MnemoplugError as exc:
        if raise_on_error:
            raise
        logger.warning("mnemoplug: the turn of user %r was not stored: %s", user_id, exc)
