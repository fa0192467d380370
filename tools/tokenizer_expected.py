#!/usr/bin/env python3
"""Expected token ids for the byte-level BPE tests, from two independent
tokenizers: Hugging Face `tokenizers` (Rust) and transformers.js
(@lenml/tokenizers, JavaScript, run by tools/tokenizer_expected.mjs).

For each vocabulary that tools/tokenizer_vocab_to_gguf.py listed in
WORK/vocabs.json and each file of data/tokenizers/corpus/, it writes
  data/tokenizers/expected/<vocab>/<file>.ids          special tokens not parsed
  data/tokenizers/expected/<vocab>/<file>.special.ids  special tokens parsed
                                                       (only where that differs)
Format: decimal token ids separated by white space (20 to a line), no BOS.
Only where both oracles agree; a disagreement is printed, and the Hugging Face
ids are written (HF's `tokenizers` is what these tokenizer.json files were
made with and what the models were trained with).

What "special tokens parsed" means (as llama.cpp, whose GGUF token types the
library reads): tokens of type CONTROL (3) or UNKNOWN (2) are cut out of the
text only when parsing is asked for; USER_DEFINED (4) ones (HF added tokens
that are not special, e.g. Qwen3's <think>) always are, as HF and llama.cpp
both do. The oracles get this from the tokenizer.json: "parsed" is the file as
it is, "not parsed" the file without the added tokens that the GGUF types 2
or 3.

Two deliberate departures from the tokenizer.json files, both because a GGUF
cannot say them and llama.cpp does not do them:
  - no normalizer: Qwen's tokenizer.json normalizes to NFC first. The ids
    with NFC are computed too and the files where they differ are printed
    (only latin-nfd.txt, whose text is decomposed);
  - bytes that are not UTF-8 (invalid-utf8.txt): a string cannot hold them,
    so the oracles cannot take that text as it is. Defined here, and in the
    library, as: for pre-tokenization each such byte is one U+FFFD (what
    llama.cpp turns it into), and the BPE then works on the original bytes.
    Both oracles do exactly that with their own pre-tokenizer and BPE model:
    pre-tokenize the text with U+FFFD in place of each bad byte, map every
    piece back to the original bytes, byte-level encode them, run the model.
    The same path run on the valid files must give the full encode's ids;
    that is checked.

Usage (venv with `tokenizers` and `gguf`; node for the .mjs):
  tools/tokenizer_expected.py --work /tmp/tokwork --npm /work/scratch/tok-npm/node_modules
"""
import argparse
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import gguf
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENC = bytes_to_unicode()
BYTE_DEC = {c: b for b, c in BYTE_ENC.items()}


def utf8_units(data: bytes):
    """(raw bytes, text) per character; a byte that does not start a
    well-formed UTF-8 sequence is a unit of its own with text U+FFFD."""
    units = []
    i = 0
    while i < len(data):
        b = data[i]
        n = 1 if b < 0x80 else 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        if n and i + n <= len(data):
            try:
                units.append((data[i:i + n], data[i:i + n].decode("utf-8")))
                i += n
                continue
            except UnicodeDecodeError:
                pass
        units.append((data[i:i + 1], "\ufffd"))
        i += 1
    return units


def component_encode(tok: Tokenizer, data: bytes):
    """Pre-tokenizer, then BPE model, on raw bytes (see the module doc)."""
    units = utf8_units(data)
    text = "".join(t for _, t in units)
    pieces = tok.pre_tokenizer.pre_tokenize_str(text)
    ids = []
    u = 0
    for mapped, _ in pieces:
        want = bytes(BYTE_DEC[c] for c in mapped)  # the piece in the U+FFFD text, as UTF-8
        got_text, raw = b"", b""
        while len(got_text) < len(want):
            r, t = units[u]
            got_text += t.encode("utf-8")
            raw += r
            u += 1
        if got_text != want:
            raise RuntimeError("pre-tokenizer piece does not end on a character boundary")
        ids += [t.id for t in tok.model.tokenize("".join(BYTE_ENC[b] for b in raw))]
    if u != len(units):
        raise RuntimeError("pre-tokenizer dropped text")
    return ids


def gguf_types(path: Path):
    r = gguf.GGUFReader(str(path))
    f = r.fields["tokenizer.ggml.token_type"]
    return [f.parts[i].tolist()[0] for i in f.data]


