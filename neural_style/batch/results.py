"""A batch's results: what became of each job, one JSON line per job in results.jsonl (the latest line of a picture
being its state), the fingerprints of finished pictures, and the summary line."""

import dataclasses
import datetime
import json
import math
import os

from .jobs import Job

RESULTS_FILE = "results.jsonl"
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


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


def read_results(path, damaged=None):
    """
    The latest recorded row of each picture in a results.jsonl. A damaged line (cut short by a crash, not UTF-8, not
    a JSON object with a text output) is skipped, never fatal: its job runs again.

    Arguments:
    path -- results.jsonl (missing: no rows)
    damaged -- a list to which the numbers of damaged lines are appended, or None

    Returns:
    rows -- dict output (relative to the file's folder) -> its latest row
    """
    rows = {}
    damaged = [] if damaged is None else damaged
    if not os.path.isfile(path):
        return rows
    with open(path, "rb") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            row = _row(line)
            if row is None:
                damaged.append(number)
            else:
                rows[row["output"]] = row
    return rows


def _row(line):
    """A results.jsonl line as its row, or None when it is damaged."""
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(row, dict) or not isinstance(row.get("output"), str):
        return None
    if not isinstance(row.get("fingerprint"), (str, type(None))) or not isinstance(
        row.get("status"), (str, type(None))
    ):
        return None
    return row


def damaged_note(path, damaged):
    """
    The line that says which lines of a results.jsonl were damaged and skipped.

    Arguments:
    path -- results.jsonl
    damaged -- the line numbers (read_results)

    Returns:
    line -- str
    """
    shown = ", ".join(map(str, damaged[:5])) + (", ..." if len(damaged) > 5 else "")
    lines = "line" if len(damaged) == 1 else "lines"
    return f"{path}: skipped {len(damaged)} damaged {lines} ({shown}); their jobs run again unless recorded later"


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
    Appends one record to results.jsonl as one write of one line ending in a newline (O_APPEND: never interleaved
    with another write). A line that a crash cut short is closed first with its own newline, so it stays one
    damaged line that read_results skips and is never glued to this record. (Rewriting the whole file atomically
    per job would cost time quadratic in the number of jobs.)

    Arguments:
    path -- results.jsonl
    row -- dict of JSON values
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    record = (json.dumps(row) + "\n").encode("utf-8")
    handle = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(handle).st_size
        if size and os.pread(handle, 1, size - 1) != b"\n":
            record = b"\n" + record
        written = os.write(handle, record)
        while written < len(record):  # a short write (a full disk frees up, a signal): the rest of the same line
            written += os.write(handle, record[written:])
    finally:
        os.close(handle)


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
