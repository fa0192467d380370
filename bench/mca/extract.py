#!/usr/bin/env python3
"""Cuts one loop out of clang's assembly for llvm-mca.

usage: extract.py FILE.s NAME

The kernels mark their inner loop body with "# LLVM-MCA-BEGIN NAME" (under
-DAQ_MCA). Markers inside a loop do not fence the compiler's scheduling, so
instead of the text between BEGIN and END this takes the whole basic block of
the innermost loop that holds the BEGIN marker: from its header label to the
branch back to it, i.e. exactly one steady-state iteration. "# LLVM-MCA-LOOP
NAME" (the baseline) marks the next loop after it. The markers themselves are
dropped and the block is wrapped in fresh BEGIN/END lines."""
import re
import sys

path, name = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
label_re = re.compile(r'^(\.LBB[0-9_]+):')
branch_re = re.compile(r'^\s+(b(\.[a-z]+)?|cbn?z|tbn?z)\s+.*?(\.LBB[0-9_]+)\s*$')

mark = None
for i, line in enumerate(lines):
    if re.search(r'LLVM-MCA-(BEGIN|LOOP) ' + re.escape(name) + r'\s*$', line):
        mark = i
        inside = 'BEGIN' in line
        break
if mark is None:
    sys.exit('extract.py: no marker for ' + name)

def loop_from(header):
    """The lines from label line `header` to the branch back to it."""
    label = label_re.match(lines[header]).group(1)
    for j in range(header + 1, len(lines)):
        m = branch_re.match(lines[j])
        if m and m.group(3) == label:
            return lines[header + 1:j + 1]
    return None

body = None
if inside:
    for h in range(mark, -1, -1):
        if label_re.match(lines[h]):
            body = loop_from(h)
            break
else:
    for h in range(mark, len(lines)):
        if label_re.match(lines[h]):
            body = loop_from(h)
            if body is not None:
                break
if body is None:
    sys.exit('extract.py: no loop around/after the marker ' + name)
# A loop body with another label inside is not one basic block: refuse, honestly.
if any(label_re.match(l) for l in body):
    sys.exit('extract.py: the loop of ' + name + ' has more than one basic block')
out = ['\t// LLVM-MCA-BEGIN ' + name]
for l in body:
    s = l.strip()
    if not s or s.startswith('//') or s.startswith('#') or s.startswith('.'):
        continue
    out.append(l)
out.append('\t// LLVM-MCA-END')
print('\n'.join(out))
