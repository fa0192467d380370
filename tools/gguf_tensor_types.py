#!/usr/bin/env python3
"""Print the type of every tensor of a GGUF file on one line (tools only).

  gguf_tensor_types.py FILE.gguf            -> "token_embd.weight:Q4_0 blk.0.attn_norm.weight:F32 ..."
  gguf_tensor_types.py --check TYPE FILE    -> exit 1 unless every 2-D tensor has TYPE

Tensors are listed in file order. Needs llama.cpp's gguf-py (`gguf`).
"""
import sys

from gguf import GGUFReader


def main():
    args = sys.argv[1:]
    want = None
    if len(args) == 3 and args[0] == "--check":
        want, args = args[1], args[2:]
    if len(args) != 1:
        sys.exit(__doc__)
    r = GGUFReader(args[0])
    if want is None:
        print(" ".join(f"{t.name}:{t.tensor_type.name}" for t in r.tensors))
        return
    bad = [f"{t.name}:{t.tensor_type.name}" for t in r.tensors
           if len([d for d in t.shape if d > 1]) >= 2 and t.tensor_type.name != want]
    if bad:
        print(f"{args[0]}: not {want}: {' '.join(bad)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
