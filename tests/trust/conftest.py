"""The store fixtures of the contract suites (``tests/stores/conftest.py``), for the trust
tests."""

from tests.stores.conftest import (  # noqa: F401
    checkpoint_store,
    memory_store,
    session_store,
)
