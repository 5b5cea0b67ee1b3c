"""PII redaction on writes: emails, phone numbers, payment card numbers (Luhn-checked), IBANs
(mod-97-checked), IPv4/IPv6 addresses and US social security numbers are replaced by a
placeholder (``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``, ``[IP]``, ``[SSN]``) before a
memory is embedded and stored, on ``add``, ``update`` and session messages.

Validation keeps false positives down: a 16-digit number that fails the Luhn check is not a
card, an IBAN-shaped string that fails mod-97 is not an IBAN, 000-xx-xxxx is not an SSN.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from ..core.errors import ConfigurationError
from ..core.hookspecs import hookimpl

__all__ = ["DEFAULT_KINDS", "PIIRedactor", "redact"]

DEFAULT_KINDS = ("email", "card", "iban", "ssn", "ip", "phone")

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_CARD = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w])"
)


def luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        alt = not alt
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in rearranged)
    return int(num) % 97 == 1


def _card(m: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", m.group())
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _ipv6(m: re.Match[str]) -> bool:
    try:
        ipaddress.IPv6Address(m.group())
        return True
    except ValueError:
        return False


def _phone(m: re.Match[str]) -> bool:
    text = m.group()
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        return False
    # plain numbers (years, amounts) are not phones: need a +, parentheses or separators
    return text.startswith("+") or "(" in text or bool(re.search(r"\d[ .-]\d", text))


_RULES: dict[str, tuple[re.Pattern[str], Callable[[re.Match[str]], bool] | None, str]] = {
    "email": (_EMAIL, None, "[EMAIL]"),
    "card": (_CARD, _card, "[CARD]"),
    "iban": (_IBAN, lambda m: iban_ok(m.group()), "[IBAN]"),
    "ssn": (_SSN, None, "[SSN]"),
    "ip": (_IPV4, None, "[IP]"),
    "ipv6": (_IPV6, _ipv6, "[IP]"),
    "phone": (_PHONE, _phone, "[PHONE]"),
}


def redact(
    text: str, kinds: Iterable[str] = DEFAULT_KINDS, counts: Counter[str] | None = None
) -> str:
    """Replace the PII kinds found in ``text`` by placeholders (order: the most specific
    first, so a card number is not taken for a phone number)."""
    for kind in kinds:
        for rule in (kind, "ipv6") if kind == "ip" else (kind,):
            pattern, check, token = _RULES[rule]
            if check is None:
                text, n = pattern.subn(token, text)
            else:
                n = 0

                def sub(m: re.Match[str], check: Any = check, token: str = token) -> str:
                    nonlocal n
                    if check(m):
                        n += 1
                        return token
                    return m.group()

                text = pattern.sub(sub, text)
            if n and counts is not None:
                counts[kind] += n
    return text


def _redact_obj(value: Any, kinds: tuple[str, ...], counts: Counter[str]) -> Any:
    if isinstance(value, str):
        return redact(value, kinds, counts)
    if isinstance(value, list):
        return [_redact_obj(v, kinds, counts) for v in value]
    if isinstance(value, dict):
        return {k: _redact_obj(v, kinds, counts) for k, v in value.items()}
    return value


class PIIRedactor:
    """Redacts PII before memories are embedded and stored.

    Args:
        kinds: which kinds to redact (default: all of ``DEFAULT_KINDS``).
        redact_metadata: also redact string values inside metadata (default True).
        record_counts: add ``metadata["pii_redacted"] = {"email": 1, ...}`` when anything was
            redacted (default False; the counts are always in ``ctx.state["pii_redacted"]``).
    """

    def __init__(
        self,
        kinds: Iterable[str] = DEFAULT_KINDS,
        *,
        redact_metadata: bool = True,
        record_counts: bool = False,
    ) -> None:
        self.kinds = tuple(kinds)
        unknown = set(self.kinds) - set(_RULES)
        if unknown:
            raise ConfigurationError(
                f"unknown PII kinds {sorted(unknown)}; known: {', '.join(DEFAULT_KINDS)}"
            )
        self.redact_metadata = redact_metadata
        self.record_counts = record_counts

    def redact(self, text: str) -> str:
        return redact(text, self.kinds)

    @hookimpl(tryfirst=True)
    def on_memory_add(self, ctx: Any) -> None:
        counts: Counter[str] = Counter()
        ctx.memory_content = redact(ctx.memory_content, self.kinds, counts)
        if self.redact_metadata and ctx.metadata:
            ctx.metadata = _redact_obj(ctx.metadata, self.kinds, counts)
        if counts:
            ctx.state["pii_redacted"] = dict(counts)
            if self.record_counts:
                ctx.metadata["pii_redacted"] = dict(counts)

    @hookimpl(tryfirst=True)
    def on_memory_update(self, ctx: Any) -> None:
        counts: Counter[str] = Counter()
        if ctx.memory_content is not None:
            ctx.memory_content = redact(ctx.memory_content, self.kinds, counts)
        if self.redact_metadata and ctx.metadata:
            ctx.metadata = _redact_obj(ctx.metadata, self.kinds, counts)
        if counts:
            ctx.state["pii_redacted"] = dict(counts)

    @hookimpl(tryfirst=True)
    def on_session_message(self, ctx: Any) -> None:
        msg = ctx.message
        counts: Counter[str] = Counter()
        update: dict[str, Any] = {}
        content = getattr(msg, "content", None)
        if isinstance(content, str):
            new = redact(content, self.kinds, counts)
            if new != content:
                update["content"] = new
        metadata = getattr(msg, "metadata", None)
        if self.redact_metadata and isinstance(metadata, dict) and metadata:
            new_meta = _redact_obj(metadata, self.kinds, counts)
            if new_meta != metadata:
                update["metadata"] = new_meta
        if not update:
            return
        ctx.state["pii_redacted"] = dict(counts)
        if hasattr(msg, "model_copy"):
            ctx.message = msg.model_copy(update=update)
        else:
            for key, value in update.items():
                setattr(msg, key, value)
