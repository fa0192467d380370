#!/usr/bin/env python3
"""Compares data/tokenizers/expected/ with llama.cpp's llama-tokenize (a third
tokenizer, besides HF `tokenizers` and transformers.js) on the committed
vocabulary GGUFs, with and without special-token parsing, no BOS.

The pre-tokenizer variants on GPT-2's vocabulary get a copy of gpt2.gguf with
tokenizer.ggml.pre replaced (in WORK). Seen with llama.cpp c392e5094: every
file agrees in every set-up except invalid-utf8.txt, where llama-tokenize
aborts ("invalid codepoint").

Usage (venv with `gguf`):
  tools/tokenizer_check_llamacpp.py --llama-tokenize .../build/bin/llama-tokenize --work /tmp/tokwork
"""
import argparse
import json
import subprocess
from pathlib import Path

import gguf

ROOT = Path(__file__).resolve().parent.parent / "data" / "tokenizers"
SETUPS = [("gpt2", "gpt2.gguf", None), ("gpt2-pre-bloom", "gpt2.gguf", "bloom"),
          ("gpt2-pre-default", "gpt2.gguf", "default"), ("llama3", "llama3.gguf", None),
          ("qwen3", "qwen3.gguf", None), ("smollm2", "smollm2.gguf", None)]


def copy_with_pre(src: Path, pre: str, out: Path) -> None:
    r = gguf.GGUFReader(str(src))
    w = gguf.GGUFWriter(str(out), arch="llama")
    T = gguf.GGUFValueType
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        t = f.types[0]
        if k == "tokenizer.ggml.pre":
            w.add_string(k, pre)
        elif t == T.ARRAY:
            strings = f.types[-1] == T.STRING
            w.add_array(k, [bytes(f.parts[i]) if strings else f.parts[i].tolist()[0] for i in f.data])
        elif t == T.STRING:
            w.add_string(k, bytes(f.parts[f.data[0]]).decode())
        elif t == T.BOOL:
            w.add_bool(k, bool(f.parts[f.data[0]][0]))
        elif t == T.UINT32:
            w.add_uint32(k, int(f.parts[f.data[0]][0]))
        else:
            raise SystemExit(f"{k}: type {t} not copied")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def read_ids(path: Path):
    return [int(x) for x in path.read_text().split()] if path.exists() else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-tokenize", required=True)
    ap.add_argument("--work", required=True, type=Path)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    files = sorted(p.name for p in (ROOT / "corpus").iterdir() if not p.name.startswith("."))
    for name, g, pre in SETUPS:
        model = ROOT / g
        if pre:
            model = a.work / f"{name}.gguf"
            copy_with_pre(ROOT / g, pre, model)
        notes, agree = [], 0
        for fn in files:
            data = (ROOT / "corpus" / fn).read_bytes()
            for special in (False, True):
                args = [a.llama_tokenize, "-m", str(model), "--stdin", "--ids", "--no-bos", "--log-disable",
                        "--no-escape"] + ([] if special else ["--no-parse-special"])
                p = subprocess.run(args, input=data, capture_output=True)
                lines = p.stdout.decode("utf-8", "replace").strip().splitlines()
                mode = "special" if special else "plain"
                if not lines:
                    err = p.stderr.decode("utf-8", "replace").strip().splitlines()
                    notes.append(f"{fn} [{mode}]: llama-tokenize failed ({err[-1] if err else p.returncode})")
                    continue
                got = json.loads(lines[-1])
                d = ROOT / "expected" / name
                want = read_ids(d / (fn + (".special.ids" if special else ".ids"))) or read_ids(d / (fn + ".ids"))
                if got == want:
                    agree += 1
                else:
                    k = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                             min(len(got), len(want)))
                    notes.append(f"{fn} [{mode}]: first difference at {k}: llama.cpp {got[k:k + 4]}, "
                                 f"expected {want[k:k + 4]}")
        print(f"{name}: {agree}/{2 * len(files)} agree with llama.cpp")
        for n in notes:
            print("  " + n)


if __name__ == "__main__":
    main()
