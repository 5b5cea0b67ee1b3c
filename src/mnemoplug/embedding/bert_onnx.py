"""Build the ONNX graph of a BERT sentence encoder from its safetensors weights, without torch.

The graph computes what sentence-transformers computes for a mean-pooling BERT model (e.g.
all-MiniLM-L6-v2): embeddings + LayerNorm, ``num_hidden_layers`` post-norm encoder layers
(exact erf GELU), mean pooling over the attention mask, L2 normalisation. Inputs are
``input_ids`` and ``attention_mask`` (int64, ``[batch, tokens]``); the output
``sentence_embedding`` is ``[batch, hidden]`` float32. Token type 0 is folded into the position
table (a sentence encoder embeds one segment). ``int8=True`` stores the encoder's matrices as
int8 with one scale per output column and multiplies them with onnxruntime's
``DynamicQuantizeMatMul`` (dynamic quantization: activations are quantized per call).
Needs only ``numpy`` and ``safetensors``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .onnx_proto import FLOAT, INT32, INT64, GraphWriter

__all__ = ["build_bert_onnx", "is_bert_config"]

OPSET = 17  # LayerNormalization; ReduceL2 still takes its axes as an attribute


def is_bert_config(config: dict[str, Any]) -> bool:
    """Whether :func:`build_bert_onnx` can build the model this ``config.json`` describes."""
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act", "gelu") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
    )


def _weights(model_dir: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    raw = load_file(str(model_dir / "model.safetensors"))
    # saved from BertModel: bare names; from a BertFor* head model: a "bert." prefix
    return {k.removeprefix("bert."): v for k, v in raw.items()}


def build_bert_onnx(
    model_dir: Path,
    out: Path,
    *,
    int8: bool = False,
    pooled: bool = True,
    external_data: bool = True,
    fused: bool = True,
) -> None:
    """Write the sentence-embedding graph of the BERT model in ``model_dir`` (``config.json``,
    ``model.safetensors``) to ``out`` and its weights to ``<out>.data`` (onnxruntime maps them
    into memory: a third of the load time of a single file), each file atomically.
    ``pooled=False`` ends at the token embeddings (output ``last_hidden_state``), as the hub's
    exports do. ``fused`` (fp32 only) writes each encoder layer with onnxruntime's fused CPU
    kernels (Attention, SkipLayerNormalization, BiasGelu); else with standard ONNX operators."""
    import numpy as np

    config = json.loads((model_dir / "config.json").read_text())
    if not is_bert_config(config):
        raise ValueError(f"{model_dir} is not a BERT model with absolute positions and GELU")
    w = _weights(model_dir)
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    f32 = np.float32
    g = GraphWriter()

    def scalar(name: str, value: float) -> str:
        return g.const(name, np.array(value, dtype=f32))

    def linear(x: str, prefix: str, scale: float = 1.0) -> str:
        weight = np.ascontiguousarray(w[f"{prefix}.weight"].T, dtype=f32)  # [in, out]
        bias_values = np.asarray(w[f"{prefix}.bias"], dtype=f32)
        if scale != 1.0:
            weight, bias_values = weight * f32(scale), bias_values * f32(scale)
        bias = g.const(f"{prefix}.b", bias_values)
        if not int8:
            y = g.node("MatMul", [x, g.const(f"{prefix}.W", weight)], f"{prefix}.mm")
            return g.node("Add", [y, bias], f"{prefix}.out")
        col_scale = np.maximum(np.abs(weight).max(axis=0), 1e-12).astype(f32) / f32(127)
        q = np.clip(np.rint(weight / col_scale), -127, 127).astype(np.int8)
        zero_point = g.const(f"{prefix}.Wz", np.zeros(q.shape[1], dtype=np.int8))
        inputs = [x, g.const(f"{prefix}.Wq", q), g.const(f"{prefix}.Ws", col_scale)]
        return g.node(
            "DynamicQuantizeMatMul",
            [*inputs, zero_point, bias],
            f"{prefix}.out",
            domain="com.microsoft",
        )

    def layer_norm(x: str, prefix: str) -> str:
        gamma = g.const(f"{prefix}.gamma", np.asarray(w[f"{prefix}.weight"], dtype=f32))
        beta = g.const(f"{prefix}.beta", np.asarray(w[f"{prefix}.bias"], dtype=f32))
        return g.node("LayerNormalization", [x, gamma, beta], f"{prefix}.out", axis=-1, epsilon=eps)

    # embeddings: word + (position + token type 0), then LayerNorm
    table = g.const(
        "word_embeddings", np.asarray(w["embeddings.word_embeddings.weight"], dtype=f32)
    )
    words = g.node("Gather", [table, "input_ids"], "words")
    positions = (
        w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    ).astype(f32)
    shape = g.node("Shape", ["input_ids"], "ids_shape")
    one, two = g.const("i_one", np.array([1])), g.const("i_two", np.array([2]))
    length = g.node("Slice", [shape, one, two], "length")
    zero = g.const("i_zero", np.array([0]))
    pos = g.node("Slice", [g.const("positions", positions), zero, length, zero], "pos")
    x = layer_norm(g.node("Add", [words, pos], "emb_sum"), "embeddings.LayerNorm")

    mask = g.node("Cast", ["attention_mask"], "mask_f", to=FLOAT)
    fused = fused and not int8
    if fused:
        mask_i32 = g.node("Cast", ["attention_mask"], "mask_i32", to=INT32)
    else:
        # attention bias [batch, 1, 1, tokens]: 0 where attended, -10000 where padded
        inverted = g.node("Sub", [scalar("f_one", 1.0), mask], "mask_inv")
        bias = g.node("Mul", [inverted, scalar("f_neg", -1e4)], "mask_bias_2d")
        bias = g.node("Unsqueeze", [bias, g.const("axes_1_2", np.array([1, 2]))], "mask_bias")
        split_heads = g.const("split_heads", np.array([0, 0, heads, head_dim]))
        merge_heads = g.const("merge_heads", np.array([0, 0, hidden]))
        half, rsqrt2 = scalar("f_half", 0.5), scalar("f_rsqrt2", 1 / math.sqrt(2))
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"
        a = f"{p}.attention"
        if fused:
            x = _fused_layer(g, w, x, p, mask_i32, heads, eps)
            continue

        def heads_of(t: str, name: str, perm: list[int]) -> str:
            return g.node(
                "Transpose", [g.node("Reshape", [t, split_heads], name + "4")], name, perm=perm
            )

        # 1/sqrt(head_dim) is folded into the query projection
        q = heads_of(linear(x, f"{a}.self.query", 1 / math.sqrt(head_dim)), f"{a}.q", [0, 2, 1, 3])
        k = heads_of(linear(x, f"{a}.self.key"), f"{a}.k", [0, 2, 3, 1])
        v = heads_of(linear(x, f"{a}.self.value"), f"{a}.v", [0, 2, 1, 3])
        scores = g.node("Add", [g.node("MatMul", [q, k], f"{a}.qk"), bias], f"{a}.scores")
        probs = g.node("Softmax", [scores], f"{a}.probs", axis=-1)
        ctx = g.node("MatMul", [probs, v], f"{a}.pv")
        ctx = g.node("Transpose", [ctx], f"{a}.ctx_t", perm=[0, 2, 1, 3])
        ctx = g.node("Reshape", [ctx, merge_heads], f"{a}.ctx")
        attn = linear(ctx, f"{a}.output.dense")
        x = layer_norm(g.node("Add", [attn, x], f"{a}.residual"), f"{a}.output.LayerNorm")
        h = linear(x, f"{p}.intermediate.dense")
        erf = g.node("Erf", [g.node("Mul", [h, rsqrt2], f"{p}.h_s")], f"{p}.erf")
        erf1 = g.node("Add", [erf, scalar(f"{p}.f_one", 1.0)], f"{p}.erf1")
        gelu = g.node("Mul", [g.node("Mul", [h, half], f"{p}.h_half"), erf1], f"{p}.gelu")
        ffn = linear(gelu, f"{p}.output.dense")
        x = layer_norm(g.node("Add", [ffn, x], f"{p}.residual"), f"{p}.output.LayerNorm")

    tokens: list[int | str] = ["batch", "tokens"]
    if pooled:
        output = _pool(g, x, mask, scalar)
    else:
        output = g.node("Identity", [x], "last_hidden_state")
    opsets = {"": OPSET, "com.microsoft": 1} if int8 or fused else {"": OPSET}
    g.write(
        out,
        "sentence_embedding",
        [("input_ids", INT64, tokens), ("attention_mask", INT64, tokens)],
        [(output, FLOAT, ["batch", hidden] if pooled else [*tokens, hidden])],
        opsets,
        external_data=external_data,
    )


def _fused_layer(
    g: GraphWriter, w: dict[str, Any], x: str, p: str, mask: str, heads: int, eps: float
) -> str:
    """One post-norm BERT layer from onnxruntime's contrib operators (domain com.microsoft):
    the same arithmetic as the standard operators, in four kernels instead of ~25."""
    import numpy as np

    def weight(name: str) -> Any:
        return np.ascontiguousarray(w[f"{name}.weight"].T, dtype=np.float32)  # [in, out]

    def bias(name: str) -> Any:
        return np.asarray(w[f"{name}.bias"], dtype=np.float32)

    a, ms = f"{p}.attention", "com.microsoft"
    qkv = [f"{a}.self.{n}" for n in ("query", "key", "value")]
    w_qkv = g.const(f"{a}.W_qkv", np.concatenate([weight(n) for n in qkv], axis=1))
    b_qkv = g.const(f"{a}.b_qkv", np.concatenate([bias(n) for n in qkv]))
    ctx = g.node("Attention", [x, w_qkv, b_qkv, mask], f"{a}.ctx", domain=ms, num_heads=heads)

    def skip_norm(y: str, dense: str, norm: str) -> str:
        mm = g.node("MatMul", [y, g.const(f"{dense}.W", weight(dense))], f"{dense}.mm")
        inputs = [mm, x] + [
            g.const(
                f"{norm}.{k}",
                bias(norm) if k == "beta" else np.asarray(w[f"{norm}.weight"], dtype=np.float32),
            )
            for k in ("gamma", "beta")
        ]
        inputs.append(g.const(f"{dense}.b", bias(dense)))
        return g.node("SkipLayerNormalization", inputs, f"{norm}.out", domain=ms, epsilon=eps)

    x = skip_norm(ctx, f"{a}.output.dense", f"{a}.output.LayerNorm")
    inter = f"{p}.intermediate.dense"
    h = g.node("MatMul", [x, g.const(f"{inter}.W", weight(inter))], f"{inter}.mm")
    gelu = g.node("BiasGelu", [h, g.const(f"{inter}.b", bias(inter))], f"{p}.gelu", domain=ms)
    return skip_norm(gelu, f"{p}.output.dense", f"{p}.output.LayerNorm")


def _pool(g: GraphWriter, x: str, mask: str, scalar: Any) -> str:
    import numpy as np

    # mean pooling over attended tokens, then L2 normalisation (sentence-transformers' eps)
    m3 = g.node("Unsqueeze", [mask, g.const("axis_2", np.array([2]))], "mask_3d")
    axis1 = g.const("axis_1", np.array([1]))
    summed = g.node("ReduceSum", [g.node("Mul", [x, m3], "masked"), axis1], "summed", keepdims=0)
    count = g.node("ReduceSum", [m3, axis1], "count", keepdims=0)
    mean = g.node(
        "Div", [summed, g.node("Max", [count, scalar("f_tiny", 1e-9)], "count_min")], "mean"
    )
    norm = g.node("ReduceL2", [mean], "norm", axes=[1], keepdims=1)
    norm = g.node("Max", [norm, scalar("f_norm_eps", 1e-12)], "norm_min")
    return g.node("Div", [mean, norm], "sentence_embedding")
