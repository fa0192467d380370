#!/usr/bin/env python3
"""Writes docs/PRUNING.md: the design of token pruning and a measured table.

    python3 tools/pruning_table.py [--build build-lead] [--chunks 8] [--threads 2] [--reps 3]
                                   [--layers -1,1,0]

For each first pruning layer (-1: n_layers / 2, the paper's middle layer),
keep ratios 1.0, 0.75, 0.5 (beta = 0, 0.25, 0.5) and the activation schemes
fp32, w4a8,rtn and w4a4,rtn (no calibration needed) it measures
 - perplexity with aq-perplexity --prune BETA on data/austen-test.txt (the
   two-batch split, so every row scores the same predictions),
 - prefill speed with aq-bench --prune BETA -p 512 on models/austen-6m.gguf,
   and -p 2048 on a random-weight model of the same shape with a 4096
   context written by aq-synth (the shipped model's context is 512).
Re-run it after the model changes; it overwrites docs/PRUNING.md.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MARKER = '<!-- the prose above is written by hand; tools/pruning_table.py rewrites from "## Measured" on -->'


def design_prose(path):
    """The hand-written part of docs/PRUNING.md: everything before '## Measured'."""
    text = open(path).read() if os.path.exists(path) else '# Token pruning in prefill\n'
    return text.split('\n## Measured')[0].rstrip()


def run(cmd, **kw):
    print('+', ' '.join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def perplexity(build, model, beta, layer, scheme, chunks, threads):
    cmd = ['nice', os.path.join(build, 'examples', 'aq-perplexity'), '-m', model, '-f',
           os.path.join(ROOT, 'data', 'austen-test.txt'), '--chunks', str(chunks), '-t', str(threads),
           '--prune', str(beta), '--prune-layer', str(layer)]
    if scheme != 'fp32':
        cmd += ['--scheme', scheme]
    out = run(cmd)
    return float(re.search(r'PPL = ([0-9.]+)', out.stdout).group(1))


def prefill_ms(build, model, n, beta, layer, scheme, threads, reps):
    """Mean and standard deviation of aq-bench's ppN, in milliseconds per prefill, and the
    rows present at each layer's input and at the output (all n without pruning)."""
    cmd = ['nice', os.path.join(build, 'examples', 'aq-bench'), '-m', model, '-p', str(n), '-n', '0', '-t',
           str(threads), '-r', str(reps), '--bw-mib', '0', '--no-header']
    if beta > 0:
        cmd += ['--prune', str(beta), '--prune-layer', str(layer)]
    if scheme != 'fp32':
        cmd += ['--scheme', scheme]
    out = run(cmd)
    tps, sd = (float(v) for v in re.search(r'\| pp\d+ \| ([0-9.]+) ± ([0-9.]+) \|', out.stdout).groups())
    kept = re.search(r'prune: rows at each layer.s input, then at the output:((?: \d+)+)', out.stderr)
    rows = [int(v) for v in kept.group(1).split()] if kept else None
    return 1e3 * n / tps, 1e3 * n * sd / (tps * tps), rows


def model_shape(build, model):
    """(layers, width, heads, kv heads, ffn) from the model description aq-bench prints."""
    err = run([os.path.join(build, 'examples', 'aq-bench'), '-m', model, '-p', '2', '-n', '0', '-r', '1', '-t', '1',
               '--bw-mib', '0', '--no-header']).stderr
    m = re.search(r'(\d+) layers, width (\d+), (\d+) heads \((\d+) kv\), ffn (\d+)', err)
    return tuple(int(v) for v in m.groups())


