#!/usr/bin/env python3
"""Golden data from PyTorch for the C tests: logits of every position for a
few fixed prompts, and held-out perplexity computed as llama-perplexity does.

usage: golden.py CKPT TOKENIZER_MODEL HELD_OUT_TXT OUT_DIR
writes OUT_DIR/golden-logits.bin and OUT_DIR/golden-ppl.txt

golden-logits.bin (little-endian): u32 n_cases, u32 n_vocab; per case: u32
n_tokens, i32 tokens[n_tokens], f32 logits[n_tokens][n_vocab]."""
import math
import os
import struct
import sys

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_gguf import load_checkpoint  # noqa: E402
from tokenize_text import tokenize  # noqa: E402

PROMPTS = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune",
    "Emma Woodhouse, handsome, clever, and rich,",
    "\"My dear Mr. Bennet,\" said his lady to him one day,\nHe made no answer.",
]
# (context, chunks): a slice for the test suite, and the whole held-out text.
PPL_SETTINGS = [(128, 8), (512, None)]


def perplexity(model, ids, n_ctx, max_chunks, bos):
    n_chunks = len(ids) // n_ctx
    if max_chunks is not None:
        n_chunks = min(n_chunks, max_chunks)
    first = n_ctx // 2
    nll, count = 0.0, 0
    with torch.no_grad():
        for c in range(n_chunks):
            chunk = torch.tensor(ids[c * n_ctx:(c + 1) * n_ctx]).unsqueeze(0)
            target = chunk[0, first + 1:].clone()
            chunk[0, 0] = bos
            logp = F.log_softmax(model(chunk)[0].double(), dim=-1)
            nll -= logp[first:n_ctx - 1].gather(1, target.unsqueeze(1)).sum().item()
            count += n_ctx - 1 - first
    return math.exp(nll / count), n_chunks


def main():
    ckpt, tok_path, held_out, out_dir = sys.argv[1:5]
    torch.set_num_threads(2)
    model = load_checkpoint(ckpt)
    sp = spm.SentencePieceProcessor(model_file=tok_path)
    vocab = model.cfg.vocab_size
    with open(os.path.join(out_dir, "golden-logits.bin"), "wb") as f:
        f.write(struct.pack("<II", len(PROMPTS), vocab))
        for p in PROMPTS:
            ids = tokenize(sp, p)
            with torch.no_grad():
                logits = model(torch.tensor([ids]))[0].numpy().astype("<f4")
            f.write(struct.pack("<I", len(ids)))
            f.write(np.asarray(ids, dtype="<i4").tobytes())
            f.write(logits.tobytes())
    ids = tokenize(sp, open(held_out, encoding="utf-8").read())
    with open(os.path.join(out_dir, "golden-ppl.txt"), "w") as f:
        f.write(f"# PyTorch perplexity of {os.path.basename(held_out)} ({len(ids)} tokens), llama-perplexity style\n")
        for n_ctx, max_chunks in PPL_SETTINGS:
            ppl, n_chunks = perplexity(model, ids, n_ctx, max_chunks, sp.bos_id())
            f.write(f"ctx {n_ctx} chunks {n_chunks} ppl {ppl:.6f}\n")
            print(f"ctx {n_ctx} chunks {n_chunks} ppl {ppl:.6f}", flush=True)


if __name__ == "__main__":
    main()
