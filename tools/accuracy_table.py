#!/usr/bin/env python3
"""Regenerates docs/ACCURACY.md and docs/accuracy.png. Six sections, each
rewritten only when named in --sections (the others are kept as they are in
the file, with the command that made them), and one step that writes none:

  summary   every scheme on every family, the shipped models, SmolLM2-135M-
            Instruct and the worst of the seeded outlier variants, next to
            the published deltas (../shared/PAPER.md), with issue 14's
            targets marked met or missed; measures nothing: it reads the
            other sections of the page and the results cache of
            tools/outliers_table.py (--outliers-cache, default
            BUILD/outliers/results.json), so `--sections summary` takes
            seconds; it comes first on the page and is written last;
  schemes   every quantization scheme on the shipped model and its outlier
            stress variant, held-out Austen and Brown text;
  families  the paper's table (FP32, W4A16, W4A8, W4A8 with pruning, W4A4,
            the paper's static schemes) on the three shipped families,
            LLaMA (austen-6m), OPT (austen-opt) and BLOOM (austen-bloom), next
            to the paper's rows, with the issue's targets checked; it draws
            docs/accuracy.png (gnuplot);
  w3a8      3-bit weights (`w3a8`) beside W4A8 on the three shipped families,
            held-out Austen and Brown, with the issue's W3A8 target checked;
  head      the output head as INT4 (`head-int4`) against the default Q8_0
            head, on the three shipped families and SmolLM2-135M-Instruct
            (tools/fetch_smollm2.sh; only with --llama-bin DIR);
  llamacpp  quantizing from a llama.cpp file (llama-quantize Q8_0, Q4_K_M,
            of austen-6m) against quantizing from the F32 original; only
            with --llama-bin DIR (llama.cpp's build/bin), skipped otherwise;
  outliers  (a step, no section here) runs tools/outliers_table.py --build
            BUILD --llama-bin DIR --chunks 2 --seeds 5, which measures what
            its cache lacks (SmolLM2, the seeded variants) and rewrites
            docs/OUTLIERS.md; only with --llama-bin DIR. It runs before the
            summary, so the default (everything) is one command.

usage: accuracy_table.py BUILD_DIR [--sections summary,schemes,families,llamacpp,w3a8,head,outliers] [--chunks N]
                         [--jobs N] [--llama-bin DIR] [--outliers-cache FILE[,FILE...]] [--work DIR]
                         [--out docs/ACCURACY.md] [--png docs/accuracy.png]
(or --build BUILD_DIR). tools/accuracy_table.sh builds the tools first."""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALIB = os.path.join(ROOT, "data", "austen-train.txt")
AUSTEN = ("Austen held-out", os.path.join(ROOT, "data", "austen-test.txt"))
BROWN = ("Brown", os.path.join(ROOT, "data", "brown-sample.txt"))
# In the order of the page; the summary is written last (it reads the others).
SECTIONS = ("summary", "schemes", "families", "llamacpp", "w3a8", "head")
STEPS = SECTIONS + ("outliers",)
# tools/outliers_table.py's run that the summary reads: context 512, 2 chunks, 5 seeded variants per model.
OUTLIER_CHUNKS, OUTLIER_SEEDS = 2, 5

ROWS = [
    ("FP32", "fp32"),
    ("llama.cpp Q8_0 (W8A8, per-32 blocks)", "q8_0"),
    ("llama.cpp Q4_0 (W4A8, per-32 blocks)", "q4_0"),
    ("W4A16, round to nearest", "w4a16,rtn"),
    ("W4A16, GPTQ (`w4a16`)", "w4a16"),
    ("W4A8 paper: static per-tensor + TRIP, RTN", "w4a8-paper,rtn"),
    ("W4A8 paper: static per-tensor + TRIP, GPTQ (`w4a8-paper`)", "w4a8-paper"),
    ("W4A8 paper without TRIP", "w4a8-paper,no-trip"),
    ("W4A8 dynamic per-token, RTN, no rotation or balancing", "w4a8,rtn,no-rotate,no-balance"),
    ("W4A8 dynamic per-token, GPTQ, no rotation or balancing", "w4a8,no-rotate,no-balance"),
    ("W4A8 dynamic per-token + rotation, GPTQ, no balancing", "w4a8,no-balance"),
    ("W4A8 dynamic per-token + balancing + rotation, RTN", "w4a8,rtn"),
    ("W4A8 dynamic per-token + balancing + rotation, GPTQ (`w4a8`)", "w4a8"),
    ("W4A4 paper: static per-tensor + TRIP, GPTQ (`w4a4-paper`)", "w4a4-paper"),
    ("W4A4 dynamic per-token, GPTQ, no rotation or balancing", "w4a4,no-rotate,no-balance"),
    ("W4A4 dynamic per-token + rotation, GPTQ, no balancing", "w4a4,no-balance"),
    ("W4A4 dynamic per-token + balancing + rotation, RTN", "w4a4,rtn"),
    ("W4A4 dynamic per-token + balancing + rotation, GPTQ (`w4a4`)", "w4a4"),
]
# LLaMA-7B, WikiText-2 (../shared/PAPER.md): relative to FP16 5.68
PAPER = {"w4a16": "+3.0% (GPTQ)", "w4a8-paper": "+8.5%", "w4a4-paper": "+55% (with pruning)"}

