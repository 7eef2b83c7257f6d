"""What the streamed pass (stream.py) computes: the network as the convolutions it runs one after the other over the
whole picture, the arrays it stores between them and for how long, and one convolution's step on a strip of rows.

A step reads the stored rows its outputs need, normalises them with the whole picture's statistics, adds the residual
sums, upsamples, reflects the rows beyond the picture and pads the columns as the network's reflection padding does,
then runs the convolution over exactly that window (valid): its outputs are the whole pass's rows, none dropped.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from .layers import float_convolution
from .quantize import round_at


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


def level_sizes(height, width, levels):
    """
    The size of each level of the network for a picture.

    Arguments:
    height, width -- the picture's size
    levels -- how many stride-2 convolutions (Layout.downsamplings)

    Returns:
    sizes -- list of (rows, cols) of levels 0..levels: ceil halvings, as the network's stride-2 convolutions give
    """
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
    shapes -- {('z', convolution) or ('s', block): (rows, cols, channels)} of each stored array
    lives -- {the same keys: (the convolution that writes it, the last that reads it; len(convolutions) for the head)}
    disk -- bytes: the largest total of the stored arrays alive at once (float32), on the disk when none is in memory
    """
    inputs, output = network_plan(layout)
    kept = residuals_kept(layout)
    sizes = level_sizes(height, width, layout.downsamplings)
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


def reflect(positions, n):
    """Positions mirrored into 0..n-1 as reflection padding mirrors them (the edge not repeated); numpy ints."""
    if n == 1:
        return np.zeros_like(positions)
    period = 2 * (n - 1)
    positions = np.mod(positions, period)
    return np.where(positions >= n, period - positions, positions)


def _leaves(node, kept, writing):
    """The stored arrays a node's value reads, in a fixed order: ('p', 0) the picture, ('z', convolution) or
    ('s', block); a residual that `writing` computes (or that no file keeps) is read as its parts."""
    if node.kind == "picture":
        return [("p", 0)]
    if node.kind == "act":
        return [("z", node.index)]
    if node.kind == "residual" and kept.get(node.index, writing) != writing:
        return [("s", node.index)]
    return [key for part in node.parts for key in _leaves(part, kept, writing)]


