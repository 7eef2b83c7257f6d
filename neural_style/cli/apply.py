"""`neural-style apply --model MODEL.keras --content PHOTO|FOLDER --output OUT|FOLDER`: a thin layer over
neural_style.fast.apply.apply_model (one forward pass a picture; tiles with the whole picture's statistics when it
would not fit in memory)."""

import sys
import time

from ..safety import signals_as_interrupts
from . import common


def build_parser():
    """The apply command's parser."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} apply",
        description="Stylise pictures with a network trained by `neural-style train`: one forward pass each. A "
        "folder goes to a folder, names and subfolders kept; inputs are never overwritten.",
    )
    parser.add_argument("--model", required=True, metavar="MODEL.keras", help="the trained network")
    parser.add_argument("--content", required=True, metavar="PHOTO|FOLDER", help="a picture or a folder of them")
    parser.add_argument("--output", required=True, metavar="OUT|FOLDER", help="a picture file, or a folder")
    common.add_tile_options(parser)
    common.add_style_choice_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no line per picture")
    return parser


def main(argv):
    """
    Runs the apply command.

    Arguments:
    argv -- command-line arguments (without `neural-style apply`)

    Returns:
    code -- 0 when every picture was stylised; 1 when a folder's picture could not be read (skipped, with a warning
            line each, as `neural-style batch` returns 1 when a job failed); 2 for bad input
    """
    args = build_parser().parse_args(argv)
    from ..fast.apply import apply_model, check_tile_size, load_fast_model, output_pairs, warn_skipped
    from ..fast.options import style_weights

    common.check_tile_options(args)
    # Every output checked before any work: none may be the content, the model or a mask.
    pairs = output_pairs(args.content, args.output, [args.model, *(args.style_masks or ())])
    check_tile_size(args.tile_size)  # before the model is read: a bad size costs nothing
    model = load_fast_model(args.model)
    weights = style_weights(model.styles, args.style_index, args.mix, args.style_masks)
    start = time.perf_counter()
    skipped = []

    def report(source, target):
        if not args.quiet:
            print(f"{source} -> {target}", file=sys.stderr)

    def skip(source, reason):
        skipped.append(source)
        warn_skipped(source, reason)

    with signals_as_interrupts():
        written = apply_model(
            model,
            args.content,
            args.output,
            args.tile_size,
            args.max_memory,
            report=report,
            style_weights=weights,
            skip=skip,
        )
    if not args.quiet:
        seconds = time.perf_counter() - start
        unread = f"; skipped {len(skipped)} unreadable (named above)" if skipped else ""
        print(f"stylised {len(written)} of {len(pairs)} pictures in {seconds:.2f} s{unread}", file=sys.stderr)
    return common.EXIT_FAILURE if skipped else 0
