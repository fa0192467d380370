#!/usr/bin/env python3
"""Outlier variants of an F32 (or F16) GGUF model of any family the library
runs (llama, qwen2, bloom, gpt2, opt): transforms that leave the FP32 function
unchanged but give chosen linear-layer inputs large channels, with channels
and factors drawn from a seed.

Sites (--sites, comma-separated; every layer gets each chosen site):
  attn_in   a few channels of the attention norm's weight (and, for LayerNorm,
            its bias) times a factor, the matching input columns of Q/K/V (or
            the fused QKV) divided by it: the QKV input carries the outliers.
  ffn_in    the same for the MLP norm and the gate/up projections.
  vo        a few V output rows (and their bias) times a factor, the O input
            columns that read them (every query head of the KV group) divided:
            attention is linear in V, so the O projection's input carries them.
  mlp       a few up rows (and bias) times a factor, the matching down columns
            divided: exact for SwiGLU (linear in up) and ReLU (positive factors
            commute with it); GELU (bloom, gpt2) is not homogeneous, so skipped.
  attn_shift, ffn_shift   (LayerNorm families) a large constant added to a few
            channels of the norm's bias, each reader's bias reduced by W[:, c]
            times it: per-channel offsets, as LayerNorm biases give real models.
Factors are log-uniform in [--min-factor, --max-factor]; a shift is a factor
times the mean |norm weight|, with a random sign. The default (--sites
attn_in,ffn_in,mlp --factor 64 --norm-channels 4 --mlp-channels 8 --seed 7) is
the variant docs/ACCURACY.md has always used: fixed factor 64.

usage: make_outlier_variant.py IN.gguf OUT.gguf [--sites LIST] [--seed N]
         [--channels K] [--min-factor A --max-factor B] [--factor F]
         [--norm-channels K] [--mlp-channels K]
F16 tensors are written as F32 (the same values), so compare a variant with
`--sites none` output of the same file, not with an F16 original."""
import argparse
import struct

import numpy as np

ALIGN = 32
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
SITES = ("attn_in", "ffn_in", "vo", "mlp", "attn_shift", "ffn_shift")


def read_gguf(path):
    """Returns (raw KV bytes, kv count, {scalar key: value}, {name: f32 array}, [names in order], alignment)."""
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
    scalars = {}
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", data, pos)
        key = data[pos + 8:pos + 8 + klen].decode()
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", data, pos)
        if vtype in (4, 5):
            (scalars[key],) = struct.unpack_from("<I" if vtype == 4 else "<i", data, pos + 4)
        elif vtype == 8:
            (n,) = struct.unpack_from("<Q", data, pos + 4)
            scalars[key] = data[pos + 12:pos + 12 + n].decode(errors="replace")
        pos = skip_value(pos + 4, vtype)
    kv_raw = data[kv_start:pos]
    alignment = scalars.get("general.alignment", ALIGN)
    infos = []
    for _ in range(n_tensors):
        (nlen,) = struct.unpack_from("<Q", data, pos)
        name = data[pos + 8:pos + 8 + nlen].decode()
        pos += 8 + nlen
        (nd,) = struct.unpack_from("<I", data, pos)
        ne = struct.unpack_from(f"<{nd}Q", data, pos + 4)
        ttype, off = struct.unpack_from("<IQ", data, pos + 4 + 8 * nd)
        pos += 4 + 8 * nd + 12
        assert ttype in (0, 1), f"{name}: only F32 and F16 models are supported (dequantize first)"
        infos.append((name, ne, ttype, off))
    base = (pos + alignment - 1) // alignment * alignment
    tensors = {}
    for name, ne, ttype, off in infos:
        count = int(np.prod(ne))
        arr = np.frombuffer(data, dtype="<f4" if ttype == 0 else "<f2", count=count, offset=base + off)
        tensors[name] = arr.astype(np.float32).reshape(tuple(reversed(ne)))
    return kv_raw, n_kv, scalars, tensors, [i[0] for i in infos], alignment


def write_gguf(path, kv_raw, n_kv, tensors, order, alignment):
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(order), n_kv)) + kv_raw
    off = 0
    for name in order:
        a = tensors[name]
        b = name.encode()
        ne = list(reversed(a.shape))
        out += struct.pack("<Q", len(b)) + b + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        out += struct.pack("<IQ", 0, off)
        off += (a.nbytes + alignment - 1) // alignment * alignment
    out += b"\0" * (-len(out) % alignment)
    for name in order:
        out += tensors[name].astype("<f4").tobytes()
        out += b"\0" * (-len(out) % alignment)
    open(path, "wb").write(out)


def readers(t, p, norm):
    """(weight, bias or None, column slice) of each projection reading the norm's output."""
    names = ("attn_qkv", "attn_q", "attn_k", "attn_v") if norm == "attn_norm" else ("ffn_gate", "ffn_up")
    return [(p + n + ".weight", p + n + ".bias" if p + n + ".bias" in t else None)
            for n in names if p + n + ".weight" in t]


