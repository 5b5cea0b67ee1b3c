"""A first run says, in one line, that the embedding model is being prepared; later runs are
silent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CODE = """
from mnemoplug import OnnxEmbedder
e = OnnxEmbedder()
print(e.embed(["hello"]).shape)
"""


@pytest.mark.slow
def test_one_line_while_the_model_is_prepared_the_first_time(tmp_path: Path) -> None:
    env = {**os.environ, "MNEMOPLUG_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}

    def run() -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=600, env=env
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == "(1, 384)"
        return out

    first = run()
    lines = first.stderr.strip().splitlines()
    assert len(lines) == 1, first.stderr
    assert lines[0].startswith("mnemoplug: preparing the embedding model all-MiniLM-L6-v2")
    assert str(tmp_path / "cache") in lines[0]
    assert run().stderr == ""
