"""A batch's workers: the network loaded once, many jobs, run in this process, in local worker processes or as Ray
tasks. The entry functions of worker processes and Ray tasks (_process_main, _ray_job) are found by this module's
path."""

import dataclasses
import hashlib
import json
import multiprocessing
import os
import queue
import signal
import socket
import tempfile
import threading
import time

from tqdm import tqdm

from ..image_files import ImageError
from ..options import OptionError
from ..weights import load_weights
from .results import DONE, FAILED, SKIPPED, JobResult

# How often a job is tried again after its worker process (or Ray node) died.
RETRIES = 2


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


class Worker:
    """Runs jobs one after another with the network's weights loaded once, and the network and one compiled step
    per picture size kept between jobs (shared_steps.SharedSteps)."""

    def __init__(self, options):
        # The batch's commands check every job before any work; TensorFlow is loaded here, when the work starts.
        from ..shared_steps import SharedSteps

        weights = options.weights
        self.options = dataclasses.replace(
            options, weights=weights if hasattr(weights, "layers") else load_weights(weights)
        )
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.steps = SharedSteps()

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
            from ..stylize import StyleTransfer
            from ..tensorboard import close_run, open_run, run_name, watch_transfer

            transfer = StyleTransfer(job.content, list(job.styles), self.options, steps=self.steps, **job.options)
            fingerprint = job_fingerprint(transfer)
            if fingerprint == finished:
                return JobResult(job, SKIPPED, fingerprint, seconds=time.perf_counter() - start, worker=self.name)
            # One TensorBoard run per job (--tensorboard), named after its picture, so that jobs can be compared.
            inputs = {"content": job.content, "style": list(job.styles), "output": job.output}
            board = open_run(transfer, run_name(job.output), inputs)
            pixels = None
            try:
                pixels, history = transfer.run(callback=board and watch_transfer(board, transfer))
            finally:
                close_run(board, transfer, pixels, len(transfer.history))
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
    from ..stylize import NonFiniteCostError

    text = " ".join(str(error.args[0] if isinstance(error, KeyError) and error.args else error).split())
    if isinstance(error, (OptionError, ImageError, FileNotFoundError, NonFiniteCostError)):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def in_process(tasks, options):
    """
    Runs the jobs one after another in this process, with one Worker (its network built once).

    Arguments:
    tasks -- list of (Job, the fingerprint recorded as finished or None)
    options -- the batch's StyleOptions

    Returns:
    results -- a generator of JobResult, in the jobs' order
    """
    worker = Worker(options)
    for job, finished in tasks:
        yield worker.run(job, finished)


# Local worker processes: each gets its share of the CPU threads, loads the weights once and takes jobs from a queue.


# How long the driver waits for its worker processes to end after asking them to (SIGTERM), before killing them.
STOP_SECONDS = 5.0


def _process_main(options, threads, tasks, results):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle; it ends the workers
    _end_with_parent()
    # tqdm's default lock is a named semaphore that a worker ended by the driver's stop can never release: the
    # resource tracker then warns of 'leaked semaphore objects'. A worker shows no bars, so a thread lock is enough.
    tqdm.set_lock(threading.RLock())
    _set_threads(threads)
    try:
        worker = Worker(options)
    except Exception as error:  # unreadable weights: the driver reports it, as in-process
        results.put(("broken", None, error))
        return
    for index, job, finished in iter(tasks.get, None):
        results.put(("started", index, worker.name))
        results.put(("result", index, worker.run(job, finished)))


def _set_threads(threads):
    """A worker's share of the CPU: TensorFlow's threads, set before it runs anything (it is loaded here)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _end_with_parent():
    """On Linux, asks the kernel to kill this worker when the driver dies, however it dies (even SIGKILL): a worker
    never goes on computing for a batch that is gone (the driver's own stop ends it otherwise, and elsewhere)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def cpu_count():
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(requested, jobs, cpus=None):
    """
    The number of local worker processes a batch starts: as asked, but at most one per CPU (each loads the network
    and runs its own threads: more only share the same cores and multiply the memory) and one per job.

    Arguments:
    requested -- the workers asked for (--workers)
    jobs -- the number of jobs
    cpus -- the CPUs to share (None: cpu_count())

    Returns:
    count -- int, at least 1
    """
    cpus = cpu_count() if cpus is None else cpus
    return max(1, min(requested, cpus, jobs))


def local_processes(tasks, options, workers):
    """
    Runs the jobs in `workers` local processes sharing the CPU threads; a worker that dies is replaced and its job
    run again (RETRIES times at most).

    Arguments:
    tasks -- list of (Job, the fingerprint recorded as finished or None)
    options -- the batch's StyleOptions
    workers -- the number of processes (worker_count)

    Returns:
    results -- a generator of JobResult as each job finishes; closing it stops the workers (_stop)
    """
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
        _stop(processes)
        for channel in (task_queue, result_queue):
            channel.cancel_join_thread()
            channel.close()


def _stop(processes, seconds=STOP_SECONDS):
    """Ends worker processes: SIGTERM, a wait of at most `seconds` in all, then SIGKILL for any still running."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + seconds
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(timeout=seconds)
        if process.exitcode is not None:
            process.close()


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
        _set_threads(cpus)
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


def _restore_handlers(handlers):
    """Puts signal handlers back (only the main thread may; elsewhere they were never ours to change)."""
    for number, handler in handlers.items():
        try:
            if handler is not None and signal.getsignal(number) is not handler:
                signal.signal(number, handler)
        except ValueError:
            return


def ray_tasks(tasks, options, address):
    """
    Runs each job as a Ray task on a cluster, a window of tasks in flight, each input file put in the object store
    once while jobs still need it.

    Arguments:
    tasks -- list of (Job, the fingerprint recorded as finished or None)
    options -- the batch's StyleOptions
    address -- the cluster's address ('auto', 'host:6379')

    Returns:
    results -- a generator of JobResult as each job finishes
    """
    import ray

    started = not ray.is_initialized()
    if started:
        # Ray's driver installs its own SIGTERM handler and leaves it after shutdown: ours is put back then.
        handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
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
            _restore_handlers(handlers)
