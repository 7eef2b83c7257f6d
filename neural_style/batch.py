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

import csv
import dataclasses
import datetime
import hashlib
import json
import logging
import math
import multiprocessing
import os
import queue
import signal
import socket
import tempfile
import time

import tensorflow as tf

from .checks import check_positive_int
from .images import IMAGE_EXTENSIONS, ImageError, write_image
from .options import OptionError, StyleOptions, parse_style_layers
from .stylize import NonFiniteCostError, StyleTransfer
from .weights import load_weights

RESULTS_FILE = "results.jsonl"
DONE, SKIPPED, FAILED = "done", "skipped", "failed"
# Options a manifest row may not set: the weights are loaded once per worker, and the batch owns its files.
BATCH_OWNED = ("weights", "output_dir", "save_every", "checkpoint_every", "resume")
# Manifest columns that are not options.
JOB_COLUMNS = ("content", "style", "output")
# How often a job is tried again after its worker process (or Ray node) died.
RETRIES = 2


@dataclasses.dataclass(frozen=True)
class Job:
    """One picture of a batch.

    Attributes:
    content -- path of the content image
    styles -- tuple of style image paths (several are blended, as --style A B)
    output -- path of the picture to write
    options -- dict of StyleOptions fields for this job alone (they override the batch's)
    """

    content: str
    styles: tuple
    output: str
    options: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class JobResult:
    """What became of one job.

    Attributes:
    job -- the Job
    status -- 'done', 'skipped' (its picture exists with the same fingerprint) or 'failed'
    fingerprint -- 'sha256:...' of the job's settings, weights and input pixels (None if it failed before)
    costs -- dict J, J_content, J_style of the last iteration and iterations, the number run (empty unless done)
    seconds -- time the job took on its worker
    worker -- 'host:pid' of the process that ran it
    error -- the one-line error of a failed job, else None
    pixels -- the picture, uint8 (H, W, 3), until the driver has written it
    """

    job: Job
    status: str
    fingerprint: str = None
    costs: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    worker: str = None
    error: str = None
    pixels: object = dataclasses.field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------------------------------
# Planning: which jobs, which names


