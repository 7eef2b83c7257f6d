"""What every neural-style command shares: one-line errors, exit codes, and the options for weights and size."""

import argparse
import os
import sys

from ..images import IMAGE_EXTENSIONS, ImageError
from ..options import OptionError, default_weights
from ..safety import same_file as _same_file
from ..vgg import UnknownLayerError
from ..weights import WeightsError

PROG = "neural-style"
EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

# Errors that mean the user asked for something that cannot work: one line, exit code 2.
BAD_INPUT = (OptionError, FileNotFoundError, ImageError, WeightsError, UnknownLayerError, NotADirectoryError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (what is wrong, where to look), exit code 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def argument_type(parse):
    """
    An argparse type from a parsing function that raises OptionError, so that its message is argparse's error.

    Arguments:
    parse -- function(text) -> value, raising OptionError (a ValueError, which argparse would report only as
             "invalid <name> value")

    Returns:
    convert -- the function to give as type=
    """

    def convert(text):
        try:
            return parse(text)
        except OptionError as error:
            # argparse names the option itself ("argument --x: ..."): drop the message's own "--x: ".
            option, colon, rest = str(error).partition(": ")
            named = colon and option.startswith("--") and " " not in option
            raise argparse.ArgumentTypeError(rest if named else str(error)) from None

    convert.__name__ = parse.__name__
    return convert


def fail(message):
    """Prints one error line on stderr."""
    print(f"{PROG}: error: {message}", file=sys.stderr)


def run(command, argv):
    """
    Runs a command's main function, turning known errors into one line and an exit code.

    Arguments:
    command -- function(argv) -> exit code
    argv -- the command's arguments

    Returns:
    code -- 0 on success, 2 for bad input, 1 for a failure at run time, 130 when interrupted
    """
    try:
        return command(argv)
    except SystemExit as exit_:
        # argparse exits for --help and usage errors (after printing); callers get the code, not an exception.
        return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    except BAD_INPUT as error:
        fail(_one_line(error))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:
        fail(f"interrupted{_signal_name(interrupt)}")
        return 128 + getattr(interrupt, "signum", EXIT_INTERRUPTED - 128)  # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
    except (OSError, RuntimeError) as error:
        fail(_one_line(error))
        return EXIT_FAILURE


def _signal_name(interrupt):
    """' by SIGTERM' for a run stopped by a signal other than Ctrl-C, else ''."""
    return f" by {interrupt}" if hasattr(interrupt, "signum") else ""


def _one_line(error):
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{error.filename}: {error.strerror or text}"
    return " ".join(str(text).split())


def add_weights_option(parser):
    """--weights PATH|random, defaulting to $NEURAL_STYLE_WEIGHTS or pretrained-model/imagenet-vgg-verydeep-19.mat."""
    parser.add_argument(
        "--weights",
        default=None,
        metavar="PATH|random",
        help="VGG-19 weights: imagenet-vgg-verydeep-19.mat, the Keras vgg19 ..._notop.h5, or 'random' "
        "(default: $NEURAL_STYLE_WEIGHTS, else pretrained-model/imagenet-vgg-verydeep-19.mat)",
    )


def weights_path(args):
    """The weights the command line asks for."""
    return args.weights or default_weights()


def note_random_weights(path, quiet=False):
    """Says once that random filters give demo-quality results, and how to get the real ones."""
    if str(path) == "random" and not quiet:
        print(
            f"{PROG}: note: --weights random gives demo-quality results; for the real thing run "
            f"`{PROG} weights download` (see pretrained-model/README.md)",
            file=sys.stderr,
        )


def add_size_options(parser, default_text="300x400, the article's"):
    """--height, --width, --max-size."""
    parser.add_argument("--height", type=int, help=f"output height in pixels (default: {default_text})")
    parser.add_argument("--width", type=int, help="output width in pixels")
    parser.add_argument("--max-size", type=int, metavar="N", help="longest side N, the content's aspect ratio kept")


def check_output_file(path, inputs=(), option="--output", extensions=IMAGE_EXTENSIONS):
    """
    Refuses an output path that would overwrite an input or cannot be written, before any work is done.

    Arguments:
    path -- the output file
    inputs -- paths that must never be overwritten
    option -- the option's name, for the message
    extensions -- allowed extensions, or None for any

    Returns:
    path -- unchanged
    """
    if extensions and os.path.splitext(path)[1].lower() not in extensions:
        raise OptionError(f"{option} {path}: unknown image type; use one of {', '.join(extensions)}")
    for source in inputs:
        if source and isinstance(source, (str, os.PathLike)) and _same_file(path, source):
            raise OptionError(
                f"{option} {path} is also an input; choose another output path (inputs are never overwritten)"
            )
    if os.path.isdir(path):
        raise OptionError(f"{option} {path} is a folder; give a file name")
    check_writable_folder(os.path.dirname(os.path.abspath(path)), option)
    return path


def check_writable_folder(folder, option):
    """Raises OptionError unless `folder` exists and is writable, or can be created."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OptionError(f"{option}: {existing} is a file, so the folder {folder} cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OptionError(f"{option}: cannot write in {existing} (permission denied); choose another folder")
