"""Many pictures in one run: every content x style pair, or one job per manifest row, resumable and fault tolerant.

A job is one picture: a content image, its style image(s), where the picture goes and the options that differ from
the batch's. ``stylize_many`` runs jobs and yields each one's result as it finishes; it writes the pictures
(atomically) and one row per job into ``results.jsonl``. A job whose picture exists with the same settings
fingerprint recorded there is skipped, so running the same batch again picks up where it stopped. A job that fails
is recorded with its one-line error and the batch goes on.

Each worker loads the network's weights once and runs many jobs: in this process (the default), in N local worker
processes (``workers=N``), or as Ray tasks on a Ray cluster (``ray_address``), where the input files' bytes travel
with each task and the picture's pixels come back to the driver, so the machines need no shared storage.
"""

import os

from ..checks import check_positive_int, warn
from ..image_files import write_image
from ..safety import deferred_signals
from .jobs import (
    BATCH_OWNED,
    Job,
    batch_options,
    check_jobs,
    check_writes,
    escape_label,
    grid_jobs,
    image_files,
    job_inputs,
    output_name,
    picture_labels,
)
from .manifest import JOB_COLUMNS, manifest_jobs, option_value, read_manifest
from .results import (
    DONE,
    FAILED,
    RESULTS_FILE,
    SKIPPED,
    JobResult,
    append_row,
    damaged_note,
    finished_fingerprint,
    read_results,
    result_row,
    summary,
)
from .workers import (
    RETRIES,
    Worker,
    cpu_count,
    in_process,
    job_fingerprint,
    local_processes,
    one_line_error,
    ray_tasks,
    worker_count,
)

__all__ = [
    "BATCH_OWNED",
    "DONE",
    "FAILED",
    "JOB_COLUMNS",
    "RESULTS_FILE",
    "RETRIES",
    "SKIPPED",
    "Job",
    "JobResult",
    "Worker",
    "append_row",
    "batch_options",
    "check_jobs",
    "check_writes",
    "damaged_note",
    "escape_label",
    "job_inputs",
    "cpu_count",
    "finished_fingerprint",
    "grid_jobs",
    "image_files",
    "job_fingerprint",
    "manifest_jobs",
    "one_line_error",
    "option_value",
    "output_name",
    "picture_labels",
    "read_manifest",
    "read_results",
    "result_row",
    "stylize_many",
    "summary",
    "worker_count",
]


def stylize_many(
    jobs, results=None, workers=None, ray_address=None, force=False, options=None, inputs=(), report=None, **overrides
):
    """
    Runs many style transfers, yielding each one's result as it finishes; writes each picture (atomically) and
    appends its row to results.jsonl. A job whose picture exists with the same fingerprint recorded is skipped.
    Everything is checked when it is called, before any job runs (check_jobs, check_writes: with results given,
    every picture must lie in its folder and none may be an input).

    Arguments:
    jobs -- list of Job (grid_jobs, manifest_jobs, or your own)
    results -- path of results.jsonl (None: nothing recorded, nothing skipped)
    workers -- None or 1: in this process; N > 1: N local worker processes sharing the CPU threads (at most one per
               CPU and one per job: worker_count)
    ray_address -- None, or a Ray cluster's address ('auto', 'host:6379'): one Ray task per job
    force -- run every job, even those finished
    options -- the StyleOptions every job starts from; overrides: StyleOptions fields (weights, iterations, ...)
    inputs -- more (name, path) the batch reads and must never write, e.g. ('--manifest', path)
    report -- function(line) told of damaged lines in results.jsonl (default: a warning line on stderr)

    Returns:
    results -- a generator of JobResult per job as it finishes (status done, skipped or failed), pixels written and
               dropped
    """
    options = batch_options(options, **overrides)
    if workers is not None:
        check_positive_int(workers, "workers")
        workers = worker_count(workers, len(jobs))
    check_jobs(jobs, options)
    folder = os.path.dirname(os.path.abspath(results)) if results else None
    check_writes(jobs, options, folder, results, inputs)
    damaged = []
    rows = read_results(results, damaged) if results and not force else {}
    if damaged:
        (report or warn)(damaged_note(results, damaged))
    tasks = [(job, finished_fingerprint(job, rows, folder) if rows else None) for job in jobs]
    return _stream(tasks, options, results, folder, workers, ray_address)


def _stream(tasks, options, results, folder, workers, ray_address):
    if ray_address:
        stream = ray_tasks(tasks, options, ray_address)
    elif workers and workers > 1:
        stream = local_processes(tasks, options, workers)
    else:
        stream = in_process(tasks, options)
    try:
        for result in stream:
            try:
                # The picture and its row together or neither: a signal waits until both are written, so an
                # interrupted batch never leaves a picture without its row nor a library's write cut in half.
                with deferred_signals():
                    if result.status == DONE:
                        write_image(result.job.output, result.pixels)
                    result.pixels = None
                    if results:
                        append_row(results, result_row(result, folder))
            except KeyboardInterrupt:
                yield result  # finished and recorded: counted as such, then the interrupt goes on
                raise
            yield result
    finally:
        stream.close()
