"""A minimal GGUF v3 writer (ggml's docs/gguf.md), enough for llama.cpp's
LLAMA models with F32/F16 tensors."""
import struct

import numpy as np

UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9
ALIGN = 32
TENSOR_TYPES = {np.float32: 0, np.float16: 1}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, v):
    if vtype == UINT32:
        return struct.pack("<I", v)
    if vtype == INT32:
        return struct.pack("<i", v)
    if vtype == FLOAT32:
        return struct.pack("<f", v)
    if vtype == BOOL:
        return struct.pack("<B", 1 if v else 0)
    if vtype == STRING:
        return _str(v)
    raise ValueError(vtype)


class GGUFWriter:
    def __init__(self):
        self.kv = []
        self.tensors = []

    def add(self, key, vtype, value):
        self.kv.append(_str(key) + struct.pack("<I", vtype) + _value(vtype, value))

    def add_array(self, key, elem_type, values):
        body = b"".join(_value(elem_type, v) for v in values)
        self.kv.append(_str(key) + struct.pack("<IIQ", ARRAY, elem_type, len(values)) + body)

    def add_tensor(self, name, array):
        """array in PyTorch/numpy order (rows, cols): GGUF's ne is reversed."""
        a = np.ascontiguousarray(array)
        self.tensors.append((name, a))

    def write(self, path):
        out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv)))
        for kv in self.kv:
            out += kv
        offset = 0
        offsets = []
        for name, a in self.tensors:
            offsets.append(offset)
            ne = list(reversed(a.shape))
            out += _str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
            out += struct.pack("<IQ", TENSOR_TYPES[a.dtype.type], offset)
            offset += (a.nbytes + ALIGN - 1) // ALIGN * ALIGN
        out += b"\0" * (-len(out) % ALIGN)
        for (name, a), off in zip(self.tensors, offsets):
            out += a.tobytes()
            out += b"\0" * (-len(out) % ALIGN)
        with open(path, "wb") as f:
            f.write(out)