def image_files(sources, option):
    """
    The image files named by a list of files and folders (a folder: its image files, sorted, not recursive).

    Arguments:
    sources -- list of paths of image files or folders
    option -- the option's name, for the message

    Returns:
    paths -- list of str, in the order given
    """
    paths = []
    for source in map(os.fspath, sources):
        if os.path.isdir(source):
            found = sorted(
                os.path.join(source, name)
                for name in os.listdir(source)
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS and not name.startswith(".")
            )
            if not found:
                raise OptionError(f"{option} {source}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
            paths.extend(found)
        elif os.path.isfile(source):
            paths.append(source)
        else:
            raise OptionError(f"{option} {source}: no such file or folder")
    return list(dict.fromkeys(paths))


def picture_labels(paths):
    """
    A short, readable label per input for output names: its file name without extension, made unique when two
    inputs share it by adding parent folder names ('a-photo', 'b-photo'), else the extension ('photo-png').

    Arguments:
    paths -- list of distinct paths

    Returns:
    labels -- dict path -> label, no two the same
    """
    by_stem = {}
    for path in paths:
        by_stem.setdefault(_stem(path), []).append(path)
    labels = {}
    for stem, group in by_stem.items():
        labels.update(_unique_labels(stem, group))
    return labels


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def _unique_labels(stem, group):
    if len(group) == 1:
        return {group[0]: stem}
    parts = {path: os.path.normpath(os.path.abspath(path)).split(os.sep)[:-1] for path in group}
    for depth in range(1, max(map(len, parts.values())) + 1):
        labels = {path: "-".join(parts[path][-depth:] + [stem]).lstrip("-") for path in group}
        if len(set(labels.values())) == len(group):
            return labels
    labels = {path: f"{stem}-{os.path.splitext(path)[1].lstrip('.').lower()}" for path in group}
    if len(set(labels.values())) == len(group):
        return labels
    return {path: f"{stem}-{k + 1}" for k, path in enumerate(group)}


def output_name(content_label, style_labels, extension):
    """
    The file name of a job's picture: 'photo__starry_night.jpg' (several styles: 'photo__a+b.jpg').

    Arguments:
    content_label -- the content image's label (picture_labels)
    style_labels -- the style images' labels
    extension -- '.jpg', '.png', ...

    Returns:
    name -- str
    """
    return f"{content_label}__{'+'.join(style_labels)}{extension}"


def grid_jobs(contents, styles, output_dir, extension=".jpg"):
    """
    One job per content x style pair, each picture named after its pair.

    Arguments:
    contents -- list of content image files or folders
    styles -- list of style image files or folders
    output_dir -- the folder the pictures go into
    extension -- the pictures' format, '.jpg' or '.png', ...

    Returns:
    jobs -- list of Job, content-major
    """
    extension = _checked_extension(extension)
    content_paths, style_paths = image_files(contents, "--contents"), image_files(styles, "--styles")
    content_labels, style_labels = picture_labels(content_paths), picture_labels(style_paths)
    return [
        Job(
            content,
            (style,),
            os.path.join(output_dir, output_name(content_labels[content], [style_labels[style]], extension)),
        )
        for content in content_paths
        for style in style_paths
    ]


def _checked_extension(extension):
    extension = extension if extension.startswith(".") else "." + extension
    if extension.lower() not in IMAGE_EXTENSIONS:
        raise OptionError(
            f"--format {extension.lstrip('.')}: unknown image type; use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    return extension.lower()


def read_manifest(path):
    """
    The rows of a manifest: a CSV file with a header row, or JSON lines (one object per line).

    Arguments:
    path -- a .csv or .jsonl file

    Returns:
    rows -- list of (row number, dict column -> value); CSV rows are numbered from 2 (the header is row 1), JSON
            lines from 1; empty cells and blank lines are left out
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OptionError(f"--manifest {path}: no such file")
    kind = os.path.splitext(path)[1].lower()
    with open(path, newline="", encoding="utf-8") as file:
        if kind == ".csv":
            reader = csv.DictReader(file)
            rows = [
                (n, {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()})
                for n, row in enumerate(reader, 2)
            ]
            if None in (column for _, row in rows for column in row):
                raise OptionError(f"{path}: a row has more cells than the header has columns")
            return rows
        if kind in (".jsonl", ".ndjson"):
            rows = []
            for n, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise OptionError(f"{path} row {n}: not JSON ({error.msg}); give one object per line") from None
                if not isinstance(row, dict):
                    raise OptionError(f"{path} row {n}: not a JSON object; give one object per line")
                rows.append((n, {k: v for k, v in row.items() if v is not None and v != ""}))
            return rows
    raise OptionError(f"--manifest {path}: unknown kind of file; give a .csv (with a header row) or a .jsonl file")


def option_value(name, value):
    """
    A manifest cell as the value of the StyleOptions field `name` (JSON values are taken as they are, text converted
    by the field's type; the checks themselves are StyleOptions.validate's).

    Arguments:
    name -- a StyleOptions field name
    value -- the cell: text (CSV) or a JSON value

    Returns:
    value -- the option's value
    """
    field = {field.name: field for field in dataclasses.fields(StyleOptions)}[name]
    # The field's own parser where its metadata declares one (the command line's), else its annotated type.
    parse = field.metadata.get("parse")
    kind = parse if parse is not None else field.type
    if not isinstance(value, str):
        return value
    if kind is bool:
        if value.lower() in ("true", "yes", "1"):
            return True
        if value.lower() in ("false", "no", "0"):
            return False
        raise OptionError(f"{value!r} is not true or false")
    if kind in (int, float):
        try:
            number = float(value)
        except ValueError:
            raise OptionError(f"{value!r} is not a number") from None
        if kind is int and number.is_integer():
            return int(number)
        return number
    if parse is not None:
        return parse(value)
    if name == "style_layers":
        return parse_style_layers(value)
    return value


def manifest_jobs(path, output_dir, options=None, extension=".jpg"):
    """
    One job per manifest row, each row checked (its files, its options through StyleOptions.validate) before any
    runs. Columns: content, style (several separated by ';' in CSV, a list in JSON), output (optional; relative to
    output_dir; default named after the pair), and any option (iterations, preset, style_blend, ...).

    Arguments:
    path -- the manifest, .csv or .jsonl; relative image paths in it are relative to its folder
    output_dir -- the folder the pictures go into
    options -- the batch's StyleOptions (a row's options override them)
    extension -- the format of pictures named after their pair

    Returns:
    jobs -- list of Job; a bad row raises OptionError naming the manifest, the row and the column
    """
    options = options or StyleOptions()
    extension = _checked_extension(extension)
    folder = os.path.dirname(os.path.abspath(path))
    fields = {field.name for field in dataclasses.fields(StyleOptions)} - set(BATCH_OWNED)
    planned = []
    for row_number, row in read_manifest(path):

        def bad(column, problem, row_number=row_number):
            return OptionError(f"{path} row {row_number}, column {column}: {problem}")

        job_options = {}
        for column, value in row.items():
            name = column.replace("-", "_")
            if name in JOB_COLUMNS or name == "styles":
                continue
            if name not in fields:
                raise bad(column, "unknown column; use content, style, output or an option such as iterations")
            try:
                job_options[name] = option_value(name, value)
            except OptionError as error:
                raise bad(column, error) from None
        content = _manifest_path(row.get("content"), folder, bad, "content")
        style_cell = row.get("style", row.get("styles"))
        if isinstance(style_cell, str):
            style_cell = [part for part in style_cell.split(";") if part.strip()]
        if not style_cell:
            raise bad("style", "empty; give a style image (several separated by ';')")
        styles = tuple(_manifest_path(item, folder, bad, "style") for item in style_cell)
        try:
            dataclasses.replace(options, **job_options).validate(style_count=len(styles))
        except OptionError as error:
            column = _column_named(error, row)
            raise bad(column, _without_column(error, column)) from None
        planned.append((row_number, content, styles, row.get("output"), job_options))
    return _named_manifest_jobs(planned, output_dir, extension, path)


def _manifest_path(value, folder, bad, column):
    if not isinstance(value, str) or not value.strip():
        raise bad(column, "empty; give an image file")
    path = os.path.join(folder, os.path.expanduser(value.strip()))
    if not os.path.isfile(path):
        raise bad(column, f"{value}: no such file")
    return path


def _column_named(error, row):
    """The row's column that an OptionError names (its parameters where it lists them, else a --flag in its message),
    else the first option column."""
    named = [name.replace("_", "-") for name in getattr(error, "parameters", ())]
    text = str(error)
    for column in row:
        flag = column.replace("_", "-")
        if flag in named or f"--{flag}" in text:
            return column
    options = [column for column in row if column not in JOB_COLUMNS and column != "styles"]
    return options[0] if options else "style"


def _without_column(error, column):
    """An OptionError's message without its leading parameter where that is the column already named
    ('iterations must be ...' in column iterations reads 'must be ...')."""
    message = str(error)
    name = column.replace("-", "_")
    if name in getattr(error, "parameters", ()) and message.startswith(f"{name} "):
        return message[len(name) + 1 :]
    return message


def _named_manifest_jobs(planned, output_dir, extension, path):
    content_labels = picture_labels(list(dict.fromkeys(content for _, content, _, _, _ in planned)))
    style_labels = picture_labels(list(dict.fromkeys(s for _, _, styles, _, _ in planned for s in styles)))
    jobs, seen = [], {}
    for row_number, content, styles, output, job_options in planned:
        if output is None:
            name = output_name(content_labels[content], [style_labels[s] for s in styles], extension)
            output = os.path.join(output_dir, name)
            stem, ext = os.path.splitext(output)
            count = 2
            while os.path.normpath(output) in seen:  # the same pair twice, with other options
                output, count = f"{stem}-{count}{ext}", count + 1
        else:
            output = os.path.join(output_dir, output)
            if os.path.splitext(output)[1].lower() not in IMAGE_EXTENSIONS:
                raise OptionError(
                    f"{path} row {row_number}, column output: unknown image type; use {', '.join(IMAGE_EXTENSIONS)}"
                )
            if os.path.normpath(output) in seen:
                raise OptionError(
                    f"{path} row {row_number}, column output: {output} is also row {seen[os.path.normpath(output)]}'s; "
                    "give each row its own output"
                )
        if any(_same_path(output, source) for source in (content, *styles)):
            raise OptionError(
                f"{path} row {row_number}, column output: {output} is also an input (inputs are never overwritten)"
            )
        seen[os.path.normpath(output)] = row_number
        jobs.append(Job(content, styles, output, job_options))
    return jobs


def _same_path(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


# ---------------------------------------------------------------------------------------------------------------------
# Results: one JSON line per job, the latest line of a picture being its state


def result_row(result, results_folder):
    """
    A job's line in results.jsonl.

    Arguments:
    result -- a JobResult
    results_folder -- the folder of results.jsonl (the output path is recorded relative to it)

    Returns:
    row -- dict of JSON values: output, content, style, options, fingerprint, status, J, J_content, J_style,
           seconds, worker, error, finished (UTC time)
    """
    job = result.job
    return {
        "output": _relative(job.output, results_folder),
        "content": job.content,
        "style": list(job.styles),
        "options": {name: _json_value(value) for name, value in job.options.items()},
        "fingerprint": result.fingerprint,
        "status": result.status,
        **result.costs,
        "seconds": round(result.seconds, 3),
        "worker": result.worker,
        "error": result.error,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _relative(path, folder):
    return os.path.normpath(os.path.relpath(os.path.abspath(path), os.path.abspath(folder)))


def _json_value(value):
    return json.loads(json.dumps(value, default=repr))


def read_results(path):
    """
    The latest recorded row of each picture in a results.jsonl (a line cut short by a crash is ignored).

    Arguments:
    path -- results.jsonl (missing: no rows)

    Returns:
    rows -- dict output (relative to the file's folder) -> its latest row
    """
    rows = {}
    if not os.path.isfile(path):
        return rows
    with open(path, encoding="utf-8") as file:
        for line in file:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "output" in row:
                rows[row["output"]] = row
    return rows


def finished_fingerprint(job, rows, results_folder):
    """
    The fingerprint recorded for a job whose picture exists, else None (the job must run).

    Arguments:
    job -- a Job
    rows -- read_results' dict
    results_folder -- the folder of results.jsonl

    Returns:
    fingerprint -- str or None
    """
    row = rows.get(_relative(job.output, results_folder))
    if row is None or row.get("status") not in (DONE, SKIPPED) or not os.path.isfile(job.output):
        return None
    return row.get("fingerprint")


def append_row(path, row):
    """
    Appends one line to results.jsonl, in one write: a crash can cut only the last line short, which read_results
    ignores (rewriting the whole file atomically per job would cost time quadratic in the number of jobs).

    Arguments:
    path -- results.jsonl
    row -- dict of JSON values
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(row) + "\n")


# ---------------------------------------------------------------------------------------------------------------------
# Workers: the network loaded once, many jobs


def job_fingerprint(transfer):
    """
    The settings fingerprint of a job: the settings a checkpoint checks (options, size, digests of the weights and
    of the input pixels) and the options that choose the starting image (init, noise ratio, seed).

    Arguments:
    transfer -- the job's StyleTransfer, built

    Returns:
    fingerprint -- 'sha256:...'
    """
    options = transfer.options
    settings = {**transfer.settings(), "init": options.init, "noise-ratio": options.noise_ratio, "seed": options.seed}
    text = json.dumps(settings, sort_keys=True, default=repr)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def batch_options(options=None, **overrides):
    """
    The batch's StyleOptions, checked: every job's options start from these.

    Arguments:
    options -- a StyleOptions, or None for the defaults
    overrides -- StyleOptions fields

    Returns:
    options -- StyleOptions (not yet filled by validate, so a job's preset still fills what is unset)
    """
    options = dataclasses.replace(options or StyleOptions(), **overrides)
    for name in ("checkpoint_every", "resume", "save_every"):
        if getattr(options, name):
            raise OptionError(f"{name} is for one picture; a batch resumes by skipping finished jobs", name)
    options = dataclasses.replace(options, output_dir=None)
    dataclasses.replace(options).validate()
    return options


def check_jobs(jobs, options):
    """
    Checks every job's options (the batch's with the job's own) before any job runs.

    Arguments:
    jobs -- list of Job
    options -- the batch's StyleOptions

    Returns:
    None; raises OptionError naming the first job whose options cannot work
    """
    for job in jobs:
        try:
            dataclasses.replace(options, **job.options).validate(style_count=len(job.styles))
        except OptionError as error:
            raise OptionError(f"job {job.output}: {error}", *error.parameters) from None
        except TypeError as error:  # an option name that StyleOptions does not have
            raise OptionError(f"job {job.output}: {error}") from None


class _NoRetracingNotes(logging.Filter):
    """Every job builds its own optimisation step, on purpose: TensorFlow's note that it traces again is noise."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


_NO_RETRACING_NOTES = _NoRetracingNotes()


class Worker:
    """Runs jobs one after another with the network's weights loaded once."""

    def __init__(self, options):
        logging.getLogger("tensorflow").addFilter(_NO_RETRACING_NOTES)
        weights = options.weights
        self.options = dataclasses.replace(
            options, weights=weights if hasattr(weights, "layers") else load_weights(weights)
        )
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, job, finished=None):
        """
        Runs one job; any error it meets is its result, not an exception.

        Arguments:
        job -- a Job
        finished -- the fingerprint recorded for its existing picture, or None

        Returns:
        result -- a JobResult with the pixels when done
        """
        start = time.perf_counter()
        fingerprint = None
        try:
            transfer = StyleTransfer(job.content, list(job.styles), self.options, **job.options)
            fingerprint = job_fingerprint(transfer)
            if fingerprint == finished:
                return JobResult(job, SKIPPED, fingerprint, seconds=time.perf_counter() - start, worker=self.name)
            pixels, history = transfer.run()
            last = history[-1]
            costs = {name: last[name] for name in ("J", "J_content", "J_style") if name in last}
            costs["iterations"] = len(history)
            status, error = DONE, None
        except Exception as failure:  # a failing job is recorded and the batch goes on
            interrupt = _interrupt_behind(failure)
            if interrupt is not None:
                raise interrupt from None
            pixels, costs, status, error = None, {}, FAILED, one_line_error(failure)
        return JobResult(job, status, fingerprint, costs, time.perf_counter() - start, self.name, error, pixels)


