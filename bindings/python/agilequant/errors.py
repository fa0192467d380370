"""Exceptions: one class per aq_error code, all subclasses of agilequant.Error."""

from . import _library

# aq_error values (include/agilequant.h); stable, only ever appended to.
OK = 0
INVALID_ARGUMENT = 1
OUT_OF_RANGE = 2
IO = 3
FORMAT = 4
UNSUPPORTED = 5
OUT_OF_MEMORY = 6
STATE = 7
BUFFER_TOO_SMALL = 8
CONTEXT_FULL = 9
THREADS = 10


class Error(Exception):
    """An error reported by libagilequant (or by this binding on its behalf).

    code: the aq_error value (None for errors that are the binding's own);
    name: its name from aq_error_name(), e.g. "AQ_ERR_IO";
    message: why, from aq_model_error_message() / aq_context_error_message().
    str(e) is "AQ_ERR_IO: cannot open ...".
    """

    code = None

    def __init__(self, message, code=None, name=None):
        if code is not None:
            self.code = code
        self.name = name if name is not None else error_name(self.code) if self.code is not None else "Error"
        self.message = message
        super().__init__(message)

    def __str__(self):
        return "%s: %s" % (self.name, self.message) if self.message else self.name

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.code, self.name))


def _rebuild(cls, message, code, name):
    return cls(message, code, name)


class InvalidArgumentError(Error, ValueError):
    """AQ_ERR_INVALID_ARGUMENT: NULL where a pointer is required, bad size."""
    code = INVALID_ARGUMENT


class OutOfRangeError(Error, ValueError):
    """AQ_ERR_OUT_OF_RANGE: a parameter or token id outside its bounds."""
    code = OUT_OF_RANGE


class FileError(Error, OSError):
    """AQ_ERR_IO: a file cannot be opened, read, written or mapped."""
    code = IO


class FormatError(Error):
    """AQ_ERR_FORMAT: a malformed, truncated or hostile file."""
    code = FORMAT


class UnsupportedError(Error):
    """AQ_ERR_UNSUPPORTED: well-formed, but not something the library runs."""
    code = UNSUPPORTED


class OutOfMemoryError(Error, MemoryError):
    """AQ_ERR_OUT_OF_MEMORY."""
    code = OUT_OF_MEMORY


class StateError(Error):
    """AQ_ERR_STATE: a call made in the wrong order (or on a closed handle)."""
    code = STATE


class BufferTooSmallError(Error):
    """AQ_ERR_BUFFER_TOO_SMALL (the binding sizes its buffers; should not reach you)."""
    code = BUFFER_TOO_SMALL


class ContextFullError(Error):
    """AQ_ERR_CONTEXT_FULL: the KV cache has no room for these tokens."""
    code = CONTEXT_FULL


class ThreadsError(Error):
    """AQ_ERR_THREADS: the thread pool could not be created."""
    code = THREADS


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgumentError, OutOfRangeError, FileError, FormatError, UnsupportedError, OutOfMemoryError,
    StateError, BufferTooSmallError, ContextFullError, ThreadsError)}


def error_name(code):
    """aq_error_name(code): "AQ_OK", "AQ_ERR_FORMAT", ... ("AQ_ERR_UNKNOWN" if not in the enum)."""
    return _library.lib().aq_error_name(int(code)).decode()


def make(code, message):
    """The exception for an aq_error code and a message."""
    cls = _BY_CODE.get(code, Error)
    return cls(message, code)
