"""Zep backend (the ``zep-cloud`` client; ``pip install "mnemoplug[zep]"``)."""

from .provider import ZepMemoryProvider, ZepProvider

__all__ = ["ZepMemoryProvider", "ZepProvider"]
