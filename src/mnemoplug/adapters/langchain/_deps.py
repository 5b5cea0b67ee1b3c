"""Import guard for the LangChain/LangGraph adapter."""

from __future__ import annotations

from ...core.errors import MissingDependencyError

__all__ = ["require_langchain"]


def require_langchain() -> None:
    """Raise :class:`MissingDependencyError` naming the extra when LangChain is missing."""
    try:
        import langchain.agents  # noqa: F401
        import langchain_core  # noqa: F401
        import langgraph  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "the LangChain adapter", "langchain", exc.name or "langchain"
        ) from exc
