"""Finding libagilequant and declaring its functions for ctypes.

Where the library is looked for, in order:

1. ``$AGILEQUANT_LIBRARY``: the shared library's path (or a folder holding
   it). When set, nothing else is tried.
2. ``$AGILEQUANT_BUILD_DIR``: a meson build folder (``libagilequant.so.0``
   in it). An explicitly named build wins over an installed copy.
3. The copy ``meson install`` put in place: ``ctypes.util.find_library``,
   then the dynamic loader's own search for ``libagilequant.so.0``
   (``LD_LIBRARY_PATH``, ``ld.so.cache``), then meson's default prefix
   ``/usr/local`` in case ``ldconfig`` has not run since the install.
4. ``build/`` at the top of the source tree, when this package is imported
   from a checkout (``bindings/python/agilequant``).
"""

import ctypes
import ctypes.util
import os
import sys
import threading

from ctypes import (CFUNCTYPE, POINTER, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t,
                    c_uint, c_void_p)

# The oldest library this binding knows (AQ_VERSION_NUMBER = major * 10000 + minor * 100 + release).
MIN_VERSION = 100

if sys.platform == "darwin":
    _NAMES = ("libagilequant.0.dylib", "libagilequant.dylib")
elif sys.platform == "win32":
    _NAMES = ("agilequant-0.dll", "libagilequant-0.dll", "agilequant.dll")
else:
    _NAMES = ("libagilequant.so.0", "libagilequant.so")


class LibraryNotFoundError(OSError):
    """libagilequant could not be found or loaded (see agilequant._library)."""


# void (*)(void *user, float fraction, const char *stage)
PROGRESS_FN = CFUNCTYPE(None, c_void_p, c_float, c_char_p)

_f32p = POINTER(c_float)
_i32p = POINTER(c_int32)

# name: (restype, argtypes). aq_model * and aq_context * travel as c_void_p.
_PROTOTYPES = {
    "aq_version_number": (c_uint, []),
    "aq_version_string": (c_char_p, []),
    "aq_error_name": (c_char_p, [c_int]),
    "aq_model_create": (c_void_p, []),
    "aq_model_free": (None, [c_void_p]),
    "aq_model_error_message": (c_char_p, [c_void_p]),
    "aq_model_load_file": (c_int, [c_void_p, c_char_p]),
    "aq_model_load_memory": (c_int, [c_void_p, c_void_p, c_size_t]),
    "aq_model_set_kernels": (c_int, [c_void_p, c_char_p]),
    "aq_model_kernels": (c_char_p, [c_void_p]),
    "aq_model_set_progress": (c_int, [c_void_p, PROGRESS_FN, c_void_p]),
    "aq_quantize": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t]),
    "aq_model_scheme": (c_char_p, [c_void_p]),
    "aq_model_save": (c_int, [c_void_p, c_char_p]),
    "aq_model_get_info": (c_int, [c_void_p, c_int, POINTER(c_int64)]),
    "aq_model_describe": (c_char_p, [c_void_p]),
    "aq_tokenize": (c_int, [c_void_p, c_char_p, c_size_t, c_int, _i32p, c_int32, _i32p]),
    "aq_token_to_piece": (c_int, [c_void_p, c_int32, c_char_p, c_size_t, POINTER(c_size_t)]),
    "aq_detokenize": (c_int, [c_void_p, _i32p, c_int32, c_char_p, c_size_t, POINTER(c_size_t)]),
    "aq_context_create": (c_void_p, [c_void_p]),
    "aq_context_free": (None, [c_void_p]),
    "aq_context_error_message": (c_char_p, [c_void_p]),
    "aq_param_bounds": (c_int, [c_int, POINTER(c_double), POINTER(c_double)]),
    "aq_context_set_param": (c_int, [c_void_p, c_int, c_double]),
    "aq_context_get_param": (c_int, [c_void_p, c_int, POINTER(c_double)]),
    "aq_forward": (c_int, [c_void_p, _i32p, _i32p, c_int32, c_int]),
    "aq_get_logits": (_f32p, [c_void_p, c_int32]),
    "aq_kv_length": (c_int32, [c_void_p]),
    "aq_kv_truncate": (c_int, [c_void_p, c_int32]),
    "aq_sample": (c_int, [c_void_p, c_int32, _i32p]),
    "aq_prune": (c_int, [c_void_p, c_double, c_int32, c_int, c_int]),
    "aq_prune_kept": (c_int, [c_void_p, c_int32, _i32p, c_int32, _i32p]),
}