# The three shipped families: (short name, file, description, the paper's model and its WikiText-2
# perplexities from ../shared/PAPER.md: FP16, W4A16, W4A8, W4A8 + pruning, W4A4 + pruning).
FAMILIES = [
    ("LLaMA", "austen-6m.gguf", "6 layers, 256 wide, RoPE, SwiGLU", "LLaMA-7B", (5.68, 5.85, 6.16, 6.09, 8.81)),
    ("OPT", "austen-opt.gguf", "4 layers, 256 wide, learned positions, ReLU", "OPT-6.7B",
     (10.86, None, 11.43, 11.21, None)),
    ("BLOOM", "austen-bloom.gguf", "4 layers, 320 wide, ALiBi, GELU", "BLOOM-7.1B",
     (11.37, None, 11.73, 11.36, None)),
]
# W4A4 perplexities of the rotation methods on LLaMA-2-7B, WikiText-2, and its FP16 (../shared/PAPER.md).
ROTATION_METHODS = [("QuaRot", 6.10), ("SpinQuant", 5.96)]
ROTATION_FP16 = 5.47
PRUNE = 0.5  # the fraction of the prompt gone after the last layer: keep 50%
# (label, scheme, prune beta, index of the paper's figure in FAMILIES or None)
FAMILY_ROWS = [
    ("FP32", "fp32", 0, 0),
    ("FP32, keep 50% of the prompt", "fp32", PRUNE, None),
    ("W4A16, GPTQ", "w4a16", 0, 1),
    ("W4A8 paper: static per-tensor + TRIP", "w4a8-paper", 0, 2),
    ("W4A8 paper, keep 50% of the prompt", "w4a8-paper", PRUNE, 3),
    ("W4A8 (dynamic per-token, balancing, rotation)", "w4a8", 0, None),
    ("W4A8, keep 50% of the prompt", "w4a8", PRUNE, None),
    ("W4A4 paper: static per-tensor + TRIP", "w4a4-paper", 0, None),
    ("W4A4 paper, keep 50% of the prompt", "w4a4-paper", PRUNE, 4),
    ("W4A4 (dynamic per-token, balancing, rotation)", "w4a4", 0, None),
    ("W4A4, keep 50% of the prompt", "w4a4", PRUNE, None),
    ("W4A8KV4 (`w4a8` with the 4-bit KV cache)", "w4a8kv4", 0, None),
    ("W4A4KV4 (`w4a4` with the 4-bit KV cache)", "w4a4kv4", 0, None),
]
# The targets: (what, scheme, prune, largest change against FP32 in percent)
TARGETS = [("W4A8", "w4a8", 0, 0.5), ("W4A4", "w4a4", 0, 2.0), ("W4A8, keep 50% of the prompt", "w4a8", PRUNE, 2.0),
           ("W4A4KV4", "w4a4kv4", 0, 1.5)]
FAMILY_NOTES = """\
### Rotating LayerNorm models

Rotation needs a norm that commutes with it. RMSNorm does (a rotation keeps the mean square); LayerNorm
does not (it subtracts the mean, which a rotation moves). For bloom, gpt2 and opt, `lib/quant/transforms.c`
first makes the model an RMSNorm one with the same function, as QuaRot does: every writer of the residual
stream (token embedding rows, learned position rows, the attention output and MLP down projections with
their biases) is centred, `W' = (I - 1 1^T / d) W`, which nothing downstream notices because every reader
is a LayerNorm that subtracts the mean anyway; the residual is then mean-free, so each LayerNorm equals an
RMSNorm with the same epsilon, and its weight and bias fold into the matrices that read it (`W diag(g)`,
`b + W beta`; the final norm's bias becomes a bias of the output head). BLOOM normalizes the embedding
itself, and that output is not mean-free. Two exact remedies were weighed: centring (and rotating) it at
run time after every embedding lookup, a per-token step and a second code path; or, since that LayerNorm is
a function of the token alone, folding it into the embedding table row by row (row t becomes
`LayerNorm(e_t)`, then centred and rotated). The table is float either way, so the second costs nothing at
run time and adds no building block: it is the one taken. `tests/test_families.c`
(`test_transforms_preserve_the_function`) checks on random-weight bloom, gpt2, opt, qwen2 and llama files
that `fp32,rotate`, `fp32,balance` and `fp32,balance,rotate` leave the logits as they were, up to float
rounding. Costs: a tied head (BLOOM, OPT) is untied, the head keeping the original rows with the final norm
folded in, so one more vocabulary x width table is in memory; a rotated file says `agilequant.norm = rms`
(and, for BLOOM, `agilequant.embedding_norm_folded`), so only this library reads it. Balancing applies to
ReLU MLPs (OPT: `relu(x / s) = relu(x) / s`, the up bias divided too) and is skipped for GELU (BLOOM,
GPT-2), which is not homogeneous."""


def section_marker(name):
    return f"<!-- section {name}: written by tools/accuracy_table.py --sections {name} -->"


class Runner:
    """Quantizes each (model, scheme) once into a work folder (aq-quantize), then scores the
    files with aq-perplexity; --jobs of either at a time, one thread each (tokenizing the
    calibration text is serial, so two one-thread jobs use two cores better than one job)."""

    def __init__(self, build, work, chunks, jobs, reuse):
        self.build, self.work, self.chunks, self.jobs, self.reuse = build, work, chunks, jobs, reuse
        self.quantized, self.scores, self.lock = {}, {}, threading.Lock()
        self.chunks_for = {}  # models scored on fewer chunks than the others

    def tool(self, name):
        return os.path.join(self.build, "examples", name)

    def quantize(self, model, scheme):
        key = (model, scheme)
        if scheme == "fp32":
            self.quantized[key] = model
            return
        out = os.path.join(self.work, re.sub(r"[^A-Za-z0-9]+", "-", f"{os.path.basename(model)}-{scheme}") + ".gguf")
        cmd = ["nice", self.tool("aq-quantize"), "-m", model, "-o", out + ".part", "--scheme", scheme, "--calib", CALIB]
        if not (self.reuse and os.path.exists(out)):
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                sys.exit(f"failed: {' '.join(cmd)}\n{res.stderr}")
            os.replace(out + ".part", out)
        with self.lock:
            self.quantized[key] = out
        print(f"quantized {os.path.basename(model)} {scheme}", flush=True)

    def perplexity(self, model, scheme, text, prune):
        cmd = ["nice", self.tool("aq-perplexity"), "-m", self.quantized[(model, scheme)], "-f", text, "--ctx", "512",
               "--chunks", str(self.chunks_for.get(model, self.chunks)), "-t", "1"]
        if prune:
            cmd += ["--prune", str(prune)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"Final estimate: PPL = ([0-9.]+)", res.stdout)
        if not m:
            sys.exit(f"failed: {' '.join(cmd)}\n{res.stderr}")
        with self.lock:
            self.scores[(model, scheme, text, prune)] = float(m.group(1))
        print(f"{os.path.basename(model)} {scheme} {os.path.basename(text)} prune {prune}: {m.group(1)}", flush=True)

    def run(self, wanted):
        """wanted: (model, scheme, text, prune) tuples; fills self.scores."""
        wanted = [w for w in dict.fromkeys(wanted) if w not in self.scores]
        with concurrent.futures.ThreadPoolExecutor(self.jobs) as pool:
            pairs = [p for p in dict.fromkeys((m, s) for m, s, _, _ in wanted) if p not in self.quantized]
            list(pool.map(lambda p: self.quantize(*p), pairs))
            list(pool.map(lambda w: self.perplexity(*w), wanted))

    def change(self, model, scheme, text, prune=0, base_scheme="fp32", base_model=None):
        v = self.scores[(model, scheme, text, prune)]
        return v, (v / self.scores[(base_model or model, base_scheme, text, 0)] - 1) * 100


def cell(v, pct, base):
    return f"{v:.3f}" if base else f"{v:.3f} ({pct:+.2f}%)"


