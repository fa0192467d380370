#!/usr/bin/env python3
"""Extract Jane Austen's six novels from Debian's r-cran-janeaustenr package.

Rdata.rdb holds six back-to-back blocks: a 4-byte big-endian length, then a
zlib stream holding an R-serialized character vector, one string per line of
the novel. We keep paragraphs (blank lines in the source separate them) and
write one paragraph per line, so the training text and the held-out text have
the same form. The last ~10% of each novel's paragraphs (its closing chapters)
is held out.

usage: extract_austen.py RDATA.rdb OUT_DIR
writes OUT_DIR/austen-train.txt and OUT_DIR/austen-test.txt
"""
import struct
import sys
import zlib

HELD_OUT_FRACTION = 0.10


def read_r_strings(payload):
    # R serialization of a STRSXP: header 'X\n', version words, then the
    # vector's flags word and length, then per element a CHARSXP flags word
    # (low byte 9) and a byte length (-1 for NA).
    assert payload[:2] == b"X\n"
    pos = 2
    strings = []
    while pos + 8 <= len(payload):
        flags, length = struct.unpack(">Ii", payload[pos:pos + 8])
        if flags & 0xFF == 9:
            pos += 8
            if length < 0:
                strings.append("")
                continue
            strings.append(payload[pos:pos + length].decode("utf-8", "replace"))
            pos += length
        else:
            pos += 4
    return strings


def paragraphs(lines):
    out, cur = [], []
    for line in lines:
        line = line.strip()
        if line:
            cur.append(line)
        elif cur:
            out.append(" ".join(cur))
            cur = []
    if cur:
        out.append(" ".join(cur))
    return out


def main():
    rdb, out_dir = sys.argv[1], sys.argv[2]
    data = open(rdb, "rb").read()
    # Each block: 4-byte big-endian *uncompressed* length, then a zlib stream
    # whose end we find by decompressing it.
    pos, novels = 0, []
    while pos + 4 <= len(data):
        d = zlib.decompressobj()
        payload = d.decompress(data[pos + 4:])
        pos = len(data) - len(d.unused_data)
        if payload[:2] != b"X\n":
            continue
        paras = paragraphs(read_r_strings(payload))
        if len(paras) > 500:
            novels.append(paras)
    train, test = [], []
    for paras in novels:
        cut = int(len(paras) * (1 - HELD_OUT_FRACTION))
        train.append("\n".join(paras[:cut]) + "\n")
        test.append("\n".join(paras[cut:]) + "\n")
    open(f"{out_dir}/austen-train.txt", "w").write("".join(train))
    open(f"{out_dir}/austen-test.txt", "w").write("".join(test))
    print(f"novels {len(novels)}, train {sum(map(len, train))} chars, test {sum(map(len, test))} chars")


if __name__ == "__main__":
    main()