def _interrupt_behind(error):
    """The KeyboardInterrupt that an error was raised while handling, if any: Ctrl-C in the middle of TensorFlow's
    tracing can surface as the error of a context manager left in disorder (tf_stack's 'Concurrent access?'), which
    is the user stopping the batch, not the job failing."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def one_line_error(error):
    """
    An exception as one line: its message, with its kind where the message alone would not say.

    Arguments:
    error -- an exception

    Returns:
    line -- str
    """
    text = " ".join(str(error.args[0] if isinstance(error, KeyError) and error.args else error).split())
    if isinstance(error, (OptionError, ImageError, FileNotFoundError, NonFiniteCostError)):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _in_process(tasks, options):
    worker = Worker(options)
    for job, finished in tasks:
        yield worker.run(job, finished)


# Local worker processes: each gets its share of the CPU threads, loads the weights once and takes jobs from a queue.


def _process_main(options, threads, tasks, results):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle; it ends the workers
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    try:
        worker = Worker(options)
    except Exception as error:  # unreadable weights: the driver reports it, as in-process
        results.put(("broken", None, error))
        return
    for index, job, finished in iter(tasks.get, None):
        results.put(("started", index, worker.name))
        results.put(("result", index, worker.run(job, finished)))


def cpu_count():
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _local_processes(tasks, options, workers):
    context = multiprocessing.get_context("spawn")
    task_queue, result_queue = context.Queue(), context.Queue()
    threads = max(1, cpu_count() // workers)
    for index, (job, finished) in enumerate(tasks):
        task_queue.put((index, job, finished))
    remaining = set(range(len(tasks)))
    processes, running, attempts = [], {}, {}

    def start():
        process = context.Process(target=_process_main, args=(options, threads, task_queue, result_queue), daemon=True)
        process.start()
        processes.append(process)

    for _ in range(min(workers, len(tasks))):
        start()
    try:
        while remaining:
            try:
                kind, index, payload = result_queue.get(timeout=1.0)
            except queue.Empty:
                yield from _replace_dead(processes, running, attempts, tasks, task_queue, remaining, start)
                continue
            if kind == "broken":
                raise payload
            if kind == "started":
                running[payload] = index
            else:
                running.pop(payload.worker, None)
                remaining.discard(index)
                yield payload
        for _ in processes:
            task_queue.put(None)  # all done: each worker ends after its last job
        for process in processes:
            process.join(timeout=10)
    finally:
        # Interrupted (or a worker hung): end them now; a job cut short is picked up by the next run.
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        for channel in (task_queue, result_queue):
            channel.cancel_join_thread()
            channel.close()


def _replace_dead(processes, running, attempts, tasks, task_queue, remaining, start):
    """A worker process that died: its job is tried again (at most RETRIES times), and a new process started."""
    for process in [p for p in processes if not p.is_alive()]:
        processes.remove(process)
        index = running.pop(f"{socket.gethostname()}:{process.pid}", None)
        if index is not None:
            attempts[index] = attempts.get(index, 0) + 1
            job, finished = tasks[index]
            if attempts[index] > RETRIES:
                remaining.discard(index)
                error = f"its worker process died {attempts[index]} times (exit code {process.exitcode})"
                yield JobResult(job, FAILED, error=error, worker=f"{socket.gethostname()}:{process.pid}")
            else:
                task_queue.put((index, job, finished))
        if remaining:
            start()


# Ray: one task per job, the input files' bytes with it, the picture's pixels back.

_RAY_WORKERS = {}


def _ray_job(options, job, inputs, finished):
    """A Ray task: the job's input files (path -> their bytes in the object store) are written to a temporary folder
    and the job run there."""
    import ray

    inputs = dict(zip(inputs, ray.get(list(inputs.values())), strict=True))
    key = hashlib.sha256(repr(options).encode()).hexdigest()
    if key not in _RAY_WORKERS:
        cpus = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
        try:
            _RAY_WORKERS[key] = Worker(options)
        except Exception as error:  # e.g. no weights file on this node: the job fails, with why
            return JobResult(job, FAILED, error=one_line_error(error), worker=f"{socket.gethostname()}:{os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="neural-style-") as folder:
        local = {}
        for k, (path, data) in enumerate(inputs.items()):
            local[path] = os.path.join(folder, str(k), os.path.basename(path))
            os.makedirs(os.path.dirname(local[path]))
            with open(local[path], "wb") as file:
                file.write(data)
        moved = dataclasses.replace(job, content=local[job.content], styles=tuple(local[s] for s in job.styles))
        result = _RAY_WORKERS[key].run(moved, finished)
    if result.error:
        for path, there in local.items():
            result.error = result.error.replace(there, path)
    result.job = job
    return result


def _ray_tasks(tasks, options, address):
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=False)
    resources = ray.cluster_resources()
    gpus = 1 if resources.get("GPU", 0) >= 1 else 0
    remote = ray.remote(_ray_job).options(num_cpus=1, num_gpus=gpus, max_retries=RETRIES)
    options_ref = ray.put(options)
    # A window of tasks in flight, not the whole batch: the driver and the object store hold only the inputs of the
    # jobs running or about to run, however many jobs there are.
    window = 2 * max(1, int(resources.get("CPU", 1)))
    uses = {}
    for job, _ in tasks:
        for path in {job.content, *job.styles}:
            uses[path] = uses.get(path, 0) + 1
    blobs, pending, waiting = {}, {}, iter(tasks)

    def submit(job, finished):
        # Each input file is read and put in the object store once while jobs still need it.
        inputs = {}
        for path in dict.fromkeys((job.content, *job.styles)):
            if path not in blobs:
                with open(path, "rb") as file:
                    blobs[path] = ray.put(file.read())
            inputs[path] = blobs[path]
            uses[path] -= 1
            if not uses[path]:
                del blobs[path]  # the task holds its own reference until it is done
        pending[remote.remote(options_ref, job, inputs, finished)] = job

    try:
        while True:
            for job, finished in waiting:
                try:
                    submit(job, finished)
                except OSError as error:
                    yield JobResult(job, FAILED, error=one_line_error(error), worker="driver")
                if len(pending) >= window:
                    break
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready[0])
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayError as error:
                # Its worker died more than RETRIES times (or it could not run): recorded as failed, never lost.
                lines = str(error).strip().splitlines() or [""]
                yield JobResult(job, FAILED, error=f"Ray: {type(error).__name__}: {lines[0]}"[:300], worker="ray")
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


# ---------------------------------------------------------------------------------------------------------------------
# The batch


def stylize_many(jobs, results=None, workers=None, ray_address=None, force=False, options=None, **overrides):
    """
    Runs many style transfers, yielding each one's result as it finishes; writes each picture (atomically) and
    appends its row to results.jsonl. A job whose picture exists with the same fingerprint recorded is skipped.

    Arguments:
    jobs -- list of Job (grid_jobs, manifest_jobs, or your own)
    results -- path of results.jsonl (None: nothing recorded, nothing skipped)
    workers -- None or 1: in this process; N > 1: N local worker processes sharing the CPU threads
    ray_address -- None, or a Ray cluster's address ('auto', 'host:6379'): one Ray task per job
    force -- run every job, even those finished
    options -- the StyleOptions every job starts from; overrides: StyleOptions fields (weights, iterations, ...)

    Returns:
    (generator) result -- JobResult per job as it finishes (status done, skipped or failed), pixels written and
                          dropped
    """
    options = batch_options(options, **overrides)
    if workers is not None:
        check_positive_int(workers, "workers")
    check_jobs(jobs, options)
    folder = os.path.dirname(os.path.abspath(results)) if results else None
    rows = read_results(results) if results and not force else {}
    tasks = [(job, finished_fingerprint(job, rows, folder) if rows else None) for job in jobs]
    if ray_address:
        stream = _ray_tasks(tasks, options, ray_address)
    elif workers and workers > 1:
        stream = _local_processes(tasks, options, workers)
    else:
        stream = _in_process(tasks, options)
    try:
        for result in stream:
            if result.status == DONE:
                write_image(result.job.output, result.pixels)
            result.pixels = None
            if results:
                append_row(results, result_row(result, folder))
            yield result
    finally:
        stream.close()


def summary(counts, seconds):
    """
    The batch's summary line.

    Arguments:
    counts -- dict status -> number of jobs
    seconds -- the batch's wall time

    Returns:
    line -- 'N done, N skipped, N failed in S s (J jobs/hour)'
    """
    ran = counts.get(DONE, 0) + counts.get(FAILED, 0)
    rate = f" ({ran * 3600 / seconds:.0f} jobs/hour)" if ran and seconds > 0 and math.isfinite(seconds) else ""
    done, skipped, failed = (counts.get(status, 0) for status in (DONE, SKIPPED, FAILED))
    return f"{done} done, {skipped} skipped, {failed} failed in {seconds:.1f} s{rate}"
