#!/usr/bin/env python3
"""Writes the measured part of docs/PRUNING.md (the prose before "## Measured" is
kept) and its pictures. Two sections, each rewritten only when named in
--sections (the other is kept as it is in the file, with the command that made it):

    python3 tools/pruning_table.py [--build build-lead] [--sections speed,families] [--chunks 8]
                                   [--threads 2] [--reps 3] [--layers -1,1,0]

speed: for each first pruning layer (-1: n_layers / 2, the paper's middle layer),
keep ratios 1.0, 0.75, 0.5 (beta = 0, 0.25, 0.5) and the activation schemes
fp32, w4a8,rtn and w4a4,rtn (no calibration needed) it measures
 - perplexity with aq-perplexity --prune BETA on data/austen-test.txt (the
   two-batch split, so every row scores the same predictions),
 - prefill speed with aq-bench --prune BETA -p 512 on models/austen-6m.gguf,
   and -p 2048 on a random-weight model of the same shape with a 4096
   context written by aq-synth (the shipped model's context is 512).
It draws docs/pruning-speed.png: prefill speed-up at 2048 tokens against the
keep ratio (gnuplot).

families: perplexity against the keep ratio (--family-keeps) on the three
shipped families, LLaMA (austen-6m), OPT (austen-opt) and BLOOM (austen-bloom),
with the same schemes, pruning from the middle layer; no timing. It draws
docs/pruning.png: perplexity against the keep ratio, one panel per family.
Re-run it after the models change.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MARKER = '<!-- the prose above is written by hand; tools/pruning_table.py rewrites the sections below -->'
SECTIONS = ('speed', 'families')
FAMILIES = [('LLaMA', 'austen-6m.gguf'), ('OPT', 'austen-opt.gguf'), ('BLOOM', 'austen-bloom.gguf')]


def design_prose(path):
    """The hand-written part of docs/PRUNING.md: everything before '## Measured'."""
    text = open(path).read() if os.path.exists(path) else '# Token pruning in prefill\n'
    return text.split('\n## Measured')[0].rstrip()


def section_marker(name):
    return f'<!-- section {name}: written by tools/pruning_table.py --sections {name} -->'


def kept_sections(path):
    """The measured sections of an existing PRUNING.md, by name, each from its marker to the next."""
    if not os.path.exists(path):
        return {}
    parts = re.split(r'^<!-- section (\w+): .*-->\n', open(path).read(), flags=re.M)
    return {parts[i]: parts[i + 1].rstrip() for i in range(1, len(parts) - 1, 2)}


def gnuplot(script):
    """Runs a gnuplot script; False (with a message) when gnuplot is not installed."""
    exe = shutil.which('gnuplot')
    if not exe:
        print('gnuplot not found: no picture (Debian: apt-get install gnuplot-nox)', file=sys.stderr)
        return False
    subprocess.run([exe], input=script, text=True, check=True)
    return True


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


def speed_section(args, build, schemes, keeps, layers):
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

    lines = ['### Prefill time and perplexity on the shipped LLaMA model', '',
             f'`python3 tools/pruning_table.py --sections speed --chunks {args.chunks} --threads {args.threads} '
             f'--reps {args.reps} --layers {args.layers}` on {os.uname().machine}, {args.threads} threads; importance: the '
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
    png = args.speed_png
    series = []
    for layer in layers:
        for scheme in schemes:
            pts = [(r[2], r[9], r[10]) for r in rows if r[0] == layer and r[1] == scheme]
            series.append((f'first layer {"mid" if layer < 0 else layer}, {scheme}', pts))
    plots = ', '.join(f"'-' using 1:2 with linespoints lw 2 title '{t}'" for t, _ in series)
    data = ''.join(''.join(f'{k} {s}\n' for k, s, _ in pts) + 'e\n' for _, pts in series)
    if gnuplot('\n'.join([
            "set terminal pngcairo size 900,560 font ',10'", f"set output '{png}'",
            "set title 'Prefill of 2048 tokens: speed-up against keeping every token (aq-bench, "
            f"{args.threads} threads)'", "set xlabel 'fraction of the prompt kept after the last layer'",
            "set ylabel 'speed-up (x)'", 'set xrange [1.05:0]', 'set grid', 'set key top left',
            f'plot {plots}']) + '\n' + data):
        lines += ['', f'![prefill speed-up against the keep ratio]({os.path.relpath(png, os.path.dirname(args.out))})']
    return lines


def families_section(args, build, schemes, keeps):
    fams = [(name, os.path.join(ROOT, 'models', f)) for name, f in FAMILIES
            if os.path.exists(os.path.join(ROOT, 'models', f))]
    jobs = [(name, model, scheme, keep) for name, model in fams for scheme in schemes for keep in keeps]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        ppls = list(pool.map(lambda j: perplexity(build, j[1], round(1.0 - j[3], 6), -1, j[2], args.chunks, 1), jobs))
    ppl = {(name, scheme, keep): v for (name, _, scheme, keep), v in zip(jobs, ppls)}
    lines = ['### Perplexity against the keep ratio on the three families', '',
             f'`python3 tools/pruning_table.py --sections families --chunks {args.chunks} --family-keeps '
             f'{args.family_keeps} --schemes {args.schemes}`: the shipped models of the paper\'s three families, '
             + ', '.join(f'{name} `models/{os.path.basename(m)}`' for name, m in fams) +
             f', on data/austen-test.txt ({args.chunks} chunks of 512, scored as `aq-perplexity --prune` does), '
             'pruning from layer n_layers / 2 with the paper\'s importance, positions kept. No timing. In brackets: '
             'the change against the same family\'s FP32 at keep 1.00.', '',
             '| keep | ' + ' | '.join(f'{name} {scheme}' for name, _ in fams for scheme in schemes) + ' |',
             '|---|' + '---|' * (len(fams) * len(schemes))]
    for keep in keeps:
        cells = []
        for name, _ in fams:
            base = ppl[(name, schemes[0], keeps[0])] if schemes[0] == 'fp32' and keeps[0] == 1.0 else None
            for scheme in schemes:
                v = ppl[(name, scheme, keep)]
                cells.append(f'{v:.3f}' + (f' ({100 * (v / base - 1):+.2f}%)' if base else ''))
        lines.append(f'| {keep:.2f} | ' + ' | '.join(cells) + ' |')
    png = args.png
    panels = []
    for name, _ in fams:
        plots = ', '.join(f"'-' using 1:2 with linespoints lw 2 pt 7 title '{scheme}'" for scheme in schemes)
        data = ''.join(''.join(f'{keep} {ppl[(name, scheme, keep)]}\n' for keep in keeps) + 'e\n'
                       for scheme in schemes)
        panels.append(f"set title '{name}'\nplot {plots}\n{data}")
    if gnuplot('\n'.join([
            f"set terminal pngcairo size {380 * len(fams)},420 font ',10'", f"set output '{png}'",
            f"set multiplot layout 1,{len(fams)} title 'Perplexity against the fraction of the prompt kept "
            "(held-out Austen text, pruning from the middle layer)'",
            "set xlabel 'keep'", "set ylabel 'perplexity'", 'set xrange [1.05:0.2]', 'set grid',
            'set key top left']) + '\n' + ''.join(panels) + 'unset multiplot\n'):
        lines += ['', f'![perplexity against the keep ratio]({os.path.relpath(png, os.path.dirname(args.out))})']
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=os.path.join(ROOT, 'build-lead'))
    ap.add_argument('--sections', default=','.join(SECTIONS))
    ap.add_argument('--chunks', type=int, default=8, help='perplexity chunks of 512 tokens')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=3, help='timed prefills per row (mean +/- sd)')
    ap.add_argument('--layers', default='-1,1,0', help='first pruning layers (-1: n_layers / 2)')
    ap.add_argument('--keeps', default='1.0,0.75,0.5')
    ap.add_argument('--family-keeps', default='1.0,0.75,0.5,0.25')
    ap.add_argument('--jobs', type=int, default=2, help='perplexity runs at a time in the families section')
    ap.add_argument('--schemes', default='fp32,w4a8,rtn,w4a4,rtn')
    ap.add_argument('--out', default=os.path.join(ROOT, 'docs', 'PRUNING.md'))
    ap.add_argument('--png', default=os.path.join(ROOT, 'docs', 'pruning.png'))
    ap.add_argument('--speed-png', default=os.path.join(ROOT, 'docs', 'pruning-speed.png'))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    wanted = args.sections.split(',')
    for s in wanted:
        if s not in SECTIONS:
            sys.exit(f'unknown section {s}: one of {", ".join(SECTIONS)}')
    layers = [int(v) for v in args.layers.split(',')]
    schemes = []  # re-join modifiers: 'w4a8', 'rtn' -> 'w4a8,rtn'
    for p in args.schemes.split(','):
        if schemes and not re.match(r'^(fp32|w4a\d+|q\d_0|w4a\d+-paper)$', p):
            schemes[-1] += ',' + p
        else:
            schemes.append(p)
    sections = kept_sections(args.out)
    if 'speed' in wanted:
        sections['speed'] = '\n'.join(
            speed_section(args, build, schemes, [float(k) for k in args.keeps.split(',')], layers))
    if 'families' in wanted:
        sections['families'] = '\n'.join(
            families_section(args, build, schemes, [float(k) for k in args.family_keeps.split(',')]))
    lines = [design_prose(args.out), '', '## Measured', '', MARKER, '']
    for name in SECTIONS:
        if name in sections:
            lines += [section_marker(name), sections[name], '']
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines))
    print('wrote', args.out, file=sys.stderr)


if __name__ == '__main__':
    main()
