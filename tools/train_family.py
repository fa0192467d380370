#!/usr/bin/env python3
"""Train a byte-level BPE tokenizer and a small BLOOM- or OPT-architecture
model on the Austen training text. Seeded; CPU only; one thread per
OMP_NUM_THREADS.

usage: train_family.py {bloom,opt} TRAIN_TXT OUT_DIR [--steps N] [--stop-after N] [--resume]
writes OUT_DIR/tokenizer.json, OUT_DIR/ckpt.pt (rewritten every SAVE_EVERY
steps, with the optimizer and sampler state, so --resume continues the same
run) and prints a log (one line per LOG_EVERY steps).

Training windows are MAX_SEQ_LEN tokens sampled at random from the tokenized
text. For OPT (which adds BOS) each window starts with BOS, as llama-perplexity's
chunks do; BLOOM adds no BOS, so its windows are plain text."""
import argparse
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from family_model import FamilyConfig, FamilyModel  # noqa: E402
from family_tokenizer import FAMILIES, encode, load_tokenizer, train_tokenizer  # noqa: E402

LOG_EVERY = int(os.environ.get("LOG_EVERY", "20"))
SAVE_EVERY = 100

# Shapes and step counts chosen from a throughput test: make_family_models.sh
# runs both trainings at once, one thread each, under nice -n 19, on a busy
# 2-core machine; there BLOOM ran at about 190 tokens/s and OPT at about 245,
# so each was planned as about an hour (the real runs, under heavier load,
# averaged 88 and 132 tokens/s: 2 h 15 min and 1 h 56 min). BLOOM has 5
# heads of 64 so that ALiBi's non-power-of-two slope rule is exercised.
DEFAULTS = {
    "bloom": dict(dim=320, n_layers=4, n_heads=5, ffn_dim=1280),
    "opt": dict(dim=256, n_layers=4, n_heads=4, ffn_dim=1024),
}
DEFAULT_STEPS = {"bloom": 700, "opt": 900}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("family", choices=["bloom", "opt"])
    ap.add_argument("train_txt")
    ap.add_argument("out_dir")
    ap.add_argument("--steps", type=int, help="default: DEFAULT_STEPS[family]")
    ap.add_argument("--stop-after", type=int, default=0, help="stop after this many steps (throughput test)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dim", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--ffn", type=int)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    fam = FAMILIES[args.family]
    if not args.steps:
        args.steps = DEFAULT_STEPS[args.family]

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    os.makedirs(args.out_dir, exist_ok=True)

    tok_path = os.path.join(args.out_dir, "tokenizer.json")
    if args.resume or os.path.exists(tok_path):
        tok = load_tokenizer(tok_path)
    else:
        train_tokenizer(args.family, args.train_txt, tok_path)
        tok = load_tokenizer(tok_path)
    text = open(args.train_txt, encoding="utf-8").read()
    ids = torch.tensor(encode(tok, args.family, text, bos=False), dtype=torch.long)
    print(f"family {args.family}, train tokens {len(ids)}, vocab {tok.get_vocab_size()}, "
          f"add_bos {fam['add_bos']}", flush=True)

    shape = dict(DEFAULTS[args.family])
    for k, a in (("dim", args.dim), ("n_layers", args.layers), ("n_heads", args.heads), ("ffn_dim", args.ffn)):
        if a:
            shape[k] = a
    cfg = FamilyConfig(family=args.family, vocab_size=tok.get_vocab_size(), **shape)
    model = FamilyModel(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"config {cfg}\nparameters {n_params} (output head tied to the embedding)", flush=True)
    print(f"steps {args.steps} batch {args.batch} x {cfg.max_seq_len} lr {args.lr} warmup {args.warmup} "
          f"seed {args.seed} threads {torch.get_num_threads()}", flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    t = cfg.max_seq_len
    bos = tok.token_to_id(fam["bos"])
    gen = torch.Generator().manual_seed(args.seed)
    ckpt_path = os.path.join(args.out_dir, "ckpt.pt")
    first_step, prior_elapsed = 1, 0.0
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        first_step, prior_elapsed = ck["step"] + 1, ck.get("elapsed", 0.0)
        print(f"resumed at step {first_step}", flush=True)
    start = time.time() - prior_elapsed
    model.train()
    for step in range(first_step, args.steps + 1):
        w = args.warmup
        lr = args.lr * (step / w if step <= w else
                        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - w) / (args.steps - w))))
        for g in opt.param_groups:
            g["lr"] = lr
        offs = torch.randint(0, len(ids) - t, (args.batch,), generator=gen)
        x = torch.stack([ids[o:o + t] for o in offs])
        y = torch.stack([ids[o + 1:o + t + 1] for o in offs])
        if fam["add_bos"]:
            x[:, 0] = bos
        loss = F.cross_entropy(model(x).view(-1, cfg.vocab_size), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        el = time.time() - start
        if step % LOG_EVERY == 0 or step == args.steps:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} elapsed {el:.0f}s "
                  f"tok/s {(step - first_step + 1) * args.batch * t / (el - prior_elapsed):.0f}", flush=True)
        if step % SAVE_EVERY == 0 or step == args.steps:
            torch.save({"cfg": cfg.__dict__, "model": model.state_dict(), "opt": opt.state_dict(),
                        "gen": gen.get_state(), "step": step, "elapsed": el}, ckpt_path + ".tmp")
            os.replace(ckpt_path + ".tmp", ckpt_path)
        if args.stop_after and step - first_step + 1 >= args.stop_after:
            print(f"stopped after {args.stop_after} steps: {el - prior_elapsed:.1f}s", flush=True)
            return
    print("done", flush=True)


if __name__ == "__main__":
    main()
