#!/usr/bin/env python3
"""Cuts one loop out of clang's assembly for llvm-mca.

usage: extract.py FILE.s NAME [--group-reps N]
       extract.py FILE.s --function NAME --op OPCODE

Our kernels mark their inner loop body with "# LLVM-MCA-BEGIN NAME" (under
-DAQ_MCA). Markers inside a loop do not fence the compiler's scheduling, so
instead of the text between BEGIN and END this takes the whole basic block of
the innermost loop that holds the BEGIN marker: from its header label to the
branch back to it, i.e. exactly one steady-state iteration. "# LLVM-MCA-LOOP
NAME" (the baseline) marks the next loop after it. A tile instantiated with and
without the code sums (with_c) has two marked loops: the shorter one is taken,
the loop symmetric activations (every za = 0, the dynamic quantizer's) run.

--group-reps N: instead of the inner loop, one iteration of the loop around it
(the groups): its body from its header to its back branch, with the inner
loop's body repeated N times in place of the one copy, so that the per-group
work (scales, zero-point correction, float accumulation) is counted.
--group-k K: the same with N = K / (the k one inner iteration covers: 16, or
what a "# LLVM-MCA-K k" line in the loop says, from AQ_MCA_BEGIN_K); but where
the kernel has an instantiation for groups of K alone, whose group loop holds
the marker NAME-gK and no loop inside (AQ_NEON_TILE_SIGNED_AND_STEP), that loop,
the one such groups run, is taken whole instead (its k must be K). A line
"// k N" before "// macs" gives the k the output covers, and "// rows N" the
tile's rows it covers where a "# LLVM-MCA-ROWS N" line in the loop says so
(AQ_MCA_BEGIN_KR: a pass over some of the rows; else all of them). Straight
line: the branches inside are kept as instructions and every block laid out
between the two ends is counted once (both arms of an if, when both are there).

--function NAME --op OPCODE (llama.cpp's kernels, which have no markers): in the
function whose name (demangled with c++filt) is NAME, the one-block loop holding
the most OPCODE instructions.

Words of inline assembly written as ".inst 0x..." (llama.cpp's SDOT and SMMLA)
are disassembled with llvm-mc ($LLVM_MC, default llvm-mc-14), which llvm-mca
would otherwise not see as instructions. The last output line is a comment
"// macs N": the 8-bit multiply-adds of one iteration (SDOT 16 or 8, SMMLA 32,
SMULL/SMLAL of bytes 8), for the caller's check of the work per iteration.
The markers themselves are dropped and the block is wrapped in fresh BEGIN/END
lines."""
import os
import re
import subprocess
import sys

args = sys.argv[1:]
path = args.pop(0)
function = op = None
group_reps = 0
group_k = 0
name = None
while args:
    a = args.pop(0)
    if a == '--function':
        function = args.pop(0)
    elif a == '--op':
        op = args.pop(0)
    elif a == '--group-reps':
        group_reps = int(args.pop(0))
    elif a == '--group-k':
        group_k = int(args.pop(0))
    else:
        name = a
if (name is None) == (function is None) or (function is not None and op is None):
    sys.exit(__doc__)

lines = open(path).read().splitlines()
label_re = re.compile(r'^(\.L(?:BB[0-9_]+|tmp[0-9]+)):')
func_re = re.compile(r'^([A-Za-z_][A-Za-z0-9_.$]*):(\s|$)')
branch_re = re.compile(r'^\s+(b(\.[a-z]+)?|cbn?z|tbn?z)\s+.*?(\.L(?:BB[0-9_]+|tmp[0-9]+))\s*$')


def loop_from(header):
    """The index of the branch back to label line `header`, or None."""
    label = label_re.match(lines[header]).group(1)
    for j in range(header + 1, len(lines)):
        m = branch_re.match(lines[j])
        if m and m.group(3) == label:
            return j
        if re.match(r'^\.Lfunc_end', lines[j]):
            return None
    return None


def one_block(h, e):
    return not any(label_re.match(l) for l in lines[h + 1:e])


def instructions(first, last):
    out = []
    for l in lines[first:last + 1]:
        s = l.strip()
        if not s or s.startswith('//') or s.startswith('#') or (s.startswith('.') and not s.startswith('.inst')):
            continue
        out.append(l)
    return out


def marked_loops():
    """(header, back branch) of the innermost loop around each BEGIN marker of name,
    or of the first loop after a LOOP marker."""
    found = []
    for i, line in enumerate(lines):
        m = re.search(r'LLVM-MCA-(BEGIN|LOOP) ' + re.escape(name) + r'\s*$', line)
        if not m:
            continue
        if m.group(1) == 'BEGIN':
            for h in range(i, -1, -1):
                if label_re.match(lines[h]):
                    e = loop_from(h)
                    if e is not None and e > i:
                        found.append((h, e))
                    break
        else:
            for h in range(i, len(lines)):
                if label_re.match(lines[h]):
                    e = loop_from(h)
                    if e is not None:
                        found.append((h, e))
                        break
    return found


