"""Quantizing through the binding: the progress callback, saving, reloading."""

import gc
import os

import numpy as np
import pytest

import agilequant


@pytest.fixture(scope="module")
def calibration(root):
    # Training text, never the held-out text; a slice keeps the test fast.
    with open(os.path.join(root, "data", "austen-train.txt"), encoding="utf-8") as f:
        return f.read(20000)


def test_quantize_reports_progress_and_saves(model_path, calibration, tmp_path):
    seen = []

    def progress(fraction, stage):
        gc.collect()  # would free an unreferenced ctypes callback under the library
        seen.append((fraction, stage))

    prompt = "It is a truth universally acknowledged"
    with agilequant.Model(model_path) as m:
        assert m.scheme == ""
        assert m.quantize("w4a8,rtn", calibration, progress=progress) is m
        assert m.scheme == "w4a8,rtn" and "w4a8" in m.describe()
        fractions = [f for f, _ in seen]
        assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
        assert {s for _, s in seen} <= {"calibrating", "quantizing"} and "quantizing" in {s for _, s in seen}
        with m.context(threads=1) as c:
            c.forward(m.tokenize(prompt))
            want = c.logits().copy()
            text = "".join(c.generate("", max_tokens=20, temperature=0))
        path = tmp_path / "austen-w4a8.gguf"
        m.save(path)
    with agilequant.Model(path) as q, q.context(threads=1) as c:
        assert q.scheme.startswith("w4a8")
        c.forward(q.tokenize(prompt))
        assert np.abs(c.logits() - want).max() < 1e-4
        assert "".join(c.generate("", max_tokens=20, temperature=0)) == text


def test_default_progress_bar(model_path, capsys):
    with agilequant.Model(model_path) as m:
        m.quantize("q8_0", progress=True)
    err = capsys.readouterr().err
    assert "quantizing" in err and "100%" in err and err.endswith("\n")


def test_progress_exception_is_raised_after_the_call(model_path):
    def progress(fraction, stage):
        raise KeyError("stop")

    with agilequant.Model(model_path) as m:
        with pytest.raises(KeyError, match="stop"):
            m.quantize("q8_0", progress=progress)
        assert m._progress_callback is None
