#!/usr/bin/env python3
"""Writes the byte-level BPE tokenizer test corpus, data/tokenizers/corpus/.

Small files, each aimed at one part of a GPT-2-style tokenizer: the
pre-tokenizer's regular expressions (contractions, letters, digits, runs of
white space, punctuation), the byte-level mapping (accented Latin, CJK,
Cyrillic, Arabic, emoji with zero-width joiners), special-token strings, and
bytes that are not UTF-8. The expected ids for each file and vocabulary come
from tools/tokenizer_expected.py.

Every file is valid UTF-8 except invalid-utf8.txt. Text is NFC except
latin-nfd.txt (Qwen's tokenizer.json normalizes to NFC; a GGUF carries no
normalizer, see tools/tokenizer_expected.py).

Usage: tools/tokenizer_corpus.py [OUT_DIR]   (default data/tokenizers/corpus)
"""
import os
import sys
import unicodedata

FILES = {}

FILES["prose.txt"] = """\
It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.

However little known the feelings or views of such a man may be on his first entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is considered the rightful property of some one or other of their daughters.
"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is let at last?"
Mr. Bennet replied that he had not.

The quick brown fox jumps over the lazy dog -- twice! (Or was it three times?) Nobody knows; the dog isn't saying.
E-mail: someone@example.com; web: https://example.org/path?q=1&r=two#frag
Prices rose 3.5% in Q4 (from $1,234.56 to $1,277.77), i.e. about +43.21 USD.
"Quoted," 'single-quoted', «guillemets», „low-high“, “curly” and ‘curly’ too...
Ellipsis… em—dash, en–dash, non-breaking\u00a0space, bullet • point, © ® ™ § ¶ † ‡.
ALL CAPS SHOUTING AND MiXeD cAsE wOrDs, CamelCaseIdentifiers and snake_case_names.
"""

FILES["code-c.c"] = """\
#include <stdio.h>
#include <stdlib.h>

/* Sums the first n squares. */
static long sum_squares(int n)
{
    long total = 0;
    for (int i = 1; i <= n; i++) {
        total += (long)i * i;
    }
    return total;
}

int main(int argc, char **argv)
{
\tint n = argc > 1 ? atoi(argv[1]) : 10;
\tif (n < 0) {
\t\tfprintf(stderr, "n must be >= 0, got %d\\n", n);
\t\treturn EXIT_FAILURE;
\t}
\tprintf("sum of squares 1..%d = %ld\\n", n, sum_squares(n));
\tunsigned char mask = 0xFFu & ~(1u << 3);
\treturn mask == 0xF7 ? 0 : 1; // done
}
"""

FILES["code-python.py"] = """\
import math
from collections import defaultdict


class Counter:
    \"\"\"Counts words; doesn't care about case.\"\"\"

    def __init__(self, words=None):
        self.counts = defaultdict(int)
        for w in words or []:
            self.add(w)

    def add(self, word: str) -> None:
        self.counts[word.lower()] += 1

    def top(self, k=3):
        items = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return items[:k]


if __name__ == "__main__":
    c = Counter("the cat and the hat and THE bat".split())
    print(c.top())          # [('the', 3), ('and', 2), ('bat', 1)]
    print(f"{math.pi:.5f} {2**64 - 1:,} {1e-9!r}")
    data = {'a': [1, 2, 3], "b": {"c": None}}
    assert data['b']["c"] is None, 'oops'
\t# a tab-indented comment
        # eight spaces, then trailing spaces   
"""

FILES["whitespace.txt"] = (
    "one space two  spaces three   spaces four    spaces\n"
    "tab\there two\t\ttabs\t \tmixed \t \n"
    "\n\n\nthree blank lines above\r\nCRLF line\r\n\r\nand a lone\rCR\n"
    "                                        forty spaces before this\n"
    "trailing spaces and tabs   \t\t   \n"
    "\t\t\t\tfour tabs\n"
    " leading space\n  two leading\n"
    "no-break\u00a0space, ideographic\u3000space, en\u2002space, thin\u2009space\n"
    "line\u2028separator and paragraph\u2029separator\n"
    "next-line\u0085control, vertical\x0btab and form\x0cfeed\n"
    "zero\u200bwidth space, byte\ufefforder mark, mongolian\u180evowel separator\n"
    "ends with spaces and newlines  \n \n\n   "
)

