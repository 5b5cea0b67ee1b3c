"""``Mem0Provider``: long-term memory through Mem0 — self-hosted ``mem0ai`` (``config=``,
``path=``) or the hosted Mem0 platform (``api_key=`` or ``$MEM0_API_KEY``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...core.errors import ConfigurationError
from ...core.factory import construct
from ...core.memory import Memory, split_options
from ...core.validation import content_or_messages
from .hosted import HostedMem0Provider, hosted_requested
from .memory_store import Mem0MemoryStore

__all__ = ["Mem0Provider"]


class Mem0Provider(Memory):
    """Long-term memory in Mem0, with mnemoplug's hooks, embedder and strategies.

    >>> memory = Mem0Provider(config={"vector_store": {"provider": "qdrant", ...}})
    >>> memory = Mem0Provider(api_key="...")  # the hosted platform ($MEM0_API_KEY by default)
    >>> await memory.add(user_id="u1", messages=[{"role": "user", "content": "hi"}])

    With ``api_key=`` (or ``org_id=``, ``project_id=``, ``host=``), or with ``$MEM0_API_KEY``
    set and neither ``config`` nor ``path`` given, this is a ``Memory`` over
    :class:`~mnemoplug.providers.mem0.hosted.HostedMem0Provider` (Mem0's platform client);
    otherwise over :class:`Mem0MemoryStore` (self-hosted ``mem0ai``), as before.

    Args:
        config: a Mem0 configuration dict (as ``mem0.Memory.from_config`` takes).
        **options: ``Memory`` options and store options (``path``, ``collection``, ``infer``,
            ``llm``, …) or hosted options (``api_key``, ``org_id``, ``project_id``,
            ``host``/``url``, ``infer``, ``timeout``).
    """

    name = "mem0"

    def __init__(self, config: Any = None, **options: Any) -> None:
        memory_options, store_options = split_options(options)
        if hosted_requested(config, store_options):
            if config is not None or "path" in store_options:
                raise ConfigurationError(
                    "Mem0Provider: api_key= (the hosted Mem0 platform) and config=/path= "
                    "(self-hosted mem0) exclude each other; pass one or the other"
                )
            hosted = construct(HostedMem0Provider, **store_options)
            super().__init__(hosted, **memory_options)
            return
        store = construct(Mem0MemoryStore, config=config, **store_options)
        super().__init__(store, **memory_options)

    @property
    def hosted(self) -> bool:
        """True when this Mem0Provider talks to the hosted Mem0 platform."""
        return self.store is None

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
        content = content_or_messages(content, messages)
        return await super().add(user_id, content, metadata, **kwargs)
