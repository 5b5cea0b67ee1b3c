"""Running embedding models without torch: :class:`OnnxEmbedder` (onnxruntime + tokenizers), the
model's files found in a folder, an installed model package or the model hub, and its ONNX
graph built from safetensors weights when no export exists. Importing this package imports
neither numpy nor onnxruntime; the model loads on first use."""

from .model_files import DEFAULT_MODEL, cache_dir, locate_model
from .onnx_embedder import OnnxEmbedder

__all__ = ["DEFAULT_MODEL", "OnnxEmbedder", "cache_dir", "locate_model"]