def function_range(fn):
    labels = [(i, m.group(1)) for i, m in enumerate(func_re.match(l) for l in lines) if m]
    names = subprocess.run(['c++filt'], input='\n'.join(n for _, n in labels), capture_output=True, text=True,
                           check=True).stdout.splitlines()
    for (i, _), demangled in zip(labels, names):
        if demangled == fn or demangled.split('(')[0] == fn:
            for j in range(i + 1, len(lines)):
                if re.match(r'^\.Lfunc_end', lines[j]):
                    return i, j
    sys.exit('extract.py: no function ' + fn)


def decode(body):
    """The body with its .inst words disassembled by llvm-mc."""
    words = [l.split()[1] for l in body if l.split()[0] == '.inst']
    if not words:
        return body
    mc = os.environ.get('LLVM_MC', 'llvm-mc-14')
    text = ''
    for w in words:
        v = int(w, 0)
        text += ' '.join('0x%02x' % ((v >> (8 * i)) & 0xFF) for i in range(4)) + '\n'
    res = subprocess.run([mc, '--disassemble', '-triple=aarch64', '-mattr=+dotprod,+i8mm'], input=text,
                         capture_output=True, text=True, check=True)
    decoded = ['\t' + l.strip() for l in res.stdout.splitlines() if l.strip() and not l.strip().startswith('.')]
    if len(decoded) != len(words):
        sys.exit('extract.py: llvm-mc decoded %d of %d .inst words' % (len(decoded), len(words)))
    it = iter(decoded)
    return [next(it) if l.split()[0] == '.inst' else l for l in body]


if name is not None and group_k and [l for l in lines if re.search(
        r'LLVM-MCA-BEGIN ' + re.escape('%s-g%d' % (name, group_k)) + r'\s*$', l)]:
    name = '%s-g%d' % (name, group_k)
    whole_k, group_k = group_k, 0
else:
    whole_k = 0
if name is not None:
    loops = [(h, e) for h, e in marked_loops() if one_block(h, e)]
    if not loops:
        sys.exit('extract.py: no one-block loop at the marker ' + name)
    h, e = min(loops, key=lambda he: len(instructions(he[0] + 1, he[1])))
    inner = instructions(h + 1, e)
    body = inner
    inner_k = 16
    rows = 0
    for l in lines[h:e]:
        m = re.search(r'LLVM-MCA-K (\d+)', l)
        if m:
            inner_k = int(m.group(1))
        m = re.search(r'LLVM-MCA-ROWS (\d+)', l)
        if m:
            rows = int(m.group(1))
    covered_k = inner_k
    if whole_k and whole_k != inner_k:
        sys.exit('extract.py: the loop of %s covers k %d, not %d' % (name, inner_k, whole_k))
    if group_k:
        if group_k % inner_k:
            sys.exit('extract.py: --group-k %d is not a multiple of the loop\'s k %d' % (group_k, inner_k))
        group_reps = group_k // inner_k
        covered_k = group_k
    elif group_reps:
        covered_k = inner_k * group_reps
    if group_reps:
        # The loop around it: the nearest header before h whose back branch comes after e.
        outer = None
        for g in range(h - 1, -1, -1):
            if func_re.match(lines[g]):
                break
            if label_re.match(lines[g]):
                ge = loop_from(g)
                if ge is not None and ge > e:
                    outer = (g, ge)
                    break
        if outer is None:
            sys.exit('extract.py: no loop around the marked loop of ' + name)
        g, ge = outer
        body = instructions(g + 1, h) + inner * group_reps + instructions(e + 1, ge)
else:
    f0, f1 = function_range(function)
    body, best_n = None, 0
    for h in range(f0, f1):
        if not label_re.match(lines[h]):
            continue
        e = loop_from(h)
        if e is None or e > f1 or not one_block(h, e):
            continue
        b = decode(instructions(h + 1, e))
        n = sum(1 for l in b if l.split()[0] == op)
        if n > best_n:
            body, best_n = b, n
    if body is None:
        sys.exit('extract.py: no one-block loop with ' + op + ' in ' + function)
body = decode(body)


def macs(line):
    f = line.split()
    mnemonic, ops = f[0], ' '.join(f[1:])
    if mnemonic == 'smmla':
        return 32
    if mnemonic in ('sdot', 'udot', 'usdot', 'sudot'):
        return 16 if '.4s' in ops else 8
    if mnemonic in ('smull', 'smull2', 'smlal', 'smlal2', 'umull', 'umull2', 'umlal', 'umlal2'):
        return 8 if '.8h' in ops.split(',')[0] else 0
    return 0


out = ['\t// LLVM-MCA-BEGIN ' + (name or function)]
out += body
out.append('\t// LLVM-MCA-END')
if name is not None:
    out.append('// k %d' % covered_k)
    if rows:
        out.append('// rows %d' % rows)
out.append('// macs %d' % sum(macs(l.strip()) for l in body))
print('\n'.join(out))
