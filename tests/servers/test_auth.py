"""Bearer tokens: parsing, lookup, access rules (mnemoplug.auth)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnemoplug import ConfigurationError, MnemoplugError
from mnemoplug.auth import AccessDeniedError, Principal, TokenMap, load_tokens, token_digest

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789xx"


def _tokens() -> TokenMap:
    return TokenMap.from_mapping(
        {
            "tokens": [
                {"token": ALICE, "user": "alice", "tenant": "acme"},
                {"token_sha256": token_digest(BOB), "user": "bob"},
                {"token": "admin-token-0123456789", "user": "*", "tenant": "*", "name": "ops"},
            ]
        }
    )


def test_lookup_maps_each_token_to_its_principal_only() -> None:
    tokens = _tokens()
    assert tokens.lookup(ALICE) == Principal("alice", "acme")
    assert tokens.lookup(BOB) == Principal("bob", None)
    assert tokens.from_header(f"Bearer {ALICE}") == Principal("alice", "acme")
    assert tokens.from_header(f"bearer  {BOB} ") == Principal("bob", None)
    for bad in (None, "", "Bearer", f"Basic {ALICE}", f"Bearer {ALICE}x", ALICE):
        assert tokens.from_header(bad) is None, bad
    assert tokens.lookup(ALICE[:-1]) is None
    assert "alice" not in repr(tokens) and ALICE not in repr(tokens)


def test_access_rules() -> None:
    alice = Principal("alice", "acme")
    assert alice.may_access("alice", "acme")
    assert not alice.may_access("alice", None)  # same id, other tenant
    assert not alice.may_access("bob", "acme")
    with pytest.raises(AccessDeniedError) as info:
        alice.check_access("bob", "acme")
    assert isinstance(info.value, MnemoplugError)
    tenant_admin = Principal("*", "acme")
    assert tenant_admin.may_access("bob", "acme") and not tenant_admin.may_access("bob", None)
    root = Principal("*", "*")
    assert root.may_access("anyone", None) and root.may_access("anyone", "other")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], '{"tokens"'),
        ({"tokens": {}}, '{"tokens"'),
        ({"tokens": ["x"]}, "not an object"),
        ({"tokens": [{"user": "a"}]}, "exactly one of"),
        ({"tokens": [{"token": "short", "user": "a"}]}, "secrets.token_urlsafe"),
        ({"tokens": [{"token_sha256": "zz", "user": "a"}]}, "64 hex"),
        ({"tokens": [{"token_sha256": "z" * 64, "user": "a"}]}, "64 hex"),
        ({"tokens": [{"token": ALICE}]}, "user_id is required"),
        ({"tokens": [{"token": ALICE, "user": 5}]}, "user_id must be a string"),
        ({"tokens": [{"token": ALICE, "user": "a", "tenant": "*"}]}, "administrator"),
    ],
)
def test_bad_token_configuration_says_how_to_fix(data: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match="tokens") as info:
        TokenMap.from_mapping(data)
    assert message in str(info.value)


def test_load_tokens_from_file_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNEMOPLUG_TOKEN_FILE", raising=False)
    monkeypatch.delenv("MNEMOPLUG_TOKENS", raising=False)
    with pytest.raises(ConfigurationError, match="no bearer tokens configured"):
        load_tokens()
    monkeypatch.setenv("MNEMOPLUG_TOKENS", json.dumps({"tokens": [{"token": BOB, "user": "bob"}]}))
    assert load_tokens().lookup(BOB) == Principal("bob")
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"tokens": [{"token": ALICE, "user": "alice"}]}))
    monkeypatch.setenv("MNEMOPLUG_TOKEN_FILE", str(path))
    loaded = load_tokens()
    assert loaded.lookup(ALICE) == Principal("alice") and loaded.lookup(BOB) is None
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_tokens(path)
    path.write_text('{"tokens": []}')
    with pytest.raises(ConfigurationError, match="lists no tokens"):
        load_tokens(path)
    with pytest.raises(ConfigurationError, match="cannot read the token file"):
        load_tokens(tmp_path / "missing.json")
