"""The exact tiled apply in one streamed pass: the network run level by level, each level in strips of full width.

Instance normalisation needs each channel's mean and variance over the whole picture before any of its outputs can
be computed. The network is therefore run one convolution at a time over the whole picture, strip by strip: each
convolution's output (before its normalisation) goes into a memory-mapped file of a work folder, and its statistics
are gathered exactly over the whole picture while it is written (float64 sums of x and x ** 2 about a per-channel
shift; for an int8 network, counts of its levels). The next convolution then reads its input strips from that file,
with the rows of context its kernel needs, normalises them with the statistics, and so on. Each convolution runs once
over every position, where re-running the network's prefix for each normalisation cost about nine passes.

Strips span the picture's full width, so the columns are padded by the network's own reflection padding exactly as in
the whole pass; the rows outside the picture are the reflected rows the whole pass would pad with. The arithmetic is
the network's own: its convolutions (int8 ones too), normalisations, roundings and style weights per level.

The work folder holds at most a few levels at once (plan_stream says how much disk); it is a new temporary folder
(tempfile, TMPDIR) or one inside the folder the caller names, refused in one line when the disk lacks the room, and
removed at the end, after an error and after Ctrl-C or SIGTERM.
"""

import dataclasses
import math
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from ..checks import OptionError
from ..safety import signals_as_interrupts
from .quantize import INT8_HIGH, INT8_LOW, round_at

# The most pixels of the picture a strip covers: about 300 MB of a stage's activations at Johnson et al.'s widths, and
# measured no slower than strips of 1 or 4 million pixels at 1080x1920 (benchmarks/bench_stream.py).
STRIP_PIXELS = 512 * 512
# Disk kept free besides the work folder's files (the system and other writers need some).
DISK_RESERVE = 100e6


@dataclasses.dataclass(frozen=True)
class Node:
    """An activation the network computes from its stored levels: `kind` is 'picture', 'act' (convolution `index`'s
    output normalised, ReLU'd if `relu`), 'residual' (block `index`'s sum: `parts` the block's output and its input),
    or 'up' (parts[0] upsampled x2); `level` is its level (positions 2 ** level pixels apart)."""

    kind: str
    level: int
    index: int = -1
    relu: bool = True
    parts: tuple = ()


def network_plan(layout):
    """
    The network's convolutions as the streamed pass runs them, in TransformNet.call's order.

    Arguments:
    layout -- the network's Layout

    Returns:
    inputs -- list of Node, the input of each of layout.convolutions()
    output -- Node: the sigmoid head's input (its last convolution's output, not ReLU'd), or the affine head's
    """
    inputs, levels = [], layout.levels()
    x, index, returns_to = Node("picture", 0), 0, []
    for _, _, stride in layout.encoder:
        if stride == 2:
            returns_to.append(x.level)
        inputs.append(x)
        x, index = Node("act", levels[index], index), index + 1
    for block in range(layout.residual_blocks):
        inputs.append(x)
        inputs.append(Node("act", levels[index], index))
        out = Node("act", levels[index + 1], index + 1, relu=False)
        x, index = Node("residual", x.level, block, parts=(out, x)), index + 2
    for level in reversed(returns_to):
        inputs.append(Node("up", level, parts=(x,)))
        x, index = Node("act", levels[index], index), index + 1
    if layout.output == "sigmoid":
        inputs.append(x)
        return inputs, Node("act", levels[index], index, relu=False)
    return inputs, x


