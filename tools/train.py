#!/usr/bin/env python3
"""Train the shipped model: a SentencePiece BPE tokenizer and a small
LLaMA-architecture model on the Austen training text. Seeded; CPU only.

usage: train.py TRAIN_TXT OUT_DIR [--steps N] [--minutes M]
writes OUT_DIR/tokenizer.model, OUT_DIR/ckpt.pt (rewritten as it trains) and
prints a log (one line per LOG_EVERY steps).
"""
import argparse
import math
import os
import random
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Llama  # noqa: E402
from tokenize_text import tokenize  # noqa: E402

LOG_EVERY = int(os.environ.get("LOG_EVERY", "20"))


def train_tokenizer(train_txt, out_dir, vocab_size):
    prefix = os.path.join(out_dir, "tokenizer")
    spm.SentencePieceTrainer.train(
        input=train_txt, model_prefix=prefix, model_type="bpe", vocab_size=vocab_size,
        character_coverage=1.0, byte_fallback=True, normalization_rule_name="identity",
        add_dummy_prefix=False, remove_extra_whitespaces=False, split_digits=True,
        max_sentence_length=100000, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=2, minloglevel=2)
    return prefix + ".model"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train_txt")
    ap.add_argument("out_dir")
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    os.makedirs(args.out_dir, exist_ok=True)

    cfg = Config()
    sp = spm.SentencePieceProcessor(model_file=train_tokenizer(args.train_txt, args.out_dir, cfg.vocab_size))
    text = open(args.train_txt, encoding="utf-8").read()
    ids = torch.tensor(tokenize(sp, text), dtype=torch.long)
    print(f"train tokens {len(ids)}, vocab {sp.get_piece_size()}", flush=True)

    model = Llama(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"config {cfg}\nparameters {n_params}", flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    warmup = 60
    t = cfg.max_seq_len
    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    for step in range(1, args.steps + 1):
        lr = args.lr * (step / warmup if step <= warmup else
                        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (args.steps - warmup))))
        for g in opt.param_groups:
            g["lr"] = lr
        # Windows start with BOS, as in llama-perplexity's chunks.
        offs = torch.randint(0, len(ids) - t, (args.batch,), generator=gen)
        x = torch.stack([ids[o:o + t] for o in offs])
        y = torch.stack([ids[o + 1:o + t + 1] for o in offs])
        x[:, 0] = sp.bos_id()
        loss = F.cross_entropy(model(x).view(-1, cfg.vocab_size), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % LOG_EVERY == 0 or step == args.steps:
            el = time.time() - start
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} elapsed {el:.0f}s "
                  f"tok/s {step * args.batch * t / el:.0f}", flush=True)
        if step % 200 == 0 or step == args.steps:
            torch.save({"cfg": cfg.__dict__, "model": model.state_dict(), "step": step},
                       os.path.join(args.out_dir, "ckpt.pt"))
    print("done", flush=True)


if __name__ == "__main__":
    main()