def schemes_section(r, args, started):
    shipped = os.path.join(ROOT, "models", "austen-6m.gguf")
    outlier = os.path.join(r.work, "austen-6m-outlier.gguf")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_outlier_variant.py"), shipped, outlier],
                   check=True, capture_output=True)
    models = [("shipped model", shipped), ("outlier variant", outlier)]
    texts = [AUSTEN, BROWN]
    r.run([(m, s, t, 0) for _, m in models for _, t in texts for _, s in ROWS])
    lines = [
        "## Quantization schemes on the shipped model and its outlier variant", "",
        "Perplexity as llama.cpp's llama-perplexity computes it (context 512, the first "
        f"{args.chunks} chunks of each text, the second",
        "half of each chunk scored); in brackets the change against FP32 on the same model and text.",
        "Calibration (GPTQ, static scales, TRIP) reads `data/austen-train.txt`, never the evaluation text.",
        "The outlier variant is the shipped model with 4 channels of every RMSNorm weight and 8 rows of every",
        "MLP up projection multiplied by 64, the matching weight columns divided by 64",
        "(`tools/make_outlier_variant.py`): the same FP32 function, with 7B-like activation outliers.",
        "",
        "Rotation folds each RMSNorm weight into the projections that read it, and balancing (cross-layer",
        "equalization of each MLP up row against its down column, `lib/quant/transforms.c`) rescales every",
        "down-projection input channel to the size of the others. Together they undo both of the variant's",
        "transforms exactly, so `w4a8` and `w4a4` score on the variant what they score on the shipped model, up to",
        "float rounding: the variant no longer stresses them. The rows without balancing or rotation show what the",
        "outliers cost when they are not undone.",
        "Outliers that are not a per-channel rescaling (ones that come with particular tokens, say) are not",
        "undone by these transforms, and this variant does not measure them.",
        "",
    ]
    for mname, model in models:
        lines += [f"### {mname}", "",
                  "| scheme | name | " + " | ".join(t for t, _ in texts) + " | paper, LLaMA-7B |",
                  "|---|---|" + "---|" * len(texts) + "---|"]
        for label, scheme in ROWS:
            cells = [cell(*r.change(model, scheme, text), scheme == "fp32") for _, text in texts]
            lines.append(f"| {label} | `{scheme}` | " + " | ".join(cells) + f" | {PAPER.get(scheme, '')} |")
        lines.append("")
    lines.append(f"`{command(args, 'schemes')}`: {time.time() - started:.0f} s on this machine.")
    return lines


# 3-bit weights: (label, scheme); the target of issue 14: W3A8 within +3% of FP32 on the shipped models.
W3_ROWS = [
    ("FP32", "fp32"),
    ("W4A8 (`w4a8`, for comparison)", "w4a8"),
    ("W3A8, round to nearest (clipped scale)", "w3a8,rtn"),
    ("W3A8, GPTQ (`w3a8`)", "w3a8"),
]
W3_TARGET = ("W3A8", "w3a8", 3.0)


def w3a8_section(r, args, started):
    fams = family_models()
    texts = [AUSTEN, BROWN]
    r.run([(m, s, t, 0) for _, m, _, _, _ in fams for _, t in texts for _, s in W3_ROWS])
    lines = [
        "## 3-bit weights on the three shipped families", "",
        "`w3a8`: the `w4a8` recipe (MLP balancing, Hadamard rotations, GPTQ, dynamic per-token INT8 activations, "
        "Q8_0 head and embedding) on a 3-bit grid: symmetric groups of 32, levels -4..3, each group's f16 scale the "
        "best of 12 clipped candidates by squared error (`kernels_ref/q3w.c`), 3.5 bits a weight in the kernels' "
        "packed layout and in the file (docs/FORMAT.md). Perplexity at context 512, the first "
        f"{args.chunks} chunks of each text; in brackets the change against FP32 of the same model. Calibration "
        "reads `data/austen-train.txt`. Changes this small lie well inside the statistical error aq-perplexity "
        "prints for a few chunks (the same text for every row, so the rows compare better than that, but a "
        "negative change is noise, not a gain); these small models take 3 bits easily, a larger trained model "
        "would be the harder test.", "",
        "| model | scheme | name | " + " | ".join(t for t, _ in texts) + " |",
        "|---|---|---|" + "---|" * len(texts)]
    for name, model, _, _, _ in fams:
        for label, scheme in W3_ROWS:
            cells = [cell(*r.change(model, scheme, text), scheme == "fp32") for _, text in texts]
            lines.append(f"| {name} | {label} | `{scheme}` | " + " | ".join(cells) + " |")
    what, scheme, limit = W3_TARGET
    lines += ["", "Target of issue 14 (change against FP32, held-out Austen):", ""]
    for name, model, _, _, _ in fams:
        v, pct = r.change(model, scheme, AUSTEN[1])
        lines.append(f"- {name}, {what} (`{scheme}`): {pct:+.2f}%, target at most +{limit}%: "
                     f"{'met' if pct <= limit else 'MISSED'}")
    lines += ["", f"`{command(args, 'w3a8')}`: {time.time() - started:.0f} s on this machine."]
    return lines


# The output head at 4 bits: (label, scheme), each head-int4 row after the scheme it modifies.
HEAD_ROWS = [
    ("FP32", "fp32"),
    ("W4A8, Q8_0 head (`w4a8`)", "w4a8"),
    ("W4A8, INT4 head (`w4a8,head-int4`)", "w4a8,head-int4"),
    ("W4A4, Q8_0 head (`w4a4`)", "w4a4"),
    ("W4A4, INT4 head (`w4a4,head-int4`)", "w4a4,head-int4"),
]


def smollm2_f32(r, args):
    """SmolLM2-135M-Instruct as F32 (its Q4_1 file dequantized by llama.cpp's `llama-quantize
    --allow-requantize ... F32`: a file of ours would say it is quantized already), or None."""
    if not args.llama_bin:
        print("SmolLM2 skipped: it needs --llama-bin DIR (llama-quantize makes its F32 file)", file=sys.stderr)
        return None
    got = subprocess.run(["bash", os.path.join(ROOT, "tools", "fetch_smollm2.sh")], capture_output=True, text=True)
    if got.returncode:
        print(f"SmolLM2 skipped: tools/fetch_smollm2.sh failed\n{got.stderr}", file=sys.stderr)
        return None
    out = os.path.join(r.work, "smollm2-f32.gguf")
    if not (r.reuse and os.path.exists(out)):
        cmd = ["nice", os.path.join(args.llama_bin, "llama-quantize"), "--allow-requantize",
               got.stdout.strip().split("\n")[-1], out, "F32"]
        subprocess.run(cmd, check=True, capture_output=True)
    r.chunks_for[out] = args.smollm2_chunks
    return out


