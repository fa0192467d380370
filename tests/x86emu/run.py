"""Runs the x86emu jobs (gen.c's image) in BochsCPU and compares every output byte
with the reference's (README.md).

  run.py DIR            every feature of DIR/kernels.tsv, each in its own process
                        (the CPU model is fixed before the first Session), then
                        per kernel: cases, mismatches; exit 1 on any mismatch
  run.py DIR FEATURE    one feature (the child): prints one JSON line

DIR holds driver.elf, image.bin, expect.bin, kernels.tsv."""
import ctypes
import json
import os
import struct
import subprocess
import sys
import time

# Per feature, the Bochs CPU model (bochscpu-python 0.4.0's cpu.model enum: its
# names are not exported, so by number) that has it: 30, sapphire_rapids, has
# AVX-512 VNNI (and AVX-VNNI); 31, arrow_lake, AVX-VNNI and no AVX-512, so an
# AVX-VNNI kernel that strays into EVEX faults there. The driver reports CPUID
# and check_cpuid holds each model to this.
MODELS = {'avx512vnni': 30, 'avxvnni': 31}
AVX512 = (1 << 16) | (1 << 30) | (1 << 31)  # leaf 7 EBX: AVX-512 F, BW, VL


def check_cpuid(feature, ebx, ecx, eax1):
    """None when the model has the feature (and AVX-VNNI's model no AVX-512F), else why not."""
    if feature == 'avx512vnni' and not ((ebx & AVX512) == AVX512 and ecx & (1 << 11)):
        return f'no AVX-512 F/BW/VL/VNNI (CPUID 7: ebx {ebx:#x} ecx {ecx:#x})'
    if feature == 'avxvnni' and not (eax1 & (1 << 4)) or feature == 'avxvnni' and ebx & (1 << 16):
        return f'not AVX-VNNI without AVX-512F (CPUID 7: ebx {ebx:#x}, 7.1: eax {eax1:#x})'
    return None
PAGE = 0x1000
STACK_TOP = 0x7f000000
TABLES = 0x30000000  # page tables, above the image (emu.h: EMU_BASE + EMU_CAP)
EMU_BASE = 0x10000000
HEADER = struct.Struct('<10Q')  # struct emu_image


def set_model(number):
    import bochscpu._bochscpu as native
    lib = ctypes.CDLL(native.__file__)
    get_enum = lib._ZN13bx_real_sim_c14get_param_enumEPKcP10bx_param_c
    get_enum.restype = ctypes.c_void_p
    get_enum.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    param = get_enum(None, b'cpu.model', None)
    set_enum = lib._ZN15bx_param_enum_c3setEl
    set_enum.argtypes = [ctypes.c_void_p, ctypes.c_long]
    if not param:
        raise SystemExit('run.py: Bochs has no cpu.model parameter')
    set_enum(param, number)


class Guest:
    """Identity-mapped guest memory: physical address == virtual address."""

    def __init__(self, mem):
        self.mem, self.pages = mem, set()
        self.pml4 = mem.PageMapLevel4Table()

    def map(self, addr, size):
        for p in range(addr & ~(PAGE - 1), addr + size, PAGE):
            if p not in self.pages:
                self.mem.page_insert(p, self.mem.allocate_host_page())
                self.pml4.insert(p, p, 1)
                self.pages.add(p)

    def write(self, addr, data):
        self.map(addr, len(data))
        o = 0
        while o < len(data):
            n = min(len(data) - o, PAGE - ((addr + o) & (PAGE - 1)))
            self.mem.phy_write(addr + o, list(data[o:o + n]))
            o += n

    def read(self, addr, size):
        out, o = bytearray(), 0
        while o < size:
            n = min(size - o, PAGE - ((addr + o) & (PAGE - 1)))
            out += bytes(self.mem.phy_read(addr + o, n))
            o += n
        return bytes(out)

    def commit_tables(self):
        for hva, gpa in self.pml4.commit(TABLES):
            self.mem.page_insert(gpa, hva)


def load_elf(guest, path):
    d = open(path, 'rb').read()
    entry, phoff = struct.unpack_from('<QQ', d, 24)
    phentsize, phnum = struct.unpack_from('<HH', d, 54)
    for i in range(phnum):
        p_type, _, off, vaddr, _, filesz, memsz, _ = struct.unpack_from('<IIQQQQQQ', d, phoff + i * phentsize)
        if p_type == 1:  # PT_LOAD
            guest.write(vaddr, d[off:off + filesz] + bytes(memsz - filesz))
    return entry


def kernels(workdir):
    rows = [line.rstrip('\n').split('\t') for line in open(os.path.join(workdir, 'kernels.tsv'))]
    return {int(r[0]): {'name': r[1], 'feature': r[2], 'isa': int(r[3])} for r in rows}


def expectations(workdir):
    d = open(os.path.join(workdir, 'expect.bin'), 'rb').read()
    o = 0
    while o < len(d):
        out, size, kernel = struct.unpack_from('<3Q', d, o)
        o += 24
        yield out, size, kernel, d[o:o + size]
        o += size


