"""Every library error becomes an agilequant.Error carrying the library's message."""

import os
import subprocess
import sys

import pytest

import agilequant
from agilequant import errors


def test_missing_file(tmp_path):
    path = str(tmp_path / "no-such-model.gguf")
    with pytest.raises(agilequant.FileError) as info:
        agilequant.Model(path)
    e = info.value
    assert isinstance(e, agilequant.Error) and isinstance(e, OSError)
    assert e.code == errors.IO == 3 and e.name == "AQ_ERR_IO"
    assert "no-such-model.gguf" in e.message
    assert str(e) == "AQ_ERR_IO: " + e.message


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "garbage.gguf"
    path.write_bytes(b"this is not a GGUF file at all" * 10)
    with pytest.raises(agilequant.FormatError) as info:
        agilequant.Model(path)
    assert info.value.code == errors.FORMAT and info.value.message
    with pytest.raises(agilequant.FormatError):
        agilequant.Model(path.read_bytes())


def test_truncated_file(model_path):
    with open(model_path, "rb") as f:
        head = f.read(100000)
    with pytest.raises(agilequant.Error) as info:
        agilequant.Model(head)
    assert info.value.code in (errors.FORMAT, errors.IO) and info.value.message


def test_empty_buffer():
    with pytest.raises(agilequant.InvalidArgumentError, match="buffer is NULL or empty"):
        agilequant.Model(b"")


def test_bad_source_type():
    with pytest.raises(TypeError):
        agilequant.Model(42)


def test_unknown_kernels(model_path):
    with pytest.raises(agilequant.UnsupportedError, match="nonsense"):
        agilequant.Model(model_path, kernels="nonsense")
    with agilequant.Model(model_path, kernels="ref") as m:
        assert m.kernels == "ref"


def test_bad_parameters(model, ctx):
    with pytest.raises(agilequant.OutOfRangeError, match=r"outside \[1, 256\]"):
        model.context(threads=0)
    with pytest.raises(agilequant.OutOfRangeError, match=r"outside \[0, 100\]"):
        ctx.temperature = 101
    with pytest.raises(agilequant.OutOfRangeError, match="must be an integer"):
        ctx.top_k = 1.5
    with pytest.raises(agilequant.OutOfRangeError, match=r"outside \[0, 1\]"):
        ctx.set_param("top_p", -0.5)
    with pytest.raises(TypeError):
        model.context(temprature=0.5)  # misspelt
    with pytest.raises(KeyError):
        ctx.get_param("nope")
    assert ctx.temperature == pytest.approx(0.8)  # unchanged by the refusals
    assert agilequant.param_bounds("threads") == (1, 256)


def test_parameters_round_trip(model):
    with model.context(threads=1, context_length=64, temperature=0.25, top_k=7, top_p=0.5, seed=99,
                       kv_int8=True) as c:
        assert (c.threads, c.context_length, c.top_k, c.seed, c.kv_int8) == (1, 64, 7, 99, True)
        assert c.temperature == pytest.approx(0.25) and c.top_p == pytest.approx(0.5)


def test_forward_misuse(model, ctx):
    with pytest.raises(agilequant.InvalidArgumentError, match="n_tokens 0"):
        ctx.forward([])
    with pytest.raises(agilequant.OutOfRangeError, match=r"token 4096 at index 1 is outside \[0, 4096\)"):
        ctx.forward([1, model.vocab_size])
    with pytest.raises(agilequant.OutOfRangeError, match="position -3 at index 0 is negative"):
        ctx.forward([1, 2], positions=[-3, 0])
    with pytest.raises(agilequant.InvalidArgumentError, match="2 positions for 1 tokens"):
        ctx.forward([1], positions=[0, 1])
    with pytest.raises(agilequant.OutOfRangeError, match="does not fit in int32"):
        ctx.forward([2 ** 40])
    with pytest.raises(TypeError):
        ctx.forward(["a"])


