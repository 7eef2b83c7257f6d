"""What every neural-style command shares: one-line errors, exit codes, and the options for weights and size."""

import argparse
import dataclasses
import difflib
import os
import re
import sys

from .. import config
from ..checks import OptionError, UnknownLayerError, broken_link, broken_link_text, choice_message
from ..fast.options import TrainOptions
from ..image_files import IMAGE_EXTENSIONS, ImageError
from ..options import StyleOptions, VideoOptions, default_weights, flag_of
from ..safety import same_file
from ..weights import WeightsError

PROG = "neural-style"
EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

# StyleOptions' fields by name, and the flags of those the command line exposes (and of the video command's and the
# fast network's commands' own).
OPTION_FIELDS = {field.name: field for field in dataclasses.fields(StyleOptions)}
FLAGS = {**TrainOptions.flags(), **StyleOptions.flags(), **VideoOptions.flags()}
# Every command's flags, for telling another command's whole option from an abbreviation of this one's.
OTHER_FLAGS = frozenset(FLAGS.values())
# One setting under two commands' names: the optimisation's --alpha and --beta are train's --content-weight and
# --style-weight (difflib would suggest --tv-weight for either).
SAME_SETTING = {"--alpha": "--content-weight", "--beta": "--style-weight"}
SAME_SETTING.update({theirs: ours for ours, theirs in SAME_SETTING.items()})

# Errors that mean the user asked for something that cannot work: one line, exit code 2.
BAD_INPUT = (OptionError, FileNotFoundError, ImageError, WeightsError, UnknownLayerError, NotADirectoryError)


# A value that begins like a negative number ("-1,2", "-0.5", "-1e-3", "-inf"): argparse takes only "-1" and "-0.5"
# for a value, and answers "expected one argument" for the rest.
NEGATIVE_VALUE = re.compile(r"-(?:\.?\d|(?:inf|infinity|nan)$)", re.IGNORECASE)


