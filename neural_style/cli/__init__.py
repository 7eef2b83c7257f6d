"""The `neural-style` command: the main job, plus the `demo`, `weights`, `visualize`, `video`, `batch`, `train`,
`apply`, `export`, `models`, `import-model`, `sheet` and `serve` commands.

Each command's module is imported only when asked for, and none loads TensorFlow before its work starts, so that
--help, --version and bad input are answered at once."""

import importlib
import sys

from . import common

# Sub-commands live in their own modules, imported only when asked for.
COMMANDS = {
    "demo": "neural_style.cli.demo",
    "weights": "neural_style.cli.weights",
    "visualize": "neural_style.cli.visualize",
    "video": "neural_style.cli.video",
    "batch": "neural_style.cli.batch",
    "train": "neural_style.cli.train",
    "apply": "neural_style.cli.apply",
    "export": "neural_style.cli.export",
    "models": "neural_style.cli.models",
    "import-model": "neural_style.cli.import_model",
    "sheet": "neural_style.cli.sheet",
    "serve": "neural_style.cli.serve",
}


def main(argv=None):
    """
    Entry point of `neural-style` and `python -m neural_style`.

    Arguments:
    argv -- arguments without the program name (default: sys.argv[1:])

    Returns:
    code -- the exit code
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        command = importlib.import_module(COMMANDS[argv[0]]).main
        return common.run(command, argv[1:])
    from .stylize import main as stylize_main

    return common.run(stylize_main, argv)
