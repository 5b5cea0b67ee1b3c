"""The layout rules the README's Layout section states, checked on the source tree."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

SRC = Path(__file__).parent.parent / "src" / "mnemoplug"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out.append(base)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return out


def test_core_imports_no_backend_adapter_or_plugin() -> None:
    for path in sorted((SRC / "core").glob("*.py")):
        for name in _imports(path):
            assert not name.startswith(("..providers", "..adapters", "..plugins")), (path, name)
            assert not name.startswith(("mnemoplug.providers", "mnemoplug.adapters")), (path, name)


def test_one_folder_per_backend_with_its_stores_and_provider() -> None:
    backends = {p.name for p in (SRC / "providers").iterdir() if p.is_dir() and p.name[0] != "_"}
    assert {"inprocess", "sqlite", "postgres", "redis", "qdrant", "mem0"} <= backends
    for name in ("inprocess", "sqlite", "postgres", "redis"):
        folder = SRC / "providers" / name
        for module in ("memory_store.py", "session_store.py", "checkpoint_store.py", "provider.py"):
            assert (folder / module).is_file(), folder / module
    for name in ("qdrant", "mem0"):
        assert (SRC / "providers" / name / "provider.py").is_file()


def test_no_source_file_is_far_over_500_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 600
    }
    assert long == {}


def test_readme_layout_names_every_core_module_and_only_real_ones() -> None:
    readme = (SRC.parent.parent / "README.md").read_text()
    block = readme.split("## Layout", 1)[1].split("```", 2)[1].split("\ntests/", 1)[0]
    named = set(re.findall(r"[\w*]+\.py", block))
    real = {p.name for p in SRC.rglob("*.py")}
    for name in named:
        if "*" in name:
            assert any(fnmatch.fnmatch(r, name) for r in real), name
        else:
            assert name in real, f"README layout names {name}, which does not exist"
    for core in (SRC / "core").glob("*.py"):
        if core.name != "__init__.py":
            assert core.name in named, f"README layout does not mention core/{core.name}"
    for folder in ("inprocess", "sqlite", "postgres", "redis", "qdrant", "mem0", "sql"):
        assert f"{folder}/" in block, folder
