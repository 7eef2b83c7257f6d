"""The exact tiled apply in one streamed pass: the network run level by level, each level in strips of full width.

Instance normalisation needs each channel's mean and variance over the whole picture before any of its outputs can
be computed. The network is therefore run one convolution at a time over the whole picture, strip by strip: each
convolution's output (before its normalisation) is stored, and its statistics are gathered exactly over the whole
picture while it is (float64 sums of x and x ** 2 about a per-channel shift; for an int8 network, counts of its
levels). The next convolution then reads its input strips back with the rows of context its kernel needs, normalises
them with the statistics, and so on: each convolution runs once over every position, one compiled step a strip
(stream_plan.StripStep), where re-running the network's prefix for each normalisation cost about nine passes.

Strips span the picture's full width, so the columns are padded by the network's own reflection padding exactly as in
the whole pass; the rows outside the picture are the reflected rows the whole pass would pad with. The arithmetic is
the network's own: its convolutions (int8 ones too), normalisations, roundings and style weights per level.

The stored outputs stay in memory where the caller's budget allows (memory_bytes; stream_store.in_memory), the others
go to files of a work folder (plan_stream says how much disk at most), written by a thread while the next strips
compute; the next strip's rows are read by another. The work folder is a new temporary folder (tempfile, TMPDIR) or
one inside the folder the caller names, refused in one line when the disk lacks the room, and removed at the end,
after an error and after Ctrl-C or SIGTERM.
"""

import concurrent.futures
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from ..checks import OptionError
from ..safety import signals_as_interrupts
from .quantize import INT8_HIGH, INT8_LOW
from .stream_plan import (
    Node,
    StripStep,
    level_sizes,
    network_plan,
    plan_stream,
    reflect,
    residuals_kept,
    strip_step,
)
from .stream_store import Levels, in_memory, place

# The most pixels of the picture a strip covers: at 1080x1920, strips of 1 million pixels ran 7% faster than strips of
# 512 x 512 and a third faster than one strip of all 2 million (whose step's tensors miss the caches more); a step then
# holds about 1.3 GB (tiles.stream_budget picks fewer where the memory budget asks).
STRIP_PIXELS = 1 << 20
# Disk kept free besides the work folder's files (the system and other writers need some).
DISK_RESERVE = 100e6


@tf.function(input_signature=[tf.TensorSpec((None, None, None), tf.float32), tf.TensorSpec((None,), tf.float32)])
def _row_sums(values, shift):
    """Each row's sums of values - shift and of its squares (rows, C), in one compiled pass over the values."""
    values = values - shift
    return tf.reduce_sum(values, axis=1), tf.reduce_sum(tf.square(values), axis=1)


class Moments:
    """A channel's mean and variance over the whole picture, gathered strip by strip: the sums of x - k and
    (x - k) ** 2 about the first strip's mean k (so that a large mean does not cancel the variance's digits), each
    row's in float32 (TensorFlow's tree reduction over at most a row's width, on every core), the rows' and strips'
    in float64."""

    def __init__(self):
        self.count, self.shift, self.sum, self.squares = 0, None, 0.0, 0.0

    def add(self, values):
        """Adds values (..., C), a tensor or an array, to the sums."""
        values = tf.reshape(tf.convert_to_tensor(values, tf.float32), (-1, values.shape[-2], values.shape[-1]))
        if self.shift is None:
            self.shift = tf.reduce_mean(values, axis=[0, 1])
        self.count += int(values.shape[0]) * int(values.shape[1])
        sums, squares = _row_sums(values, self.shift)
        self.sum = self.sum + np.asarray(sums).sum(axis=0, dtype=np.float64)
        self.squares = self.squares + np.asarray(squares).sum(axis=0, dtype=np.float64)

    def statistics(self, norm=None):
        """(mean, variance), float32 (1, 1, 1, C), as InstanceNormalization takes them."""
        mean = self.sum / self.count
        variance = np.maximum(self.squares / self.count - mean**2, 0.0)
        shape = (1, 1, 1, -1)
        mean = mean + self.shift.numpy().astype(np.float64)
        return mean.reshape(shape).astype(np.float32), variance.reshape(shape).astype(np.float32)


