"""Handles are owned, freed once, in the right order, and not leaked."""

import gc
import os
import weakref

import numpy as np

import agilequant
from conftest import statm_rss


def test_context_keeps_its_model_alive(model_path):
    m = agilequant.Model(model_path)
    c = m.context(threads=1, temperature=0)
    gone = weakref.ref(m)
    del m
    gc.collect()
    assert gone() is not None
    assert "".join(c.generate("Emma", max_tokens=5))
    del c
    gc.collect()
    assert gone() is None


def test_closing_a_model_with_live_contexts_defers(model_path):
    m = agilequant.Model(model_path)
    a, b = m.context(threads=1), m.context(threads=1)
    m.close()
    assert m.closed and m._ptr is not None  # marked closed, memory still in use
    a.forward([1, 2, 3])  # the contexts go on working
    assert "".join(b.generate("Emma", max_tokens=3, temperature=0))
    a.close()
    assert m._ptr is not None
    b.close()
    assert m._ptr is None  # freed with its last context


def test_with_blocks(model_path):
    with agilequant.Model(model_path) as m:
        with m.context(threads=1) as c:
            c.forward([1])
        assert c.closed and not m.closed
    assert m.closed and m._ptr is None


def test_with_block_exit_while_a_context_lives(model_path):
    with agilequant.Model(model_path) as m:
        c = m.context(threads=1)
    c.forward([1, 2])  # the model's memory outlives the block until c is done
    del c
    gc.collect()
    assert m._ptr is None


def test_reference_cycle_is_collected(model_path):
    m = agilequant.Model(model_path)
    c = m.context(threads=1)
    m.cycle, c.cycle = c, m  # a cycle through both objects
    gone_m, gone_c = weakref.ref(m), weakref.ref(c)
    del m, c
    gc.collect()
    assert gone_m() is None and gone_c() is None


def test_a_logits_view_keeps_its_context_from_the_collector(model_path):
    m = agilequant.Model(model_path)
    c = m.context(threads=1)
    c.forward([1, 2])
    view = c.logits()
    want = view.copy()
    gone = weakref.ref(c)
    del c, m
    gc.collect()
    assert gone() is not None
    assert np.array_equal(view, want)
    del view
    gc.collect()
    assert gone() is None


def cycle(model_path, data=None):
    m = agilequant.Model(data if data is not None else model_path)
    c = agilequant.Context(m, threads=1)
    c.forward([1, 2])
    c.sample()
    c.close()
    m.close()


def test_no_leak_over_create_free_cycles(model_path):
    """1,000 cycles of Model (load) + Context (create, forward) + free: RSS stays put."""
    n = int(os.environ.get("AGILEQUANT_LEAK_CYCLES", "1000"))
    for _ in range(20):  # warm up: allocator arenas, lazily loaded code
        cycle(model_path)
    gc.collect()
    before = statm_rss()
    for _ in range(n):
        cycle(model_path)
    gc.collect()
    after = statm_rss()
    growth = after - before
    print("RSS over %d Model+Context cycles: %.1f MiB -> %.1f MiB (%+d KiB)" % (
        n, before / 2 ** 20, after / 2 ** 20, growth // 1024))
    # A leaked model or context handle would cost far more than 4 KiB a cycle.
    assert growth < 4 * 2 ** 20


def test_no_leak_when_loading_from_bytes(model_path):
    with open(model_path, "rb") as f:
        data = f.read()
    for _ in range(10):
        cycle(model_path, data)
    gc.collect()
    before = statm_rss()
    for _ in range(200):
        cycle(model_path, data)
    gc.collect()
    growth = statm_rss() - before
    print("RSS over 200 cycles from bytes: %+d KiB" % (growth // 1024))
    assert growth < 4 * 2 ** 20


def test_handles_left_open_at_exit(model_path):
    """Interpreter shutdown with a model and a context still open: no crash, no complaint."""
    import subprocess
    import sys
    code = ("import agilequant\n"
            "m = agilequant.Model(%r)\n"
            "c = m.context(threads=1)\n"
            "c.forward([1, 2])\n"
            "view = c.logits()\n"
            "cycle = [m, c]; cycle.append(cycle)\n" % model_path)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.run([sys.executable, "-c", code], cwd=here, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert run.returncode == 0 and run.stderr == b"", run.stderr


def test_one_context_per_thread(model):
    """Contexts of one model run in parallel threads (the library runs without the GIL)."""
    import threading
    prompts = ["Emma", "Mr. Knightley", "Anne Elliot", "Captain Wentworth"]

    def run(prompt):
        with model.context(threads=1, temperature=0) as c:
            return "".join(c.generate(prompt, max_tokens=15))

    want = [run(p) for p in prompts]
    got = [None] * len(prompts)

    def worker(i):
        got[i] = run(prompts[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want