def child(workdir, feature):
    set_model(MODELS[feature])
    import bochscpu
    import bochscpu.cpu
    import bochscpu.memory as mem
    ks = kernels(workdir)
    isa = next(k['isa'] for k in ks.values() if k['feature'] == feature)
    guest = Guest(mem)
    entry = load_elf(guest, os.path.join(workdir, 'driver.elf'))
    image = bytearray(open(os.path.join(workdir, 'image.bin'), 'rb').read())
    magic, used, n_jobs, jobs = HEADER.unpack_from(image, 0)[:4]
    HEADER.pack_into(image, 0, magic, used, n_jobs, jobs, isa, 0, 0, 0, 0, 0)
    guest.write(EMU_BASE, bytes(image))
    guest.map(STACK_TOP - 0x10000, 0x10000)
    guest.commit_tables()

    sess = bochscpu.Session()

    def missing(gpa):
        raise RuntimeError(f'guest touched unmapped memory at {gpa:#x}')

    sess.missing_page_handler = missing
    st = bochscpu.State()
    bochscpu.cpu.set_long_mode(st)
    cr4 = bochscpu.cpu.ControlRegister()
    cr4.PAE = cr4.OSFXSR = cr4.OSXMMEXCPT = cr4.OSXSAVE = True
    st.cr4 = int(cr4)
    st.cr3 = TABLES
    st.xcr0 = 0xE7  # x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM

    def seg(sel, attr):
        s = bochscpu.Segment()
        s.base, s.limit, s.selector, s.attr, s.present = 0, 0xffffffff, sel, attr, True
        return s

    st.cs = seg(0x10, 0x209b)
    st.ss = st.ds = st.es = st.fs = st.gs = seg(0x18, 0x4093)
    st.rip, st.rsp, st.rflags, st.mxcsr = entry, STACK_TOP - 8, 0x2, 0x1f80
    sess.cpu.set_state(st)
    stop = {}

    def on_hlt(s, cpu_id):
        stop['hlt'] = True
        s.stop()

    def on_exception(s, cpu_id, vector, error):
        stop['exception'] = f'vector {vector} error {error} at rip {s.cpu.rip:#x}'
        s.stop()

    hook = bochscpu.Hook()
    hook.hlt, hook.exception = on_hlt, on_exception
    t0 = time.time()
    sess.run([hook])
    seconds = time.time() - t0
    header = HEADER.unpack(guest.read(EMU_BASE, HEADER.size))
    ran, cpu = header[5], check_cpuid(feature, *header[7:10])
    per_kernel, first_bad = {}, {}
    for out, size, kernel, want in expectations(workdir):
        if ks[kernel]['feature'] != feature:
            continue
        c = per_kernel.setdefault(kernel, [0, 0])
        c[0] += 1
        got = guest.read(out, size)
        if got != want:
            c[1] += 1
            if kernel not in first_bad:
                i = next(i for i in range(size) if got[i] != want[i])
                first_bad[kernel] = f'output at {out:#x}, byte {i}: got {got[i]:#04x}, want {want[i]:#04x}'
    print(json.dumps({'feature': feature, 'model': MODELS[feature], 'stop': stop, 'cpu': cpu, 'ran': ran, 'seconds': seconds,
                      'kernels': {str(k): v for k, v in per_kernel.items()}, 'first_bad': first_bad}))


def parent(workdir):
    ks = kernels(workdir)
    features = sorted({k['feature'] for k in ks.values()})
    cases = mismatches = 0
    ok = True
    for f in features:
        if f not in MODELS:
            print(f'run.py: no Bochs model for {f}')
            ok = False
            continue
        p = subprocess.run([sys.executable, __file__, workdir, f], capture_output=True, text=True)
        if p.returncode != 0:
            print(f'{f}: the run failed (exit {p.returncode})\n{p.stdout}{p.stderr}')
            ok = False
            continue
        r = json.loads(p.stdout.strip().splitlines()[-1])
        n_jobs = sum(c[0] for c in r['kernels'].values())
        print(f"{f} on Bochs model {r['model']}: {r['ran']} of {n_jobs} jobs ran in {r['seconds']:.0f} s"
              + (f", stopped by {r['stop']['exception']}" if 'exception' in r['stop'] else '')
              + (f", but the CPU has {r['cpu']}" if r['cpu'] else ''))
        if 'hlt' not in r['stop'] or r['ran'] != n_jobs or r['cpu']:
            ok = False
        for k, (n, bad) in sorted(r['kernels'].items(), key=lambda kv: int(kv[0])):
            print(f"  {ks[int(k)]['name']}: {n} cases, {bad} mismatching"
                  + (f" (first: {r['first_bad'][k]})" if bad else ''))
            cases += n
            mismatches += bad
        missing = [ks[k]['name'] for k in ks if ks[k]['feature'] == f and str(k) not in r['kernels']]
        if missing:
            print(f"  no cases for {', '.join(missing)}")
            ok = False
    print(f'x86emu: {len(ks)} kernels, {cases} cases, {mismatches} mismatching: '
          + ('PASS' if ok and mismatches == 0 else 'FAIL'))
    return 0 if ok and mismatches == 0 else 1


if __name__ == '__main__':
    if len(sys.argv) == 3:
        child(sys.argv[1], sys.argv[2])
    else:
        sys.exit(parent(sys.argv[1]))