class LevelCounts:
    """An int8 network's normalisation statistics as its whole-picture pass computes them: the values it normalises
    are int8 levels, so a count of each level per channel gives both the mean and the average of the rounded squares
    about the rounded mean (which needs the mean first)."""

    def __init__(self, scale, zero_point):
        self.scale, self.zero_point, self.counts = np.float32(scale), zero_point, 0

    def add(self, values):
        """Counts the levels of values (..., C), a tensor or an array."""
        values = np.asarray(values)
        steps = np.rint(values.reshape(-1, values.shape[-1]) / self.scale).astype(np.int64)
        offset = INT8_LOW - self.zero_point
        width = INT8_HIGH - INT8_LOW + 1
        self.counts = self.counts + np.stack([np.bincount(c - offset, minlength=width) for c in steps.T])

    def statistics(self, norm):
        """(mean, variance), float32 (1, 1, 1, C), rounded as `norm` (the InstanceNormalization) rounds them."""
        levels = np.arange(INT8_LOW, INT8_HIGH + 1)
        # Each level's value as the network holds it (float32), and its count per channel (C, 256).
        grid = ((levels - self.zero_point).astype(np.float32) * self.scale)[:, None]
        total = self.counts.sum(axis=1)
        mean = ((self.counts @ grid.astype(np.float64))[:, 0] / total).reshape(1, 1, 1, -1).astype(np.float32)
        squares = norm.squared_deviations(np.broadcast_to(grid, (len(levels), len(total)))[None, None], mean)
        variance = (self.counts * squares.numpy()[0, 0].T.astype(np.float64)).sum(axis=1) / total
        return mean, variance.reshape(1, 1, 1, -1).astype(np.float32)


def statistics_gatherer(model, index):
    """
    What gathers convolution `index`'s normalisation statistics: Moments, or LevelCounts for an int8 network.

    Arguments:
    model -- a TransformNet
    index -- a normalised convolution

    Returns:
    gatherer -- with add(values) and statistics(norm)
    """
    point = model.quantization.get(f"conv{index}")
    if model.norms[index].quantization and point is not None:
        return LevelCounts(*point)
    return Moments()


def work_folder(need, where=None):
    """
    A new work folder for the streamed pass, where the disk has room for it.

    Arguments:
    need -- bytes the work folder's files will take at their fullest (plan_stream's disk)
    where -- None (a temporary folder: tempfile's, which honours TMPDIR) or a folder to make it in

    Returns:
    folder -- the new folder's path; OptionError (one line naming the need and the place) when there is no room
    """
    parent = os.fspath(where) if where is not None else tempfile.gettempdir()
    if not os.path.isdir(parent):
        raise OptionError(
            f"work folder {parent} for the streamed tiles is not a folder; name an existing one", "work_dir"
        )
    free = shutil.disk_usage(parent).free
    if free < need + DISK_RESERVE:
        raise OptionError(
            f"the streamed tiles need {need / 1e9:.2f} GB of disk in {parent}, which has {free / 1e9:.2f} GB free; "
            "free some, or point TMPDIR (or the work folder) at a disk with room",
            "work_dir",
        )
    return tempfile.mkdtemp(prefix="neural-style-stream-", dir=parent)


