"""The session-store and checkpoint-store contracts against encrypted stores (the fixtures of
``tests/encryption/conftest.py`` wrap every backend)."""

from tests.stores.test_checkpoint_store_contract import (  # noqa: F401
    cps,
    test_bad_input_raises_typed_errors,
    test_bytes_and_scalar_states,
    test_concurrent_saves,
    test_delete_one_run_and_user,
    test_list_newest_first_limit_before,
    test_resave_same_id_replaces_in_place,
    test_save_load_latest_and_by_id,
    test_user_isolation,
)
from tests.stores.test_session_store_contract import (  # noqa: F401
    store,
    test_bad_input_stores_nothing,
    test_clear,
    test_clear_all_per_user_and_tenant,
    test_clear_old_sessions,
    test_concurrent_appends_lose_nothing,
    test_hooks_rewrite_and_reject,
    test_isolation,
    test_langchain_like_objects_and_metadata,
    test_list_sessions,
    test_order_and_limit,
    test_search,
    test_summarize_default_and_custom,
)