def _checkout_build_dir():
    """build/ at the top of the source tree, if this file sits in a checkout."""
    here = os.path.dirname(os.path.abspath(__file__))  # .../bindings/python/agilequant
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    if os.path.isfile(os.path.join(root, "meson.build")) and os.path.isfile(
            os.path.join(root, "include", "agilequant.h")):
        return os.path.join(root, "build")
    return None


def _in_folder(folder):
    return [os.path.join(folder, name) for name in _NAMES]


def candidates():
    """The places tried, in order, as (path or name, where it came from)."""
    env = os.environ.get("AGILEQUANT_LIBRARY")
    if env:
        if os.path.isdir(env):
            return [(p, "$AGILEQUANT_LIBRARY") for p in _in_folder(env)]
        return [(env, "$AGILEQUANT_LIBRARY")]
    out = []
    build = os.environ.get("AGILEQUANT_BUILD_DIR")
    if build:
        out += [(p, "$AGILEQUANT_BUILD_DIR") for p in _in_folder(build)]
    found = ctypes.util.find_library("agilequant")
    if found:
        out.append((found, "ctypes.util.find_library"))
    out += [(name, "the dynamic loader's search") for name in _NAMES]
    multiarch = getattr(sys.implementation, "_multiarch", None)
    for sub in ([os.path.join("lib", multiarch)] if multiarch else []) + ["lib64", "lib"]:
        out += [(p, "meson install to /usr/local") for p in _in_folder(os.path.join("/usr/local", sub))]
    checkout = _checkout_build_dir()
    if checkout:
        out += [(p, "the checkout's build folder") for p in _in_folder(checkout)]
    return out


def _declare(lib):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)  # AttributeError: not libagilequant, or too old
        fn.restype = restype
        fn.argtypes = argtypes


def _resolve(path):
    """The file the loader opened for a bare name (Linux: from /proc/self/maps)."""
    if os.sep in path:
        return os.path.abspath(path)
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) == 6 and os.path.basename(fields[5].strip()).startswith("libagilequant."):
                    return fields[5].strip()
    except OSError:
        pass
    return path


def _open():
    tried = []
    for path, origin in candidates():
        is_name = os.sep not in path
        if not is_name and not os.path.exists(path):
            tried.append("%s (%s): no such file" % (path, origin))
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s): %s" % (path, origin, e))
            continue
        try:
            _declare(lib)
        except AttributeError as e:
            tried.append("%s (%s): not a usable libagilequant: %s" % (path, origin, e))
            continue
        version = lib.aq_version_number()
        if version < MIN_VERSION or version // 10000 != MIN_VERSION // 10000:
            tried.append("%s (%s): version %s, this binding needs %d.%d.x" % (
                path, origin, lib.aq_version_string().decode(), MIN_VERSION // 10000, MIN_VERSION // 100 % 100))
            continue
        return lib, _resolve(path)
    raise LibraryNotFoundError(
        "libagilequant not found. Build it (meson setup build && ninja -C build) and set "
        "AGILEQUANT_BUILD_DIR=build or AGILEQUANT_LIBRARY=/path/to/libagilequant.so.0, or run "
        "'meson install -C build'. Tried:\n  " + "\n  ".join(tried))


_lock = threading.Lock()
_state = {"lib": None, "path": None}


def lib():
    """The loaded library (opened on first use)."""
    handle = _state["lib"]
    if handle is None:
        with _lock:
            if _state["lib"] is None:
                _state["lib"], _state["path"] = _open()
            handle = _state["lib"]
    return handle


def path():
    """The path (or loader name) the library was opened from."""
    lib()
    return _state["path"]
