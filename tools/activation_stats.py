#!/usr/bin/env python3
"""Activation outlier statistics of a GGUF model, computed outside the library:
the GGUF's tensors (read with gguf-py) loaded into Hugging Face transformers'
LlamaForCausalLM, BloomForCausalLM or OPTForCausalLM, run in float32 on the
first chunks of a text, with a forward hook on the input of every linear layer.

Per layer and input site (qkv: the Q/K/V projections' input; o: the attention
output projection's input; up: the MLP up/gate input; down: the MLP down
projection's input) it reports max_c / median_c, where c runs over the input
channels and a channel's magnitude is its largest |x| over all tokens.

Tokens come from llama.cpp's llama-tokenize (llama, bloom) or, for opt, which
llama.cpp does not load, from Hugging Face `tokenizers` with the GGUF's own
vocabulary and merges and GPT-2's byte-level pre-tokenizer (the file's
`tokenizer.ggml.pre = gpt-2`). Each chunk starts with BOS when the model adds
one, as llama-perplexity does.

usage: activation_stats.py MODEL.gguf TEXT --llama-bin DIR [--ctx 512] [--chunks 2] [--json OUT]
Needs a venv with torch, transformers (4.44.2 works) and gguf (/work/scratch/hfvenv)."""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_family_hf import bloom_model, opt_model  # noqa: E402

SITES = ("qkv", "o", "up", "down")
HF_SITE = {"q_proj": "qkv", "query_key_value": "qkv", "o_proj": "o", "dense": "o", "out_proj": "o",
           "up_proj": "up", "dense_h_to_4h": "up", "fc1": "up", "down_proj": "down", "dense_4h_to_h": "down",
           "fc2": "down"}


def read_gguf(path):
    from gguf import GGUFReader
    r = GGUFReader(path)
    kv, arrays = {}, {}
    for f in r.fields.values():
        if not f.types:
            continue
        if f.types[0].name == "ARRAY":
            if f.name in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges"):
                arrays[f.name] = [bytes(f.parts[i]).decode() for i in f.data]
            continue
        v = f.parts[f.data[0]]
        kv[f.name] = bytes(v).decode() if f.types[0].name == "STRING" else v[0].item()
    tensors = {}
    for t in r.tensors:
        shape = list(reversed([int(x) for x in t.shape]))
        tensors[t.name] = torch.from_numpy(np.array(t.data, dtype=np.float32).reshape(shape))
    return kv, arrays, tensors


