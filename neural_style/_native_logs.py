"""Keeps TensorFlow's native start-up log lines (oneDNN, CUDA probing) off the terminal.

TensorFlow 2.21 writes them from C++ before its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them;
they say nothing a user can act on. Python-level errors are unaffected: the file descriptor is restored before any
exception leaves the block. TensorFlow is loaded only when a module that needs it is first imported, whichever module
that is: quiet_tensorflow_import makes that one import quiet.
"""

import contextlib
import importlib.abc
import importlib.util
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


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the other finders do, and runs its start-up (and the device probing, which logs too)
    with the native log lines silenced; then steps out of the import system."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        _remove_finder()
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader_exec_module = spec.loader.exec_module

        def exec_module(module):
            with silenced():
                loader_exec_module(module)
                module.config.list_physical_devices()

        spec.loader.exec_module = exec_module  # this spec's own loader object: no other import sees the change
        return spec


def _remove_finder():
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _QuietTensorFlowFinder)]


def quiet_tensorflow_import():
    """Makes the process's first `import tensorflow`, wherever it happens, keep TensorFlow's native log lines off the
    terminal (a no-op once TensorFlow is loaded)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
