"""`neural-style --content PHOTO --style PAINTING --output OUT.jpg`: the main job, a thin layer over StyleTransfer."""

import dataclasses
import json
import os
import sys
import time

from .. import __version__, config, large, safety
from ..image_files import check_image_file, write_image
from ..options import StyleOptions
from . import common

# The one place where the command line's defaults differ from the library's, on purpose: like the article, it saves
# the image every PRINT_EVERY iterations into output/ (the library saves nothing unless asked).
CLI_DEFAULTS = {"save_every": config.PRINT_EVERY, "output_dir": config.CONFIG.OUTPUT_DIR}


def build_parser():
    """The main job's argument parser."""
    parser = common.ArgumentParser(
        prog=common.PROG,
        description="Paint a photo in the style of a painting (Gatys et al. 2015, as in the course's assignment). "
        "Other commands: `neural-style weights ...`, `neural-style visualize ...`, `neural-style video ...` (each with "
        "--help).",
    )
    parser.add_argument("--content", required=True, metavar="PHOTO", help="the content image")
    parser.add_argument(
        "--style",
        required=True,
        nargs="+",
        metavar="PAINTING",
        help="the style image; several are blended (see --style-blend)",
    )
    parser.add_argument("--output", required=True, metavar="OUT", help="where to write the result (.jpg, .png, ...)")
    for field in StyleOptions.cli_fields():
        common.add_option(parser, field.name, default=CLI_DEFAULTS.get(field.name))
    parser.add_argument("--history", metavar="PATH", help="write the costs as JSON lines, one per iteration")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def options_from_args(args):
    """StyleOptions fields from parsed arguments: those given, or defaulted by the command line (checked later)."""
    options = {}
    for field in StyleOptions.cli_fields():
        value = getattr(args, field.name)
        if value in (None, "") and field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()  # resolved now ($NEURAL_STYLE_WEIGHTS), so that callers see the path
        # Only what is set, so that StyleOptions' (or a preset's) defaults stand otherwise.
        if value is not None:
            options[field.name] = value
    return options


def main(argv):
    """
    Runs the main job.

    Arguments:
    argv -- command-line arguments (without the program name)

    Returns:
    code -- exit code
    """
    args = build_parser().parse_args(argv)
    inputs = [args.content, *args.style]
    for image, what in zip(inputs, ["content"] + ["style"] * len(args.style)):
        check_image_file(image, what)
    inputs.append(args.init)  # an --init image is an input too
    inputs += [args.content_mask, *(args.style_masks or ()), *(args.style_source_masks or ())]
    common.check_output_file(args.output, inputs)
    if args.bit_depth is not None:
        large.check_bit_depth(args.output, args.bit_depth)
    if args.history:
        common.check_output_file(args.history, inputs, "--history", extensions=None)
    if args.save_every or args.checkpoint_every:
        common.check_writable_folder(args.output_dir, "--output-dir")
    options = options_from_args(args)
    # The options as the run will resolve them (a preset may set the iterations): what it writes, checked first.
    resolved = StyleOptions(**options).validate(style_count=len(args.style))
    plan = safety.planned_writes(
        args.output,
        args.history,
        resolved.output_dir,
        resolved.iterations,
        resolved.save_every,
        resolved.checkpoint_every,
        resolved.tensorboard,
    )
    named_inputs = [("--content", args.content), *[("--style", style) for style in args.style], ("--init", args.init)]
    safety.check_planned_writes(plan, named_inputs)
    if resolved.tensorboard:  # after the checks that name a file given as the folder for what it is
        common.check_writable_folder(resolved.tensorboard, "--tensorboard")
    with safety.signals_as_interrupts(), safety.hold_folder(plan.folder):
        return _run(args, options)


def _run(args, options):
    """The run itself, once its paths are checked: build, optimise, write; the best image saved when stopped."""
    # TensorFlow is loaded here, when the work starts.
    from ..stylize import NonFiniteCostError, StyleTransfer
    from ..tensorboard import close_run, open_run, run_name, watch_transfer

    start = time.perf_counter()
    transfer = StyleTransfer(args.content, args.style, **options)
    # After the checks, so that bad input gets exactly one line.
    common.note_random_weights(options["weights"], args.quiet)
    if args.history:
        os.makedirs(os.path.dirname(os.path.abspath(args.history)), exist_ok=True)
    history = open(args.history, "w") if args.history else None
    write_history = history and _history_writer(history, transfer.side_writes, args.history)
    for entry in transfer.history if history else ():
        write_history(entry)  # a resumed run's earlier iterations: the file covers the whole run
    board = open_run(
        transfer, run_name(args.output), {"content": args.content, "style": args.style, "output": args.output}
    )
    callback = write_history if board is None else watch_transfer(board, transfer, write_history)
    try:
        image, _ = transfer.run(progress=not args.quiet, callback=callback)
    except KeyboardInterrupt as interrupt:
        write_image(args.output, transfer.result())
        done = len(transfer.history)
        resume = f"; continue with --resume {args.output_dir}" if transfer.options.checkpoint_every else ""
        by = common.signal_name(interrupt)
        common.fail(f"interrupted{by} after {done} iterations; saved the best image so far to {args.output}{resume}")
        return safety.exit_code(interrupt)
    except NonFiniteCostError as error:
        if error.image is None:  # not one finite cost: an existing --output is only ever replaced by a real result
            common.fail(f"{error}; nothing was written")
            return common.EXIT_FAILURE
        write_image(args.output, error.image)
        common.fail(f"{error}; saved the image with the lowest finite cost to {args.output}")
        return common.EXIT_FAILURE
    finally:
        if history:
            transfer.side_writes.attempt("history", args.history, history.close)
        close_run(board, transfer)  # flushed also when interrupted: the events so far stay readable
    write_image(args.output, image)
    if not args.quiet:
        height, width = image.shape[:2]
        print(f"wrote {args.output} ({width}x{height}) in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def _history_writer(file, side_writes, path):
    def write_line(entry):
        file.write(json.dumps(entry) + "\n")
        file.flush()

    def write(entry):
        side_writes.attempt("history", path, write_line, entry)

    return write
