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

Weights can be rounded too, to see which layout could hold 4-bit weights and
4-bit activations together: w4 (4-bit weights in groups along the input, as
aq_q4w_quantize_rtn_ref: symmetric with the largest element on -8, or wasym
with an integer zero point; wg16 / wg32 / wg64 the weight group, 32 if not
given), wclip-act (each group's scale searched as clip-act does: round to
nearest's and 17 ratios 36/32 .. 20/32, each refined to the least-squares scale
of its codes, for the least error weighted by the input channel's mean square
on the calibration text; asymmetric: three anchors per ratio), wgptq (GPTQ,
groups taken on the updated weights, 1% damping, the Hessian of the float
model's inputs on the calibration text); a16 leaves the activations float;
fold-norm moves the RMSNorm gains into the weights that read the qkv and up
inputs (W diag(g), x / g), as the library's rotation of the residual stream
must: without it a rotation there is applied after the gain, which stays float.
Scales are rounded to f16 as the library stores them. A rotated site's weights
are rounded in the rotated basis (W R), as the library folds its rotation into
the weights. Calibration (--calib, default data/austen-train.txt) reads 8
chunks of 512 tokens spread over the text, as aq-quantize does; the head and
the embedding table stay float here (the library's are Q8_0).

usage: act_quant_explore.py MODEL.gguf TEXT --llama-bin DIR [--chunks 2] [--calib TEXT] [--json OUT] VARIANT...
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


def weight_grid(w, group, asym, scale_ratio):
    """Group-wise 4-bit grid of w (rows, k) at scale_ratio x round to nearest's scale: (scale, zero) per group,
    scales rounded to f16. Symmetric: the signed largest element on -8 (zero 8); asymmetric: [min(w,0), max(w,0)]
    in 15 steps anchored at its low end."""
    g = w.reshape(w.shape[0], -1, group)
    if asym:
        lo = g.amin(-1, keepdim=True).clamp(max=0)
        hi = g.amax(-1, keepdim=True).clamp(min=0)
        s = ((hi - lo) * scale_ratio / 15).half().float()
        z = torch.clamp(torch.round(-lo / torch.where(s == 0, torch.ones_like(s), s)), 0, 15)
        return s, z
    idx = g.abs().argmax(-1, keepdim=True)
    s = (g.gather(-1, idx) * scale_ratio / -8).half().float()
    return s, torch.full_like(s, 8.0)


def weight_round(g, s, z):
    """Codes and dequantized values of grouped weights g on the grid (s, z); a zero scale gives zeros."""
    safe = torch.where(s == 0, torch.ones_like(s), s)
    c = torch.clamp(torch.round(g / safe) + z, 0, 15)
    return c, torch.where(s == 0, torch.zeros_like(g), (c - z) * s)


def weight_search(w, group, asym, importance):
    """clip-act's search (aq_q4w_quantize_search_ref) on every group at once: importance (k,) weighs each input."""
    g = w.reshape(w.shape[0], -1, group)
    p = importance.reshape(1, -1, group)
    s, z = weight_grid(w, group, asym, 1.0)
    _, best = weight_round(g, s, z)
    best_err = (p * (g - best) ** 2).sum(-1, keepdim=True)
    lo = g.amin(-1, keepdim=True).clamp(max=0)
    hi = g.amax(-1, keepdim=True).clamp(min=0)

    def try_scale(s, z):
        nonlocal best, best_err
        for _refine in range(2):
            s = s.half().float()
            ok = (s != 0) & torch.isfinite(s)
            c, d = weight_round(g, s, z)
            err = (p * (g - d) ** 2).sum(-1, keepdim=True)
            better = ok & (err < best_err)
            best = torch.where(better, d, best)
            best_err = torch.where(better, err, best_err)
            den = (p * (c - z) ** 2).sum(-1, keepdim=True)
            s = torch.where(den > 0, (p * g * (c - z)).sum(-1, keepdim=True) / den.clamp(min=1e-30),
                            torch.zeros_like(den))

    for r in range(36, 19, -1):
        f = r / 32
        if not asym:
            s, z = weight_grid(w, group, False, f)
            try_scale(s, z)
            continue
        s = (hi - lo) * f / 15
        safe = torch.where(s == 0, torch.ones_like(s), s)
        for anchor in (-lo / safe, 15 - hi / safe, 7.5 - (lo + hi) / (2 * safe)):
            try_scale(s, torch.clamp(torch.round(anchor), 0, 15))
    return best.reshape(w.shape)


def weight_gptq(w, h, group, asym, damp=0.01):
    """GPTQ (no reordering) of w (rows, k) against the inputs' second moment h (k, k); each group's grid is taken
    on the updated weights when the sweep reaches it."""
    w = w.clone().double()
    h = h.clone().double()
    dead = torch.diagonal(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * torch.diagonal(h).mean() * torch.eye(h.shape[0], dtype=h.dtype)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    k = w.shape[1]
    for b0 in range(0, k, 128):
        b1 = min(b0 + 128, k)
        wb = w[:, b0:b1].clone()
        err = torch.zeros_like(wb)
        hb = hinv[b0:b1, b0:b1]
        for i in range(b1 - b0):
            col = b0 + i
            if col % group == 0:
                s, z = weight_grid(wb[:, i:i + group].float(), group, asym, 1.0)  # 128 is a multiple of group
                s, z = s.reshape(-1, 1).double(), z.reshape(-1, 1).double()
            _, d = weight_round(wb[:, i:i + 1], s, z)
            q[:, col] = d[:, 0]
            e = (wb[:, i] - d[:, 0]) / hb[i, i]
            wb[:, i:] -= e[:, None] * hb[i, i:][None, :]
            err[:, i] = e
        w[:, b1:] -= err @ hinv[b0:b1, b1:]
    return q.float()


def parse(variant):
    v = {"group": 32, "asym": False, "clip": False, "rot": set(), "only": None, "name": variant, "abits": 4,
         "w": None, "wgroup": 32, "wasym": False, "wmethod": "rtn",
         "fold": False}
    for mod in variant.split(","):
        if mod in ("g16", "g32", "g64", "g128"):
            v["group"] = int(mod[1:])
        elif mod == "fold-norm":
            v["fold"] = True
        elif mod == "a16":
            v["abits"] = 0
        elif mod == "w4":
            v["w"] = 4
        elif mod in ("wg16", "wg32", "wg64"):
            v["wgroup"] = int(mod[2:])
        elif mod == "wasym":
            v["wasym"] = True
        elif mod in ("wclip-act", "wgptq"):
            v["wmethod"] = mod[1:]
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
    ap.add_argument("--calib", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                    "data", "austen-train.txt"))
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

    def hook(site, gain):
        def f(_mod, inp):
            v = state["v"]
            if v is None or not v["abits"] or (v["only"] and v["only"] != site):
                return None
            x = inp[0]
            if v["fold"] and gain is not None:
                x = x / gain
            if site in v["rot"]:
                r = rotation(x.shape[-1])
                return (fake_quant(x @ r, v["group"], v["asym"], v["clip"]) @ r.T,)
            return (fake_quant(x, v["group"], v["asym"], v["clip"]),)
        return f

    linears = {}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.split(".")[-1] in ("q_proj", "k_proj", "v_proj", "o_proj",
                                                                          "gate_proj", "up_proj", "down_proj"):
            site = HF_SITE.get(name.split(".")[-1], {"k_proj": "qkv", "v_proj": "qkv", "gate_proj": "up"}.get(
                name.split(".")[-1]))
            layer = model.model.layers[int(name.split(".")[2])]
            gain = {"qkv": layer.input_layernorm.weight, "up": layer.post_attention_layernorm.weight}.get(site)
            mod.register_forward_pre_hook(hook(site, gain))
            linears[name] = (mod, site, mod.weight.data.clone(), gain)

    moments = {}

    def calibrate():
        """Each linear input's second moment (k, k) on the float model, over 8 chunks spread over --calib."""
        cal = tokens(kv, arrays, args.model, open(args.calib, encoding="utf-8").read(), args.llama_bin, 10 ** 9)
        n = min(8, len(cal) // args.ctx)
        stride = len(cal) // n

        def observe(name):
            def f(_mod, inp):
                x = inp[0].reshape(-1, inp[0].shape[-1]).double()
                moments[name] = moments.get(name, 0) + x.T @ x
            return f
        handles = [mod.register_forward_pre_hook(observe(name)) for name, (mod, _, _, _) in linears.items()]
        with torch.no_grad():
            for c in range(n):
                chunk = [bos] + cal[c * stride:c * stride + args.ctx - 1]
                model(torch.tensor([chunk]))
        for h in handles:
            h.remove()
        for name in moments:
            moments[name] = (moments[name] / (n * args.ctx)).float()

    def set_weights(v):
        for name, (mod, site, w, gain) in linears.items():
            fold = v is not None and v["fold"] and gain is not None
            if v is None or (v["w"] is None and not fold):
                mod.weight.data.copy_(w)
                continue
            if fold:  # the norm's gain moved into the weights, as the library's residual rotation needs
                w = w * gain.detach()
            if v["w"] is None:
                mod.weight.data.copy_(w)
                continue
            r = rotation(w.shape[1]) if site in v["rot"] else None
            wr = w @ r if r is not None else w
            if v["wmethod"] == "rtn":
                q = weight_round(wr.reshape(w.shape[0], -1, v["wgroup"]),
                                 *weight_grid(wr, v["wgroup"], v["wasym"], 1.0))[1].reshape(w.shape)
            else:
                if not moments:
                    calibrate()
                h = moments[name]
                if fold:
                    h = h / gain.detach()[:, None] / gain.detach()[None, :]
                h = h if r is None else r.T @ h @ r
                if v["wmethod"] == "clip-act":
                    q = weight_search(wr, v["wgroup"], v["wasym"], torch.diagonal(h).clone())
                else:
                    q = weight_gptq(wr, h, v["wgroup"], v["wasym"])
            mod.weight.data.copy_(q @ r.T if r is not None else q)

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
    set_weights(None)
    base = ppl()
    print(f"fp32 {base:.4f}", flush=True)
    result = {"fp32": base}
    for variant in args.variants:
        state["v"] = parse(variant)
        set_weights(state["v"])
        result[variant] = ppl()
        print(f"{variant} {result[variant]:.4f} ({100 * (result[variant] / base - 1):+.2f}%)", flush=True)
        if args.json:
            json.dump(result, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
