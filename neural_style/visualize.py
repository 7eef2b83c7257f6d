"""Seeing inside the network: what the layers of VGG-19 respond to (the article's first section).

The article explains with CNN visualisation (the DeepVis toolbox of Yosinski et al., Zeiler & Fergus 2013) why
shallow layers carry colour and texture and deep layers carry the arrangement of object parts, and Gatys et al.'s
figure 1 shows what survives when an image is rebuilt from one layer. Each part is a function returning arrays, and a
``*_figure`` function that lays the result out as a labelled matplotlib figure:

- ``feature_maps`` / ``maps_figure``: every channel of one layer for one image, the strongest channels marked;
- ``top_images`` / ``top_figure``: the k images of a folder that activate one channel most, cropped to the receptive
  field of the strongest position;
- ``project`` / ``project_figure``: the strongest activation of a channel projected back to pixels (deconvnet or
  guided backpropagation, through a ReLU whose gradient is replaced with ``tf.custom_gradient``);
- ``maximize`` / ``maximize_figure``: regularised activation maximisation from noise (L2 decay, periodic blur,
  clipping);
- ``sweep`` / ``sweep_figure``: reconstructions from white noise with the content cost of one layer, or the style cost
  of a growing set of layers (Gatys et al. fig. 1), using the article's StyleTransferCost and Adam loop;
- ``read_history`` / ``curves_figure``: the cost curves of a run's ``--history`` file.

``save_figure`` writes any of the figures atomically.
"""

import contextlib
import dataclasses
import json
import math
import os
import textwrap

import numpy as np
import scipy.ndimage
import tensorflow as tf
from tqdm import tqdm

from . import config
from .images import (
    IMAGE_EXTENSIONS,
    generate_noise_image,
    image_to_uint8,
    load_image,
    pixel_bounds,
    reshape_and_normalize_image,
    target_size,
    write_image,
)
from .optimize import StyleTransferCost, compile_train_step
from .options import OptionError, StyleOptions
from .vgg import UnknownLayerError, VGGModel, layer_names, load_vgg_model
from .weights import RANDOM

# Gatys et al. fig. 1: content reconstructions from each of these layers, style reconstructions from growing sets.
SWEEP_CONTENT_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
SWEEP_STYLE_SETS = tuple(SWEEP_CONTENT_LAYERS[: i + 1] for i in range(len(SWEEP_CONTENT_LAYERS)))

PROJECTION_RULES = ("guided", "deconvnet")
OBJECTIVES = ("center", "mean")
HISTORY_KEYS = ("J", "J_content", "J_style")


class HistoryError(OptionError):
    """A cost-history file that cannot be read; the message names the file and the line."""


# ---------------------------------------------------------------------------------------------------------------------
# Shared helpers: the model, sizes, layers, channels and receptive fields


def as_model(model, pooling="avg"):
    """
    The network to look into.

    Arguments:
    model -- a VGGModel, a VGGWeights, a weights path (.mat or .h5) or 'random'
    pooling -- 'avg' or 'max', used when the model is built here

    Returns:
    model -- a VGGModel
    """
    if isinstance(model, VGGModel):
        return model
    return load_vgg_model(model, pooling=pooling)


def check_options(height=None, width=None, max_size=None, iterations=1):
    """
    Checks sizes and an iteration count where the main job checks them (StyleOptions.validate).

    Arguments:
    height, width, max_size -- None or positive whole numbers
    iterations -- a positive whole number

    Returns:
    None; raises OptionError naming the first option that cannot work
    """
    StyleOptions(weights=RANDOM, height=height, width=width, max_size=max_size, iterations=iterations).validate()


def load_pixels(image, height=None, width=None, max_size=None):
    """
    An image as the visualisations take it: RGB float32 in [0, 255] at the requested size.

    Arguments:
    image -- path of an image file, or an array (H, W, 3) in [0, 255]
    height, width, max_size -- as for the main job; none of them gives the article's 300x400

    Returns:
    pixels -- float32 array (height, width, 3)
    """
    check_options(height, width, max_size)
    if isinstance(image, (str, os.PathLike)):
        pixels = load_image(image)
    else:
        pixels = np.asarray(image, dtype=np.float32)
        if pixels.ndim == 4 and pixels.shape[0] == 1:
            pixels = pixels[0]
        if pixels.ndim != 3 or pixels.shape[-1] != 3:
            raise OptionError(f"an image must be a path or an (H, W, 3) RGB array, got shape {pixels.shape}")
    if height is None and width is None and max_size is None:
        size = (config.CONFIG.IMAGE_HEIGHT, config.CONFIG.IMAGE_WIDTH)
    else:
        size = target_size(*pixels.shape[:2], height, width, max_size)
    if size != pixels.shape[:2]:
        pixels = tf.image.resize(pixels, size, method="bilinear", antialias=True).numpy()
    return np.clip(pixels, 0, 255).astype(np.float32)


def check_layer(model, layer):
    """
    Raises UnknownLayerError, listing the valid names, unless the model has the layer.

    Arguments:
    model -- a VGGModel
    layer -- a layer name such as 'conv4_1' or 'avgpool3'

    Returns:
    layer -- unchanged
    """
    if layer not in model.layer_names:
        raise UnknownLayerError(f"unknown layer {layer!r}; valid: {', '.join(model.layer_names)}")
    return layer


