#!/usr/bin/python3
"""Every llama.cpp weight type the library loads, side by side with llama.cpp: writes docs/FORMATS.md.

    tools/formats_table.py --llama-bin DIR [--parts accuracy,smollm2,speed] [--chunks N] [--threads T]
                           [--reps R] [--speed-types fast|all|Q4_0,...] [--work DIR]
                           [--rev REV | --rev worktree] [--build DIR] [--types Q4_0,...]

The page has three parts, each run on its own or together (--parts); the figures of every part are kept
in docs/FORMATS.json, so a run of one part rewrites the whole page with the others as they were:

* accuracy: for each type (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS),
  the shipped model models/austen-6m.gguf quantized by llama.cpp's `llama-quantize --pure SRC OUT TYPE`;
  its bits per weight (from the GGUF header, checked against llama.cpp's "(N BPW)"), and our perplexity
  next to llama.cpp's on that same file:
  `aq-perplexity -m F -f data/austen-test.txt --ctx 512 --chunks N -t T` against
  `llama-perplexity -m F -f data/austen-test.txt -c 512 --chunks N -t T` (the issue's target: within 0.3 %);
* smollm2: SmolLM2-135M-Instruct's own Q4_1 file (tools/fetch_smollm2.sh) on data/austen-test.txt and
  data/brown-sample.txt, the same comparison;
* speed (timed, refused on a busy machine: load average above 0.5 per core; --wait, --force): pp512 /
  tg128 of aq-bench and llama-bench on the same TinyLlama-1.1B-shape file in each type (default: the types
  with a SIMD kernel on this CPU), same threads, run alternately (llama-bench, aq-bench, llama-bench, ...;
  --reps rounds of one repetition each, after each tool's own warm-up).

The fast-path columns are read from the kernel lists (kernels_x86/*.inc, kernels_neon/*.inc) of the sources
built, entry by entry: the kernel dispatch would choose on a CPU with exactly that feature set.

Work files (exported sources, the build, quantized models, llama.cpp's perplexity logs, which depend only
on the llama.cpp build, the file and the arguments) are kept in --work (default /tmp/aq-formats) and reused;
delete it to start over. Our side is computed afresh on every run. Everything runs niced; builds use
ninja -j 2. Python 3 standard library only.
"""
import argparse
import fcntl
import json
import os
import re
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as bc  # noqa: E402

TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
         "IQ4_NL", "IQ4_XS"]
# The activation blocks llama.cpp's CPU backend pairs each weight type with (its vec_dot_type);
# the library does the same (data/llamacpp/README.md).
ACT_TYPE = {"F32": "F32", "F16": "F16", "BF16": "BF16", "Q4_0": "Q8_0", "Q5_0": "Q8_0", "Q8_0": "Q8_0",
            "IQ4_NL": "Q8_0", "Q4_1": "Q8_1", "Q5_1": "Q8_1", "Q2_K": "Q8_K", "Q3_K": "Q8_K", "Q4_K": "Q8_K",
            "Q5_K": "Q8_K", "Q6_K": "Q8_K", "IQ4_XS": "Q8_K"}
OUR_FORMATS = {"qc4w": "our INT4 (w4a16 / w4a8 / w4a4 schemes)"}

# The feature levels of the columns (lib/kernels/cpu_features.h): a CPU with AVX-VNNI or AVX-512 VNNI
# also runs AVX2 code (the library requires AVX2 + FMA3 + F16C with both); NEON dot implies NEON.
ISAS = [("AQ_CPU_AVX2", "AVX2", {"AQ_CPU_AVX2"}),
        ("AQ_CPU_AVXVNNI", "AVX-VNNI", {"AQ_CPU_AVXVNNI", "AQ_CPU_AVX2"}),
        ("AQ_CPU_AVX512VNNI", "AVX-512 VNNI", {"AQ_CPU_AVX512VNNI", "AQ_CPU_AVX2"}),
        ("AQ_CPU_NEON", "NEON", {"AQ_CPU_NEON"}),
        ("AQ_CPU_NEONDOT", "NEON dot", {"AQ_CPU_NEONDOT", "AQ_CPU_NEON"}),
        ("AQ_CPU_I8MM", "i8mm", {"AQ_CPU_I8MM", "AQ_CPU_NEONDOT", "AQ_CPU_NEON"})]
