"""`neural-style train --style PAINTING --images FOLDER --output MODEL.keras`: a thin layer over
neural_style.fast.train.train_fast_model (Johnson et al.'s feed-forward network, the article's costs)."""

import sys

from .. import config
from ..fast import options as fast_options
from ..safety import exit_code, signals_as_interrupts
from . import common


def build_parser():
    """The train command's parser."""
    defaults = fast_options.TrainOptions()
    parser = common.ArgumentParser(
        prog=f"{common.PROG} train",
        description="Train a feed-forward network for one style (Johnson, Alahi & Fei-Fei 2016) with the article's "
        "content, style and total-variation costs; afterwards `neural-style apply` stylises a picture in one pass. "
        "Ctrl-C or SIGTERM keeps the last checkpoint: the same command again continues from it.",
    )
    parser.add_argument(
        "--style",
        required=True,
        nargs="+",
        metavar="PAINTING",
        help="the style picture; several train one network for all (apply --style-index K picks one)",
    )
    parser.add_argument(
        "--images",
        required=True,
        metavar="FOLDER",
        help="folder of photographs, searched recursively (the field uses COCO train2014)",
    )
    parser.add_argument("--output", required=True, metavar="MODEL.keras", help="the model file to write")
    parser.add_argument("--size", type=int, default=defaults.size, help="training crops' side (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="default %(default)s")
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs", type=int, default=defaults.epochs, help="passes over the pictures (default %(default)s)"
    )
    length.add_argument("--steps", type=int, help="steps instead of --epochs")
    parser.add_argument("--content-weight", type=float, default=config.ALPHA, help="alpha (default %(default)s)")
    parser.add_argument("--style-weight", type=float, default=config.BETA, help="beta (default %(default)s)")
    parser.add_argument("--tv-weight", type=float, default=defaults.tv_weight, help="default %(default)s")
    parser.add_argument("--style-size", type=int, help="the style picture's longest side (default: --size)")
    parser.add_argument(
        "--learning-rate", type=float, default=defaults.learning_rate, help="Adam's (default %(default)s)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="the network's start, the pictures' order and crops (default %(default)s)",
    )
    parser.add_argument("--content-layer", default=config.CONTENT_LAYER, help="default %(default)s")
    parser.add_argument(
        "--style-layers", metavar="NAME:W,...", help="default: the article's conv1_1 ... conv5_1, 0.2 each"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=defaults.checkpoint_every,
        metavar="N",
        help="write a checkpoint every N steps into --work-dir (default %(default)s)",
    )
    parser.add_argument(
        "--work-dir", metavar="DIR", help="the checkpoint's folder (default: MODEL without .keras, plus .train)"
    )
    parser.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="write the training for TensorBoard into DIR/<model name>-<time>/: every cost term at every step, the "
        "settings, and previews of the network on held-out photographs; watch with `tensorboard --logdir DIR`",
    )
    parser.add_argument(
        "--save-every",
        type=int,
        default=defaults.save_every,
        metavar="N",
        help="with --tensorboard: the previews every N steps too (default %(default)s: at the start and the end only)",
    )
    parser.add_argument(
        "--preview-images",
        metavar="FOLDER",
        help=f"with --tensorboard: the held-out photographs of the previews, at most {fast_options.PREVIEW_LIMIT} "
        f"(default: the first {fast_options.PREVIEW_COUNT} of --images), resized to --size",
    )
    parser.add_argument(
        "--cluster-timeout",
        type=float,
        default=defaults.cluster_timeout,
        metavar="SECONDS",
        help="with TF_CONFIG naming a cluster: how long a task waits for the others to answer, and then to join, "
        "before it ends with one line (default %(default)g)",
    )
    common.add_weights_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


SETTINGS = (
    "size",
    "batch_size",
    "epochs",
    "steps",
    "content_weight",
    "style_weight",
    "tv_weight",
    "style_size",
    "learning_rate",
    "seed",
    "content_layer",
    "style_layers",
    "checkpoint_every",
    "tensorboard",
    "save_every",
    "preview_images",
    "cluster_timeout",
)


def main(argv):
    """
    Runs the train command.

    Arguments:
    argv -- command-line arguments (without `neural-style train`)

    Returns:
    code -- exit code: 0, 2 for bad input (one line), 130 / 143 when interrupted (the checkpoint kept)
    """
    args = build_parser().parse_args(argv)
    settings = {name: getattr(args, name) for name in SETTINGS}
    options = fast_options.TrainOptions(**settings).validate()  # every setting checked before TensorFlow is imported
    fast_options.check_training_memory(options)
    common.check_output_file(args.output, args.style, "--output", extensions=(".keras",))
    if args.tensorboard:  # as the other commands check theirs: a folder that can be made and written
        common.check_writable_folder(args.tensorboard, "--tensorboard")
    from ..fast.distribute import CLUSTER_LOST
    from ..fast.resume import default_work_dir, has_checkpoint
    from ..fast.train import summary_line, train_fast_model

    weights = common.weights_path(args)
    work_dir = args.work_dir or default_work_dir(args.output)
    try:
        with signals_as_interrupts():
            _, summary = train_fast_model(
                args.style,
                args.images,
                args.output,
                weights=weights,
                work_dir=work_dir,
                progress=not args.quiet,
                **settings,
            )
    except KeyboardInterrupt as interrupt:
        kept = has_checkpoint(work_dir)
        where = f"the last checkpoint is kept in {work_dir}" if kept else "no checkpoint was written yet"
        common.fail(
            f"interrupted{' by ' + str(interrupt) if hasattr(interrupt, 'signum') else ''}; {where}; "
            "run the same command again to continue"
        )
        return exit_code(interrupt)
    except CLUSTER_LOST as error:
        reason = str(error).split(" by: ")[-1].splitlines()[0][:200]
        common.fail(
            f"a task of the training's cluster (TF_CONFIG) was lost: {reason}; start every task again with the same "
            "command to continue from the chief's last checkpoint"
        )
        return common.EXIT_FAILURE
    if not summary["chief"]:
        return 0  # a cluster's other worker: the chief says what was trained and wrote the model
    common.note_random_weights(weights, args.quiet)
    if not args.quiet:
        print(f"{summary_line(summary)}; wrote {args.output}", file=sys.stderr)
    return 0
