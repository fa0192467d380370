"""agilequant.Model: a loaded GGUF model (read-only weights shared by contexts)."""

import ctypes
import os
import sys
import threading
from ctypes import POINTER, byref, c_char_p, c_int32, c_int64, c_size_t, c_void_p

import numpy as np

from . import _library
from . import errors

# aq_model_info values
_INFO = {
    "vocab_size": 0,
    "context_length": 1,
    "embedding_length": 2,
    "n_layers": 3,
    "n_heads": 4,
    "n_heads_kv": 5,
    "feed_forward_length": 6,
    "bos": 7,
    "eos": 8,
    "parameter_count": 9,
    "weight_bytes": 10,
    "add_bos": 11,  # newer libraries only; AQ_ERR_OUT_OF_RANGE from older ones
}

_i32p = POINTER(c_int32)


def _encode_text(text, what="text"):
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError("%s must be str or bytes, not %s" % (what, type(text).__name__))


def _fspath(path):
    path = os.fspath(path)
    return path if isinstance(path, bytes) else os.fsencode(path)


def token_array(tokens, what="tokens"):
    """tokens (a sequence of ints or an integer array) as a contiguous int32 array."""
    if isinstance(tokens, (int, np.integer)):
        tokens = [tokens]
    a = np.asarray(tokens)
    if a.size == 0:
        return np.zeros(0, dtype=np.int32)
    if a.ndim != 1 or a.dtype.kind not in "iub":
        if a.dtype.kind not in "iub":
            raise TypeError("%s must be integers, not %s" % (what, a.dtype))
        raise errors.InvalidArgumentError("%s must be one-dimensional, not of shape %s" % (what, a.shape))
    if a.dtype != np.int32:
        a64 = a.astype(np.int64)
        if a.dtype.kind == "u" and a.dtype.itemsize == 8 and (a > np.iinfo(np.int64).max).any():
            a64 = np.full(a.shape, np.iinfo(np.int64).max)
        bad = (a64 < -2 ** 31) | (a64 >= 2 ** 31)
        if bad.any():
            i = int(np.argmax(bad))
            raise errors.OutOfRangeError("%s[%d] = %d does not fit in int32" % (what, i, int(a[i])))
        a = a64.astype(np.int32)
    return np.ascontiguousarray(a)


class _ProgressBar:
    """The default progress display: one line on stderr, redrawn in place."""

    def __init__(self, stream=None, width=30):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.last = None

    def __call__(self, fraction, stage):
        filled = int(round(fraction * self.width))
        line = "\r%-12s [%s%s] %3d%%" % (stage, "#" * filled, " " * (self.width - filled), int(fraction * 100))
        if line != self.last:
            self.stream.write(line)
            self.stream.flush()
            self.last = line

    def finish(self):
        if self.last is not None:
            self.stream.write("\n")
            self.stream.flush()


