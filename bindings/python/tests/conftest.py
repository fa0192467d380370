"""Shared fixtures. The package is imported from this source tree (not an
installed copy); the library is found as agilequant finds it
($AGILEQUANT_LIBRARY, $AGILEQUANT_BUILD_DIR, ...: run_tests.sh sets both).
$AGILEQUANT_SOURCE_DIR overrides where models/ and data/ are read from."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import agilequant  # noqa: E402


def source_root():
    return os.environ.get("AGILEQUANT_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def build_dir():
    return os.environ.get("AGILEQUANT_BUILD_DIR") or os.path.join(source_root(), "build")


@pytest.fixture(scope="session")
def root():
    return source_root()


@pytest.fixture(scope="session")
def model_path(root):
    path = os.path.join(root, "models", "austen-6m.gguf")
    assert os.path.isfile(path), "the shipped model is missing: %s" % path
    return path


@pytest.fixture(scope="session")
def model(model_path):
    with agilequant.Model(model_path) as m:
        yield m


@pytest.fixture
def ctx(model):
    # One thread: the machines running the tests are often shared.
    with model.context(threads=1) as c:
        yield c


@pytest.fixture(scope="session")
def aq_chat():
    path = os.path.join(build_dir(), "examples", "aq-chat")
    if not os.access(path, os.X_OK):
        pytest.skip("no aq-chat at %s (set AGILEQUANT_BUILD_DIR)" % path)
    return path


def statm_rss():
    """Resident set size in bytes, from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")
