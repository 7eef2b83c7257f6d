"""`neural-style --content PHOTO --style PAINTING --output OUT.jpg`: the main job, a thin layer over StyleTransfer."""

import json
import os
import sys
import time

from .. import config, safety
from ..images import write_image
from ..options import OPTIMIZERS, parse_style_layers
from ..stylize import NonFiniteCostError, StyleTransfer
from ..vgg import PRECISIONS
from . import common


def build_parser():
    """The main job's argument parser."""
    parser = common.ArgumentParser(
        prog=common.PROG,
        description="Paint a photo in the style of a painting (Gatys et al. 2015, as in the course's assignment). "
        "Other commands: `neural-style weights ...`, `neural-style visualize ...` (each with --help).",
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
    common.add_weights_option(parser)
    parser.add_argument("--iterations", type=int, default=config.NUM_ITERATIONS, help="number of steps (default 200)")
    common.add_size_options(parser)
    parser.add_argument("--content-layer", help="default conv4_2 (Keras names such as block4_conv2 work too)")
    parser.add_argument(
        "--style-layers",
        type=common.argument_type(parse_style_layers),
        metavar="NAME:W,...",
        help="default " + ",".join(f"{name}:{weight}" for name, weight in config.STYLE_LAYERS),
    )
    parser.add_argument("--alpha", type=float, help="content weight (default 10)")
    parser.add_argument("--beta", type=float, help="style weight (default 40)")
    parser.add_argument("--learning-rate", type=float, help="Adam's (default 2.0)")
    parser.add_argument("--noise-ratio", type=float, default=config.CONFIG.NOISE_RATIO, help="default 0.6")
    parser.add_argument("--seed", type=int, help="same seed, same machine: the same output pixels")
    parser.add_argument(
        "--save-every",
        type=int,
        default=config.PRINT_EVERY,
        metavar="N",
        help="save the image every N iterations into --output-dir as N.png (default 20, 0 = never)",
    )
    parser.add_argument(
        "--output-dir",
        default=config.CONFIG.OUTPUT_DIR,
        metavar="DIR",
        help="folder for intermediate images (default output/)",
    )
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help="adam (the article's, default) or lbfgs (Gatys et "
        "al.'s: scipy's L-BFGS-B, pixels kept in range, at most 2 x iterations + 20 cost evaluations)",
    )
    parser.add_argument(
        "--init",
        metavar="noise|content|random|PATH",
        help="starting image: noise (the article's, mixed with the content by --noise-ratio; default), "
        "content, random (the article's noise alone: white noise, as Gatys et al.) or an image file",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="every N iterations write the image, the optimiser's state and the history into "
        "--output-dir (checkpoint.npz, checkpoint.png); 0 = never (default)",
    )
    parser.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run whose checkpoint is in DIR, with the same settings, up to the same total --iterations",
    )
    parser.add_argument(
        "--scales",
        metavar="S,S,...",
        help="coarse to fine, e.g. 0.25,0.5,1: optimise at each "
        "fraction of the output size in turn, the iterations split equally (remainder to the finest)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="float32 (the article's, default) or bfloat16: mixed precision, the convolutions in "
        "bfloat16 and the costs in float32 (several times faster on CPUs with AMX and on GPUs)",
    )
    parser.add_argument(
        "--preset",
        metavar="|".join(config.PRESETS),
        help="a set of settings that explicit options override: article (the default), course-tf2 "
        "(conv5_4, Adam 0.01, images in [0, 1], +-0.25 noise, clip after each step, max pooling) or "
        "gatys (L-BFGS from white noise, the paper's content loss, alpha/beta 1e-3)",
    )
    parser.add_argument("--pooling", metavar="avg|max", help="the network's pools: avg (the article's, default) or max")
    parser.add_argument(
        "--tv-weight",
        type=float,
        metavar="W",
        help="weight of the total variation cost, sum of squared neighbour differences (default 0, off)",
    )
    parser.add_argument(
        "--style-blend",
        metavar="W,W,...",
        help="weights of several --style images, normalised to sum to 1 (default equal)",
    )
    parser.add_argument(
        "--style-scale",
        type=float,
        metavar="S",
        help="resize each style image to S x the output size before its Grams are taken (default 1)",
    )
    parser.add_argument(
        "--preserve-colors",
        action="store_true",
        help="keep the photo's colours: the result's luminance with the photo's chrominance (YIQ)",
    )
    parser.add_argument(
        "--color-match",
        action="store_true",
        help="give the style images the photo's colour mean and covariance before the run",
    )
    parser.add_argument("--history", metavar="PATH", help="write the costs as JSON lines, one per iteration")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    return parser


def options_from_args(args):
    """StyleOptions fields from parsed arguments (validation happens in StyleOptions)."""
    options = {
        "weights": common.weights_path(args),
        "height": args.height,
        "width": args.width,
        "max_size": args.max_size,
        "iterations": args.iterations,
        "content_layer": args.content_layer,
        "alpha": args.alpha,
        "beta": args.beta,
        "learning_rate": args.learning_rate,
        "noise_ratio": args.noise_ratio,
        "seed": args.seed,
        "save_every": args.save_every,
        "output_dir": args.output_dir,
    }
    if args.style_layers is not None:
        options["style_layers"] = args.style_layers
    # Given only when set, so that StyleOptions' (or a preset's) defaults stand otherwise.
    for name in (
        "optimizer",
        "init",
        "checkpoint_every",
        "resume",
        "precision",
        "preset",
        "pooling",
        "tv_weight",
        "style_blend",
        "style_scale",
    ):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.scales is not None:
        options["scales"] = args.scales  # parsed and checked with the other options, in StyleOptions.validate
    options["preserve_colors"], options["color_match"] = args.preserve_colors, args.color_match
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
    inputs.append(args.init)  # an --init image is an input too
    common.check_output_file(args.output, inputs)
    if args.history:
        common.check_output_file(args.history, inputs, "--history", extensions=None)
    if args.save_every or args.checkpoint_every:
        common.check_writable_folder(args.output_dir, "--output-dir")
    plan = safety.planned_writes(
        args.output, args.history, args.output_dir, args.iterations, args.save_every, args.checkpoint_every
    )
    named_inputs = [("--content", args.content), *[("--style", style) for style in args.style], ("--init", args.init)]
    safety.check_planned_writes(plan, named_inputs)
    with safety.signals_as_interrupts(), safety.hold_folder(plan.folder):
        return _run(args, options_from_args(args))


def _run(args, options):
    """The run itself, once its paths are checked: build, optimise, write; the best image saved when stopped."""
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
    try:
        image, _ = transfer.run(progress=not args.quiet, callback=write_history)
    except KeyboardInterrupt as interrupt:
        write_image(args.output, transfer.result())
        done = len(transfer.history)
        resume = f"; continue with --resume {args.output_dir}" if transfer.options.checkpoint_every else ""
        by = common._signal_name(interrupt)
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