class Model:
    """A model loaded from a GGUF file or from bytes.

    Model(path) or Model(data): a str / os.PathLike is a file (memory-mapped),
    a bytes-like object is the file's content. bytes and writable buffers
    (bytearray, a writable mmap) are used in place and must not change while
    the model lives; the model holds a reference to them. Other buffers are
    copied.

    kernels: force a kernel family ("ref", "avx2", "neondot", ...; see
    aq_model_set_kernels); None lets the library choose ($AQ_KERNELS is
    honoured).

    A model may be shared by several Contexts. It is freed by close(), by
    `with`, or by the garbage collector; a Context keeps its model alive, and
    closing a model whose contexts are still open only marks it closed: its
    memory is freed when the last of them is closed.
    """

    def __init__(self, source, kernels=None):
        self._ptr = None
        self._closed = False
        self._n_contexts = 0
        self._lock = threading.RLock()
        self._buffer = None  # the caller's bytes, for aq_model_load_memory
        self._info = {}
        self._progress_callback = None
        self.path = None
        self._lib = _library.lib()
        ptr = self._lib.aq_model_create()
        if not ptr:
            raise errors.OutOfMemoryError("aq_model_create returned NULL: out of memory")
        self._ptr = ptr
        try:
            if kernels is not None:
                self._check(self._lib.aq_model_set_kernels(ptr, _encode_text(kernels, "kernels")))
            if isinstance(source, (str, os.PathLike)):
                self.path = os.fspath(source)
                self._check(self._lib.aq_model_load_file(ptr, _fspath(source)))
            elif _is_buffer(source):
                self.path = None
                self._load_memory(source)
            else:
                raise TypeError("source must be a path or a bytes-like object, not %s" % type(source).__name__)
        except BaseException:
            self._free()
            raise

    @classmethod
    def from_file(cls, path, kernels=None):
        return cls(os.fspath(path), kernels=kernels)

    @classmethod
    def from_bytes(cls, data, kernels=None):
        if isinstance(data, str):
            raise TypeError("from_bytes needs a bytes-like object, not str")
        return cls(data, kernels=kernels)

    def _load_memory(self, source):
        if isinstance(source, bytes):
            keep = source
            address = ctypes.cast(c_char_p(source), c_void_p).value
            size = len(source)
        else:
            view = memoryview(source)
            if not view.contiguous:
                view = memoryview(view.tobytes())
            view = view.cast("B")
            size = view.nbytes
            if view.readonly:
                keep = view.tobytes()
                address = ctypes.cast(c_char_p(keep), c_void_p).value
            else:
                keep = (ctypes.c_char * size).from_buffer(view) if size else b""
                address = ctypes.addressof(keep) if size else None
        # Zero bytes: NULL, so that the library reports it.
        self._buffer = keep
        self._check(self._lib.aq_model_load_memory(self._ptr, address if size else None, size))

    # ---- handle management ----

    def _live(self):
        """The handle, or StateError once the model is closed."""
        ptr = self._ptr
        if ptr is None or self._closed:
            raise errors.StateError("the model is closed", errors.STATE)
        return ptr

    def _message(self):
        ptr = self._ptr
        raw = self._lib.aq_model_error_message(ptr) if ptr else b"the model is closed"
        return (raw or b"").decode("utf-8", "replace")

    def _check(self, err, message=None):
        """Raises the exception for err; message overrides the handle's (for the
        calls that do not set it)."""
        if err != errors.OK:
            raise errors.make(err, message if message is not None else self._message())

    def close(self):
        """Frees the model, or marks it closed and frees it when its last context closes."""
        with self._lock:
            self._closed = True
            if self._n_contexts == 0:
                self._free()

    @property
    def closed(self):
        return self._closed or self._ptr is None

    def _free(self):
        with self._lock:
            ptr, self._ptr = self._ptr, None
            if ptr:
                self._lib.aq_model_free(ptr)
            self._buffer = None

    def _context_opened(self):
        with self._lock:
            self._n_contexts += 1

    def _context_closed(self):
        with self._lock:
            self._n_contexts -= 1
            if self._closed and self._n_contexts == 0:
                self._free()

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
        raise TypeError("an agilequant.Model cannot be pickled")

    def __repr__(self):
        if self.closed:
            return "<agilequant.Model (closed)>"
        return "<agilequant.Model %s>" % self.describe()

    # ---- contexts ----

    def context(self, **params):
        """A new Context of this model; params as Context's keyword arguments."""
        from ._context import Context
        return Context(self, **params)

    # ---- information ----

    def info(self, what):
        """aq_model_get_info by name ("vocab_size", "n_layers", "bos", ...) or number."""
        self._live()
        return self._get_info(what)

    def _get_info(self, what):
        """As info; usable while contexts keep a closed model."""
        key = _INFO.get(what, what) if isinstance(what, str) else int(what)
        if isinstance(key, str):
            raise KeyError("unknown model information %r; known: %s" % (what, ", ".join(_INFO)))
        if key in self._info:
            return self._info[key]
        value = c_int64()
        err = self._lib.aq_model_get_info(self._ptr, key, byref(value))
        # aq_model_get_info does not set the model's message.
        self._check(err, "aq_model_get_info(%s): %s" % (what, errors.error_name(err)))
        self._info[key] = value.value
        return value.value

    vocab_size = property(lambda self: self.info("vocab_size"), doc="Number of tokens in the vocabulary.")
    context_length = property(lambda self: self.info("context_length"), doc="The training context length.")
    embedding_length = property(lambda self: self.info("embedding_length"), doc="Model width.")
    n_layers = property(lambda self: self.info("n_layers"))
    n_heads = property(lambda self: self.info("n_heads"))
    n_heads_kv = property(lambda self: self.info("n_heads_kv"))
    feed_forward_length = property(lambda self: self.info("feed_forward_length"))
    bos = property(lambda self: self.info("bos"), doc="The beginning-of-sequence token id.")
    eos = property(lambda self: self.info("eos"), doc="The end-of-sequence token id.")
    parameter_count = property(lambda self: self.info("parameter_count"))
    weight_bytes = property(lambda self: self.info("weight_bytes"), doc="Bytes of weights read per token.")

    @property
    def add_bos(self):
        """Whether the vocabulary puts BOS before a text (AQ_INFO_ADD_BOS; True
        with a library that predates it)."""
        self._live()
        return self._default_add_bos()

    def describe(self):
        """One line: architecture, size, weight types."""
        return self._lib.aq_model_describe(self._live()).decode("utf-8", "replace")

    @property
    def kernels(self):
        """The kernels chosen at load, e.g. "qc4w:avx2 f32:avx2"."""
        return self._lib.aq_model_kernels(self._live()).decode("utf-8", "replace")

    @property
    def scheme(self):
        """The scheme the model was quantized with ("" for none)."""
        return self._lib.aq_model_scheme(self._live()).decode("utf-8", "replace")

    # ---- tokenizer ----

    def tokenize(self, text, add_bos=None):
        """Token ids (a list of ints) of text (str, or bytes of UTF-8).
        add_bos: None for the vocabulary's default (add_bos)."""
        self._live()
        return self._tokenize(text, add_bos).tolist()

    def _tokenize(self, text, add_bos=None):
        """As tokenize, as an int32 array; usable while contexts keep a closed model."""
        if add_bos is None:
            add_bos = self._default_add_bos()
        data = _encode_text(text)
        n = c_int32(0)
        capacity = len(data) + 8
        while True:
            out = np.empty(capacity, dtype=np.int32)
            err = self._lib.aq_tokenize(self._ptr, data, len(data), 1 if add_bos else 0,
                                        out.ctypes.data_as(_i32p), capacity, byref(n))
            if err == errors.BUFFER_TOO_SMALL and n.value > capacity:
                capacity = n.value
                continue
            self._check(err, "aq_tokenize: %s%s" % (errors.error_name(err), {
                errors.UNSUPPORTED: " (add_bos=True, but the vocabulary has no BOS token)",
                errors.STATE: " (the model is not loaded)"}.get(err, "")))
            return out[:n.value]

    def _default_add_bos(self):
        try:
            return bool(self._get_info("add_bos"))
        except errors.OutOfRangeError:
            return True

    def token_to_piece(self, token):
        """The bytes of one token as they appear inside a stream (bytes: a piece
        may be part of a UTF-8 character; control tokens give b"")."""
        self._live()
        return self._piece(token)

    def _piece(self, token):
        token = int(token)
        if not -2 ** 31 <= token < 2 ** 31:
            raise errors.OutOfRangeError("token %d is outside [0, %d)" % (token, self._get_info("vocab_size")))
        length = c_size_t(0)
        buf = ctypes.create_string_buffer(64)
        err = self._lib.aq_token_to_piece(self._ptr, token, buf, 64, byref(length))
        if err == errors.BUFFER_TOO_SMALL and length.value > 64:
            buf = ctypes.create_string_buffer(length.value)
            err = self._lib.aq_token_to_piece(self._ptr, token, buf, length.value, byref(length))
        if err == errors.OUT_OF_RANGE:
            self._check(err, "token %d is outside [0, %d)" % (token, self._get_info("vocab_size")))
        self._check(err, "aq_token_to_piece(%d): %s" % (token, errors.error_name(err)))
        return buf.raw[:length.value]

    def detokenize(self, tokens, errors="replace"):
        """The text of a token sequence (str; bytes that are not UTF-8 are
        decoded with the given error handler). detokenize(tokenize(t)) == t."""
        self._live()
        return self._detokenize_bytes(tokens).decode("utf-8", errors)

    def detokenize_bytes(self, tokens):
        """As detokenize, the raw bytes."""
        self._live()
        return self._detokenize_bytes(tokens)

    def _detokenize_bytes(self, tokens):
        from . import errors as e
        ids = token_array(tokens)
        n = len(ids)
        length = c_size_t(0)
        capacity = 16 * n + 16
        while True:
            buf = ctypes.create_string_buffer(capacity)
            err = self._lib.aq_detokenize(self._ptr, ids.ctypes.data_as(_i32p), n, buf, capacity, byref(length))
            if err == e.BUFFER_TOO_SMALL and length.value > capacity:
                capacity = length.value
                continue
            if err == e.OUT_OF_RANGE:
                vocab = self._get_info("vocab_size")
                bad = [int(t) for t in ids if not 0 <= t < vocab]
                self._check(err, "token %d is outside [0, %d)" % (bad[0] if bad else -1, vocab))
            self._check(err, "aq_detokenize: %s" % e.error_name(err))
            return buf.raw[:length.value]

    # ---- quantize and save ----

    def quantize(self, scheme, calibration_text=None, progress=None):
        """Quantizes the model in place (aq_quantize) and returns it.

        scheme: "w4a16", "w4a8", "w4a4", "w4a8o", "w4a4o", "w4a8-paper",
        "w4a4-paper", "q4_0", "q8_0", "fp32", optionally with modifiers
        (",rtn", ",g128", ...; docs/FORMAT.md). calibration_text (str or bytes): training text, for
        the schemes that calibrate. progress: None shows a bar on stderr when
        it is a terminal, True always, False never; a callable is called as
        progress(fraction, stage). Every context of the model must be closed
        first. An exception raised by the callable is raised here once the
        library returns (it cannot stop the library early).
        """
        ptr = self._live()
        scheme_b = _encode_text(scheme, "scheme")
        calib = None if calibration_text is None else _encode_text(calibration_text, "calibration_text")
        bar = None
        if progress is None:
            progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
        if progress is True:
            bar = _ProgressBar()
            report = bar
        elif callable(progress):
            report = progress
        else:
            report = None
        raised = []

        def on_progress(_user, fraction, stage):
            if raised:
                return
            try:
                report(float(fraction), (stage or b"").decode("utf-8", "replace"))
            except BaseException as exc:  # ctypes would print and drop it
                raised.append(exc)

        # The ctypes callback must outlive every call the library makes to it:
        # it is held here until aq_model_set_progress(NULL) below.
        callback = _library.PROGRESS_FN(on_progress) if report is not None else _library.PROGRESS_FN()
        self._progress_callback = callback
        try:
            self._check(self._lib.aq_model_set_progress(ptr, callback, None))
            err = self._lib.aq_quantize(ptr, scheme_b, calib, len(calib) if calib else 0)
        finally:
            self._lib.aq_model_set_progress(ptr, _library.PROGRESS_FN(), None)
            self._progress_callback = None
            if bar is not None:
                bar.finish()
        self._info.clear()
        if raised:
            raise raised[0]
        self._check(err)
        return self

    def save(self, path):
        """Saves the model (quantized or not) as GGUF (aq_model_save)."""
        self._check(self._lib.aq_model_save(self._live(), _fspath(path)))


def _is_buffer(obj):
    try:
        memoryview(obj)
        return True
    except TypeError:
        return False
