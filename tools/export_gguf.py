#!/usr/bin/env python3
"""Export a checkpoint from train.py and its SentencePiece tokenizer as a GGUF
file in llama.cpp's LLAMA conventions (F32 tensors).

usage: export_gguf.py CKPT TOKENIZER_MODEL OUT_GGUF [--name NAME]
Our rotary embedding rotates consecutive pairs, which is llama.cpp's LLAMA
convention, so Q and K rows are written unpermuted."""
import argparse
import os
import sys

import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_writer import BOOL, FLOAT32, INT32, STRING, UINT32, GGUFWriter  # noqa: E402
from model import Config, Llama  # noqa: E402


def load_checkpoint(path):
    ck = torch.load(path, map_location="cpu")
    model = Llama(Config(**ck["cfg"]))
    model.load_state_dict(ck["model"])
    model.eval()
    return model


def token_type(sp, i):
    if sp.is_unknown(i):
        return 2
    if sp.is_control(i):
        return 3
    if sp.is_byte(i):
        return 6
    if sp.is_unused(i):
        return 5
    return 1


def export(model, sp, path, name):
    cfg = model.cfg
    w = GGUFWriter()
    w.add("general.architecture", STRING, "llama")
    w.add("general.name", STRING, name)
    w.add("general.file_type", UINT32, 0)
    w.add("llama.context_length", UINT32, cfg.max_seq_len)
    w.add("llama.embedding_length", UINT32, cfg.dim)
    w.add("llama.block_count", UINT32, cfg.n_layers)
    w.add("llama.feed_forward_length", UINT32, cfg.ffn_dim)
    w.add("llama.rope.dimension_count", UINT32, cfg.dim // cfg.n_heads)
    w.add("llama.attention.head_count", UINT32, cfg.n_heads)
    w.add("llama.attention.head_count_kv", UINT32, cfg.n_kv_heads)
    w.add("llama.attention.layer_norm_rms_epsilon", FLOAT32, cfg.norm_eps)
    w.add("llama.rope.freq_base", FLOAT32, cfg.rope_theta)
    w.add("llama.vocab_size", UINT32, cfg.vocab_size)
    n = sp.get_piece_size()
    w.add("tokenizer.ggml.model", STRING, "llama")
    w.add_array("tokenizer.ggml.tokens", STRING, [sp.id_to_piece(i) for i in range(n)])
    w.add_array("tokenizer.ggml.scores", FLOAT32, [sp.get_score(i) for i in range(n)])
    w.add_array("tokenizer.ggml.token_type", INT32, [token_type(sp, i) for i in range(n)])
    w.add("tokenizer.ggml.bos_token_id", UINT32, sp.bos_id())
    w.add("tokenizer.ggml.eos_token_id", UINT32, sp.eos_id())
    w.add("tokenizer.ggml.unknown_token_id", UINT32, sp.unk_id())
    w.add("tokenizer.ggml.add_bos_token", BOOL, True)
    w.add("tokenizer.ggml.add_eos_token", BOOL, False)
    w.add("tokenizer.ggml.add_space_prefix", BOOL, True)

    def t(name, tensor):
        w.add_tensor(name, tensor.detach().float().numpy())

    t("token_embd.weight", model.tok_emb.weight)
    for i, b in enumerate(model.blocks):
        p = f"blk.{i}."
        t(p + "attn_norm.weight", b.attn_norm.weight)
        t(p + "attn_q.weight", b.wq.weight)
        t(p + "attn_k.weight", b.wk.weight)
        t(p + "attn_v.weight", b.wv.weight)
        t(p + "attn_output.weight", b.wo.weight)
        t(p + "ffn_norm.weight", b.ffn_norm.weight)
        t(p + "ffn_gate.weight", b.w_gate.weight)
        t(p + "ffn_up.weight", b.w_up.weight)
        t(p + "ffn_down.weight", b.w_down.weight)
    t("output_norm.weight", model.norm.weight)
    t("output.weight", model.output.weight)
    w.write(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("tokenizer")
    ap.add_argument("out")
    ap.add_argument("--name", default="austen-6m")
    args = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    export(load_checkpoint(args.ckpt), sp, args.out, args.name)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
