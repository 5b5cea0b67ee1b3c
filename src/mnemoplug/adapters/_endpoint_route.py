"""What ``@agent_endpoint`` returns, and its ``mount()`` onto a FastAPI app or APIRouter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ..core.errors import ConfigurationError
from ..core.strategies import InjectionStrategy

__all__ = ["AgentEndpoint", "make_mount"]

R_co = TypeVar("R_co", covariant=True)


class AgentEndpoint(Protocol[R_co]):
    """What ``@agent_endpoint`` returns: the async function, plus ``path``, ``runnable``,
    ``durable``, ``memory``, ``strategy`` and :meth:`mount`."""

    path: str | None
    runnable: Any
    durable: bool
    memory: Any
    strategy: InjectionStrategy

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[R_co]: ...

    def mount(
        self,
        app_or_router: Any,
        path: str | None = None,
        *,
        methods: tuple[str, ...] | list[str] = ("POST",),
        **route_options: Any,
    ) -> Any:
        """Add the function as a route of ``app_or_router``; return ``app_or_router``."""


def make_mount(
    fn: Callable[..., Any], endpoint: Callable[..., Any], default_path: str | None
) -> Callable[..., Any]:
    """The ``mount`` method of one decorated function."""

    def mount(
        app_or_router: Any,
        path: str | None = None,
        *,
        methods: tuple[str, ...] | list[str] = ("POST",),
        **route_options: Any,
    ) -> Any:
        """Add this function as a route of a FastAPI app or APIRouter, at ``path`` (default: the
        decorator's ``path=``), for ``methods``; other keyword arguments (``tags=``,
        ``response_model=``...) go to ``add_api_route``. Returns ``app_or_router``."""
        where = path or default_path
        if where is None:
            raise ConfigurationError(
                f"{fn.__qualname__}: no path to mount at; pass agent_endpoint(path='/...') or "
                f"{fn.__name__}.mount(app, '/...')"
            )
        add = getattr(app_or_router, "add_api_route", None)
        if not callable(add):
            raise ConfigurationError(
                f"mount() needs a FastAPI app or APIRouter, got {type(app_or_router).__name__}"
            )
        add(where, endpoint, methods=list(methods), **route_options)
        return app_or_router

    return mount
