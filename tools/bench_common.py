"""Shared by tools/formats_table.py and tools/side_by_side.py (Python 3 stdlib only).

Building our tools, running them and llama.cpp's beside each other, reading
GGUF headers (tensor types and sizes, for bits per weight and bytes read per
token), and judging whether the machine is quiet enough to time anything.
"""
import datetime
import io
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NICE = ["nice", "-n", "10"]  # everything we start is niced: the machine is shared

# The most a 1-minute load average may be, per core, before timings are refused.
QUIET_LOAD_PER_CORE = 0.5

_tag = "bench"


def set_tag(tag):
    global _tag
    _tag = tag


def log(msg):
    print(f"[{_tag}] {msg}", file=sys.stderr, flush=True)


def run(cmd, cwd=None, capture=True, check=True, nice=True):
    """Runs cmd (niced); returns (stdout, stderr) as text when capture."""
    full = (NICE if nice else []) + [str(c) for c in cmd]
    log(" ".join(full))
    p = subprocess.run(full, cwd=cwd, text=True, stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    if check and p.returncode != 0:
        if capture:
            sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
        raise SystemExit(f"[{_tag}] failed ({p.returncode}): {' '.join(full)}")
    return (p.stdout, p.stderr) if capture else (None, None)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------------------
# The sources we build, and building them

def _git(*args, cwd=ROOT):
    """git's output without the final newline ('' on failure); leading blanks kept (git status --porcelain
    starts a line with one)."""
    p = subprocess.run(["git", "-C", cwd] + list(args), text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return p.stdout.rstrip() if p.returncode == 0 else ""


def add_source_args(ap):
    ap.add_argument("--rev", default="HEAD",
                    help="build this commit of the repository, exported with git archive into the work folder "
                         "(default HEAD: the figures belong to a commit), or 'worktree' to build the working tree "
                         "as it is, uncommitted changes included")
    ap.add_argument("--build", default=None,
                    help="meson build folder: created (meson setup, release) if missing, else reused whatever its "
                         "sources (they are then the ones measured). Default: WORK/build/<commit> "
                         "(WORK/build/worktree for --rev worktree), outside the repository")


def prepare_source(rev, build, work):
    """(source folder, build folder, description of what is built). rev: a commit-ish or
    'worktree'. A given, configured build folder decides the sources itself."""
    if build and os.path.isfile(os.path.join(build, "meson-info", "meson-info.json")):
        with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
            src = json.load(f)["directories"]["source"]
        return src, build, _describe_tree(src)
    if rev == "worktree":
        return ROOT, build or os.path.join(work, "build", "worktree"), _describe_tree(ROOT)
    sha = _git("rev-parse", "--verify", rev + "^{commit}")
    if not sha:
        raise SystemExit(f"[{_tag}] --rev {rev}: not a commit of {ROOT}")
    src = os.path.join(work, "src", sha[:12])
    if not os.path.isfile(os.path.join(src, ".complete")):
        log(f"exporting commit {sha[:12]} (git archive) into {src}")
        shutil.rmtree(src, ignore_errors=True)
        os.makedirs(src)
        arch = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", sha], stdout=subprocess.PIPE, check=True)
        with tarfile.open(fileobj=io.BytesIO(arch.stdout)) as tar:
            tar.extractall(src)
        open(os.path.join(src, ".complete"), "w").close()
    subject = _git("log", "-1", "--format=%s", sha)
    return src, build or os.path.join(work, "build", sha[:12]), \
        f"commit {sha[:12]} ({subject[:70]}{'...' if len(subject) > 70 else ''}), exported with git archive"


def _describe_tree(src):
    commit = _git("rev-parse", "--short=12", "HEAD", cwd=src)
    if not commit:
        return f"the sources in {src} (not a git checkout)"
    changed = [line[3:] for line in _git("status", "--porcelain", "--", "lib", "include", "kernels_x86",
                                         "kernels_neon", "kernels_ref", "examples", "meson.build",
                                         "meson_options.txt", cwd=src).splitlines()]
    if not changed:
        return f"commit {commit} (working tree, no changes in the built sources)"
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    return f"commit {commit} PLUS UNCOMMITTED CHANGES in the built sources ({shown})"


def build(src, build_dir, targets):
    """meson + ninja (niced, -j 2) of src in build_dir, which is created if needed."""
    if not os.path.isfile(os.path.join(build_dir, "build.ninja")):
        run(["meson", "setup", build_dir, src, "-Dbuildtype=release", "-Dtests=false", "-Dbenchmarks=false"],
            capture=False)
    run(["ninja", "-C", build_dir, "-j", "2"] + [f"examples/{t}" for t in targets], capture=False)
    return {t: os.path.join(build_dir, "examples", t) for t in targets}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# ---------------------------------------------------------------------------
# Is the machine quiet?

def n_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def loadavg():
    with open("/proc/loadavg") as f:
        return tuple(float(x) for x in f.read().split()[:3])


def busiest_processes(n=6, interval=1.0):
    """The n processes that used the most CPU over `interval` seconds: (percent of one core, pid, command)."""
    def snapshot():
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                rest = stat[stat.rindex(")") + 2:].split()
                out[int(pid)] = int(rest[11]) + int(rest[12])  # utime + stime
            except (OSError, ValueError, IndexError):
                pass
        return out
    hz = os.sysconf("SC_CLK_TCK")
    a = snapshot()
    time.sleep(interval)
    b = snapshot()
    rows = []
    for pid, ticks in b.items():
        used = ticks - a.get(pid, ticks)
        if used > 0 and pid != os.getpid():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = "?"
            rows.append((100.0 * used / hz / interval, pid, cmd[:110]))
    return sorted(rows, reverse=True)[:n]


def check_quiet(force, wait_seconds):
    """Refuses (exit 3) when the 1-minute load average is above QUIET_LOAD_PER_CORE per core,
    after waiting up to wait_seconds for it to fall. With force: warns loudly and returns
    False (the document is then marked). Returns True when quiet."""
    cores = n_cpus()
    limit = QUIET_LOAD_PER_CORE * cores
    deadline = time.time() + wait_seconds
    while True:
        load = loadavg()
        log(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {cores} cores (limit for timing: "
            f"{limit:.2f})")
        if load[0] <= limit:
            return True
        if time.time() >= deadline:
            break
        log(f"busy; waiting (up to {int(deadline - time.time())} s more)")
        time.sleep(min(60, max(1, deadline - time.time())))
    log("the machine is BUSY; what is using it:")
    for pct, pid, cmd in busiest_processes():
        log(f"  {pct:5.0f}%  {pid:>7}  {cmd}")
    if not force:
        log(f"refusing to take timings at load {load[0]:.2f} > {limit:.2f} ({QUIET_LOAD_PER_CORE} per core). "
            "Run again when the machine is quiet, add --wait SECONDS to wait for it, or --force to measure "
            "anyway (the document is then marked as measured on a busy machine).")
        raise SystemExit(3)
    log("!" * 72)
    log(f"!!! --force: TIMING ON A BUSY MACHINE (load {load[0]:.2f} on {cores} cores). The figures are noise "
        "and the document says so.")
    log("!" * 72)
    return False


class OtherCpu:
    """CPU time that processes other than our children used while a child ran, as a
    fraction of the machine (wall time x cores): /proc/stat's busy time minus our
    children's user + system time. 0 on a quiet machine; > 0.1 means the timing was disturbed."""

    def __enter__(self):
        self.t0, self.busy0, self.kids0 = time.monotonic(), self._busy(), self._kids()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.t0
        other = (self._busy() - self.busy0) - (self._kids() - self.kids0)
        self.fraction = max(0.0, other / (wall * n_cpus())) if wall > 0 else 0.0
        return False

    @staticmethod
    def _busy():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal: everything but idle and iowait
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _kids():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------------------
# GGUF headers

# ggml type id: (name, elements per block, bytes per block)
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    20: ("IQ4_NL", 32, 18), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4),
    27: ("I64", 1, 8), 28: ("F64", 1, 8), 30: ("BF16", 1, 2),
}
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gguf_tensors(path):
    """{'tensors': [(name, type_name, n_elements, n_bytes, n_dims, dims)], 'file_size', 'data_offset'}
    from the header (dims as GGUF stores them: the contiguous dimension first)."""
    with open(path, "rb") as f:
        def rd(fmt):
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        def rstr():
            return f.read(rd("<Q")).decode("utf-8", errors="replace")

        def skip_value(t):
            if t in _SCALAR:
                f.seek(struct.calcsize(_SCALAR[t]), 1)
            elif t == 8:
                f.seek(rd("<Q"), 1)
            elif t == 9:
                et, n = rd("<I"), rd("<Q")
                if et in _SCALAR:
                    f.seek(n * struct.calcsize(_SCALAR[et]), 1)
                else:
                    for _ in range(n):
                        skip_value(et)
            else:
                raise ValueError(f"{path}: unknown GGUF value type {t}")

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        version, n_tensors, n_kv = rd("<I"), rd("<Q"), rd("<Q")
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version}")
        alignment = 32
        for _ in range(n_kv):
            key, t = rstr(), rd("<I")
            if key == "general.alignment" and t == 4:
                alignment = rd("<I")
            else:
                skip_value(t)
        tensors = []
        for _ in range(n_tensors):
            name, n_dims = rstr(), rd("<I")
            dims = [rd("<Q") for _ in range(n_dims)]
            type_id, _offset = rd("<I"), rd("<Q")
            tname, be, bb = GGML_TYPES.get(type_id, (f"type{type_id}", 0, 0))
            n = 1
            for d in dims:
                n *= d
            tensors.append((name, tname, n, n // be * bb if be else 0, len(dims), dims))
        pos = f.tell()
    data_offset = (pos + alignment - 1) // alignment * alignment
    return {"tensors": tensors, "file_size": os.path.getsize(path), "data_offset": data_offset}


def gguf_bpw(info):
    """Bits per weight as llama.cpp prints it ("file size = X MiB (Y BPW)"): every tensor's
    bytes x 8 / every tensor's elements."""
    n_bytes = sum(t[3] for t in info["tensors"])
    n = sum(t[2] for t in info["tensors"])
    return 8.0 * n_bytes / n if n else float("nan")


def gguf_params(info):
    return sum(t[2] for t in info["tensors"])


def gguf_shape(info):
    """'dim D, L layers, ffn F, vocab V' from the tensor shapes (LLaMA names)."""
    t = {x[0]: x[5] for x in info["tensors"]}
    layers = len({x[0].split(".")[1] for x in info["tensors"] if x[0].startswith("blk.")})
    emb, up = t.get("token_embd.weight"), t.get("blk.0.ffn_up.weight")
    if not emb or not up:
        return f"{layers} layers"
    return f"dim {emb[0]}, {layers} layers, ffn {up[1]}, vocab {emb[1]}"


def gguf_matrix_types(info):
    """The set of types of the 2-D tensors."""
    return sorted({t[1] for t in info["tensors"] if t[4] >= 2})


def gguf_bytes_per_token(info):
    """Weight bytes one generated token reads from this file: every tensor but the token
    embedding (one row of it is copied), which is read whole only when it is also the output
    head (no output.weight)."""
    names = {t[0] for t in info["tensors"]}
    tied = "output.weight" not in names
    return sum(t[3] for t in info["tensors"] if t[0] != "token_embd.weight" or tied)


# ---------------------------------------------------------------------------
# llama.cpp

def llama_version(llama_bin):
    """(commit, build number) of the llama.cpp build in llama_bin (llama-perplexity --version)."""
    p = subprocess.run([os.path.join(llama_bin, "llama-perplexity"), "--version"], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    m = re.search(r"version: (\d+) \(([0-9a-f]+)\)", p.stdout)
    if not m:
        raise SystemExit(f"[{_tag}] cannot tell llama.cpp's version: llama-perplexity --version said {p.stdout[:200]!r}")
    return m.group(2), m.group(1)


def llama_build_from_log(text):
    """'build: 4748 (c392e5094) ...' printed by llama.cpp's tools -> ('c392e5094', '4748')."""
    m = re.search(r"build: (\d+) \(([0-9a-f]+)\)", text)
    return (m.group(2), m.group(1)) if m else (None, None)


def llama_quantize(llama_bin, src, dst, type_name):
    """llama-quantize --pure SRC DST TYPE (threads: 2), written beside dst then renamed."""
    if os.path.isfile(dst):
        return None
    part = dst + ".part.gguf"
    out, err = run([os.path.join(llama_bin, "llama-quantize"), "--pure", src, part, type_name, "2"])
    os.replace(part, dst)
    return out + err


def parse_final_ppl(text):
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", text)
    return (float(m.group(1)), float(m.group(2))) if m else None


def llama_bench_once(llama_bin, model, threads, pp, tg):
    """One llama-bench repetition (-r 1, after its own warm-up): ({'pp512': t/s, 'tg128': t/s}, meta)."""
    cmd = [os.path.join(llama_bin, "llama-bench"), "-m", model, "-t", str(threads), "-r", "1", "-o", "json",
           "-p", str(pp), "-n", str(tg)]
    with OtherCpu() as oc:
        out, _ = run(cmd)
    res, meta = {}, {}
    for row in json.loads(out):
        test = f"pp{row['n_prompt']}" if row["n_prompt"] else f"tg{row['n_gen']}"
        res[test] = row["avg_ts"]
        meta = {"commit": row.get("build_commit"), "build": row.get("build_number"),
                "model_size": row.get("model_size"), "n_params": row.get("model_n_params")}
    meta["other_cpu"] = oc.fraction
    return res, meta


# ---------------------------------------------------------------------------
# aq-bench

def parse_aq_bench(text):
    """Rows of aq-bench's markdown table: {test: (t/s, GB per token, scheme, kernels)}."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 10 or cells[0] in ("model", "---") or cells[0].startswith("-"):
            continue
        mean = float(cells[7].split("±")[0])
        rows[cells[6]] = {"tps": mean, "gb_token": float(cells[8]), "scheme": cells[3], "kernels": cells[4]}
    return rows


AQ_BENCH_BW_MIB = 1024


def aq_bench_once(exe, model, threads, pp, tg, kernels=None, bw_mib=0):
    """One aq-bench repetition (-r 1, after its own warm-up). With bw_mib > 0 the same process
    first measures the streaming-read bandwidth (its probe: a bw_mib MiB buffer, mean of 5 reads);
    meta['bw'] is then that figure in GB/s, else None."""
    cmd = [exe, "-m", model, "-t", str(threads), "-r", "1", "-p", str(pp), "-n", str(tg), "--bw-mib", str(bw_mib)]
    if kernels:
        cmd += ["--kernels", kernels]
    with OtherCpu() as oc:
        out, err = run(cmd)
    rows = parse_aq_bench(out)
    m = re.search(r"^kernels: (.*)$", err, re.M)
    b = re.search(rf"^bandwidth, {threads} threads: ([0-9.]+)", err, re.M)
    if bw_mib and not b:
        raise SystemExit(f"[{_tag}] no 'bandwidth, {threads} threads' line in aq-bench's output")
    return rows, {"kernels": m.group(1).strip() if m else "?", "other_cpu": oc.fraction,
                  "bw": float(b.group(1)) if b else None}


def mean_sd(v):
    if not v:
        return float("nan"), float("nan")
    m = sum(v) / len(v)
    sd = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.0
    return m, sd


def which(name):
    return shutil.which(name)
