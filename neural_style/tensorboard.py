"""Watching a long run in TensorBoard: its costs at every step, its picture every save_every steps, its settings.

TensorBoard (``tensorboard --logdir DIR``) shows each folder under DIR as one run, so that runs can be compared.
``RunWriter`` writes one run's folder with tf.summary (TensorFlow's own event files, nothing home-made):

- every cost term of a history entry (J, J_content, J_style and any other J_* such as J_tv or J_temporal) as a
  scalar at the entry's iteration, the same float32 values the --history file holds;
- the picture as the run saves it (uint8, PNG inside the event file, so lossless) under the tag ``image`` (a
  training's previews of held-out photographs under tags of their own: fast/watch.py);
- the run's settings as a two-column text table under the tag ``settings``.

The scalars of a step go out in one call of a compiled function (one TensorFlow call per step instead of one per
term: docs/performance.md measures what writing costs a step). Events are queued and flushed every FLUSH_MILLIS
(TensorBoard itself reloads every 5 s), after every picture, and when the writer is closed, which the commands do
in a ``finally`` so that an interrupted run keeps what it wrote.
"""

import contextlib
import dataclasses
import json
import os
import time

import numpy as np
import tensorflow as tf

from .checks import is_number

IMAGE_TAG = "image"
SETTINGS_TAG = "settings"
# Queued events are written out at least this often (and after each picture, and at close).
FLUSH_MILLIS = 5000
# Enough events for the scalars of many steps between two time-based flushes, so that a step never waits on the disk.
MAX_QUEUE = 1000


def cost_terms(entry):
    """
    The cost terms of a history entry: J and every numeric J_* key, in the entry's order.

    Arguments:
    entry -- a history dict (iteration, seconds, J, J_content, J_style, maybe J_tv, J_temporal, scale, ...)

    Returns:
    terms -- dict from name to value
    """
    return {
        name: value
        for name, value in entry.items()
        if (name == "J" or name.startswith("J_")) and is_number(value) and not isinstance(value, bool)
    }


def run_name(output, now=None):
    """
    A run's name under the TensorBoard folder: the output's file name without extension and the local start time,
    so that runs of the same command stay apart and sort by time.

    Arguments:
    output -- the run's output path (its file name names the run)
    now -- seconds since the epoch (default: now)

    Returns:
    name -- e.g. 'tubingen-20240101-120000'
    """
    stem = os.path.splitext(os.path.basename(os.fspath(output)))[0] or "run"
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"


def make_run_folder(logdir, name):
    """
    Creates the run's folder logdir/name, or logdir/name-2, -3, ... when that exists: a new run never adds its events
    to another run's (TensorBoard would draw both as one).

    Arguments:
    logdir -- the folder given to TensorBoard (created if missing)
    name -- the run's name

    Returns:
    folder -- the path of the folder created
    """
    os.makedirs(logdir, exist_ok=True)
    for number in range(1, 10_000):
        folder = os.path.join(logdir, name if number == 1 else f"{name}-{number}")
        try:
            os.mkdir(folder)  # atomic: two runs starting at once get two folders
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"{logdir}: every name {name}, {name}-2, ... is taken; choose another --tensorboard folder")


def settings_rows(settings):
    """
    The settings as rows of text: (name, value), the value as JSON where it is JSON (paths, numbers, lists), else its
    str (a loaded weights object, an array's shape).

    Arguments:
    settings -- dict from name to value

    Returns:
    rows -- list of [name, text]
    """
    rows = []
    for name, value in settings.items():
        if isinstance(value, np.ndarray):
            text = f"array {value.shape} {value.dtype}"
        elif isinstance(value, os.PathLike):
            text = json.dumps(os.fspath(value))
        else:
            try:
                text = json.dumps(value)
            except (TypeError, ValueError):
                text = str(value)
        rows.append([str(name), text])
    return rows


