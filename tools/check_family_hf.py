#!/usr/bin/env python3
"""Independent check of a bloom or opt GGUF file: read it with llama.cpp's
gguf-py (PyPI `gguf`), load its tensors into Hugging Face transformers'
BloomForCausalLM / OPTForCausalLM, and compare their logits with the PyTorch
golden logits (golden_family.py). This checks the file's layout (BLOOM's fused
QKV row order, OPT's position offset and q scaling, tied heads) against the
reference implementations, not against our own model code.

usage: check_family_hf.py GGUF GOLDEN_LOGITS_BIN
Needs a venv with transformers (4.44.2 works with Debian's torch 1.13) and gguf."""
import struct
import sys

import numpy as np
import torch
from gguf import GGUFReader


def read_gguf(path):
    r = GGUFReader(path)
    kv = {}
    for f in r.fields.values():
        if not f.types or f.name.startswith("tokenizer.ggml.") and f.name.endswith(("tokens", "merges", "token_type")):
            continue
        v = f.parts[f.data[0]]
        kv[f.name] = bytes(v).decode() if f.types[0].name == "STRING" else v[0].item()
    tensors = {}
    for t in r.tensors:
        shape = list(reversed([int(x) for x in t.shape]))
        tensors[t.name] = torch.from_numpy(np.array(t.data, dtype=np.float32).reshape(shape))
    return kv, tensors


def bloom_model(kv, t):
    from transformers import BloomConfig, BloomForCausalLM
    d, nh, nl = kv["bloom.embedding_length"], kv["bloom.attention.head_count"], kv["bloom.block_count"]
    assert kv["bloom.feed_forward_length"] == 4 * d  # HF BLOOM's MLP is 4 x hidden
    cfg = BloomConfig(vocab_size=t["token_embd.weight"].shape[0], hidden_size=d, n_layer=nl, n_head=nh,
                      layer_norm_epsilon=kv["bloom.attention.layer_norm_epsilon"], hidden_dropout=0.0,
                      attention_dropout=0.0, apply_residual_connection_post_layernorm=False,
                      tie_word_embeddings=True)
    m = BloomForCausalLM(cfg)
    hd = d // nh
    sd = {"transformer.word_embeddings.weight": t["token_embd.weight"],
          "transformer.word_embeddings_layernorm.weight": t["token_embd_norm.weight"],
          "transformer.word_embeddings_layernorm.bias": t["token_embd_norm.bias"],
          "transformer.ln_f.weight": t["output_norm.weight"],
          "transformer.ln_f.bias": t["output_norm.bias"],
          "lm_head.weight": t["token_embd.weight"]}
    assert torch.equal(t["output.weight"], t["token_embd.weight"])
    for i in range(nl):
        p, q = f"blk.{i}.", f"transformer.h.{i}."
        # llama.cpp: rows [Q; K; V], head-major in each. HF: per head [q, k, v].
        w = t[p + "attn_qkv.weight"].view(3, nh, hd, d).transpose(0, 1).reshape(3 * d, d)
        b = t[p + "attn_qkv.bias"].view(3, nh, hd).transpose(0, 1).reshape(3 * d)
        sd.update({
            q + "input_layernorm.weight": t[p + "attn_norm.weight"], q + "input_layernorm.bias": t[p + "attn_norm.bias"],
            q + "self_attention.query_key_value.weight": w, q + "self_attention.query_key_value.bias": b,
            q + "self_attention.dense.weight": t[p + "attn_output.weight"],
            q + "self_attention.dense.bias": t[p + "attn_output.bias"],
            q + "post_attention_layernorm.weight": t[p + "ffn_norm.weight"],
            q + "post_attention_layernorm.bias": t[p + "ffn_norm.bias"],
            q + "mlp.dense_h_to_4h.weight": t[p + "ffn_up.weight"], q + "mlp.dense_h_to_4h.bias": t[p + "ffn_up.bias"],
            q + "mlp.dense_4h_to_h.weight": t[p + "ffn_down.weight"], q + "mlp.dense_4h_to_h.bias": t[p + "ffn_down.bias"],
        })
    m.load_state_dict(sd, strict=True)
    return m


def opt_model(kv, t):
    from transformers import OPTConfig, OPTForCausalLM
    d, nh, nl = kv["opt.embedding_length"], kv["opt.attention.head_count"], kv["opt.block_count"]
    n_ctx = kv["opt.context_length"]
    assert t["position_embd.weight"].shape[0] == n_ctx + 2
    assert abs(kv["opt.attention.layer_norm_epsilon"] - 1e-5) < 1e-9  # HF OPT's LayerNorms use the default eps
    cfg = OPTConfig(vocab_size=t["token_embd.weight"].shape[0], hidden_size=d, num_hidden_layers=nl,
                    ffn_dim=kv["opt.feed_forward_length"], num_attention_heads=nh, max_position_embeddings=n_ctx,
                    do_layer_norm_before=True, word_embed_proj_dim=d, activation_function="relu",
                    enable_bias=True, layer_norm_elementwise_affine=True, dropout=0.0, attention_dropout=0.0,
                    pad_token_id=kv["tokenizer.ggml.padding_token_id"], bos_token_id=kv["tokenizer.ggml.bos_token_id"],
                    eos_token_id=kv["tokenizer.ggml.eos_token_id"], tie_word_embeddings=True)
    m = OPTForCausalLM(cfg)
    sd = {"model.decoder.embed_tokens.weight": t["token_embd.weight"],
          "model.decoder.embed_positions.weight": t["position_embd.weight"],
          "model.decoder.final_layer_norm.weight": t["output_norm.weight"],
          "model.decoder.final_layer_norm.bias": t["output_norm.bias"],
          "lm_head.weight": t["token_embd.weight"]}
    assert "output.weight" not in t
    for i in range(nl):
        p, q = f"blk.{i}.", f"model.decoder.layers.{i}."
        for ours, theirs in (("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"),
                             ("attn_v", "self_attn.v_proj"), ("attn_output", "self_attn.out_proj"),
                             ("attn_norm", "self_attn_layer_norm"), ("ffn_norm", "final_layer_norm"),
                             ("ffn_up", "fc1"), ("ffn_down", "fc2")):
            sd[q + theirs + ".weight"] = t[p + ours + ".weight"]
            sd[q + theirs + ".bias"] = t[p + ours + ".bias"]
    m.load_state_dict(sd, strict=True)
    return m


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    kv, t = read_gguf(sys.argv[1])
    arch = kv["general.architecture"]
    model = {"bloom": bloom_model, "opt": opt_model}[arch](kv, t).eval()
    data = open(sys.argv[2], "rb").read()
    n_cases, n_vocab = struct.unpack_from("<II", data, 0)
    off, worst = 8, 0.0
    for c in range(n_cases):
        (n,) = struct.unpack_from("<I", data, off)
        off += 4
        ids = np.frombuffer(data, "<i4", n, off).astype(np.int64)
        off += 4 * n
        want = np.frombuffer(data, "<f4", n * n_vocab, off).reshape(n, n_vocab)
        off += 4 * n * n_vocab
        with torch.no_grad():
            got = model(torch.from_numpy(ids)[None]).logits[0].numpy()
        err = float(np.abs(got - want).max())
        worst = max(worst, err)
        print(f"{arch} case {c}: {n} tokens, max |logit difference| {err:.2e} "
              f"(logit range {want.min():.1f} .. {want.max():.1f})")
    ok = worst < 1e-3
    print(f"{arch}: transformers' {type(model).__name__} {'matches' if ok else 'DOES NOT match'} the golden logits")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
