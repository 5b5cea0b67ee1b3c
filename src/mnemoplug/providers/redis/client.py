"""Redis client plumbing shared by the Redis session and checkpoint stores."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

from ...core.errors import MissingDependencyError, ProviderUnavailableError
from ...core.urls import redact_url


def import_redis(feature: str) -> Any:
    """``redis.asyncio``, or MissingDependencyError naming the extra."""
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:
        raise MissingDependencyError(feature, "redis", "redis") from exc
    return aioredis


def part(value: str) -> str:
    """An id as an unambiguous key segment: ``<utf-8 byte length>:<value>``."""
    return f"{len(value.encode('utf-8'))}:{value}"


class RedisClientMixin:
    """Lazy client from a URL (or a given ``client``), closed by ``close()`` when owned."""

    url: str
    name: ClassVar[str]

    def _init_client(self, url: str, client: Any, feature: str, **options: Any) -> None:
        self._aioredis = import_redis(feature)  # checked when the store is built
        self.url = url
        self._client = client
        self._owns_client = client is None
        self._client_options = options

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._aioredis.from_url(self.url, **self._client_options)
        return self._client

    def _unavailable(self, exc: BaseException) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            f"the Redis {self.name} store at {redact_url(self.url)} is not reachable: {exc}",
            provider=self.name, url=redact_url(self.url),
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn connection failures and timeouts into ProviderUnavailableError."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        try:
            yield
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()
        elif client is not None:
            self._client = client
