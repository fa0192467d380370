#!/usr/bin/env python3
"""Logits of a bloom, gpt2 or opt GGUF file from Hugging Face transformers:
the file's tensors (read with llama.cpp's gguf-py) loaded into
BloomForCausalLM, GPT2LMHeadModel or OPTForCausalLM, run in float32 on the
token ids of TOKENS_TXT. An independent reference for tests/test_families.c:
exact float32 GELU and attention, where llama.cpp tabulates GELU on f16
inputs and keeps the KV cache in f16.

usage: family_logits_hf.py GGUF TOKENS_TXT OUT_LOGITS
writes n_tokens x n_vocab little-endian float32, as llama.cpp's logits dump.
Needs a venv with transformers (4.44.2 works with Debian's torch 1.13) and gguf."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_family_hf import bloom_model, opt_model, read_gguf  # noqa: E402


def gpt2_model(kv, t):
    from transformers import GPT2Config, GPT2LMHeadModel
    d, nh, nl = kv["gpt2.embedding_length"], kv["gpt2.attention.head_count"], kv["gpt2.block_count"]
    cfg = GPT2Config(vocab_size=t["token_embd.weight"].shape[0], n_positions=kv["gpt2.context_length"], n_embd=d,
                     n_layer=nl, n_head=nh, n_inner=kv["gpt2.feed_forward_length"], activation_function="gelu_new",
                     layer_norm_epsilon=kv["gpt2.attention.layer_norm_epsilon"], resid_pdrop=0.0, embd_pdrop=0.0,
                     attn_pdrop=0.0, tie_word_embeddings=False)
    m = GPT2LMHeadModel(cfg)
    # HF's Conv1D stores (in, out): the transpose of a GGUF matrix; attn_qkv's rows [Q; K; V] are c_attn's columns.
    sd = {"transformer.wte.weight": t["token_embd.weight"], "transformer.wpe.weight": t["position_embd.weight"],
          "transformer.ln_f.weight": t["output_norm.weight"], "transformer.ln_f.bias": t["output_norm.bias"],
          "lm_head.weight": t["output.weight"]}
    for i in range(nl):
        p, q = f"blk.{i}.", f"transformer.h.{i}."
        for ours, theirs, transpose in (("attn_norm", "ln_1", False), ("attn_qkv", "attn.c_attn", True),
                                        ("attn_output", "attn.c_proj", True), ("ffn_norm", "ln_2", False),
                                        ("ffn_up", "mlp.c_fc", True), ("ffn_down", "mlp.c_proj", True)):
            w = t[p + ours + ".weight"]
            sd[q + theirs + ".weight"] = w.t().contiguous() if transpose else w
            sd[q + theirs + ".bias"] = t[p + ours + ".bias"]
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith(("attn.bias", "attn.masked_bias")) for k in missing), (missing, unexpected)
    return m


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    kv, t = read_gguf(sys.argv[1])
    arch = kv["general.architecture"]
    model = {"bloom": bloom_model, "gpt2": gpt2_model, "opt": opt_model}[arch](kv, t).eval()
    ids = [int(x) for x in open(sys.argv[2]).read().split()]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].numpy().astype("<f4")
    logits.tofile(sys.argv[3])
    print(f"{arch}: {len(ids)} tokens x {logits.shape[1]} logits from transformers' {type(model).__name__}")


if __name__ == "__main__":
    main()
