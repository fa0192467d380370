#!/usr/bin/env python3
"""Write test vectors for reference dequantizers: data/quant-vectors/<TYPE>.bin (tools only).

  make_quant_vectors.py [OUT_DIR]        (default: data/quant-vectors next to this tools/ folder)

For each GGML weight type below, rows of random-but-valid blocks (random bytes; the f16 scale
fields replaced by finite values of realistic magnitude) plus rows of edge blocks (zero scales,
all code bits set, all code bits clear, -0, the largest f16, an f16 subnormal, ...), and the
float32 values that llama.cpp's gguf-py (gguf.quants.dequantize) gives for them.
The file format is described in data/quant-vectors/README.md. Deterministic (fixed seed).

Needs llama.cpp's gguf-py (`gguf`) and numpy.
"""
import os
import struct
import sys

import numpy as np

from gguf import GGMLQuantizationType as QT
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

SEED = 20260101
MAGIC = b"AQQV"
VERSION = 1
HEADER = struct.Struct("<4s7I16s")   # 48 bytes

# f16 fields of each block: (byte offset, role). Roles: 'd' scale (random sign), 'dpos' scale that
# llama.cpp's quantizers keep >= 0, 'm' Q4_1/Q5_1 block minimum (random sign), 'dmin' K-quant min scale (>= 0).
# Log-uniform magnitude ranges per role, chosen around what llama.cpp's quantizers produce for
# weights of magnitude 1e-3..1e-1.
LAYOUT = {
    QT.Q4_0:   [(0, "d")],
    QT.Q4_1:   [(0, "dpos"), (2, "m")],
    QT.Q5_0:   [(0, "d")],
    QT.Q5_1:   [(0, "dpos"), (2, "m")],
    QT.Q8_0:   [(0, "dpos")],
    QT.Q2_K:   [(80, "dpos"), (82, "dmin")],
    QT.Q3_K:   [(108, "d")],
    QT.Q4_K:   [(0, "dpos"), (2, "dmin")],
    QT.Q5_K:   [(0, "dpos"), (2, "dmin")],
    QT.Q6_K:   [(208, "d")],
    QT.IQ4_NL: [(0, "d")],
    QT.IQ4_XS: [(0, "d")],
}
RANGE = {  # (low, high) of |value|, per type and role
    QT.Q4_0:   {"d": (1e-4, 2e-2)},
    QT.Q4_1:   {"dpos": (1e-4, 2e-2), "m": (1e-3, 2e-1)},
    QT.Q5_0:   {"d": (5e-5, 1e-2)},
    QT.Q5_1:   {"dpos": (5e-5, 1e-2), "m": (1e-3, 2e-1)},
    QT.Q8_0:   {"dpos": (1e-5, 2e-3)},
    QT.Q2_K:   {"dpos": (1e-4, 2e-2), "dmin": (1e-4, 2e-2)},
    QT.Q3_K:   {"d": (1e-5, 2e-3)},
    QT.Q4_K:   {"dpos": (1e-5, 2e-3), "dmin": (1e-5, 4e-3)},
    QT.Q5_K:   {"dpos": (5e-6, 1e-3), "dmin": (1e-5, 4e-3)},
    QT.Q6_K:   {"d": (1e-6, 2e-4)},
    QT.IQ4_NL: {"d": (1e-5, 1e-3)},
    QT.IQ4_XS: {"d": (1e-6, 1e-4)},
}
# byte ranges [start, end) holding sub-block scales (K-quants, IQ4_XS) and codes
SUBSCALES = {QT.Q2_K: [(0, 16)], QT.Q3_K: [(96, 108)], QT.Q4_K: [(4, 16)], QT.Q5_K: [(4, 16)],
             QT.Q6_K: [(192, 208)], QT.IQ4_XS: [(2, 8)]}

F16_MAX = 65504.0
F16_MIN_SUB = 2.0 ** -24
F16_MIN_NORMAL = 2.0 ** -14

QUANT_TYPES = [QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.Q2_K, QT.Q3_K, QT.Q4_K,
               QT.Q5_K, QT.Q6_K, QT.IQ4_NL, QT.IQ4_XS]


def f16_bytes(v):
    return np.array([v], dtype=np.float16).tobytes()


def set_f16(block, off, v):
    block[off:off + 2] = np.frombuffer(f16_bytes(v), dtype=np.uint8)


def code_ranges(qt, bsize):
    """byte ranges that hold neither f16 fields nor sub-scales"""
    taken = [(o, o + 2) for o, _ in LAYOUT[qt]] + SUBSCALES.get(qt, [])
    mask = np.ones(bsize, dtype=bool)
    for a, b in taken:
        mask[a:b] = False
    return mask


def random_scale(rng, qt, role):
    lo, hi = RANGE[qt][role]
    mag = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    sign = -1.0 if role in ("d", "m") and rng.random() < 0.5 else 1.0
    return sign * mag


def random_block(rng, qt, bsize):
    b = rng.integers(0, 256, size=bsize, dtype=np.uint8)
    for off, role in LAYOUT[qt]:
        set_f16(b, off, random_scale(rng, qt, role))
    return b