FILES["numbers.txt"] = """\
0 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890
3.14159265358979 -42 +7 1e10 6.022e23 0x1F 0b1010 007 1,000,000 1.000.000,50
31415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679
phone: +1 (555) 010-9999; date 2024-02-29T23:59:59Z; version v1.2.3-rc4
abc123def 4th 21st 1990s 10km 3x4 R2D2 H2O
Arabic-Indic ٠١٢٣٤٥٦٧٨٩ fullwidth １２３４５ superscript x² x³ fraction ½ ¾ roman Ⅻ circled ①②
"""

FILES["contractions.txt"] = """\
I'm sure you'll see it's what we've said: they're here, he'd go, she's gone, don't, can't, won't.
I'M SURE YOU'LL SEE IT'S WHAT WE'VE SAID: THEY'RE HERE, HE'D GO, SHE'S GONE, DON'T, CAN'T, WON'T.
Mixed: I'M it'S we'Ve you'Ll they'rE he'D 'S 'T 'RE 'VE 'M 'LL 'D 's 't 're 've 'm 'll 'd
Curly apostrophes: I’m it’s don’t we’ve — and 'twas the night; rock 'n' roll; the '90s; O'Brien's.
Quotes around words: 'hello' ''double'' '''triple''' ''''''' and a'b'c'd.
Long s: it'ſ odd; Kelvin: 'K and 'k.
"""

FILES["latin.txt"] = """\
Français : « Ça, c'est déjà l'été ! » — garçon, œuvre, naïve, Noël, où, âme.
Deutsch: Größe, Straße, Übermäßig, ÄÖÜ äöü ß ẞ.
Español: ¿Qué tal? ¡Olé! mañana, niño, corazón, pingüino.
Português: ação, coração, pão, você, avó.
Polski: zażółć gęślą jaźń; Čeština: příliš žluťoučký kůň úpěl ďábelské ódy.
Tiếng Việt: Tôi có thể ăn thủy tinh mà không hại gì.
Íslenska: Þú ert æðislegur; Dansk: Ærø Øst Ål.
Ligatures and others: ﬁ ﬂ Ĳ ĳ ŉ ǅ ǈ ǋ ǲ.
"""

# The same kind of text, decomposed (NFD): base letters plus combining marks.
FILES["latin-nfd.txt"] = unicodedata.normalize(
    "NFD", "Déjà vu, naïve café, Ångström, São Paulo, Ñandú, Zürich, Tiếng Việt.\n"
)

FILES["cjk.txt"] = """\
中文：我想在苹果公司工作，今天天气很好。人工智能正在改变世界。
日本語：吾輩は猫である。名前はまだ無い。カタカナとひらがなと漢字。ｶﾀｶﾅ半角。
한국어: 안녕하세요, 세계! 대한민국의 수도는 서울입니다.
混合：Hello世界，123个苹果；「引用」『二重』【括弧】〜～。
"""

FILES["cyrillic.txt"] = """\
Русский: Съешь же ещё этих мягких французских булок, да выпей чаю.
Українська: Чуєш їх, доцю, га? Кумедна ж ти, прощайся без ґольфів!
Български: нещо на Български; Српски: Љубазни фењерџија.
ВЕРХНИЙ РЕГИСТР и смешанный РеГиСтР, числа 2024 г., №5.
"""

FILES["arabic.txt"] = """\
العربية: نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر.
فارسی: من می‌توانم بدون احساس درد شیشه بخورم.
עברית: אני יכול לאכול זכוכית וזה לא מזיק לי.
Mixed direction: abc \u202bعربي\u202c def, \u200fRLM\u200e LRM, numbers ١٢٣ and 123.
हिन्दी: मैं काँच खा सकता हूँ। ภาษาไทย: ฉันกินกระจกได้ กาน់តែពិសេស
"""

