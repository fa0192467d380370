#!/usr/bin/env python3
"""Regenerates docs/OUTLIERS.md: our schemes on a real model's own outliers
(SmolLM2-135M-Instruct, dequantized to F32) next to llama.cpp's Q4_0 and Q8_0
of the same F32 file; activation statistics of SmolLM2 and of our trained
models (tools/activation_stats.py, run in a transformers venv); and the worst
case over seeded outlier variants (tools/make_outlier_variant.py) per scheme
and family.

usage: outliers_table.py --build BUILD --llama-bin DIR [--python-hf PY] [--chunks N]
         [--seeds N] [--jobs 2] [--out docs/OUTLIERS.md]
BUILD is a release build of this repository (examples/aq-perplexity); DIR holds
llama.cpp's llama-quantize, llama-perplexity and llama-tokenize; PY is a python
with torch, transformers and gguf. Results are cached in BUILD/outliers/results.json
(keyed by model file, text, scheme and chunk count): --fresh ignores the cache."""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTX = 512
TEXTS = [("Austen held-out", "data/austen-test.txt"), ("Brown", "data/brown-sample.txt")]
CALIB = "data/austen-train.txt"
CHECK_CHUNKS, CHECK_SCHEMES = 8, "w4a8o;w4a4o"  # the longer check on SmolLM2, by default
# The smoothed W4A4 with V/O balancing with symmetric weights, and with the 4-bit KV cache.
SMOOTH_SYM = "w4a4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,aasym"
SMOOTH_KV4 = "w4a4kv4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,asym,aasym"
# SmolLM2: schemes that need no calibration pass first (round to nearest), then the calibrated ones;
# --smol-schemes picks a subset when time is short.
SMOL_SCHEMES = [
    ("FP32 with the rotation and both balancings folded in (the same function)", "fp32,rotate,balance,balance-vo"),
    ("W4A16, round to nearest", "w4a16,rtn"),
    ("W4A16, round to nearest, asymmetric (an integer zero point)", "w4a16,rtn,asym"),
    ("W4A16, round to nearest, rotation in 64-wide blocks (format version 1)", "w4a16,rtn,rotate-blocked"),
    ("W4A16, round to nearest, full-width rotation", "w4a16,rtn,rotate"),
    ("W4A16, round to nearest, full-width rotation, MLP and V/O balancing (the weights of `w4a8,rtn`)",
     "w4a16,rtn,rotate,balance,balance-vo"),
    ("W4A16, GPTQ (`w4a16`)", "w4a16"),
    ("W4A8 dynamic per-token, RTN, no rotation or balancing", "w4a8,rtn,no-rotate,no-balance"),
    ("W4A8, RTN, blocked rotation, MLP balancing (the default before this change)",
     "w4a8,rtn,rotate-blocked,no-balance-vo"),
    ("W4A8, RTN, full-width rotation, no balancing", "w4a8,rtn,no-balance"),
    ("W4A8, RTN, full-width rotation, MLP balancing", "w4a8,rtn,no-balance-vo"),
    ("W4A8, RTN, full-width rotation, MLP and V/O balancing", "w4a8,rtn"),
    ("W4A8, GPTQ, full-width rotation, MLP and V/O balancing (`w4a8`)", "w4a8"),
    ("W4A4 dynamic per-token, RTN, no rotation or balancing", "w4a4,rtn,no-rotate,no-balance"),
    ("W4A4 dynamic per-token, RTN asymmetric, no rotation or balancing", "w4a4,rtn,no-rotate,no-balance,asym"),
    ("W4A4, RTN, blocked rotation, MLP balancing (the default before this change)",
     "w4a4,rtn,rotate-blocked,no-balance-vo"),
    ("W4A4, RTN, blocked rotation, MLP balancing, down input at 8 bits", "w4a4,rtn,rotate-blocked,no-balance-vo,down8"),
    ("W4A4, RTN, full-width rotation, MLP and V/O balancing", "w4a4,rtn"),
    ("the same, only the attention input (Q/K/V) at 4 bits", "w4a4,rtn,only-qkv"),
    ("the same, only the output projection's input at 4 bits", "w4a4,rtn,only-o"),
    ("the same, only the MLP input (gate/up) at 4 bits", "w4a4,rtn,only-up"),
    ("the same, only the down projection's input at 4 bits", "w4a4,rtn,only-down"),
    ("W4A4, GPTQ, full-width rotation, MLP and V/O balancing (`w4a4`)", "w4a4"),
    # Group-wise activation scales (one per token and 32 features) next to per-token ones.
    ("W4A8 dynamic, one scale per token and 32 features, RTN, no rotation or balancing",
     "w4a8,rtn,no-rotate,no-balance,ag32"),
    ("W4A8 dynamic, one scale per token and 32 features, GPTQ, no rotation or balancing",
     "w4a8,no-rotate,no-balance,ag32"),
    ("W4A8, one scale per token and 32 features, RTN, full-width rotation, MLP and V/O balancing", "w4a8,rtn,ag32"),
    ("W4A4, one scale per token and 32 features, RTN, full-width rotation, MLP and V/O balancing", "w4a4,rtn,ag32"),
    # Searched weight scales (aq_q4w_quantize_search_ref): least squared error per group (clip), or weighted by the
    # mean square of the input channel each weight reads on the calibration text (clip-act, as llama.cpp's imatrix).
    ("W4A16, round to nearest, scales searched for least error", "w4a16,rtn,clip"),
    ("W4A16, round to nearest, scales searched for least error weighted by the inputs' mean squares",
     "w4a16,rtn,clip-act"),
    ("W4A8, one scale per token and 32 features, RTN, searched scales, no rotation or balancing",
     "w4a8,rtn,no-rotate,no-balance,ag32,clip"),
    ("W4A8, one scale per token and 32 features, RTN, activation-weighted searched scales, no rotation or balancing",
     "w4a8,rtn,no-rotate,no-balance,ag32,clip-act"),
    ("W4A8, one scale per token and 32 features, GPTQ, activation-weighted searched scales, no rotation or "
     "balancing", "w4a8,no-rotate,no-balance,ag32,clip-act"),
    ("W4A4, one scale per token and 32 features, RTN, activation-weighted searched scales, full-width rotation, "
     "MLP and V/O balancing", "w4a4,rtn,ag32,clip-act"),
    ("W4A4, one scale per token and 32 features, RTN, activation-weighted searched scales, full-width rotation, "
     "no balancing", "w4a4,rtn,no-balance,ag32,clip-act"),
    ("W4A4, one scale per token and 32 features, RTN, activation-weighted searched scales, no rotation or balancing",
     "w4a4,rtn,no-rotate,no-balance,ag32,clip-act"),
    ("the same, the down projection's input at 8 bits (not W4A4 throughout)",
     "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,down8"),
    # Atom's mixed precision: N activation groups of 32 of each input at 8 bits (mix8-N), the rest at 4.
    ("W4A4, one scale per token and 32 features, 2 groups of each input at 8 bits, RTN, activation-weighted searched "
     "scales, no rotation or balancing", "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,mix8-2"),
    ("the same, 4 groups of each input at 8 bits", "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,mix8-4"),
    ("the same, 8 groups of each input at 8 bits", "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,mix8-8"),
    ("the same, 4 groups of each input at 8 bits, each 4-bit group's scale clipped for the least error",
     "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,mix8-4,aclip"),
    # The activations' error alone: float weights, activations quantized and read back as floats.
    ("float weights, 8-bit activations per token", "fp32,a8"),
    ("float weights, 8-bit activations per token and 32 features", "fp32,a8,ag32"),
    ("float weights, 4-bit activations per token", "fp32,a4"),
    ("float weights, 4-bit activations per token and 32 features", "fp32,a4,ag32"),
    ("float weights, 4-bit activations per token, full-width rotation", "fp32,a4,rotate"),
    ("float weights, 4-bit activations per token and 32 features, full-width rotation", "fp32,a4,rotate,ag32"),
    ("float weights, 4-bit activations per token, rotation and both balancings (the activations of `w4a4,rtn`)",
     "fp32,a4,rotate,balance,balance-vo"),
    ("the same, one scale per token and 32 features", "fp32,a4,rotate,balance,balance-vo,ag32"),
    ("the same, only the attention input (Q/K/V) quantized", "fp32,a4,rotate,balance,balance-vo,ag32,only-qkv"),
    ("the same, only the output projection's input quantized", "fp32,a4,rotate,balance,balance-vo,ag32,only-o"),
    ("the same, only the MLP input (gate/up) quantized", "fp32,a4,rotate,balance,balance-vo,ag32,only-up"),
    ("the same, only the down projection's input quantized", "fp32,a4,rotate,balance,balance-vo,ag32,only-down"),
    ("float weights, 4-bit activations per token and 32 features, 2 groups of each input at 8 bits",
     "fp32,a4,ag32,mix8-2"),
    ("the same, 4 groups of each input at 8 bits", "fp32,a4,ag32,mix8-4"),
    ("the same, 8 groups of each input at 8 bits", "fp32,a4,ag32,mix8-8"),
    ("float weights, 4-bit activations per token and 32 features, each group's scale clipped for the least error",
     "fp32,a4,ag32,aclip"),
    ("the same, full-width rotation", "fp32,a4,rotate,ag32,aclip"),
    ("the same without rotation, 4 groups of each input at 8 bits", "fp32,a4,ag32,mix8-4,aclip"),
    ("the same with the rotation, 4 groups of each input at 8 bits", "fp32,a4,rotate,ag32,mix8-4,aclip"),
    # One input at a time without the rotation, to see where a rotation would help (float weights, ag32).
    ("float weights, 4-bit activations per token and 32 features, no rotation, only the attention input (Q/K/V)",
     "fp32,a4,ag32,only-qkv"),
    ("the same, only the output projection's input", "fp32,a4,ag32,only-o"),
    ("the same, only the MLP input (gate/up)", "fp32,a4,ag32,only-up"),
    ("the same, only the down projection's input", "fp32,a4,ag32,only-down"),
    # Asymmetric 4-bit activation groups (aasym): 16 levels over each group's [min, max] with an integer zero point.
    ("float weights, 4-bit asymmetric activations per token and 32 features", "fp32,a4,ag32,aasym"),
    ("the same, full-width rotation", "fp32,a4,rotate,ag32,aasym"),
    ("the same without rotation, 4 groups of each input at 8 bits", "fp32,a4,ag32,mix8-4,aasym"),
    ("W4A4, 4-bit asymmetric activations per token and 32 features, RTN, activation-weighted searched scales, "
     "no rotation or balancing", "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,aasym"),
    ("the same with GPTQ", "w4a4,no-rotate,no-balance,ag32,clip-act,aasym"),
    ("the same with round to nearest and asymmetric weights (an integer zero point per group)",
     "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,asym,aasym"),
    ("the same without rotation, 4 groups of each input at 8 bits",
     "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,mix8-4,aasym"),
    # GPTQ with the rotation and asymmetric activation groups; the rotation of the attention and MLP inputs
    # online after their norms (rotate-online) against the residual stream's (rotate).
    ("W4A4, 4-bit asymmetric activations per token and 32 features, GPTQ, full-width rotation, no balancing",
     "w4a4,no-balance,ag32,aasym"),
    ("the same with MLP and V/O balancing", "w4a4,ag32,aasym"),
    ("the same without balancing, activation-weighted searched scales", "w4a4,no-balance,ag32,clip-act,aasym"),
    ("the same with asymmetric weights (an integer zero point per group)", "w4a4,no-balance,ag32,clip-act,asym,aasym"),
    ("W4A4, 4-bit asymmetric activations per token and 32 features, GPTQ, activation-weighted searched scales, "
     "asymmetric weights, the attention and MLP inputs rotated online after their norms (the residual stream "
     "unrotated), no balancing", "w4a4,rotate-online,no-balance,ag32,clip-act,asym,aasym"),
    ("W4A4, 4-bit asymmetric activations per token and 32 features, RTN, activation-weighted searched scales, "
     "asymmetric weights, the attention and MLP inputs rotated online after their norms, no balancing",
     "w4a4,rtn,rotate-online,no-balance,ag32,clip-act,asym,aasym"),
    ("W4A8, one scale per token and 32 features, GPTQ, activation-weighted searched scales, the attention and MLP "
     "inputs rotated online after their norms, no balancing", "w4a8,rotate-online,no-balance,ag32,clip-act"),
    ("W4A8, one scale per token and 32 features, RTN, activation-weighted searched scales, the attention and MLP "
     "inputs rotated online after their norms, no balancing", "w4a8,rtn,rotate-online,no-balance,ag32,clip-act"),
    # rotate-online's W4A4 apart: its weights alone, and its activations alone on float weights.
    ("W4A16, GPTQ, activation-weighted searched scales, asymmetric, the attention and MLP inputs rotated online, "
     "no balancing (the weights of the best `rotate-online` W4A4)", "w4a16,rotate-online,no-balance,clip-act,asym"),
    ("float weights, 4-bit asymmetric activations per token and 32 features, the attention and MLP inputs rotated "
     "online (the activations of the best `rotate-online` W4A4)", "fp32,a4,rotate-online,ag32,aasym"),
    # Smoothing before rotate-online's rotation: each norm output's channels (and the down projection's input)
    # scaled by rms^-1/2 from calibration.
    ("the best `rotate-online` W4A4 with each norm's output and the down projection's input smoothed (`smooth`)",
     "w4a4,rotate-online,smooth,no-balance,ag32,clip-act,asym,aasym"),
    ("the same with V/O balancing", "w4a4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,asym,aasym"),
    ("the best `rotate-online` W4A8 with `smooth`", "w4a8,rotate-online,smooth,no-balance,ag32,clip-act"),
    ("float weights, the activations of the smoothed W4A4", "fp32,a4,rotate-online,smooth,ag32,aasym"),
    ("the smoothed W4A4 with V/O balancing, symmetric weights (the bytes of `w4a4`)", SMOOTH_SYM),
    ("the smoothed W4A4 with V/O balancing and a 4-bit KV cache", SMOOTH_KV4),
    # The other named schemes, as they are.
    ("W4A4 with a 4-bit KV cache (`w4a4kv4`)", "w4a4kv4"),
    ("W4A8 with a 4-bit KV cache (`w4a8kv4`)", "w4a8kv4"),
    ("W3A8, GPTQ, full-width rotation, MLP balancing (`w3a8`)", "w3a8"),
    ("W4A8 as the paper: static per-tensor scales with TRIP (`w4a8-paper`)", "w4a8-paper"),
    ("W4A4 as the paper (`w4a4-paper`)", "w4a4-paper"),
    ("llama.cpp's Q8_0 layout, written by us (`q8_0`)", "q8_0"),
    ("llama.cpp's Q4_0 layout, written by us (`q4_0`)", "q4_0"),
]
# tools/act_quant_explore.py's variants (activations alone, simulated in transformers, float weights): what the
# library has no modifier for (groups of 16, a rotation at some inputs only) next to what it has, to rank them.
EXPLORE = ["g32", "g32,asym", "g32,asym,clip", "g16", "g16,asym", "g32,asym,rot-qkv+up", "g32,asym,rot-down",
           "g32,asym,rot-qkv+o+up+down", "g32,asym,clip,rot-qkv+up"]
