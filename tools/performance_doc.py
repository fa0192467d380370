#!/usr/bin/env python3
"""Measure libagilequant's speed on this machine and write docs/PERFORMANCE.md.

One command (from the repository root):
    tools/performance_doc.py [--build DIR] [--reps N] [--threads 1,2] [--no-profile]

It builds aq-synth and aq-bench (meson + ninja, niced, -j 2), writes a
random-weight TinyLlama-1.1B-shaped model into /tmp (speed depends on shapes,
not on weight values), measures the streaming-read memory bandwidth, runs
aq-bench for FP32, W4A8 and W4A4 (RTN variants: no calibration text is needed,
and GPTQ produces the same formats, so the same speed) at each thread count,
pp512 and tg128, then W4A8 with the reference kernels (--kernels ref) for the
kernel speed-up, optionally profiles W4A8 with perf, runs bench/mca/run.sh if
present, plots tokens/s against threads with gnuplot and writes the document.
Every ratio in the document comes from rows measured by this one run.

Run it on a quiet machine: another job on the cores makes the numbers noise
(the script records the load average and warns when it is high).
"""
import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# llama.cpp's figures, quoted from the issue (same machine, 2 threads,
# TinyLlama-1.1B shape, Q4_0). Not measured by this script.
LLAMA_CPP = {"pp512": (124, 131), "tg128": (30, 36), "bandwidth": (55, 58)}

PP, TG = "pp512", "tg128"  # the test names; other lengths only for quick checks of this script

SCHEMES = [("FP32", None), ("W4A8", "w4a8,rtn"), ("W4A4", "w4a4,rtn")]


