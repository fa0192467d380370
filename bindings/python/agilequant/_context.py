"""agilequant.Context: a session over a Model (KV cache, logits, sampler)."""

import codecs
import ctypes
from ctypes import POINTER, byref, c_double, c_float, c_int32, c_void_p

import numpy as np

from . import _library
from . import errors
from ._model import Model, token_array

_i32p = POINTER(c_int32)

# aq_param: name -> (value, kind)
_PARAMS = {
    "threads": (0, int),
    "context_length": (1, int),
    "temperature": (2, float),
    "top_k": (3, int),
    "top_p": (4, float),
    "seed": (5, int),
    "kv_int8": (6, bool),
    "kv_bits": (7, int),
}

PRUNE_IMPORTANCE = {"attention_to_first": 0, "attention_received": 1}
PRUNE_POSITIONS = {"keep": 0, "renumber": 1}


def param_bounds(name):
    """(min, max) of a context parameter (aq_param_bounds)."""
    if name not in _PARAMS:
        raise KeyError("unknown parameter %r; known: %s" % (name, ", ".join(_PARAMS)))
    lo, hi = c_double(), c_double()
    err = _library.lib().aq_param_bounds(_PARAMS[name][0], byref(lo), byref(hi))
    if err != errors.OK:
        raise errors.make(err, "aq_param_bounds(%s): %s" % (name, errors.error_name(err)))
    kind = _PARAMS[name][1]
    return (kind(lo.value), kind(hi.value)) if kind is not bool else (int(lo.value), int(hi.value))


def _param_property(name):
    def get(self):
        return self.get_param(name)

    def put(self, value):
        self.set_param(name, value)

    return property(get, put, doc="The context's %s (aq_context_get_param / aq_context_set_param)." % name)


def _choice(value, names, what):
    if isinstance(value, str):
        if value not in names:
            raise errors.OutOfRangeError("unknown %s %r; known: %s" % (what, value, ", ".join(names)))
        return names[value]
    return int(value)