class StripStep:
    """
    One convolution of the streamed pass on one strip (or the head's, `index` len(model.convs)), from the stored rows
    it reads to its output rows: the stored arrays normalised with the whole picture's statistics, the ReLUs, the
    residual sums, the nearest x2 upsampling, the rows reflected beyond the picture and the columns by the network's
    reflection padding, then the convolution (valid: the window holds exactly the rows its outputs read).

    A float network's step is one compiled tf.function (its rows and columns left open, so every strip and picture
    shares one trace), kept on the model; an int8 network's runs eagerly, as its whole pass does (apply.py).
    """

    def __init__(self, model, index, weights_rank=None):
        layout = model.layout
        inputs, output = network_plan(layout)
        kept = residuals_kept(layout)
        self.model, self.index, self.weights_rank = model, index, weights_rank
        self.head = index == len(model.convs)
        self.node = output if self.head else inputs[index]
        self.source = self.node.parts[0] if self.node.kind == "up" else self.node
        self.leaves = _leaves(self.source, kept, index)
        self.acts = [key[1] for key in self.leaves if key[0] == "z" and model.norms[key[1]] is not None]
        self.keep = self.node.index if self.node.kind == "residual" and kept.get(self.node.index) == index else None
        if not self.head:
            _, self.kernel, self.stride, _ = layout.convolutions()[index]
        else:
            self.kernel, self.stride = (layout.output_kernel if layout.output == "affine" else 1), 1
        # The output's level (its strips'); the window reads rows of the input node's level.
        self.level = 0 if self.head else layout.levels()[index]
        channels = {("p", 0): 3}
        channels.update({("z", i): filters for i, (filters, _, _, _) in enumerate(layout.convolutions())})
        channels.update({("s", b): layout.encoder[-1][0] for b in range(layout.residual_blocks)})
        spec = tf.TensorSpec
        signature = [spec((1, None, None, channels[key]), tf.float32) for key in self.leaves]
        signature += [spec((None,), tf.int32), spec((None,), tf.int32), spec((2,), tf.int32)]
        for i in self.acts:
            signature += [spec((1, 1, 1, model.convs[i].filters), tf.float32)] * 2
        if weights_rank == 2:
            signature.append(spec((1, None), tf.float32))
        elif weights_rank is not None:
            signature += [spec((1, None, None, None), tf.float32)] * len(self.acts)
        self.function = self.run if model.quantization else tf.function(self.run, input_signature=signature)

    def window(self, start, stop, sizes):
        """
        What the step reads for its output rows start..stop: the source's rows lo..hi (of the source's level) and
        which of them, and which of its columns, make the convolution's padded input.

        Arguments:
        start, stop -- the output's rows
        sizes -- (rows, cols) of each level

        Returns:
        rows, cols -- int32 arrays: the padded input's rows (from lo) and columns of the source
        lo, hi -- the source's rows read
        """
        pad = self.kernel // 2
        height, width = sizes[self.node.level]
        rows = reflect(np.arange(self.stride * start - pad, self.stride * (stop - 1) - pad + self.kernel), height)
        cols = reflect(np.arange(-pad, width + pad), width)
        if self.node.kind == "up":
            rows, cols = rows // 2, cols // 2
        lo, hi = int(rows.min()), int(rows.max()) + 1
        return (rows - lo).astype(np.int32), cols.astype(np.int32), lo, hi

    def run(self, *args):
        """The step: (the leaves' rows, rows, cols, the kept residual's rows, the statistics, the style weights) to
        (the output rows,) or (the output rows, the kept residual's rows)."""
        model, count = self.model, len(self.leaves)
        stored = dict(zip(self.leaves, args[:count]))
        rows, cols, keep = args[count : count + 3]
        rest = args[count + 3 :]
        statistics = {i: (rest[2 * n], rest[2 * n + 1]) for n, i in enumerate(self.acts)}
        rest = rest[2 * len(self.acts) :]
        if self.weights_rank == 2:
            weights = dict.fromkeys(self.acts, model.style_weights_by_level(rest[0])[0])
        else:
            weights = dict(zip(self.acts, rest))
        x = self.value(self.source, stored, statistics, weights)
        kept = x[:, keep[0] : keep[1]] if self.keep is not None else None
        x = tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)
        if not self.head:
            z = round_at(model.quantization, f"conv{self.index}", model.convolve(self.index, x, padded=True))
            return (z,) if kept is None else (z, kept)
        if model.layout.output == "sigmoid":
            return (round_at(model.quantization, "output", tf.sigmoid(x)) * 255.0,)
        return (float_convolution(model.output_conv, x) * 127.5 + 127.5,)

    def value(self, node, stored, statistics, weights):
        """A node's value on the rows read, from the stored arrays."""
        model = self.model
        if node.kind == "picture":
            return round_at(model.quantization, "input", stored[("p", 0)] / 255.0)
        if node.kind == "act":
            x, norm = stored[("z", node.index)], model.norms[node.index]
            if norm is not None:
                x = norm(x, statistics[node.index], weights.get(node.index))
            return round_at(model.quantization, f"conv{node.index}/output", tf.nn.relu(x) if node.relu else x)
        if ("s", node.index) in stored:
            return stored[("s", node.index)]
        out, skip = (self.value(part, stored, statistics, weights) for part in node.parts)
        return round_at(model.quantization, f"residual{node.index}", out + skip)


def strip_step(model, index, weights_rank=None):
    """
    Convolution `index`'s StripStep (len(model.convs): the head's), made once and kept on the model.

    Arguments:
    model -- a TransformNet
    index -- the convolution, or len(model.convs) for the head
    weights_rank -- None (no style weights), 2 (one mixture) or 4 (per pixel)

    Returns:
    step -- StripStep
    """
    steps = model.__dict__.setdefault("_strip_steps", {})
    if (index, weights_rank) not in steps:
        steps[(index, weights_rank)] = StripStep(model, index, weights_rank)
    return steps[(index, weights_rank)]


__all__ = [
    "Node",
    "StripStep",
    "level_sizes",
    "network_plan",
    "plan_stream",
    "reflect",
    "residuals_kept",
    "strip_step",
]
