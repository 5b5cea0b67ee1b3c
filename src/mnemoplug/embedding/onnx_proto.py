"""A minimal writer for ONNX model files (the protobuf wire format), so that building a graph
needs neither the ``onnx`` package nor protobuf: only the messages and fields a plain inference
graph uses (model, opset, graph, node, attribute, tensor with raw data, value info).

Field numbers are those of ``onnx.proto``; the tests read the output back with ``onnx``.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FLOAT", "INT8", "INT32", "INT64", "GraphWriter"]

# TensorProto.DataType
FLOAT = 1
INT8 = 3
INT32 = 6
INT64 = 7

_NUMPY_TYPES = {"float32": FLOAT, "int8": INT8, "int32": INT32, "int64": INT64}
_VARINT, _FIXED32, _BYTES = 0, 5, 2
_EXTERNAL_MIN = 4096  # initializers from this size go to the external data file
_ALIGN = 65536  # offsets there: a multiple of every platform's mapping granularity
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_FLOATS, _ATTR_INTS = 1, 2, 3, 6, 7


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, as protobuf encodes negative int64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, _VARINT) + _varint(value)


def _bytes(field: int, payload: bytes) -> bytes:
    return _key(field, _BYTES) + _varint(len(payload)) + payload


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode())


def _attribute(name: str, value: Any) -> bytes:
    out = _str(1, name)
    if isinstance(value, bool | int):
        return out + _int(20, _ATTR_INT) + _int(3, int(value))
    if isinstance(value, float):
        return out + _int(20, _ATTR_FLOAT) + _key(2, _FIXED32) + struct.pack("<f", value)
    if isinstance(value, str):
        return out + _int(20, _ATTR_STRING) + _str(4, value)
    values = list(value)
    if all(isinstance(v, int) for v in values):
        return out + _int(20, _ATTR_INTS) + b"".join(_int(8, v) for v in values)
    floats = b"".join(_key(7, _FIXED32) + struct.pack("<f", v) for v in values)
    return out + _int(20, _ATTR_FLOATS) + floats


def _value_info(name: str, elem_type: int, dims: Sequence[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _str(2, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


class GraphWriter:
    """Collects nodes and initializers, then writes one ONNX model.

    ``const(name, array)`` adds a numpy array as an initializer; ``node(op, inputs, output,
    **attributes)`` adds a node with one output and returns the output's name.
    """

    def __init__(self) -> None:
        self._nodes: list[bytes] = []
        # (dims + type + name, raw data): the data stays a view of the array until written
        self._initializers: list[tuple[bytes, memoryview]] = []

    def const(self, name: str, array: Any) -> str:
        import numpy as np

        arr = np.ascontiguousarray(array)
        dtype = _NUMPY_TYPES.get(arr.dtype.name)
        if dtype is None:
            raise TypeError(f"unsupported initializer type {arr.dtype} for {name}")
        little: Any = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        header = b"".join(_int(1, d) for d in arr.shape) + _int(2, dtype) + _str(8, name)
        self._initializers.append((header, memoryview(little).cast("B")))
        return name

    def node(
        self, op: str, inputs: Iterable[str], output: str, *, domain: str = "", **attributes: Any
    ) -> str:
        body = b"".join(_str(1, i) for i in inputs) + _str(2, output) + _str(3, output)
        body += _str(4, op) + (_str(7, domain) if domain else b"")
        body += b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())
        self._nodes.append(body)
        return output

    def write(
        self,
        path: Path,
        name: str,
        inputs: Sequence[tuple[str, int, Sequence[int | str]]],
        outputs: Sequence[tuple[str, int, Sequence[int | str]]],
        opsets: dict[str, int],
        *,
        external_data: bool = False,
        ir_version: int = 8,
    ) -> None:
        """Write the model to ``path``; ``inputs``/``outputs`` are (name, elem type, dims).
        With ``external_data`` the larger initializers go to ``<path>.data``, each at an offset
        aligned for memory mapping (onnxruntime then maps the weights instead of copying them).
        Each file is written whole or not at all; the model file comes last."""
        data_name = path.name + ".data"
        data: list[bytes | memoryview] = []
        offset = 0
        graph: list[bytes | memoryview] = [b"".join(_bytes(1, n) for n in self._nodes)]
        graph.append(_str(2, name))
        for header, raw in self._initializers:
            if external_data and raw.nbytes >= _EXTERNAL_MIN:
                pad = -offset % _ALIGN
                data += [b"\0" * pad, raw]
                offset += pad
                where = {"location": data_name, "offset": offset, "length": raw.nbytes}
                entries = b"".join(
                    _bytes(13, _str(1, k) + _str(2, str(v))) for k, v in where.items()
                )
                tensor = header + entries + _int(14, 1)  # data_location = EXTERNAL
                graph.append(_bytes(5, tensor))
                offset += raw.nbytes
            else:
                head = header + _key(9, _BYTES) + _varint(raw.nbytes)
                graph += [_key(5, _BYTES) + _varint(len(head) + raw.nbytes) + head, raw]
        graph.append(b"".join(_bytes(11, _value_info(*i)) for i in inputs))
        graph.append(b"".join(_bytes(12, _value_info(*o)) for o in outputs))
        graph_size = sum(len(c) if isinstance(c, bytes) else c.nbytes for c in graph)
        opset_ids = b"".join(_bytes(8, _str(1, d) + _int(2, v)) for d, v in opsets.items())
        head = _int(1, ir_version) + opset_ids + _str(2, "mnemoplug")
        if data:
            _write_atomically(path.parent / data_name, data)
        _write_atomically(path, [head + _key(7, _BYTES) + _varint(graph_size), *graph])


def _write_atomically(path: Path, chunks: list[bytes | memoryview]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.writelines(chunks)
        os.replace(tmp, path)  # a reader sees a complete file or none
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