# The same tool with 4-bit weights too (w4: groups of 32, wg16 of 16; wclip-act, wgptq as the library's clip-act
# and GPTQ), to see which layout could hold W4A4 within +10%; fold-norm folds the norms' gains into the rotated
# weights as the library's residual rotation must.
EXPLORE_W4A4 = ["a16,w4", "a16,w4,wclip-act", "a16,w4,wgptq", "g32,asym,w4,wclip-act", "g16,asym,w4,wg16,wclip-act",
                "g32,asym,rot-qkv+o+up+down,w4,wgptq", "g32,asym,rot-qkv+o+up+down,fold-norm,w4,wgptq",
                "g16,asym,rot-qkv+o+up+down"]
# SmolLM2-135M's linear inputs: (width, rows of the matrices that read it) for Q/K/V, the output projection,
# gate/up and down; what the share of 8-bit activation groups (mix8-N) is computed from.
SMOL_INPUTS = [(576, 576 + 192 + 192), (576, 576), (576, 2 * 1536), (1536, 576)]
FAMILIES = [("llama", "models/austen-6m.gguf"), ("bloom", "models/austen-bloom.gguf"),
            ("opt", "models/austen-opt.gguf")]
# Random-weight fixtures: only the FP32 check (their perplexity says nothing about quantization).
FIXTURES = [("gpt2", "data/families/gpt2.gguf", 64), ("qwen2", "data/families/qwen2.gguf", 64),
            ("llama (GQA)", "data/families/llama3.gguf", 64), ("bloom (F16)", "data/families/bloom.gguf", 64),
            ("opt", "data/families/opt.gguf", 64)]
ALL_SITES = "attn_in,ffn_in,vo,mlp,attn_shift,ffn_shift"
# w4a4kv4 balances V against O (lib/quant/scheme.c), which divides the variants' planted V rows out before the
# 4-bit cache stores them; no-balance-vo is its default before, which let them reach the cache as they are.
VARIANT_SCHEMES = ["w4a8", "w4a4", "w4a4kv4", "w4a4kv4,no-balance-vo",
                   "w4a4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,asym,aasym", SMOOTH_KV4]
# One site at a time (seed 1), to see which site costs what; round to nearest keeps this part quick.
SITE_SCHEMES = ["w4a4,rtn"]
SINGLE_SITES = {"llama": ["attn_in", "ffn_in", "vo", "mlp"], "bloom": ["attn_in", "ffn_in", "vo", "attn_shift,ffn_shift"],
                "opt": ["attn_in", "ffn_in", "vo", "mlp", "attn_shift,ffn_shift"]}