class RunWriter:
    """One run's TensorBoard events in one folder: costs per step, pictures, settings."""

    def __init__(self, folder, settings=None):
        """
        Arguments:
        folder -- the run's folder (e.g. from make_run_folder); its event file is created here
        settings -- None, or a dict of the run's settings, written once as text (settings_rows)
        """
        self.folder = os.fspath(folder)
        with _as_os_error(self.folder):
            self._writer = tf.summary.create_file_writer(self.folder, max_queue=MAX_QUEUE, flush_millis=FLUSH_MILLIS)
        self._scalar_writers = {}
        if settings is not None:
            self.write_settings(settings)

    def _scalars(self, names):
        """The compiled function writing these terms' values at a step (one per set of terms: traced once)."""
        if names not in self._scalar_writers:
            writer = self._writer

            @tf.function(input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([len(names)], tf.float32)])
            def write(step, values):
                with writer.as_default():
                    for index, name in enumerate(names):
                        tf.summary.scalar(name, values[index], step=step)

            self._scalar_writers[names] = write
        return self._scalar_writers[names]

    def write_costs(self, entry):
        """
        Writes every cost term of a history entry as a scalar at its iteration.

        Arguments:
        entry -- a history dict with 'iteration' and the terms (float32 values, as the run computed them)
        """
        terms = cost_terms(entry)
        if not terms:
            return
        values = np.array(list(terms.values()), np.float32)
        with _as_os_error(self.folder):
            self._scalars(tuple(terms))(np.int64(entry["iteration"]), values)

    def write_image(self, step, pixels, tag=IMAGE_TAG):
        """
        Writes a picture at a step, and flushes, so that TensorBoard shows it at its next reload.

        Arguments:
        step -- the iteration
        pixels -- uint8 array (H, W, 3), the picture as the run saves it
        tag -- the picture's name in the images tab
        """
        self.write_images(step, {tag: pixels})

    def write_images(self, step, pictures):
        """
        Writes several pictures at a step (each under its own tag, so each is a card with its own step slider), then
        flushes once.

        Arguments:
        step -- the iteration
        pictures -- dict from tag to uint8 array (H, W, 3)
        """
        pictures = {tag: np.asarray(pixels) for tag, pixels in pictures.items()}
        for pixels in pictures.values():
            if pixels.dtype != np.uint8:
                raise ValueError(f"TensorBoard images are written as uint8; got {pixels.dtype}")
        with _as_os_error(self.folder), self._writer.as_default():
            for tag, pixels in pictures.items():
                tf.summary.image(tag, pixels[np.newaxis], step=int(step), max_outputs=1)
            self._writer.flush()

    def write_settings(self, settings, step=0):
        """
        Writes the settings as a two-column table (TensorBoard's text dashboard shows a 2-D text tensor as a table).

        Arguments:
        settings -- dict from name to value
        step -- the step to write it at
        """
        with _as_os_error(self.folder), self._writer.as_default():
            tf.summary.text(SETTINGS_TAG, tf.constant(settings_rows(settings)), step=int(step))

    def flush(self):
        """Writes the queued events to the file."""
        with _as_os_error(self.folder):
            self._writer.flush()

    def close(self):
        """Flushes and closes the event file."""
        with _as_os_error(self.folder):
            self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def _as_os_error(folder):
    """TensorFlow's I/O errors (a full disk, a folder made read-only) as OSError, which safety.SideWrites reports."""
    try:
        yield
    except tf.errors.OpError as error:
        raise OSError(f"TensorBoard events in {folder}: {error.message}") from None


def watch_transfer(writer, transfer, callback=None):
    """
    The per-iteration callback of a StyleTransfer run that writes it to TensorBoard: the entry's costs, and the
    picture when the run saves one (every options.save_every iterations); then the given callback.

    Writes that fail are reported once by the transfer's SideWrites and the run goes on. The entries of a resumed
    run's earlier iterations are written first, so that the run's curves start at iteration 0.

    Arguments:
    writer -- a RunWriter
    transfer -- a StyleTransfer (its options.save_every, current_pixels, history, side_writes)
    callback -- None, or the caller's own callback(entry)

    Returns:
    on_iteration -- function(entry)
    """
    every = transfer.options.save_every

    def attempt(write, *args):
        transfer.side_writes.attempt("TensorBoard events", writer.folder, write, *args)

    for entry in transfer.history:
        attempt(writer.write_costs, entry)

    def on_iteration(entry):
        attempt(writer.write_costs, entry)
        if every and entry["iteration"] % every == 0:
            attempt(writer.write_image, entry["iteration"], transfer.current_pixels())
        if callback is not None:
            callback(entry)

    return on_iteration


def open_run(transfer, name, inputs=None, folder=None, step=0):
    """
    The TensorBoard writer of one run (a picture, a batch's job, a video's frame, a training) in a new folder under
    the transfer's options.tensorboard, with its settings written: the inputs, then every resolved option.

    Arguments:
    transfer -- the run: a StyleTransfer, or a training's watcher (fast.watch.TrainingBoard); what is used is its
                options (a dataclass whose tensorboard field is the log folder) and side_writes (a safety.SideWrites)
    name -- the run's name, e.g. run_name(output); the folder gets -2, -3 ... if it is taken
    inputs -- dict of what the run reads and writes ('content', 'style', 'output'), written before the options
    folder -- None (a new folder), or an existing run's folder to continue: a resumed training's new event file goes
              beside the interrupted one's, and TensorBoard, reading them in order, replaces the steps written after
              the checkpoint by the resumed ones (it drops a series' points at or after a step written again)
    step -- the step the settings are written at (a resumed training's first: the interrupted one's stay at theirs)

    Returns:
    writer -- a RunWriter, or None without options.tensorboard or when the folder cannot be made (reported once by
              the transfer's SideWrites; the run goes on)
    """
    options = transfer.options
    if not options.tensorboard:
        return None
    settings = dict(inputs or {})
    settings.update({field.name: getattr(options, field.name) for field in dataclasses.fields(options)})
    writers = []

    def open_writer():
        writer = RunWriter(folder if folder is not None else make_run_folder(options.tensorboard, name))
        writers.append(writer)
        writer.write_settings(settings, step)

    target = folder if folder is not None else os.path.join(options.tensorboard, name)
    transfer.side_writes.attempt("TensorBoard events", target, open_writer)
    return writers[0] if writers else None


def close_run(writer, transfer, pixels=None, step=None):
    """
    Closes a run's writer, with its final picture at `step` first when given (a run that saves no pictures on the
    way, as a batch's jobs, still shows its result); failures are reported by the transfer's SideWrites.

    Arguments:
    writer -- a RunWriter, or None (nothing to do)
    transfer -- the run's StyleTransfer
    pixels -- None, or the final picture as uint8 (H, W, 3)
    step -- the iteration to show it at
    """
    if writer is None:
        return
    if pixels is not None:
        pixels = np.asarray(pixels)
        if pixels.dtype == np.uint16:  # a 16-bit picture (bit_depth 16) is shown, as every picture, in 8 bits
            pixels = np.rint(pixels / 257).astype(np.uint8)
        transfer.side_writes.attempt("TensorBoard events", writer.folder, writer.write_image, step, pixels)
    transfer.side_writes.attempt("TensorBoard events", writer.folder, writer.close)
