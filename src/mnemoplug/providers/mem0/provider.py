"""``Mem0Provider``: long-term memory through Mem0 (self-hosted ``mem0ai``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...core.errors import ConfigurationError, InvalidContentError
from ...core.factory import construct
from ...core.memory import Memory, split_options
from .memory_store import Mem0MemoryStore

__all__ = ["Mem0Provider"]


class Mem0Provider(Memory):
    """Long-term memory in Mem0, with mnemoplug's hooks, embedder and strategies.

    >>> memory = Mem0Provider(config={"vector_store": {"provider": "qdrant", ...}})
    >>> await memory.add(user_id="u1", messages=[{"role": "user", "content": "hi"}])

    Args:
        config: a Mem0 configuration dict (as ``mem0.Memory.from_config`` takes).
        **options: ``Memory`` options and store options (``path``, ``collection``, ``infer``,
            ``llm``, …).
    """

    name = "mem0"

    def __init__(self, config: Any = None, **options: Any) -> None:
        if "api_key" in options or "org_id" in options or "project_id" in options:
            raise ConfigurationError(
                "Mem0Provider runs self-hosted mem0 (config= or path=); the hosted Mem0 "
                "platform (api_key=, org_id=, project_id=) is not supported yet"
            )
        memory_options, store_options = split_options(options)
        store = construct(Mem0MemoryStore, config=config, **store_options)
        super().__init__(store, **memory_options)

    async def add(
        self,
        user_id: str,
        content: str | Sequence[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        messages: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``add(user_id, content)`` or, as Mem0 users write it, ``add(user_id,
        messages=[...])``."""
        if messages is not None:
            if content is not None:
                raise InvalidContentError("pass content= or messages=, not both")
            content = list(messages)
        if content is None:
            raise InvalidContentError("add() needs content (text or messages) or messages=")
        return await super().add(user_id, content, metadata, **kwargs)
