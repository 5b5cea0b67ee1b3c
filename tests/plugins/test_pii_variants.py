"""PII variants (issue 11, item 7), generated: internationalised and quoted e-mail addresses,
phone numbers with any separator or none, card numbers however grouped or run on, SSNs with or
without separators, IBANs in any case — each is redacted wherever it stands in text, metadata
values and metadata keys, on add and on update."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnemoplug import Memory
from mnemoplug.plugins import PIIRedactor, redact
from tests.budget import examples

LETTERS = "abcdefghijklmnopqrstuvwxyzäöüéèçñøåжданные字母ü"
WORDS = st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8), max_size=4)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


@st.composite
def emails(draw: st.DrawFn) -> str:
    label = st.text(LETTERS + "0123456789", min_size=1, max_size=10)
    if draw(st.booleans()):
        local = '"' + draw(st.text(LETTERS + " .", min_size=1, max_size=12)) + '"'
    else:
        parts = draw(st.lists(label, min_size=1, max_size=3))
        local = draw(st.sampled_from([".", "_", "+", "-"])).join(parts)
    domain = ".".join(draw(st.lists(label, min_size=1, max_size=3)))
    tld = draw(st.text(LETTERS, min_size=2, max_size=6))
    return f"{local}@{domain}.{tld}"


@st.composite
def phones(draw: st.DrawFn) -> str:
    digits = draw(st.text("0123456789", min_size=10, max_size=10))
    sep = draw(st.sampled_from(["", "-", "\u2013", "\u2014", ".", " ", "/"]))
    number = sep.join((digits[:3], digits[3:6], digits[6:]))
    return draw(st.sampled_from(["", "+1 ", "+1-"])) + number


@st.composite
def cards(draw: st.DrawFn) -> str:
    body = "4" + draw(st.text("0123456789", min_size=14, max_size=14))
    digits = body + _luhn_digit(body)
    sep = draw(st.sampled_from(["", " ", "  ", "-", " - ", ".", "_", "/"]))
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group, serial = draw(st.integers(1, 99)), draw(st.integers(1, 9999))
    sep = draw(st.sampled_from(["-", " ", ""]))
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country, length = draw(st.sampled_from([("DE", 18), ("GB", 18), ("NL", 14), ("FR", 23)]))
    bban = draw(st.text("0123456789", min_size=length, max_size=length))
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    iban = f"{country}{98 - num % 97:02d}{bban}"
    if draw(st.booleans()):
        iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban.lower() if draw(st.booleans()) else iban


KINDS = {"[EMAIL]": emails(), "[PHONE]": phones(), "[CARD]": cards(), "[SSN]": ssns()}
KINDS["[IBAN]"] = ibans()
PII = st.sampled_from(sorted(KINDS)).flatmap(lambda t: st.tuples(st.just(t), KINDS[t]))


def _leaks(pii: str, out: str) -> bool:
    if pii in out or "@" in out:
        return True
    return re.search(r"\d{5,}", re.sub(r"[ \-\u2013\u2014./_]", "", out)) is not None


@settings(max_examples=examples(300), deadline=None)
@given(PII, WORDS, WORDS, st.sampled_from([" ", ", ", " (", ": "]))
def test_generated_variants_are_redacted_in_text(
    found: tuple[str, str], before: list[str], after: list[str], glue: str
) -> None:
    token, pii = found
    text = " ".join(before) + glue + pii + " " + " ".join(after)
    out = redact(text)
    assert token in out and not _leaks(pii, out), (text, out)


@settings(max_examples=examples(100), deadline=None)
@given(cards(), st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=5))
def test_a_card_run_on_into_letters_is_redacted(card: str, letters: str) -> None:
    out = redact(f"card {card}{letters} ok")
    assert out == f"card [CARD]{letters} ok"


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(PII, PII)
async def test_metadata_values_and_keys_are_redacted_on_add_and_update(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    m = Memory("memory://", embedder=None, plugins=[PIIRedactor()], load_entry_points=False)
    (_, a), (_, b) = first, second
    mid = await m.add("u", "a note", {a: "key", "v": a, "nested": [{"x": a}]})
    rec = await m.update("u", mid, metadata={b: 1, "w": f"see {b}", a: 2})
    stored = await m.get("u", mid)
    assert stored is not None and stored.metadata == rec.metadata
    flat = repr(stored.metadata)
    assert a not in flat and b not in flat
    if a != b:  # two keys redacted to the same text are kept apart
        assert len(stored.metadata) == 3
