"""Keeps TensorFlow's native start-up log lines (oneDNN, CUDA probing) off the terminal.

TensorFlow 2.21 writes them from C++ before its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them;
they say nothing a user can act on. Python-level errors are unaffected: the file descriptor is restored before any
exception leaves the block.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def silenced():
    """Sends file descriptor 2 to /dev/null for the duration of the block (unless NEURAL_STYLE_TF_LOGS is set)."""
    if os.environ.get("NEURAL_STYLE_TF_LOGS"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (embedded interpreters): nothing to hide
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
