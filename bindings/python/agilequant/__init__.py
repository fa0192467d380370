"""agilequant: Python bindings (ctypes) for libagilequant.

    import agilequant
    with agilequant.Model("models/austen-6m.gguf") as model, model.context(temperature=0) as ctx:
        for piece in ctx.generate("It is a truth universally acknowledged", max_tokens=40):
            print(piece, end="", flush=True)

The library is looked for in $AGILEQUANT_LIBRARY, $AGILEQUANT_BUILD_DIR, the
installed copy, then build/ of the checkout (see agilequant._library).
"""

from . import _library
from ._context import Context, PieceDecoder, param_bounds, PRUNE_IMPORTANCE, PRUNE_POSITIONS
from ._library import LibraryNotFoundError
from ._model import Model
from .errors import (Error, InvalidArgumentError, OutOfRangeError, FileError, FormatError, UnsupportedError,
                     OutOfMemoryError, StateError, BufferTooSmallError, ContextFullError, ThreadsError,
                     error_name)

__version__ = "0.1.0"

__all__ = [
    "Model", "Context", "PieceDecoder", "param_bounds", "Error", "InvalidArgumentError", "OutOfRangeError",
    "FileError", "FormatError", "UnsupportedError", "OutOfMemoryError", "StateError", "BufferTooSmallError",
    "ContextFullError", "ThreadsError", "LibraryNotFoundError", "error_name", "library_version", "library_path",
]


def library_version():
    """The loaded library's version string (aq_version_string), e.g. "0.1.0"."""
    return _library.lib().aq_version_string().decode()


def library_path():
    """The file the library was loaded from."""
    return _library.path()
