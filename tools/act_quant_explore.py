#!/usr/bin/env python3
"""The activations' 4-bit error alone on a GGUF model, simulated outside the
library to rank ways of quantizing them before one is built: the model is
loaded into transformers as tools/activation_stats.py loads it, float weights,
and every linear layer's input is quantized and read back as floats (a forward
pre-hook), as `aq-perplexity --scheme fp32,a4,...` does in the library.
Perplexity is scored as llama-perplexity scores it (context 512, the second
half of each chunk).

A variant is a comma-separated list: g16 / g32 / g64 (features per scale, one
scale per token and group), sym (amax onto 7, codes -8..7: aq_qd8_quantize_grouped_ref)
or asym (the group's range [min(x,0), max(x,0)] in 15 steps with an integer zero
point: aq_qd8_quantize_grouped_asym_ref), clip (each group's scale the least-error
of amax x 1, 0.95, ..., 0.65: aclip), rot-SITES (an orthogonal rotation of the
input at those sites, e.g. rot-down or rot-qkv+up+down, applied before and undone
after quantizing: an online rotation whose inverse is folded into the weights
that read it; a random orthogonal matrix, seed 0, not the library's Hadamard),
only-SITE (quantize that site only). With asym, clip shrinks the range
[min, max] by the same ratios. transformers' FP32 perplexity of SmolLM2 here is
not aq-perplexity's to the digit (54.73 against 54.26 on 2 chunks of Austen), so
compare changes against this tool's own FP32 line; g32 and g32,asym land within
3 points of the library's fp32,a4,ag32 and fp32,a4,ag32,aasym.

usage: act_quant_explore.py MODEL.gguf TEXT --llama-bin DIR [--chunks 2] [--json OUT] VARIANT...
Needs /work/scratch/hfvenv (torch, transformers, gguf)."""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from activation_stats import HF_SITE, llama_model, read_gguf, tokens  # noqa: E402

RATIOS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65)


def fake_quant(x, group, asym, clip, bits=4):
    shape = x.shape
    k = shape[-1]
    g = x.reshape(-1, k // group, group)
    levels, qmax = 2 ** bits - 1, 2 ** (bits - 1) - 1
    lo = g.amin(-1, keepdim=True).clamp(max=0)
    hi = g.amax(-1, keepdim=True).clamp(min=0)
    amax = g.abs().amax(-1, keepdim=True)
    best, best_err = None, None
    for r in (RATIOS if clip else (1.0,)):
        if asym:  # the range [lo, hi] shrunk by r
            s = (hi - lo) * r / levels
            s = torch.where(s == 0, torch.ones_like(s), s)
            z = torch.round(-lo * r / s)
            d = torch.minimum(torch.maximum(torch.round(g / s), -z), levels - z) * s
        else:
            s = amax * r / qmax
            s = torch.where(s == 0, torch.ones_like(s), s)
            d = torch.clamp(torch.round(g / s), -qmax - 1, qmax) * s
        err = ((g - d) ** 2).sum(-1, keepdim=True)
        if best is None:
            best, best_err = d, err
        else:
            better = err < best_err
            best = torch.where(better, d, best)
            best_err = torch.where(better, err, best_err)
    return best.reshape(shape)


def parse(variant):
    v = {"group": 32, "asym": False, "clip": False, "rot": set(), "only": None, "name": variant}
    for mod in variant.split(","):
        if mod in ("g16", "g32", "g64", "g128"):
            v["group"] = int(mod[1:])
        elif mod in ("sym", "asym"):
            v["asym"] = mod == "asym"
        elif mod == "clip":
            v["clip"] = True
        elif mod.startswith("rot-"):
            v["rot"] = set(mod[4:].split("+"))
        elif mod.startswith("only-"):
            v["only"] = mod[5:]
        elif mod != "fp32":
            sys.exit(f"unknown modifier {mod}")
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("text")
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=2)
    ap.add_argument("--json", help="write {variant: perplexity} (fp32 under 'fp32') to this file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    kv, arrays, t = read_gguf(args.model)
    model = llama_model(kv, t).eval()
    bos = kv.get("tokenizer.ggml.bos_token_id")
    ids = tokens(kv, arrays, args.model, open(args.text, encoding="utf-8").read(), args.llama_bin,
                 args.ctx * args.chunks)
    ids = [bos] + ids
    gen = torch.Generator().manual_seed(0)
    rotations = {}

    def rotation(k):
        if k not in rotations:
            q, r = torch.linalg.qr(torch.randn(k, k, generator=gen, dtype=torch.float64))
            rotations[k] = (q * torch.sign(torch.diagonal(r))).float()
        return rotations[k]

    state = {}

    def hook(site):
        def f(_mod, inp):
            v = state["v"]
            if v is None or (v["only"] and v["only"] != site):
                return None
            x = inp[0]
            if site in v["rot"]:
                r = rotation(x.shape[-1])
                return (fake_quant(x @ r, v["group"], v["asym"], v["clip"]) @ r.T,)
            return (fake_quant(x, v["group"], v["asym"], v["clip"]),)
        return f

    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.split(".")[-1] in ("q_proj", "k_proj", "v_proj", "o_proj",
                                                                          "gate_proj", "up_proj", "down_proj"):
            site = HF_SITE.get(name.split(".")[-1], {"k_proj": "qkv", "v_proj": "qkv", "gate_proj": "up"}.get(
                name.split(".")[-1]))
            mod.register_forward_pre_hook(hook(site))

    def ppl():
        nll, scored = 0.0, 0
        with torch.no_grad():
            for c in range(args.chunks):
                chunk = list(ids[c * args.ctx:(c + 1) * args.ctx])
                chunk[0] = bos
                logp = torch.log_softmax(model(torch.tensor([chunk])).logits[0].double(), dim=-1)
                half = args.ctx // 2
                nll -= float(logp[half:-1].gather(1, torch.tensor(chunk[half + 1:])[:, None]).sum())
                scored += args.ctx - half - 1
        return float(torch.exp(torch.tensor(nll / scored)))

    state["v"] = None
    base = ppl()
    print(f"fp32 {base:.4f}", flush=True)
    result = {"fp32": base}
    for variant in args.variants:
        state["v"] = parse(variant)
        result[variant] = ppl()
        print(f"{variant} {result[variant]:.4f} ({100 * (result[variant] / base - 1):+.2f}%)", flush=True)
        if args.json:
            json.dump(result, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
