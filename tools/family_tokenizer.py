"""Byte-level BPE vocabularies for the BLOOM- and OPT-architecture models,
trained with Hugging Face `tokenizers` (pinned: see TOKENIZERS_VERSION) on the
Austen training text, exactly as the GGUF's `tokenizer.ggml.pre` declares:

  bloom: `tokenizer.ggml.pre = "bloom"`. One regex split (matches and the gaps
         between them are both pieces, HF's "isolated" behaviour), then bytes
         mapped to GPT-2's printable characters with no further regex:
             ` ?[^(\\s|.,!?…。，、।۔،)]+`
         (the characters inside the class are literal: "(", "|" and ")" are
         separators too, as in BLOOM's own tokenizer.json, whose class
         `[^(\\s|[.,!?…。，、।۔،])]` is the same set written with a nested
         class).
  opt:   `tokenizer.ggml.pre = "gpt-2"` (NOT "default": llama.cpp's "default"
         adds three extra splits). GPT-2's regex, which HF's ByteLevel
         pre-tokenizer applies with use_regex=True:
             `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`

No normalizer, no space prefix, newlines are ordinary bytes (U+010A "Ċ" in
the byte-to-character map). The training text is given to the trainer as one
string, so no piece is cut at an artificial boundary: the same split as
`encode(whole_file)` and as llama.cpp on the whole file.

Special tokens follow each family's layout:
  bloom: <unk>=0 <s>=1 </s>=2 <pad>=3; BOS <s>, EOS </s>; no BOS added
         (BLOOM's tokenizer adds none; llama.cpp's BPE default is the same).
  opt:   <s>=0 <pad>=1 </s>=2 <unk>=3; BOS = EOS = </s> (id 2), and BOS is
         added at the start (OPT's tokenizer prepends </s>).
"""
import json

TOKENIZERS_VERSION = "0.23.3"

BLOOM_SPLIT = " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"

FAMILIES = {
    "bloom": {
        "specials": ["<unk>", "<s>", "</s>", "<pad>"],
        "bos": "<s>", "eos": "</s>", "unk": "<unk>", "pad": "<pad>",
        "add_bos": False, "pre": "bloom",
    },
    "opt": {
        "specials": ["<s>", "<pad>", "</s>", "<unk>"],
        "bos": "</s>", "eos": "</s>", "unk": "<unk>", "pad": "<pad>",
        "add_bos": True, "pre": "gpt-2",
    },
}


def _pre_tokenizer(family):
    from tokenizers import Regex, pre_tokenizers
    if family == "bloom":
        return pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(BLOOM_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    if family == "opt":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    raise ValueError(family)


def check_version():
    import tokenizers
    if tokenizers.__version__ != TOKENIZERS_VERSION:
        raise SystemExit(f"tokenizers {tokenizers.__version__} found, {TOKENIZERS_VERSION} pinned: "
                         f"pip install tokenizers=={TOKENIZERS_VERSION}")


def train_tokenizer(family, train_txt, out_json, vocab_size=4096):
    """Train and save a tokenizer.json. BPE training in `tokenizers` is
    deterministic (merges ordered by count, ties by pair ids; the alphabet is
    sorted), so no seed is needed; make_family_models.sh checks that two runs
    agree."""
    check_version()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    spec = FAMILIES[family]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer(family)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False,
        special_tokens=spec["specials"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = open(train_txt, encoding="utf-8").read()
    tok.train_from_iterator([text], trainer=trainer, length=1)
    assert tok.get_vocab_size() == vocab_size, tok.get_vocab_size()
    tok.encode_special_tokens = True
    for i, s in enumerate(spec["specials"]):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    tok.save(out_json)
    return tok


def load_tokenizer(path):
    check_version()
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    # Special-token text such as "<s>" is plain text, as in llama.cpp's
    # tokenizer without parse_special (llama-perplexity, our C tokenizer).
    tok.encode_special_tokens = True
    return tok


def encode(tok, family, text, bos=None):
    """Token ids of `text` as llama.cpp's tokenizer gives them (with BOS if the
    family adds one, or if `bos` says so)."""
    spec = FAMILIES[family]
    if bos is None:
        bos = spec["add_bos"]
    ids = tok.encode(text, add_special_tokens=False).ids if text else []
    return ([tok.token_to_id(spec["bos"])] if bos else []) + ids


def vocab_and_merges(tok):
    """(tokens by id, merges as 'a b' strings in rank order) for GGUF."""
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    tokens = [None] * len(vocab)
    for piece, i in vocab.items():
        tokens[i] = piece
    assert None not in tokens
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    for m in merges:
        assert m.count(" ") == 1, m
    return tokens, merges


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 4 or sys.argv[1] not in FAMILIES:
        sys.exit("usage: family_tokenizer.py {bloom,opt} TRAIN_TXT OUT_JSON")
    train_tokenizer(sys.argv[1], sys.argv[2], sys.argv[3])
