"""A custom embedder: any object with ``name``, ``dimension`` and ``embed(texts)``, or a plain
callable, registered by name from a plugin if you like.

    python examples/custom_embedder.py

The toy embedder here hashes words into a small vector (no model, no download); yours would
call a model or an embedding API. Vectors are normalised by mnemoplug; a store remembers which
embedder wrote its vectors and refuses a different one (``EmbedderMismatchError``).
"""

from __future__ import annotations

import asyncio
import hashlib

import numpy as np

from mnemoplug import Memory, hookimpl


class HashingEmbedder:
    """Bag of words hashed into 256 buckets: texts sharing words point the same way."""

    name = "hashing-256"
    dimension = 256

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                bucket = int(hashlib.sha1(word.strip("?.,!").encode()).hexdigest(), 16)
                out[i, bucket % self.dimension] += 1.0
        return out


class EmbedderPlugin:
    """Registers the embedder by name: ``Memory(embedder="hashing")``."""

    @hookimpl
    def register_embedders(self, register):  # type: ignore[no-untyped-def]
        register("hashing", HashingEmbedder)


async def main() -> None:
    async with Memory("memory://", embedder=HashingEmbedder()) as memory:
        await memory.add("alice", "alice keeps bees in her garden")
        await memory.add("alice", "alice works as a nurse")
        hit = (await memory.search("alice", "who keeps bees?", limit=1))[0]
        print(f"object embedder:   {hit.content}  (cosine {hit.similarity:.2f})")

    by_name = Memory("memory://", embedder="hashing", plugins=[EmbedderPlugin()])
    async with by_name:
        await by_name.add("bob", "bob rides a red bicycle")
        print("registered by name:", by_name.embedder.name)  # type: ignore[union-attr]

    as_callable = Memory("memory://", embedder=lambda texts: HashingEmbedder().embed(texts))
    async with as_callable:
        await as_callable.add("carol", "carol bakes sourdough bread")
        hits = await as_callable.search("carol", "who bakes bread")
        print("plain callable:    ", hits[0].content)


if __name__ == "__main__":
    asyncio.run(main())