class Planter:
    def __init__(self, t, scalars, rng, args):
        self.t, self.rng, self.args = t, rng, args
        arch = scalars["general.architecture"]
        self.arch = arch
        self.n_heads = scalars[f"{arch}.attention.head_count"]
        self.n_kv = scalars.get(f"{arch}.attention.head_count_kv", self.n_heads)
        self.planted = {s: 0 for s in SITES}

    def factors(self, n):
        a = self.args
        if a.factor is not None:
            return np.full(n, a.factor, dtype=np.float32)
        return np.exp(self.rng.uniform(np.log(a.min_factor), np.log(a.max_factor), n)).astype(np.float32)

    def norm_scale(self, p, norm, k):
        t = self.t
        dim = t[p + norm + ".weight"].shape[0]
        ch = self.rng.choice(dim, k, replace=False)
        f = self.factors(k)
        t[p + norm + ".weight"][ch] *= f
        if p + norm + ".bias" in t:
            t[p + norm + ".bias"][ch] *= f
        for w, _ in readers(t, p, norm):
            t[w][:, ch] /= f
        return k

    def norm_shift(self, p, norm, k):
        t = self.t
        if p + norm + ".bias" not in t:
            return 0
        g = t[p + norm + ".weight"]
        ch = self.rng.choice(g.shape[0], k, replace=False)
        delta = self.factors(k) * np.float32(np.abs(g).mean()) * self.rng.choice([-1.0, 1.0], k).astype(np.float32)
        rd = readers(t, p, norm)
        if any(b is None for _, b in rd):
            return 0
        t[p + norm + ".bias"][ch] += delta
        for w, b in rd:
            # float64 for the correction: it subtracts what the shift adds, and must not round worse than the model
            t[b] -= (t[w][:, ch].astype(np.float64) @ delta.astype(np.float64)).astype(np.float32)
        return k

    def vo(self, p, k):
        t = self.t
        o = t[p + "attn_output.weight"]
        q_width = o.shape[1]
        hd = q_width // self.n_heads
        group = self.n_heads // self.n_kv
        kv_width = self.n_kv * hd
        ch = self.rng.choice(kv_width, k, replace=False)
        f = self.factors(k)
        if p + "attn_qkv.weight" in t:  # fused rows: all of Q, then K, then V (llama.cpp's bloom and gpt2)
            rows = q_width + kv_width + ch
            t[p + "attn_qkv.weight"][rows, :] *= f[:, None]
            if p + "attn_qkv.bias" in t:
                t[p + "attn_qkv.bias"][rows] *= f
        else:
            t[p + "attn_v.weight"][ch, :] *= f[:, None]
            if p + "attn_v.bias" in t:
                t[p + "attn_v.bias"][ch] *= f
        for c, fc in zip(ch, f):
            kvh, e = divmod(int(c), hd)
            for h in range(kvh * group, (kvh + 1) * group):
                o[:, h * hd + e] /= fc
        return k

    def mlp(self, p, k):
        t = self.t
        gated = p + "ffn_gate.weight" in t
        if not gated and self.arch != "opt":  # GELU: no exact rescaling through it
            return 0
        up = t[p + "ffn_up.weight"]
        ch = self.rng.choice(up.shape[0], k, replace=False)
        f = self.factors(k)
        up[ch, :] *= f[:, None]
        if p + "ffn_up.bias" in t:
            t[p + "ffn_up.bias"][ch] *= f
        t[p + "ffn_down.weight"][:, ch] /= f
        return k

    def layer(self, p, sites):
        a = self.args
        nk, mk = a.norm_channels or a.channels, a.mlp_channels or a.channels
        for s in sites:
            if s == "attn_in":
                n = self.norm_scale(p, "attn_norm", nk)
            elif s == "ffn_in":
                n = self.norm_scale(p, "ffn_norm", nk)
            elif s == "vo":
                n = self.vo(p, a.channels)
            elif s == "mlp":
                n = self.mlp(p, mk)
            elif s == "attn_shift":
                n = self.norm_shift(p, "attn_norm", nk)
            else:
                n = self.norm_shift(p, "ffn_norm", nk)
            self.planted[s] += n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--sites", default="attn_in,ffn_in,mlp", help=f"comma-separated among {','.join(SITES)}, or none")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--channels", type=int, default=4, help="channels per site and layer")
    ap.add_argument("--norm-channels", type=int, default=None, help="overrides --channels for norm sites")
    ap.add_argument("--mlp-channels", type=int, default=None, help="overrides --channels for the mlp site")
    ap.add_argument("--factor", type=float, default=None, help="one fixed factor instead of random ones")
    ap.add_argument("--min-factor", type=float, default=16.0)
    ap.add_argument("--max-factor", type=float, default=128.0)
    args = ap.parse_args()
    if args.sites == "attn_in,ffn_in,mlp" and args.factor is None and args.norm_channels is None \
            and args.mlp_channels is None and args.channels == 4 and args.seed == 7:
        args.factor, args.mlp_channels = 64.0, 8  # the historic default variant
    sites = [] if args.sites == "none" else args.sites.split(",")
    for s in sites:
        if s not in SITES:
            ap.error(f"unknown site '{s}' (one of {', '.join(SITES)})")
    kv_raw, n_kv, scalars, t, order, alignment = read_gguf(args.inp)
    rng = np.random.default_rng(args.seed)
    planter = Planter(t, scalars, rng, args)
    layer = 0
    while f"blk.{layer}.attn_norm.weight" in t:
        planter.layer(f"blk.{layer}.", sites)
        layer += 1
    write_gguf(args.out, kv_raw, n_kv, t, order, alignment)
    done = ", ".join(f"{s} {n}" for s, n in planter.planted.items() if s in sites)
    skipped = [s for s in sites if planter.planted[s] == 0]
    print(f"{planter.arch}, {layer} layers, seed {args.seed}: channels planted {done or 'none'}"
          + (f" (not applicable: {', '.join(skipped)})" if skipped else ""))


if __name__ == "__main__":
    main()
