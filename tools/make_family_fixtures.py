#!/usr/bin/env python3
"""Small random-weight GGUF files of every family the library runs, written
with llama.cpp's own gguf-py (PyPI `gguf`), in llama.cpp's conventions (keys
and tensor names of src/llama-arch.cpp, the shapes llama-model.cpp asks for)
or, for opt, tools/OPT_FORMAT.md's. tests/test_families.c compares our
logits on them with llama.cpp's (opt: transformers' OPTForCausalLM), which
tools/make_family_fixtures.sh computes.

usage: make_family_fixtures.py OUT_DIR

Writes OUT_DIR/{llama3,qwen2,gpt2,bloom,opt}.gguf and OUT_DIR/<name>.tokens
(the token ids the goldens are computed for, BOS first). Each file is a few
hundred KB: 2 layers, width 64 (bloom 96 with 6 heads, so that ALiBi's slopes
take their path for head counts that are not a power of two), F32 (bloom
F16, whose fused QKV is then cut in place from blocks of rows).

  llama3  RMSNorm, RoPE base 500000 with Llama 3's rope_freqs.weight (as
          convert_hf_to_gguf.py computes it), grouped-query attention, tied head
  qwen2   NeoX RoPE base 1e6, Q/K/V biases, GQA, separate head
  gpt2    learned positions, fused QKV, LayerNorm, GELU, biases everywhere
  bloom   embedding LayerNorm, fused QKV, ALiBi, GELU, biases, output.weight a
          copy of token_embd (as llama.cpp's converter writes it)
  opt     learned positions at p + 2, LayerNorm, ReLU, separate Q/K/V, biases,
          tied head (no output.weight)
The vocabularies: llama3 reuses the 512-piece SentencePiece vocabulary of
data/llamacpp/austen-l1-f32.gguf; the others get a byte-level BPE vocabulary
(GPT-2's 256 byte characters, a few merges learned from a sentence, the
family's special tokens)."""
import math
import os
import sys

import numpy as np
from gguf import GGUFReader, GGUFWriter, GGMLQuantizationType

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_TOKENS = 40
LAYERS = 2


