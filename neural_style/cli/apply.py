"""`neural-style apply --content PHOTO|FOLDER --output OUT|FOLDER (--style-image PAINTING... | --model NAME)`: a thin
layer over neural_style.fast.apply.apply_model (one forward pass a picture, at its own size; tiles with the whole
picture's statistics when it would not fit in memory). Any painting goes through the bundled arbitrary-style network
(fast/arbitrary.py); --model names a bundled network, an imported one, or a .keras file `neural-style train` wrote."""

import json
import sys
import time

from ..safety import signals_as_interrupts
from . import common


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
    parser.add_argument(
        "--style-image",
        nargs="+",
        metavar="PAINTING",
        help="any painting(s) as the style (several: mixed by --mix, or a region each by --style-masks)",
    )
    parser.add_argument(
        "--strength",
        type=float,
        default=1.0,
        metavar="S",
        help="with --style-image: 0 (the photo's own style) to 1 (the painting's; default)",
    )
    parser.add_argument(
        "--style-size",
        type=int,
        default=256,
        metavar="PIXELS",
        help="with --style-image: the painting's side at the style predictor (default 256, as published; larger "
        "gives finer strokes)",
    )
    parser.add_argument(
        "--preserve-colors", action="store_true", help="keep the photo's colours (the style's luminance only)"
    )
    common.add_tile_options(parser)
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
    from ..checks import OptionError
    from ..fast import arbitrary, bundled
    from ..fast.apply import apply_model, check_tile_size, load_fast_model, output_pairs, warn_skipped
    from ..fast.options import style_weights

    common.check_tile_options(args)
    if args.model is None and not args.style_image:
        raise OptionError(
            "give --style-image PAINTING (any painting) or --model NAME (`neural-style models` lists them)", "model"
        )
    name = args.model or bundled.ARBITRARY
    paintings = list(args.style_image or ())
    strength = arbitrary.check_strength(args.strength)
    style_size = arbitrary.check_style_size(args.style_size)
    try:
        kind, target = bundled.resolve_model(name)
    except OptionError as error:
        unknown, kind, target = error, "file", name
    else:
        unknown = None
    # Every output checked before any work: none may be the content, the model, a painting or a mask.
    reads = ([target] if kind in ("file", "network") else []) + paintings + list(args.style_masks or ())
    pairs = output_pairs(args.content, args.output, reads)
    if unknown is not None:
        raise unknown
    if kind in ("bundled", "network"):
        network = bundled.load_bundled(target) if kind == "bundled" else bundled.load_network(target)
        model, predictor = network.transform, network.predictor
    else:
        model, predictor = load_fast_model(target), None
    check_tile_size(args.tile_size, model.layout)
    if predictor is None:
        if paintings:
            raise OptionError(
                f"style_image: {name} paints its own {model.styles} style{'s' * (model.styles > 1)}, not a "
                f"painting; leave --style-image out, or use --model {bundled.ARBITRARY} for any painting",
                "style_image",
            )
        if strength != 1 or args.style_size != arbitrary.STYLE_SIZE:
            given = "strength" if strength != 1 else "style_size"
            raise OptionError(f"{given} is for --style-image (the arbitrary-style network); leave it out", given)
        weights = style_weights(model.styles, args.style_index, args.mix, args.style_masks)
    else:
        if not paintings:
            raise OptionError(f"{name} paints any painting: give it with --style-image PAINTING", "style_image")
        if args.style_index is not None:
            raise OptionError(
                "style_index chooses a trained network's style; with --style-image leave it out", "style_index"
            )
        chosen = style_weights(len(paintings), None, args.mix, args.style_masks) if len(paintings) > 1 else [1.0]
        if len(paintings) == 1 and (args.mix is not None or args.style_masks is not None):
            given = "mix" if args.mix is not None else "style_masks"
            raise OptionError(f"{given} mixes several paintings; give them all with --style-image", given)
        vectors = arbitrary.style_vectors(predictor, paintings, style_size)
        weights = _painting_weights(predictor, vectors, chosen, strength, style_size)
    start = last = time.perf_counter()
    skipped = []

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
                        "strength": strength,
                        "seconds": round(now - last, 3),
                    }
                ),
                flush=True,
            )
        elif not args.quiet:
            print(f"{source} -> {written}", file=sys.stderr)
        last = now

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
        )
    if not args.quiet and not args.json:
        seconds = time.perf_counter() - start
        unread = f"; skipped {len(skipped)} unreadable (named above)" if skipped else ""
        print(f"stylised {len(written)} of {len(pairs)} pictures in {seconds:.2f} s{unread}", file=sys.stderr)
    return common.EXIT_FAILURE if skipped else 0


def _painting_weights(predictor, vectors, chosen, strength, style_size):
    """
    The arbitrary-style network's style for each photo: a function of its pixels (the photo's own vector enters
    when strength < 1; masks are fitted to its size before their mixtures become vectors).
    """
    import numpy as np

    from ..fast import arbitrary
    from ..fast.apply import fit_style_weights

    chosen = np.asarray(chosen, np.float32)

    def weights(pixels):
        own = arbitrary.style_vector(predictor, pixels, style_size) if strength < 1 else None
        mixture = fit_style_weights(chosen, *pixels.shape[:2]) if chosen.ndim == 3 else chosen
        return arbitrary.blend(vectors, mixture, strength, own)

    return weights
