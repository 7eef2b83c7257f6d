"""top: the images of a folder that activate one channel most, each cropped to its receptive field (DeepVis)."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import TYPE_CHECKING

import numpy as np

from ..options import OptionError
from .options import TOP_K, check_options, image_files
from .shared import (
    ModelLike,
    as_model,
    check_channel,
    layer_activation,
    load_pixels,
    matplotlib_classes,
    receptive_field,
    receptive_field_size,
    strongest_position,
    weights_note,
    wrapped_suptitle,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
    position: tuple[int, int]
    box: tuple[int, int, int, int]
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
    hits: list[TopHit]
    count: int
    source: str
    size: int
    input_size: tuple[int, int] | None = None
    weights_note: str = ""


def top_images(
    model: ModelLike,
    images: str | os.PathLike | list[str | os.PathLike],
    layer: str,
    channel: int,
    k: int = TOP_K,
    height: int | None = None,
    width: int | None = None,
    max_size: int | None = None,
) -> TopImages:
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
        channel_map = layer_activation(model, pixels, layer)[..., channel]
        y, x = strongest_position(channel_map)
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
        weights_note(model),
    )


def top_figure(top: TopImages) -> Figure:
    """
    The figure of `top`: the crops in a grid, each with its rank, file and peak activation.

    Arguments:
    top -- a TopImages

    Returns:
    figure -- a matplotlib Figure
    """
    (Figure,) = matplotlib_classes("Figure")
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
    wrapped_suptitle(
        figure,
        f"{top.layer}, channel {top.channel}: the {len(top.hits)} of {top.count} images in "
        f"{top.source} that activate it most\neach crop is the receptive field ({top.size}x{top.size} px, "
        f"cut at the borders) of the channel's strongest position; {resized}\n{top.weights_note}",
    )
    return figure
