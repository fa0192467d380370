#!/usr/bin/env python3
"""Continue a prompt with a GGUF model, optionally quantizing it first.

    python3 bindings/python/examples/generate.py models/austen-6m.gguf "It is a truth" -n 60
    python3 bindings/python/examples/generate.py models/austen-6m.gguf "Emma" --temp 0 \\
        --scheme w4a8 --calib data/austen-train.txt
"""

import argparse
import os
import sys
import time

try:
    import agilequant
except ImportError:  # run from a checkout, not installed
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    import agilequant


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a GGUF file")
    ap.add_argument("prompt")
    ap.add_argument("-n", "--max-tokens", type=int, default=100)
    ap.add_argument("--temp", type=float, default=0.8, help="0 samples greedily")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-t", "--threads", type=int, default=None, help="default: the number of cores")
    ap.add_argument("--scheme", help="quantize first: w4a16, w4a8, w4a4, q4_0, q8_0, ... (docs/FORMAT.md)")
    ap.add_argument("--calib", help="calibration text for --scheme (training text, never test text)")
    args = ap.parse_args()

    params = {"seed": args.seed, "temperature": args.temp}
    if args.threads:
        params["threads"] = args.threads
    try:
        with agilequant.Model(args.model) as model:
            if args.scheme:
                calib = open(args.calib, encoding="utf-8").read() if args.calib else None
                model.quantize(args.scheme, calib)  # a progress bar on a terminal
            print(model.describe(), "| kernels:", model.kernels, file=sys.stderr)
            with model.context(**params) as ctx:
                print(args.prompt, end="", flush=True)
                start, n = time.perf_counter(), 0
                for piece in ctx.generate(args.prompt, max_tokens=args.max_tokens):
                    print(piece, end="", flush=True)
                    n += 1
                print()
                print("%d pieces in %.2f s" % (n, time.perf_counter() - start), file=sys.stderr)
    except agilequant.Error as e:
        sys.exit("generate.py: %s" % e)


if __name__ == "__main__":
    main()