def head_section(r, args, started):
    models = [(name, m) for name, m, _, _, _ in family_models()]
    smol = smollm2_f32(r, args)
    texts = [AUSTEN, BROWN]
    wanted = [(m, s, t, 0) for _, m in models for _, t in texts for _, s in HEAD_ROWS]
    # SmolLM2 (135M) costs minutes a run here: the W4A8 pair, round to nearest, on Austen only
    smol_rows = [("FP32", "fp32"), ("W4A8 RTN, Q8_0 head (`w4a8,rtn`)", "w4a8,rtn"),
                 ("W4A8 RTN, INT4 head (`w4a8,rtn,head-int4`)", "w4a8,rtn,head-int4")]
    if smol:
        models.append(("SmolLM2-135M-Instruct", smol))
        wanted += [(smol, s, AUSTEN[1], 0) for _, s in smol_rows]
    r.run(wanted)
    lines = [
        "## A 4-bit output head", "",
        "`head-int4` stores the output head in our INT4 layout (symmetric groups of 32, round to nearest: "
        "calibration runs a layer at a time and has no statistics of the head's input) and quantizes its input "
        "to INT8 per token, so the head runs on the same qd8-qc4w kernels as the layers, 4.5 bits a weight "
        "instead of Q8_0's 8.5. The embedding table stays Q8_0 (the rotations untie a tied head; a head still tied "
        "is one INT4 table, docs/FORMAT.md). Perplexity at context 512, the first "
        f"{args.chunks} chunks of each text; in brackets the change against FP32 of the same model. Calibration "
        "reads `data/austen-train.txt`. SmolLM2-135M-Instruct (a real model, 30 layers, width 576, vocabulary "
        "49,152: its head is a fifth of its weights) is its Q4_1 file (tools/fetch_smollm2.sh) dequantized to "
        "F32 by llama.cpp's `llama-quantize --allow-requantize`, held-out Austen only, the first "
        f"{args.smollm2_chunks} chunks, the W4A8 pair with round to nearest only (GPTQ and more text take this "
        "shared machine too long for one run).", "",
        "| model | scheme | name | " + " | ".join(t for t, _ in texts) + " |",
        "|---|---|---|" + "---|" * len(texts)]
    for name, model in models:
        for label, scheme in (smol_rows if model == smol else HEAD_ROWS):
            cells = [cell(*r.change(model, scheme, text), scheme == "fp32")
                     if (model, scheme, text, 0) in r.scores else "" for _, text in texts]
            lines.append(f"| {name} | {label} | `{scheme}` | " + " | ".join(cells) + " |")
    lines += ["", "What the INT4 head adds to the change against FP32, held-out Austen (percentage points):", ""]
    for name, model in models:
        for _, scheme in (smol_rows if model == smol else HEAD_ROWS)[2::2]:
            base = scheme.replace(",head-int4", "")
            lines.append(f"- {name}, `{scheme}` against `{base}`: "
                         f"{r.change(model, scheme, AUSTEN[1])[1] - r.change(model, base, AUSTEN[1])[1]:+.2f}")
    lines += ["", f"`{command(args, 'head')}`: {time.time() - started:.0f} s on this machine."]
    return lines


def family_models():
    return [(name, os.path.join(ROOT, "models", f), desc, paper_model, paper)
            for name, f, desc, paper_model, paper in FAMILIES if os.path.exists(os.path.join(ROOT, "models", f))]


def families_section(r, args, started):
    fams = family_models()
    text = AUSTEN[1]
    r.run([(m, s, text, p) for _, m, _, _, _ in fams for _, s, p, _ in FAMILY_ROWS])
    lines = [
        "## The paper's table on the three shipped families", "",
        "Our three trained models, one per family the paper evaluates, on held-out Austen text (context 512, the "
        f"first {args.chunks} chunks), against the paper's WikiText-2 rows for LLaMA-7B, OPT-6.7B and BLOOM-7.1B "
        "(`../shared/PAPER.md`; blank where it gives none). In brackets: the change against FP32 of the same "
        "model. Calibration reads `data/austen-train.txt`. \"Keep 50% of the prompt\": `aq-perplexity --prune 0.5` "
        "(the paper's importance and schedule from layer n_layers / 2, positions kept; docs/PRUNING.md): each "
        "chunk's first half is a pruned prefill and its second half, whose predictions are the ones scored, "
        "attends to what is left of it. The paper's W4A8 and W4A4 are static per-tensor scales with TRIP, ours "
        "`w4a8-paper` and `w4a4-paper`; its W4A4 figure is with pruning. " + ", ".join(
            f"{name}: `models/{os.path.basename(m)}` ({desc})" for name, m, desc, _, _ in fams) + ".", "",
        "| scheme | name | " + " | ".join(f"{name} (ours) | {pm} (paper)" for name, _, _, pm, _ in fams) + " |",
        "|---|---|" + "---|---|" * len(fams)]
    for label, scheme, prune, paper_index in FAMILY_ROWS:
        cells = []
        for _, model, _, _, paper in fams:
            cells.append(cell(*r.change(model, scheme, text, prune), scheme == "fp32" and not prune))
            p = paper[paper_index] if paper_index is not None else None
            cells.append("" if p is None else f"{p:.2f}" if paper_index == 0 else f"{p:.2f} ({(p / paper[0] - 1) * 100:+.1f}%)")
        name = f"`{scheme}`" + (f" `--prune {prune}`" if prune else "")
        lines.append(f"| {label} | {name} | " + " | ".join(cells) + " |")
    lines += ["", "Published rotation methods, W4A4 on LLaMA-2-7B, WikiText-2 (`../shared/PAPER.md`): " + ", ".join(
        f"{name} {p:.2f} ({(p / ROTATION_FP16 - 1) * 100:+.1f}% against FP16 {ROTATION_FP16})"
        for name, p in ROTATION_METHODS) + "; ours, change against FP32 on held-out Austen:", ""]
    for label, scheme in (("W4A4", "w4a4"), ("W4A4KV4", "w4a4kv4")):
        lines.append(f"- {label} (`{scheme}`): " + ", ".join(
            f"{name} {r.change(model, scheme, text)[1]:+.2f}%" for name, model, _, _, _ in fams))
    lines += ["", "Targets of the issue (change against FP32):", ""]
    for what, scheme, prune, limit in TARGETS:
        for name, model, _, _, _ in fams:
            v, pct = r.change(model, scheme, text, prune)
            lines.append(f"- {name}, {what} (`{scheme}`{' --prune ' + str(prune) if prune else ''}): {pct:+.2f}%, "
                         f"target at most +{limit}%: {'met' if pct <= limit else 'MISSED'}")
    png = plot_families(r, fams, text, args.png)
    if png:
        lines += ["", f"![change in perplexity against FP32 per scheme and family]({os.path.relpath(png, os.path.dirname(args.out))})"]
    lines += ["", FAMILY_NOTES, "",
              f"`{command(args, 'families')}`: {time.time() - started:.0f} s on this machine."]
    return lines


