"""Logits: against PyTorch's (data/golden-logits.bin, as tests/test_model.c),
batch against token by token, and the zero-copy view."""

import ctypes
import os

import numpy as np
import pytest

import agilequant

# As tests/test_model.c: PyTorch and the library sum in different orders.
LOGIT_TOLERANCE = 2e-3


def golden_cases(root):
    """golden-logits.bin: u32 n_cases, u32 n_vocab; per case u32 n, i32 tokens[n], f32 logits[n][vocab]."""
    blob = np.fromfile(os.path.join(root, "data", "golden-logits.bin"), dtype=np.uint8)
    n_cases, n_vocab = blob[:8].view("<u4")
    off, cases = 8, []
    for _ in range(int(n_cases)):
        n = int(blob[off:off + 4].view("<u4")[0])
        off += 4
        tokens = blob[off:off + 4 * n].view("<i4")
        off += 4 * n
        logits = blob[off:off + 4 * n * int(n_vocab)].view("<f4").reshape(n, int(n_vocab))
        off += 4 * n * int(n_vocab)
        cases.append((tokens, logits))
    assert off == blob.size
    return int(n_vocab), cases


@pytest.mark.parametrize("threads", [1, 2])
def test_logits_match_pytorch(root, model, threads):
    n_vocab, cases = golden_cases(root)
    assert n_vocab == model.vocab_size
    assert cases
    for tokens, want in cases:
        with model.context(threads=threads) as ctx:
            ctx.forward(tokens, logits_all=True)
            got = np.stack([ctx.logits(t) for t in range(len(tokens))])
            assert np.abs(got - want).max() < LOGIT_TOLERANCE


def test_batch_equals_token_by_token(model):
    text = " Mr. Darcy walked into the room, and every eye was upon him."
    tokens = model.tokenize(text)
    with model.context(threads=1) as batch, model.context(threads=1) as step:
        batch.forward(tokens, logits_all=True)
        for t, token in enumerate(tokens):
            step.forward([token])
            assert np.abs(batch.logits(t) - step.logits()).max() < 1e-3
        assert step.kv_length == len(tokens)
        # Truncating and replaying the last token gives the same logits again.
        last = step.logits().copy()
        step.kv_truncate(len(tokens) - 1)
        assert step.kv_length == len(tokens) - 1
        step.forward(tokens[-1])
        assert np.array_equal(step.logits(), last)


def test_explicit_positions_equal_implicit(model):
    tokens = model.tokenize("She was the youngest of the two daughters")
    with model.context(threads=1) as a, model.context(threads=1) as b:
        a.forward(tokens)
        b.forward(tokens, positions=np.arange(len(tokens)))
        assert np.array_equal(a.logits(), b.logits())


def test_logits_view_the_library_buffer(model, ctx):
    from agilequant import _library
    lib = _library.lib()
    tokens = model.tokenize("Emma Woodhouse")
    ctx.forward(tokens)
    view = ctx.logits()
    assert view.shape == (model.vocab_size,) and view.dtype == np.float32
    assert not view.flags.owndata and not view.flags.writeable
    address = ctypes.cast(lib.aq_get_logits(ctypes.c_void_p(ctx._ptr), -1), ctypes.c_void_p).value
    assert view.ctypes.data == address
    assert np.array_equal(ctx.logits(0), view)
    # The next forward writes into the same buffer: the old view shows it.
    ctx.forward([tokens[1]])
    if ctypes.cast(lib.aq_get_logits(ctypes.c_void_p(ctx._ptr), -1), ctypes.c_void_p).value == address:
        assert np.array_equal(view, ctx.logits())


def test_logits_rows(model, ctx):
    tokens = model.tokenize("Emma Woodhouse, handsome")
    ctx.forward(tokens, logits_all=True)
    assert np.array_equal(ctx.logits(-1), ctx.logits(len(tokens) - 1))
    with pytest.raises(agilequant.StateError):
        ctx.logits(len(tokens))
    ctx.forward(tokens[:1])
    ctx.logits(0)
    with pytest.raises(agilequant.StateError):
        ctx.logits(1)


def test_greedy_sample_is_argmax(model, ctx):
    ctx.temperature = 0
    ctx.forward(model.tokenize("It was the best of"), logits_all=True)
    for i in (0, 2, -1):
        assert ctx.sample(i) == int(np.argmax(ctx.logits(i)))


def test_model_from_bytes_equals_from_file(model_path, model):
    with open(model_path, "rb") as f:
        data = f.read()
    tokens = model.tokenize("Emma Woodhouse, handsome")
    with model.context(threads=1) as ref:
        ref.forward(tokens)
        want = ref.logits().copy()
    for buffer in (data, bytearray(data), memoryview(data)):
        with agilequant.Model(buffer) as m, m.context(threads=1) as c:
            assert m.path is None
            c.forward(tokens)
            assert np.array_equal(c.logits(), want)


def test_pruning(model, ctx):
    tokens = model.tokenize("It is a truth universally acknowledged, that a single man in possession of a good "
                            "fortune, must be in want of a wife.")
    ctx.prune(0.5, importance="attention_received", positions="keep")
    ctx.forward(tokens, logits_all=True)
    kept = ctx.prune_kept(model.n_layers)
    assert 0 in kept and len(tokens) - 1 in kept and len(kept) < len(tokens)
    assert ctx.prune_kept(0) == list(range(len(tokens)))
    dropped = sorted(set(range(len(tokens))) - set(kept))
    with pytest.raises(agilequant.StateError, match="pruned"):
        ctx.logits(dropped[0])
    ctx.logits(kept[-1])
    assert ctx.kv_length == len(tokens)
    ctx.sample()
    ctx.prune(0)
