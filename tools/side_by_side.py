#!/usr/bin/python3
"""Faster than llama.cpp, measured side by side: writes docs/PERFORMANCE.md.

    tools/side_by_side.py --llama-bin DIR [--threads 1,2] [--reps R] [--shapes tinyllama,smollm2]
                          [--work DIR] [--rev REV | --rev worktree] [--build DIR] [--wait S] [--force] [--plan]

Per shape, one set of model files (made once, kept in --work, reused):
  * a synthetic shape (aq-synth presets: tinyllama, llama7b, austen): the F16 file of
    `aq-synth --preset SHAPE`, then llama.cpp's `llama-quantize --pure F16 Q4_0` of it; our
    `aq-quantize --scheme w4a8,rtn`, `w4a4,rtn` and `fp32` of the F16 file (saved, so that no timed
    command spends its time quantizing; RTN: GPTQ writes the same formats, so runs at the same speed);
  * smollm2: the real SmolLM2-135M-Instruct file (Q4_1, made by llama.cpp; tools/fetch_smollm2.sh
    prints its path), and our schemes quantized from it (no F16 of it is within reach).
Then, for --reps rounds, at each thread count: llama-bench on llama.cpp's file, aq-bench on the SAME
file, aq-bench on our W4A8, W4A4, FP32, W4A8h4 and W4A4o files (llama.cpp and we alternate, round after
round), one repetition per command (-r 1, after each tool's own warm-up). Each aq-bench process measures the
streaming-read bandwidth before it loads its model (the roofline). t/s is the mean ± sd over the
rounds; every ratio, and the check against issue 11's targets, comes from this one run. After the
rounds, bench/aq-bench-kernels (built in the same build, benchmarks switched on) times the INT8 tile
against the FP32 tile, and on x86-64 the multiply instructions alone (peak/...), --reps times, for the
W4A8 / FP32 target's explanation. --plan times
nothing and writes the page without figures (method, targets, the command to run).

Timings are refused while the machine is busy (1-minute load average above 0.5 per core, checked
before anything starts and again after the model files are made): --wait S waits up to S seconds for
it to calm down, --force measures anyway and marks the document. Every timed command also records how
much CPU other processes took meanwhile (/proc/stat minus our children's time), shown per row.
Everything runs niced; builds use ninja -j 2. Python 3 standard library; gnuplot, if installed, draws
docs/tokens_per_second.png (tokens/s against threads, llama.cpp's beside ours).
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as bc  # noqa: E402

SYNTH_SHAPES = {"tinyllama": ("TinyLlama-1.1B's shape", ""), "llama7b": ("LLaMA-7B's shape", ""),
                "austen": ("the shipped austen-6m's shape", " A shape this small checks the script; it is no "
                           "benchmark: its timings are mostly overhead")}
# The output head stays Q8_0 in w4a8 and w4a4; llama.cpp's --pure Q4_0 file has a 4-bit head, so
# `head-int4` (docs/ACCURACY.md gives what it costs) is W4A8 in llama.cpp's file's accuracy class.
# W4A4o is the format of the W4A4 scheme that holds outliers (docs/OUTLIERS.md:
# `w4a4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,asym,aasym`): smoothing, balancing and the
# searched scales fold into the weights, so round to nearest without them writes the same format.
OUR_SCHEMES = [("W4A8", "w4a8,rtn"), ("W4A4", "w4a4,rtn"), ("FP32", "fp32"), ("W4A8h4", "w4a8,rtn,head-int4"),
               ("W4A4o", "w4a4,rtn,rotate-online,no-balance,ag32,asym,aasym")]
NOISY = 0.10  # others' share of the machine during a timed command above which it is flagged


def log(msg):
    bc.log(msg)


def make_files(shape, args, exes, llama_bin, llama_commit, ours_key):
    """{'llama': (label, path), 'ours': [(label, path)], 'desc': str}"""
    qdir = os.path.join(args.work, f"llama-{llama_commit}")
    adir = os.path.join(args.work, f"aq-{ours_key}")
    os.makedirs(qdir, exist_ok=True)
    os.makedirs(adir, exist_ok=True)
    if shape == "smollm2":
        if args.smollm2:
            base = args.smollm2
        else:
            out, _ = bc.run([os.path.join(bc.ROOT, "tools", "fetch_smollm2.sh")])
            base = out.strip().splitlines()[-1]
        info = bc.gguf_tensors(base)
        wtype = "/".join(t for t in bc.gguf_matrix_types(info))
        llama = (wtype, base)
        desc = (f"SmolLM2-135M-Instruct, the real model ({bc.gguf_shape(info)}, {bc.gguf_params(info) / 1e6:.0f} M "
                f"parameters): llama.cpp's {wtype} file as published (`{os.path.basename(base)}`); our schemes "
                f"are quantized from its {wtype} weights (no F16 of it is within reach).")
        src = base
    else:
        f16 = os.path.join(args.work, f"synth-{shape}-f16.gguf")
        if not os.path.isfile(f16):
            bc.run([exes["aq-synth"], "--preset", shape, "-o", f16 + ".part.gguf"])
            os.replace(f16 + ".part.gguf", f16)
        q4 = os.path.join(qdir, f"synth-{shape}-q4_0.gguf")
        bc.llama_quantize(llama_bin, f16, q4, "Q4_0")
        info = bc.gguf_tensors(q4)
        llama = ("Q4_0", q4)
        name, note = SYNTH_SHAPES[shape]
        desc = (f"{name} ({bc.gguf_shape(info)}, {bc.gguf_params(info) / 1e9:.3f} B parameters) with random "
                f"weights (speed depends on shapes, not on weight values): `aq-synth --preset {shape}` (F16), then "
                f"llama.cpp's `llama-quantize --pure` Q4_0 of it (every matrix Q4_0, the embedding and output head "
                f"too); our schemes from the F16 file.{note}")
        src = f16
    ours = []
    for label, scheme in OUR_SCHEMES:
        f = os.path.join(adir, f"{os.path.splitext(os.path.basename(src))[0]}-{scheme.replace(',', '-')}.gguf")
        if args.rev == "worktree" and os.path.isfile(f) and f not in _remade:
            os.remove(f)  # the working tree may have changed since: never reuse
        if not os.path.isfile(f):
            bc.run([exes["aq-quantize"], "-m", src, "-o", f + ".part.gguf", "--scheme", scheme])
            os.replace(f + ".part.gguf", f)
            _remade.add(f)
        ours.append((label, f))
    return {"llama": llama, "ours": ours, "desc": desc, "llama_info": info}


_remade = set()


def plot(results, shape, threads, pp, tg, path):
    """Tokens per second against threads, one line per row of the table (llama.cpp's first), the
    ppN and tgN tests side by side; False if gnuplot is missing or fails."""
    if not bc.which("gnuplot"):
        log("gnuplot not found (apt-get install gnuplot-nox): no plot")
        return False
    rows = results[shape]["rows"]
    labels = []
    for row in rows:
        if row["label"] not in labels:
            labels.append(row["label"])
    data = path + ".dat"
    with open(data, "w") as f:
        for k in (pp, tg):
            for label in labels:
                f.write(f'"{label}"\n')
                for t in threads:
                    r = next(x for x in rows if x["label"] == label and x["threads"] == t)
                    m, sd = bc.mean_sd(r[k])
                    f.write(f"{t} {m:.3f} {sd:.3f}\n")
                f.write("\n\n")
    n = len(labels)
    xr = f"[{min(threads) - 0.5}:{max(threads) + 0.5}]"
    script = f"""
set terminal pngcairo size 1200,520 noenhanced
set output '{path}'
set xlabel 'threads'
set ylabel 'tokens / s'
set xrange {xr}
set xtics 1
set yrange [0:*]
set grid
set key top left
set style data linespoints
set multiplot layout 1,2 title '{shape}: llama.cpp and libagilequant, tokens per second against threads, one run'
set title '{pp}'
plot for [i=0:{n - 1}] '{data}' index i using 1:2:3 with yerrorlines lw 2 title columnhead(1)
set title '{tg}'
plot for [i={n}:{2 * n - 1}] '{data}' index i using 1:2:3 with yerrorlines lw 2 title columnhead(1)
unset multiplot
"""
    p = subprocess.run(["gnuplot"], input=script, text=True, stderr=subprocess.PIPE)
    os.remove(data)
    if p.returncode != 0:
        log("gnuplot failed: " + p.stderr[-500:])
        return False
    return True


# The targets (issue 11), on each shape's rows at TARGET_THREADS threads:
# (what, numerator row, denominator row or None for the roofline, test, at least)
TARGET_THREADS = 2
TARGETS = [("W4A8 {pp} >= 2x llama.cpp's on its file", "ours, W4A8", "llama.cpp", "pp", 2.0),
           ("W4A8 {tg} >= 1.3x llama.cpp's on its file", "ours, W4A8", "llama.cpp", "tg", 1.3),
           ("W4A8 {tg} >= 80% of the bandwidth roofline", "ours, W4A8", None, "tg", 0.8),
           ("W4A8 {pp} >= 3x our FP32", "ours, W4A8", "ours, FP32", "pp", 3.0),
           ("W4A4 {pp} >= 0.9x W4A8", "ours, W4A4", "ours, W4A8", "pp", 0.9),
           ("W4A4 {tg} >= 0.9x W4A8", "ours, W4A4", "ours, W4A8", "tg", 0.9),
           ("W4A8 with an INT4 head (W4A8h4) {tg} >= 1.3x llama.cpp's on its file", "ours, W4A8h4", "llama.cpp",
            "tg", 1.3),
           ("W4A8 with an INT4 head (W4A8h4) {tg} >= 80% of the bandwidth roofline", "ours, W4A8h4", None, "tg", 0.8)]


# The kernel comparison behind the W4A8 / FP32 prefill target: bench/aq-bench-kernels' INT8 tile
# (qd8 x qc4w) against its FP32 tile on one matrix, single thread, TILE_TOKENS tokens (data in cache:
# what the arithmetic costs), the first kernel of each list the CPU runs (the one dispatch takes).
TILE_SHAPE, TILE_TOKENS = "tinyllama_gate_up", 64


def kernel_bench(build_dir):
    """bench/aq-bench-kernels of the same build (its Google Benchmark target switched on there)."""
    bc.run(["meson", "configure", build_dir, "-Dbenchmarks=true"], capture=False)
    bc.run(["ninja", "-C", build_dir, "-j", "2", "bench/aq-bench-kernels"], capture=False)
    return os.path.join(build_dir, "bench", "aq-bench-kernels")


def tile_names(exe):
    """(qc4w benchmark, f32 benchmark): the first of each family on TILE_SHAPE at TILE_TOKENS tokens, in
    list order (best first; kernels this CPU cannot run are not registered)."""
    out, _ = bc.run([exe, "--benchmark_list_tests"])
    names = [n.strip() for n in out.splitlines()]
    pick = {}
    for fam in ("qc4w", "f32"):
        pick[fam] = next((n for n in names if n.startswith(fam + "/") and f"/{TILE_SHAPE}/" in n and
                          f"/m:{TILE_TOKENS}/" in n), None)
        if pick[fam] is None:
            raise SystemExit(f"aq-bench-kernels lists no {fam} benchmark of {TILE_SHAPE} at m:{TILE_TOKENS}")
    return pick["qc4w"], pick["f32"]


def tile_once(exe, name):
    """Milliseconds of one benchmark run (real time, Google Benchmark's own repetition count)."""
    out, _ = bc.run([exe, f"--benchmark_filter=^{re.escape(name)}$", "--benchmark_min_time=0.5",
                     "--benchmark_format=json"])
    b = json.loads(out)["benchmarks"][0]
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def peak_once(exe):
    """{'fma': GMAC/s, 'maddubs': GMAC/s} of the multiply instructions alone (x86-64 with AVX2), or None."""
    out, _ = bc.run([exe, "--benchmark_filter=^peak/", "--benchmark_min_time=0.5", "--benchmark_format=json"])
    rates = {b["name"]: b["GMAC/s"] for b in json.loads(out)["benchmarks"]}
    if "peak/vfmadd231ps" not in rates or "peak/vpmaddubsw" not in rates:
        return None
    return {"fma": rates["peak/vfmadd231ps"], "maddubs": rates["peak/vpmaddubsw"]}


def tile_lines(tile, pp):
    """Why W4A8 cannot reach 3x FP32 in prefill here, from the tile comparison this run measured."""
    if tile is None:
        return [f"The target W4A8 {pp} >= 3x our FP32 asks the INT8 tile to compute 3x as fast as the FP32 tile "
                f"at least (a prefill is mostly matrix tiles; the rest costs both the same): the run also times "
                f"bench/aq-bench-kernels' INT8 tile against its FP32 tile (one thread, {TILE_TOKENS} tokens, "
                f"{TILE_SHAPE}) and shows their ratio here.\n"]
    def kernel(name):
        return name.split("/")[1]

    q, f = bc.mean_sd(tile["qc4w"]), bc.mean_sd(tile["f32"])
    ratio = f[0] / q[0]
    verdict = "is out of reach here" if ratio < 3.0 else "is not ruled out by the arithmetic here"
    line = (f"Why W4A8 {pp} >= 3x our FP32 {verdict}: a prefill is mostly matrix tiles (the rest costs both the "
            f"same), so W4A8 / FP32 can approach, but not pass, how much faster the INT8 tile computes than the FP32 "
            f"one. This run "
            f"timed both with bench/aq-bench-kernels, alternated over {len(tile['qc4w'])} round"
            f"{'s' if len(tile['qc4w']) > 1 else ''} (one thread, {TILE_TOKENS} tokens, {TILE_SHAPE}, the "
            f"kernels dispatch takes on this CPU): `{kernel(tile['names'][0])}` {q[0]:.1f} ± {q[1]:.1f} ms, "
            f"`{kernel(tile['names'][1])}` {f[0]:.1f} ± {f[1]:.1f} ms, so the INT8 tile is "
            f"**{ratio:.2f}x** the FP32 tile.")
    if ratio < 3.0 and "avx2" in kernel(tile["names"][0]) and "vnni" not in kernel(tile["names"][0]):
        line += (" With AVX2 alone (no VNNI), 256 INT8 multiply-adds of a token take 8 VPMADDUBSW, their int16 "
                 "additions and a VPMADDWD to widen them, while 256 FP32 multiply-adds take 32 FMAs on the same "
                 "vector units: VPDPBUSD (AVX-VNNI) does the multiply, widening and addition in one instruction.")
        if tile.get("peak"):
            fma, mub = (bc.mean_sd([p[key] for p in tile["peak"]])[0] for key in ("fma", "maddubs"))
            line += (f" The instructions alone, on this CPU (aq-bench-kernels peak/vpmaddubsw and "
                     f"peak/vfmadd231ps, 10 independent chains in registers, same rounds): VPMADDUBSW "
                     f"{mub:.1f} G multiply-adds/s against VFMADD231PS {fma:.1f} G/s, **{mub / fma:.2f}x**; "
                     f"counting the VPMADDWD every 8 VPMADDUBSW as one more multiply, the INT8 tile's ceiling is "
                     f"about {mub / fma * 8 / 9:.2f}x the FP32 one's, before any addition or scaling.")
    return [line + "\n"]


def method_lines(args, pp, tg):
    labels = [label for label, _ in OUR_SCHEMES]
    ours = ", ".join(labels[:-1]) + " and " + labels[-1]
    rounds = " ".join(["A"] + ["B"] * (1 + len(OUR_SCHEMES)))  # llama.cpp; ours on its file, then each scheme
    return [
        f"Method: {args.reps} round{'s' if args.reps > 1 else ''}; in each, for each shape and thread count, "
        f"llama-bench on llama.cpp's file, then aq-bench on the same file and on our {ours} files: llama.cpp "
        f"and we alternate from round to round ({rounds}, {rounds}, ...), one repetition per command "
        f"(`-r 1`, after each tool's own warm-up). t/s is the mean ± sd of the rounds. {pp}: "
        f"{args.pp} prompt tokens in one batch on an empty cache; {tg}: {args.tg} single-token forwards after "
        f"an empty cache (both tools). Our W4A8 / W4A4 are `aq-quantize --scheme w4a8,rtn` / `w4a4,rtn` files "
        f"(INT4 weights in groups of 32, INT8 / INT4 activations per token; GPTQ writes the same formats, so "
        f"runs at the same speed), FP32 is `--scheme fp32` (every matrix F32). Their output head "
        f"stays Q8_0; W4A8h4 is `w4a8,rtn,head-int4`, the head in the layers' INT4 format too, as llama.cpp's "
        f"`--pure` Q4_0 file has its head in Q4_0 (what the INT4 head costs in perplexity: docs/ACCURACY.md). "
        f"W4A4o is `w4a4,rtn,rotate-online,no-balance,ag32,asym,aasym`, the format of the W4A4 scheme that holds "
        f"outliers (docs/OUTLIERS.md): zero points in the weights, 4-bit asymmetric activations with one scale "
        f"per token and 32 features, the attention and MLP inputs rotated online (its smoothing, balancing and "
        f"searched scales fold into the weights).\n",
        f"Roofline (one definition on this page): weight bytes one generated token reads x {tg} t/s / the "
        f"streaming-read bandwidth. The bandwidth is measured by every aq-bench process before its model "
        f"loads (`--bw-mib {bc.AQ_BENCH_BW_MIB}`: a {bc.AQ_BENCH_BW_MIB} MiB buffer, a warm-up read then the "
        f"mean of 5); our rows use their own processes' figures, llama.cpp's rows the mean of every probe at "
        f"that thread count (table at the end). Bytes per token: every matrix but the embedding table (one "
        f"row of it is copied per token); ours as aq-bench counts them in the format its kernels read, "
        f"llama.cpp's from the file's tensor sizes. KV-cache reads are not counted. Others' CPU: the most CPU "
        f"other processes took during that row's commands, as a share of the machine.\n",
        "```",
        f"llama-bench -m FILE -p {args.pp} -n {args.tg} -t T -r 1 -o json",
        f"aq-bench    -m FILE -p {args.pp} -n {args.tg} -t T -r 1 --bw-mib {bc.AQ_BENCH_BW_MIB}",
        "```\n"]


def targets_lines(pp, tg, threads):
    lines = [f"The issue's targets (TinyLlama-1.1B shape, {TARGET_THREADS} threads, same run), checked on every "
             f"shape measured:\n"]
    lines += ["- " + name.format(pp=pp, tg=tg) for name, *_ in TARGETS]
    if TARGET_THREADS not in threads:
        lines.append(f"\n(No run at {TARGET_THREADS} threads: the checks use {max(threads)}.)")
    lines.append("\nWhy W4A4 is only asked to keep up with W4A8: these CPUs have no 4-bit dot-product instruction "
                 "(AVX2, AVX-VNNI and AVX-512 VNNI multiply 8-bit values, as NEON's dot product does), so the "
                 "4-bit activations (values in -8..7) are held in 8-bit lanes and go through the same "
                 "instructions as W4A8's INT8 activations: W4A4 does the same arithmetic, plus its own rounding, "
                 "so it cannot be much faster here.\n")
    return lines


def write_plan(args, command, llama_commit, llama_build, pp, tg, threads, shapes):
    """The document before any timing: what will be measured and how, no figures."""
    out = ["# Performance: libagilequant and llama.cpp, side by side\n",
           "**Not measured yet.** This page holds no speed figures: every figure it will show comes from one "
           "side-by-side run of the command under *Reproduce* on a quiet machine, which rewrites the whole page "
           f"(written by `{command}`).\n",
           f"- llama.cpp: commit `{llama_commit}` (build {llama_build}), built outside the repository.",
           f"- Shapes: {', '.join(shapes)}; threads: {', '.join(map(str, threads))}.\n"]
    out += method_lines(args, pp, tg)
    out += ["## Targets\n"] + targets_lines(pp, tg, threads) + tile_lines(None, pp)
    out += reproduce_lines(args, real_command(args))
    return out


def real_command(args):
    return (f"tools/side_by_side.py --llama-bin {args.llama_bin} --shapes {args.shapes} --threads {args.threads} "
            f"--reps {args.reps} --wait 1800")


def reproduce_lines(args, command):
    return ["## Reproduce\n",
            "On a quiet machine (nothing else running), from the repository root:\n",
            "```", command, "```",
            "It builds the tools of the commit it measures (meson, ninja -j 2) in the work folder "
            f"(`--work`, default {WORK_DEFAULT}, outside the repository), makes the model files there once "
            "(a second run reuses them), refuses to time while the 1-minute load average is above "
            f"{bc.QUIET_LOAD_PER_CORE} per core (`--wait S` waits for it, `--force` times anyway and marks the "
            "page), and rewrites this page and `tokens_per_second.png`.\n"]


WORK_DEFAULT = "/tmp/aq-formats"


def main():
    bc.set_tag("side_by_side")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-bin", required=True, help="folder with llama-bench and llama-quantize")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--reps", type=int, default=3, help="alternating rounds")
    ap.add_argument("--shapes", default="tinyllama,smollm2",
                    help="comma-separated: " + ", ".join(SYNTH_SHAPES) + ", smollm2")
    ap.add_argument("--pp", type=int, default=512, help="prompt length of the ppN test")
    ap.add_argument("--tg", type=int, default=128, help="generated tokens of the tgN test")
    ap.add_argument("--smollm2", help="SmolLM2 GGUF to use instead of tools/fetch_smollm2.sh's")
    ap.add_argument("--wait", type=int, default=0, help="wait up to this many seconds for a quiet machine")
    ap.add_argument("--force", action="store_true", help="time even on a busy machine (the document says so)")
    ap.add_argument("--plan", action="store_true",
                    help="time nothing: write the page with the method, the targets and the command, no figures")
    ap.add_argument("--work", default=WORK_DEFAULT, help="cache folder for builds and model files (outside the "
                    "repository; shared with tools/formats_table.py)")
    ap.add_argument("--out", default=os.path.join(bc.ROOT, "docs", "PERFORMANCE.md"))
    ap.add_argument("--no-plot", action="store_true")
    bc.add_source_args(ap)
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    for s in shapes:
        if s not in SYNTH_SHAPES and s != "smollm2":
            raise SystemExit(f"unknown shape {s}")
    command = "tools/side_by_side.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    llama_bin = os.path.abspath(args.llama_bin)
    pp, tg = f"pp{args.pp}", f"tg{args.tg}"
    out_dir = os.path.dirname(os.path.abspath(args.out))

    if args.plan:
        llama_commit, llama_build = bc.llama_version(llama_bin)
        with open(args.out, "w") as f:
            f.write("\n".join(write_plan(args, command, llama_commit, llama_build, pp, tg, threads, shapes)))
        png = os.path.join(out_dir, "tokens_per_second.png")
        if os.path.exists(png):
            os.remove(png)  # a picture of an earlier run does not belong to this page
        log(f"wrote {args.out} (no figures)")
        return

    # Refuse early: nothing is built or written on a busy machine unless asked to.
    quiet = bc.check_quiet(args.force, args.wait)
    os.makedirs(args.work, exist_ok=True)
    llama_commit, llama_build = bc.llama_version(llama_bin)
    src, build_dir, source_desc = bc.prepare_source(args.rev, args.build, args.work)
    exes = bc.build(src, build_dir, ["aq-bench", "aq-synth", "aq-quantize"])
    ours_key = os.path.basename(os.path.normpath(build_dir))
    files = {s: make_files(s, args, exes, llama_bin, llama_commit, ours_key) for s in shapes}

    # Our own building and quantizing raised the load average: let it fall before timing.
    if quiet:
        quiet = bc.check_quiet(args.force, max(args.wait, 300))
    started = bc.now_utc()
    load_before = bc.loadavg()

    # ---- the alternating rounds
    results, bw = {}, {t: [] for t in threads}
    kernels_seen, bench_commit = set(), None
    for s in shapes:
        fs = files[s]
        # key: what the ratios and targets name a row by (labels add the file type, which varies by shape).
        rows = [{"label": f"llama.cpp, {fs['llama'][0]}", "key": "llama.cpp", "tool": "llama", "file": fs["llama"][1],
                 "threads": t, pp: [], tg: [], "gb": bc.gguf_bytes_per_token(fs["llama_info"]) / 1e9, "bw": [],
                 "other": 0.0} for t in threads]
        rows += [{"label": f"ours, the same {fs['llama'][0]} file", "key": "ours, the same", "tool": "aq",
                  "file": fs["llama"][1], "threads": t, pp: [], tg: [], "gb": None, "bw": [], "other": 0.0}
                 for t in threads]
        for label, f in fs["ours"]:
            rows += [{"label": f"ours, {label}", "key": f"ours, {label}", "tool": "aq", "file": f, "threads": t,
                      pp: [], tg: [], "gb": None, "bw": [], "other": 0.0} for t in threads]
        results[s] = {"rows": rows}
    for r in range(args.reps):
        for s in shapes:
            for t in threads:
                log(f"round {r + 1} of {args.reps}: {s}, {t} thread(s)")
                for row in results[s]["rows"]:
                    if row["threads"] != t:
                        continue
                    if row["tool"] == "llama":
                        res, meta = bc.llama_bench_once(llama_bin, row["file"], t, args.pp, args.tg)
                        bench_commit = meta["commit"]
                        row[pp].append(res[pp])
                        row[tg].append(res[tg])
                    else:
                        res, meta = bc.aq_bench_once(exes["aq-bench"], row["file"], t, args.pp, args.tg,
                                                     bw_mib=bc.AQ_BENCH_BW_MIB)
                        kernels_seen.add(meta["kernels"])
                        row[pp].append(res[pp]["tps"])
                        row[tg].append(res[tg]["tps"])
                        row["gb"] = res[tg]["gb_token"]
                        row["bw"].append(meta["bw"])
                        bw[t].append(meta["bw"])
                    row["other"] = max(row["other"], meta["other_cpu"])
    # The INT8 tile against the FP32 tile (the W4A8 / FP32 target's bound), alternated as above.
    kbench = kernel_bench(build_dir)
    tile = {"names": tile_names(kbench), "qc4w": [], "f32": [], "peak": []}
    for r in range(args.reps):
        log(f"round {r + 1} of {args.reps}: the INT8 and FP32 tiles")
        tile["qc4w"].append(tile_once(kbench, tile["names"][0]))
        tile["f32"].append(tile_once(kbench, tile["names"][1]))
        peak = peak_once(kbench)
        if peak:
            tile["peak"].append(peak)
    load_after = bc.loadavg()
    finished = bc.now_utc()
    if bench_commit and not llama_commit.startswith(bench_commit) and not bench_commit.startswith(llama_commit):
        log(f"WARNING: llama-bench says commit {bench_commit}, llama-perplexity --version {llama_commit}")

    bwm = {t: bc.mean_sd(bw[t]) for t in threads}

    def roofline(row):
        b = bc.mean_sd(row["bw"])[0] if row["bw"] else bwm[row["threads"]][0]
        return row["gb"] * bc.mean_sd(row[tg])[0] / b

    have_plot = False
    if not args.no_plot:
        have_plot = plot(results, shapes[0], threads, pp, tg, os.path.join(out_dir, "tokens_per_second.png"))
    other_max = max(row["other"] for s in shapes for row in results[s]["rows"])

    # ---- the document
    out = []
    w = out.append
    w("# Performance: libagilequant and llama.cpp, side by side\n")
    if not quiet:
        w(f"**MEASURED ON A BUSY MACHINE (`--force`, load average {load_before[0]:.2f} on {bc.n_cpus()} cores at "
          f"the start): the figures below are noise, not results. Run the command at the end on a quiet "
          f"machine.**\n")
    elif other_max > NOISY:
        w(f"**Other processes took up to {100 * other_max:.0f}% of the machine during some timed commands "
          f"(rows marked in the last column): those rows are disturbed.**\n")
    w(f"Written whole by `{command}` on {started:%Y-%m-%d %H:%M} UTC ({(finished - started).seconds // 60} min "
      f"of timing); every figure on this page comes from that one run.\n")
    w(f"- Built: {source_desc}.")
    w(f"- llama.cpp: commit `{llama_commit}` (build {llama_build}), built outside the repository "
      f"(`{llama_bin}`).")
    w(f"- Machine: {bc.cpu_model()}, {bc.n_cpus()} cores. Our kernels (dispatch): " +
      ", ".join(f"`{k}`" for k in sorted(kernels_seen)) + ".")
    w(f"- Load average (1 / 5 / 15 min) before the timings: {load_before[0]:.2f} / {load_before[1]:.2f} / "
      f"{load_before[2]:.2f}; after: {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f} (the run's "
      f"own benchmarks count in it). Timings are refused above {bc.QUIET_LOAD_PER_CORE} per core.\n")
    out.extend(method_lines(args, pp, tg))

    tt = TARGET_THREADS if TARGET_THREADS in threads else max(threads)
    target_rows = []
    for s in shapes:
        rows = results[s]["rows"]
        w(f"## {s}\n")
        w(files[s]["desc"] + "\n")
        w(f"| runs | threads | {pp} t/s | {tg} t/s | GB/token | {tg} roofline | others' CPU |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            a, b = bc.mean_sd(row[pp]), bc.mean_sd(row[tg])
            flag = " **!**" if row["other"] > NOISY else ""
            w(f"| {row['label']} | {row['threads']} | {a[0]:.2f} ± {a[1]:.2f} | {b[0]:.2f} ± {b[1]:.2f} | "
              f"{row['gb']:.3f} | {100 * roofline(row):.0f}% | {100 * row['other']:.0f}%{flag} |")
        w("")

        def find(key, t):
            return next((r for r in rows if r["key"] == key and r["threads"] == t), None)

        llama_label = rows[0]["label"]
        ratios = [(f"ours on the same file / {llama_label}", "ours, the same", "llama.cpp"),
                  (f"ours W4A8 / {llama_label}", "ours, W4A8", "llama.cpp"),
                  (f"ours W4A4 / {llama_label}", "ours, W4A4", "llama.cpp"),
                  ("ours on the same file / ours FP32", "ours, the same", "ours, FP32"),
                  ("ours W4A8 / ours FP32", "ours, W4A8", "ours, FP32"),
                  ("ours W4A4 / ours FP32", "ours, W4A4", "ours, FP32"),
                  ("ours W4A4 / ours W4A8", "ours, W4A4", "ours, W4A8"),
                  (f"ours W4A8h4 / {llama_label}", "ours, W4A8h4", "llama.cpp"),
                  (f"ours W4A4o / {llama_label}", "ours, W4A4o", "llama.cpp"),
                  ("ours W4A4o / ours W4A4", "ours, W4A4o", "ours, W4A4")]
        w("| ratio | " + " | ".join(f"{k}, {t} thread{'s' if t > 1 else ''}" for k in (pp, tg) for t in threads) +
          " |")
        w("| --- | " + " | ".join("---:" for _ in range(2 * len(threads))) + " |")
        for label, num, den in ratios:
            cells = []
            for k in (pp, tg):
                for t in threads:
                    a, b = find(num, t), find(den, t)
                    cells.append(f"{bc.mean_sd(a[k])[0] / bc.mean_sd(b[k])[0]:.2f}x" if a and b else "-")
            w(f"| {label} | " + " | ".join(cells) + " |")
        w("")
        for name, num, den, test, need in TARGETS:
            k = pp if test == "pp" else tg
            a = find(num, tt)
            if den is None:
                got = roofline(a) if a else None
                shown = f"{100 * got:.0f}%" if got is not None else "-"
                need_s = f"{100 * need:.0f}%"
            else:
                b = find(den, tt)
                got = bc.mean_sd(a[k])[0] / bc.mean_sd(b[k])[0] if a and b else None
                shown = f"{got:.2f}x" if got is not None else "-"
                need_s = f"{need:.2f}x"
            if got is None:
                verdict = "-"
            elif got >= need:
                verdict = "met"
            else:
                verdict = f"**missed** by {100 * (need - got) / need:.0f}%"
            target_rows.append((s, name.format(pp=pp, tg=tg), need_s, shown, verdict))

    w("## Against the targets\n")
    out.extend(targets_lines(pp, tg, threads))
    out.extend(tile_lines(tile, pp))
    w(f"From the tables above, {tt} threads (missed by: the shortfall as a share of the target):\n")
    w("| shape | target | needed | measured | |")
    w("| --- | --- | ---: | ---: | --- |")
    for s, name, need_s, shown, verdict in target_rows:
        w(f"| {s} | {name} | {need_s} | {shown} | {verdict} |")
    w("")

    w("## Memory bandwidth (the roofline)\n")
    w(f"Streaming read of a {bc.AQ_BENCH_BW_MIB} MiB buffer (64-bit integer sum, one contiguous slice per thread) "
      f"by each aq-bench process above before its model loaded; mean ± sd over all of them.\n")
    w("| threads | probes | GB/s |")
    w("| ---: | ---: | ---: |")
    for t in threads:
        w(f"| {t} | {len(bw[t])} | {bwm[t][0]:.2f} ± {bwm[t][1]:.2f} |")
    w("")
    w("Where a generated token's time goes (perf, ours and llama-bench's on the same file): "
      "[PROFILE.md](PROFILE.md), from `tools/profile_decode.py`.\n")
    if have_plot:
        w(f"![tokens per second against threads, {shapes[0]}](tokens_per_second.png)\n")
        w(f"`tokens_per_second.png`: the {shapes[0]} rows above against the thread count (error bars: sd).\n")
    out.extend(reproduce_lines(args, command))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
