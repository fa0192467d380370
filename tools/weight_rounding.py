#!/usr/bin/env python3
"""Why rotation costs SmolLM2's 4-bit weights: is it the Q4_1 grid its F32 reference sits on?

For a few matrices of a GGUF file (F32): how many distinct values a group of 32 holds (a Q4_1 grid has at
most 16), the relative error of round to nearest in groups of 32 (symmetric as our w4 schemes, and
asymmetric) of the matrix as it is and after a seeded random orthogonal rotation of its columns, and the
same for W diag(g) (the attention norm's gain folded in, as our rotation folds it), all relative to the
matrix's norm. Prints one JSON object.

usage: weight_rounding.py MODEL.gguf [--layers 5,11,20]   (needs numpy and gguf-py)"""
import argparse
import json

import numpy as np
from gguf import GGUFReader


def rtn(w, asym, g=32):
    x = w.reshape(w.shape[0], -1, g)
    if asym:
        lo, hi = x.min(-1, keepdims=True), x.max(-1, keepdims=True)
        s = np.where(hi > lo, (hi - lo) / 15, 1.0)
        z = np.round(-lo / s)
        return ((np.clip(np.round(x / s) + z, 0, 15) - z) * s).reshape(w.shape)
    s = np.abs(x).max(-1, keepdims=True) / 8
    s = np.where(s > 0, s, 1.0)
    return (np.clip(np.round(x / s), -8, 7) * s).reshape(w.shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--layers", default="5,11,20")
    args = ap.parse_args()
    tensors = {t.name: t for t in GGUFReader(args.model).tensors}
    rng = np.random.default_rng(0)
    out = []
    for layer in (int(x) for x in args.layers.split(",")):
        g = np.array(tensors[f"blk.{layer}.attn_norm.weight"].data, dtype=np.float64)
        for kind in ("attn_q", "ffn_up", "ffn_down"):
            t = tensors[f"blk.{layer}.{kind}.weight"]
            w = np.array(t.data, dtype=np.float64).reshape(int(t.shape[1]), int(t.shape[0]))
            rot, _ = np.linalg.qr(rng.standard_normal((w.shape[1], w.shape[1])))
            row = {"name": t.name, "shape": list(w.shape),
                   "distinct_per_group": float(np.mean([len(np.unique(x)) for x in w.reshape(-1, 32)]))}
            for asym in (False, True):
                key = "asym" if asym else "sym"
                row[f"{key}_as_is"] = float(np.linalg.norm(w - rtn(w, asym)) / np.linalg.norm(w))
                wr = w @ rot.T
                row[f"{key}_rotated"] = float(np.linalg.norm(wr - rtn(wr, asym)) / np.linalg.norm(w))
            if kind == "attn_q":
                wg = w * g
                row["gain_max_over_median"] = float(np.abs(g).max() / np.median(np.abs(g)))
                row["sym_as_is_gain_folded"] = float(np.linalg.norm((w - rtn(w, False)) * g) / np.linalg.norm(wg))
                wr = wg @ rot.T
                row["sym_rotated_gain_folded"] = float(np.linalg.norm(wr - rtn(wr, False)) / np.linalg.norm(wg))
            out.append(row)
    print(json.dumps({"model": args.model, "matrices": out}))


if __name__ == "__main__":
    main()