def _sizes(height, width, levels):
    """(rows, cols) of each level 0..levels: ceil halvings, as the network's stride-2 convolutions give."""
    sizes = [(height, width)]
    for _ in range(levels):
        sizes.append(tuple(-(-n // 2) for n in sizes[-1]))
    return sizes


def _stored(node, kept, writing=None):
    """
    The stored arrays a node reads: ('z', convolution) for an 'act', ('s', block) for a residual kept in a file
    (`kept`: {block: the convolution whose input it is}), except where that convolution (`writing`) computes it.
    """
    if node.kind == "act":
        return {("z", node.index)}
    if node.kind == "residual" and kept.get(node.index, writing) != writing:
        return {("s", node.index)}
    return set().union(*(_stored(part, kept) for part in node.parts))


def residuals_kept(layout):
    """
    The residual blocks' sums the streamed pass keeps in files: each that is a stride-1 convolution's input (the next
    block's) is written while that convolution reads it, and read again where the next block adds it.

    Arguments:
    layout -- the network's Layout

    Returns:
    kept -- {block: the index of the convolution whose input it is}
    """
    inputs, _ = network_plan(layout)
    levels = layout.levels()
    return {
        node.index: index
        for index, node in enumerate(inputs)
        if node.kind == "residual" and node.level == levels[index]
    }


def plan_stream(layout, height, width):
    """
    What the streamed pass stores and for how long, and the disk that needs at its fullest.

    Arguments:
    layout -- the network's Layout
    height, width -- the picture's size (as the network takes it)

    Returns:
    shapes -- {('z', convolution) or ('s', block): (rows, cols, channels)} of each memory-mapped file
    lives -- {the same keys: (the convolution that writes it, the last that reads it; len(convolutions) for the head)}
    disk -- bytes: the largest total of the files alive at once (float32)
    """
    inputs, output = network_plan(layout)
    kept = residuals_kept(layout)
    sizes = _sizes(height, width, layout.downsamplings)
    shapes, lives = {}, {}
    for index, ((filters, _, _, _), level) in enumerate(zip(layout.convolutions(), layout.levels())):
        shapes[("z", index)] = (*sizes[level], filters)
        lives[("z", index)] = (index, index)
    for block, index in kept.items():
        shapes[("s", block)] = (*sizes[layout.levels()[index]], layout.convolutions()[index - 1][0])
        lives[("s", block)] = (index, index)
    for index, node in enumerate([*inputs, output]):
        for key in _stored(node, kept, index):
            lives[key] = (lives[key][0], index)
    disk = max(
        sum(4 * math.prod(shapes[key]) for key, (born, last) in lives.items() if born <= index <= last)
        for index in range(len(inputs) + 1)
    )
    return shapes, lives, disk


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
        values = values - self.shift
        self.count += int(values.shape[0]) * int(values.shape[1])
        self.sum = self.sum + tf.reduce_sum(values, axis=1).numpy().sum(axis=0, dtype=np.float64)
        self.squares = self.squares + tf.reduce_sum(tf.square(values), axis=1).numpy().sum(axis=0, dtype=np.float64)

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


def reflect(positions, n):
    """Positions mirrored into 0..n-1 as reflection padding mirrors them (the edge not repeated); numpy ints."""
    if n == 1:
        return np.zeros_like(positions)
    period = 2 * (n - 1)
    positions = np.mod(positions, period)
    return np.where(positions >= n, period - positions, positions)


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
    """One streamed pass: the model, the picture, the files and the statistics gathered so far."""

    def __init__(self, model, image, weights, folder):
        self.model, self.image, self.folder = model, image, folder
        self.layout = model.layout
        self.height, self.width = int(image.shape[1]), int(image.shape[2])
        self.sizes = _sizes(self.height, self.width, self.layout.downsamplings)
        self.inputs, self.output = network_plan(self.layout)
        self.kept = residuals_kept(self.layout)
        self.shapes, self.lives, self.disk = plan_stream(self.layout, self.height, self.width)
        self.statistics = [None] * len(model.convs)
        self.weights = weights
        self.level_weights = None
        if weights is not None and len(weights.shape) == 2:
            self.level_weights = model.style_weights_by_level(weights)
        self.writing = None
        self.offsets = {}

    def path(self, key):
        return os.path.join(self.folder, f"{key[0]}{key[1]}.npy")

    def read(self, key, start, stop):
        """Rows start..stop of a stored array, (1, rows, cols, C); the map is closed again (no pages held)."""
        array = np.lib.format.open_memmap(self.path(key), mode="r")
        rows = tf.constant(array[None, start:stop])
        del array
        return rows

    def write(self, key, start, values):
        """values (rows, cols, C) into a stored array from row `start`: written through the file (the map's page
        faults on a new file cost more than the write), read back through the map."""
        offset, row = self.offsets[key]
        values = np.ascontiguousarray(values, np.float32)
        with open(self.path(key), "r+b") as file:
            file.seek(offset + start * row)
            file.write(memoryview(values).cast("B"))

    def create(self, key):
        """The stored array's .npy file (its header, its data left sparse until written)."""
        array = np.lib.format.open_memmap(self.path(key), mode="w+", dtype=np.float32, shape=self.shapes[key])
        self.offsets[key] = (array.offset, 4 * math.prod(self.shapes[key][1:]))
        del array

    def weights_at(self, level, start, stop):
        """The style weights of rows start..stop of `level` (None, or as the level's normalisations take them)."""
        if self.weights is None:
            return None
        if self.level_weights is not None:
            return self.level_weights[level]
        scale = 1 << level
        window = self.weights[:, start * scale : min(stop * scale, self.height)]
        return self.model.style_weights_by_level(window)[level]

    def value(self, node, start, stop):
        """A node's value on rows start..stop of its level, the full width: (1, rows, cols, C)."""
        model, q = self.model, self._q
        if node.kind == "picture":
            return q("input", tf.cast(self.image[:, start:stop], tf.float32) / 255.0)
        if node.kind == "act":
            x, norm = self.read(("z", node.index), start, stop), model.norms[node.index]
            if norm is not None:
                x = norm(x, self.statistics[node.index], self.weights_at(node.level, start, stop))
            return q(f"conv{node.index}/output", tf.nn.relu(x) if node.relu else x)
        if node.kind == "residual":
            if self.kept.get(node.index, self.writing) != self.writing:
                return self.read(("s", node.index), start, stop)
            out, skip = node.parts
            return q(f"residual{node.index}", self.value(out, start, stop) + self.value(skip, start, stop))
        # 'up': nearest-neighbour x2 (layers.upsample), row i and column j from row i // 2 and column j // 2.
        first = start // 2
        x = self.value(node.parts[0], first, (stop - 1) // 2 + 1)
        x = tf.gather(x, np.arange(start, stop) // 2 - first, axis=1)
        return tf.gather(x, np.arange(self.sizes[node.level][1]) // 2, axis=2)

    def _q(self, name, x):
        return round_at(self.model.quantization, name, x)

    def window(self, node, start, stop):
        """A node's rows start..stop of its level, those outside the picture reflected as the padding reflects them."""
        rows = reflect(np.arange(start, stop), self.sizes[node.level][0])
        first, last = int(rows.min()), int(rows.max()) + 1
        x = self.value(node, first, last)
        if node.kind == "residual" and self.kept.get(node.index) == self.writing:
            # The residual sum is written as its convolution reads it (its rows inside the picture).
            inside = slice(max(start, 0) - first, min(stop, self.sizes[node.level][0]) - first)
            self.write(("s", node.index), max(start, 0), x[0, inside].numpy())
        if rows[0] != first or rows[-1] != last - 1 or len(rows) != last - first:
            x = tf.gather(x, rows - first, axis=1)
        return x

    def strips(self, level, strip_pixels):
        """(start, stop) rows of `level` in strips of about strip_pixels pixels of the picture."""
        rows, cols = self.sizes[level]
        count = max(1, strip_pixels // ((1 << (2 * level)) * cols))
        return [(start, min(start + count, rows)) for start in range(0, rows, count)]

    def convolution(self, index, strip_pixels):
        """Convolution `index` over the whole picture, strip by strip, into its file; its statistics gathered."""
        model, node = self.model, self.inputs[index]
        _, kernel, stride, _ = self.layout.convolutions()[index]
        pad, level = kernel // 2, self.layout.levels()[index]
        norm = model.norms[index]
        gatherer = statistics_gatherer(model, index) if norm is not None else None
        self.writing = index
        for key, (born, _) in self.lives.items():
            if born == index:
                self.create(key)
        for start, stop in self.strips(level, strip_pixels):
            # The network's convolution pads by reflection again: starting the window on a multiple of the stride,
            # its outputs from `skip` on read exactly these rows, and the ones before them are dropped.
            first = (stride * start - pad) // stride * stride
            x = self.window(node, first, stride * (stop - 1) - pad + kernel)
            skip = start - first // stride
            z = self._q(f"conv{index}", model.convolve(index, x))[0, skip : skip + stop - start]
            self.write(("z", index), start, z.numpy())
            if gatherer is not None:
                gatherer.add(z)
        if gatherer is not None:
            self.statistics[index] = gatherer.statistics(norm)
        self.writing = None
        self.release(index)

    def release(self, index):
        """Removes the files no convolution after `index` reads."""
        for key, (_, last) in self.lives.items():
            if last == index and os.path.exists(self.path(key)):
                os.remove(self.path(key))

    def head(self, out, strip_pixels):
        """The network's output to RGB in 0..255, strip by strip into `out` (H, W, 3)."""
        model, node = self.model, self.output
        for start, stop in self.strips(0, strip_pixels):
            if self.layout.output == "sigmoid":
                y = self._q("output", tf.sigmoid(self.value(node, start, stop))) * 255.0
            else:
                pad = model.output_conv.kernel_size[0] // 2
                x = self.window(node, start - pad, stop + pad)
                y = model.output_conv(model.output_pad(x))[:, pad : pad + stop - start] * 127.5 + 127.5
            out[start:stop] = y[0].numpy()
        self.release(len(self.inputs))


def stylize_streamed(model, image, weights=None, strip_pixels=STRIP_PIXELS, work_dir=None, out=None):
    """
    The network's output for a picture in one streamed pass: each convolution once over the picture in strips, its
    output kept in a memory-mapped file until the whole picture's statistics normalise it.

    Arguments:
    model -- a TransformNet
    image -- (1, H, W, 3) in 0..255 (a tensor, or a numpy array or memmap), H and W at least the layout's min_side
    weights -- None, or the style weights: (1, styles), or (1, H, W, styles) per pixel
    strip_pixels -- about how many pixels of the picture a strip covers (the memory a step takes grows with it)
    work_dir -- None (a new temporary folder, TMPDIR honoured) or the folder to make the work folder in
    out -- None, or a float32 array (H, W, 3) to write the result into (a memmap, for pictures larger than memory)

    Returns:
    result -- float32 (H, W, 3), not clipped: the whole picture's pass within float32 rounding; OptionError (one
              line) when the disk lacks the room plan_stream says the work folder needs. The work folder is removed
              at the end, after an error, and after Ctrl-C or SIGTERM (which end the pass as a KeyboardInterrupt).
    """
    _, _, disk = plan_stream(model.layout, int(image.shape[1]), int(image.shape[2]))
    folder = work_folder(disk, work_dir)
    try:
        with signals_as_interrupts():
            stream = _Stream(model, image, weights, folder)
            result = out if out is not None else np.empty((stream.height, stream.width, 3), np.float32)
            for index in range(len(model.convs)):
                stream.convolution(index, strip_pixels)
            stream.head(result, strip_pixels)
            return result
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
    "statistics_gatherer",
    "stylize_streamed",
    "work_folder",
]
