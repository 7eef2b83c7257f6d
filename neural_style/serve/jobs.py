"""The refine queue: the article's optimisation (StyleTransfer) from a given picture, one job at a time in one
worker thread, the others waiting their turn; each job's events (queued, progress with previews, done, cancelled,
error) kept for its event stream; cancel through the run's callback, at the next iteration."""

import base64
import collections
import io
import os
import secrets
import threading

import numpy as np

# Refine's defaults: a few iterations (on a CPU each is a fraction of a second at the article's size), a preview
# every 10; the most a request may ask for.
ITERATIONS = 100
PREVIEW_EVERY = 10
MAX_ITERATIONS = 5000
# The refined picture's longer side, the photo's aspect ratio kept: the article's 400 (each step on a CPU takes a
# fraction of a second there, where the photo's own size would take seconds).
MAX_SIZE = 400
LARGEST_SIZE = 2048
# Finished jobs kept (their result and events), the oldest forgotten first.
KEEP_FINISHED = 32


class Cancelled(Exception):
    """Raised from the run's callback when its job is cancelled."""


def refine_availability(weights):
    """
    Whether refine can run with these VGG-19 weights, without reading them.

    Arguments:
    weights -- the --weights value: 'random' or a path

    Returns:
    available -- bool
    reason -- None, or one line: why not, and what to do
    """
    if os.fspath(weights) == "random" or os.path.isfile(weights):
        return True, None
    return False, (
        f"refine needs the VGG-19 weights, and {os.fspath(weights)} is not a file: download them with "
        "`neural-style weights download`, or start the server with --weights PATH"
    )


def refine_command(job):
    """
    The main command's line with a job's settings (files named PHOTO, PAINTING, INIT; without an init picture the
    run starts from the photo, --init content).

    Arguments:
    job -- a Job

    Returns:
    line -- str
    """
    parts = ["neural-style", "--content", "PHOTO", "--style", "PAINTING", "--output", "REFINED.png"]
    parts += ["--init", "INIT" if job.has_init else "content"]
    parts += ["--iterations", str(job.iterations), "--max-size", str(job.max_size)]
    if job.weights_text is not None:
        parts += ["--weights", job.weights_text]
    return " ".join(parts)


