#!/usr/bin/env python3
"""Reads one llvm-mca report on stdin; prints "cycles_per_iteration<TAB>limit",
where limit is the most loaded resource (its pressure per iteration) and,
when llvm-mca's bottleneck analysis blames dependencies, that too."""
import re
import sys

text = sys.stdin.read()
iterations = int(re.search(r'^Iterations:\s+(\d+)', text, re.M).group(1))
cycles = int(re.search(r'^Total Cycles:\s+(\d+)', text, re.M).group(1))
names = dict(re.findall(r'^\[(\d+(?:\.\d+)?)\]\s+-\s+(\S+)', text, re.M))
limit = '?'
m = re.search(r'Resource pressure per iteration:\n(.*)\n(.*)\n', text)
if m:
    heads = re.findall(r'\[([0-9.]+)\]', m.group(1))
    vals = m.group(2).split()
    best = max(((float(v) if v != '-' else 0.0), h) for h, v in zip(heads, vals))
    limit = '%s %.1f' % (names.get(best[1], best[1]), best[0])
b = re.search(r'Throughput Bottlenecks:.*?\n((?:\s+-\s+.*\n)+)', text)
if b:
    dep = re.search(r'Data Dependencies:\s+\[\s*([0-9.]+)%\s*\]', b.group(1))
    if dep and float(dep.group(1)) > 50:
        limit += ' (dependency-bound %s%%)' % dep.group(1)
# In-order models (the A55) have no bottleneck analysis: when the simulated
# cycles exceed the resource bound (Block RThroughput) clearly, say that the
# loop waits on latencies instead.
rt = re.search(r'^Block RThroughput:\s+([0-9.]+)', text, re.M)
if rt and 'not supported for in-order' in text and cycles / iterations > 1.2 * float(rt.group(1)):
    limit += ' (latency-bound: resources alone %s)' % rt.group(1)
print('%.2f\t%s' % (cycles / iterations, limit))