class ArgumentParser(argparse.ArgumentParser):
    """
    argparse, but a usage error is one line on stderr (what is wrong, where to look), exit code 2; an option of one
    value takes a negative number or a list of numbers after it (`--mix -1,2`); and `misplaced` says what to do where
    a user gives an option of another command ({'--style': 'with --model ...'}), where argparse would answer with an
    abbreviation's "ambiguous option".
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.misplaced = {}

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        tokens = sys.argv[1:] if args is None else list(args)
        # A mistyped flag is named first: argparse would otherwise report the required options it hides. (Where the
        # parser has sub-commands, their own flags come later in the line: argparse's own check then applies.)
        for token in [] if self._subparsers else tokens:
            if token == "--":
                break
            name = token.split("=", 1)[0]
            if name in self.misplaced and name not in self._option_string_actions:
                self.error(self.misplaced[name])
            if not name.startswith("--") or name in self._option_string_actions:
                continue
            begun = [known for known in self._option_string_actions if known.startswith(name)]
            if not begun:
                same = SAME_SETTING.get(name)
                close = [same] if same in self._option_string_actions else self._close_to(name)
                self.error(f"unrecognized arguments: {token}" + (f"; did you mean {close[0]}?" if close else ""))
            if name in OTHER_FLAGS and len({self._option_string_actions[known] for known in begun}) > 1:
                # Another command's whole option, not an abbreviation: "ambiguous option" would suggest it is one.
                self.error(f"{name} is not an option of this command; only {', '.join(begun)} begin so")
        return super().parse_args(tokens, namespace)

    def parse_known_args(self, args=None, namespace=None):
        # Here rather than in parse_args: a sub-command's parser is given its part of the line through this method.
        tokens = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self._negative_values_attached(tokens), namespace)

    def _close_to(self, name):
        # --help is never what a mistyped option meant, yet "--model" is as close to it as difflib asks.
        options = [known for known in self._option_string_actions if known not in ("-h", "--help")]
        return difflib.get_close_matches(name, options, n=1)

    def _negative_values_attached(self, tokens):
        """`--opt -1,2` as `--opt=-1,2` where --opt takes one value and -1,2 is no option, up to a `--`."""
        attached = []
        for index, token in enumerate(tokens):
            if token == "--":
                return attached + tokens[index:]
            previous = attached[-1] if attached else ""
            if (
                NEGATIVE_VALUE.match(token)
                and token.split("=", 1)[0] not in self._option_string_actions
                and self._takes_one_value(previous)
            ):
                attached[-1] = f"{previous}={token}"
            else:
                attached.append(token)
        return attached

    def _takes_one_value(self, token):
        """Whether `token` is an option (in full, or a unique abbreviation) that takes one value."""
        if not token.startswith(tuple(self.prefix_chars)) or "=" in token:
            return False
        action = self._option_string_actions.get(token)
        if action is None and self.allow_abbrev and token.startswith("--"):
            begun = {
                known_action for known, known_action in self._option_string_actions.items() if known.startswith(token)
            }
            action = begun.pop() if len(begun) == 1 else None
        return action is not None and action.nargs in (None, "?")

    def _check_value(self, action, value):
        # A value outside `choices` gets the library's message for it (checks.choice_message), with the flag.
        if action.choices is not None and value not in action.choices:
            name = action.option_strings[0] if action.option_strings else action.dest
            raise argparse.ArgumentError(None, choice_message(name, value, action.choices))


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
            # argparse names the option itself ("argument --x: ..."): drop the message's own "x: ".
            message = str(error)
            named = error.parameters and message.startswith(f"{error.parameters[0]}: ")
            raise argparse.ArgumentTypeError(message.split(": ", 1)[1] if named else as_flags(error)) from None

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
        fail(one_line(error))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:
        fail(f"interrupted{signal_name(interrupt)}")
        return 128 + getattr(interrupt, "signum", EXIT_INTERRUPTED - 128)  # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
    except (OSError, RuntimeError) as error:
        fail(one_line(error))
        return EXIT_FAILURE


def as_flags(error):
    """
    An OptionError's message with the Python parameters it names as the command line's flags: the one place where
    `learning_rate must be > 0` becomes `--learning-rate must be > 0`.

    Arguments:
    error -- an OptionError; error.parameters are the parameters its message names

    Returns:
    message -- the message, each parameter that has a flag replaced (its first mention) by the flag
    """
    message = str(error)
    for parameter in getattr(error, "parameters", ()):
        flag = FLAGS.get(parameter)
        if flag:
            # Not inside a word or a path: a folder may be called output_dir.
            message = re.sub(rf"(?<![\w/.-]){re.escape(parameter)}(?![\w/.-])", flag, message, count=1)
    return message


def signal_name(interrupt):
    """
    What an interrupted command's line says stopped it.

    Arguments:
    interrupt -- the KeyboardInterrupt caught (safety.Stopped for SIGTERM and SIGHUP)

    Returns:
    words -- ' by SIGTERM' for a run stopped by a signal other than Ctrl-C, else ''
    """
    return f" by {interrupt}" if hasattr(interrupt, "signum") else ""


def one_line(error):
    """
    An error as the one line a command prints: an OptionError with its parameters named as flags, an OSError with
    its file.

    Arguments:
    error -- the exception

    Returns:
    line -- str, whitespace collapsed
    """
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    if isinstance(error, OptionError):
        text = as_flags(error)
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{error.filename}: {error.strerror or text}"
    return " ".join(str(text).split())


def add_weights_option(parser):
    """--weights PATH|random, defaulting to $NEURAL_STYLE_WEIGHTS or pretrained-model/imagenet-vgg-verydeep-19.mat."""
    add_option(parser, "weights")


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


def add_style_choice_options(parser):
    """
    --style-index, --mix and --style-masks (at most one): the styles of a network trained on several, as `apply` and
    `video --model` take them; fast.style_choice.style_weights checks the values against the model. A --style there gets
    one line saying how to choose a trained network's styles.

    Arguments:
    parser -- an ArgumentParser of this module
    """
    # Without this, --style (the optimisation's and train's option) is taken for an ambiguous abbreviation.
    parser.misplaced["--style"] = (
        "with --model the network's styles are fixed at training: choose among them with --style-index, --mix or "
        "--style-masks; --style is for the optimisation without --model (neural-style, neural-style video) and for "
        "train"
    )
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--style-index", type=int, metavar="K", help="the style K (from 0, in the training's --style order)"
    )
    chosen.add_argument(
        "--mix", metavar="W0,W1,...", help="weights of the model's styles, >= 0 and summing to 1, e.g. 0.7,0.3,0"
    )
    chosen.add_argument(
        "--style-masks",
        nargs="+",
        metavar="MASK",
        help="one mask per style, all of one shape (white: that style; soft masks mix), resized to each picture",
    )


def add_tile_options(parser):
    """
    --tile-size and --max-memory of a trained network's apply (`apply`, `video --model`): tiles with the whole
    picture's statistics (fast.apply.stylize_picture), only where the picture would not fit unless asked.

    Arguments:
    parser -- an argparse parser
    """
    parser.add_argument(
        "--tile-size",
        type=int,
        default=0,
        metavar="N",
        help="tiles of N x N pixels with the whole "
        "picture's statistics (default 0: only when the picture would not fit in --max-memory)",
    )
    parser.add_argument(
        "--max-memory", type=float, metavar="GB", help="the memory it may use (default: the memory available)"
    )


def check_tile_options(args):
    """Checks add_tile_options' values: one line naming the option, exit 2, before any work."""
    from ..checks import check_count, check_number

    check_count(args.tile_size, "tile_size", zero="only when needed")
    if args.max_memory is not None:
        check_number(args.max_memory, "max_memory", above=0, what="a number of GB")