def work_ratio(shape, rows):
    """Multiply-adds of an unpruned prefill over those of a pruned one whose rows at each
    layer's input and at the output are `rows` (as aq-bench reports them; None: unpruned):
    the linear layers and the attention (Q K^T and A V, causal). The speed-up if time
    went with multiply-adds alone. A layer's Q/K/V and attention run on its input rows,
    its output projection and MLP on the rows left after its pruning."""
    if rows is None:
        return 1.0
    layers, dim, heads, kv_heads, ffn = shape
    kv = dim // heads * kv_heads
    per_token_in, per_token_out = dim * (dim + 2 * kv), dim * dim + 3 * dim * ffn

    def macs(present):
        return sum(present[l] * per_token_in + present[l] ** 2 * dim + present[l + 1] * per_token_out
                   for l in range(layers))
    return macs([rows[0]] * (layers + 1)) / macs(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=os.path.join(ROOT, 'build-lead'))
    ap.add_argument('--chunks', type=int, default=8, help='perplexity chunks of 512 tokens')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=3, help='timed prefills per row (mean +/- sd)')
    ap.add_argument('--layers', default='-1,1,0', help='first pruning layers (-1: n_layers / 2)')
    ap.add_argument('--keeps', default='1.0,0.75,0.5')
    ap.add_argument('--schemes', default='fp32,w4a8,rtn,w4a4,rtn')
    ap.add_argument('--out', default=os.path.join(ROOT, 'docs', 'PRUNING.md'))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    keeps = [float(k) for k in args.keeps.split(',')]
    layers = [int(v) for v in args.layers.split(',')]
    parts = args.schemes.split(',')
    schemes = []  # re-join modifiers: 'w4a8', 'rtn' -> 'w4a8,rtn'
    for p in parts:
        if schemes and not re.match(r'^(fp32|w4a\d+|q\d_0|w4a\d+-paper)$', p):
            schemes[-1] += ',' + p
        else:
            schemes.append(p)
    model = os.path.join(ROOT, 'models', 'austen-6m.gguf')
    long_model = os.path.join(tempfile.mkdtemp(prefix='aq-pruning-'), 'austen-4096.gguf')
    run([os.path.join(build, 'examples', 'aq-synth'), '-o', long_model, '--preset', 'austen', '--ctx', '4096'])

    shape = model_shape(build, model)
    rows = []
    for layer in layers:
        for scheme in schemes:
            base = None
            for keep in keeps:
                beta = round(1.0 - keep, 6)
                ppl = perplexity(build, model, beta, layer, scheme, args.chunks, args.threads)
                t512 = prefill_ms(build, model, 512, beta, layer, scheme, args.threads, args.reps)
                t2048 = prefill_ms(build, long_model, 2048, beta, layer, scheme, args.threads, args.reps)
                if base is None:
                    base = (ppl, t512[0], t2048[0])
                rows.append((layer, scheme, keep, ppl, ppl / base[0] - 1, t512[:2], base[1] / t512[0],
                             work_ratio(shape, t512[2]), t2048[:2], base[2] / t2048[0], work_ratio(shape, t2048[2])))
                print(rows[-1], file=sys.stderr, flush=True)

    lines = [design_prose(args.out), '', '## Measured', '', MARKER, '',
             f'`python3 tools/pruning_table.py --chunks {args.chunks} --threads {args.threads} --reps {args.reps}'
             f' --layers {args.layers}` on {os.uname().machine}, {args.threads} threads; importance: the '
             'paper\'s (attention to the first token); positions kept. First layer "mid" is n_layers / 2 (the '
             'paper\'s middle layer, the default). Perplexity: data/austen-test.txt, '
             f'{args.chunks} chunks of 512, scored as `aq-perplexity --prune` does (the same predictions at every '
             'keep ratio). Prefill: `aq-bench -p N --prune BETA --prune-layer L`, mean +/- sd of '
             f'{args.reps} prefills of random tokens, in ms. 2048 tokens: a random-weight model of the shipped '
             'shape with a 4096 context (aq-synth --preset austen --ctx 4096). Speed-ups are against keep 1.00 in '
             'the same group of rows; "MAC ratio" is the ratio of multiply-adds (linear layers and attention) of the '
             'unpruned prefill to the pruned one: the speed-up if time went with multiply-adds alone.', '',
             '| first layer | activations | keep | PPL | PPL vs keep 1.0 | prefill 512 (ms) | speed-up | MAC ratio '
             '| prefill 2048 (ms) | speed-up | MAC ratio |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for layer, scheme, keep, ppl, dppl, t512, s512, b512, t2048, s2048, b2048 in rows:
        lines.append(f'| {"mid" if layer < 0 else layer} | {scheme} | {keep:.2f} | {ppl:.3f} | {100 * dppl:+.2f}% | '
                     f'{t512[0]:.1f} ± {t512[1]:.1f} | {s512:.2f}x | {b512:.2f}x | {t2048[0]:.1f} ± {t2048[1]:.1f} | '
                     f'{s2048:.2f}x | {b2048:.2f}x |')
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('wrote', args.out, file=sys.stderr)


if __name__ == '__main__':
    main()
