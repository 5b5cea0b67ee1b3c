"""Checks of the built-in stores' constructor arguments.

Every store checks its options when it is built (no network). A bad one raises
:class:`~mnemoplug.core.errors.ConfigurationError` naming the option and what it takes, never a
bare ``ValueError``/``TypeError`` from deeper down. URLs are parsed here too: wrong type,
unparseable text or a foreign scheme all read the same way in every backend.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from ..core.errors import ConfigurationError
from ..core.urls import redact_url

__all__ = [
    "non_empty_str",
    "non_negative_int",
    "optional_positive_int",
    "path_option",
    "positive_int",
    "positive_seconds",
    "split_url",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(name: str, value: Any) -> int:
    """``value`` when it is an integer >= 1."""
    if not _is_int(value) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def optional_positive_int(name: str, value: Any) -> int | None:
    """``value`` when it is None or an integer >= 1."""
    if value is None:
        return None
    if not _is_int(value) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer or None, got {value!r}")
    return int(value)


def non_negative_int(name: str, value: Any) -> int:
    """``value`` when it is an integer >= 0."""
    if not _is_int(value) or value < 0:
        raise ConfigurationError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def positive_seconds(name: str, value: Any) -> float:
    """``value`` (a number or a timedelta) as seconds > 0."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(seconds)


def non_empty_str(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    return value


def path_option(name: str, value: Any) -> Path:
    """A file or directory option (``str`` or ``os.PathLike``), ``~`` expanded."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ConfigurationError(f"{name} must be a non-empty path (str or Path), got {value!r}")
    return checked_path(name, expand_user(name, Path(value)))


def expand_user(name: str, path: Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; a user (or home) that does not
    exist is a ConfigurationError, not a RuntimeError."""
    try:
        return path.expanduser()
    except RuntimeError as exc:
        raise ConfigurationError(
            f"{name}: cannot expand {str(path)!r} ({exc}); give an absolute path"
        ) from None


def checked_path(name: str, path: Path) -> Path:
    """``path`` if the file system can take it (no NUL, valid Unicode), else ConfigurationError."""
    text = str(path)
    if "\x00" in text:
        raise ConfigurationError(f"{name} {text!r} contains a NUL character; no file has that name")
    try:
        os.fsencode(text)
    except UnicodeEncodeError as exc:
        raise ConfigurationError(f"{name} {text!r} cannot be a file name here: {exc}") from None
    return path


def split_url(url: Any, schemes: tuple[str, ...], what: str, use: str) -> SplitResult:
    """``url`` split, when it is a string with one of ``schemes`` (lower case); otherwise a
    ConfigurationError saying ``use`` (the accepted forms). Passwords never reach messages."""
    if not isinstance(url, str):
        raise ConfigurationError(f"{what} URL must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigurationError(
            f"cannot parse the {what} URL {redact_url(url)!r}: {exc}"
        ) from None
    if "://" not in url or parts.scheme.lower() not in schemes:
        raise ConfigurationError(f"not a {what} URL: {redact_url(url)!r}; use {use}")
    return parts
