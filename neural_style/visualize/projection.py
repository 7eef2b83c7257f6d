"""project: a channel's strongest activation projected back to pixels (Zeiler & Fergus's deconvnet, or guided
backpropagation), through a ReLU whose gradient is replaced with tf.custom_gradient."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from ..images import reshape_and_normalize_image
from ..options import OptionError
from .options import PROJECTION_RULE, PROJECTION_RULES
from .shared import (
    ImageLike,
    ModelLike,
    as_model,
    check_channel,
    image_label,
    load_pixels,
    matplotlib_classes,
    receptive_field,
    strongest_position,
    weights_note,
    wrapped_suptitle,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def projection_relu(rule: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """
    A ReLU whose backward pass follows a projection rule (its forward pass is the ordinary ReLU).

    Arguments:
    rule -- 'deconvnet' (Zeiler & Fergus: the backward signal goes through a ReLU of its own, whatever the forward
            input was) or 'guided' (guided backpropagation: only where both the forward input and the backward signal
            are positive)

    Returns:
    relu -- a function of a tensor, made with tf.custom_gradient
    """
    if rule not in PROJECTION_RULES:
        raise OptionError(f"--rule must be one of {', '.join(PROJECTION_RULES)}, got {rule!r}")

    @tf.custom_gradient
    def relu(x):
        def grad(dy):
            if rule == "deconvnet":
                return tf.nn.relu(dy)
            return tf.nn.relu(dy) * tf.cast(x > 0, dy.dtype)

        return tf.nn.relu(x), grad

    return relu


@dataclasses.dataclass
class Projection:
    """The strongest activation of a channel, projected back to pixels.

    Attributes:
    layer, channel, rule -- the unit and the projection rule
    position -- (y, x) of the strongest activation in the layer
    activation -- its value
    box -- (top, left, bottom, right): its receptive field in pixels, bottom/right excluded
    projection -- float32 (H, W, 3): the projected signal in pixel space; exactly 0 outside the box
    image -- the input, uint8 (H, W, 3)
    """

    layer: str
    channel: int
    rule: str
    position: tuple[int, int]
    activation: float
    box: tuple[int, int, int, int]
    projection: np.ndarray
    image: np.ndarray
    name: str = "the image"
    pooling: str = "avg"
    weights_note: str = ""
    map_size: tuple[int, int] = (0, 0)


def project(
    model: ModelLike,
    image: ImageLike,
    layer: str,
    channel: int,
    rule: str = PROJECTION_RULE,
    height: int | None = None,
    width: int | None = None,
    max_size: int | None = None,
) -> Projection:
    """
    Projects the strongest activation of one channel back to pixel space (Zeiler & Fergus 2013).

    All other activations of the layer are set to zero and the one left is sent back through the network: transposed
    filters (the convolution's gradient), unpooling (max pooling's gradient goes to the switch, average pooling's is
    spread evenly), and a ReLU that follows `rule`.

    Arguments:
    model -- a VGGModel (or weights path / 'random')
    image -- path or RGB array (H, W, 3) in [0, 255]
    layer -- e.g. 'conv5_1'
    channel -- channel index, from 0
    rule -- 'guided' (guided backpropagation) or 'deconvnet'
    height, width, max_size -- input size (default the article's 300x400)

    Returns:
    projection -- a Projection
    """
    model = as_model(model)
    channel = check_channel(model, layer, channel)
    relu = projection_relu(rule)
    pixels = load_pixels(image, height, width, max_size)
    x = tf.constant(reshape_and_normalize_image(pixels))
    with tf.GradientTape() as tape:
        tape.watch(x)
        channel_map = model(x, [layer], relu=relu)[0][0, :, :, channel]
        map_size = tuple(channel_map.shape)
        y, x_pos = strongest_position(channel_map.numpy())
        unit = channel_map[y, x_pos]
    signal = tape.gradient(unit, x).numpy()[0]
    box = receptive_field(layer, y, x_pos, *pixels.shape[:2], pooling=model.pooling)
    return Projection(
        layer,
        channel,
        rule,
        (y, x_pos),
        float(unit),
        box,
        signal,
        pixels.round().astype(np.uint8),
        image_label(image),
        model.pooling,
        weights_note(model),
        map_size,
    )


def projection_to_image(projection: np.ndarray) -> np.ndarray:
    """
    A projected signal as a picture: 0 is mid-grey, the largest magnitude is black or white.

    Arguments:
    projection -- array (H, W, 3)

    Returns:
    image -- uint8 (H, W, 3)
    """
    projection = np.asarray(projection, dtype=np.float64)
    scale = np.abs(projection).max()
    scaled = projection / scale if scale > 0 else projection
    return np.clip(np.rint(127.5 + 127.5 * scaled), 0, 255).astype(np.uint8)


def project_figure(projection: Projection) -> Figure:
    """
    The figure of a Projection: the image with the receptive field, the projection, and both cut to the field.

    Arguments:
    projection -- a Projection

    Returns:
    figure -- a matplotlib Figure
    """
    Figure, Rectangle = matplotlib_classes("Figure", "Rectangle")
    p = projection
    top, left, bottom, right = p.box
    picture = projection_to_image(p.projection)
    figure = Figure(figsize=(16, 5.2), layout="constrained")
    axes = figure.subplots(1, 4, gridspec_kw={"width_ratios": [1.5, 1.5, 1, 1]})
    for ax, shown, title in [(axes[0], p.image, f"input: {p.name}"), (axes[1], picture, "projection (grey = 0)")]:
        ax.imshow(shown)
        ax.add_patch(
            Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, edgecolor="red", linewidth=2)
        )
        ax.set_title(f"{title}; red: receptive field", fontsize=10)
    axes[2].imshow(picture[top:bottom, left:right], interpolation="nearest")
    axes[2].set_title(f"projection, field only ({right - left}x{bottom - top})", fontsize=10)
    axes[3].imshow(p.image[top:bottom, left:right], interpolation="nearest")
    axes[3].set_title("input, field only", fontsize=10)
    for ax in axes:
        ax.axis("off")
    rule = (
        "guided backpropagation (the signal passes a ReLU only where its forward input and the signal are both "
        "positive)"
        if p.rule == "guided"
        else "deconvnet (Zeiler & Fergus: transposed filters, unpooling, a ReLU on the backward signal)"
    )
    unpool = (
        "max pooling's switches" if p.pooling == "max" else "average pooling spread evenly (--pooling max: switches)"
    )
    quiet = "" if p.activation > 0 else "\nthis channel is zero everywhere for this image: there is nothing to project"
    where = f"row {p.position[0]}, column {p.position[1]} of its {p.map_size[0]}x{p.map_size[1]} map"
    wrapped_suptitle(
        figure,
        f"{p.layer}, channel {p.channel}: its strongest activation ({p.activation:.3g} at {where}) "
        f"projected back to pixels\nby {rule}; unpooling: {unpool}{quiet}\n{p.weights_note}",
    )
    return figure
