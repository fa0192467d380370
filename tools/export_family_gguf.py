#!/usr/bin/env python3
"""Export a checkpoint from train_family.py and its byte-level BPE tokenizer
as a GGUF file (F32 tensors): `bloom` in llama.cpp's conventions, `opt` in
ours (tools/OPT_FORMAT.md).

usage: export_family_gguf.py CKPT TOKENIZER_JSON OUT_GGUF [--name NAME]

BLOOM's fused QKV is written as llama.cpp reads it: rows [0, d) are Q, [d, 2d)
K, [2d, 3d) V, each head-major (head h owns rows h*head_dim .. +head_dim).
That is our Linear's own layout, so no reordering (Hugging Face's BLOOM
interleaves q,k,v per head, which llama.cpp's converter undoes).
The output head is tied to the embedding in both models. llama.cpp's bloom
requires an `output.weight` tensor, so the bloom file carries a copy of the
embedding under that name (as llama.cpp's converter writes it). The opt file
has no `output.weight`: its head is token_embd.weight."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from family_model import ALIBI_MAX_BIAS, OPT_POS_OFFSET, load_checkpoint  # noqa: E402
from family_tokenizer import FAMILIES, load_tokenizer, vocab_and_merges  # noqa: E402
from gguf_writer import BOOL, FLOAT32, INT32, STRING, UINT32, GGUFWriter  # noqa: E402


def add_tokenizer(w, tok, fam):
    """The tokenizer.ggml.* keys of family `fam` (bloom or opt)."""
    spec = FAMILIES[fam]
    tokens, merges = vocab_and_merges(tok)
    specials = set(spec["specials"])
    w.add("tokenizer.ggml.model", STRING, "gpt2")
    w.add("tokenizer.ggml.pre", STRING, spec["pre"])
    w.add_array("tokenizer.ggml.tokens", STRING, tokens)
    # control 3 for the family's special tokens, normal 1 for the rest
    w.add_array("tokenizer.ggml.token_type", INT32, [3 if t in specials else 1 for t in tokens])
    w.add_array("tokenizer.ggml.merges", STRING, merges)
    w.add("tokenizer.ggml.bos_token_id", UINT32, tok.token_to_id(spec["bos"]))
    w.add("tokenizer.ggml.eos_token_id", UINT32, tok.token_to_id(spec["eos"]))
    w.add("tokenizer.ggml.unknown_token_id", UINT32, tok.token_to_id(spec["unk"]))
    w.add("tokenizer.ggml.padding_token_id", UINT32, tok.token_to_id(spec["pad"]))
    w.add("tokenizer.ggml.add_bos_token", BOOL, spec["add_bos"])
    w.add("tokenizer.ggml.add_eos_token", BOOL, False)
    return len(tokens)


def export(model, tok, path, name):
    cfg = model.cfg
    fam = cfg.family
    a = fam
    w = GGUFWriter()
    w.add("general.architecture", STRING, a)
    w.add("general.name", STRING, name)
    w.add("general.file_type", UINT32, 0)
    w.add(f"{a}.context_length", UINT32, cfg.max_seq_len)
    w.add(f"{a}.embedding_length", UINT32, cfg.dim)
    w.add(f"{a}.block_count", UINT32, cfg.n_layers)
    w.add(f"{a}.feed_forward_length", UINT32, cfg.ffn_dim)
    w.add(f"{a}.attention.head_count", UINT32, cfg.n_heads)
    if fam == "bloom":
        w.add(f"{a}.attention.head_count_kv", UINT32, cfg.n_heads)
    w.add(f"{a}.attention.layer_norm_epsilon", FLOAT32, cfg.norm_eps)
    w.add(f"{a}.vocab_size", UINT32, cfg.vocab_size)

    assert add_tokenizer(w, tok, fam) == cfg.vocab_size

    def t(name, tensor):
        w.add_tensor(name, tensor.detach().float().numpy())

    t("token_embd.weight", model.tok_emb.weight)
    if fam == "bloom":
        t("token_embd_norm.weight", model.emb_norm.weight)
        t("token_embd_norm.bias", model.emb_norm.bias)
    else:
        assert model.pos_emb.weight.shape[0] == cfg.max_seq_len + OPT_POS_OFFSET
        t("position_embd.weight", model.pos_emb.weight)
    for i, b in enumerate(model.blocks):
        p = f"blk.{i}."
        t(p + "attn_norm.weight", b.attn_norm.weight)
        t(p + "attn_norm.bias", b.attn_norm.bias)
        if fam == "bloom":
            t(p + "attn_qkv.weight", b.wqkv.weight)
            t(p + "attn_qkv.bias", b.wqkv.bias)
        else:
            for n, lin in (("attn_q", b.wq), ("attn_k", b.wk), ("attn_v", b.wv)):
                t(p + n + ".weight", lin.weight)
                t(p + n + ".bias", lin.bias)
        t(p + "attn_output.weight", b.wo.weight)
        t(p + "attn_output.bias", b.wo.bias)
        t(p + "ffn_norm.weight", b.ffn_norm.weight)
        t(p + "ffn_norm.bias", b.ffn_norm.bias)
        t(p + "ffn_up.weight", b.w_up.weight)
        t(p + "ffn_up.bias", b.w_up.bias)
        t(p + "ffn_down.weight", b.w_down.weight)
        t(p + "ffn_down.bias", b.w_down.bias)
    t("output_norm.weight", model.norm.weight)
    t("output_norm.bias", model.norm.bias)
    if fam == "bloom":
        t("output.weight", model.tok_emb.weight)
    w.write(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("tokenizer")
    ap.add_argument("out")
    ap.add_argument("--name")
    args = ap.parse_args()
    model = load_checkpoint(args.ckpt)
    name = args.name or f"austen-{model.cfg.family}"
    export(model, load_tokenizer(args.tokenizer), args.out, name)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    assert ALIBI_MAX_BIAS == 8.0  # llama.cpp's bloom hard-codes f_max_alibi_bias = 8


if __name__ == "__main__":
    main()
