"""PII redaction: each kind, validation against false positives, and the hook in a real Memory."""

from __future__ import annotations

import pytest

from mnemoplug import Memory
from mnemoplug.plugins import PIIRedactor, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.doe+work@example.co.uk today", "mail me at [EMAIL] today"),
        ("card 4111 1111 1111 1111 exp 12/29", "card [CARD] exp 12/29"),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("iban DE89 3704 0044 0532 0130 00 please", "iban [IBAN] please"),
        ("iban GB82WEST12345698765432", "iban [IBAN]"),
        ("ssn 123-45-6789", "ssn [SSN]"),
        ("server 192.168.1.20 is down", "server [IP] is down"),
        ("v6 2001:db8::8a2e:370:7334 up", "v6 [IP] up"),
        ("call +1 (415) 555-0132 now", "call [PHONE] now"),
        ("call 030 1234567", "call [PHONE]"),
    ],
)
def test_each_kind_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 failed",  # fails Luhn: not a card
        "GB82WEST12345698765433 is not valid",  # fails mod-97
        "scores 3-2 and 21-17",
        "version 1.2.3.4.5 and 999.1.1.1",
        "in 2023 we sold 12000 units",
        "time 12:30:45",
    ],
)
def test_lookalikes_are_kept(text: str) -> None:
    assert redact(text) == text


async def test_redaction_before_embedding_and_storage() -> None:
    seen: list[str] = []

    def spy_embedder(texts):
        seen.extend(texts)
        return [[1.0, 0.0]] * len(texts)

    m = Memory(
        "memory://",
        embedder=spy_embedder,
        plugins=[PIIRedactor(record_counts=True)],
        load_entry_points=False,
    )
    mid = await m.add(
        "u",
        "Reach me at bob@example.com or +44 20 7946 0958",
        {"contact": "bob@example.com", "n": 1},
    )
    rec = await m.get("u", mid)
    assert rec is not None
    assert rec.content == "Reach me at [EMAIL] or [PHONE]"
    assert rec.metadata["contact"] == "[EMAIL]" and rec.metadata["n"] == 1
    assert rec.metadata["pii_redacted"] == {"email": 2, "phone": 1}
    assert all("bob@" not in t for t in seen)
    upd = await m.update("u", mid, content="new card 5500 0000 0000 0004")
    assert upd.content == "new card [CARD]"


def test_ssn_validation() -> None:
    r = PIIRedactor(kinds=["ssn"])
    assert (
        r.redact("ssn 000-12-3456, 666-12-3456, 123-00-4567")
        == "ssn 000-12-3456, 666-12-3456, 123-00-4567"
    )
    assert r.redact("ssn 078-05-1120") == "ssn [SSN]"


def test_unknown_kind_rejected() -> None:
    with pytest.raises(ValueError, match="unknown PII kinds"):
        PIIRedactor(kinds=["email", "dna"])


def test_subset_of_kinds() -> None:
    r = PIIRedactor(kinds=["email"])
    assert r.redact("a@b.io 192.168.0.1") == "[EMAIL] 192.168.0.1"


async def test_session_messages_are_redacted_with_metadata() -> None:
    m = Memory(
        "memory://",
        embedder=None,
        session="memory://",
        plugins=[PIIRedactor()],
        load_entry_points=False,
    )
    assert m.session is not None
    await m.session.add_message(
        "s1",
        {
            "role": "user",
            "content": "I'm at 10.0.0.7, mail ops@corp.io",
            "metadata": {"raw": {"text": "ops@corp.io"}},
        },
        user_id="u",
    )
    (msg,) = await m.session.get_messages("s1")
    assert msg.content == "I'm at [IP], mail [EMAIL]"
    assert msg.metadata == {"raw": {"text": "[EMAIL]"}}
