"""Generation against the C tool aq-chat, and text decoding."""

import subprocess

import pytest

import agilequant

PROMPTS = ["It is a truth universally acknowledged", "Mr. Darcy looked at Elizabeth, and"]


def run_aq_chat(aq_chat, model_path, prompt, n, temp, seed=0):
    """aq-chat prints the prompt, the generated pieces and a newline on stdout."""
    out = subprocess.run([aq_chat, "-m", model_path, "-p", prompt, "-n", str(n), "--temp", str(temp),
                          "--seed", str(seed), "-t", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         check=True).stdout
    prefix = prompt.encode()
    assert out.startswith(prefix) and out.endswith(b"\n"), out
    return out[len(prefix):-1].decode("utf-8")


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_equals_aq_chat(aq_chat, model_path, model, prompt):
    n = 48
    want = run_aq_chat(aq_chat, model_path, prompt, n, 0)
    with model.context(threads=1) as ctx:
        got = "".join(ctx.generate(prompt, max_tokens=n, temperature=0))
    assert got == want
    assert len(got) > 40


def test_seeded_sampling_equals_aq_chat(aq_chat, model_path, model):
    prompt, n = PROMPTS[0], 40
    want = run_aq_chat(aq_chat, model_path, prompt, n, 0.8, seed=1234)
    with model.context(threads=1, seed=1234) as ctx:
        got = "".join(ctx.generate(prompt, max_tokens=n, temperature=0.8))
    assert got == want
    with model.context(threads=1, seed=1234, temperature=0.8) as ctx:
        assert "".join(ctx.generate(prompt, max_tokens=n)) == want


def test_generation_continues_the_cache(model):
    """Two calls (the second with an empty prompt) give what one call gives;
    every sampled token is in the KV cache afterwards."""
    prompt = PROMPTS[1]
    n_prompt = len(model.tokenize(prompt))
    with model.context(threads=1, temperature=0) as one, model.context(threads=1, temperature=0) as two:
        whole = "".join(one.generate(prompt, max_tokens=30, stop_at_eos=False))
        assert one.kv_length == n_prompt + 30
        first = "".join(two.generate(prompt, max_tokens=12, stop_at_eos=False))
        second = "".join(two.generate("", max_tokens=18, stop_at_eos=False))
        assert first + second == whole
        assert two.kv_length == n_prompt + 30


def test_generate_from_token_ids(model, ctx):
    ids = model.tokenize(PROMPTS[0])
    with model.context(threads=1) as other:
        a = "".join(ctx.generate(ids, max_tokens=10, temperature=0))
        b = "".join(other.generate(PROMPTS[0], max_tokens=10, temperature=0))
    assert a == b


def test_generate_stops_early_when_closed(model, ctx):
    gen = ctx.generate(PROMPTS[0], max_tokens=100, temperature=0)
    next(gen)
    gen.close()
    assert ctx.kv_length == len(model.tokenize(PROMPTS[0])) + 1


def test_multibyte_characters_come_out_whole(model):
    """Characters the vocabulary does not know are byte tokens: a character's
    bytes arrive over several tokens and must come out as one."""
    text = "caf\u00e9 \u2603 na\u00efve \u2014 \u65e5\u672c \U0001f600"
    ids = model.tokenize(text, add_bos=False)
    pieces = [model.token_to_piece(t) for t in ids]
    split = [p for p in pieces if p and not _is_utf8(p)]
    assert split, "no token splits a character: the test would prove nothing"
    decoder = agilequant.PieceDecoder(model)
    chunks = [decoder.push(t) for t in ids] + [decoder.flush()]
    assert all("\ufffd" not in c for c in chunks)
    assert "".join(chunks).lstrip(" ") == text
    assert model.detokenize(ids) == text


def test_unfinished_character_is_replaced(model):
    ids = model.tokenize("\u2603", add_bos=False)
    decoder = agilequant.PieceDecoder(model)
    out = "".join(decoder.push(t) for t in ids[:-1]) + decoder.flush()
    assert out.endswith("\ufffd")


def _is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_tokenizer_round_trip_and_bos(model):
    text = "Emma Woodhouse, handsome, clever, and rich"
    ids = model.tokenize(text)
    assert ids[0] == model.bos  # this vocabulary adds BOS by default
    assert model.tokenize(text, add_bos=False) == ids[1:]
    assert model.detokenize(ids) == text
    assert model.detokenize_bytes(ids) == text.encode()
    assert b"".join(model.token_to_piece(t) for t in ids).lstrip(b" ") == text.encode()
    assert model.token_to_piece(model.bos) == b""
    assert model.tokenize("") == [model.bos]
    assert model.tokenize(b"Emma") == model.tokenize("Emma")
    long = "Emma " * 5000
    assert model.detokenize(model.tokenize(long)) == long