def layer_channels(model, layer):
    """
    Number of channels of a layer (a pool has those of the convolution before it).

    Arguments:
    model -- a VGGModel
    layer -- a layer name

    Returns:
    n_C -- number of channels
    """
    check_layer(model, layer)
    names = model.layer_names[: model.layer_names.index(layer) + 1]
    last_conv = [name for name in names if name in model.weights.layers][-1]
    return int(model.weights.channels(last_conv))


def check_channel(model, layer, channel):
    """
    Raises OptionError, saying how many channels the layer has, unless `channel` is one of them.

    Arguments:
    model -- a VGGModel
    layer -- a layer name
    channel -- channel index, counted from 0

    Returns:
    channel -- as an int
    """
    n_C = layer_channels(model, layer)
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < n_C:
        raise OptionError(f"--channel {channel}: {layer} has {n_C} channels, numbered 0 to {n_C - 1}")
    return int(channel)


def receptive_field(layer, y, x, height, width, pooling="avg"):
    """
    The pixels that can influence one position of a layer: its receptive field, cut to the image.

    Every convolution is 3x3 with stride 1 and one pixel of padding, every pool 2x2 with stride 2 and no padding
    before the first row/column, so going back one layer widens a range [a, b] to [a - 1, b + 1] (convolution) or
    [2a, 2b + 1] (pool).

    Arguments:
    layer -- a layer name
    y, x -- the position in the layer's activation
    height, width -- size of the input image
    pooling -- 'avg' or 'max' (names the pools)

    Returns:
    box -- (top, left, bottom, right) in pixels, bottom and right excluded
    """
    names = layer_names(pooling)
    if layer not in names:
        raise UnknownLayerError(f"unknown layer {layer!r}; valid: {', '.join(names)}")
    top, bottom, left, right = y, y, x, x
    for name in reversed(names[: names.index(layer) + 1]):
        if name.startswith("conv"):
            top, bottom, left, right = top - 1, bottom + 1, left - 1, right + 1
        else:
            top, bottom, left, right = 2 * top, 2 * bottom + 1, 2 * left, 2 * right + 1
    return max(top, 0), max(left, 0), min(bottom + 1, height), min(right + 1, width)


def receptive_field_size(layer, pooling="avg"):
    """
    Side of the receptive field of a layer's position, away from the borders.

    Arguments:
    layer -- a layer name
    pooling -- 'avg' or 'max'

    Returns:
    size -- in pixels (3 for conv1_1, 156 for conv5_1, 252 for conv5_4)
    """
    far = 10**4  # a position far from every border, in a much larger image
    top, _, bottom, _ = receptive_field(layer, far, far, 10**9, 10**9, pooling)
    return bottom - top


def _activation(model, pixels, layer):
    """One layer's activation for an RGB image in [0, 255], as a numpy array (n_H, n_W, n_C)."""
    return model(reshape_and_normalize_image(pixels), [layer])[0].numpy()[0]


def _strongest_position(channel_map):
    """(y, x) of the largest value of a 2-D map (the first one in row order on ties)."""
    y, x = np.unravel_index(int(np.argmax(channel_map)), channel_map.shape)
    return int(y), int(x)


def _name(image):
    return os.path.basename(os.fspath(image)) if isinstance(image, (str, os.PathLike)) else "the image"


def _weights_note(model):
    source = model.weights.source
    if source == RANDOM:
        return "weights: random (He-initialised filters, not the trained VGG-19: patterns are not object parts)"
    return f"weights: {os.path.basename(str(source))}"


# ---------------------------------------------------------------------------------------------------------------------
# maps: every channel of one layer


@dataclasses.dataclass
class FeatureMaps:
    """The activation of every channel of one layer for one image.

    Attributes:
    layer -- the layer's name
    activations -- float32 array (n_H, n_W, n_C), after the ReLU
    image -- the input, uint8 (H, W, 3)
    name -- the image's file name (for titles)
    weights_note -- which weights made them
    """

    layer: str
    activations: np.ndarray
    image: np.ndarray
    name: str = "the image"
    weights_note: str = ""

    def strongest(self, k=8):
        """The k channels with the highest peak activation, strongest first."""
        return strongest_channels(self.activations, k)


def feature_maps(model, image, layer, height=None, width=None, max_size=None):
    """
    Computes every channel's activation of one layer for one image.

    Arguments:
    model -- a VGGModel (or weights path / 'random')
    image -- path or RGB array (H, W, 3) in [0, 255]
    layer -- e.g. 'conv3_1'
    height, width, max_size -- input size (default the article's 300x400)

    Returns:
    maps -- a FeatureMaps
    """
    model = as_model(model)
    check_layer(model, layer)
    pixels = load_pixels(image, height, width, max_size)
    return FeatureMaps(
        layer, _activation(model, pixels, layer), pixels.round().astype(np.uint8), _name(image), _weights_note(model)
    )


