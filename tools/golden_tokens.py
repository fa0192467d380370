#!/usr/bin/python3
"""Write golden token ids from SentencePiece for the tokenizer test.

usage: golden_tokens.py TOKENIZER_MODEL [OUT]   (OUT: data/golden-tokens.txt)

Each line is `<text as a JSON string>\\t<space-separated ids>`. The GGUF
export declares add_space_prefix = true while the SentencePiece model itself
adds no dummy prefix, so llama.cpp's algorithm on `text` must equal
SentencePiece on " " + text; that is what we record (no BOS). Texts hold no
newline so the file stays one case per line, and no U+2581, which would
decode as a space.
"""
import json
import sys

import sentencepiece

TEXTS = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    "Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition,",
    "\"My dear Mr. Bennet,\" said his lady to him one day, \"have you heard that Netherfield Park is let at last?\"",
    "Mr. Darcy",
    "Elizabeth",
    "the",
    "a",
    "I",
    ".",
    "",
    " ",
    "   ",
    "two  spaces and   three",
    " leading space",
    "trailing space ",
    "Hello, world!",
    "Catherine Morland; Mrs. Allen -- and Henry Tilney's sister.",
    "She was nineteen in 1811, and he was 28; they married on the 3rd of May.",
    "12345 67890 3.14159 1,000,000",
    "Why? Because! (Indeed.) [Yes] {no} <maybe>",
    "email: jane@austen.org, path: /home/jane/pride_and_prejudice.txt",
    "antidisestablishmentarianism",
    "Quixotic zephyrs juxtapose vexed bumpkins.",
    "supercalifragilisticexpialidocious",
    "café naïve façade résumé",
    "Émile à Paris, señor, über, Ærøskøbing",
    "日本語のテキスト",
    "Привет, мир",
    "emoji: 😀🎉👍🏽",
    "mixed 日本 and é and 😀 together",
    "<s> and </s> and <unk> as plain text",
    "<0x41> is not a byte token here",
    "tabs\tbetween\twords",
    "CAPITALS AND lowercase AND MiXeD cAsE",
    "Mr. Knightley, a sensible man about seven or eight-and-thirty, was not only a very old and intimate friend of the family,",
    "\"Oh! Mr. Bingley,\" cried Mrs. Bennet.",
    "----====****____",
    "Miss Bates's conversation was remarkable for its length.",
    "Sense and Sensibility; Pride and Prejudice; Persuasion; Northanger Abbey; Mansfield Park",
    "x",
    "\u00a0non-breaking\u00a0space",
]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out_path = sys.argv[2] if len(sys.argv) == 3 else "data/golden-tokens.txt"
    sp = sentencepiece.SentencePieceProcessor(model_file=sys.argv[1])
    with open(out_path, "w", encoding="utf-8", newline="\n") as out:
        for text in TEXTS:
            assert "\n" not in text and "\u2581" not in text
            # llama.cpp gives no tokens at all for empty text, not even the prefix.
            ids = sp.encode(" " + text) if text else []
            out.write(json.dumps(text, ensure_ascii=False) + "\t" + " ".join(map(str, ids)) + "\n")


if __name__ == "__main__":
    main()