def log(msg):
    print(f"[performance_doc] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log(" ".join(cmd))
    return subprocess.run(cmd, check=True, text=True, **kw)


def build(build_dir):
    if not os.path.isfile(os.path.join(build_dir, "build.ninja")):
        run(["nice", "meson", "setup", build_dir, "-Dbuildtype=release"], cwd=ROOT)
    run(["nice", "ninja", "-C", build_dir, "-j", "2", "examples/aq-bench", "examples/aq-synth",
         "examples/aq-quantize"], cwd=ROOT)


def parse_rows(text):
    """Rows of aq-bench's markdown table as dicts."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 10 or cells[0] in ("model", "---") or cells[0].startswith("-"):
            continue
        mean, sd = (float(x) for x in cells[7].split("±"))
        rows.append({"model": cells[0], "size": cells[1], "params": cells[2], "scheme": cells[3],
                     "kernels": cells[4], "threads": int(cells[5]), "test": cells[6], "tps": mean, "sd": sd,
                     "gb_token": float(cells[8]), "roofline": cells[9]})
    return rows


def aq_bench(exe, model, threads, reps, scheme=None, kernels=None, prompt=512, gen=128):
    cmd = [exe, "-m", model, "-p", str(prompt), "-n", str(gen), "-t", threads, "-r", str(reps)]
    if scheme:
        cmd += ["--scheme", scheme]
    if kernels:
        cmd += ["--kernels", kernels]
    p = run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sys.stderr.write(p.stderr)
    return parse_rows(p.stdout), p.stderr


def bandwidth(exe, threads, reps):
    p = run([exe, "--bandwidth", "-t", threads, "-r", str(reps)], stdout=subprocess.PIPE)
    out = {}
    for line in p.stdout.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|\s*\d+ MiB\s*\|\s*([0-9.]+) ± ([0-9.]+)", line)
        if m:
            out[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    return out


def profile(exe, quantize, model, scheme, threads):
    """Top self-time symbols of W4A8 decode and prefill (perf record, cpu-clock:
    hardware counters may be missing in a VM; a software clock samples anyway).
    The model is quantized and saved first, so quantizing is not in the profile."""
    if not shutil.which("perf"):
        return None
    qmodel = "/tmp/aq-perf/profile-" + scheme.replace(",", "-") + ".gguf"
    if not os.path.isfile(qmodel):
        run([quantize, "-m", model, "-o", qmodel, "--scheme", scheme], stderr=subprocess.DEVNULL)
    sections = []
    for label, args in (("tg (decode, 32 tokens)", ["-p", "0", "-n", "32"]),
                        ("pp (prefill, 128 tokens)", ["-p", "128", "-n", "0"])):
        data = "/tmp/aq-perf/perf.data"
        try:
            subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-o", data, "--",
                            exe, "-m", qmodel, "-t", threads, "-r", "2", "--bw-mib", "0"] + args,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--percent-limit", "1.5",
                                  "-g", "none", "--sort", "symbol"], check=True, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        except (subprocess.CalledProcessError, OSError) as e:
            return f"perf failed: {e}"
        lines = [ln for ln in rep.splitlines() if ln.strip() and not ln.startswith("#")]
        sections.append(f"{label}, {threads} threads, model loaded from a saved {scheme} GGUF:\n\n```\n" +
                        "\n".join(lines[:18]) + "\n```\n")
    return "\n".join(sections)


def plot(rows, threads, path):
    if not shutil.which("gnuplot"):
        log("gnuplot not found (apt-get install -y gnuplot-nox): no plot")
        return False
    dat = "/tmp/aq-perf/tps.dat"
    series = []
    with open(dat, "w") as f:
        for test in (PP, TG):
            for label, _ in SCHEMES:
                f.write(f"# {label} {test}\n")
                for t in threads:
                    r = find(rows, label, test, t)
                    if r:
                        f.write(f"{t} {r['tps']} {r['sd']}\n")
                f.write("\n\n")
                series.append(f"{label} {test}")
    plots = []
    for i, name in enumerate(series):
        axis = "x1y1" if PP in name else "x1y2"
        plots.append(f"'{dat}' index {i} using 1:2:3 with yerrorlines title '{name}' axes {axis}")
    script = f"""
set terminal pngcairo size 900,540 noenhanced
set output '{path}'
set title 'libagilequant, TinyLlama-1.1B shape (random weights), this machine'
set xlabel 'threads'
set ylabel 'prompt processing pp512 (tokens/s)'
set y2label 'generation tg128 (tokens/s)'
set ytics nomirror
set y2tics
set xtics 1
set xrange [{min(threads) - 0.25}:{max(threads) + 0.25}]
set yrange [0:*]
set y2range [0:*]
set key outside right
set grid
plot {', '.join(plots)}
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    except (subprocess.CalledProcessError, OSError) as e:
        # pngcairo may be missing from gnuplot-nox: fall back to the plain png terminal.
        subprocess.run(["gnuplot"], input=script.replace("pngcairo", "png"), text=True, check=True)
    return True


def find(rows, label, test, threads, kernels=None):
    for r in rows:
        if r["label"] == label and r["test"] == test and r["threads"] == threads and \
                (kernels is None or r["kernels"] == kernels):
            return r
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"), help="meson build folder")
    ap.add_argument("--model", default="/tmp/aq-perf/tinyllama-synth.gguf",
                    help="model to run (written by aq-synth --preset tinyllama if missing)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=2, help="timed repetitions per test (after a warm-up)")
    ap.add_argument("--ref-reps", type=int, default=1, help="repetitions for the reference kernels (slow)")
    ap.add_argument("--prompt", type=int, default=512, help="prompt length of the pp test")
    ap.add_argument("--gen", type=int, default=128, help="tokens of the tg test")
    ap.add_argument("--no-profile", action="store_true", help="skip the perf profile")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    ap.add_argument("--source", default=None,
                    help="what was built, for the document (default: the git commit of this checkout)")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    global PP, TG
    PP, TG = f"pp{args.prompt}", f"tg{args.gen}"
    started = datetime.datetime.now(datetime.timezone.utc)
    os.makedirs("/tmp/aq-perf", exist_ok=True)

    build(args.build)
    bench = os.path.join(args.build, "examples", "aq-bench")
    synth = os.path.join(args.build, "examples", "aq-synth")
    if not os.path.isfile(args.model):
        run(["nice", synth, "--preset", "tinyllama", "-o", args.model])

    load_before = os.getloadavg()
    busy = subprocess.run(["pgrep", "-f", "tools/train.py"], stdout=subprocess.PIPE, text=True).stdout.split()
    bw = bandwidth(bench, args.threads, 5)

    rows = []
    describe = ""
    for label, scheme in SCHEMES:
        got, err = aq_bench(bench, args.model, args.threads, args.reps, scheme, prompt=args.prompt, gen=args.gen)
        for r in got:
            r["label"] = label
        rows += got
        m = re.search(r"^kernels: (.*)$", err, re.M)
        if m:
            describe = m.group(1)
    # The reference kernels: the same W4A8 model, portable C kernels, the most
    # threads only (they are slow), fewer reps.
    tmax = str(max(threads))
    ref_rows, _ = aq_bench(bench, args.model, tmax, args.ref_reps, "w4a8,rtn", kernels="ref", prompt=args.prompt,
                           gen=args.gen)
    for r in ref_rows:
        r["label"] = "W4A8 (ref kernels)"
    quantize = os.path.join(args.build, "examples", "aq-quantize")
    prof = None if args.no_profile else profile(bench, quantize, args.model, "w4a8,rtn", tmax)
    mca = None
    mca_script = os.path.join(ROOT, "bench", "mca", "run.sh")
    if os.path.isfile(mca_script):
        p = subprocess.run(["bash", mca_script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        mca = p.stdout if p.returncode == 0 else f"bench/mca/run.sh failed ({p.returncode}):\n\n```\n{p.stdout}\n```"
    load_after = os.getloadavg()
    png = os.path.join(os.path.dirname(args.out), "tokens_per_second.png")
    have_plot = plot(rows, threads, png)

    # ---- the document ----
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M).group(1)
    except (OSError, AttributeError):
        pass
    source = args.source
    if not source:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        source = f"commit {commit or 'unknown'}{' with local changes' if dirty else ''}"
    first = rows[0] if rows else {"size": "?", "params": "?"}
    out = []
    w = out.append
    w("# Performance\n")
    w(f"Measured by `tools/performance_doc.py` on {started:%Y-%m-%d %H:%M} UTC, {source}; {os.cpu_count()} cores ({cpu}); kernels chosen: `{describe}`.")
    w(f"Load average before / after the run: {load_before[0]:.2f} / {load_after[0]:.2f}"
      f"{'; a training job (tools/train.py) was running, so these numbers are NOT representative' if busy else ''}.\n")
    w(f"Model: TinyLlama-1.1B's shape (dim 2048, 22 layers, 32 heads, 4 KV heads, ffn 5632, vocab 32000) with "
      f"random weights, written by `aq-synth --preset tinyllama`; {first['params']} parameters. Speed depends on "
      f"shapes, not on weight values. W4A8 and W4A4 are the `w4a8,rtn` and `w4a4,rtn` schemes, quantized in "
      f"memory: GPTQ (the default) writes the same formats as RTN, so it runs at the same speed. Each test runs "
      f"once to warm up, then {args.reps} times (reference kernels: {args.ref_reps}); t/s is the mean ± sd. "
      f"pp512: 512 prompt tokens in one batch on an empty cache; tg128: 128 single-token forwards after an empty "
      f"cache, the first one BOS (as llama-bench does).\n")

    w("## Tokens per second\n")
    w("| scheme | kernels | threads | test | t/s | vs FP32 | GB read / token | roofline |")
    w("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in rows + ref_rows:
        base = find(rows, "FP32", r["test"], r["threads"])
        ratio = f"{r['tps'] / base['tps']:.2f}x" if base and r["label"] != "FP32" else ""
        w(f"| {r['label']} | {r['kernels']} | {r['threads']} | {r['test']} | {r['tps']:.2f} ± {r['sd']:.2f} | "
          f"{ratio} | {r['gb_token']:.3f} | {r['roofline'] or '-'} |")
    w("")
    w("Roofline = (weight bytes read per token x tg t/s) / streaming-read bandwidth at the same thread count "
      "(measured by aq-bench in the same process just before the model runs). Bytes per token count every "
      "matrix but the embedding table (one row of it is copied per token) in the format the kernel reads: "
      "for INT4, 4-bit codes plus, per row and group of 32, the f16 scale and the packed layout's 4-byte "
      "(zero, wsum) pair; the output projection stays FP32 in every scheme. KV-cache reads are not counted.\n")

    w("### Ratios\n")
    w("| ratio | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in threads) + " |")
    w("| --- | " + " | ".join("---:" for _ in threads) + " |")
    for label in ("W4A8", "W4A4"):
        for test in (PP, TG):
            cells = []
            for t in threads:
                a, b = find(rows, label, test, t), find(rows, "FP32", test, t)
                cells.append(f"{a['tps'] / b['tps']:.2f}x" if a and b else "-")
            w(f"| {label} / FP32, {test} | " + " | ".join(cells) + " |")
    for test in (PP, TG):
        cells = []
        for t in threads:
            a, b = find(rows, "W4A8", test, t), find(ref_rows, "W4A8 (ref kernels)", test, t)
            cells.append(f"{a['tps'] / b['tps']:.2f}x" if a and b else "-")
        w(f"| W4A8 SIMD / W4A8 reference kernels, {test} | " + " | ".join(cells) + " |")
    w("")

    w("## Memory bandwidth\n")
    w("Streaming read of a 1 GiB buffer (64-bit integer sum, one contiguous slice per thread), "
      "mean ± sd of 5 reads after a warm-up (`aq-bench --bandwidth`).\n")
    w("| threads | GB/s |")
    w("| ---: | ---: |")
    for t in threads:
        if t in bw:
            w(f"| {t} | {bw[t][0]:.2f} ± {bw[t][1]:.2f} |")
    w("")

    w("## Against the issue's targets and llama.cpp\n")
    w(f"llama.cpp's figures below are QUOTED FROM THE ISSUE, not measured here: on this machine, 2 threads, "
      f"TinyLlama-1.1B shape, Q4_0: pp512 {LLAMA_CPP['pp512'][0]}-{LLAMA_CPP['pp512'][1]} t/s, tg128 "
      f"{LLAMA_CPP['tg128'][0]}-{LLAMA_CPP['tg128'][1]} t/s, streaming read {LLAMA_CPP['bandwidth'][0]}-"
      f"{LLAMA_CPP['bandwidth'][1]} GB/s.\n")
    t2 = 2 if 2 in threads else max(threads)
    pp8, tg8, ppf = find(rows, "W4A8", PP, t2), find(rows, "W4A8", TG, t2), find(rows, "FP32", PP, t2)
    w("| target | measured | met |")
    w("| --- | ---: | --- |")
    if tg8:
        frac = tg8["gb_token"] * tg8["tps"] / bw[t2][0] if t2 in bw else float("nan")
        w(f"| W4A8 tg128 at >= 80% of the bandwidth roofline ({t2} threads) | {100 * frac:.0f}% | "
          f"{'yes' if frac >= 0.8 else 'NO'} |")
        w(f"| W4A8 tg128 vs llama.cpp Q4_0 (quoted {LLAMA_CPP['tg128'][0]}-{LLAMA_CPP['tg128'][1]}) | "
          f"{tg8['tps']:.1f} t/s | (no target) |")
    if pp8:
        need = 1.5 * LLAMA_CPP["pp512"][1]
        w(f"| W4A8 pp512 >= 1.5x llama.cpp's quoted {LLAMA_CPP['pp512'][0]}-{LLAMA_CPP['pp512'][1]} "
          f"(>= {1.5 * LLAMA_CPP['pp512'][0]:.0f}-{need:.0f} t/s) | {pp8['tps']:.1f} t/s "
          f"({pp8['tps'] / LLAMA_CPP['pp512'][1]:.2f}-{pp8['tps'] / LLAMA_CPP['pp512'][0]:.2f}x) | "
          f"{'yes' if pp8['tps'] >= need else 'NO'} |")
    if pp8 and ppf:
        ratio = pp8["tps"] / ppf["tps"]
        w(f"| W4A8 pp512 >= 3x our FP32 pp512 | {ratio:.2f}x | {'yes' if ratio >= 3 else 'NO'} |")
    w("")
    if tg8 and t2 in bw:
        w(f"The roofline itself: {bw[t2][0]:.1f} GB/s / {tg8['gb_token']:.3f} GB per token = "
          f"{bw[t2][0] / tg8['gb_token']:.1f} t/s at most for W4A8 at {t2} threads.\n")

    if have_plot:
        w("## Tokens per second against threads\n")
        w("![tokens per second against threads](tokens_per_second.png)\n")
    if prof:
        w("## Where W4A8's time goes (perf, self time)\n")
        w(prof)
    if mca:
        w("## Static cycle estimates of the NEON kernels (llvm-mca, bench/mca/run.sh)\n")
        w(mca.strip() + "\n")
    w("## Reproduce\n")
    w("```\ntools/performance_doc.py              # everything above, ~15 minutes\n"
      "build-bench/examples/aq-synth --preset tinyllama -o /tmp/tl.gguf\n"
      "build-bench/examples/aq-bench -m /tmp/tl.gguf -p 512 -n 128 -t 1,2 --scheme w4a8,rtn\n"
      "build-bench/examples/aq-bench --bandwidth -t 1,2\n"
      "build-bench/bench/aq-bench-kernels --benchmark_filter='qc4w/.*tinyllama'   # needs libbenchmark-dev\n```\n")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    log(f"wrote {args.out} in {(datetime.datetime.now(datetime.timezone.utc) - started).seconds} s")


if __name__ == "__main__":
    main()
