"""`neural-style batch`: many pictures in one resumable run, a thin layer over neural_style.batch.stylize_many.

Every option of the main job (weights, size, iterations, optimizer, presets, ...) is the main job's own definition,
taken from its parser, and applies to every job.
"""

import argparse
import os
import signal
import sys
import time

from tqdm import tqdm

from .. import safety
from ..batch import (
    FAILED,
    RESULTS_FILE,
    batch_options,
    check_jobs,
    check_writes,
    grid_jobs,
    manifest_jobs,
    stylize_many,
    summary,
    worker_count,
)
from ..checks import check_positive_int
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
    code -- 0 when every job is done (or was already), 1 when some failed, 2 for bad input, 130 on Ctrl-C, 143 on
            SIGTERM, 129 on SIGHUP
    """
    args = build_parser().parse_args(argv)
    if args.ray and args.workers:
        raise OptionError("--workers is for this machine; with --ray the cluster's CPUs and GPUs decide")
    common.check_writable_folder(args.output_dir, "--output-dir")
    fields = stylize.options_from_args(args)
    options = StyleOptions(**fields)
    jobs = jobs_from_args(args, options)
    results = os.path.join(args.output_dir, RESULTS_FILE)
    inputs = [("--manifest", args.manifest)] if args.manifest else []
    # Every check before any work (and before the folder is made); the checks run again under the lock, cheaply.
    checked = batch_options(options)
    check_jobs(jobs, checked)
    check_writes(jobs, checked, args.output_dir, results, inputs)
    workers = args.workers
    if workers is not None:
        check_positive_int(workers, "--workers")
        workers = worker_count(workers, len(jobs))
        if workers < args.workers and not args.quiet:
            print(
                f"{common.PROG}: note: --workers {args.workers}: using {workers} (one per CPU here and one per job; "
                "more would only share the same cores)",
                file=sys.stderr,
            )
    common.note_random_weights(fields["weights"], args.quiet)
    with safety.signals_as_interrupts(), safety.hold_folder(args.output_dir):
        return _run(args, jobs, options, results, inputs, workers)


def _run(args, jobs, options, results, inputs, workers):
    """The batch itself, its folder held: every job run or skipped; stopped by Ctrl-C, SIGTERM or SIGHUP with one
    line, the finished pictures kept."""
    counts, start = {}, time.perf_counter()
    runs = stylize_many(
        jobs, results, workers=workers, ray_address=args.ray, force=args.force, options=options, inputs=inputs
    )
    with tqdm(total=len(jobs), unit="job", disable=args.quiet, dynamic_ncols=True) as bar:
        try:
            for result in runs:
                counts[result.status] = counts.get(result.status, 0) + 1
                if result.status == FAILED:
                    bar.write(f"{common.PROG}: failed: {result.job.output}: {result.error}", file=sys.stderr)
                bar.set_postfix(failed=counts.get(FAILED, 0), refresh=False)
                bar.update()
        except KeyboardInterrupt as interrupt:
            _close_ignoring_signals(runs)
            bar.close()
            common.fail(
                f"interrupted{common.signal_name(interrupt)}: {summary(counts, time.perf_counter() - start)}; "
                "finished pictures are kept, run the same command again to do the rest"
            )
            return safety.exit_code(interrupt)
    if not args.quiet:
        print(f"{summary(counts, time.perf_counter() - start)}; results in {results}", file=sys.stderr)
    return common.EXIT_FAILURE if counts.get(FAILED) else 0


def _close_ignoring_signals(runs):
    """Ends the batch's workers (a bounded wait, then kill) with further Ctrl-C, SIGTERM and SIGHUP ignored, so that a
    second signal cannot cut the stop short and leave workers running."""
    numbers = (signal.SIGINT, *safety.STOP_SIGNALS)
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in numbers}
    try:
        runs.close()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