def plot_families(r, fams, text, png):
    """A bar chart of the change in perplexity against FP32, per scheme (x) and family (bars).
    Bars beyond the axis are cut and carry their value."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found: no picture (Debian: apt-get install gnuplot-nox)", file=sys.stderr)
        return None
    rows = [row for row in FAMILY_ROWS if not (row[1] == "fp32" and not row[2])]
    top = 10.0
    width = 0.8 / len(fams)
    data, labels = [], []
    for j, (name, model, _, _, _) in enumerate(fams):
        block = []
        for i, (_, scheme, prune, _) in enumerate(rows):
            x = i + (j - (len(fams) - 1) / 2) * width
            pct = r.change(model, scheme, text, prune)[1]
            block.append(f"{x:.3f} {min(pct, top):.4f}")
            if pct > top:
                labels.append(f'set label "{pct:+.0f}%" at {x:.3f},{top * 0.97:.2f} right rotate by 90 font ",8" '
                              'textcolor rgb "white" front')
        data.append("\n".join(block) + "\ne\n")
    xtics = ", ".join(f'"{scheme}{" keep 50%%" if prune else ""}" {i}' for i, (_, scheme, prune, _) in
                      enumerate(rows))
    colors = ["#4477aa", "#ee6677", "#228833", "#ccbb44"]
    plots = ", ".join(f"'-' using 1:2 with boxes lc rgb '{colors[j % 4]}' title '{name}'"
                      for j, (name, _, _, _, _) in enumerate(fams))
    script = "\n".join([
        "set terminal pngcairo size 1100,560 font ',10'",
        f"set output '{png}'",
        "set title 'Change in perplexity against FP32, held-out Austen text (bars above "
        f"+{top:.0f}% are cut and labelled)'",
        "set ylabel 'perplexity vs FP32 (%)'",
        f"set yrange [{min(-1.0, min(r.change(m, s, text, p)[1] for _, m, _, _, _ in fams for _, s, p, _ in rows) - 0.5):.2f}:{top}]",
        f"set xrange [-0.6:{len(rows) - 0.4}]",
        f"set xtics ({xtics}) rotate by 30 right",
        "set grid ytics", "set key top left", "set style fill solid 0.9 border -1",
        f"set boxwidth {width * 0.95:.3f} absolute", "set xzeroaxis lt -1",
    ] + labels + [f"plot {plots}"]) + "\n" + "".join(data)
    subprocess.run([gnuplot], input=script, text=True, check=True)
    return png


def llamacpp_version(bin_dir):
    out = subprocess.run([os.path.join(bin_dir, "llama-cli"), "--version"], capture_output=True, text=True)
    m = re.search(r"version: (\d+) \(([0-9a-f]+)\)", out.stdout + out.stderr)
    return f"build {m.group(1)}, commit {m.group(2)}" if m else "version unknown"


def llamacpp_section(r, args, started):
    shipped = os.path.join(ROOT, "models", "austen-6m.gguf")
    text = AUSTEN[1]
    sources = [("F32 (the shipped file)", shipped)]
    for t in ("Q8_0", "Q4_K_M"):
        out = os.path.join(r.work, f"austen-6m-{t}.gguf")
        cmd = [os.path.join(args.llama_bin, "llama-quantize"), shipped, out, t]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            sys.exit(f"failed: {' '.join(cmd)}\n{res.stderr}")
        sources.append((f"llama.cpp {t}", out))
    schemes = ["fp32", "w4a8", "w4a4"]
    r.run([(m, s, text, 0) for _, m in sources for s in schemes])
    lines = [
        "## From a llama.cpp file", "",
        "A user who only has a file that llama.cpp's `llama-quantize` wrote can still take our schemes: the "
        "loader reads its weight types and `aq-quantize` dequantizes them, then quantizes. What that costs: "
        f"`models/austen-6m.gguf` (F32) quantized by llama.cpp ({llamacpp_version(args.llama_bin)}) into Q8_0 and "
        "Q4_K_M (`llama-quantize IN OUT TYPE`, its default mixture: Q4_K_M keeps some tensors in Q6_K), then "
        "`aq-quantize --scheme w4a8` / `w4a4` of each, against the same schemes from the F32 file. Held-out "
        f"Austen text, context 512, the first {args.chunks} chunks; in brackets the change against the F32 file "
        "as it is. The column \"as loaded\" is the llama.cpp file run as it is.", "",
        "| source file | as loaded | `w4a8` | `w4a4` |", "|---|---|---|---|"]
    for label, model in sources:
        cells = [cell(*r.change(model, s, text, base_model=shipped), model == shipped and s == "fp32")
                 for s in schemes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"`{command(args, 'llamacpp')}`: {time.time() - started:.0f} s on this machine."]
    return lines


def outliers_step(args, build):
    """tools/outliers_table.py at the chunk and seed counts the summary reads; it measures only what its
    cache lacks."""
    cmd = [sys.executable, os.path.join(ROOT, "tools", "outliers_table.py"), "--build", build, "--llama-bin",
           args.llama_bin, "--chunks", str(OUTLIER_CHUNKS), "--seeds", str(OUTLIER_SEEDS), "--jobs", str(args.jobs)]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def outliers_module():
    """tools/outliers_table.py's lists (families, variant schemes, texts), so the summary reads its cache
    under the names it writes."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("outliers_table", os.path.join(ROOT, "tools", "outliers_table.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def table_rows(text):
    """The rows of the markdown tables in a section, as (subheading, {column header: cell})."""
    rows, sub, header = [], None, None
    for line in text.split("\n"):
        if line.startswith("### "):
            sub, header = line[4:].strip(), None
        elif not line.startswith("|"):
            header = None
        else:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append((sub, dict(zip(header, cells))))
    return rows


def cell_change(cell):
    """The change against FP32 in a cell such as `92.693 (+0.16%)`, or None."""
    m = re.search(r"\(([+-][0-9.]+)%\)", cell or "")
    return float(m.group(1)) if m else None


def section_command(text):
    """The command a section says made it, and its chunk count."""
    m = re.search(r"`(python3 tools/accuracy_table\.py [^`]*)`: \d+ s", text or "")
    if not m:
        return None, None
    chunks = re.search(r"--chunks (\d+)", m.group(1))
    return m.group(1), int(chunks.group(1)) if chunks else None