class _Stream:
    """One streamed pass: the model, the picture, the stored arrays and the statistics gathered so far."""

    def __init__(self, model, image, weights, levels):
        self.model, self.image, self.levels = model, image, levels
        self.height, self.width = int(image.shape[1]), int(image.shape[2])
        self.sizes = level_sizes(self.height, self.width, model.layout.downsamplings)
        self.shapes, self.lives, _ = plan_stream(model.layout, self.height, self.width)
        self.statistics = [None] * len(model.convs)
        self.weights = None if weights is None else tf.convert_to_tensor(weights, tf.float32)
        self.rank = None if weights is None else len(weights.shape)
        self.reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stream-reader")

    def read(self, key, start, stop):
        """Rows start..stop of the picture or of a stored array: a tensor (1, rows, cols, C)."""
        if key[0] == "p":
            return tf.cast(tf.convert_to_tensor(self.image[:, start:stop]), tf.float32)
        return self.levels.read(key, start, stop)

    def weights_at(self, level, start, stop):
        """Per-pixel style weights of rows start..stop of `level`, as the level's normalisations take them."""
        scale = 1 << level
        window = self.weights[:, start * scale : min(stop * scale, self.height)]
        return self.model.style_weights_by_level(window)[level]

    def arguments(self, step, start, stop):
        """The step's arguments for its output rows start..stop (the stored rows read here)."""
        rows, cols, lo, hi = step.window(start, stop, self.sizes)
        args = [self.read(key, lo, hi) for key in step.leaves]
        args += [tf.constant(rows), tf.constant(cols), tf.constant([start - lo, stop - lo], tf.int32)]
        for i in step.acts:
            args += [tf.constant(s) for s in self.statistics[i]]
        if self.rank == 2:
            args.append(self.weights)
        elif self.rank is not None:
            args += [self.weights_at(step.source.level, lo, hi)] * len(step.acts)
        return args

    def strips(self, level, strip_pixels):
        """(start, stop) rows of `level` in strips of about strip_pixels pixels of the picture."""
        rows, cols = self.sizes[level]
        count = max(1, strip_pixels // ((1 << (2 * level)) * cols))
        return [(start, min(start + count, rows)) for start in range(0, rows, count)]

    def convolution(self, index, strip_pixels, out=None):
        """Convolution `index` over the whole picture, strip by strip, into its stored array with its statistics
        gathered; or (index len(model.convs)) the head, into `out`. The next strip's rows are read while one
        computes."""
        model = self.model
        step = strip_step(model, index, self.rank)
        norm = model.norms[index] if index < len(model.convs) else None
        gatherer = statistics_gatherer(model, index) if norm is not None else None
        for key, (born, _) in self.lives.items():
            if born == index:
                self.levels.create(key)
        strips = self.strips(step.level, strip_pixels)
        future = self.reader.submit(self.arguments, step, *strips[0])
        for number, (start, stop) in enumerate(strips):
            args = future.result()
            if number + 1 < len(strips):
                future = self.reader.submit(self.arguments, step, *strips[number + 1])
            outputs = step.function(*args)
            if out is not None:
                out[start:stop] = np.asarray(outputs[0])[0]
                continue
            self.levels.write(("z", index), start, outputs[0])
            if step.keep is not None:
                self.levels.write(("s", step.keep), start, outputs[1])
            if gatherer is not None:
                gatherer.add(outputs[0])
        self.levels.flush()
        if gatherer is not None:
            self.statistics[index] = gatherer.statistics(norm)
        for key, (_, last) in self.lives.items():
            if last == index:
                self.levels.remove(key)


def stylize_streamed(model, image, weights=None, strip_pixels=STRIP_PIXELS, work_dir=None, out=None, memory_bytes=0):
    """
    The network's output for a picture in one streamed pass: each convolution once over the picture in strips, its
    output kept (in memory, or in a file of a work folder) until the whole picture's statistics normalise it.

    Arguments:
    model -- a TransformNet
    image -- (1, H, W, 3) in 0..255 (a tensor, or a numpy array or memmap), H and W at least the layout's min_side
    weights -- None, or the style weights: (1, styles), or (1, H, W, styles) per pixel
    strip_pixels -- about how many pixels of the picture a strip covers (the memory a step takes grows with it)
    work_dir -- None (a new temporary folder, TMPDIR honoured) or the folder to make the work folder in
    out -- None, or a float32 array (H, W, 3) to write the result into (a memmap, for pictures larger than memory)
    memory_bytes -- bytes the stored convolution outputs may take in memory (stream_store.in_memory chooses which;
                    0: every one in a file)

    Returns:
    result -- float32 (H, W, 3), not clipped: the whole picture's pass within float32 rounding; OptionError (one
              line) when the disk lacks the room the work folder needs (plan_stream's, less what stays in memory).
              The work folder is removed at the end, after an error, and after Ctrl-C or SIGTERM (which end the pass
              as a KeyboardInterrupt).
    """
    height, width = int(image.shape[1]), int(image.shape[2])
    shapes, lives, _ = plan_stream(model.layout, height, width)
    kept = in_memory(shapes, lives, memory_bytes)
    folder = work_folder(place(shapes, lives, set(shapes) - kept)[1], work_dir)
    levels = stream = None
    try:
        with signals_as_interrupts():
            levels = Levels(folder, shapes, lives, kept)
            stream = _Stream(model, image, weights, levels)
            result = out if out is not None else np.empty((height, width, 3), np.float32)
            for index in range(len(model.convs)):
                stream.convolution(index, strip_pixels)
            stream.convolution(len(model.convs), strip_pixels, out=result)
            return result
    finally:
        try:
            if stream is not None:
                stream.reader.shutdown(wait=True)
            if levels is not None:
                levels.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "DISK_RESERVE",
    "STRIP_PIXELS",
    "LevelCounts",
    "Moments",
    "Node",
    "network_plan",
    "plan_stream",
    "reflect",
    "residuals_kept",
    "StripStep",
    "statistics_gatherer",
    "strip_step",
    "stylize_streamed",
    "work_folder",
]
