"""PII redaction on writes: emails, phone numbers, payment card numbers (Luhn-checked), IBANs
(mod-97-checked), IPv4/IPv6 addresses and US social security numbers are replaced by a
placeholder (``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``, ``[IP]``, ``[SSN]``) before a
memory is embedded and stored, on ``add``, ``update`` and session messages — in the content
and in metadata, values and keys alike.

Variants found: internationalised (``jörg@bücher.de``) and quoted (``"j doe"@x.org``) e-mail
addresses; phone numbers with dashes of any kind, dots, slashes or spaces between groups, and
plain ten- or eleven-digit runs (``5551234567``); card numbers grouped by one or two spaces,
``-``, ``.``, ``/``, ``_`` or `` - ``, or run on into letters or other numbers; SSNs with
dashes, spaces or none (``123456789``); IBANs in any case.

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

#: also the order they are looked for in: the most specific first (an IBAN holds digit runs
#: that could pass for a card, a card for a phone number)
DEFAULT_KINDS = ("email", "iban", "card", "ssn", "ip", "phone")

#: characters between the digit groups of a phone number
_PHONE_SEP = r"[ .\-\u2010-\u2015/]"
_EMAIL = re.compile(
    # internationalised local parts and domains (\w is Unicode), or a quoted local part
    r"(?:(?<![\w.+\-])[\w.%+\-!#$&'*/=?^`{|}~]+|\"[^\"\r\n]{1,64}\")"
    r"@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}(?!\w)"
)
# digit groups separated by one or two spaces, or by - . / _ (spaces around allowed)
_CARD = re.compile(
    r"(?<![\d])(?:\d(?:[ \t]{1,2}|[ \t]?[\-\u2010-\u2015./_][ \t]?)?){12,22}\d(?!\d)"
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")
_SSN = re.compile(r"(?<![\d\-])(?!000|666|9\d\d)\d{3}([\- ]?)(?!00)\d{2}\1(?!0000)\d{4}(?![\d\-])")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE = re.compile(
    rf"(?<![\w+])(?:\+\d{{1,3}}{_PHONE_SEP}?)?(?:\(\d{{1,4}}\){_PHONE_SEP}?)?\d{{2,4}}"
    rf"(?:{_PHONE_SEP}?\d{{2,4}}){{1,4}}(?![\w])"
)
_DATE = re.compile(r"\d{4}([\-/.])\d{1,2}\1\d{1,2}|\d{1,2}([\-/.])\d{1,2}\2\d{2,4}")


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
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in rearranged)
    return int(num) % 97 == 1


def _card_end(m: re.Match[str]) -> int | None:
    """Where the card number in the match ends (an index into the match), or None. The match
    may run on into other digit groups (``4111-1111-1111-1111 12/29``): the longest prefix
    ending at a group boundary with 13 to 19 Luhn-valid digits is the card."""
    text = m.group()
    ends = [i + 1 for i, ch in enumerate(text) if ch.isdigit()]
    for n in range(min(19, len(ends)), 12, -1):
        end = ends[n - 1]
        if end < len(text) and text[end].isdigit():
            continue  # not a group boundary
        digits = "".join(ch for ch in text[:end] if ch.isdigit())
        if luhn_ok(digits):
            return end
    return None


def _ipv6(m: re.Match[str]) -> bool:
    try:
        ipaddress.IPv6Address(m.group())
        return True
    except ValueError:
        return False


def _phone(m: re.Match[str]) -> bool:
    text = m.group()
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15 or _DATE.fullmatch(text):
        return False
    if text.isdigit():  # a plain run: only the ten or eleven digits of a full number
        return 10 <= len(text) <= 11
    # other plain numbers (years, amounts) are not phones: need a +, parentheses or separators
    return text.startswith("+") or "(" in text or bool(re.search(rf"\d{_PHONE_SEP}\d", text))


_RULES: dict[str, tuple[re.Pattern[str], Callable[[re.Match[str]], bool] | None, str]] = {
    "email": (_EMAIL, None, "[EMAIL]"),
    "card": (_CARD, None, "[CARD]"),
    "iban": (_IBAN, None, "[IBAN]"),
    "ssn": (_SSN, None, "[SSN]"),
    "ip": (_IPV4, None, "[IP]"),
    "ipv6": (_IPV6, _ipv6, "[IP]"),
    "phone": (_PHONE, _phone, "[PHONE]"),
}


def _iban_end(m: re.Match[str]) -> int | None:
    """Where the IBAN in the match ends, or None: the longest prefix ending at the end or
    before a space that passes mod-97 (the match may run on into following words)."""
    text = m.group()
    ends = [i for i, ch in enumerate(text) if ch == " "] + [len(text)]
    for end in reversed(ends):
        if iban_ok(text[:end]):
            return end
    return None


def _redact_prefixed(
    text: str,
    kind: str,
    pattern: re.Pattern[str],
    end_of: Callable[[re.Match[str]], int | None],
    counts: Counter[str] | None,
) -> str:
    n = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal n
        end = end_of(m)
        if end is None:
            return m.group()
        n += 1
        return _RULES[kind][2] + m.group()[end:]

    text = pattern.sub(sub, text)
    if n and counts is not None:
        counts[kind] += n
    return text


def redact(
    text: str, kinds: Iterable[str] = DEFAULT_KINDS, counts: Counter[str] | None = None
) -> str:
    """Replace the PII kinds found in ``text`` by placeholders (in the order of
    :data:`DEFAULT_KINDS`, the most specific first, whatever the order of ``kinds``)."""
    wanted = set(kinds)
    for kind in (*DEFAULT_KINDS, "ipv6"):
        if kind not in wanted or (kind == "ipv6" and "ip" in wanted):
            continue
        if kind == "card":
            text = _redact_prefixed(text, "card", _CARD, _card_end, counts)
            continue
        if kind == "iban":
            text = _redact_prefixed(text, "iban", _IBAN, _iban_end, counts)
            continue
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
    """``value`` with PII redacted in every string, dict keys included (two keys redacted to
    the same text are kept apart: ``[EMAIL]``, ``[EMAIL] (2)``)."""
    if isinstance(value, str):
        return redact(value, kinds, counts)
    if isinstance(value, list):
        return [_redact_obj(v, kinds, counts) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = redact(k, kinds, counts) if isinstance(k, str) else k
            if key in out:
                i = 2
                while f"{key} ({i})" in out:
                    i += 1
                key = f"{key} ({i})"
            out[key] = _redact_obj(v, kinds, counts)
        return out
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
