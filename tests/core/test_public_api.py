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