class Runner:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.join(args.build, "outliers")
        os.makedirs(self.dir, exist_ok=True)
        self.cache_path = os.path.join(self.dir, "results.json")
        self.cache = {} if args.fresh or not os.path.exists(self.cache_path) else json.load(open(self.cache_path))
        self.lock = threading.Lock()

    def save(self, key, value):
        with self.lock:
            self.cache[key] = value
            json.dump(self.cache, open(self.cache_path, "w"), indent=1, sort_keys=True)

    def ours(self, model, text, scheme, chunks=None, ctx=CTX):
        chunks = chunks or self.args.chunks
        key = f"aq|{os.path.basename(model)}|{os.path.basename(text)}|{scheme}|{ctx}|{chunks}"
        if key in self.cache or self.args.doc_only:
            return self.cache.get(key)
        cmd = ["nice", os.path.join(self.args.build, "examples", "aq-perplexity"), "-m", model, "-f",
               os.path.join(ROOT, text), "--ctx", str(ctx), "--chunks", str(chunks), "-t", "1"]
        if scheme != "fp32":
            cmd += ["--scheme", scheme, "--calib", os.path.join(ROOT, CALIB)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"Final estimate: PPL = ([0-9.]+)", out.stdout)
        if not m:
            sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
        v = float(m.group(1))
        print(f"{os.path.basename(model)} {os.path.basename(text)} {scheme}: {v:.4f}", flush=True)
        self.save(key, v)
        return v

    def llama(self, model, text, chunks=None):
        chunks = chunks or self.args.chunks
        key = f"llama.cpp|{os.path.basename(model)}|{os.path.basename(text)}|{CTX}|{chunks}"
        if key in self.cache or self.args.doc_only:
            return self.cache.get(key)
        cmd = ["nice", os.path.join(self.args.llama_bin, "llama-perplexity"), "-m", model, "-f",
               os.path.join(ROOT, text), "-c", str(CTX), "--chunks", str(chunks), "-t", "1"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"Final estimate: PPL = ([0-9.]+)", out.stdout + out.stderr)
        if not m:
            sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
        v = float(m.group(1))
        print(f"llama-perplexity {os.path.basename(model)} {os.path.basename(text)}: {v:.4f}", flush=True)
        self.save(key, v)
        return v

    def stats(self, model):
        """Kept in BUILD/outliers/MODEL.stats.json, as the variant files are: delete it to measure again."""
        out = os.path.join(self.dir, os.path.basename(model) + ".stats.json")
        if not os.path.exists(out):
            if self.args.doc_only:
                return None
            subprocess.run(["nice", self.args.python_hf, os.path.join(ROOT, "tools", "activation_stats.py"), model,
                            os.path.join(ROOT, TEXTS[0][1]), "--llama-bin", self.args.llama_bin, "--chunks", "2",
                            "--json", out], check=True, capture_output=True)
        return json.load(open(out))


    def explore(self, model):
        """tools/act_quant_explore.py's figures for EXPLORE and EXPLORE_W4A4, kept in
        BUILD/outliers/MODEL.explore.json; a run measures the missing ones only (its FP32 line is the same)."""
        out = os.path.join(self.dir, os.path.basename(model) + ".explore.json")
        have = json.load(open(out)) if os.path.exists(out) else {}
        missing = [v for v in EXPLORE + EXPLORE_W4A4 if v not in have]
        if self.args.doc_only or not missing:
            return have or None
        part = out + ".part"
        subprocess.run(["nice", self.args.python_hf, os.path.join(ROOT, "tools", "act_quant_explore.py"), model,
                        os.path.join(ROOT, TEXTS[0][1]), "--llama-bin", self.args.llama_bin, "--chunks",
                        str(self.args.chunks), "--json", part] + missing, check=True, capture_output=True)
        have.update(json.load(open(part)))
        json.dump(have, open(out, "w"), indent=1)
        os.remove(part)
        return have

    def rounding(self, model):
        """tools/weight_rounding.py's figures, kept in BUILD/outliers/MODEL.rounding.json."""
        out = os.path.join(self.dir, os.path.basename(model) + ".rounding.json")
        if not os.path.exists(out):
            if self.args.doc_only:
                return None
            res = subprocess.run(["nice", self.args.python_hf, os.path.join(ROOT, "tools", "weight_rounding.py"), model],
                                 check=True, capture_output=True, text=True)
            open(out, "w").write(res.stdout)
        return json.load(open(out))