def add_size_options(parser: argparse.ArgumentParser, default_text: str | None = None) -> None:
    """--height, --width, --max-size (default_text: what --height says the default size is, if not the article's)."""
    add_option(parser, "height", shown_default=default_text)
    add_option(parser, "width")
    add_option(parser, "max_size")


def add_option(parser, name, default=None, shown_default=None, field=None):
    """
    Adds the flag of an options field, as its metadata declares it (help, parser, choices, metavar, nargs).

    Arguments:
    parser -- an argparse parser or group
    name -- the field, e.g. 'learning_rate'
    default -- the command line's own default, where it differs from the library's on purpose (None: the library's)
    shown_default -- the text that --help gives as the default (None: from `default`, the field, the preset)
    field -- the dataclasses.Field of another options class (TrainOptions); None: StyleOptions' field `name`
    """
    field = field or OPTION_FIELDS[name]
    meta = field.metadata
    shown = shown_default or default_text(field, default)
    settings = {"default": default, "help": meta["help"].format(default=shown), "metavar": meta["metavar"]}
    if meta["parse"] is bool:
        settings = {"action": "store_true", "default": default, "help": settings["help"]}
    elif meta["parse"] in (int, float):
        settings["type"] = meta["parse"]  # argparse's own message: "invalid int value: 'ten'"
    elif meta["parse"] is not None:
        settings["type"] = argument_type(meta["parse"])
    if meta["choices"]:
        settings["choices"] = meta["choices"]
    if meta.get("nargs"):
        settings["nargs"] = meta["nargs"]  # several values: the field gets the list
    parser.add_argument(flag_of(field), **settings)


def default_text(field, default=None):
    """
    The default that --help shows for a StyleOptions field.

    Arguments:
    field -- the dataclasses.Field
    default -- the command line's own default, or None

    Returns:
    text -- the command line's default, else the field's, else the article preset's, else metadata['unset'] (or None)
    """
    value = default
    if value is None and field.default is not dataclasses.MISSING:
        value = field.default
    if value is None:
        value = config.PRESETS["article"].get(field.name)
    if value is None:
        return field.metadata["unset"]
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], tuple):
        return ",".join(f"{name}:{weight}" for name, weight in value)  # style layers, as --style-layers takes them
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def check_output_file(path, inputs=(), option="--output", extensions=IMAGE_EXTENSIONS):
    """
    Refuses an output path that would overwrite an input or cannot be written, before any work is done.

    Arguments:
    path -- the output file
    inputs -- paths that must never be overwritten
    option -- the option's name, for the message
    extensions -- allowed extensions, or None for any (pictures' by default; the message names an image type only
                  where all are pictures')

    Returns:
    path -- unchanged
    """
    stem, extension = os.path.splitext(path)
    if extensions and extension.lower() not in extensions:
        if set(extensions) <= set(IMAGE_EXTENSIONS):
            raise OptionError(f"{option} {path}: unknown image type; use one of {', '.join(extensions)}")
        # Not a picture (a model, a TFLite file): "image type" would mislead; say the ending and show it.
        raise OptionError(
            f"{option} {path}: must end in {' or '.join(extensions)}, e.g. {option} {stem}{extensions[0]}"
        )
    for source in inputs:
        if source and isinstance(source, (str, os.PathLike)) and same_file(path, source):
            raise OptionError(
                f"{option} {path} is also an input; choose another output path (inputs are never overwritten)"
            )
    if os.path.isdir(path):
        raise OptionError(f"{option} {path} is a folder; give a file name")
    check_writable_folder(os.path.dirname(os.path.abspath(path)), option)
    return path


def check_writable_folder(folder, option):
    """Raises OptionError unless `folder` exists and is writable, or can be created."""
    # os.path.exists is False for a link to nothing, so the walk below would pass it: making the folder fails later.
    link = broken_link(folder)
    if link:
        raise OptionError(f"{option}: {broken_link_text(link)}")
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OptionError(f"{option}: {existing} is a file, so the folder {folder} cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OptionError(f"{option}: cannot write in {existing} (permission denied); choose another folder")