def strongest_channels(activations, k=8):
    """
    The channels with the highest peak activation.

    Arguments:
    activations -- array (n_H, n_W, n_C)
    k -- how many

    Returns:
    channels -- list of at most k channel indices, strongest first (lower index first on ties)
    """
    peaks = np.asarray(activations).reshape(-1, np.shape(activations)[-1]).max(axis=0)
    return [int(c) for c in np.argsort(-peaks, kind="stable")[:k]]


def _grid_columns(n_C, n_H, n_W):
    """Columns that make the grid of n_C tiles of n_H x n_W about square."""
    return max(1, min(n_C, math.ceil(math.sqrt(n_C * n_H / n_W))))


def maps_grid(activations, columns=None, gap=1, fill=1.0):
    """
    Lays the channels out as one image, row by row, each scaled to its own peak (0 stays 0, the peak becomes 1).

    Arguments:
    activations -- array (n_H, n_W, n_C) of non-negative values (a ReLU's or a pool's output)
    columns -- tiles per row; None makes the grid about square
    gap -- pixels between tiles
    fill -- value of the gaps (and of unused tiles)

    Returns:
    grid -- float32 array (rows * (n_H + gap) - gap, columns * (n_W + gap) - gap), tiles in [0, 1];
            channel c is in row c // columns, column c % columns
    """
    activations = np.asarray(activations, dtype=np.float32)
    n_H, n_W, n_C = activations.shape
    columns = columns or _grid_columns(n_C, n_H, n_W)
    rows = math.ceil(n_C / columns)
    peaks = activations.reshape(-1, n_C).max(axis=0)
    # A channel that is zero everywhere (the ReLU is off for the whole image) stays black.
    scaled = np.where(peaks > 0, activations / np.where(peaks > 0, peaks, 1), 0)
    grid = np.full((rows * (n_H + gap) - gap, columns * (n_W + gap) - gap), fill, dtype=np.float32)
    for c in range(n_C):
        y, x = (c // columns) * (n_H + gap), (c % columns) * (n_W + gap)
        grid[y : y + n_H, x : x + n_W] = scaled[..., c]
    return grid


def maps_figure(maps, top=8):
    """
    The figure of `maps`: the input beside the grid of all channels, the `top` strongest framed and numbered.

    Arguments:
    maps -- a FeatureMaps
    top -- how many of the strongest channels to mark

    Returns:
    figure -- a matplotlib Figure
    """
    Figure, Rectangle = _matplotlib("Figure", "Rectangle")
    n_H, n_W, n_C = maps.activations.shape
    columns = _grid_columns(n_C, n_H, n_W)
    grid = maps_grid(maps.activations, columns, fill=np.nan)
    strongest = maps.strongest(top)
    peaks = maps.activations.reshape(-1, n_C).max(axis=0)
    figure = Figure(figsize=(15, 9.5), layout="constrained")
    image_axes, grid_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.6]})
    image_axes.imshow(maps.image)
    image_axes.set_title(f"input: {maps.name} ({maps.image.shape[1]}x{maps.image.shape[0]})")
    image_axes.axis("off")
    colours = _colormap("gray").with_extremes(bad="#4a6fa5")  # the gaps between tiles
    grid_axes.imshow(grid, cmap=colours, vmin=0, vmax=1, interpolation="nearest")
    grid_axes.set_xticks([])
    grid_axes.set_yticks([])
    label_all = n_C <= 64
    for c in range(n_C):
        marked = c in strongest
        if not (marked or label_all):
            continue
        y, x = (c // columns) * (n_H + 1), (c % columns) * (n_W + 1)
        if marked:
            grid_axes.add_patch(Rectangle((x - 0.5, y - 0.5), n_W, n_H, fill=False, edgecolor="red", linewidth=2))
        grid_axes.text(
            x,
            y,
            str(c),
            color="red" if marked else "yellow",
            fontsize=7,
            va="top",
            ha="left",
            bbox={"facecolor": "black", "alpha": 0.6, "pad": 0.5, "linewidth": 0},
        )
    scaling = "each tile scaled to its own peak: black = 0 (ReLU off), white = that channel's peak"
    grid_axes.set_xlabel(f"channel c is in row c // {columns}, column c % {columns} (both from 0); {scaling}")
    grid_axes.set_title(
        f"{maps.layer}: all {n_C} channels, {n_W}x{n_H} positions each; red frames: the "
        f"{len(strongest)} strongest by peak activation"
    )
    ranking = ", ".join(f"{c} ({peaks[c]:.3g})" for c in strongest)
    title = f"What {maps.layer} sees in {maps.name}\nstrongest channels (peak): {ranking}\n{maps.weights_note}"
    _suptitle(figure, title, fontsize=11)
    return figure


# ---------------------------------------------------------------------------------------------------------------------
# top: the images of a folder that activate one channel most


@dataclasses.dataclass
class TopHit:
    """One image's strongest activation of a channel.

    Attributes:
    path -- the image file
    score -- the channel's peak activation in this image
    position -- (y, x) of the peak in the layer
    box -- (top, left, bottom, right): the peak's receptive field in pixels, bottom/right excluded
    crop -- uint8 pixels of the box
    """

    path: str
    score: float
    position: tuple
    box: tuple
    crop: np.ndarray


@dataclasses.dataclass
class TopImages:
    """The images that activate a channel most, strongest first.

    Attributes:
    layer, channel -- the unit looked at
    hits -- list of TopHit, at most k, highest score first
    count -- how many images were scanned
    source -- the folder (or 'the images')
    size -- the receptive field's side in pixels away from the borders
    input_size -- (height, width) the images were resized to, or None when --max-size kept their aspect ratios
    weights_note -- which weights made them
    """

    layer: str
    channel: int
    hits: list
    count: int
    source: str
    size: int
    input_size: tuple = None
    weights_note: str = ""


def image_files(folder):
    """
    The image files of a folder (by extension, hidden files left out), sorted by name.

    Arguments:
    folder -- path of a folder

    Returns:
    paths -- list of paths
    """
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        raise FileNotFoundError(f"folder not found: {folder}")
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder} is not a folder; give a folder of images")
    paths = sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
    )
    if not paths:
        raise OptionError(f"{folder}: no images in this folder (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return paths


def top_images(model, images, layer, channel, k=9, height=None, width=None, max_size=None):
    """
    Finds the images that activate one channel most, and crops each around its strongest position.

    Arguments:
    model -- a VGGModel (or weights path / 'random')
    images -- a folder, or a list of image paths
    layer -- e.g. 'conv4_1'
    channel -- channel index, from 0
    k -- how many images to keep (DeepVis shows 9)
    height, width, max_size -- size every image is resized to (default the article's 300x400)

    Returns:
    top -- a TopImages whose hits are sorted by peak activation, highest first (file order on ties)
    """
    model = as_model(model)
    channel = check_channel(model, layer, channel)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise OptionError(f"--k must be a positive whole number, got {k}")
    if isinstance(images, (str, os.PathLike)):
        source, paths = os.fspath(images), image_files(images)
    else:
        source, paths = "the images", [os.fspath(path) for path in images]
        if not paths:
            raise OptionError("no images given")
    check_options(height, width, max_size)
    hits = []
    for path in paths:
        pixels = load_pixels(path, height, width, max_size)
        channel_map = _activation(model, pixels, layer)[..., channel]
        y, x = _strongest_position(channel_map)
        box = receptive_field(layer, y, x, *pixels.shape[:2], pooling=model.pooling)
        crop = pixels[box[0] : box[2], box[1] : box[3]].round().astype(np.uint8)
        hits.append(TopHit(path, float(channel_map[y, x]), (y, x), box, crop))
    hits.sort(key=lambda hit: -hit.score)  # stable: file order on ties
    input_size = None if max_size is not None and height is None and width is None else pixels.shape[:2]
    return TopImages(
        layer,
        channel,
        hits[:k],
        len(paths),
        source,
        receptive_field_size(layer, model.pooling),
        input_size,
        _weights_note(model),
    )


def top_figure(top):
    """
    The figure of `top`: the crops in a grid, each with its rank, file and peak activation.

    Arguments:
    top -- a TopImages

    Returns:
    figure -- a matplotlib Figure
    """
    (Figure,) = _matplotlib("Figure")
    columns = math.ceil(math.sqrt(len(top.hits)))
    rows = math.ceil(len(top.hits) / columns)
    figure = Figure(figsize=(3.2 * columns + 1, 3.4 * rows + 1.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for rank, (hit, ax) in enumerate(zip(top.hits, axes), 1):
        ax.imshow(hit.crop, interpolation="nearest")
        ax.set_title(
            f"{rank}. {os.path.basename(hit.path)}\npeak {hit.score:.3g} at row {hit.position[0]}, "
            f"column {hit.position[1]}",
            fontsize=9,
        )
    for ax in axes:
        ax.axis("off")
    resized = f"images resized to {top.input_size[1]}x{top.input_size[0]}" if top.input_size else "images resized"
    _suptitle(
        figure,
        f"{top.layer}, channel {top.channel}: the {len(top.hits)} of {top.count} images in "
        f"{top.source} that activate it most\neach crop is the receptive field ({top.size}x{top.size} px, "
        f"cut at the borders) of the channel's strongest position; {resized}\n{top.weights_note}",
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------------
# project: one activation back to pixel space


def projection_relu(rule):
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
    position: tuple
    activation: float
    box: tuple
    projection: np.ndarray
    image: np.ndarray
    name: str = "the image"
    pooling: str = "avg"
    weights_note: str = ""
    map_size: tuple = (0, 0)


def project(model, image, layer, channel, rule="guided", height=None, width=None, max_size=None):
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
        y, x_pos = _strongest_position(channel_map.numpy())
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
        _name(image),
        model.pooling,
        _weights_note(model),
        map_size,
    )


def projection_to_image(projection):
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


def project_figure(projection):
    """
    The figure of a Projection: the image with the receptive field, the projection, and both cut to the field.

    Arguments:
    projection -- a Projection

    Returns:
    figure -- a matplotlib Figure
    """
    Figure, Rectangle = _matplotlib("Figure", "Rectangle")
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
    _suptitle(
        figure,
        f"{p.layer}, channel {p.channel}: its strongest activation ({p.activation:.3g} at {where}) "
        f"projected back to pixels\nby {rule}; unpooling: {unpool}{quiet}\n{p.weights_note}",
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------------
# maximize: regularised activation maximisation


@dataclasses.dataclass
class Maximization:
    """An image made to activate one channel, and how the activation rose.

    Attributes:
    layer, channel, objective -- the unit: the channel's centre position ('center') or its mean ('mean')
    image -- uint8 (H, W, 3)
    activations -- the channel's activation after the ReLU (at the centre, or its mean) before every step, then for
                   the final image
    settings -- the regularisation used: step_size, decay, blur_every, blur_sigma, norm_percentile, iterations
    """

    layer: str
    channel: int
    objective: str
    image: np.ndarray
    activations: list
    settings: dict
    weights_note: str = ""

    @property
    def start(self):
        """The activation for the starting noise."""
        return self.activations[0]

    @property
    def final(self):
        """The activation for the final image."""
        return self.activations[-1]


def maximize(
    model,
    layer,
    channel,
    height=None,
    width=None,
    max_size=None,
    iterations=200,
    step_size=4.0,
    decay=0.01,
    blur_every=4,
    blur_sigma=1.0,
    norm_percentile=10.0,
    objective="center",
    seed=None,
    jit_compile=False,
    progress=False,
):
    """
    Makes an image that activates one channel strongly: gradient ascent from noise, regularised as in the DeepVis
    toolbox (Yosinski et al. 2015).

    Each step moves the pixels along the gradient, normalised to a root-mean-square of 1 so that `step_size` is in
    pixel units whatever the weights; then decays them towards the mean pixel (L2 decay), blurs them every
    `blur_every` steps, sets to the mean pixel those whose colour is weaker than the `norm_percentile` percentile
    (norm clipping), and clips all to the valid range [0, 255]. The gradient is taken before the last ReLU, so that a
    unit that is off for the starting noise still learns; the activations reported are after it.

    Arguments:
    model -- a VGGModel (or weights path / 'random')
    layer -- e.g. 'conv4_1'
    channel -- channel index, from 0
    height, width, max_size -- image size (default the article's 300x400; max_size makes it square)
    iterations -- number of ascent steps
    step_size -- pixel change per step (RMS over the image)
    decay -- L2 decay: the pixels are multiplied by 1 - decay every step
    blur_every, blur_sigma -- Gaussian blur of width blur_sigma pixels every blur_every steps (0: never)
    norm_percentile -- percentile of pixel norms below which pixels are reset (0: never)
    objective -- 'center' (the channel's centre position, as DeepVis does) or 'mean' (the whole channel)
    seed -- seed of the starting noise
    jit_compile -- compile the step with XLA (off by default: XLA spends longer folding the constant filters and
                   one-hot gradient than the steps take on a CPU)
    progress -- show a progress bar

    Returns:
    result -- a Maximization
    """
    model = as_model(model)
    channel = check_channel(model, layer, channel)
    if objective not in OBJECTIVES:
        raise OptionError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    check_options(height, width, max_size, iterations)
    for name, value in [
        ("step-size", step_size),
        ("decay", decay),
        ("blur-sigma", blur_sigma),
        ("norm-percentile", norm_percentile),
    ]:
        if not math.isfinite(value) or value < 0:
            raise OptionError(f"--{name} must be a finite number >= 0, got {value}")
    if decay >= 1 or norm_percentile >= 100:
        raise OptionError(f"--decay must be < 1 and --norm-percentile < 100, got {decay} and {norm_percentile}")
    if not isinstance(blur_every, (int, np.integer)) or blur_every < 0:
        raise OptionError(f"--blur-every must be a whole number >= 0 (0 = never), got {blur_every}")
    if height is None and width is None:
        height, width = (max_size, max_size) if max_size else (config.CONFIG.IMAGE_HEIGHT, config.CONFIG.IMAGE_WIDTH)
    height, width = height or width, width or height
    low, high = pixel_bounds()
    image = tf.Variable(generate_noise_image(np.zeros((1, height, width, 3), np.float32), 1.0, seed=seed))

    def objective_and_activation(x):
        # Before the layer's ReLU (a pool's output has none): what the gradient follows. After it: what is reported.
        a = model(x, [layer], before_relu=True)[0][0, :, :, channel]
        if objective == "center":
            a = a[a.shape[0] // 2, a.shape[1] // 2]
            return a, tf.nn.relu(a)
        return tf.reduce_mean(a), tf.reduce_mean(tf.nn.relu(a))

    def ascend():
        with tf.GradientTape() as tape:
            value, activation = objective_and_activation(image)
        grad = tape.gradient(value, image)
        grad = grad / (tf.sqrt(tf.reduce_mean(tf.square(grad))) + 1e-12)
        image.assign((image + step_size * grad) * (1 - decay))
        return activation

    ascend = tf.function(ascend, jit_compile=jit_compile)
    activations = []
    for i in tqdm(range(iterations), disable=not progress, unit="step", dynamic_ncols=True):
        activations.append(float(ascend()))
        pixels = image.numpy()
        if blur_every and blur_sigma and (i + 1) % blur_every == 0:
            pixels = scipy.ndimage.gaussian_filter(pixels, sigma=(0, blur_sigma, blur_sigma, 0))
        if norm_percentile:
            norms = np.linalg.norm(pixels, axis=-1, keepdims=True)
            pixels = np.where(norms < np.percentile(norms, norm_percentile), 0, pixels)
        image.assign(np.clip(pixels, low, high))
    activations.append(float(objective_and_activation(image)[1]))
    settings = {
        "iterations": iterations,
        "step_size": step_size,
        "decay": decay,
        "blur_every": blur_every,
        "blur_sigma": blur_sigma,
        "norm_percentile": norm_percentile,
    }
    return Maximization(
        layer, channel, objective, image_to_uint8(image.numpy()), activations, settings, _weights_note(model)
    )


def maximize_figure(result):
    """
    The figure of a Maximization: the image, and the activation step by step.

    Arguments:
    result -- a Maximization

    Returns:
    figure -- a matplotlib Figure
    """
    (Figure,) = _matplotlib("Figure")
    figure = Figure(figsize=(13, 5.5), layout="constrained")
    image_axes, curve_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    image_axes.imshow(result.image)
    image_axes.axis("off")
    where = "its centre position" if result.objective == "center" else "its mean over all positions"
    image_axes.set_title(f"image that maximises {result.layer} channel {result.channel} ({where})", fontsize=10)
    curve_axes.plot(range(len(result.activations)), result.activations)
    curve_axes.set_xlabel("step")
    curve_axes.set_ylabel(f"{result.layer} channel {result.channel} activation")
    curve_axes.set_title(f"activation: {result.start:.3g} for the starting noise -> {result.final:.3g}", fontsize=10)
    curve_axes.grid(True, alpha=0.3)
    s = result.settings
    _suptitle(
        figure,
        f"Activation maximisation of {result.layer}, channel {result.channel}: {s['iterations']} "
        f"gradient ascent steps of {s['step_size']:g} px (RMS)\nregularised with L2 decay {s['decay']:g}, "
        f"a Gaussian blur (sigma {s['blur_sigma']:g} px) every {s['blur_every']} steps, pixels under the "
        f"{s['norm_percentile']:g}th norm percentile reset, clipping to [0, 255]\n{result.weights_note}",
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------------
# sweep: Gatys et al. fig. 1


@dataclasses.dataclass
class SweepPanel:
    """One reconstruction from white noise.

    Attributes:
    kind -- 'content' (only the content cost of one layer) or 'style' (only the style cost of a set of layers)
    layers -- the layers of the cost
    image -- uint8 (H, W, 3)
    cost -- the cost of the final image (J_content or J_style, unweighted)
    history -- the cost before every step
    """

    kind: str
    layers: tuple
    image: np.ndarray
    cost: float
    history: list


@dataclasses.dataclass
class Sweep:
    """Gatys et al. fig. 1: the panels, and the images they were made from.

    Attributes:
    panels -- list of SweepPanel: the content layers first, then the style sets, in the order asked for
    content, style -- uint8 (H, W, 3) inputs, or None when not used
    iterations, learning_rate -- the optimisation's settings (the article's Adam)
    """

    panels: list
    content: np.ndarray
    style: np.ndarray
    iterations: int
    learning_rate: float
    weights_note: str = ""


def sweep(
    model,
    content=None,
    style=None,
    content_layers=SWEEP_CONTENT_LAYERS,
    style_sets=SWEEP_STYLE_SETS,
    iterations=config.NUM_ITERATIONS,
    learning_rate=config.LEARNING_RATE,
    height=None,
    width=None,
    max_size=None,
    seed=None,
    jit_compile=True,
    progress=False,
):
    """
    Reconstructs images from white noise with one term of the article's cost at a time (Gatys et al. fig. 1).

    Content panels minimise only J_content at one layer (alpha 1, beta 0); style panels minimise only J_style over a
    set of layers with equal weights 1/N (alpha 0, beta 1). Every panel starts from the same noise and runs the
    article's loop (Adam on the pixels).

    Arguments:
    model -- a VGGModel (or weights path / 'random')
    content -- path or RGB array of the photo, or None for no content panels
    style -- path or RGB array of the painting, or None for no style panels
    content_layers -- one content panel per layer
    style_sets -- one style panel per set of layers
    iterations, learning_rate -- Adam steps per panel and its learning rate
    height, width, max_size -- size of the panels (default the article's 300x400; the style is resized to the
                               content's size)
    seed -- seed of the starting noise
    jit_compile -- compile each panel's step with XLA
    progress -- show a progress bar

    Returns:
    sweep -- a Sweep, with one panel per content layer and per style set
    """
    model = as_model(model)
    if content is None and style is None:
        raise OptionError("give --content, --style or both")
    check_options(height, width, max_size, iterations)
    if not math.isfinite(learning_rate) or learning_rate <= 0:
        raise OptionError(f"--learning-rate must be > 0, got {learning_rate}")
    content_layers = list(content_layers) if content is not None else []
    style_sets = [tuple(layers) for layers in style_sets] if style is not None else []
    for layer in content_layers + [name for layers in style_sets for name in layers]:
        check_layer(model, layer)
    if content is not None and not content_layers:
        raise OptionError("--content-layers names no layer; e.g. conv1_1,conv4_2")
    if style is not None and (not style_sets or any(not layers for layers in style_sets)):
        raise OptionError("--style-sets has an empty set; e.g. conv1_1;conv1_1,conv2_1")
    content_pixels = style_pixels = None
    if content is not None:
        content_pixels = load_pixels(content, height, width, max_size)
        height, width, max_size = *content_pixels.shape[:2], None
    if style is not None:
        style_pixels = load_pixels(style, height, width, max_size)
    size = (content_pixels if content is not None else style_pixels).shape[:2]
    noise = generate_noise_image(np.zeros((1, *size, 3), np.float32), 1.0, seed=seed)
    jobs = [("content", (layer,)) for layer in content_layers] + [("style", layers) for layers in style_sets]
    targets = {"content": content_pixels, "style": style_pixels}
    panels = []
    bar = tqdm(total=len(jobs) * iterations, disable=not progress, unit="it", dynamic_ncols=True)
    with bar, _quiet_tf_warnings():
        for kind, layers in jobs:
            bar.set_description(f"{kind} {'+'.join(layers)}")
            cost = _single_term_cost(model, kind, layers, targets[kind])
            panels.append(_reconstruct(cost, kind, layers, noise, iterations, learning_rate, jit_compile, bar))
    return Sweep(
        panels, _as_uint8(content_pixels), _as_uint8(style_pixels), iterations, learning_rate, _weights_note(model)
    )


@contextlib.contextmanager
def _quiet_tf_warnings():
    """Each sweep panel compiles a step for its own cost, on purpose: TF's warning about frequent retracing is noise."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def _as_uint8(pixels):
    return None if pixels is None else pixels.round().astype(np.uint8)


def _single_term_cost(model, kind, layers, pixels):
    """The article's StyleTransferCost with one term switched off by its weight, the forward pass cut at `layers`."""
    target = reshape_and_normalize_image(pixels)
    if kind == "content":
        # beta = 0; the style term names the same layer, so the forward pass goes no deeper than the content layer.
        return StyleTransferCost(model, target, target, layers[0], [(layers[0], 0.0)], alpha=1.0, beta=0.0)
    deepest = max(layers, key=model.layer_names.index)
    return StyleTransferCost(
        model, target, target, deepest, [(name, 1.0 / len(layers)) for name in layers], alpha=0.0, beta=1.0
    )


def _reconstruct(cost, kind, layers, noise, iterations, learning_rate, jit_compile, bar):
    """Runs Adam from the noise on one single-term cost; returns its SweepPanel."""
    image = tf.Variable(noise)
    step = compile_train_step(
        image, tf.keras.optimizers.Adam(learning_rate=learning_rate), cost, jit_compile=jit_compile
    )
    term = 1 if kind == "content" else 2
    history = []
    for _ in range(iterations):
        history.append(float(step()[term]))
        bar.update()
    final = float(cost(image)[term])
    return SweepPanel(kind, tuple(layers), image_to_uint8(image.numpy()), final, history)


def _layer_set_label(layers):
    if len(layers) == 1:
        return layers[0]
    return "\n".join(textwrap.wrap(", ".join(layers), 26))


def sweep_figure(result):
    """
    The figure of a Sweep: a row of content reconstructions and a row of style reconstructions, inputs on the left.

    Arguments:
    result -- a Sweep

    Returns:
    figure -- a matplotlib Figure
    """
    (Figure,) = _matplotlib("Figure")
    sources = [("content", result.content), ("style", result.style)]
    rows = [
        (kind, [p for p in result.panels if p.kind == kind], source) for kind, source in sources if source is not None
    ]
    columns = 1 + max(len(panels) for _, panels, _ in rows)
    height, width = result.panels[0].image.shape[:2] if result.panels else (3, 4)
    tile = 2.6
    figure = Figure(
        figsize=(tile * columns, tile * height / width * len(rows) + 1.0 + 0.7 * len(rows)), layout="constrained"
    )
    axes = np.array(figure.subplots(len(rows), columns)).reshape(len(rows), columns)
    for r, (kind, panels, source) in enumerate(rows):
        axes[r, 0].imshow(source)
        axes[r, 0].set_title(f"{kind} image", fontsize=9)
        term = "J_content" if kind == "content" else "J_style"
        for c, panel in enumerate(panels, 1):
            axes[r, c].imshow(panel.image)
            axes[r, c].set_title(f"{kind} of {_layer_set_label(panel.layers)}\n{term} {panel.cost:.3g}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    _suptitle(
        figure,
        "Reconstructions from white noise (Gatys et al. fig. 1): each panel minimises only the content "
        "cost of one layer or only the style cost of a set of layers\n"
        f"{result.iterations} Adam steps (learning rate {result.learning_rate:g}) from the same noise; "
        f"costs are those of the final image\n{result.weights_note}",
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------------
# curves: the costs of a run


def read_history(path):
    """
    Reads a run's cost history, written by `neural-style ... --history PATH` (one JSON object per line).

    Arguments:
    path -- the history file

    Returns:
    entries -- list of dicts with at least iteration, J, J_content, J_style (other keys, e.g. seconds, kept)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"history file not found: {path} (a run writes one with --history PATH)")
    try:
        entries = _read_history_lines(path)
    except UnicodeDecodeError:
        raise HistoryError(f"{path}: not UTF-8 text; give the file a run wrote with --history PATH") from None
    if not entries:
        raise HistoryError(f"{path}: no cost entries (the file is empty)")
    return entries


def _read_history_lines(path):
    entries = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise HistoryError(f"{path}, line {number}: not JSON ({error.msg})") from None
            missing = (
                [key for key in ("iteration",) + HISTORY_KEYS if key not in entry]
                if isinstance(entry, dict)
                else ["iteration"]
            )
            if missing:
                raise HistoryError(
                    f"{path}, line {number}: no {', '.join(missing)}; expected a line of "
                    "neural-style --history (iteration, seconds, J, J_content, J_style)"
                )
            entries.append(entry)
    return entries


def history_series(entries):
    """
    The cost series of a history: J, J_content, J_style and any other numeric J_* key (such as J_tv).

    Arguments:
    entries -- list of dicts from read_history

    Returns:
    series -- dict from key to (iterations, values) float arrays, J first
    """
    extra = sorted(
        {
            key
            for entry in entries
            for key, value in entry.items()
            if key.startswith("J_") and key not in HISTORY_KEYS and _is_number(value)
        }
    )
    series = {}
    for key in HISTORY_KEYS + tuple(extra):
        points = [(entry["iteration"], entry[key]) for entry in entries if _is_number(entry.get(key))]
        series[key] = (
            tuple(np.array(values, dtype=np.float64) for values in zip(*points))
            if points
            else (np.zeros(0), np.zeros(0))
        )
    return series


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


CURVE_TITLES = {
    "J": "J = alpha J_content + beta J_style (total)",
    "J_content": "J_content (unweighted)",
    "J_style": "J_style (unweighted, summed over the style layers)",
}


def curves_figure(histories):
    """
    The cost curves of one or more runs, one panel per cost, log scale.

    Arguments:
    histories -- dict from a run's label (e.g. its file name) to its entries (from read_history), or one list of
                 entries

    Returns:
    figure -- a matplotlib Figure
    """
    (Figure,) = _matplotlib("Figure")
    if not isinstance(histories, dict):
        histories = {"run": histories}
    series = {label: history_series(entries) for label, entries in histories.items()}
    keys = list(dict.fromkeys(key for runs in series.values() for key in runs))
    figure = Figure(figsize=(5.2 * len(keys), 4.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(keys)))
    for ax, key in zip(axes, keys):
        positive = False
        for label, runs in series.items():
            x, y = runs.get(key, (np.zeros(0), np.zeros(0)))
            if len(y):
                ax.plot(x, y, label=f"{label}: last {y[-1]:.4g}" if len(series) > 1 else f"last {y[-1]:.4g}")
                positive = positive or bool(np.any(y > 0))
        if positive:
            ax.set_yscale("log")  # values <= 0 are left out of a log axis
        ax.set_title(CURVE_TITLES.get(key, f"{key} (unweighted)"), fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"{key}" + (" (log scale)" if positive else ""))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    summary = "; ".join(_run_summary(label, entries) for label, entries in histories.items())
    _suptitle(figure, f"Cost curves: {summary}", fontsize=10)
    return figure


def _run_summary(label, entries):
    seconds = [entry["seconds"] for entry in entries if _is_number(entry.get("seconds"))]
    timing = f" in {seconds[-1]:.1f} s" if seconds else ""
    return f"{label}, {len(entries)} iterations{timing}"


# ---------------------------------------------------------------------------------------------------------------------
# Figures out


def _matplotlib(*names):
    """matplotlib's Figure (drawn with the Agg backend, no pyplot state) and patches, imported when first needed."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:
        raise RuntimeError("the figures need matplotlib: pip install matplotlib") from None
    found = {"Figure": Figure, "Rectangle": Rectangle}
    return tuple(found[name] for name in names)


def _suptitle(figure, text, fontsize=10):
    """The figure's title, each line wrapped to the figure's width (a narrow figure would cut it off)."""
    columns = max(40, int(figure.get_figwidth() * 72 / (0.55 * fontsize)))
    lines = [wrapped for line in text.split("\n") for wrapped in textwrap.wrap(line, columns) or [""]]
    figure.suptitle("\n".join(lines), fontsize=fontsize)


def _colormap(name):
    import matplotlib

    return matplotlib.colormaps[name]


def figure_to_array(figure):
    """
    Renders a figure with matplotlib's Agg backend.

    Arguments:
    figure -- a matplotlib Figure

    Returns:
    pixels -- uint8 array (H, W, 3)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_figure(figure, path):
    """
    Writes a figure as an image, atomically (images.write_image): a crash never leaves half a file.

    Arguments:
    figure -- a matplotlib Figure
    path -- destination (.png recommended; any extension write_image knows)

    Returns:
    path -- the path written
    """
    return write_image(path, figure_to_array(figure))