def is_w4a4(scheme):
    """4-bit activations at every linear layer's input: not one input at a time (`only-*`) and no input kept
    at 8 bits (a modifier such as `down8`)."""
    toks = scheme.split(",")
    return toks[0] in ("w4a4", "w4a4kv4") and not any(t.startswith("only-") or "8" in t for t in toks[1:])


def is_w4a4_mixed(scheme):
    """W4A4 with some inputs, or groups of their features, kept at 8 bits: a modifier with an 8 in its name."""
    toks = scheme.split(",")
    return (toks[0] in ("w4a4", "w4a4kv4") and not any(t.startswith("only-") for t in toks[1:])
            and not is_w4a4(scheme))


def is_w4a8(scheme):
    toks = scheme.split(",")
    return toks[0] in ("w4a8", "w4a8kv4") and not any(t.startswith("only-") for t in toks[1:])


# The summary's rows: (label, scheme, prune), each looked up in the families section, then w3a8, then head,
# then schemes (the first that has it), and in the outliers cache for SmolLM2.
SUMMARY_ROWS = [
    ("Q8_0 (llama.cpp's format)", "q8_0", 0),
    ("Q4_0 (llama.cpp's format; W4A8 in blocks of 32)", "q4_0", 0),
    ("W4A16, round to nearest", "w4a16,rtn", 0),
    ("W4A16, GPTQ", "w4a16", 0),
    ("W4A8 paper: static per-tensor + TRIP", "w4a8-paper", 0),
    ("W4A8 paper, keep 50% of the prompt", "w4a8-paper", PRUNE),
    ("W4A8, round to nearest", "w4a8,rtn", 0),
    ("W4A8 (dynamic per-token, balancing, rotation, GPTQ)", "w4a8", 0),
    ("W4A8, keep 50% of the prompt", "w4a8", PRUNE),
    ("W4A8, INT4 output head", "w4a8,head-int4", 0),
    ("W4A8KV4 (4-bit KV cache)", "w4a8kv4", 0),
    ("W4A4 paper: static per-tensor + TRIP", "w4a4-paper", 0),
    ("W4A4 paper, keep 50% of the prompt", "w4a4-paper", PRUNE),
    ("W4A4, round to nearest", "w4a4,rtn", 0),
    ("W4A4 (dynamic per-token, balancing, rotation, GPTQ)", "w4a4", 0),
    ("W4A4, keep 50% of the prompt", "w4a4", PRUNE),
    ("W4A4, INT4 output head", "w4a4,head-int4", 0),
    ("W4A4KV4 (4-bit KV cache)", "w4a4kv4", 0),
    ("W3A8, GPTQ", "w3a8", 0),
]
# Published changes against FP16, WikiText-2 (../shared/PAPER.md): Agile-Quant on LLaMA-7B (FAMILIES' LLaMA
# row), QuaRot and SpinQuant W4A4 on LLaMA-2-7B (ROTATION_METHODS).
PUBLISHED_AQ = {("w4a16", 0): 1, ("w4a8-paper", 0): 2, ("w4a8-paper", PRUNE): 3, ("w4a4-paper", PRUNE): 4}
PUBLISHED_ROT = {("w4a4", 0)}
# Issue 14's targets on the worst of the seeded variants: the largest change against FP32, in percent.
VARIANT_TARGETS = {"w4a8": 0.5, "w4a4": 2.0, "w4a4kv4": 3.0}


