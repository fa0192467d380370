#!/usr/bin/env python3
"""Cut a small LLaMA GGUF test model out of a bigger F32 one (tools only).

Used by tools/make_llamacpp_fixtures.sh to make the F32 source that llama.cpp's
llama-quantize then turns into every weight type under data/llamacpp/.

  llamacpp_fixture_model.py IN.gguf OUT.gguf [--layers N] [--vocab V]
                            [--drop-output] [--name NAME]

--layers N     keep blocks 0..N-1 (llama.block_count is rewritten), plus
               output_norm and the output head.
--vocab V      keep V tokens of a SentencePiece-BPE vocabulary: every special
               (unknown/control) and byte (<0xNN>) token, every single-character
               normal token, then the lowest-id (= most frequent, highest score)
               merged pieces until V tokens are kept.  Kept tokens keep their
               relative order; ids are renumbered 0..V-1 (specials, bytes and the
               first merges keep their ids, the single characters move down).
               token_embd / output rows are selected with the same map, and
               tokenizer.ggml.tokens / scores / token_type follow it.  Every other
               tokenizer key is copied unchanged.  0 keeps the whole vocabulary.
--drop-output  remove output.weight: llama.cpp then uses token_embd.weight as
               the output head (tied embeddings).
--name NAME    general.name of the new file.

Needs llama.cpp's gguf-py (pip package `gguf`, or llama.cpp/gguf-py on
PYTHONPATH) and numpy.  Only F32 inputs are supported (the input is the model
we train and ship, models/austen-6m.gguf).
"""
import argparse
import re
import sys

import numpy as np

import gguf
from gguf import GGUFReader, GGUFValueType, GGMLQuantizationType


def field_value(f):
    """Python value of a ReaderField (scalar, str, or list)."""
    t = f.types[0]
    if t == GGUFValueType.ARRAY:
        sub = f.types[1]
        if sub == GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [f.parts[i].tolist()[0] for i in f.data]
    if t == GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    return f.parts[f.data[0]].tolist()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=0)
    ap.add_argument("--drop-output", action="store_true")
    ap.add_argument("--name", default=None)
    a = ap.parse_args()

    r = GGUFReader(a.inp)
    arch = field_value(r.fields["general.architecture"])
    n_layer_in = field_value(r.fields[f"{arch}.block_count"])
    if not 1 <= a.layers <= n_layer_in:
        sys.exit(f"--layers must be in 1..{n_layer_in}")

    tokens = field_value(r.fields["tokenizer.ggml.tokens"])
    n_vocab_in = len(tokens)
    if a.vocab:
        ttype = field_value(r.fields["tokenizer.ggml.token_type"])
        keep = set(i for i, t in enumerate(ttype) if t != 1)                   # unknown, control, byte, ...
        keep |= set(i for i, t in enumerate(ttype) if t == 1 and len(tokens[i]) == 1)
        for i in range(n_vocab_in):                                           # most frequent merges first
            if len(keep) >= a.vocab:
                break
            keep.add(i)
        if len(keep) != a.vocab:
            sys.exit(f"cannot keep exactly {a.vocab} tokens ({len(keep)} are required)")
        kept = sorted(keep)
    else:
        kept = list(range(n_vocab_in))
    kept_idx = np.array(kept, dtype=np.int64)

    w = gguf.GGUFWriter(a.out, arch)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        v = field_value(f)
        t = f.types[0]
        if name == f"{arch}.block_count":
            v = a.layers
        elif name == "general.name" and a.name:
            v = a.name
        elif name == f"{arch}.vocab_size":
            v = len(kept)
        elif name in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
            v = [v[i] for i in kept]
        elif name.startswith("tokenizer.ggml.") and name.endswith("_token_id"):
            if v not in keep_map(kept):
                sys.exit(f"{name}={v} is not kept")
            v = keep_map(kept)[v]
        if t == GGUFValueType.ARRAY:
            w.add_array(name, v)
        else:
            w.add_key_value(name, v, t)
    if a.name and "general.name" not in r.fields:
        w.add_string("general.name", a.name)

    blk = re.compile(r"^blk\.(\d+)\.")
    for t in r.tensors:
        if t.tensor_type != GGMLQuantizationType.F32:
            sys.exit(f"{t.name}: only F32 inputs are supported")
        m = blk.match(t.name)
        if m and int(m.group(1)) >= a.layers:
            continue
        if t.name == "output.weight" and a.drop_output:
            continue
        data = np.array(t.data, dtype=np.float32)            # numpy shape = reversed GGUF shape
        if t.name in ("token_embd.weight", "output.weight"):
            if data.shape[0] != n_vocab_in:
                sys.exit(f"{t.name}: expected {n_vocab_in} rows, found {data.shape}")
            data = np.ascontiguousarray(data[kept_idx])
        w.add_tensor(t.name, data)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


_km_cache = {}


def keep_map(kept):
    key = id(kept)
    if key not in _km_cache:
        _km_cache[key] = {old: new for new, old in enumerate(kept)}
    return _km_cache[key]


if __name__ == "__main__":
    main()