TARGET_PCT = 0.3


def log(msg):
    bc.log(msg)


# ---------------------------------------------------------------------------
# The kernel lists

def parse_kernel_lists(src):
    """Every entry of kernels_x86/*.inc and kernels_neon/*.inc:
    [{'list': 'kernels_x86/q4_0-q8_0-dot.inc', 'isa': 'AQ_CPU_AVX2', 'fn': 'aq_q4_0_q8_0_dot__avx2',
      'weight': 'Q4_0' | 'qc4w' | None, 'act': ..., 'role': 'matmul' | 'act-quantize'}], plus the lists
    whose entries could not be tied to a weight type."""
    entries, unmatched = [], []
    for arch in ("kernels_x86", "kernels_neon"):
        folder = os.path.join(src, arch)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".inc"):
                continue
            with open(os.path.join(folder, name)) as f:
                text = f.read()
            text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
            text = re.sub(r"//[^\n]*", " ", text)
            stem = name[:-4]
            parts = stem.split("-")
            op = parts[-1]
            for m in re.finditer(r"\b(AQ_[A-Z0-9_]+)\s*\(([^()]*)\)", text):
                macro = m.group(1)
                args = [a.strip() for a in m.group(2).split(",")]
                if not args or not args[0].startswith("AQ_CPU_"):
                    continue
                fn = next((a for a in args[1:] if a.startswith("aq_")), "?")
                ggml = [a[len("AQ_GGML_"):] for a in args[1:] if a.startswith("AQ_GGML_")]
                role = "act-quantize" if "QUANTIZE" in macro else "matmul"
                weight = act = None
                if ggml:
                    # The entry names its type: the weight type of a GEMM / dot, the activation
                    # type of an activation quantizer.
                    if role == "matmul":
                        weight = ggml[0]
                        act = ACT_TYPE.get(weight)
                    else:
                        act = ggml[0]
                else:
                    types = parts[:-1]
                    if role == "act-quantize" and types:
                        # our own activation formats: <activations>-quantize.inc
                        act = types[0]
                    elif op == "dot" and types:
                        # ggml's naming: vec_dot_<weights>_<activations>
                        weight, act = types[0].upper(), (types[1].upper() if len(types) > 1 else types[0].upper())
                    elif op == "gemm" and types:
                        # XNNPACK's naming: <activations>-<weights>-gemm; one type: both
                        weight, act = types[-1], types[0]
                        weight = weight if weight in OUR_FORMATS else weight.upper()
                        act = act if act in ("qd8",) else act.upper()
                if role == "matmul" and weight not in TYPES and weight not in OUR_FORMATS:
                    unmatched.append(f"{arch}/{name}: {fn}")
                    continue
                entries.append({"list": f"{arch}/{name}", "isa": args[0], "fn": fn, "weight": weight,
                                "act": act, "role": role, "macro": macro})
    return entries, unmatched


def short_kernel(fn):
    """aq_q4_0_q8_0_gemm_4x2__avx2 -> 'gemm 4x2'; aq_q4_0_q8_0_dot__avx2 -> 'dot'."""
    body = fn.split("__")[0]
    m = re.search(r"_(gemm|dot|gemv)(?:_(\w+))?$", body)
    if not m:
        return body
    return m.group(1) + (" " + m.group(2) if m.group(2) else "")


def fast_path_cells(entries, key, value, isa_cols):
    """Per column: what dispatch picks, per list (first entry of a feature the column's CPU has)."""
    cells = []
    for isa, _label, has in isa_cols:
        picked = []
        lists = []
        for e in entries:
            if e["role"] == "matmul" and e[key] == value and e["list"] not in lists:
                lists.append(e["list"])
        for lst in lists:
            for e in entries:
                if e["list"] == lst and e[key] == value and e["role"] == "matmul" and e["isa"] in has:
                    suffix = e["fn"].split("__")[-1] if "__" in e["fn"] else e["isa"]
                    picked.append(f"{short_kernel(e['fn'])} ({suffix})")
                    break
        cells.append(", ".join(picked) if picked else "-")
    return cells


def act_cells(entries, act, isa_cols):
    cells = []
    for isa, _label, has in isa_cols:
        e = next((e for e in entries if e["role"] == "act-quantize" and e["act"] == act and e["isa"] in has), None)
        cells.append(e["fn"].split("__")[-1] if e else "-")
    return cells