def test_sample_and_logits_before_forward(ctx):
    with pytest.raises(agilequant.StateError, match="no logits row -1: run aq_forward first"):
        ctx.sample()
    with pytest.raises(agilequant.StateError, match="run forward first"):
        ctx.logits()


def test_kv_cache_errors(model):
    with model.context(threads=1, context_length=4) as c:
        with pytest.raises(agilequant.ContextFullError, match="do not fit"):
            c.forward(model.tokenize("a somewhat longer text than four tokens"))
        with pytest.raises(agilequant.OutOfRangeError, match="cannot keep 3 of 0"):
            c.kv_truncate(3)


def test_prune_errors(ctx):
    with pytest.raises(agilequant.OutOfRangeError, match=r"prune beta 1 is outside \[0, 1\)"):
        ctx.prune(1.0)
    with pytest.raises(agilequant.OutOfRangeError, match="prune first layer 99"):
        ctx.prune(0.5, first_layer=99)
    with pytest.raises(agilequant.OutOfRangeError, match="unknown prune importance"):
        ctx.prune(0.5, importance="loudness")
    with pytest.raises(agilequant.StateError):
        ctx.prune_kept(0)


def test_tokenizer_errors(model):
    with pytest.raises(agilequant.OutOfRangeError, match=r"token -1 is outside \[0, 4096\)"):
        model.detokenize([5, -1])
    with pytest.raises(agilequant.OutOfRangeError, match=r"token 99999 is outside"):
        model.token_to_piece(99999)
    with pytest.raises(TypeError):
        model.tokenize(3.5)


def test_quantize_and_save_errors(model_path, tmp_path):
    with agilequant.Model(model_path) as m:
        with pytest.raises(agilequant.InvalidArgumentError, match="unknown scheme 'w9a9'"):
            m.quantize("w9a9", progress=False)
        with pytest.raises(agilequant.InvalidArgumentError, match="needs calibration text"):
            m.quantize("w4a8", progress=False)
        with m.context(threads=1):
            with pytest.raises(agilequant.StateError, match="free the model's 1 contexts first"):
                m.quantize("q8_0", progress=False)
        with pytest.raises(agilequant.FileError):
            m.save(str(tmp_path / "no" / "such" / "folder" / "x.gguf"))


def test_closed_handles(model_path):
    m = agilequant.Model(model_path)
    c = m.context(threads=1)
    c.close()
    c.close()  # twice is fine
    with pytest.raises(agilequant.StateError, match="the context is closed"):
        c.forward([1])
    with pytest.raises(agilequant.StateError):
        c.kv_length
    m.close()
    m.close()
    for call in (lambda: m.tokenize("x"), lambda: m.vocab_size, m.describe, lambda: m.context()):
        with pytest.raises(agilequant.StateError, match="the model is closed"):
            call()


def test_error_classes_and_names():
    assert agilequant.error_name(0) == "AQ_OK"
    assert agilequant.error_name(errors.CONTEXT_FULL) == "AQ_ERR_CONTEXT_FULL"
    assert agilequant.error_name(999) == "AQ_ERR_UNKNOWN"
    e = errors.make(999, "from the future")
    assert type(e) is agilequant.Error and e.code == 999 and e.name == "AQ_ERR_UNKNOWN"
    assert isinstance(errors.make(errors.OUT_OF_MEMORY, "x"), MemoryError)
    import pickle
    back = pickle.loads(pickle.dumps(errors.make(errors.IO, "gone")))
    assert type(back) is agilequant.FileError and back.message == "gone" and back.code == errors.IO


def test_library_not_found_is_clear(tmp_path):
    missing = str(tmp_path / "libagilequant.so.0")
    code = ("import agilequant\n"
            "try:\n"
            "    agilequant.library_version()\n"
            "except agilequant.LibraryNotFoundError as e:\n"
            "    print(e)\n")
    env = dict(os.environ, AGILEQUANT_LIBRARY=missing)
    out = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))).stdout.decode()
    assert "libagilequant not found" in out and missing in out and "AGILEQUANT_BUILD_DIR" in out