def bytes_to_unicode():
    """GPT-2's map from bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def bpe_vocab(specials, n_merges=48):
    """specials first, then the 256 byte characters, then merges learned greedily from a sentence."""
    b2u = bytes_to_unicode()
    text = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
            "must be in want of a wife. However little known the feelings or views of such a man may be")
    words = [[b2u[b] for b in (w if i == 0 else " " + w).encode()] for i, w in enumerate(text.split(" "))]
    tokens = list(specials) + [b2u[b] for b in range(256)]
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        (a, b), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append(f"{a} {b}")
        tokens.append(a + b)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if w[i] == a and w[i + 1] == b:
                    w[i:i + 2] = [a + b]
                else:
                    i += 1
    types = [3] * len(specials) + [1] * (len(tokens) - len(specials))
    return tokens, types, merges


def add_bpe_tokenizer(w, pre, specials, bos, eos, add_bos, unk=None, pad=None):
    tokens, types, merges = bpe_vocab(specials)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    if unk is not None:
        w.add_unk_token_id(unk)
    if pad is not None:
        w.add_pad_token_id(pad)
    w.add_add_bos_token(add_bos)
    w.add_add_eos_token(False)
    return len(tokens)


def add_spm_tokenizer(w):
    """The SentencePiece vocabulary of the llama.cpp fixtures (512 pieces)."""
    r = GGUFReader(os.path.join(ROOT, "data/llamacpp/austen-l1-f32.gguf"))
    f = r.fields
    tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode() for i in f["tokenizer.ggml.tokens"].data]
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data])
    w.add_token_types([int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    return len(tokens)


class Weights:
    """Seeded random tensors of sizes that keep activations and logits O(1)."""

    def __init__(self, seed, dtype=np.float32):
        self.rng = np.random.default_rng(seed)
        self.dtype = dtype

    def matrix(self, rows, cols, scale=1.0):
        return (self.rng.standard_normal((rows, cols)) * scale / math.sqrt(cols)).astype(self.dtype)

    def embedding(self, rows, cols, scale=0.5):
        return (self.rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    def norm(self, n):
        return (1.0 + 0.2 * self.rng.standard_normal(n)).astype(np.float32)

    def bias(self, n, scale=0.1):
        return (scale * self.rng.standard_normal(n)).astype(np.float32)


def header(path, arch, dim, heads, kv_heads, ffn, ctx, eps_key, eps=1e-5):
    w = GGUFWriter(path, arch)
    w.add_name(f"random-{arch}")
    w.add_context_length(ctx)
    w.add_embedding_length(dim)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    if kv_heads is not None:
        w.add_head_count_kv(kv_heads)
    (w.add_layer_norm_rms_eps if eps_key == "rms" else w.add_layer_norm_eps)(eps)
    w.add_file_type(0)
    return w


def finish(w, vocab, out, name, rng, bos):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    # BOS, then random ids past the special tokens
    tokens = [bos] + list(rng.integers(4, vocab, N_TOKENS - 1))
    with open(os.path.join(out, name + ".tokens"), "w") as f:
        f.write(" ".join(str(int(t)) for t in tokens) + "\n")


def llama3_rope_factors(head_dim, base, factor=8.0, low=1.0, high=4.0, old_ctx=64):
    """convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors for rope_type llama3."""
    freqs = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    out = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def make_llama3(out):
    dim, heads, kv, ffn, base = 64, 4, 2, 128, 500000.0
    hd = dim // heads
    path = os.path.join(out, "llama3.gguf")
    w = header(path, "llama", dim, heads, kv, ffn, 256, "rms")
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(base)
    vocab = add_spm_tokenizer(w)
    r = Weights(3)
    w.add_tensor("token_embd.weight", r.embedding(vocab, dim))
    w.add_tensor("rope_freqs.weight", llama3_rope_factors(hd, base))
    for i in range(LAYERS):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", r.norm(dim))
        w.add_tensor(p + "attn_q.weight", r.matrix(heads * hd, dim, 2.0))
        w.add_tensor(p + "attn_k.weight", r.matrix(kv * hd, dim, 2.0))
        w.add_tensor(p + "attn_v.weight", r.matrix(kv * hd, dim))
        w.add_tensor(p + "attn_output.weight", r.matrix(dim, heads * hd))
        w.add_tensor(p + "ffn_norm.weight", r.norm(dim))
        w.add_tensor(p + "ffn_gate.weight", r.matrix(ffn, dim))
        w.add_tensor(p + "ffn_up.weight", r.matrix(ffn, dim))
        w.add_tensor(p + "ffn_down.weight", r.matrix(dim, ffn))
    w.add_tensor("output_norm.weight", r.norm(dim))
    finish(w, vocab, out, "llama3", r.rng, 1)


def make_qwen2(out):
    dim, heads, kv, ffn = 64, 4, 2, 128
    hd = dim // heads
    path = os.path.join(out, "qwen2.gguf")
    w = header(path, "qwen2", dim, heads, kv, ffn, 256, "rms", 1e-6)
    w.add_rope_freq_base(1000000.0)
    vocab = add_bpe_tokenizer(w, "qwen2", ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"], 0, 0, False)
    r = Weights(4)
    w.add_tensor("token_embd.weight", r.embedding(vocab, dim))
    for i in range(LAYERS):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", r.norm(dim))
        for n, rows, scale in (("attn_q", heads * hd, 2.0), ("attn_k", kv * hd, 2.0), ("attn_v", kv * hd, 1.0)):
            w.add_tensor(p + n + ".weight", r.matrix(rows, dim, scale))
            w.add_tensor(p + n + ".bias", r.bias(rows, 0.5))
        w.add_tensor(p + "attn_output.weight", r.matrix(dim, heads * hd))
        w.add_tensor(p + "ffn_norm.weight", r.norm(dim))
        w.add_tensor(p + "ffn_gate.weight", r.matrix(ffn, dim))
        w.add_tensor(p + "ffn_up.weight", r.matrix(ffn, dim))
        w.add_tensor(p + "ffn_down.weight", r.matrix(dim, ffn))
    w.add_tensor("output_norm.weight", r.norm(dim))
    w.add_tensor("output.weight", r.matrix(vocab, dim, 3.0))
    finish(w, vocab, out, "qwen2", r.rng, 0)


def layer_norm_block(w, r, p, dim, ffn, fused, dtype):
    """The tensors of one LayerNorm / GELU-or-ReLU block with biases everywhere."""
    w.add_tensor(p + "attn_norm.weight", r.norm(dim))
    w.add_tensor(p + "attn_norm.bias", r.bias(dim))
    if fused:
        w.add_tensor(p + "attn_qkv.weight", np.concatenate([r.matrix(dim, dim, 2.0), r.matrix(dim, dim, 2.0),
                                                            r.matrix(dim, dim)]).astype(dtype))
        w.add_tensor(p + "attn_qkv.bias", r.bias(3 * dim, 0.5))
    else:
        for n, scale in (("attn_q", 2.0), ("attn_k", 2.0), ("attn_v", 1.0)):
            w.add_tensor(p + n + ".weight", r.matrix(dim, dim, scale))
            w.add_tensor(p + n + ".bias", r.bias(dim, 0.5))
    w.add_tensor(p + "attn_output.weight", r.matrix(dim, dim))
    w.add_tensor(p + "attn_output.bias", r.bias(dim))
    w.add_tensor(p + "ffn_norm.weight", r.norm(dim))
    w.add_tensor(p + "ffn_norm.bias", r.bias(dim))
    w.add_tensor(p + "ffn_up.weight", r.matrix(ffn, dim, 2.0))
    w.add_tensor(p + "ffn_up.bias", r.bias(ffn))
    w.add_tensor(p + "ffn_down.weight", r.matrix(dim, ffn))
    w.add_tensor(p + "ffn_down.bias", r.bias(dim))


def make_gpt2(out):
    dim, heads, ffn, ctx = 64, 4, 128, 64
    path = os.path.join(out, "gpt2.gguf")
    w = header(path, "gpt2", dim, heads, None, ffn, ctx, "layer")
    vocab = add_bpe_tokenizer(w, "gpt-2", ["<|endoftext|>"], 0, 0, False)
    r = Weights(5)
    w.add_tensor("token_embd.weight", r.embedding(vocab, dim))
    w.add_tensor("position_embd.weight", r.embedding(ctx, dim, 0.3))
    for i in range(LAYERS):
        layer_norm_block(w, r, f"blk.{i}.", dim, ffn, True, np.float32)
    w.add_tensor("output_norm.weight", r.norm(dim))
    w.add_tensor("output_norm.bias", r.bias(dim))
    w.add_tensor("output.weight", r.matrix(vocab, dim, 3.0))
    finish(w, vocab, out, "gpt2", r.rng, 0)


def make_bloom(out):
    dim, heads, ffn = 96, 6, 4 * 96  # HF BLOOM fixes the MLP at 4x
    path = os.path.join(out, "bloom.gguf")
    w = header(path, "bloom", dim, heads, heads, ffn, 128, "layer")
    vocab = add_bpe_tokenizer(w, "bloom", ["<unk>", "<s>", "</s>", "<pad>"], 1, 2, False, unk=0, pad=3)
    r = Weights(6, np.float16)
    embd = r.embedding(vocab, dim, 0.3)
    w.add_tensor("token_embd.weight", embd)
    w.add_tensor("token_embd_norm.weight", r.norm(dim))
    w.add_tensor("token_embd_norm.bias", r.bias(dim))
    for i in range(LAYERS):
        layer_norm_block(w, r, f"blk.{i}.", dim, ffn, True, np.float16)
    w.add_tensor("output_norm.weight", r.norm(dim))
    w.add_tensor("output_norm.bias", r.bias(dim))
    w.add_tensor("output.weight", embd)
    finish(w, vocab, out, "bloom", r.rng, 1)


def make_opt(out):
    dim, heads, ffn, ctx = 64, 4, 128, 64
    path = os.path.join(out, "opt.gguf")
    w = header(path, "opt", dim, heads, None, ffn, ctx, "layer")
    vocab = add_bpe_tokenizer(w, "gpt-2", ["<s>", "<pad>", "</s>", "<unk>"], 2, 2, True, unk=3, pad=1)
    r = Weights(7)
    w.add_tensor("token_embd.weight", r.embedding(vocab, dim))
    w.add_tensor("position_embd.weight", r.embedding(ctx + 2, dim, 0.3))
    for i in range(LAYERS):
        layer_norm_block(w, r, f"blk.{i}.", dim, ffn, False, np.float32)
    w.add_tensor("output_norm.weight", r.norm(dim))
    w.add_tensor("output_norm.bias", r.bias(dim))
    finish(w, vocab, out, "opt", r.rng, 2)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for make in (make_llama3, make_qwen2, make_gpt2, make_bloom, make_opt):
        make(out)
    for f in sorted(os.listdir(out)):
        print(f"{f:14s} {os.path.getsize(os.path.join(out, f)):8d} bytes")


if __name__ == "__main__":
    main()
