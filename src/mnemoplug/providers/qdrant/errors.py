"""qdrant-client exceptions as mnemoplug errors: a server that cannot be reached is
:class:`~mnemoplug.core.errors.ProviderUnavailableError`, anything else that failed
:class:`~mnemoplug.core.errors.ProviderError` naming what was being done."""

from __future__ import annotations

from ...core.errors import MnemoplugError, ProviderError, ProviderUnavailableError

__all__ = ["qdrant_error"]


def qdrant_error(
    exc: Exception, what: str, *, server: str | None, url: str, name: str
) -> MnemoplugError:
    """The mnemoplug error for ``exc`` raised while doing ``what`` (mnemoplug's own pass)."""
    if isinstance(exc, MnemoplugError):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if server and any(s in text for s in ("Connect", "connect", "Timeout", "refused")):
        return ProviderUnavailableError(
            f"cannot reach Qdrant at {server} ({what}): {text}; is the server running?",
            provider=name,
            url=url,
        )
    return ProviderError(f"Qdrant {what} failed on {url}: {text}", provider=name, url=url)
