#!/usr/bin/env python3
"""Writes docs/PRUNING.md: the design of token pruning and a measured table.

    python3 tools/pruning_table.py [--build build-lead] [--chunks 8] [--threads 2] [--reps 3]

For keep ratios 1.0, 0.75, 0.5 (beta = 0, 0.25, 0.5) and the activation
schemes fp32, w4a8,rtn and w4a4,rtn (no calibration needed) it measures
 - perplexity with aq-perplexity --prune BETA on data/austen-test.txt (the
   two-batch split, so every row scores the same predictions),
 - prefill time of 512 tokens on models/austen-6m.gguf, and of 2048 tokens on
   a random-weight model of the same shape with a 2048 context written by
   aq-synth (the shipped model's context is 512); timing is a tiny C program
   compiled here against the build's libagilequant.
Re-run it after the model changes; it overwrites docs/PRUNING.md.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TIMER_C = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agilequant.h"
/* prefill_time MODEL N BETA LAYER THREADS REPS [SCHEME]: best wall time of a
 * prefill of N random tokens, in milliseconds, and the rows kept. */
int main(int argc, char **argv) {
    if (argc < 7) return 2;
    int n = atoi(argv[2]), layer = atoi(argv[4]), threads = atoi(argv[5]), reps = atoi(argv[6]);
    double beta = atof(argv[3]);
    aq_model *m = aq_model_create();
    if (aq_model_load_file(m, argv[1]) != AQ_OK) { fprintf(stderr, "%s\n", aq_model_error_message(m)); return 1; }
    if (argc > 7 && aq_quantize(m, argv[7], NULL, 0) != AQ_OK) { fprintf(stderr, "%s\n", aq_model_error_message(m)); return 1; }
    aq_context *c = aq_context_create(m);
    int64_t vocab = 0, layers = 0;
    aq_model_get_info(m, AQ_INFO_VOCAB_SIZE, &vocab);
    aq_model_get_info(m, AQ_INFO_LAYER_COUNT, &layers);
    if (!c || aq_context_set_param(c, AQ_PARAM_THREADS, threads) || aq_context_set_param(c, AQ_PARAM_CONTEXT_LENGTH, n) ||
        aq_prune(c, beta, layer, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS)) {
        fprintf(stderr, "%s\n", c ? aq_context_error_message(c) : "no context");
        return 1;
    }
    int32_t *tok = malloc(sizeof *tok * (size_t)n);
    srand(1);
    for (int i = 0; i < n; i++) tok[i] = 3 + rand() % (int)(vocab - 3);
    double best = 1e30;
    for (int r = 0; r <= reps; r++) { /* the first run warms up */
        struct timespec a, b;
        aq_kv_truncate(c, 0);
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (aq_forward(c, tok, NULL, n, 0) != AQ_OK) { fprintf(stderr, "%s\n", aq_context_error_message(c)); return 1; }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = 1e3 * (double)(b.tv_sec - a.tv_sec) + 1e-6 * (double)(b.tv_nsec - a.tv_nsec);
        if (r > 0 && ms < best) best = ms;
    }
    int32_t kept = 0;
    aq_prune_kept(c, (int32_t)layers, NULL, 0, &kept);
    printf("%.3f %d\n", best, kept);
    aq_context_free(c);
    aq_model_free(m);
    free(tok);
    return 0;
}
'''

DESIGN = open(os.path.join(ROOT, 'tools', 'pruning_design.md')).read() if os.path.exists(
    os.path.join(ROOT, 'tools', 'pruning_design.md')) else ''


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


def prefill(timer, model, n, beta, layer, scheme, threads, reps):
    cmd = ['nice', timer, model, str(n), str(beta), str(layer), str(threads), str(reps)]
    if scheme != 'fp32':
        cmd.append(scheme)
    ms, kept = run(cmd, env=dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(timer))).stdout.split()
    return float(ms), int(kept)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=os.path.join(ROOT, 'build-lead'))
    ap.add_argument('--chunks', type=int, default=8, help='perplexity chunks of 512 tokens')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=3, help='timed prefills (best is kept)')
    ap.add_argument('--layer', type=int, default=-1, help='first pruning layer (-1: n_layers / 2)')
    ap.add_argument('--keeps', default='1.0,0.75,0.5')
    ap.add_argument('--schemes', default='fp32,w4a8,rtn,w4a4,rtn')
    ap.add_argument('--out', default=os.path.join(ROOT, 'docs', 'PRUNING.md'))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    keeps = [float(k) for k in args.keeps.split(',')]
    parts = args.schemes.split(',')
    schemes = []  # re-join modifiers: 'w4a8', 'rtn' -> 'w4a8,rtn'
    for p in parts:
        if schemes and not re.match(r'^(fp32|w4a\d+|q\d_0|w4a\d+-paper)$', p):
            schemes[-1] += ',' + p
        else:
            schemes.append(p)
    model = os.path.join(ROOT, 'models', 'austen-6m.gguf')
    tmp = tempfile.mkdtemp(prefix='aq-pruning-')
    timer = os.path.join(build, 'aq-prefill-timer')
    with open(os.path.join(tmp, 'timer.c'), 'w') as f:
        f.write(TIMER_C)
    run(['cc', '-O2', '-o', timer, os.path.join(tmp, 'timer.c'), '-I', os.path.join(ROOT, 'include'),
         '-L', build, '-lagilequant', '-Wl,-rpath,' + build])
    long_model, long_note = os.path.join(tmp, 'austen-2048.gguf'), ''
    synth = os.path.join(build, 'examples', 'aq-synth')
    if os.path.exists(synth):
        run([synth, '-o', long_model, '--preset', 'austen', '--ctx', '2048'])
    else:
        long_model, long_note = None, 'aq-synth was not built: no 2048-token timing.'

    rows = []
    for scheme in schemes:
        base = {}
        for keep in keeps:
            beta = round(1.0 - keep, 6)
            ppl = perplexity(build, model, beta, args.layer, scheme, args.chunks, args.threads)
            t512, kept512 = prefill(timer, model, 512, beta, args.layer, scheme, args.threads, args.reps)
            t2048, kept2048 = (prefill(timer, long_model, 2048, beta, args.layer, scheme, args.threads, args.reps)
                               if long_model else (float('nan'), 0))
            if keep == 1.0:
                base = {'ppl': ppl, 't512': t512, 't2048': t2048}
            rows.append((scheme, keep, ppl, ppl / base['ppl'] - 1 if base else float('nan'), t512,
                         base['t512'] / t512 if base else float('nan'), t2048,
                         base['t2048'] / t2048 if base else float('nan')))
            print(rows[-1], file=sys.stderr, flush=True)

    layer = 'n_layers / 2' if args.layer < 0 else str(args.layer)
    lines = ['# Token pruning in prefill', '',
             '<!-- generated by tools/pruning_table.py; edit tools/pruning_design.md or the script -->', '',
             DESIGN.strip(), '', '## Measured', '',
             f'`python3 tools/pruning_table.py --chunks {args.chunks} --threads {args.threads} --reps {args.reps}`'
             f' on {os.uname().machine}, {args.threads} threads; first pruning layer {layer}; importance: the '
             'paper\'s (attention to the first token); positions kept. Perplexity: data/austen-test.txt, '
             f'{args.chunks} chunks of 512, scored as `aq-perplexity --prune` does (the same predictions at every '
             'keep ratio). Prefill: best of the timed runs of one forward call of random tokens. 2048 tokens: a '
             'random-weight model of the shipped shape with a 2048 context (aq-synth --preset austen --ctx 2048). '
             + long_note, '',
             '| activations | keep | PPL | PPL vs keep 1.0 | prefill 512 (ms) | speed-up | prefill 2048 (ms) | speed-up |',
             '|---|---|---|---|---|---|---|---|']
    for scheme, keep, ppl, dppl, t512, s512, t2048, s2048 in rows:
        lines.append(f'| {scheme} | {keep:.2f} | {ppl:.3f} | {100 * dppl:+.2f}% | {t512:.1f} | {s512:.2f}x | '
                     f'{t2048:.1f} | {s2048:.2f}x |')
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('wrote', args.out, file=sys.stderr)


if __name__ == '__main__':
    main()
