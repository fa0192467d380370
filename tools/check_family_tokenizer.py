#!/usr/bin/env python3
"""Check a family tokenizer against llama.cpp's: token ids of whole files
(no BOS, special-token text as plain text) from `tokenizers` and from
llama-tokenize must be identical.

usage: check_family_tokenizer.py {bloom,opt} TOKENIZER_JSON LLAMA_TOKENIZE TEXT...

llama.cpp has no `opt` architecture, so the tokenizer keys are written into a
vocabulary-only GGUF declaring general.architecture = gpt2 (llama-tokenize
loads only the vocabulary; the architecture name must merely be known)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_family_gguf import add_tokenizer  # noqa: E402
from family_tokenizer import encode, load_tokenizer  # noqa: E402
from gguf_writer import STRING, GGUFWriter  # noqa: E402


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    fam, tok_path, llama_tokenize, texts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    tok = load_tokenizer(tok_path)
    ok = True
    with tempfile.TemporaryDirectory() as d:
        gguf = os.path.join(d, "vocab.gguf")
        w = GGUFWriter()
        w.add("general.architecture", STRING, "gpt2")
        add_tokenizer(w, tok, fam)
        w.write(gguf)
        for path in texts:
            ours = encode(tok, fam, open(path, encoding="utf-8").read(), bos=False)
            out = subprocess.run([llama_tokenize, "-m", gguf, "-f", path, "--ids", "--no-bos",
                                  "--no-parse-special", "--log-disable"],
                                 capture_output=True, text=True, check=True).stdout
            theirs = json.loads(out.strip().splitlines()[-1])
            same = ours == theirs
            ok &= same
            print(f"{fam} {path}: {len(ours)} tokens, llama.cpp {len(theirs)}: {'same' if same else 'DIFFERENT'}")
            if not same:
                i = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
                print(f"  first difference at {i}: ours {ours[i:i + 6]} llama.cpp {theirs[i:i + 6]}"
                      f" ({tok.decode(ours[max(0, i - 4):i + 6])!r})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
