"""`neural-style train --style PAINTING --images FOLDER --output MODEL.keras`: a thin layer over
neural_style.fast.train.train_fast_model (Johnson et al.'s feed-forward network, or --architecture small, with the
article's costs)."""

import sys

from ..fast import options as fast_options
from ..option_fields import cli_fields
from ..safety import exit_code, signals_as_interrupts
from . import common


def build_parser():
    """The train command's parser."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} train",
        description="Train a feed-forward network for one style (Johnson, Alahi & Fei-Fei 2016; --architecture small: "
        "Dumoulin et al.'s smaller layout) with the article's content, style and total-variation costs; afterwards "
        "`neural-style apply` stylises a picture in one pass. "
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
    groups = {}
    for field in cli_fields(fast_options.TrainOptions):
        exclusive = field.metadata.get("exclusive")
        if exclusive is not None and exclusive not in groups:
            groups[exclusive] = parser.add_mutually_exclusive_group()
        common.add_option(groups.get(exclusive, parser), field.name, default=field.default, field=field)
    parser.add_argument(
        "--work-dir", metavar="DIR", help="the checkpoint's folder (default: MODEL without .keras, plus .train)"
    )
    common.add_weights_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv):
    """
    Runs the train command.

    Arguments:
    argv -- command-line arguments (without `neural-style train`)

    Returns:
    code -- exit code: 0, 2 for bad input (one line), 130 / 143 when interrupted (the checkpoint kept)
    """
    args = build_parser().parse_args(argv)
    settings = {field.name: getattr(args, field.name) for field in cli_fields(fast_options.TrainOptions)}
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