def run(cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def prepare_smollm2(r, args):
    """F32 reference two ways, and llama.cpp's Q4_0 / Q8_0 of the llama.cpp F32 file."""
    env = dict(os.environ, AQ_CACHE=os.environ.get("AQ_CACHE", "/work/scratch/aqcache"))
    q41 = subprocess.run(["bash", os.path.join(ROOT, "tools", "fetch_smollm2.sh")], capture_output=True, text=True,
                         env=env, check=True).stdout.strip().splitlines()[-1]
    files = {k: os.path.join(r.dir, f"smollm2-{k}.gguf") for k in ("f32", "aq-f32", "q4_0", "q8_0")}
    q = os.path.join(args.llama_bin, "llama-quantize")
    if not os.path.exists(files["f32"]):
        run([q, "--allow-requantize", q41, files["f32"], "F32"])
    if not os.path.exists(files["aq-f32"]):
        run([os.path.join(args.build, "examples", "aq-quantize"), "-m", q41, "-o", files["aq-f32"], "--scheme", "fp32"])
    for t in ("q4_0", "q8_0"):
        if not os.path.exists(files[t]):
            run([q, files["f32"], files[t], t.upper()])
    return files


def num(v, fmt=".3f"):
    return "not run" if v is None else format(v, fmt)


def pct(v, base):
    if v is None or base is None:
        return "not run"
    return f"{v:.3f} ({(v / base - 1) * 100:+.2f}%)"


def change(v, base):
    return None if v is None or base is None else (v / base - 1) * 100


def mix8_n(scheme):
    return int(scheme.split("mix8-")[1].split(",")[0])


def mix8_share(n):
    """mix8-N on SmolLM2: 8-bit activation groups of a layer, all its groups, and the share of the layer's
    multiply-adds that read 8-bit activations."""
    wide = sum(min(n, w // 32) for w, _ in SMOL_INPUTS)
    total = sum(w // 32 for w, _ in SMOL_INPUTS)
    macs = sum(min(n, w // 32) * 32 * r for w, r in SMOL_INPUTS) / sum(w * r for w, r in SMOL_INPUTS)
    return wide, total, macs


def w4a4_throughout(scheme):
    """Whether a W4A4 scheme keeps every linear layer's input at 4 bits (not `only-*`, `down8` or `mix8-*`)."""
    return (scheme.split(",")[0] in ("w4a4", "w4a4o") and "only-" not in scheme and "down8" not in scheme
            and "mix8-" not in scheme)


def is_w4a8(scheme):
    return scheme.split(",")[0] in ("w4a8", "w4a8o")


def verdict(value, target):
    """A change against FP32 measured against its target (both in %): met, or by how much it is missed."""
    return "met" if value <= target else f"missed by {value - target:.2f} points"


def simulated_verdict(ex):
    """What tools/act_quant_explore.py's W4A4 layouts say about +10%, from its figures (changes against its FP32)."""
    def c(v):
        return 100 * (ex[v] / ex["fp32"] - 1) if v in ex else None
    w4a4 = {v: c(v) for v in EXPLORE_W4A4 if not v.startswith("a16") and c(v) is not None}
    within = [v for v in w4a4 if w4a4[v] <= 10]
    txt = ("Within +10% in the simulation: " + ", ".join(f"`{v}`" for v in within) + ". " if within else
           "Nothing simulated with 4-bit weights reaches +10%. ")
    a16 = [c(v) for v in ("g16,asym", "g16,asym,rot-qkv+o+up+down")]
    if all(v is not None and v > 10 for v in a16):
        txt += ("The activations alone at their best, asymmetric groups of 16 with or without a rotation, already "
                "cost more (`g16,asym`, `g16,asym,rot-qkv+o+up+down`), and the 4-bit weights add to that. ")
    fold, unfolded = c("g32,asym,rot-qkv+o+up+down,fold-norm,w4,wgptq"), c("g32,asym,rot-qkv+o+up+down,w4,wgptq")
    if fold is not None and unfolded is not None:
        txt += ("The rotated weights cost " + ("less" if unfolded < fold else "no less") + " when the norms' gains "
                f"stay out of them ({unfolded:+.2f}% against {fold:+.2f}% with `fold-norm`): what `rotate-online` "
                "builds in the library.")
    return txt


def longer_check(r, files, args):
    """{(text, row): change against FP32 in %} of the longer check on SmolLM2: llama.cpp's Q4_0 and Q8_0 and
    the --check-schemes, at --check-chunks chunks; None where not measured."""
    n = args.check_chunks
    got = {}
    for _, t in TEXTS:
        b = r.ours(files["f32"], t, "fp32", n)
        for k in ("q4_0", "q8_0"):
            got[(t, k)] = change(r.llama(files[k], t, n), b)
        for s in args.check_schemes:
            got[(t, s)] = change(r.ours(files["f32"], t, s, n), b)
    return got


def longer_check_findings(r, files, args):
    got, n = longer_check(r, files, args), args.check_chunks
    w8 = [s for s in args.check_schemes if is_w4a8(s)]
    w4 = [s for s in args.check_schemes if w4a4_throughout(s)]
    parts = []
    for label, t in TEXTS:
        q40 = got[(t, "q4_0")]
        cells = [f"W4A8 `{s}` {got[(t, s)]:+.2f}% against Q4_0 {q40:+.2f}% ({verdict(got[(t, s)], q40)})"
                 for s in w8 if None not in (got[(t, s)], q40)]
        cells += [f"W4A4 `{s}` {got[(t, s)]:+.2f}% ({verdict(got[(t, s)], 10)})" for s in w4 if got[(t, s)] is not None]
        if cells:
            parts.append(f"{label}: " + ", ".join(cells))
    if not parts:
        return []
    return [f"- The same targets at {n} chunks of each text (the section \"SmolLM2 at {n} chunks\"), for the named "
            "schemes, fixed before that run (the best of many schemes on 2 chunks is partly chosen by the noise of "
            "those chunks): " + "; ".join(parts) + "."]


def findings(r, files, variants, single, smol_schemes, args):
    """The figures the issue's targets name, read from the tables below, and what the code says about them."""
    austen = TEXTS[0][1]
    out = ["## Findings", ""]
    b = r.ours(files["f32"], austen, "fp32")
    q40 = change(r.llama(files["q4_0"], austen), b)
    got = {s: change(r.ours(files["f32"], austen, s), b) for _, s in smol_schemes}
    got = {s: v for s, v in got.items() if v is not None}

    def fig(s):
        return f"`{s}` {got[s]:+.2f}%" if s in got else f"`{s}` not run"

    defaults8 = [("w4a8,rtn,no-rotate,no-balance", "no transform"),
                 ("w4a8,rtn,rotate-blocked,no-balance-vo", "the default before: blocked rotation"),
                 ("w4a8,rtn", "full-width rotation, MLP and V/O balancing"), ("w4a8", "the same with GPTQ, the default")]
    defaults4 = [("w4a4,rtn,rotate-blocked,no-balance-vo", "the default before: blocked rotation"),
                 ("w4a4,rtn", "full-width rotation, MLP and V/O balancing"),
                 ("w4a4", "with GPTQ, the default")]
    if q40 is not None and any(k in got for k, _ in defaults8 + defaults4):
        out.append(f"- SmolLM2, Austen, against FP32; llama.cpp's Q4_0 of the same F32 file is {q40:+.2f}% (the W4A8 "
                   "target). W4A8: " + ", ".join(f"{fig(k)} ({why})" for k, why in defaults8 if k in got)
                   + ". W4A4: " + ", ".join(f"{fig(k)} ({why})" for k, why in defaults4 if k in got) + ".")
    named = [("w4a4kv4", "W4A4 with the 4-bit KV cache"), ("w4a8kv4", "W4A8 with it"), ("w3a8", "3-bit weights"),
             ("w4a8-paper", "the paper's static scales with TRIP"), ("w4a4-paper", "the same at 4 bits")]
    q80 = change(r.llama(files["q8_0"], austen), b)
    if any(k in got for k, _ in named):
        out.append("- SmolLM2, the other named schemes as they are: " + ", ".join(
            f"{fig(k)} ({why})" for k, why in named if k in got) + ". Our writers of llama.cpp's layouts: "
            + fig("q8_0") + (f" against llama.cpp's Q8_0 {q80:+.2f}%" if q80 is not None else "") + ", "
            + fig("q4_0") + (f" against llama.cpp's Q4_0 {q40:+.2f}%" if q40 is not None else "")
            + " (llama.cpp's two files hold SmolLM2's tied embedding and output head at Q8_0, ours in float).")
    if "w4a16,rtn,rotate" in got and "w4a16,rtn,rotate-blocked" in got:
        out.append("- Full-width rotations (`lib/common/hadamard.c`: a Kronecker product of Paley matrices of order 12 "
                   "or 20 and a Walsh-Hadamard matrix, so 576 = 12 x 12 x 4 and 1536 = 12 x 128 are mixed whole, where "
                   "the blocked rotation mixed 64 and 512 channels) are what moved SmolLM2: an outlier of the down "
                   "projection's input (2473 times the median channel) was spread over its 512-wide block only, and "
                   "one per-token scale had to cover that block's share. The weights alone gain too: "
                   f"{fig('w4a16,rtn,rotate-blocked')} blocked, {fig('w4a16,rtn,rotate')} full width.")
    if all(k in got for k in ("w4a8,rtn", "w4a8,rtn,no-balance-vo", "w4a16,rtn,rotate",
                              "w4a16,rtn,rotate,balance,balance-vo")):
        out.append(f"- On SmolLM2 the balancings cost more than they give: {fig('w4a8,rtn,no-balance-vo')} (MLP only) "
                   f"against {fig('w4a8,rtn')} (MLP and V/O), and the weights alone {fig('w4a16,rtn,rotate')} "
                   f"against {fig('w4a16,rtn,rotate,balance,balance-vo')}: its channels are not planted, and "
                   "moving a factor from one matrix to the other makes one of them harder to round.")
    sites = {k: got.get(f"w4a4,rtn,only-{k}") for k in ("qkv", "o", "up", "down")}
    wbase = got.get("w4a16,rtn,rotate,balance,balance-vo")
    if wbase is not None and any(v is not None for v in sites.values()):
        txt = ", ".join(f"{k} {v:+.2f}%" for k, v in sites.items() if v is not None)
        worst = max((k for k in sites if sites[k] is not None), key=lambda k: sites[k])
        out.append(f"- SmolLM2, one input's activations at 4 bits at a time (weights as `w4a4,rtn`, whose weights alone "
                   f"cost {wbase:+.2f}%): {txt}. The `{worst}` input loses most.")
    split = ["fp32,a8", "fp32,a8,ag32", "fp32,a4", "fp32,a4,ag32", "fp32,a4,rotate", "fp32,a4,rotate,ag32",
             "fp32,a4,rotate,balance,balance-vo", "fp32,a4,rotate,balance,balance-vo,ag32"]
    if all(k in got for k in split + ["w4a16,rtn", "w4a16", "w4a16,rtn,rotate,balance,balance-vo"]):
        out.append("- Weights and activations apart (SmolLM2): float weights with the activations quantized and read "
                   "back as floats (`fp32,a8`, `fp32,a4`: the activations' error alone) against 4-bit weights with "
                   f"float activations ({fig('w4a16,rtn')}, {fig('w4a16')} with GPTQ, "
                   f"{fig('w4a16,rtn,rotate,balance,balance-vo')} with the transforms of `w4a4,rtn`). Activations "
                   "alone: " + ", ".join(fig(k) for k in split if k in got) + ". Without a rotation, one scale per "
                   "token is what breaks 4-bit activations: a token's few large channels set the scale of all 576 or "
                   "1536 features and the rest round to 0; a scale per 32 features (`ag32`) confines each large "
                   "channel to its own group. 8-bit activations cost little either way, and least per group.")
        one = {k: got.get(f"fp32,a4,rotate,balance,balance-vo,ag32,only-{k}") for k in ("qkv", "o", "up", "down")}
        if any(v is not None for v in one.values()):
            worst = max((k for k in one if one[k] is not None), key=lambda k: one[k])
            out.append("- The same, one input's activations at 4 bits at a time (float weights, the transforms of "
                       "`w4a4,rtn`, `ag32`): " + ", ".join(f"{k} {v:+.2f}%" for k, v in one.items() if v is not None)
                       + f". The `{worst}` input loses most.")
    ag = ["w4a8,rtn,no-rotate,no-balance,ag32", "w4a8,no-rotate,no-balance,ag32", "w4a8,rtn,ag32", "w4a4,rtn,ag32"]
    if all(k in got for k in ag + ["w4a8,rtn,no-rotate,no-balance", "w4a8,rtn", "w4a4,rtn"]):
        out.append("- Group-wise activation scales with 4-bit weights (`ag32`: one dynamic scale per token and 32 "
                   "input features, as Atom and QServe; the qd8 GEMMs take a chunk of weight groups per "
                   "activation group and read its scales as the per-token ones, bit for bit the reference): "
                   + ", ".join(fig(k) for k in ag if k in got) + f"; per token: {fig('w4a8,rtn,no-rotate,no-balance')}, "
                   f"{fig('w4a8,rtn')}, {fig('w4a4,rtn')}.")
    clip = ["w4a16,rtn,clip", "w4a16,rtn,clip-act", "w4a8,rtn,no-rotate,no-balance,ag32,clip",
            "w4a8,rtn,no-rotate,no-balance,ag32,clip-act", "w4a8,no-rotate,no-balance,ag32,clip-act",
            "w4a4,rtn,ag32,clip-act", "w4a4,rtn,no-balance,ag32,clip-act",
            "w4a4,rtn,no-rotate,no-balance,ag32,clip-act"]
    if any(k in got for k in clip):
        if all(k in got for k in clip + ["w4a16,rtn", "w4a8,rtn,no-rotate,no-balance,ag32", "w4a4,rtn,ag32"]):
            out.append("- Searched weight scales (`clip`: each group's scale among round to nearest's and 17 clipping "
                       "ratios, each refined to the least-squares scale of its codes, for the least squared error; "
                       "`clip-act`: the same error weighted by the mean square of the input channel each weight "
                       "reads on the calibration text, as llama.cpp's imatrix; the stored format is unchanged): "
                       + ", ".join(fig(k) for k in clip if k in got) + f"; without: {fig('w4a16,rtn')}, "
                       f"{fig('w4a8,rtn,no-rotate,no-balance,ag32')}, {fig('w4a4,rtn,ag32')}. The plain search gains "
                       "little on SmolLM2: its weights' squared error is not what costs, the error on the few input "
                       "channels that carry most of the energy is (the statistics below); weighting the search by "
                       "them puts the grid where those channels' weights are, and cuts what the 4-bit weights cost "
                       "to about a third. With the rotation it gains little (W4A4), probably because the rotation "
                       "spreads those channels over every feature, leaving the weighting little to single out.")
        w4 = {k: got[k] for k in got if w4a4_throughout(k)}
        a4 = [k for k in ("fp32,a4,ag32", "fp32,a4,rotate,ag32", "fp32,a4,rotate,balance,balance-vo,ag32") if k in got]
        if w4 and a4:
            a4 += [k for k in ("fp32,a4,ag32,aasym", "fp32,a4,rotate,ag32,aasym") if k in got]
            a4best = min((k for k in a4 if "rotate" not in k), key=lambda k: got[k])  # rotated weights are not Q4_1
            a4 += [k for k in ("fp32,a4,rotate-online,ag32,aasym", "fp32,a4,rotate-online,smooth,ag32,aasym") if k in got]
            best4 = min(w4, key=w4.get)
            a4low = min(a4, key=lambda k: got[k])
            out.append(f"- W4A4 throughout <= +10%: the best W4A4 measured is {fig(best4)}, "
                       + ("within the target" if w4[best4] <= 10 else f"{w4[best4] - 10:.2f} points above it")
                       + (" (with symmetric groups and the down projection's input kept at 8 bits, not W4A4: "
                          + fig("w4a4,rtn,no-rotate,no-balance,ag32,clip-act,down8") + ")"
                          if "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,down8" in got else "")
                       + ". The 4-bit activations "
                       "alone, with float weights, cost " + ", ".join(fig(k) for k in a4) + ": at best "
                       + fig(a4low) + (", already above the target before any weight is rounded" if got[a4low] > 10
                                       else ", under the target, so what the 4-bit weights add on top decides it")
                       + ". Keeping the file's own Q4_1 weights (their error against the reference 0, since the "
                       "reference is that file dequantized) would give what the unrotated `fp32,a4,...` rows cost, "
                       "at best " + fig(a4best) + "."
                       + (" Closing the rest needs 4-bit activations that cost less alone: learned rotations as "
                          "SpinQuant's (not tried), or 8-bit groups where SmolLM2's channels are largest, which is "
                          "no longer W4A4." if w4[best4] > 10 else ""))
        mix = [k for _, k in SMOL_SCHEMES if "mix8-" in k and k in got]
        steps = [f"{b},mix8-{n}" for b in ("fp32,a4,ag32", "w4a4,rtn,no-rotate,no-balance,ag32,clip-act")
                 for n in (2, 4, 8)]
        if all(k in got for k in steps + ["fp32,a4,ag32", "w4a4,rtn,no-rotate,no-balance,ag32,clip-act"]):
            def share(k):
                wide, total, macs = mix8_share(mix8_n(k))
                return f"{fig(k)} ({wide} of {total} groups at 8 bits, {macs * 100:.0f}% of the multiply-adds)"
            out.append("- Mixed-precision activation groups (`mix8-N`, as Atom keeps its outlier channels at 8 bits): "
                       "per layer and input, the N groups of 32 input channels whose 4-bit rounding costs the layer's "
                       "outputs most on the calibration samples (an error in channel c weighted by the squared norm "
                       "of weight column c) are quantized at 8 bits, the rest at 4. The qd8 kernels hold 4-bit "
                       "activations in int8 lanes, so they run unchanged; only the quantizer's range per group "
                       "changes, and the file lists each input's group widths (`blk.N.SITE.act_group_bits`). "
                       "Activations alone: " + ", ".join(share(k) for k in mix if k.startswith("fp32")) +
                       f", against {fig('fp32,a4,ag32')} with every group at 4 bits. With the 4-bit weights of "
                       f"{fig('w4a4,rtn,no-rotate,no-balance,ag32,clip-act')}: "
                       + ", ".join(share(k) for k in mix if k.startswith("w4a4")) + ". These are W4A4 with a share "
                       "of 8-bit activation groups, not W4A4 throughout, and are named so. The first few groups "
                       "gain most and the next ones little: what stays is the 4-bit rounding of the ordinary "
                       "channels in every group, not the outliers.")
            out.append("- Not built: weights exactly on the reference's own Q4_1 grid (asymmetric, an f16 scale and "
                       "an f16 minimum per group of 32). The F32 reference is a dequantized Q4_1 file, so that grid "
                       "would reproduce it and make the weights' error 0 here, which it would not be on an F16 "
                       "model; our INT4 layout has integer zero points (`asym`), not a float minimum, and the qd8 "
                       "kernels would need the minimum times each activation group's sum, a kernel change with its "
                       "reference twin and emulator runs. What it would give is measured without it: the `fp32,a4` "
                       "rows are those weights, exactly, with 4-bit activations. Activation groups of 16 (`ag16`) "
                       "need weight groups of 16: the kernels apply one activation scale per weight group.")
        clipped = ["fp32,a4,ag32,aclip", "fp32,a4,rotate,ag32,aclip", "fp32,a4,ag32,mix8-4,aclip",
                   "fp32,a4,rotate,ag32,mix8-4,aclip", "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,mix8-4,aclip"]
        if all(k in got for k in clipped + [k.replace(",aclip", "") for k in clipped]):
            out.append("- Clipped activation groups (`aclip`: each token's 4-bit group takes, of the scales "
                       "amax x 1, 0.95, ..., 0.65 / 7, the one with the least squared error, where QuaRot clips at "
                       "0.9 of the largest; `aq_qd8_quantize_grouped_clip_ref`, the file says so in "
                       "`agilequant.act_clip`): " + ", ".join(fig(k) for k in clipped if k in got) + ", against "
                       + ", ".join(fig(k.replace(",aclip", "")) for k in clipped if k in got) + " unclipped. "
                       "Clipping gains where no 4-bit group holds an outlier (rotated, or with the outlier groups at "
                       "8 bits) and costs where one does: a clipped outlier loses more than its group's other channels "
                       "gain. With the 4-bit weights of `clip-act` it cost even with the outlier groups at 8 bits "
                       "(the two `w4a4` rows; why is not measured), so it stays a modifier. With the rotation and "
                       "8-bit outlier groups together the activations alone gain nothing over the outlier groups "
                       "alone, and the rotated weights cost more here (`w4a16,rtn,rotate` against "
                       "`w4a16,rtn,clip-act` above), so the rotated W4A4 with both was not run.")
        shipped = os.path.join(ROOT, FAMILIES[0][1])
        sb = r.ours(shipped, austen, "fp32")
        pairs = [(k, change(r.ours(shipped, austen, k), sb)) for k in ("w4a8", "w4a8,clip-act", "w4a4", "w4a4,clip-act")]
        if all(v is not None for _, v in pairs):
            out.append(f"- `clip-act` is a modifier, not the default: on the shipped {os.path.basename(shipped)} it moves "
                       "the defaults within noise, one way or the other (" + ", ".join(f"`{k}` {v:+.2f}%" for k, v in
                                                                                    pairs) + "; its inputs carry no "
                       "large channels for the weighting to protect), with GPTQ it gains less on SmolLM2 than with "
                       f"round to nearest ({fig('w4a8,no-rotate,no-balance,ag32,clip-act')} against "
                       f"{fig('w4a8,rtn,no-rotate,no-balance,ag32,clip-act')}; GPTQ's own error feedback already "
                       "weighs the inputs), and it gains most without the rotation the defaults use.")
    unrot = {k: got.get(f"fp32,a4,ag32,only-{k}") for k in ("qkv", "o", "up", "down")}
    rot = {k: got.get(f"fp32,a4,rotate,balance,balance-vo,ag32,only-{k}") for k in ("qkv", "o", "up", "down")}
    if all(v is not None for v in unrot.values()):
        out.append("- One input's activations at 4 bits at a time without any transform (float weights, `ag32`): "
                   + ", ".join(f"{k} {v:+.2f}%" for k, v in unrot.items()) + "; with the rotation and balancings: "
                   + ", ".join(f"{k} {v:+.2f}%" if v is not None else f"{k} not run" for k, v in rot.items())
                   + ". The rotation helps the attention and MLP inputs (the ones the residual's persistent channels "
                   "reach through the norms) and does little for the down projection's input, whose 4-bit error "
                   "is small either way with groups of 32.")
    asym = ["fp32,a4,ag32,aasym", "fp32,a4,rotate,ag32,aasym", "fp32,a4,ag32,mix8-4,aasym",
            "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,aasym", "w4a4,no-rotate,no-balance,ag32,clip-act,aasym",
            "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,asym,aasym",
            "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,mix8-4,aasym"]
    if all(k in got for k in asym + [k.replace(",aasym", "") for k in asym]):
        out.append("- Asymmetric 4-bit activation groups (`aasym`: each token's group of 32 takes its range "
                   "[min(x, 0), max(x, 0)] in 15 steps with an integer zero point, "
                   "`aq_qd8_quantize_grouped_asym_ref`, the file says so in `agilequant.act_asym`; the codes are "
                   "stored shifted by the zero point, in [-15, 15], so the qd8 GEMMs read them unchanged, 16 levels a "
                   "group; a kernel on packed 4-bit codes would subtract the zero point times each weight group's "
                   "sum): " + ", ".join(fig(k) for k in asym if k in got) + ", against "
                   + ", ".join(fig(k.replace(",aasym", "")) for k in asym if k in got) + " symmetric. "
                   "Why, probably (the statistics below record magnitudes, not signs): a group whose values lie "
                   "mostly on one side of 0, a large channel of one sign or the down projection's input after "
                   "SiLU * up, spends half a symmetric grid on the side its values do not reach, and the "
                   "asymmetric grid halves the step there. Of the library's modifiers for 4-bit activations it "
                   "gains most alone, and it needs no calibration.")
    gr = ["w4a4,no-balance,ag32,aasym", "w4a4,ag32,aasym", "w4a4,no-balance,ag32,clip-act,aasym",
          "w4a4,no-balance,ag32,clip-act,asym,aasym"]
    online = ["w4a4,rotate-online,no-balance,ag32,clip-act,asym,aasym",
              "w4a4,rtn,rotate-online,no-balance,ag32,clip-act,asym,aasym"]
    online8 = ["w4a8,rotate-online,no-balance,ag32,clip-act", "w4a8,rtn,rotate-online,no-balance,ag32,clip-act"]
    unrot = ["w4a4,no-rotate,no-balance,ag32,clip-act,aasym", "w4a4,rtn,no-rotate,no-balance,ag32,clip-act,aasym"]
    if all(k in got for k in gr + unrot):
        out.append("- GPTQ with the rotation and asymmetric activation groups: " + ", ".join(fig(k) for k in gr)
                   + f", against {fig(unrot[0])} unrotated with GPTQ and {fig(unrot[1])} unrotated with round to "
                   "nearest. With round to nearest the rotation costs the 4-bit weights more than it gives the "
                   "activations (the rotation rows above); GPTQ's error feedback wins most of that back, so the "
                   "rotation pays with it, and the balancings still cost.")
    def also(pairs):  # each comparison named only when its row was measured
        return "".join(f", {fig(k)} {why}" for k, why in pairs if k in got)

    smooth = ["w4a4,rotate-online,smooth,no-balance,ag32,clip-act,asym,aasym", "fp32,a4,rotate-online,smooth,ag32,aasym",
              "w4a4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,asym,aasym"]
    if all(k in got for k in smooth + [online[0], "fp32,a4,rotate-online,ag32,aasym"]):
        out.append("- Smoothing before `rotate-online`'s rotations (`smooth`: channel j of each norm's output, and of "
                   "the down projection's input where the MLP's activation is SwiGLU or ReLU, times rms_j^-1/2 over "
                   "the calibration chunks run through the float model, the matrices that read it divided by the "
                   "same; SmoothQuant's migration with alpha 1/2, exact in FP32): W4A4 "
                   f"{fig(smooth[0])} against {fig(online[0])} without it, {fig(smooth[2])} with V/O balancing too; "
                   f"the activations alone {fig(smooth[1])} against " + fig("fp32,a4,rotate-online,ag32,aasym") +
                   ". Why: the online rotation follows the norm's gain (and the MLP's product), so a channel they "
                   "make large dominates every rotated element and the rest of the row falls below the 4-bit step; "
                   "smoothing takes half of each channel's range (in log scale) into the weights first. With V/O "
                   "balancing it also holds the seeded variants (the table below)"
                   + also([(SMOOTH_SYM, "with symmetric weights (the bytes of `w4a4`: the zero points are what "
                            "holds it)"), (SMOOTH_KV4, "with the 4-bit KV cache too")])
                   + ". It is not the default yet: the shipped models' tables would all change, and its format "
                   "reads a zero point per weight group more (docs/PERFORMANCE.md's W4A4o rows give its speed "
                   "beside `w4a4`'s).")
    if online[0] in got:
        txt = ("- The rotation of the attention and MLP inputs online after their norms (`rotate-online`: the norms "
               "keep their gains, the residual stream is not rotated, an online Hadamard transform of each token's "
               "normalized row before Q/K/V and before gate/up; V/O and the down projection's input as `rotate`): "
               f"W4A4 {fig(online[0])}" + also([(online[1], "with round to nearest"),
                                               ("w4a4,no-balance,ag32,clip-act,asym,aasym",
                                                "with the residual stream rotated instead"),
                                               (unrot[1], "unrotated with round to nearest (the best W4A4 before it)")]))
        apart = [(k, why) for k, why in (("w4a16,rotate-online,no-balance,clip-act,asym", "its weights alone"),
                                          ("fp32,a4,rotate-online,ag32,aasym",
                                           "its activations alone on float weights")) if k in got]
        if apart:
            txt += "; apart, " + ", ".join(f"{why} {fig(k)}" for k, why in apart)
        if any(k in got for k in online8):
            txt += ("; W4A8 with it " + ", ".join(fig(k) for k in online8 if k in got) + ", against "
                    + ", ".join(fig(k) for k in ("w4a8,no-rotate,no-balance,ag32,clip-act",
                                                 "w4a8,rtn,no-rotate,no-balance,ag32,clip-act") if k in got)
                    + " unrotated")
        out.append(txt + ".")
    ex = r.explore(files["f32"])
    if ex and "fp32" in ex:
        def efig(v):
            return f"`{v}` {100 * (ex[v] / ex['fp32'] - 1):+.2f}%" if v in ex else f"`{v}` not run"
        out.append("- Activations alone simulated outside the library, to rank what it has no modifier for "
                   "(`tools/act_quant_explore.py`: transformers, float weights, every linear input quantized and "
                   "read back by a forward pre-hook; its FP32 perplexity is "
                   f"{ex['fp32']:.3f}, the changes are against it; a rotation there is a random orthogonal matrix "
                   "applied online at the named inputs, the residual stream unrotated): "
                   + ", ".join(efig(v) for v in EXPLORE) + ". The library's `fp32,a4,ag32` and `fp32,a4,ag32,aasym` rows measure what `g32` and "
                   "`g32,asym` simulate. The lowest, asymmetric groups of 16, is the one to build next: it "
                   "needs weight groups of 16 (the qd8 kernels take one activation scale per weight group: a new "
                   "layout, with a scale and zero point per 16 activations). A rotation of the down projection's input "
                   "alone (`g32,asym,rot-down` against `g32,asym`) gains much more with asymmetric groups than the "
                   "symmetric one-input rows above suggest, and would rotate only the down projection's columns, with "
                   "the online rotation `rotate` already runs there and the residual stream unrotated: a "
                   "`rotate-down` modifier is the other thing to build next. A rotation at the attention and MLP "
                   "inputs only, online, the residual stream unrotated, is what `rotate-online` builds (its rows "
                   "above).")
        if any(v in ex for v in EXPLORE_W4A4):
            out.append("- The same simulation with 4-bit weights too, to see which layout could hold W4A4 within +10% "
                       "(`w4`: symmetric weight groups of 32 as `aq_q4w_quantize_rtn_ref`, `wg16` groups of 16, "
                       "`wclip-act` the library's `clip-act` search, `wgptq` GPTQ on the float model's Hessians, "
                       "`a16` float activations; a rotated input's weights rounded in the rotated basis; "
                       "`fold-norm` moves the norms' gains into the weights before the rotation, as the library's "
                       "rotation of the residual stream must): " + ", ".join(efig(v) for v in EXPLORE_W4A4)
                       + ". It tracks the library where both have the layout (`a16,w4` and `a16,w4,wclip-act` against "
                       "`w4a16,rtn` and `w4a16,rtn,clip-act`). " + simulated_verdict(ex))
    rounding = r.rounding(files["f32"])
    if rounding and "w4a16,rtn" in got and "w4a16,rtn,rotate" in got:
        ms = rounding["matrices"]
        q = [m for m in ms if "sym_as_is_gain_folded" in m]
        out.append(
            f"- Rotation costs SmolLM2's 4-bit weights ({fig('w4a16,rtn')} without, {fig('w4a16,rtn,rotate')} with), "
            "and the Q4_1 grid its F32 reference sits on is not why (`tools/weight_rounding.py`): a group of 32 holds "
            f"{min(m['distinct_per_group'] for m in ms):.1f}-{max(m['distinct_per_group'] for m in ms):.1f} distinct "
            "values, but our symmetric grid does not land on them: round to nearest in groups of 32 loses "
            f"{min(m['sym_as_is'] for m in ms) * 100:.1f}-{max(m['sym_as_is'] for m in ms) * 100:.1f}% of a matrix's "
            f"norm as it is and {min(m['sym_rotated'] for m in ms) * 100:.1f}-{max(m['sym_rotated'] for m in ms) * 100:.1f}% "
            "after a random rotation (asymmetric: "
            f"{min(m['asym_as_is'] for m in ms) * 100:.1f}-{max(m['asym_as_is'] for m in ms) * 100:.1f}% and "
            f"{min(m['asym_rotated'] for m in ms) * 100:.1f}-{max(m['asym_rotated'] for m in ms) * 100:.1f}%), and "
            "folding the attention norm's gain in changes little (" + ", ".join(
                f"{m['name']}: {m['sym_as_is_gain_folded'] * 100:.1f}% as is, {m['sym_rotated_gain_folded'] * 100:.1f}% "
                "rotated" for m in q) + "). The error is as large either way; what differs is where it lands: "
            "unrotated, each weight's error meets the input channel it reads, and SmolLM2's inputs put their energy "
            "in a few persistent channels (the statistics below); rotated, the error is spread over every direction, "
            "including the ones the model's massive residual channels live in.")
    for fam, _ in FAMILIES:
        row = {}
        for s in VARIANT_SCHEMES:
            base = r.ours(os.path.join(ROOT, dict(FAMILIES)[fam]), austen, "fp32")
            each = [change(r.ours(variants[(fam, k)], austen, s), base) for k in range(1, args.seeds + 1)]
            each = [e for e in each if e is not None]
            if each:
                row[s] = (max(each), len(each))
        sites = {c: change(r.ours(v, austen, SITE_SCHEMES[0]), r.ours(os.path.join(ROOT, dict(FAMILIES)[fam]), austen,
                                                                       "fp32"))
                 for (f, c), v in single.items() if f == fam}
        sites = {c: v for c, v in sites.items() if v is not None}
        if row:
            txt = ", ".join(f"`{s}` {v:+.2f}% (of {n})" for s, (v, n) in row.items())
            worst = max(sites, key=sites.get) if sites else None
            out.append(f"- {fam}: worst over the seeded variants (all sites) {txt}"
                       + (f"; one site at a time, `{SITE_SCHEMES[0]}` loses most at `{worst}` "
                          f"({sites[worst]:+.2f}%)." if worst else "."))
    w8 = {k: v for k, v in got.items() if is_w4a8(k)}
    w4 = {k: v for k, v in got.items() if w4a4_throughout(k)}
    out.append("- Chosen defaults: `w4a8` and `w4a4` are GPTQ in groups of 32 with the full-width rotation (the "
               "residual's folded into the weights, the down projection's input rotated online over its whole "
               "width where it factors as 12 or 20 times a power of two) and both balancings, MLP (up rows against "
               "down columns) and V/O (V rows against the output projection's columns, `aq_balance_attention`). "
               "Why: the V/O site was the costliest planted site and balancing divides a planted factor out exactly, "
               "as it does for up/down; the full-width rotation is what holds SmolLM2's 2473x down-projection "
               "outlier; all are exact in FP32 (`test_families`: max |logit - fp32| <= 4e-5 on every family). "
               "`rotate-blocked` stays to read files of format version 1 and to compare. Not done: an online "
               "per-head Hadamard across heads (QuaRot's) on the output projection's input (the per-head rotation "
               "is folded into V and O, and balancing covers the planted site); group-wise activation scales as a "
               "default (`ag32` is a modifier: see the SmolLM2 rows); a Paley factor of order 44 (TinyLlama's "
               "5632 = 44 x 128 would be mixed whole, but its online rotation took about 4 times as long as the "
               "blocked one, so 5632 stays blocked)."
               + (f" On SmolLM2 the defaults are not the best measured: {fig('w4a8')} and {fig('w4a4')}, against the "
                  "best of each below." if "w4a8" in got and "w4a4" in got and
                  min(w8.values()) < got["w4a8"] and min(w4.values()) < got["w4a4"] else ""))
    mixed = {k: v for k, v in got.items() if k.startswith("w4a4,") and "mix8-" in k}
    if q40 is not None and w8 and w4:
        b8, b4 = min(w8, key=w8.get), min(w4, key=w4.get)
        line = (f"- SmolLM2's targets, best measured: W4A8 {fig(b8)} against llama.cpp's Q4_0 {q40:+.2f}% ("
                f"{verdict(w8[b8], q40)}); W4A4 throughout {fig(b4)} against +10% ({verdict(w4[b4], 10)})")
        # The same schemes on the second text, the targets' other held-out text.
        brown = TEXTS[1][1]
        bb = r.ours(files["f32"], brown, "fp32")
        q40b, c8, c4 = (change(r.llama(files["q4_0"], brown), bb), change(r.ours(files["f32"], brown, b8), bb),
                        change(r.ours(files["f32"], brown, b4), bb))
        if None not in (q40b, c8, c4):
            line += (f"; on {TEXTS[1][0]}: W4A8 {c8:+.2f}% against Q4_0 {q40b:+.2f}% ("
                     f"{verdict(c8, q40b)}), W4A4 {c4:+.2f}% ({verdict(c4, 10)})")
        if mixed:
            met = [k for k in mixed if mixed[k] <= 10]
            bm = min(met, key=mix8_n) if met else min(mixed, key=mixed.get)
            wide, total, macs = mix8_share(mix8_n(bm))
            line += (f"; W4A4 with {wide} of {total} activation groups of a layer at 8 bits ({wide / total * 100:.0f}% "
                     f"of the groups, {macs * 100:.0f}% of the multiply-adds) {fig(bm)} ("
                     + ("met: the fewest 8-bit groups measured that meet it" if met else verdict(mixed[bm], 10)) + ")")
        out.append(line + ".")
    out += longer_check_findings(r, files, args)
    w16 = {k: v for k, v in got.items() if k.startswith("w4a16")}
    if q40 is not None and w16:
        b16 = min(w16, key=w16.get)
        out.append(f"- SmolLM2's 4-bit weights alone cost at best {fig(b16)} (round to nearest {fig('w4a16,rtn')}, "
                   f"llama.cpp's Q4_0 {q40:+.2f}%): the F32 reference is a dequantized Q4_1 file, so every 4-bit "
                   "scheme re-quantizes weights already quantized once. W4A4 <= +10% leaves the 4-bit activations "
                   f"{(110 / (1 + w16[b16] / 100) - 100):.1f}% on top of that.")
    return out + [""]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--python-hf", default="/work/scratch/hfvenv/bin/python")
    ap.add_argument("--chunks", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--smol-schemes", default=";".join(s for _, s in SMOL_SCHEMES),
                    help="semicolon-separated subset of the SmolLM2 schemes")
    ap.add_argument("--check-chunks", type=int, default=CHECK_CHUNKS, help="chunks of the longer check on SmolLM2")
    ap.add_argument("--check-schemes", default=CHECK_SCHEMES,
                    help="semicolon-separated schemes of the longer check on SmolLM2")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--doc-only", action="store_true", help="write the document from the cache, measure nothing")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "OUTLIERS.md"))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.check_schemes = [s for s in args.check_schemes.split(";") if s]
    smol_schemes = [(label, s) for label, s in SMOL_SCHEMES if s in args.smol_schemes.split(";")]
    r = Runner(args)
    started = time.time()
    files = prepare_smollm2(r, args)

    variants = {}
    for fam, path in FAMILIES:
        for seed in range(1, args.seeds + 1):
            out = os.path.join(r.dir, f"{fam}-seed{seed}.gguf")
            if not os.path.exists(out):
                run([sys.executable, os.path.join(ROOT, "tools", "make_outlier_variant.py"), os.path.join(ROOT, path),
                     out, "--sites", ALL_SITES, "--seed", str(seed)])
            variants[(fam, seed)] = out
    single = {}
    for fam, path in FAMILIES:
        for sites in SINGLE_SITES[fam]:
            out = os.path.join(r.dir, f"{fam}-{sites.replace(',', '+')}-seed1.gguf")
            if not os.path.exists(out):
                run([sys.executable, os.path.join(ROOT, "tools", "make_outlier_variant.py"), os.path.join(ROOT, path),
                     out, "--sites", sites, "--seed", "1"])
            single[(fam, sites)] = out
    fixture_files = {}
    for fam, path, _ in FIXTURES:
        base = os.path.join(r.dir, f"fixture-{os.path.basename(path)}")
        var = base.replace(".gguf", "-seed1.gguf")
        if not os.path.exists(base):
            run([sys.executable, os.path.join(ROOT, "tools", "make_outlier_variant.py"), os.path.join(ROOT, path), base,
                 "--sites", "none"])
        if not os.path.exists(var):
            run([sys.executable, os.path.join(ROOT, "tools", "make_outlier_variant.py"), os.path.join(ROOT, path), var,
                 "--sites", ALL_SITES, "--seed", "1"])
        fixture_files[fam] = (base, var)

    austen, brown = TEXTS[0][1], TEXTS[1][1]
    # Most telling first, so that a run cut short still fills the main rows: SmolLM2 on Austen, one site at
    # a time (quick: no calibration), the fixtures' FP32 check, the seeded variants, Brown, the statistics.
    jobs = [lambda k=k: r.llama(files[k], austen) for k in ("f32", "q4_0", "q8_0")]
    jobs += [lambda k=k: r.ours(files[k], austen, "fp32") for k in ("f32", "aq-f32")]
    jobs += [lambda s=s: r.ours(files["f32"], austen, s) for _, s in smol_schemes]
    for fam, path in FAMILIES:
        for s in SITE_SCHEMES:
            jobs.append(lambda p=path, s=s: r.ours(os.path.join(ROOT, p), austen, s))
            for sites in SINGLE_SITES[fam]:
                jobs.append(lambda v=single[(fam, sites)], s=s: r.ours(v, austen, s))
    for fam, _, ctx in FIXTURES:
        for f in fixture_files[fam]:
            jobs.append(lambda f=f, ctx=ctx: r.ours(f, austen, "fp32", 4, ctx))
    for fam, path in FAMILIES:
        for s in ["fp32"] + VARIANT_SCHEMES:
            jobs.append(lambda p=path, s=s: r.ours(os.path.join(ROOT, p), austen, s))
            for seed in range(1, args.seeds + 1):
                jobs.append(lambda v=variants[(fam, seed)], s=s: r.ours(v, austen, s))
    jobs += [lambda k=k: r.llama(files[k], brown) for k in ("f32", "q4_0", "q8_0")]
    jobs += [lambda: r.ours(files["f32"], brown, "fp32")]
    jobs += [lambda s=s: r.ours(files["f32"], brown, s) for _, s in smol_schemes]
    jobs.append(lambda: longer_check(r, files, args))
    jobs += [lambda p=p: r.stats(os.path.join(ROOT, p)) for _, p in FAMILIES]
    jobs.append(lambda: r.stats(files["f32"]))
    jobs.append(lambda: r.rounding(files["f32"]))
    jobs.append(lambda: r.explore(files["f32"]))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        for f in [ex.submit(j) for j in jobs]:
            f.result()

    default_smol = ";".join(s for _, s in SMOL_SCHEMES)
    smol_arg = "" if args.smol_schemes == default_smol else f" --smol-schemes '{args.smol_schemes}'"
    if args.check_chunks != CHECK_CHUNKS or ";".join(args.check_schemes) != CHECK_SCHEMES:
        smol_arg += f" --check-chunks {args.check_chunks} --check-schemes '{';'.join(args.check_schemes)}'"
    L = ["# Outliers: a real model's own, and planted ones anywhere", "",
         f"Generated by `python3 tools/outliers_table.py --build BUILD --llama-bin DIR --chunks {args.chunks} "
         f"--seeds {args.seeds}{smol_arg}` (do not edit by hand). Perplexity as llama-perplexity computes it: context {CTX}, "
         f"the first {args.chunks} chunks of each text, the second half of each chunk scored; in brackets the change "
         "against FP32 on the same model and text. Few chunks keep the whole run within an hour on this shared "
         "machine; changes between schemes are paired (same tokens), but a few tenths of a percent are within noise. "
         f"Calibration (GPTQ, static scales, TRIP) reads `{CALIB}` (8 chunks of 512 tokens spread over it)."
         + (f" `--smol-schemes` named {len(smol_schemes)} of the {len(SMOL_SCHEMES)} SmolLM2 schemes: the others are "
            "not in the table, and a finding whose comparison needs one of them is not written." if smol_arg else ""),
         ""]

    intro_end = len(L)
    L += ["## SmolLM2-135M-Instruct", "",
          "The Q4_1 file that `tools/fetch_smollm2.sh` fetches, dequantized to F32 by llama.cpp's "
          "`llama-quantize --allow-requantize IN F32` (the reference); llama.cpp's Q4_0 and Q8_0 are quantized "
          "from that F32 file and measured by `llama-perplexity` on the same text, context and chunks. "
          "`aq-quantize --scheme fp32` of the Q4_1 file is the same model: its FP32 perplexity is in the second row."
          + (" The rows named `rotate-blocked` were measured before the full-width rotation and V/O balancing existed "
          "(commit f8b87a1, as `w4a16,rtn,rotate`, `w4a8,rtn`, `w4a4,rtn` and `w4a4,rtn,down8`, whose rotation was "
          "then the blocked one and whose balancing the MLP's only), and kept in the cache under the names that "
          "give the same function now." if any("rotate-blocked" in k for _, k in smol_schemes) else ""),
          "", "| model / scheme | name | " + " | ".join(t for t, _ in TEXTS) + " |", "|---|---|" + "---|" * len(TEXTS)]
    base = {t: r.ours(files["f32"], t, "fp32") for _, t in TEXTS}
    L.append("| FP32 (llama.cpp's F32 file), aq-perplexity | `fp32` | " +
             " | ".join(num(base[t]) for _, t in TEXTS) + " |")
    L.append("| FP32 (`aq-quantize --scheme fp32` of the Q4_1), aq-perplexity | `fp32` | " +
             pct(r.ours(files["aq-f32"], TEXTS[0][1], "fp32"), base[TEXTS[0][1]]) + " | (Austen only) |")
    for k, label in (("f32", "llama.cpp F32, llama-perplexity"), ("q8_0", "llama.cpp Q8_0, llama-perplexity"),
                     ("q4_0", "llama.cpp Q4_0, llama-perplexity")):
        L.append(f"| {label} | | " + " | ".join(pct(r.llama(files[k], t), base[t]) for _, t in TEXTS) + " |")
    for label, s in smol_schemes:
        L.append(f"| {label} | `{s}` | " + " | ".join(pct(r.ours(files["f32"], t, s), base[t]) for _, t in TEXTS) + " |")
    L.append("")
    n = args.check_chunks
    L += [f"## SmolLM2 at {n} chunks", "",
          f"The first {n} chunks of each text instead of {args.chunks}, for llama.cpp's two files and the schemes "
          "named by `--check-schemes`; the rest as above.", "",
          "| model / scheme | name | " + " | ".join(t for t, _ in TEXTS) + " |", "|---|---|" + "---|" * len(TEXTS)]
    base_n = {t: r.ours(files["f32"], t, "fp32", n) for _, t in TEXTS}
    L.append("| FP32 (llama.cpp's F32 file), aq-perplexity | `fp32` | " +
             " | ".join(num(base_n[t]) for _, t in TEXTS) + " |")
    for k, label in (("q8_0", "llama.cpp Q8_0, llama-perplexity"), ("q4_0", "llama.cpp Q4_0, llama-perplexity")):
        L.append(f"| {label} | | " + " | ".join(pct(r.llama(files[k], t, n), base_n[t]) for _, t in TEXTS) + " |")
    for s in args.check_schemes:
        L.append(f"| | `{s}` | " + " | ".join(pct(r.ours(files["f32"], t, s, n), base_n[t]) for _, t in TEXTS) + " |")
    L.append("")

    L += ["## Activation statistics", "",
          "Largest input channel over the median channel at each linear layer's input (a channel's magnitude is "
          "its largest |x| over the first 2 chunks of 512 tokens of the held-out Austen text), computed outside "
          "the library by `tools/activation_stats.py` (transformers' models loaded from the GGUF, forward hooks; "
          "its perplexity on those chunks equals aq-perplexity's to 4 decimals on every model). Sites: `qkv` the "
          "attention input, `o` the attention output projection's input, `up` the MLP up/gate input, `down` the "
          "MLP down projection's input.", ""]
    stat_models = [("SmolLM2-135M-Instruct", files["f32"])] + [(f"{os.path.basename(p)} ({fam})", os.path.join(ROOT, p))
                                                                 for fam, p in FAMILIES]
    L += ["| model | layers | max over layers: qkv | o | up | down | median over layers: qkv | o | up | down |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    import statistics
    stat_models = [(name, p) for name, p in stat_models if r.stats(p)]
    for name, p in stat_models:
        st = r.stats(p)["layers"]
        mx = [max(l[s]["max_over_median"] for l in st) for s in ("qkv", "o", "up", "down")]
        md = [statistics.median(l[s]["max_over_median"] for l in st) for s in ("qkv", "o", "up", "down")]
        L.append(f"| {name} | {len(st)} | " + " | ".join(f"{v:.1f}" for v in mx + md) + " |")
    L += ["", "Per layer:", ""]
    for name, p in stat_models:
        st = r.stats(p)["layers"]
        L += [f"<details><summary>{name}</summary>", "", "| layer | qkv | o | up | down |", "|---|---|---|---|---|"]
        L += [f"| {i} | " + " | ".join(f"{l[s]['max_over_median']:.1f} (ch {l[s]['argmax']})"
                                        for s in ("qkv", "o", "up", "down")) + " |" for i, l in enumerate(st)]
        L += ["", "</details>", ""]

    L += ["## Worst case over seeded outlier variants", "",
          f"`tools/make_outlier_variant.py IN OUT --sites {ALL_SITES} --seed S` for S = 1..{args.seeds}: per layer, "
          "4 random channels at each site the family allows, each with its own factor, log-uniform in [16, 128]: "
          "the attention norm (weight, and bias for LayerNorm) against the Q/K/V columns (`attn_in`), the MLP norm "
          "against the up/gate columns (`ffn_in`), V rows against O columns (`vo`), up rows against down columns "
          "(`mlp`: SwiGLU and ReLU only; not for GELU), and, for LayerNorm families, a large constant added to norm "
          "bias channels with the readers' biases corrected (`attn_shift`, `ffn_shift`). Held-out Austen text; the "
          "change is against the unplanted model's FP32 perplexity.", "",
          "| family (model) | FP32 of the variants (largest relative change) | scheme | unplanted | worst over seeds "
          "(seed) | each seed |", "|---|---|---|---|---|---|"]
    text = TEXTS[0][1]
    for fam, path in FAMILIES:
        fbase = r.ours(os.path.join(ROOT, path), text, "fp32")
        fv = [r.ours(variants[(fam, s)], text, "fp32") for s in range(1, args.seeds + 1)]
        fvar = max((abs(v / fbase - 1) for v in fv if v is not None and fbase), default=None)
        for i, s in enumerate(VARIANT_SCHEMES):
            each = [r.ours(variants[(fam, seed)], text, s) for seed in range(1, args.seeds + 1)]
            done = [j for j in range(len(each)) if each[j] is not None]
            worst = max(done, key=lambda j: each[j]) if done else None
            first = f"| {fam} ({os.path.basename(path)}) | {num(fvar, '.1e')} |" if i == 0 else "| | |"
            L.append(f"{first} `{s}` | {pct(r.ours(os.path.join(ROOT, path), text, s), fbase)} | "
                     + (f"{pct(each[worst], fbase)} ({worst + 1}) | " if done else "not run | ")
                     + ", ".join("not run" if v is None else f"{(v / fbase - 1) * 100:+.2f}%" for v in each) + " |")
    L += ["", "One site at a time (seed 1, the same factors' distribution), round to nearest so that no calibration "
          "is needed; change against the unplanted model's FP32:", "",
          "| family | scheme | unplanted | " + " | ".join(sorted({x for v in SINGLE_SITES.values() for x in v},
                                                              key=lambda x: ALL_SITES.find(x.split(",")[0]))) + " |"]
    cols = sorted({x for v in SINGLE_SITES.values() for x in v}, key=lambda x: ALL_SITES.find(x.split(",")[0]))
    L.append("|---|---|---|" + "---|" * len(cols))
    for fam, path in FAMILIES:
        fbase = r.ours(os.path.join(ROOT, path), text, "fp32")
        for s in SITE_SCHEMES:
            cells = [pct(r.ours(single[(fam, c)], text, s), fbase) if c in SINGLE_SITES[fam] else "n/a" for c in cols]
            L.append(f"| {fam} | `{s}` | {pct(r.ours(os.path.join(ROOT, path), text, s), fbase)} | " +
                     " | ".join(cells) + " |")
    L += ["", "FP32 check on the random-weight fixtures of `data/families` (all sites, seed 1, against `--sites none` "
          "of the same file; context 64, 4 chunks):", "", "| fixture | FP32 unplanted | FP32 variant | relative change |",
          "|---|---|---|---|"]
    for fam, _, ctx in FIXTURES:
        a, b = (r.ours(f, text, "fp32", 4, ctx) for f in fixture_files[fam])
        L.append(f"| {fam} | {num(a, '.4f')} | {num(b, '.4f')} | "
                 f"{num(None if a is None or b is None else abs(b / a - 1), '.1e')} |")
    L += ["", "Written from the results cached in BUILD/outliers (--doc-only); 'not run' marks what was not measured."
          if args.doc_only else f"Took {time.time() - started:.0f} s on this machine (cached results not re-measured)."]
    L[intro_end:intro_end] = findings(r, files, variants, single, smol_schemes, args)
    open(args.out, "w").write("\n".join(L) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