class Context:
    """Per-session state over a Model: the KV cache, the last logits, the sampler.

    Context(model, threads=..., context_length=..., temperature=..., top_k=...,
    top_p=..., seed=..., kv_int8=..., kv_bits=...): unset parameters keep the
    library's defaults (threads: the number of cores; context_length: min(the
    model's, 4096); temperature 0.8; top_k 40; top_p 0.95; seed 0; kv_int8
    False; kv_bits 32, float, or what the model's scheme records: 4 for w4a4kv4).
    Each is also a property (ctx.temperature = 0).

    A context belongs to one thread at a time. It keeps its model alive; it is
    freed by close(), by `with`, or by the garbage collector.
    """

    def __init__(self, model, **params):
        self._ptr = None
        self._model = None
        if not isinstance(model, Model):
            raise TypeError("Context needs an agilequant.Model, not %s" % type(model).__name__)
        for name in params:
            if name not in _PARAMS:
                raise TypeError("unknown context parameter %r; known: %s" % (name, ", ".join(_PARAMS)))
        self._lib = model._lib
        with model._lock:
            ptr = self._lib.aq_context_create(model._live())
            if not ptr:
                # aq_context_create says no more than NULL.
                raise errors.OutOfMemoryError(
                    "aq_context_create returned NULL: out of memory, or the thread pool could not be created",
                    errors.OUT_OF_MEMORY)
            model._context_opened()
        self._model = model
        self._ptr = ptr
        self._vocab = model._get_info("vocab_size")
        self._rows = 0  # logit rows of the last forward
        try:
            for name, value in params.items():
                self.set_param(name, value)
        except BaseException:
            self.close()
            raise

    # ---- handle management ----

    @property
    def model(self):
        return self._model

    def _live(self):
        ptr = self._ptr
        if ptr is None:
            raise errors.StateError("the context is closed", errors.STATE)
        return ptr

    def _check(self, err, message=None):
        if err != errors.OK:
            if message is None:
                raw = self._lib.aq_context_error_message(self._ptr) if self._ptr else b"the context is closed"
                message = (raw or b"").decode("utf-8", "replace")
            raise errors.make(err, message)

    def close(self):
        """Frees the context (and its model, if that was closed and this was its last context)."""
        ptr, self._ptr = self._ptr, None
        if ptr:
            self._lib.aq_context_free(ptr)
            self._model._context_closed()

    @property
    def closed(self):
        return self._ptr is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __reduce__(self):
        raise TypeError("an agilequant.Context cannot be pickled")

    def __repr__(self):
        if self.closed:
            return "<agilequant.Context (closed)>"
        return "<agilequant.Context %d of %d tokens cached>" % (self.kv_length, self.context_length)

    # ---- parameters ----

    def set_param(self, name, value):
        if name not in _PARAMS:
            raise KeyError("unknown parameter %r; known: %s" % (name, ", ".join(_PARAMS)))
        code, _kind = _PARAMS[name]
        ptr = self._live()
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError("parameter %s must be a number, not %r" % (name, value)) from None
        self._check(self._lib.aq_context_set_param(ptr, code, value))

    def get_param(self, name):
        if name not in _PARAMS:
            raise KeyError("unknown parameter %r; known: %s" % (name, ", ".join(_PARAMS)))
        code, kind = _PARAMS[name]
        value = c_double()
        err = self._lib.aq_context_get_param(self._live(), code, byref(value))
        self._check(err, "aq_context_get_param(%s): %s" % (name, errors.error_name(err)))
        return kind(value.value)

    threads = _param_property("threads")
    context_length = _param_property("context_length")
    temperature = _param_property("temperature")
    top_k = _param_property("top_k")
    top_p = _param_property("top_p")
    seed = _param_property("seed")
    kv_int8 = _param_property("kv_int8")
    kv_bits = _param_property("kv_bits")

    # ---- running ----

    def forward(self, tokens, positions=None, logits_all=False):
        """Runs tokens (ints) through the model and appends them to the KV cache.
        positions: each token's RoPE position, or None for consecutive positions
        after the last cached one. logits_all keeps every token's logits, else
        only the last's."""
        ptr = self._live()
        ids = token_array(tokens)
        n = len(ids)
        pos = None
        if positions is not None:
            pos = token_array(positions, "positions")
            if len(pos) != n:
                raise errors.InvalidArgumentError(
                    "%d positions for %d tokens" % (len(pos), n), errors.INVALID_ARGUMENT)
        self._rows = 0
        err = self._lib.aq_forward(ptr, ids.ctypes.data_as(_i32p) if n else None,
                                   pos.ctypes.data_as(_i32p) if pos is not None and n else None,
                                   n, 1 if logits_all else 0)
        self._check(err)
        self._rows = n if logits_all else 1

    def logits(self, i=-1):
        """Row i of the last forward's logits: a read-only float32 array of shape
        (vocab_size,) that views the library's buffer (no copy). i counts the
        batch's tokens with logits_all, else only 0 and -1 (the last) exist.

        The view is valid until the next forward, kv_truncate, change of
        context_length / kv_int8, or close(); .copy() it to keep it. It keeps
        the context from being garbage-collected, not from being closed.
        """
        ptr = self._live()
        p = self._lib.aq_get_logits(ptr, int(i))
        if not p:
            rows = self._rows
            why = ("run forward first" if rows == 0 else
                   "the token was pruned" if -1 <= i < rows else
                   "the last forward kept %d row%s" % (rows, "" if rows == 1 else "s"))
            raise errors.StateError("no logits row %d: %s" % (i, why), errors.STATE)
        row = (c_float * self._vocab).from_address(ctypes.cast(p, c_void_p).value)
        row._context = self  # keeps the buffer's owner alive while a view exists
        view = np.ctypeslib.as_array(row)
        view.flags.writeable = False
        return view

    def sample(self, i=-1):
        """The next token drawn from row i of the last logits with the context's
        temperature, top-k, top-p and seeded generator."""
        token = c_int32()
        self._check(self._lib.aq_sample(self._live(), int(i), byref(token)))
        return token.value

    @property
    def kv_length(self):
        """Number of tokens in the KV cache."""
        return self._lib.aq_kv_length(self._live())

    def kv_truncate(self, n):
        """Keeps the first n cached tokens and forgets the rest (0 clears)."""
        self._check(self._lib.aq_kv_truncate(self._live(), int(n)))
        self._rows = 0

    def prune(self, beta, first_layer=-1, importance="attention_to_first", positions="keep"):
        """Activation-guided token pruning for prefills (aq_prune; docs/PRUNING.md).
        beta in [0, 1): the fraction of tokens gone after the last layer (0
        disables); first_layer: -1 for n_layers / 2. importance:
        "attention_to_first" (the paper's) or "attention_received"; positions:
        "keep" or "renumber"."""
        ptr = self._live()
        imp = _choice(importance, PRUNE_IMPORTANCE, "prune importance")
        pos = _choice(positions, PRUNE_POSITIONS, "prune positions")
        self._check(self._lib.aq_prune(ptr, float(beta), int(first_layer), imp, pos))

    def prune_kept(self, layer):
        """Batch indices of the tokens present at the input of `layer` in the
        last forward (layer = n_layers: the tokens that reached the output)."""
        ptr = self._live()
        n = c_int32(0)
        capacity = max(self._rows, 1)
        while True:
            out = np.empty(capacity, dtype=np.int32)
            err = self._lib.aq_prune_kept(ptr, int(layer), out.ctypes.data_as(_i32p), capacity, byref(n))
            if err == errors.BUFFER_TOO_SMALL and n.value > capacity:
                capacity = n.value
                continue
            self._check(err, "aq_prune_kept(%d): %s" % (layer, {
                errors.OUT_OF_RANGE: "layer %d is outside [0, %d]" % (layer, self._model._get_info("n_layers")),
                errors.STATE: "no forward call yet"}.get(err, errors.error_name(err))))
            return out[:n.value].tolist()

    # ---- generation ----

    def generate(self, prompt, max_tokens=128, temperature=None, stop_at_eos=True, add_bos=None):
        """Continues prompt and yields the generated text piece by piece (str).

        prompt: text (str or UTF-8 bytes) or token ids; it is fed after what
        the KV cache already holds, with BOS first if the cache is empty and
        the vocabulary wants one (add_bos: None for that default). An empty
        prompt continues from the last logits. Up to max_tokens tokens are
        sampled (stopping at EOS unless stop_at_eos is False); temperature,
        when given, is set on the context first. Each sampled token is fed
        back, so the context can be continued afterwards. A UTF-8 character
        split across tokens comes out whole.
        """
        ptr = self._live()
        model = self._model
        if temperature is not None:
            self.set_param("temperature", temperature)
        if isinstance(prompt, (str, bytes, bytearray, memoryview)):
            if add_bos is None:
                add_bos = self._lib.aq_kv_length(ptr) == 0 and model._default_add_bos()
            tokens = model._tokenize(prompt, add_bos)
        else:
            tokens = token_array(prompt, "prompt")
        return self._generate(tokens, int(max_tokens), stop_at_eos)

    def _generate(self, tokens, max_tokens, stop_at_eos):
        model = self._model
        eos = model._get_info("eos")
        if len(tokens):
            self.forward(tokens)
        pieces = PieceDecoder(model)
        for _ in range(max_tokens):
            token = self.sample()
            if stop_at_eos and token == eos:
                break
            self.forward(token)
            text = pieces.push(token)
            if text:
                yield text
        text = pieces.flush()
        if text:
            yield text


class PieceDecoder:
    """Token ids in, text out: each token's piece (aq_token_to_piece, the bytes
    it adds inside a stream) through an incremental UTF-8 decoder, which holds
    back a character's first bytes until its last arrive."""

    def __init__(self, model, errors="replace"):
        self._model = model
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors)

    def push(self, token):
        return self._utf8.decode(self._model._piece(token))

    def flush(self):
        """What is left at the end (an unfinished character becomes U+FFFD)."""
        return self._utf8.decode(b"", final=True)
