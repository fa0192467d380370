#!/usr/bin/env python3
"""The outlier stress variant of an F32 LLaMA GGUF: a transform that leaves
the FP32 function unchanged but gives the linear layers' inputs outlier
channels, as 7B models have. Per layer: a few channels of each RMSNorm weight
are multiplied by FACTOR and the matching input columns of the projections
reading that norm divided by it; a few rows of the MLP up projection are
multiplied by FACTOR and the matching columns of the down projection divided.

usage: make_outlier_variant.py IN.gguf OUT.gguf [--factor 64] [--norm-channels 4] [--mlp-channels 8] [--seed 7]"""
import argparse
import struct

import numpy as np

ALIGN = 32
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def read_gguf(path):
    """Returns (raw KV bytes, kv count, {name: array}, [names in order]); F32 tensors only."""
    data = open(path, "rb").read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF" and version in (2, 3)
    pos = 24

    def skip_value(pos, vtype):
        if vtype == 8:
            (n,) = struct.unpack_from("<Q", data, pos)
            return pos + 8 + n
        if vtype == 9:
            etype, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            for _ in range(count):
                pos = skip_value(pos, etype)
            return pos
        return pos + SIZES[vtype]

    kv_start = pos
    alignment = ALIGN
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", data, pos)
        key = data[pos + 8:pos + 8 + klen].decode()
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", data, pos)
        if key == "general.alignment":
            (alignment,) = struct.unpack_from("<I", data, pos + 4)
        pos = skip_value(pos + 4, vtype)
    kv_raw = data[kv_start:pos]
    infos = []
    for _ in range(n_tensors):
        (nlen,) = struct.unpack_from("<Q", data, pos)
        name = data[pos + 8:pos + 8 + nlen].decode()
        pos += 8 + nlen
        (nd,) = struct.unpack_from("<I", data, pos)
        ne = struct.unpack_from(f"<{nd}Q", data, pos + 4)
        ttype, off = struct.unpack_from("<IQ", data, pos + 4 + 8 * nd)
        pos += 4 + 8 * nd + 12
        assert ttype == 0, f"{name}: only F32 models are supported"
        infos.append((name, ne, off))
    base = (pos + alignment - 1) // alignment * alignment
    tensors = {}
    for name, ne, off in infos:
        count = int(np.prod(ne))
        arr = np.frombuffer(data, dtype="<f4", count=count, offset=base + off).copy()
        tensors[name] = arr.reshape(tuple(reversed(ne)))
    return kv_raw, n_kv, tensors, [i[0] for i in infos]


def write_gguf(path, kv_raw, n_kv, tensors, order):
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(order), n_kv)) + kv_raw
    off = 0
    for name in order:
        a = tensors[name]
        b = name.encode()
        ne = list(reversed(a.shape))
        out += struct.pack("<Q", len(b)) + b + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        out += struct.pack("<IQ", 0, off)
        off += (a.nbytes + ALIGN - 1) // ALIGN * ALIGN
    out += b"\0" * (-len(out) % ALIGN)
    for name in order:
        out += tensors[name].astype("<f4").tobytes()
        out += b"\0" * (-len(out) % ALIGN)
    open(path, "wb").write(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--factor", type=float, default=64.0)
    ap.add_argument("--norm-channels", type=int, default=4)
    ap.add_argument("--mlp-channels", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    kv_raw, n_kv, t, order = read_gguf(args.inp)
    rng = np.random.default_rng(args.seed)
    f = np.float32(args.factor)
    layer = 0
    while f"blk.{layer}.attn_norm.weight" in t:
        p = f"blk.{layer}."
        dim = t[p + "attn_norm.weight"].shape[0]
        for norm, readers in (("attn_norm", ("attn_q", "attn_k", "attn_v")), ("ffn_norm", ("ffn_gate", "ffn_up"))):
            ch = rng.choice(dim, args.norm_channels, replace=False)
            t[p + norm + ".weight"][ch] *= f
            for r in readers:
                t[p + r + ".weight"][:, ch] /= f
        ffn = t[p + "ffn_up.weight"].shape[0]
        ch = rng.choice(ffn, args.mlp_channels, replace=False)
        t[p + "ffn_up.weight"][ch, :] *= f
        t[p + "ffn_down.weight"][:, ch] /= f
        layer += 1
    write_gguf(args.out, kv_raw, n_kv, t, order)
    print(f"{layer} layers: {args.norm_channels} norm channels and {args.mlp_channels} MLP channels x {args.factor:g}")


if __name__ == "__main__":
    main()
