#!/usr/bin/env python3
"""Golden data from PyTorch for the C tests of the BLOOM and OPT models, as
golden.py and golden_tokens.py do for the LLaMA model.

usage: golden_family.py CKPT TOKENIZER_JSON HELD_OUT_TXT OUT_DIR [--ood BROWN_TXT]
writes, with F the model's family (bloom or opt):
  OUT_DIR/golden-F-logits.bin  same layout as golden-logits.bin (little-endian):
      u32 n_cases, u32 n_vocab; per case: u32 n_tokens, i32 tokens[n_tokens],
      f32 logits[n_tokens][n_vocab]. Tokens are as llama.cpp tokenizes the
      prompt (BOS first for opt, none for bloom).
  OUT_DIR/golden-F-ppl.txt     `ctx 128 chunks 8 ppl X`, `ctx 512 chunks N ppl X`
      for HELD_OUT_TXT, and a `brown ctx 512 ...` line for --ood, scored as
      llama-perplexity does: the file tokenized whole (BOS first if the family
      adds one), cut into chunks of ctx tokens, each chunk's first token
      replaced by BOS if the family adds one (opt) and kept as it is if not
      (bloom), and only the second half of each chunk scored.
  OUT_DIR/golden-F-tokens.txt  `<text as a JSON string>\\t<ids>` per line, no
      BOS: golden_tokens.py's texts plus a few with newlines (JSON-escaped).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from family_model import load_checkpoint  # noqa: E402
from family_tokenizer import FAMILIES, encode, load_tokenizer  # noqa: E402
from golden import PPL_SETTINGS, PROMPTS  # noqa: E402
from golden_tokens import TEXTS  # noqa: E402

EXTRA_TEXTS = [
    "It was a fine day.\nShe walked out.",
    "\"Indeed!\"\n\n(He said nothing.)",
    "line one\nline two\n",
    "\n",
    "Well... what? Yes, sir; no, ma'am -- it's they're we've I'll he'd I'm",
    "tab\tand  double  space \n and space before newline",
]


def perplexity(model, ids, n_ctx, max_chunks, bos):
    """bos: the id put first in each chunk, or None to keep the text's token."""
    n_chunks = len(ids) // n_ctx
    if max_chunks is not None:
        n_chunks = min(n_chunks, max_chunks)
    first = n_ctx // 2
    nll, count = 0.0, 0
    with torch.no_grad():
        for c in range(n_chunks):
            chunk = torch.tensor(ids[c * n_ctx:(c + 1) * n_ctx]).unsqueeze(0)
            target = chunk[0, first + 1:].clone()
            if bos is not None:
                chunk[0, 0] = bos
            logp = F.log_softmax(model(chunk)[0].double(), dim=-1)
            nll -= logp[first:n_ctx - 1].gather(1, target.unsqueeze(1)).sum().item()
            count += n_ctx - 1 - first
    return math.exp(nll / count), n_chunks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("tokenizer")
    ap.add_argument("held_out")
    ap.add_argument("out_dir")
    ap.add_argument("--ood", help="out-of-domain text, scored at ctx 512 (brown)")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    model = load_checkpoint(args.ckpt)
    fam = model.cfg.family
    spec = FAMILIES[fam]
    tok = load_tokenizer(args.tokenizer)
    bos = tok.token_to_id(spec["bos"]) if spec["add_bos"] else None
    vocab = model.cfg.vocab_size
    out = lambda kind: os.path.join(args.out_dir, f"golden-{fam}-{kind}")  # noqa: E731

    with open(out("logits.bin"), "wb") as f:
        f.write(struct.pack("<II", len(PROMPTS), vocab))
        for p in PROMPTS:
            ids = encode(tok, fam, p)
            with torch.no_grad():
                logits = model(torch.tensor([ids]))[0].numpy().astype("<f4")
            f.write(struct.pack("<I", len(ids)))
            f.write(np.asarray(ids, dtype="<i4").tobytes())
            f.write(logits.tobytes())

    ids = encode(tok, fam, open(args.held_out, encoding="utf-8").read())
    with open(out("ppl.txt"), "w") as f:
        f.write(f"# PyTorch perplexity of {os.path.basename(args.held_out)} ({len(ids)} tokens), "
                f"llama-perplexity style, add_bos {str(spec['add_bos']).lower()}\n")
        for n_ctx, max_chunks in PPL_SETTINGS:
            ppl, n_chunks = perplexity(model, ids, n_ctx, max_chunks, bos)
            f.write(f"ctx {n_ctx} chunks {n_chunks} ppl {ppl:.6f}\n")
            print(f"{fam} ctx {n_ctx} chunks {n_chunks} ppl {ppl:.6f}", flush=True)
        if args.ood:
            ood = encode(tok, fam, open(args.ood, encoding="utf-8").read())
            ppl, n_chunks = perplexity(model, ood, 512, None, bos)
            f.write(f"# out of domain: {os.path.basename(args.ood)} ({len(ood)} tokens)\n")
            f.write(f"brown ctx 512 chunks {n_chunks} ppl {ppl:.6f}\n")
            print(f"{fam} brown ctx 512 chunks {n_chunks} ppl {ppl:.6f}", flush=True)

    with open(out("tokens.txt"), "w", encoding="utf-8", newline="\n") as f:
        for text in TEXTS + EXTRA_TEXTS:
            ids = encode(tok, fam, text, bos=False)
            f.write(json.dumps(text, ensure_ascii=False) + "\t" + " ".join(map(str, ids)) + "\n")


if __name__ == "__main__":
    main()
