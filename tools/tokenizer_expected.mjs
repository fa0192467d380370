// Token ids from transformers.js (@lenml/tokenizers) for the byte-level BPE
// tests; run by tools/tokenizer_expected.py, which compares them with
// Hugging Face `tokenizers` and writes data/tokenizers/expected/.
//
// Usage: node tools/tokenizer_expected.mjs JOBS.json OUT.json NODE_MODULES
//   JOBS.json (from tokenizer_expected.py): the corpus folder, its files, and
//   per vocabulary the oracle tokenizer.json for special tokens parsed ("on")
//   and not ("off"), and its tokenizer_config.json.
//   OUT.json: {vocab: {file: {off: [ids], on: [ids]}}}
//
// A valid UTF-8 file goes through encode(text, {add_special_tokens: false}).
// A file with bytes that are not UTF-8 goes, as in tokenizer_expected.py,
// through the tokenizer's own pre-tokenizer and BPE model: pre-tokenize the
// text with U+FFFD in place of each bad byte, map the pieces back to the
// original bytes, byte-level encode them, and run the model on each.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [jobsPath, outPath, nodeModules] = process.argv.slice(2);
const { TokenizerLoader } = await import(
  pathToFileURL(path.join(nodeModules, "@lenml/tokenizers/dist/main.mjs")).href);

function bytesToUnicode() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const enc = new Array(256), dec = new Map();
  bs.forEach((b, i) => {
    enc[b] = String.fromCodePoint(cs[i]);
    dec.set(enc[b], b);
  });
  return [enc, dec];
}
const [BYTE_ENC, BYTE_DEC] = bytesToUnicode();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

// [raw bytes, text] per character; a byte that does not start a well-formed
// sequence is a unit of its own whose text is U+FFFD.
function utf8Units(data) {
  const units = [];
  for (let i = 0; i < data.length;) {
    const b = data[i];
    const n = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n && i + n <= data.length) {
      try {
        const s = strict.decode(data.subarray(i, i + n));
        units.push([data.subarray(i, i + n), s]);
        i += n;
        continue;
      } catch (e) { /* not well-formed */ }
    }
    units.push([data.subarray(i, i + 1), "\ufffd"]);
    i++;
  }
  return units;
}

function componentEncode(tok, data) {
  const units = utf8Units(data);
  const text = units.map((u) => u[1]).join("");
  const pieces = tok.pre_tokenizer(text);
  const ids = [];
  let u = 0;
  for (const mapped of pieces) {
    const want = Array.from(mapped, (c) => BYTE_DEC.get(c));
    let got = [], raw = [];
    while (got.length < want.length) {
      got.push(...utf8.encode(units[u][1]));
      raw.push(...units[u][0]);
      u++;
    }
    if (got.join(",") !== want.join(",")) throw new Error("piece does not end on a character boundary");
    const word = raw.map((b) => BYTE_ENC[b]).join("");
    // A byte whose character is not in the vocabulary (SmolLM2 lacks 21) comes back as null: dropped,
    // as HF's BPE without an unknown token drops it.
    ids.push(...tok.model.convert_tokens_to_ids(tok.model([word]).filter((t) => t !== null)));
  }
  if (u !== units.length) throw new Error("pre-tokenizer dropped text");
  return ids;
}

const jobs = JSON.parse(fs.readFileSync(jobsPath, "utf8"));
const out = {};
for (const job of jobs.jobs) {
  const config = JSON.parse(fs.readFileSync(job.config, "utf8"));
  const tk = {};
  for (const mode of ["on", "off"]) {
    tk[mode] = TokenizerLoader.fromPreTrained({
      tokenizerJSON: JSON.parse(fs.readFileSync(job.json[mode], "utf8")),
      tokenizerConfig: config,
    });
  }
  out[job.name] = {};
  for (const file of jobs.files) {
    const data = new Uint8Array(fs.readFileSync(path.join(jobs.corpus, file)));
    let text = null;
    try {
      text = strict.decode(data);
    } catch (e) { /* not UTF-8 */ }
    const r = {};
    for (const mode of ["off", "on"]) {
      r[mode] = text !== null
        ? tk[mode].encode(text, { add_special_tokens: false })
        : componentEncode(tk[mode], data);
    }
    out[job.name][file] = r;
  }
  console.log(`transformers.js: ${job.name} done`);
}
fs.writeFileSync(outPath, JSON.stringify(out));