def unpermute(w, n_heads):
    """llama.cpp's GGUF rotates consecutive pairs of Q/K rows; transformers rotates halves."""
    rows = w.shape[0]
    return w.reshape(n_heads, rows // n_heads // 2, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def llama_model(kv, t):
    from transformers import LlamaConfig, LlamaForCausalLM
    nh = kv["llama.attention.head_count"]
    nkv = kv.get("llama.attention.head_count_kv", nh)
    nl = kv["llama.block_count"]
    tied = "output.weight" not in t
    cfg = LlamaConfig(vocab_size=t["token_embd.weight"].shape[0], hidden_size=kv["llama.embedding_length"],
                      intermediate_size=kv["llama.feed_forward_length"], num_hidden_layers=nl,
                      num_attention_heads=nh, num_key_value_heads=nkv,
                      rms_norm_eps=kv["llama.attention.layer_norm_rms_epsilon"],
                      rope_theta=kv.get("llama.rope.freq_base", 10000.0), tie_word_embeddings=tied,
                      max_position_embeddings=kv["llama.context_length"])
    m = LlamaForCausalLM(cfg)
    sd = {"model.embed_tokens.weight": t["token_embd.weight"], "model.norm.weight": t["output_norm.weight"],
          "lm_head.weight": t["token_embd.weight" if tied else "output.weight"]}
    for i in range(nl):
        p, q = f"blk.{i}.", f"model.layers.{i}."
        sd.update({q + "input_layernorm.weight": t[p + "attn_norm.weight"],
                   q + "post_attention_layernorm.weight": t[p + "ffn_norm.weight"],
                   q + "self_attn.q_proj.weight": unpermute(t[p + "attn_q.weight"], nh),
                   q + "self_attn.k_proj.weight": unpermute(t[p + "attn_k.weight"], nkv),
                   q + "self_attn.v_proj.weight": t[p + "attn_v.weight"],
                   q + "self_attn.o_proj.weight": t[p + "attn_output.weight"],
                   q + "mlp.gate_proj.weight": t[p + "ffn_gate.weight"],
                   q + "mlp.up_proj.weight": t[p + "ffn_up.weight"],
                   q + "mlp.down_proj.weight": t[p + "ffn_down.weight"]})
    m.load_state_dict(sd, strict=False)  # rotary inv_freq buffers are not in the file
    return m


def tokens(kv, arrays, model_path, text, llama_bin, n_needed):
    # A prefix of the text is enough and keeps tokenizing quick; cut at a space, not inside a word.
    head = text[:n_needed * 8]
    head = head[:head.rfind(" ")] if " " in head else head
    if kv["general.architecture"] == "opt":
        from tokenizers import Tokenizer, models, pre_tokenizers
        vocab = {s: i for i, s in enumerate(arrays["tokenizer.ggml.tokens"])}
        merges = [tuple(m.split(" ", 1)) for m in arrays["tokenizer.ggml.merges"]]
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        ids = tok.encode(head).ids
    else:
        out = subprocess.run([os.path.join(llama_bin, "llama-tokenize"), "-m", model_path, "--stdin", "--ids",
                              "--no-bos", "--log-disable"], input=head, capture_output=True, text=True, check=True)
        ids = json.loads(out.stdout.strip().splitlines()[-1])
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("text")
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    kv, arrays, t = read_gguf(args.model)
    arch = kv["general.architecture"]
    model = {"llama": llama_model, "bloom": bloom_model, "opt": opt_model}[arch](kv, t).eval()
    add_bos = kv.get("tokenizer.ggml.add_bos_token", arch in ("llama", "opt"))
    bos = kv.get("tokenizer.ggml.bos_token_id")
    ids = tokens(kv, arrays, args.model, open(args.text, encoding="utf-8").read(), args.llama_bin,
                 args.ctx * args.chunks)
    if add_bos:  # llama-perplexity tokenizes the whole text with BOS first, then overwrites each chunk's first token
        ids = [bos] + ids
    n_chunks = min(args.chunks, len(ids) // args.ctx)
    peak = {}

    def hook(name):
        def f(_mod, inp, _out):
            x = inp[0].detach().reshape(-1, inp[0].shape[-1]).abs().amax(dim=0)
            peak[name] = torch.maximum(peak[name], x) if name in peak else x
        return f

    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.split(".")[-1] in HF_SITE:
            mod.register_forward_hook(hook(name))
    nll, scored = 0.0, 0
    with torch.no_grad():
        for c in range(n_chunks):
            chunk = list(ids[c * args.ctx:(c + 1) * args.ctx])
            if add_bos:
                chunk[0] = bos
            logp = torch.log_softmax(model(torch.tensor([chunk])).logits[0].double(), dim=-1)
            # scored as llama-perplexity does (second half of each chunk), so that the figure can be
            # compared with aq-perplexity's: a check that the model was loaded right
            half = args.ctx // 2
            nll -= float(logp[half:-1].gather(1, torch.tensor(chunk[half + 1:])[:, None]).sum())
            scored += args.ctx - half - 1
    stats = {}
    for name, x in peak.items():
        parts = name.split(".")
        layer = next(int(p) for p in parts if p.isdigit())
        site = HF_SITE[parts[-1]]
        x = x.numpy().astype(np.float64)
        stats.setdefault(layer, {})[site] = {"max_over_median": float(x.max() / np.median(x)),
                                             "max": float(x.max()), "argmax": int(x.argmax())}
    result = {"model": os.path.basename(args.model), "arch": arch, "tokens": n_chunks * args.ctx,
              "ppl": float(np.exp(nll / scored)),
              "layers": [stats[i] for i in sorted(stats)]}
    if args.json:
        json.dump(result, open(args.json, "w"), indent=1)
    print(f"{arch}: {n_chunks} chunks of {args.ctx}, perplexity {result['ppl']:.4f} (second halves)")
    for i, s in enumerate(result["layers"]):
        print(f"layer {i}: " + "  ".join(f"{k} {s[k]['max_over_median']:.1f}" for k in SITES if k in s))


if __name__ == "__main__":
    main()
