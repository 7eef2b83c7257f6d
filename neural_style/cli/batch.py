"""`neural-style batch`: many pictures in one resumable run, a thin layer over neural_style.batch.stylize_many.

Every option of the main job (weights, size, iterations, optimizer, presets, ...) is the main job's own definition,
taken from its parser, and applies to every job.
"""

import argparse
import os
import sys
import time

from tqdm import tqdm

from ..batch import FAILED, RESULTS_FILE, grid_jobs, manifest_jobs, stylize_many, summary
from ..options import OptionError, StyleOptions
from . import common, stylize

# The main job's options that name one picture's files: a batch names its own.
ONE_PICTURE = {
    "--content": ("content", None, "use --contents FILES|DIR"),
    "--style": ("style", None, "use --styles FILES|DIR (or a manifest's style column to blend several)"),
    "--output": ("output", None, "use --output-dir DIR"),
    "--save-every": ("save_every", 0, "a batch writes one picture per job"),
    "--checkpoint-every": ("checkpoint_every", None, "a batch resumes by skipping finished jobs"),
    "--resume": ("resume", None, "run the same batch command again to go on"),
    "--history": ("history", None, "the final costs are in results.jsonl"),
}


class _OnePictureOnly(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is for one picture; {ONE_PICTURE[option_string][2]}")


def build_parser():
    """The batch command's parser: its own options, then every option of the main job."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} batch",
        parents=[stylize.build_parser()],
        conflict_handler="resolve",
        description="Many pictures in one run: every --contents x --styles pair, or one job per --manifest row. "
        "Run the same command again to go on after a failure or Ctrl-C: finished jobs are skipped.",
    )
    for flag, (dest, default, _) in ONE_PICTURE.items():
        parser.add_argument(flag, dest=dest, default=default, nargs="?", action=_OnePictureOnly, help=argparse.SUPPRESS)
    group = parser.add_argument_group("batch")
    group.add_argument("--contents", nargs="+", metavar="PHOTO|DIR", help="content images, or folders of them")
    group.add_argument("--styles", nargs="+", metavar="PAINTING|DIR", help="style images, or folders of them")
    group.add_argument(
        "--manifest",
        metavar="FILE",
        help="instead of --contents/--styles: a .csv (header row) or .jsonl file, one job per row with columns "
        "content, style (several: a;b), output (optional) and any option (iterations, preset, style_blend, ...)",
    )
    group.add_argument(
        "--output-dir",
        required=True,
        metavar="DIR",
        help=f"where the pictures (photo__painting.jpg) and {RESULTS_FILE} go",
    )
    group.add_argument("--format", default="jpg", help="the pictures' image type: jpg (default), png, ...")
    group.add_argument("--force", action="store_true", help="run every job again, even those already finished")
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="N local worker processes, each loading the network once and using its share of the CPU threads "
        "(default: 1, in this process)",
    )
    group.add_argument(
        "--ray",
        metavar="ADDRESS|auto",
        help="run the jobs as tasks on a Ray cluster (pip install -e '.[ray]'); one GPU per task where it has GPUs",
    )
    return parser


def jobs_from_args(args, options):
    """
    The jobs the command line asks for.

    Arguments:
    args -- parsed arguments
    options -- the batch's StyleOptions (manifest rows are checked against them)

    Returns:
    jobs -- list of Job
    """
    if args.manifest and (args.contents or args.styles):
        raise OptionError("--manifest gives the jobs itself; leave out --contents and --styles")
    if args.manifest:
        return manifest_jobs(args.manifest, args.output_dir, options, args.format)
    if not args.contents or not args.styles:
        raise OptionError("give --contents and --styles (every pair is a job), or --manifest FILE")
    return grid_jobs(args.contents, args.styles, args.output_dir, args.format)


def main(argv):
    """
    Runs a batch.

    Arguments:
    argv -- command-line arguments (without `neural-style batch`)

    Returns:
    code -- 0 when every job is done (or was already), 1 when some failed, 2 for bad input, 130 on Ctrl-C
    """
    args = build_parser().parse_args(argv)
    if args.ray and args.workers:
        raise OptionError("--workers is for this machine; with --ray the cluster's CPUs and GPUs decide")
    common.check_writable_folder(args.output_dir, "--output-dir")
    fields = stylize.options_from_args(args)
    options = StyleOptions(**fields)
    jobs = jobs_from_args(args, options)
    common.note_random_weights(fields["weights"], args.quiet)
    results = os.path.join(args.output_dir, RESULTS_FILE)
    counts, start = {}, time.perf_counter()
    runs = stylize_many(jobs, results, workers=args.workers, ray_address=args.ray, force=args.force, options=options)
    with tqdm(total=len(jobs), unit="job", disable=args.quiet, dynamic_ncols=True) as bar:
        try:
            for result in runs:
                counts[result.status] = counts.get(result.status, 0) + 1
                if result.status == FAILED:
                    bar.write(f"{common.PROG}: failed: {result.job.output}: {result.error}", file=sys.stderr)
                bar.set_postfix(failed=counts.get(FAILED, 0), refresh=False)
                bar.update()
        except KeyboardInterrupt:
            runs.close()
            bar.close()
            common.fail(
                f"interrupted: {summary(counts, time.perf_counter() - start)}; finished pictures are kept, "
                "run the same command again to do the rest"
            )
            return common.EXIT_INTERRUPTED
    if not args.quiet:
        print(f"{summary(counts, time.perf_counter() - start)}; results in {results}", file=sys.stderr)
    return common.EXIT_FAILURE if counts.get(FAILED) else 0