def write_ids(path: Path, ids):
    lines = [" ".join(map(str, ids[i:i + 20])) for i in range(0, len(ids), 20)]
    path.write_text("\n".join(lines) + "\n" if lines else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--npm", type=Path, help="node_modules with @lenml/tokenizers (runs tokenizer_expected.mjs)")
    ap.add_argument("--corpus", type=Path, default=ROOT / "data" / "tokenizers" / "corpus")
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "tokenizers" / "expected")
    a = ap.parse_args()

    vocabs = json.load(open(a.work / "vocabs.json"))
    files = sorted(p.name for p in a.corpus.iterdir() if p.is_file() and not p.name.startswith("."))

    # Oracle tokenizer.json files, shared with the JavaScript side.
    jobs = []
    for v in vocabs:
        d = Path(v["dir"])
        tj = json.load(open(d / "tokenizer.json", encoding="utf-8"))
        types = gguf_types(ROOT / "data" / "tokenizers" / v["gguf"])
        on = copy.deepcopy(tj)
        on["normalizer"] = None
        # Every added token also in the model's vocabulary, with its id: HF's `tokenizers` gives an added
        # token that the model does not have the next free id, whatever the "id" field says, so dropping
        # some from the list below would renumber the rest.
        for t in on["added_tokens"]:
            on["model"]["vocab"].setdefault(t["content"], t["id"])
        off = copy.deepcopy(on)
        off["added_tokens"] = [t for t in on["added_tokens"] if types[t["id"]] not in (2, 3)]
        paths = {}
        for mode, obj in (("on", on), ("off", off), ("hf", tj)):
            p = a.work / f"oracle-{v['name']}-{mode}.json"
            with open(p, "w", encoding="utf-8") as f:
                json.dump(obj, f, ensure_ascii=False)
            paths[mode] = str(p)
        jobs.append({"name": v["name"], "json": paths, "config": str(d / "tokenizer_config.json")})
    with open(a.work / "oracle-jobs.json", "w") as f:
        json.dump({"corpus": str(a.corpus), "files": files, "jobs": jobs}, f)

    js = None
    if a.npm:
        mjs = Path(__file__).resolve().parent / "tokenizer_expected.mjs"
        env = dict(os.environ, NODE_PATH=str(a.npm))
        subprocess.run(["node", str(mjs), str(a.work / "oracle-jobs.json"), str(a.work / "js-ids.json"), str(a.npm)],
                       check=True, env=env)
        js = json.load(open(a.work / "js-ids.json"))

    problems = 0
    disagreements = []
    for job in jobs:
        name = job["name"]
        tk = {m: Tokenizer.from_file(job["json"][m]) for m in ("on", "off", "hf")}
        out = a.out / name
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.ids"):
            old.unlink()
        n_tokens = 0
        for fn in files:
            data = (a.corpus / fn).read_bytes()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            ids = {}
            for mode in ("off", "on"):
                if text is not None:
                    ids[mode] = tk[mode].encode(text, add_special_tokens=False).ids
                    if mode == "off" and fn != "special.txt":
                        c = component_encode(tk[mode], data)
                        if c != ids[mode]:
                            print(f"  {name}/{fn}: component path differs from encode")
                            problems += 1
                else:
                    ids[mode] = component_encode(tk[mode], data)
                if js is not None:
                    j = js[name][fn][mode]
                    if j != ids[mode]:
                        k = next((i for i in range(min(len(j), len(ids[mode]))) if j[i] != ids[mode][i]),
                                 min(len(j), len(ids[mode])))
                        disagreements.append(f"{name}/{fn} [{mode}]")
                        print(f"  DISAGREE {name}/{fn} [{mode}]: HF {len(ids[mode])} ids, JS {len(j)}; first at {k}: "
                              f"HF {ids[mode][k:k + 6]} JS {j[k:k + 6]}")
            if text is not None:
                hf = tk["hf"].encode(text, add_special_tokens=False).ids
                if hf != ids["on"]:
                    print(f"  note {name}/{fn}: the tokenizer.json's normalizer changes the ids (not applied)")
            write_ids(out / (fn + ".ids"), ids["off"])
            if ids["on"] != ids["off"]:
                write_ids(out / (fn + ".special.ids"), ids["on"])
            n_tokens += len(ids["off"])
        print(f"{name}: {len(files)} files, {n_tokens} tokens" + (", HF and transformers.js compared" if js else ""))
    if disagreements:
        print(f"{len(disagreements)} disagreement(s) between HF and transformers.js (HF ids written): "
              + ", ".join(disagreements))
    if problems:
        print(f"{problems} problem(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