# ---------------------------------------------------------------------------
# Files and runs

def file_sha256_short(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def run_ppl(cmd):
    out, err = bc.run(cmd)
    text = out + err
    res = bc.parse_final_ppl(text)
    if not res:
        sys.stderr.write(text[-3000:])
        raise SystemExit(f"[formats_table] no 'Final estimate' in the output of {' '.join(cmd)}")
    return res, text


def llama_ppl_cached(llama_bin, model, text_path, ctx, chunks, threads, cache_dir, llama_commit):
    """llama-perplexity's result and log, cached by (llama.cpp commit, file, arguments)."""
    key = f"ppl-{os.path.basename(model)}-{os.path.splitext(os.path.basename(text_path))[0]}-c{ctx}-n{chunks}-t{threads}.log"
    path = os.path.join(cache_dir, key)
    if os.path.isfile(path):
        with open(path) as f:
            text = f.read()
        res = bc.parse_final_ppl(text)
        if res:
            log(f"reusing {path}")
            return res, text
    cmd = [os.path.join(llama_bin, "llama-perplexity"), "-m", model, "-f", text_path, "-c", str(ctx), "--chunks",
           str(chunks), "-t", str(threads)]
    res, text = run_ppl(cmd)
    with open(path + ".part", "w") as f:
        f.write("CMD: " + " ".join(cmd) + "\n" + text)
    os.replace(path + ".part", path)
    return res, text


def this_cpu_isa(isa_cols):
    """The column of the fullest feature set this CPU has (from /proc/cpuinfo's flags)."""
    flags = bc.cpu_flags()
    have = {"AQ_CPU_AVX2": "avx2" in flags, "AQ_CPU_AVXVNNI": "avx_vnni" in flags,
            "AQ_CPU_AVX512VNNI": "avx512_vnni" in flags, "AQ_CPU_NEON": "asimd" in flags,
            "AQ_CPU_NEONDOT": "asimddp" in flags, "AQ_CPU_I8MM": "i8mm" in flags}
    best = None
    for col in isa_cols:
        if have.get(col[0]):
            best = col if best is None or len(col[2]) >= len(best[2]) else best
    return best


def perplexity_pair(llama_bin, exe, model, text_path, chunks, threads, cache_dir, llama_commit):
    (lp, le), ltext = llama_ppl_cached(llama_bin, model, text_path, 512, chunks, threads, cache_dir, llama_commit)
    (op, oe), otext = run_ppl([exe, "-m", model, "-f", text_path, "--ctx", "512", "--chunks", str(chunks), "-t",
                               str(threads)])
    m = re.search(r"^(\d+) tokens, (\d+) chunks of (\d+)", otext, re.M)
    our_tokens = int(m.group(1)) if m else None
    m = re.search(r"^kernels: (.*)$", otext, re.M)
    return {"ours": (op, oe), "llama": (lp, le), "diff": 100.0 * (op - lp) / lp, "tokens": our_tokens,
            "kernels": m.group(1).strip() if m else "?"}, ltext


def part_header(d):
    return (f"`{d['command']}` on {d['date']}, {d['minutes']} min; built: {d['source']}; "
            f"llama.cpp `{d['llama_commit']}` (build {d['llama_build']})")


PARTS = ("accuracy", "smollm2", "speed")


def main():
    bc.set_tag("formats_table")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-bin", required=True, help="folder with llama-quantize, llama-perplexity, llama-bench")
    ap.add_argument("--parts", default="accuracy,smollm2",
                    help="comma-separated parts to run now: accuracy (the shipped model in every type), smollm2 "
                         "(the real model on two texts), speed (timed: the 1.1B shape, quiet machine). The parts "
                         "not run are taken from the last run's results (--out with .json), so the page is "
                         "always whole")
    ap.add_argument("--chunks", type=int, default=10, help="accuracy: perplexity chunks of 512 tokens (both tools)")
    ap.add_argument("--smollm2-chunks", type=int, default=32, help="smollm2: chunks of 512 tokens per text")
    ap.add_argument("--smollm2", help="SmolLM2 GGUF to use instead of tools/fetch_smollm2.sh's")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3, help="speed: alternating rounds per type")
    ap.add_argument("--pp", type=int, default=512, help="speed: prompt length (ppN)")
    ap.add_argument("--tg", type=int, default=128, help="speed: generated tokens (tgN)")
    ap.add_argument("--speed-types", default="fast",
                    help="speed: 'fast' (the types with a SIMD kernel on this CPU; the reference path takes "
                         "minutes per pp512 on this shape), 'all', or a comma-separated list")
    ap.add_argument("--speed-shape", default="tinyllama", choices=["tinyllama", "austen"],
                    help="speed: the aq-synth preset timed (austen: only to check the script quickly)")
    ap.add_argument("--force", action="store_true", help="speed: time even on a busy machine (the doc says so)")
    ap.add_argument("--wait", type=int, default=0, help="speed: wait up to this many seconds for a quiet machine")
    ap.add_argument("--types", default=",".join(TYPES), help="comma-separated subset of the types")
    ap.add_argument("--work", default="/tmp/aq-formats", help="cache folder for work files (outside the repo)")
    ap.add_argument("--out", default=os.path.join(bc.ROOT, "docs", "FORMATS.md"))
    bc.add_source_args(ap)
    args = ap.parse_args()
    types = [t.strip().upper() for t in args.types.split(",") if t.strip()]
    for t in types:
        if t not in TYPES:
            raise SystemExit(f"unknown type {t} (one of {' '.join(TYPES)})")
    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    for x in parts:
        if x not in PARTS:
            raise SystemExit(f"unknown part {x} (one of {', '.join(PARTS)})")
    command = "tools/formats_table.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    # Timing: refuse early, nothing is computed on a busy machine unless asked to.
    quiet = bc.check_quiet(args.force, args.wait) if "speed" in parts else None
    os.makedirs(args.work, exist_ok=True)
    llama_bin = os.path.abspath(args.llama_bin)
    llama_commit, llama_build = bc.llama_version(llama_bin)
    log(f"llama.cpp {llama_commit} (build {llama_build}) in {llama_bin}")

    src, build_dir, source_desc = bc.prepare_source(args.rev, args.build, args.work)
    exes = bc.build(src, build_dir, ["aq-perplexity", "aq-bench", "aq-synth"])
    entries, unmatched = parse_kernel_lists(src)
    isa_cols = [c for c in ISAS if c[0] != "AQ_CPU_I8MM" or any(e["isa"] == "AQ_CPU_I8MM" for e in entries)]
    qdir = os.path.join(args.work, f"llama-{llama_commit}")
    os.makedirs(qdir, exist_ok=True)

    json_path = os.path.splitext(args.out)[0] + ".json"
    data = {}
    if os.path.isfile(json_path):
        with open(json_path) as f:
            data = json.load(f)

    def stamp(started):
        return {"command": command, "date": f"{started:%Y-%m-%d %H:%M} UTC",
                "minutes": (bc.now_utc() - started).seconds // 60, "source": source_desc,
                "llama_commit": llama_commit, "llama_build": llama_build, "machine": bc.cpu_model(),
                "threads": args.threads}

    # ---- accuracy: the shipped model in every type
    if "accuracy" in parts:
        started = bc.now_utc()
        model_src = os.path.join(src, "models", "austen-6m.gguf")
        text_path = os.path.join(src, "data", "austen-test.txt")
        austen_tag = "austen-" + file_sha256_short(model_src)
        rows = {}
        for t in types:
            f = os.path.join(qdir, f"{austen_tag}-{t.lower()}.gguf")
            bc.llama_quantize(llama_bin, model_src, f, t)
            info = bc.gguf_tensors(f)
            r, ltext = perplexity_pair(llama_bin, exes["aq-perplexity"], f, text_path, args.chunks, args.threads,
                                       qdir, llama_commit)
            m = re.search(r"file size\s*=\s*[0-9.]+ \w+ \(([0-9.]+) BPW\)", ltext)
            bpw = bc.gguf_bpw(info)
            if m and abs(float(m.group(1)) - bpw) > 0.006:
                log(f"WARNING: {t}: llama.cpp printed {m.group(1)} BPW, the header gives {bpw:.3f}")
            r.update({"bpw": bpw, "matrix_types": bc.gguf_matrix_types(info)})
            rows[t] = r
            log(f"{t}: ours {r['ours'][0]:.4f}, llama.cpp {r['llama'][0]:.4f} ({r['diff']:+.3f}%)")
        data["accuracy"] = dict(stamp(started), chunks=args.chunks, rows=rows)

    # ---- the real model: SmolLM2-135M-Instruct's own file on held-out Austen and on Brown
    if "smollm2" in parts:
        started = bc.now_utc()
        if args.smollm2:
            smol = args.smollm2
        else:
            out, _ = bc.run([os.path.join(bc.ROOT, "tools", "fetch_smollm2.sh")])
            smol = out.strip().splitlines()[-1]
        texts = {}
        for name in ("austen-test", "brown-sample"):
            r, _ = perplexity_pair(llama_bin, exes["aq-perplexity"], smol, os.path.join(src, "data", name + ".txt"),
                                   args.smollm2_chunks, args.threads, qdir, llama_commit)
            texts[name] = r
            log(f"SmolLM2 on {name}: ours {r['ours'][0]:.4f}, llama.cpp {r['llama'][0]:.4f} ({r['diff']:+.3f}%)")
        data["smollm2"] = dict(stamp(started), chunks=args.smollm2_chunks, file=os.path.basename(smol),
                               sha256=file_sha256_short(smol), types=bc.gguf_matrix_types(bc.gguf_tensors(smol)),
                               texts=texts)

    # ---- speed on the 1.1B shape (timed)
    if "speed" in parts:
        started = bc.now_utc()
        best = this_cpu_isa(isa_cols)
        if args.speed_types == "fast":
            stypes = [t for t in types if best and fast_path_cells(entries, "weight", t, [best])[0] != "-"]
        elif args.speed_types == "all":
            stypes = types
        else:
            stypes = [t.strip().upper() for t in args.speed_types.split(",") if t.strip()]
        shape = args.speed_shape
        tl_f16 = os.path.join(args.work, f"synth-{shape}-f16.gguf")
        if not os.path.isfile(tl_f16):
            bc.run([exes["aq-synth"], "--preset", shape, "-o", tl_f16 + ".part.gguf"])
            os.replace(tl_f16 + ".part.gguf", tl_f16)
        tl_files = {}
        for t in stypes:
            f = os.path.join(qdir, f"synth-{shape}-{t.lower()}.gguf")
            bc.llama_quantize(llama_bin, tl_f16, f, t)
            tl_files[t] = f
        # Our own quantizing raised the load average: let it fall first.
        if quiet:
            quiet = bc.check_quiet(args.force, max(args.wait, 300))
        load_speed = bc.loadavg()
        pp, tg = f"pp{args.pp}", f"tg{args.tg}"
        speed, other_max = {}, 0.0
        for t in stypes:
            f = tl_files[t]
            ours, theirs, kern = {pp: [], tg: []}, {pp: [], tg: []}, "?"
            for r in range(args.reps):
                log(f"{t}: round {r + 1} of {args.reps}")
                res, meta = bc.llama_bench_once(llama_bin, f, args.threads, args.pp, args.tg)
                other_max = max(other_max, meta["other_cpu"])
                for k in (pp, tg):
                    theirs[k].append(res[k])
                rows_aq, meta = bc.aq_bench_once(exes["aq-bench"], f, args.threads, args.pp, args.tg)
                other_max = max(other_max, meta["other_cpu"])
                kern = meta["kernels"]
                for k in (pp, tg):
                    ours[k].append(rows_aq[k]["tps"])
            speed[t] = {"ours": ours, "llama": theirs, "kernels": kern,
                        "bpw": bc.gguf_bpw(bc.gguf_tensors(f))}
        data["speed"] = dict(stamp(started), quiet=quiet, load=load_speed[0], other_max=other_max, reps=args.reps,
                             pp=args.pp, tg=args.tg, shape=shape, rows=speed)

    # Runs of different parts (or of different --types) may go on at once: merge into the results
    # as they are now, under a lock, rather than into those read at the start.
    with open(os.path.join(args.work, "formats_table.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = {}
        if os.path.isfile(json_path):
            with open(json_path) as f:
                merged = json.load(f)
        for part in parts:
            old = merged.get(part)
            new = data[part]
            # Rows of other types from a run with the same settings stay (a run of some --types).
            if part == "accuracy" and old and old.get("chunks") == new["chunks"] and \
                    old.get("llama_commit") == new["llama_commit"] and set(old["rows"]) - set(new["rows"]):
                old["rows"].update(new["rows"])
                new["rows"] = old["rows"]
                for key, sep in (("command", "` and `"), ("source", "; ")):
                    if new[key] not in old[key].split(sep):
                        new[key] = old[key] + sep + new[key]
                    else:
                        new[key] = old[key]
                new["minutes"] = max(old["minutes"], new["minutes"])
            merged[part] = new
        with open(json_path + ".part", "w") as f:
            json.dump(merged, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(json_path + ".part", json_path)
        write_doc(args, merged, TYPES, entries, unmatched, isa_cols, source_desc)


def write_doc(args, data, types, entries, unmatched, isa_cols, source_desc):
    out = []
    w = out.append
    acc, smol, speed = data.get("accuracy"), data.get("smollm2"), data.get("speed")
    w("# llama.cpp's weight types in libagilequant\n")
    w("Written whole by `tools/formats_table.py` (do not edit by hand); each part below comes from one run "
      "of it, named in its section (the figures it shows are kept in `FORMATS.json` beside this page, so a run "
      "of one part rewrites the page with the others unchanged). Every quantized file was written by "
      "llama.cpp's `llama-quantize --pure SRC OUT TYPE` (all 2-D tensors in the row's type, the embedding "
      "table and the output head included; 1-D norms stay F32), outside the repository.\n")

    w("## Bits per weight and SIMD fast paths\n")
    w(f"Fast paths read from the kernel lists of {source_desc}.\n")
    w("Bits per weight: every tensor's bytes x 8 / every tensor's elements, read from the GGUF header of "
      "llama.cpp's file (the figure llama.cpp prints as `file size = ... (N BPW)`, checked against its log). The "
      "shipped model is 6.8 M parameters, 2.1 M of them in the embedding table and the output head, which "
      "`--pure` quantizes too; the 1.1B shape is TinyLlama-1.1B's (`aq-synth --preset tinyllama`, F16, then "
      "`llama-quantize --pure`; filled by the speed part for the types it times).\n")
    w("Fast path: the SIMD kernel the library's dispatch takes for that weight type on a CPU with exactly that "
      "feature set (a CPU with AVX-VNNI or AVX-512 VNNI also runs the AVX2 kernels; NEON dot implies NEON), read "
      "from the kernel lists `kernels_x86/*.inc` and `kernels_neon/*.inc`, entry by entry. "
      "`-`: the portable C reference runs (kernels_ref/, scalar; the compiler may auto-vectorize it). "
      "Activations: the blocks the weights are multiplied with (llama.cpp's pairing; the library quantizes each "
      "linear layer's input to them).\n")
    labels = [c[1] for c in isa_cols]
    speed_label = "1.1B shape" if not speed or speed.get("shape") == "tinyllama" else f"{speed['shape']} shape"
    w(f"| type | bits/weight, austen-6m | bits/weight, {speed_label} | activations | " + " | ".join(labels) + " |")
    w("| --- | ---: | ---: | --- | " + " | ".join("---" for _ in labels) + " |")
    for t in types:
        a = f"{acc['rows'][t]['bpw']:.2f}" if acc and t in acc["rows"] else "-"
        tl = f"{speed['rows'][t]['bpw']:.2f}" if speed and t in speed["rows"] else "-"
        w(f"| {t} | {a} | {tl} | {ACT_TYPE[t]} | " + " | ".join(fast_path_cells(entries, "weight", t, isa_cols)) +
          " |")
    w("")
    ours_rows = sorted({(e["weight"], e["act"]) for e in entries if e["weight"] in OUR_FORMATS})
    if ours_rows:
        w("Our own weight format, for comparison (not a llama.cpp type; made by `aq-quantize`):\n")
        w("| format | activations | " + " | ".join(labels) + " |")
        w("| --- | --- | " + " | ".join("---" for _ in labels) + " |")
        for wt, act in ours_rows:
            sub = [e for e in entries if e["weight"] == wt and e["act"] == act]
            w(f"| {OUR_FORMATS[wt]} | {act} | " + " | ".join(fast_path_cells(sub, "weight", wt, isa_cols)) + " |")
        w("")
    acts = sorted({e["act"] for e in entries if e["role"] == "act-quantize"})
    if acts:
        w("Activation quantizers with a SIMD entry (`act-quantize.inc`):\n")
        w("| activations | " + " | ".join(labels) + " |")
        w("| --- | " + " | ".join("---" for _ in labels) + " |")
        for a in acts:
            w(f"| {a} | " + " | ".join(act_cells(entries, a, isa_cols)) + " |")
        w("")
    lists = sorted({e["list"] for e in entries})
    w("Lists read: " + ", ".join(f"`{x}` ({sum(1 for e in entries if e['list'] == x)})" for x in lists) +
      " (entries in brackets).\n")
    if unmatched:
        w("Kernel-list entries this script could not tie to a weight type: " + "; ".join(unmatched) + "\n")

    w("## Perplexity: ours against llama.cpp's on the same file\n")
    if not acc:
        w("Not measured yet (`--parts accuracy`).\n")
    else:
        arows = acc["rows"]
        shown = [t for t in types if t in arows]
        n_ok = sum(1 for t in shown if abs(arows[t]["diff"]) <= TARGET_PCT)
        toks = arows[shown[0]]["tokens"]
        ch = acc["chunks"]
        w(f"From {part_header(acc)}.\n")
        w(f"The shipped model `models/austen-6m.gguf` quantized by `llama-quantize --pure` into each type; the same "
          f"file for both tools, the held-out text `data/austen-test.txt` ({toks} tokens with our tokenizer), "
          f"context 512, the first {ch} chunk{'s' if ch > 1 else ''} ({ch} x 255 = {ch * 255} scored tokens: the second half of each "
          f"chunk), {acc['threads']} threads:\n")
        w("```")
        w(f"aq-perplexity    -m FILE -f data/austen-test.txt --ctx 512 --chunks {ch} -t {acc['threads']}")
        w(f"llama-perplexity -m FILE -f data/austen-test.txt -c 512 --chunks {ch} -t {acc['threads']}")
        w("```\n")
        w(f"Difference = (ours - llama.cpp) / llama.cpp. The issue's target: within {TARGET_PCT}% on every type. "
          f"Met by **{n_ok} of {len(shown)}**.\n")
        w(f"| type | ours | llama.cpp | difference | within {TARGET_PCT}% |")
        w("| --- | ---: | ---: | ---: | --- |")
        for t in shown:
            r = arows[t]
            ok = "yes" if abs(r["diff"]) <= TARGET_PCT else "**NO**"
            w(f"| {t} | {r['ours'][0]:.4f} ± {r['ours'][1]:.4f} | {r['llama'][0]:.4f} ± {r['llama'][1]:.4f} | "
              f"{r['diff']:+.3f}% | {ok} |")
        w("")
        substituted = [t for t in shown if arows[t]["matrix_types"] != [t]]
        if substituted:
            w("**Type substitutions by llama-quantize** (2-D tensor types differ from the row's): " +
              "; ".join(f"{t}: {', '.join(arows[t]['matrix_types'])}" for t in substituted) + "\n")
        w("± is the statistical error both tools print (the spread of the per-token log-likelihoods); it is the "
          "same text for both, so the difference between the two tools is far more precise than it. What still "
          "differs by design: llama.cpp keeps the KV cache in F16 (ours is F32) and runs attention in its own "
          f"order. Our kernels (dispatch on that machine): `{arows[shown[0]]['kernels']}`; SIMD kernels are "
          "bit-exact twins of the references, so the figures do not depend on them.\n")

    w("## A real model: SmolLM2-135M-Instruct\n")
    if not smol:
        w("Not measured yet (`--parts smollm2`).\n")
    else:
        ch = smol["chunks"]
        w(f"From {part_header(smol)}.\n")
        w(f"SmolLM2-135M-Instruct's own file as published ({smol['file']}, SHA-256 {smol['sha256']}..., matrices "
          f"{', '.join(smol['types'])}; `tools/fetch_smollm2.sh` fetches it), byte-level BPE vocabulary of 49,152; "
          f"the same file and text for both tools, context 512, the first {ch} chunks, {smol['threads']} threads. "
          "`data/austen-test.txt` is our held-out Austen; `data/brown-sample.txt` is the Brown Corpus sample "
          "(out of domain; `tools/extract_brown.py`).\n")
        w("```")
        w(f"aq-perplexity    -m SmolLM2-135M-Instruct.Q4_1.gguf -f TEXT --ctx 512 --chunks {ch} -t {smol['threads']}")
        w(f"llama-perplexity -m SmolLM2-135M-Instruct.Q4_1.gguf -f TEXT -c 512 --chunks {ch} -t {smol['threads']}")
        w("```\n")
        w(f"| text | tokens (ours) | ours | llama.cpp | difference | within {TARGET_PCT}% |")
        w("| --- | ---: | ---: | ---: | ---: | --- |")
        for name, r in smol["texts"].items():
            ok = "yes" if abs(r["diff"]) <= TARGET_PCT else "**NO**"
            w(f"| `data/{name}.txt` | {r['tokens']} | {r['ours'][0]:.4f} ± {r['ours'][1]:.4f} | "
              f"{r['llama'][0]:.4f} ± {r['llama'][1]:.4f} | {r['diff']:+.3f}% | {ok} |")
        w("")
        w("`tests/test_smollm2.sh` (meson test `smollm2`) checks the same on 4 chunks of each text when the file "
          "is in the cache, against llama-perplexity's values in `data/llamacpp/smollm2-ppl.tsv`.\n")

    shape_name = {"tinyllama": "the TinyLlama-1.1B shape", "austen": "the austen-6m shape (a check of the script, "
                  "not a benchmark)"}.get(speed["shape"] if speed else "tinyllama")
    w(f"## Speed on {shape_name}\n")
    if not speed:
        w("Not measured yet: the speed part times, so it runs only when asked (`--parts speed`), on a quiet "
          "machine.\n")
    else:
        pp, tg = f"pp{speed['pp']}", f"tg{speed['tg']}"
        w(f"From {part_header(speed)}.\n")
        if not speed["quiet"]:
            w(f"**MEASURED ON A BUSY MACHINE (--force; load average {speed['load']:.2f}): these timings are noise, "
              f"not results.**\n")
        w(f"The same `llama-quantize --pure` file of `aq-synth --preset {speed['shape']}` for both tools, {speed['threads']} threads; "
          f"llama-bench then aq-bench, alternately, {speed['reps']} rounds of one repetition each (`-r 1`, after "
          f"each tool's own warm-up); t/s is the mean ± sd of the rounds; ratio = ours / llama.cpp's, from this "
          f"run. Load average when the timings began: {speed['load']:.2f}; the most CPU other processes took "
          f"during any timed command: {100 * speed['other_max']:.0f}% of the machine. Issue 9's target: every "
          f"fast-path type at least as fast as llama-bench (ratio >= 1.00x) in both tests.\n")
        w(f"| type | our kernels | {pp} ours | {pp} llama.cpp | ratio | {tg} ours | {tg} llama.cpp | ratio |")
        w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for t in types:
            if t not in speed["rows"]:
                continue
            s = speed["rows"][t]
            cells = []
            for k in (pp, tg):
                a, b = bc.mean_sd(s["ours"][k]), bc.mean_sd(s["llama"][k])
                cells += [f"{a[0]:.2f} ± {a[1]:.2f}", f"{b[0]:.2f} ± {b[1]:.2f}", f"{a[0] / b[0]:.2f}x"]
            w(f"| {t} | `{s['kernels']}` | " + " | ".join(cells) + " |")
        w("")
        w("```")
        w(f"llama-bench -m FILE -p {speed['pp']} -n {speed['tg']} -t {speed['threads']} -r 1 -o json")
        w(f"aq-bench    -m FILE -p {speed['pp']} -n {speed['tg']} -t {speed['threads']} -r 1 --bw-mib 0")
        w("```\n")

    w("## Reproduce\n")
    w("From the repository root, with llama.cpp built outside it (commit c392e5094 here):\n")
    w("```")
    w("tools/formats_table.py --llama-bin LLAMA_CPP/build/bin                # accuracy + smollm2, no timing")
    w("tools/formats_table.py --llama-bin LLAMA_CPP/build/bin --parts speed  # on a quiet machine")
    w("```")
    w(f"Work files (sources exported per commit, a build, llama.cpp's quantized files and perplexity logs) go "
      f"to `--work` (default /tmp/aq-formats), outside the repository; a second run reuses them and recomputes "
      f"our side.\n")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
