"""The memory-store contract (and its edge cases) against encrypted stores."""

from tests.stores.test_memory_store_contract import *  # noqa: F403
from tests.stores.test_memory_store_edges import *  # noqa: F403
