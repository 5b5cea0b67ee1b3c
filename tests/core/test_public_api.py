import types

import mnemoplug


def test_all_is_sorted_and_matches_exports() -> None:
    assert list(mnemoplug.__all__) == sorted(mnemoplug.__all__)
    public = {n for n in dir(mnemoplug) if not n.startswith("_")}
    # subpackages (core, providers, encryption, …) appear once something imported them
    modules = {n for n in public if isinstance(getattr(mnemoplug, n), types.ModuleType)}
    assert set(mnemoplug.__all__) == public - modules
    for name in mnemoplug.__all__:
        assert getattr(mnemoplug, name) is not None


def test_error_tree_documented() -> None:
    from mnemoplug.core import errors

    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), f"{name} missing from the exception tree docstring"
        assert issubclass(getattr(errors, name), errors.MnemoplugError)


def test_search_records_are_the_records_pydantic_would_validate() -> None:
    """StoredMemory.to_record builds MemoryRecord without validation (speed): the result must
    be indistinguishable from a validated one."""
    import copy
    import pickle

    from mnemoplug import MemoryRecord
    from mnemoplug.core.records import StoredMemory

    m = StoredMemory(
        id="01JTEST",
        user_id="u",
        content="likes tea",
        metadata={"tags": ["a"], "n": 1},
        tenant_id="t",
        agent_id="a",
        session_id="s",
        role="user",
        created_at=1_700_000_000.5,
        updated_at=1_700_000_100.0,
        expires_at=1_800_000_000.0,
        occurred_at=1_600_000_000.0,
        speaker="Ann",
    )
    fast = m.to_record(score=0.5, similarity=0.25)
    slow = MemoryRecord.model_validate(fast.model_dump())
    assert fast == slow and slow == fast
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump_json() == slow.model_dump_json()
    assert repr(fast) == repr(slow)
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_copy(update={"score": 0.9}).score == 0.9
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert copy.deepcopy(fast) == slow
    assert fast.metadata is not m.metadata and fast.metadata == m.metadata
    bare = StoredMemory(id="x", user_id="u", content="c").to_record()
    assert bare == MemoryRecord.model_validate(bare.model_dump())
    assert bare.tenant_id is None and bare.expires_at is None and bare.score is None