def edge_blocks(rng, qt, bsize):
    """(description, block) pairs"""
    codes = code_ranges(qt, bsize)
    sub = np.zeros(bsize, dtype=bool)
    for a, c in SUBSCALES.get(qt, []):
        sub[a:c] = True
    out = []

    def mk(desc, fill_codes=None, fill_sub=None, scales=None):
        b = random_block(rng, qt, bsize)
        if fill_codes is not None:
            b[codes] = fill_codes
        if fill_sub is not None:
            b[sub] = fill_sub
        if scales is not None:
            for (off, _), v in zip(LAYOUT[qt], scales):
                set_f16(b, off, v)
        out.append((desc, b))

    n = len(LAYOUT[qt])
    typical = [RANGE[qt][r][1] / 2 for _, r in LAYOUT[qt]]
    mk("all f16 scales +0, random codes", scales=[0.0] * n)
    mk("all code bits set, all sub-scale bits set", fill_codes=0xFF, fill_sub=0xFF, scales=typical)
    mk("all code bits clear, all sub-scale bits set", fill_codes=0x00, fill_sub=0xFF, scales=typical)
    mk("all code bits set, sub-scale bits clear", fill_codes=0xFF, fill_sub=0x00, scales=typical)
    mk("first scale -0, other f16 fields 1.0", scales=[-0.0] + [1.0] * (n - 1))
    mk("f16 scales = 65504 (largest f16), codes set", fill_codes=0xFF, fill_sub=0xFF, scales=[F16_MAX] * n)
    mk("f16 scales = 2^-24 (smallest f16 subnormal), random codes", scales=[F16_MIN_SUB] * n)
    mk("f16 scales = -1.0 / 1.0, codes alternate 0x0F/0xF0", scales=[-1.0] + [1.0] * (n - 1))
    # the last one: alternate nibbles inside the code bytes
    b = out[-1][1]
    idx = np.nonzero(codes)[0]
    b[idx] = np.where(np.arange(len(idx)) % 2 == 0, 0x0F, 0xF0).astype(np.uint8)
    return out


def float_edges_f16():
    v = [0.0, -0.0, 1.0, -2.0, 0.5, F16_MAX, -F16_MAX, F16_MIN_SUB, -F16_MIN_SUB, F16_MIN_NORMAL,
         -F16_MIN_NORMAL, 2.0 ** -15, 1.0 / 3.0, 65488.0, 0.1, -0.1]
    return np.array(v, dtype=np.float16).view(np.uint16)


def float_edges_bf16():
    bits = [0x0000, 0x8000, 0x3F80, 0xC000, 0x3F00,
            0x7F7F, 0xFF7F,            # +- largest finite
            0x0001, 0x8001,            # +- smallest subnormal
            0x0080, 0x8080,            # +- smallest normal
            0x007F, 0x3EAB, 0x3DCD, 0xBDCD, 0x4049]
    return np.array(bits, dtype=np.uint16)


def write(path, qt, block_elems, block_bytes, rows, n_edge):
    raw = np.concatenate([np.concatenate(r) for r in rows]).astype(np.uint8)
    n_rows, bpr = len(rows), len(rows[0])
    if qt in (QT.F16, QT.BF16):
        vals = dequantize(raw.view(np.uint16).reshape(n_rows, -1).view(np.uint8), qt)
    else:
        vals = dequantize(raw.reshape(n_rows, bpr * block_bytes), qt)
    vals = np.ascontiguousarray(vals, dtype="<f4").reshape(-1)
    assert vals.size == n_rows * bpr * block_elems
    assert np.all(np.isfinite(vals)), qt.name
    name = qt.name.encode()
    hdr = HEADER.pack(MAGIC, VERSION, int(qt), block_elems, block_bytes, n_rows, bpr, n_edge, name)
    with open(path, "wb") as f:
        f.write(hdr)
        f.write(raw.tobytes())
        f.write(vals.tobytes())
    return os.path.getsize(path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "quant-vectors")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    listing = []
    for qt in QUANT_TYPES:
        block_elems, block_bytes = GGML_QUANT_SIZES[qt]
        bpr = 8 if block_elems == 32 else 2          # 256 or 512 values per row
        n_random_rows = 8 if block_elems == 32 else 6
        rows = [[random_block(rng, qt, block_bytes) for _ in range(bpr)] for _ in range(n_random_rows)]
        edges = edge_blocks(rng, qt, block_bytes)
        for i in range(0, len(edges), bpr):
            rows.append([b for _, b in edges[i:i + bpr]])
        n_edge = len(edges) // bpr
        size = write(os.path.join(out, f"{qt.name}.bin"), qt, block_elems, block_bytes, rows, n_edge)
        listing.append((qt.name, block_elems, block_bytes, len(rows), bpr, n_edge, size, [d for d, _ in edges]))
    for qt, edges, gen in ((QT.F16, float_edges_f16(), None), (QT.BF16, float_edges_bf16(), None)):
        bpr = 256
        rows = []
        for _ in range(4):     # realistic weights: N(0, 0.02) rounded to the type
            x = rng.normal(0.0, 0.02, size=bpr).astype(np.float32)
            if qt == QT.F16:
                bits = x.astype(np.float16).view(np.uint16)
            else:
                u = x.view(np.uint32).astype(np.uint64)
                bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
            rows.append(list(bits.view(np.uint8).reshape(-1, 2)))
        # random finite bit patterns (any sign, any exponent but all-ones) and the edge values
        r = rng.integers(0, 65536, size=bpr - len(edges), dtype=np.uint16)
        expmask, = ((0x7C00,) if qt == QT.F16 else (0x7F80,))
        r = np.where((r & expmask) == expmask, r ^ (expmask & ~(expmask >> 1) & 0xFFFF), r).astype(np.uint16)
        edge_row = np.concatenate([edges, r]).astype(np.uint16)
        rows.append(list(edge_row.view(np.uint8).reshape(-1, 2)))
        size = write(os.path.join(out, f"{qt.name}.bin"), qt, 1, 2, rows, 1)
        listing.append((qt.name, 1, 2, len(rows), bpr, 1, size, []))
    for name, be, bb, nr, bpr, ne, size, _ in listing:
        print(f"{name:7s} block {be:3d} values / {bb:3d} bytes, {nr:2d} rows x {bpr:3d} blocks ({ne} edge rows), {size} bytes")


if __name__ == "__main__":
    main()
