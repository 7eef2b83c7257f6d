"""`neural-style apply --content PHOTO|FOLDER --output OUT|FOLDER (--style-image PAINTING... | --model NAME)`: a thin
layer over neural_style.fast.apply.apply_model (one forward pass a picture, at its own size; tiles with the whole
picture's statistics when it would not fit in memory). Any painting goes through the bundled arbitrary-style network
(fast/arbitrary.py); --model names a bundled network, an imported one, a .keras file `neural-style train` wrote or a
.tflite file `neural-style export` wrote. One picture that fits in memory goes through LiteRT without importing
TensorFlow where networks.lite_route says so (fast/lite.py); everything else through Keras."""

import json
import sys
import time

from ..checks import warn
from ..safety import signals_as_interrupts
from . import common, networks


def build_parser():
    """The apply command's parser."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} apply",
        description="Stylise pictures in one forward pass each, at their own size: with any painting "
        "(--style-image, the bundled arbitrary-style network), a bundled or imported network (--model NAME; "
        "`neural-style models` lists them), or a network trained by `neural-style train`. A folder goes to a "
        "folder, names and subfolders kept; inputs are never overwritten.",
    )
    parser.add_argument(
        "--model",
        metavar="NAME|MODEL.keras",
        help="a network's name (`neural-style models`) or a .keras file (with --style-image: magenta-arbitrary)",
    )
    parser.add_argument("--content", required=True, metavar="PHOTO|FOLDER", help="a picture or a folder of them")
    parser.add_argument("--output", required=True, metavar="OUT|FOLDER", help="a picture file, or a folder")
    networks.add_painting_options(parser)
    parser.add_argument(
        "--preserve-colors", action="store_true", help="keep the photo's colours (the style's luminance only)"
    )
    common.add_tile_options(parser)
    networks.add_precision_option(parser)
    common.add_style_choice_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per picture on stdout")
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
    common.check_tile_options(args)
    name, kind, target, unknown = networks.resolve(args)
    if unknown is None:
        route = networks.lite_route(args, kind, target)
        if route is not None:
            from ..fast.lite import NonFiniteOutputError

            try:
                return apply_lite(args, name, route)
            except NonFiniteOutputError as error:
                # Not finite with XNNPACK's kernels and LiteRT's own (none known: run_transform tries both).
                warn(f"{name}: LiteRT failed on {args.content} ({error}); the Keras route paints it instead")
    from ..fast.apply import apply_model, check_precision, check_tile_size, output_pairs, warn_skipped

    # Every output checked before any work: none may be the content, the model, a painting or a mask.
    pairs = output_pairs(args.content, args.output, networks.reads(args, kind, target))
    if unknown is not None:
        raise unknown
    check_tile_size(args.tile_size)  # before the model is read: a bad size costs nothing
    precision = check_precision(args.precision)
    model, weights = networks.choose(args, name, kind, target)
    check_tile_size(args.tile_size, model.layout)
    paintings = list(args.style_image or ())
    start = time.perf_counter()
    skipped = []

    report = reporter(args, name, paintings, start)

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
            keep_colors=args.preserve_colors,
            precision=precision,
        )
    if not args.quiet and not args.json:
        seconds = time.perf_counter() - start
        unread = f"; skipped {len(skipped)} unreadable (named above)" if skipped else ""
        print(f"stylised {len(written)} of {len(pairs)} pictures in {seconds:.2f} s{unread}", file=sys.stderr)
    return common.EXIT_FAILURE if skipped else 0


def reporter(args, name, paintings, start):
    """The function that says each picture written (a JSON object, or a line on stderr), as both routes say it."""
    last = start

    def report(source, written):
        nonlocal last
        now = time.perf_counter()
        if args.json:
            from PIL import Image

            with Image.open(written) as picture:  # the header only
                width, height = picture.size
            print(
                json.dumps(
                    {
                        "input": source,
                        "output": written,
                        "size": [width, height],
                        "model": name,
                        "style_image": paintings or None,
                        "strength": args.strength,
                        "seconds": round(now - last, 3),
                    }
                ),
                flush=True,
            )
        elif not args.quiet:
            print(f"{source} -> {written}", file=sys.stderr)
        last = now

    return report


def apply_lite(args, name, route):
    """
    The apply of one picture by LiteRT (networks.lite_route chose it), without importing TensorFlow: the same checks
    and lines as the Keras route, the output written atomically.

    Arguments:
    args -- the parsed options
    name -- the network's name as given
    route -- networks.lite_route's

    Returns:
    code -- 0
    """
    import numpy as np

    from ..fast import lite
    from ..image_files import read_image, write_image
    from ..limits import max_image_pixels

    start = time.perf_counter()
    weights = networks.lite_weights(route)
    report = reporter(args, name, list(args.style_image or ()), start)
    with signals_as_interrupts():
        pixels = read_image(args.content, max_image_pixels())
        # The file, not an interpreter: run_transform tries LiteRT's own kernels where XNNPACK's give NaN.
        transform, check = route["files"]["transform"], route["check"]
        stylised = lite.run_transform(transform, pixels, weights(pixels), int(check["min_side"]), check.get("rounding"))
        write_image(args.output, np.rint(stylised).astype(np.uint8))
    report(args.content, args.output)
    if not args.quiet and not args.json:
        print(f"stylised 1 of 1 pictures in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return 0