FILES["emoji.txt"] = """\
Emoji: 😀 😃 😄 😁 🚀 🦙🦙 ✅ ❤️ ♥ ☺️
ZWJ sequences: 👨‍👩‍👧‍👦 👩‍💻 🏳️‍🌈 🧑🏽‍🚀 😶‍🌫️ 👁️‍🗨️
Skin tones: 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿; flags: 🇺🇸 🇯🇵 🇫🇷 🇺🇳; keycaps: 1️⃣ #️⃣ *️⃣
Text then emoji:done✅, (🎉party🎉), "🙂".
Math and symbols: ∀x∈ℝ: x²≥0 ⇒ √(x²)=|x|; ≤ ≥ ≠ ≈ ∞ ∑ ∫ → ← ↔ ★ ☆ ♪ ♫ ⌘ ⌥ ⎋.
Rare planes: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝 𠜎𠜱𠝹 𓀀𓀁 🀄 🂡.
"""

FILES["special.txt"] = """\
<|endoftext|>Once upon a time<|endoftext|>
<|im_start|>system
You are a helpful assistant.<|im_end|>
<|im_start|>user
Hello, how are you?<|im_end|>
<|im_start|>assistant
<think>
Thinking...
</think>
Fine, thanks!<|im_end|>
<|begin_of_text|><|start_header_id|>user<|end_header_id|>

Hi!<|eot_id|>
<s> sentence </s> <unk> <pad> <|fim_prefix|>def f():<|fim_suffix|>
    return 1<|fim_middle|>
Partial and broken: <|endof <|endoftext| <|im_start <im_end|> < |im_end| > <<|endoftext|>> <|endoftext|><|endoftext|>
text<|endoftext|>text <|endoftext|> spaced <|im_end|>
<tool_call>{"name": "f"}</tool_call>
"""

# Long runs of one character: one pre-token of thousands of symbols for the
# BPE merge loop (where a naive merge loop turns quadratic).
FILES["long-runs.txt"] = (
    "a" * 2000 + " " + "ab" * 700 + "\n" + " " * 3000 + "x\n" + "7" * 1000 + "\n"
    + "!" * 1500 + "\n" * 500 + "\t" * 300 + "=" * 400 + " " + "😀" * 200 + "\n"
    + "ä" * 500 + "\n" + "中" * 300 + " " * 1000
)

# Bytes that are not UTF-8 between ordinary text: a lone continuation byte,
# truncated sequences, overlong encodings, UTF-16 surrogates, code points
# above U+10FFFF, the bytes C0 C1 F5..FF, and a valid character next to
# each. No special-token strings here (see tools/tokenizer_expected.py).
INVALID = b"".join([
    b"plain ascii then a lone continuation \x80 byte\n",
    b"truncated two-byte \xc3 and three-byte \xe2\x82 and four-byte \xf0\x9f\x98 sequences\n",
    b"overlong slash \xc0\xaf and NUL \xc0\x80 and \xe0\x80\xaf\n",
    b"surrogates \xed\xa0\x80\xed\xb0\x80 high and low\n",
    b"too large \xf4\x90\x80\x80 and \xf5\x80\x80\x80 and \xf8\x88\x80\x80\x80\n",
    b"bytes \xfe\xff\xc1\xbf and a run \xff\xff\xff\xff\xff\xff of FF\n",
    b"mixed caf\xe9 (Latin-1) and caf\xc3\xa9 (UTF-8), na\xefve\n",
    b"\x80\x81\x82abc\x83 \x84 \x85\x86 123\x87456 'd\x88 '\x89s\n",
    b"valid emoji \xf0\x9f\x98\x80 then cut \xf0\x9f\x98 then valid \xe2\x9c\x85\n",
    b"\xe4\xb8\xad\xe6\x96\x87\xe4\xb8 \xe6\x96\x87\n",
    b"ends with a truncated sequence \xe2\x82",
])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "data", "tokenizers", "corpus")
    os.makedirs(out, exist_ok=True)
    for name, text in FILES.items():
        if name != "latin-nfd.txt":
            assert unicodedata.is_normalized("NFC", text), name
        with open(os.path.join(out, name), "wb") as f:
            f.write(text.encode("utf-8"))
    with open(os.path.join(out, "invalid-utf8.txt"), "wb") as f:
        f.write(INVALID)
    try:
        INVALID.decode("utf-8")
        raise SystemExit("invalid-utf8.txt decodes as UTF-8")
    except UnicodeDecodeError:
        pass
    print(f"{len(FILES) + 1} files in {out}")


if __name__ == "__main__":
    main()