def summary_section(args, sections, build):
    ot = outliers_module()
    caches = [p for p in (args.outliers_cache or os.path.join(build, "outliers", "results.json")).split(",") if p]
    cache, absent = {}, []
    for p in caches:  # later caches win
        if os.path.exists(p):
            cache.update(json.load(open(p)))
        else:
            absent.append(p)
            print(f"summary: no outliers cache at {p}", file=sys.stderr)
    austen = os.path.basename(ot.TEXTS[0][1])

    def ours(model, scheme):
        return cache.get(f"aq|{model}|{austen}|{scheme}|{ot.CTX}|{OUTLIER_CHUNKS}")

    def rel(v, base):
        return None if v is None or base is None else (v / base - 1) * 100

    # Where each figure comes from: a tag per source, the sections by the command they name.
    tags = {"F": "families", "W": "w3a8", "H": "head", "S": "schemes"}
    rows = {t: table_rows(sections.get(name, "")) for t, name in tags.items()}
    fams = family_models()

    def shipped(tag, name, model_file, scheme, prune):
        """The change of one scheme on one shipped model in one section, or None."""
        key = f"`{scheme}`" + (f" `--prune {prune}`" if prune else "")
        for sub, row in rows[tag]:
            if tag == "F" and row.get("name") == key:
                return cell_change(row.get(f"{name} (ours)"))
            if tag in ("W", "H") and row.get("model") == name and row.get("name") == key:
                return cell_change(row.get("Austen held-out"))
            if (tag == "S" and model_file == "austen-6m.gguf" and sub == "shipped model"
                    and row.get("name") == key):
                return cell_change(row.get("Austen held-out"))
        return None

    def fig(v, tag):
        return "not run" if v is None else f"{v:+.2f}% [{tag}]"

    smol = "smollm2-f32.gguf"
    smol_base = ours(smol, "fp32")
    smol_llama = {k: rel(cache.get(f"llama.cpp|smollm2-{k}.gguf|{austen}|{ot.CTX}|{OUTLIER_CHUNKS}"), smol_base)
                  for k in ("q8_0", "q4_0")}
    smol_got = {}
    for key, v in cache.items():
        parts = key.split("|")
        if parts[0] == "aq" and parts[1:3] == [smol, austen] and parts[4:] == [str(ot.CTX), str(OUTLIER_CHUNKS)]:
            smol_got[parts[3]] = rel(v, smol_base)
    smol_got = {k: v for k, v in smol_got.items() if v is not None}

    aq = FAMILIES[0][4]
    lines = [
        "## Summary: every scheme, every family, next to the published figures", "",
        "Change in perplexity against FP32 of the same model, held-out Austen text, context 512 (llama-perplexity's "
        "way: the second half of each chunk scored), next to the changes against FP16 that Agile-Quant reports on "
        "LLaMA-7B and QuaRot and SpinQuant report for W4A4 on LLaMA-2-7B (WikiText-2, context 2048; "
        "`../shared/PAPER.md`). The figures are not measured here: each is read from where it was measured, "
        "marked after it:", ""]
    for tag, name in tags.items():
        cmd, chunks = section_command(sections.get(name))
        lines.append(f"- [{tag}] the section \"{name}\" below" + (f", the first {chunks} chunks: `{cmd}`" if cmd
                                                                    else " (not on this page)"))
    lines += [f"- [O] the results cache of `python3 tools/outliers_table.py --build BUILD --llama-bin DIR --chunks "
              f"{OUTLIER_CHUNKS} --seeds {OUTLIER_SEEDS}` (BUILD/outliers/results.json, also the source of "
              f"docs/OUTLIERS.md), the first {OUTLIER_CHUNKS} chunks: SmolLM2-135M-Instruct (its Q4_1 file "
              "dequantized to F32 by llama.cpp's `llama-quantize --allow-requantize`, the reference; its Q8_0 and "
              "Q4_0 rows are llama.cpp's `llama-quantize` and `llama-perplexity` on that F32 file) and the seeded "
              "outlier variants. A cache records no commit: each figure is that of the build that wrote it.", "",
              "A scheme's rows on the three families come from the first of F, W, H, S that has it (S: LLaMA only). "
              "Changes of a few tenths of a percent on 2 to 12 chunks are within noise; the rows of one source "
              "compare better (the same tokens).", "",
              "| scheme | name | " + " | ".join(f"{n} (`{os.path.basename(m)}`)" for n, m, _, _, _ in fams) +
              " | SmolLM2-135M-Instruct | Agile-Quant, LLaMA-7B | QuaRot, LLaMA-2-7B | SpinQuant, LLaMA-2-7B |",
              "|---|---|" + "---|" * (len(fams) + 4)]
    for label, scheme, prune in SUMMARY_ROWS:
        cells = []
        for name, model, _, _, _ in fams:
            got = next(((v, t) for t in ("F", "W", "H", "S")
                        if (v := shipped(t, name, os.path.basename(model), scheme, prune)) is not None), (None, ""))
            cells.append(fig(*got))
        if prune:
            cells.append("")
        elif scheme in ("q8_0", "q4_0"):
            cells.append(fig(smol_llama[scheme], "O"))
        else:
            cells.append(fig(smol_got.get(scheme), "O"))
        i = PUBLISHED_AQ.get((scheme, prune))
        cells.append("" if i is None else f"{(aq[i] / aq[0] - 1) * 100:+.1f}%")
        cells += [f"{(p / ROTATION_FP16 - 1) * 100:+.1f}%" if (scheme, prune) in PUBLISHED_ROT else ""
                  for _, p in ROTATION_METHODS]
        name = f"`{scheme}`" + (f" `--prune {prune}`" if prune else "")
        lines.append(f"| {label} | {name} | " + " | ".join(cells) + " |")

    best = {}
    for what, test in (("W4A8", is_w4a8), ("W4A4", is_w4a4),
                       ("W4A4 with part of the activations at 8 bits", is_w4a4_mixed)):
        cand = {s: v for s, v in smol_got.items() if test(s)}
        best[what] = min(cand.items(), key=lambda kv: kv[1]) if cand else None
    lines += ["", "SmolLM2-135M-Instruct, best measured (every scheme tried is in docs/OUTLIERS.md; W4A4 counts only "
              "schemes with 4-bit activations at every linear layer's input: no input kept at 8 bits, not one input "
              "at a time): " + "; ".join(f"{w} `{b[0]}` {b[1]:+.2f}% [O]" if b else f"{w} not run"
                                         for w, b in best.items()) + ".", ""]
    # What the caches read here do not hold is said, not dropped: a cache of another build may have had it.
    unmeasured = [s for _, s in ot.SMOL_SCHEMES if s not in smol_got]
    if unmeasured or absent:
        lines += [("Caches named but absent, not read: " + ", ".join(f"`{p}`" for p in absent) + ". " if absent else "")
                  + (f"Not in the cache(s) read here, so not re-measured for this summary (and not candidates for "
                     f"the best above): {len(unmeasured)} of the {len(ot.SMOL_SCHEMES)} SmolLM2 schemes of "
                     "tools/outliers_table.py: " + ", ".join(f"`{s}`" for s in unmeasured) + "." if unmeasured else ""),
                  ""]

    # The worst of the seeded variants, per model and scheme: the change against the unplanted model's FP32.
    worst = {}
    lines += ["Worst over the seeded outlier variants (`tools/make_outlier_variant.py IN OUT --sites "
              f"{ot.ALL_SITES} --seed S`, S = 1..{OUTLIER_SEEDS}, function-preserving outliers at every site the "
              "family allows; docs/OUTLIERS.md), change against the unplanted model's FP32 [O]" +
              (". `w4a4kv4` balances V against O (`lib/quant/scheme.c`), which divides the V rows a variant "
               "scales up out before the 4-bit cache stores them; `w4a4kv4,no-balance-vo`, its default before, "
               "lets them reach the cache as they are" if "w4a4kv4,no-balance-vo" in ot.VARIANT_SCHEMES
               else "") + ":", "",
              "| family (model) | scheme | unplanted | worst (seed) | each seed |", "|---|---|---|---|---|"]
    for fam, p in ot.FAMILIES:
        base = ours(os.path.basename(p), "fp32")
        for s in ot.VARIANT_SCHEMES:
            each = [rel(ours(f"{fam}-seed{seed}.gguf", s), base) for seed in range(1, OUTLIER_SEEDS + 1)]
            done = [(v, seed + 1) for seed, v in enumerate(each) if v is not None]
            worst[(fam, s)] = (max(done), len(done)) if done else None
            unplanted = fig(rel(ours(os.path.basename(p), s), base), "O")
            lines.append(f"| {fam} (`{os.path.basename(p)}`) | `{s}` | {unplanted} | "
                         + (f"{max(done)[0]:+.2f}% ({max(done)[1]})" if done else "not run") + " | "
                         + ", ".join("not run" if v is None else f"{v:+.2f}%" for v in each) + " |")

    def verdict(v, limit):
        if v is None:
            return "not measured"
        return f"met ({limit - v:.2f} points to spare)" if v <= limit else f"MISSED by {v - limit:.2f} points"

    lines += ["", "## Targets of issue 14", "",
              "Change in perplexity against FP32, held-out Austen text, context 512.", ""]
    q40 = smol_llama["q4_0"]
    b8, b4 = best["W4A8"], best["W4A4"]  # the mixed one is shown, not checked: it is not W4A4
    lines.append(f"- SmolLM2-135M-Instruct, W4A8 no worse than llama.cpp's Q4_0 of the same F32 file "
                 f"({fig(q40, 'O')}): " +
                 (f"`{b8[0]}` {fig(b8[1], 'O')}: {verdict(b8[1], q40)}" if b8 and q40 is not None
                  else "not measured") +
                 (f"; the default `w4a8` {fig(smol_got['w4a8'], 'O')}" if "w4a8" in smol_got else
                  "; the default `w4a8` (GPTQ) not run"))
    lines.append("- SmolLM2-135M-Instruct, W4A4 at most +10%: " +
                 (f"`{b4[0]}` {fig(b4[1], 'O')}: {verdict(b4[1], 10.0)}" if b4 else "not measured") +
                 (f"; the default `w4a4` {fig(smol_got['w4a4'], 'O')}" if "w4a4" in smol_got else
                  "; the default `w4a4` (GPTQ) not run"))
    # A variant scheme with modifiers is checked against its base scheme's target, and said not to be the default.
    for s in [s for s in VARIANT_TARGETS if s in ot.VARIANT_SCHEMES] + [
            s for s in ot.VARIANT_SCHEMES if s not in VARIANT_TARGETS and s.split(",")[0] in VARIANT_TARGETS]:
        limit = VARIANT_TARGETS[s.split(",")[0]]
        note = "" if s in VARIANT_TARGETS else " (a modifier, not the default)"
        for fam, p in ot.FAMILIES:
            w = worst.get((fam, s))
            head = f"- {fam}, worst of {OUTLIER_SEEDS} seeded variants, `{s}`{note} at most +{limit}%: "
            if w is None:
                lines.append(head + "not measured")
                continue
            (v, seed), n = w
            lines.append(head + f"{fig(v, 'O')} (seed {seed}" +
                         ("" if n == OUTLIER_SEEDS else f"; only {n} of {OUTLIER_SEEDS} measured") +
                         f"): {verdict(v, limit)}")
    for label, scheme, limit in (("W4A4KV4", "w4a4kv4", 1.5), ("W3A8", "w3a8", 3.0)):
        for name, model, _, _, _ in fams:
            got = next(((v, t) for t in ("F", "W")
                        if (v := shipped(t, name, os.path.basename(model), scheme, 0)) is not None), None)
            lines.append(f"- {name} (`{os.path.basename(model)}`), {label} (`{scheme}`) at most +{limit}%: " +
                         (f"{fig(*got)}: {verdict(got[0], limit)}" if got else "not measured"))
    lines += ["", "Not a figure of this page: \"no scheme slower than before on the TinyLlama shape\" "
              "(docs/PERFORMANCE.md).", "",
              f"`{command(args, 'summary')}`: reads the sections below and {len(caches)} results cache(s) of "
              "tools/outliers_table.py, measures nothing."]
    return lines


