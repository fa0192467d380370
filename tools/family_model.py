"""BLOOM- and OPT-architecture models in PyTorch, written to match what the
GGUF files declare (llama.cpp's `bloom` graph; our `opt`, tools/OPT_FORMAT.md).

BLOOM (llama.cpp build_bloom):
  x = LayerNorm_emb(E[tok])                       (token_embd_norm, with bias)
  per layer:  h = LN(x); [q;k;v] = W_qkv h + b    (rows: all of Q, then K, then V;
                                                   head-major inside each block)
              s = q.k / sqrt(head_dim) - slope_h * (i - j),  j <= i
              x = x + W_o softmax(s) v + b_o
              x = x + W_down gelu_tanh(W_up LN(x) + b_up) + b_down
  logits = E LN_out(x)                            (tied to the embedding)
  ALiBi slopes with max bias 8 (llama.cpp's f_max_alibi_bias; HF BLOOM's
  build_alibi_tensor is the same formula): n2 = 2^floor(log2(n_head)),
  m0 = 2^(-8/n2), m1 = 2^(-4/n2); head h < n2: m0^(h+1), else m1^(2(h-n2)+1).
  GELU: 0.5 x (1 + tanh(0.79788456 (x + 0.044715 x^3))) (BLOOM's bloom_gelu,
  ggml_gelu).

OPT (HF OPTForCausalLM with do_layer_norm_before=True, as OPT-125m/1.3b):
  x = E[tok] + P[pos + 2]                         (position table: ctx + 2 rows)
  per layer:  h = LN(x); q = (W_q h + b_q) * head_dim^-0.5; k = W_k h + b_k;
              v = W_v h + b_v; x = x + W_o softmax(q.k, causal) v + b_o
              x = x + W_down relu(W_up LN(x) + b_up) + b_down
  logits = E LN_out(x)                            (tied)

All LayerNorms have weight and bias, eps 1e-5."""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

OPT_POS_OFFSET = 2
ALIBI_MAX_BIAS = 8.0


@dataclass
class FamilyConfig:
    family: str = "bloom"        # "bloom" or "opt"
    vocab_size: int = 4096
    dim: int = 256
    n_layers: int = 4
    n_heads: int = 8
    ffn_dim: int = 1024
    max_seq_len: int = 512
    norm_eps: float = 1e-5


def alibi_slopes(n_heads, max_bias=ALIBI_MAX_BIAS):
    n2 = 2 ** int(math.floor(math.log2(n_heads)))
    m0 = 2.0 ** (-max_bias / n2)
    m1 = 2.0 ** (-(max_bias / 2.0) / n2)
    return [m0 ** (h + 1) if h < n2 else m1 ** (2 * (h - n2) + 1) for h in range(n_heads)]


def gelu_tanh(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): PyTorch's fused kernel
    of exactly this formula."""
    return F.gelu(x, approximate="tanh")


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.attn_norm = nn.LayerNorm(d, eps=cfg.norm_eps)
        if cfg.family == "bloom":
            self.wqkv = nn.Linear(d, 3 * d)
        else:
            self.wq = nn.Linear(d, d)
            self.wk = nn.Linear(d, d)
            self.wv = nn.Linear(d, d)
        self.wo = nn.Linear(d, d)
        self.ffn_norm = nn.LayerNorm(d, eps=cfg.norm_eps)
        self.w_up = nn.Linear(d, cfg.ffn_dim)
        self.w_down = nn.Linear(cfg.ffn_dim, d)

    def forward(self, x, bias):
        # bias: (heads or 1, t, t) additive attention bias incl. the causal mask
        b, t, d = x.shape
        nh = self.cfg.n_heads
        hd = d // nh
        h = self.attn_norm(x)
        if self.cfg.family == "bloom":
            q, k, v = self.wqkv(h).split(d, dim=-1)
        else:
            q, k, v = self.wq(h), self.wk(h), self.wv(h)
        # Both scale q.k by head_dim^-0.5; OPT applies it to q after the bias,
        # llama.cpp's BLOOM inside the softmax: the same up to rounding.
        q = q * hd ** -0.5
        q, k, v = (z.view(b, t, nh, hd).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-2, -1) + bias
        att = F.softmax(scores, dim=-1) @ v
        x = x + self.wo(att.transpose(1, 2).reshape(b, t, d))
        h = self.w_up(self.ffn_norm(x))
        h = gelu_tanh(h) if self.cfg.family == "bloom" else F.relu(h)
        return x + self.w_down(h)


class FamilyModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg.family in ("bloom", "opt")
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.dim)
        if cfg.family == "bloom":
            self.emb_norm = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        else:
            self.pos_emb = nn.Embedding(cfg.max_seq_len + OPT_POS_OFFSET, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        t = cfg.max_seq_len
        causal = torch.full((t, t), float("-inf")).triu(1)
        if cfg.family == "bloom":
            pos = torch.arange(t)
            dist = (pos[:, None] - pos[None, :]).float()          # i - j
            slopes = torch.tensor(alibi_slopes(cfg.n_heads), dtype=torch.float32)
            bias = -slopes[:, None, None] * dist[None] + causal[None]
        else:
            bias = causal[None]
        self.register_buffer("attn_bias", bias, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg.n_layers) if name.endswith(("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith(".bias") and not "norm" in name:
                nn.init.zeros_(p)

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.tok_emb(tokens)
        if self.cfg.family == "bloom":
            x = self.emb_norm(x)
        else:
            x = x + self.pos_emb(torch.arange(t) + OPT_POS_OFFSET)[None]
        bias = self.attn_bias[:, :t, :t]
        for blk in self.blocks:
            x = blk(x, bias)
        return self.norm(x) @ self.tok_emb.weight.t()


def load_checkpoint(path):
    ck = torch.load(path, map_location="cpu")
    model = FamilyModel(FamilyConfig(**ck["cfg"]))
    model.load_state_dict(ck["model"])
    model.eval()
    return model
