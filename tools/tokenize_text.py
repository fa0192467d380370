"""Tokenize text exactly as llama.cpp's SPM tokenizer does with
add_space_prefix: one leading space, then each newline is a barrier that no
piece crosses (it becomes the byte token <0x0A>), and the text after a newline
gets no space prefix. The SentencePiece model is trained with
add_dummy_prefix=false, so sp.encode(segment) is exactly the merge of that
segment alone."""


def tokenize(sp, text, bos=True):
    ids = [sp.bos_id()] if bos else []
    newline = sp.piece_to_id("<0x0A>")
    for i, seg in enumerate((" " + text).split("\n")):
        if i > 0:
            ids.append(newline)
        if seg:
            ids.extend(sp.encode(seg))
    return ids