def jpeg_data_url(pixels, quality=85):
    """
    A picture as a data: URL of a JPEG (the previews the event stream carries).

    Arguments:
    pixels -- (H, W, 3) in 0..255
    quality -- JPEG quality

    Returns:
    url -- "data:image/jpeg;base64,..."
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.rint(np.clip(pixels, 0, 255)).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


class Job:
    """A refine: its pictures, settings, state and events (appended by the worker, read by the event streams)."""

    def __init__(
        self,
        content,
        style,
        init=None,
        iterations=ITERATIONS,
        preview_every=PREVIEW_EVERY,
        weights=None,
        max_size=MAX_SIZE,
    ):
        """
        Arguments:
        content, style -- float32 (H, W, 3) pictures in 0..255
        init -- None (start from the photo, as the main command's --init content), or the picture to refine from
        iterations -- how many steps
        preview_every -- a preview every this many steps
        weights -- the --weights text shown in the command line (None: the default)
        max_size -- the refined picture's longer side (the photo's aspect ratio kept)
        """
        self.id = secrets.token_hex(8)
        self.content, self.style, self.init = content, style, init
        self.has_init = init is not None
        self.iterations, self.preview_every, self.weights_text = iterations, preview_every, weights
        self.max_size = max_size
        self.state = "queued"
        self.events = []
        self.result = None
        self.cancelled = threading.Event()
        self.changed = threading.Condition()

    def emit(self, name, data):
        """Appends an event and wakes the streams that wait for one."""
        with self.changed:
            self.events.append((name, data))
            if name in ("done", "cancelled", "error"):
                self.state = name
                self.content = self.style = self.init = None  # the pictures are no longer needed
            self.changed.notify_all()

    def wait(self, seen, timeout):
        """
        The events after the first `seen`, waiting up to `timeout` seconds for one.

        Returns:
        events -- list of (name, data)
        """
        with self.changed:
            if len(self.events) <= seen:
                self.changed.wait(timeout)
            return list(self.events[seen:])

    @property
    def finished(self):
        """Whether the job has ended (done, cancelled or error)."""
        return self.state in ("done", "cancelled", "error")


class Refiner:
    """
    The queue of refine jobs and its one worker thread: StyleTransfer runs one at a time (each uses every core, and
    the VGG-19 network's memory), the weights read once.
    """

    def __init__(self, weights):
        """
        Arguments:
        weights -- the --weights value ('random' or a path), read on the first job
        """
        self.weights_path = os.fspath(weights)
        self.available, self.reason = refine_availability(self.weights_path)
        self.jobs = collections.OrderedDict()
        self._queue = collections.deque()
        self._wake = threading.Condition(threading.RLock())
        self._stopping = False
        self._weights = None
        self._thread = threading.Thread(target=self._work, name="neural-style-refine", daemon=True)
        self._thread.start()

    def submit(self, job):
        """
        Puts a job in the queue.

        Arguments:
        job -- a Job

        Returns:
        position -- 0 when it runs now, else how many jobs are before it
        """
        with self._wake:
            self.jobs[job.id] = job
            self._forget_finished()
            running = any(other.state == "running" for other in self.jobs.values())
            position = len(self._queue) + int(running)
            self._queue.append(job)
            job.emit("queued", {"position": position})
            self._wake.notify_all()
        return position

    def cancel(self, job_id):
        """
        Cancels a job: a queued one leaves the queue (its stream ends with `cancelled`), a running one stops at its
        next iteration.

        Arguments:
        job_id -- the job's id

        Returns:
        found -- whether there is such a job
        """
        with self._wake:
            job = self.jobs.get(job_id)
            if job is None:
                return False
            job.cancelled.set()
            if job in self._queue:
                self._queue.remove(job)
                job.emit("cancelled", {})
            return True

    def cancel_all(self):
        """
        Cancels every job that has not ended (a stop of the server): the queued ones leave the queue, the running one
        stops at its next iteration. Safe from a signal handler: the queue's lock is re-entrant.

        Returns:
        None
        """
        with self._wake:
            for job_id in list(self.jobs):
                self.cancel(job_id)

    def close(self, timeout=30):
        """
        Stops the worker: every queued job cancelled, the running one stopped at its next iteration.

        Arguments:
        timeout -- how long to wait for the running job to stop

        Returns:
        stopped -- whether the worker ended within the timeout
        """
        with self._wake:
            self._stopping = True
            for job in list(self.jobs.values()):
                if not job.finished:
                    job.cancelled.set()
            while self._queue:
                self._queue.popleft().emit("cancelled", {})
            self._wake.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _forget_finished(self):
        finished = [key for key, job in self.jobs.items() if job.finished]
        for key in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self.jobs[key]

    def _work(self):
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                job = self._queue.popleft()
                job.state = "running"
            self._run(job)

    def _run(self, job):
        try:
            job.emit("progress", {"iteration": 0, "iterations": job.iterations})
            job.result = self._refine(job)
            job.emit("done", {"result": f"/api/jobs/{job.id}/result"})
        except Cancelled:
            job.emit("cancelled", {})
        except Exception as error:  # the run's one line (a bad picture, weights that cannot be read, NaN cost)
            message = " ".join(str(error).split()) or type(error).__name__
            job.emit("error", {"error": message[:300]})

    def _refine(self, job):
        """The job's StyleTransfer run, its events on the way; returns the result as PNG bytes."""
        from ..stylize import StyleTransfer
        from .networks import png_bytes

        if self._weights is None:
            from ..weights import load_weights

            self._weights = load_weights(self.weights_path)
        init = "content" if job.init is None else job.init
        transfer = StyleTransfer(
            job.content, job.style, weights=self._weights, iterations=job.iterations, init=init, max_size=job.max_size
        )

        def callback(entry):
            if job.cancelled.is_set():
                raise Cancelled()
            done = entry["iteration"] + 1
            data = {key: float(entry[key]) for key in ("J", "J_content", "J_style")}
            data = {"iteration": done, "iterations": job.iterations, **data}
            if done % job.preview_every == 0 or done == job.iterations:
                data["preview"] = jpeg_data_url(transfer.current_pixels())
            job.emit("progress", data)

        image, _ = transfer.run(callback=callback)
        if job.cancelled.is_set():
            raise Cancelled()
        return png_bytes(image)
