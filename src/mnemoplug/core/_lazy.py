"""Importing a heavy module on first use: ``np = lazy_module("numpy", globals(), "np")`` binds a
stand-in that imports numpy at its first attribute access and then replaces itself in the
module's globals, so that ``import mnemoplug`` stays light and later calls cost nothing."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["lazy_module"]


class _LazyModule:
    __slots__ = ("_binding", "_name", "_namespace")

    def __init__(self, name: str, namespace: dict[str, Any], binding: str) -> None:
        self._name = name
        self._namespace = namespace
        self._binding = binding

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self._name)
        if self._namespace.get(self._binding) is self:
            self._namespace[self._binding] = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str, namespace: dict[str, Any], binding: str) -> Any:
    """A stand-in for ``import name as binding`` in ``namespace`` (a module's ``globals()``)."""
    return _LazyModule(name, namespace, binding)