def command(args, section):
    if section == "summary":
        caches = (args.outliers_cache or "").split(",")
        # A cache in a build folder is named as BUILD/outliers/results.json is elsewhere on the page.
        named = [f"BUILD{i + 1 if len(caches) > 1 else ''}/outliers/results.json"
                 if p.endswith(os.path.join("outliers", "results.json")) else p for i, p in enumerate(caches)]
        return "python3 tools/accuracy_table.py BUILD --sections summary" + (
            f" --outliers-cache {','.join(named)}" if args.outliers_cache else "")
    cmd = f"python3 tools/accuracy_table.py BUILD --sections {section} --chunks {args.chunks}"
    if section == "head":
        cmd += f" --smollm2-chunks {args.smollm2_chunks}"
    return cmd + (" --llama-bin DIR" if section in ("llamacpp", "head") else "")


def kept_sections(path):
    """The sections of an existing ACCURACY.md, by name, each from its marker to the next."""
    if not os.path.exists(path):
        return {}
    parts = re.split(r"^<!-- section (\w+): .*-->\n", open(path).read(), flags=re.M)
    return {parts[i]: parts[i + 1].rstrip() for i in range(1, len(parts) - 1, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir", nargs="?")
    ap.add_argument("--build")
    ap.add_argument("--sections", default=",".join(STEPS))
    ap.add_argument("--chunks", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--smollm2-chunks", type=int, default=4, help="head section: chunks of SmolLM2's text")
    ap.add_argument("--llama-bin", help="llama.cpp's build/bin (llama-quantize, llama-cli) for the llamacpp section")
    ap.add_argument("--work", help="folder for quantized files (default: a new temporary folder, removed after)")
    ap.add_argument("--reuse", action="store_true",
                    help="take quantized files already in --work (left by an interrupted run of the same build)")
    ap.add_argument("--outliers-cache", help="summary: tools/outliers_table.py's results caches, comma-separated, "
                    "later ones winning (default BUILD/outliers/results.json)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "ACCURACY.md"))
    ap.add_argument("--png", default=os.path.join(ROOT, "docs", "accuracy.png"))
    args = ap.parse_args()
    build = os.path.abspath(args.build or args.build_dir or os.path.join(ROOT, "build"))
    wanted = args.sections.split(",")
    for s in wanted:
        if s not in STEPS:
            sys.exit(f"unknown section {s}: one of {', '.join(STEPS)}")
    for s in ("llamacpp", "outliers"):
        if s in wanted and not args.llama_bin:
            print(f"{s} skipped: it needs --llama-bin DIR (llama.cpp's build/bin)", file=sys.stderr)
            wanted.remove(s)
    work = args.work or tempfile.mkdtemp(prefix="aq-accuracy-")
    os.makedirs(work, exist_ok=True)
    r = Runner(build, work, args.chunks, args.jobs, args.reuse)
    makers = {"schemes": schemes_section, "families": families_section, "llamacpp": llamacpp_section,
              "w3a8": w3a8_section, "head": head_section}
    sections = kept_sections(args.out)
    for name in SECTIONS:
        if name in wanted and name in makers:
            sections[name] = "\n".join(makers[name](r, args, time.time()))
    if not args.work:
        shutil.rmtree(work)
    if "outliers" in wanted:
        outliers_step(args, build)
    if "summary" in wanted:
        sections["summary"] = "\n".join(summary_section(args, sections, build))
    lines = ["# Accuracy of the quantization schemes", "",
             "Generated by `tools/accuracy_table.py` (do not edit by hand); each section says the command that",
             "wrote it, and `--sections` rewrites some and keeps the others. All of them, and docs/OUTLIERS.md,",
             "whose figures the summary reads (hours on this machine):",
             "`python3 tools/accuracy_table.py BUILD --llama-bin LLAMA_CPP/build/bin` (`tools/accuracy_table.sh`",
             "builds the tools first). The summary alone, from what the others measured (seconds):",
             "`python3 tools/accuracy_table.py BUILD --sections summary`.", ""]
    for name in SECTIONS:
        if name in sections:
            lines += [section_marker(name), sections[name], ""]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    open(args.out, "w").write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
