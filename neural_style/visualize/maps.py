"""maps: every channel of one layer for one image, the strongest marked."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from .options import MAPS_TOP
from .shared import (
    ImageLike,
    ModelLike,
    as_model,
    check_layer,
    colormap,
    image_label,
    layer_activation,
    load_pixels,
    matplotlib_classes,
    weights_note,
    wrapped_suptitle,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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

    def strongest(self, k: int = 8) -> list[int]:
        """The k channels with the highest peak activation, strongest first."""
        return strongest_channels(self.activations, k)


def feature_maps(
    model: ModelLike,
    image: ImageLike,
    layer: str,
    height: int | None = None,
    width: int | None = None,
    max_size: int | None = None,
) -> FeatureMaps:
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
        layer,
        layer_activation(model, pixels, layer),
        pixels.round().astype(np.uint8),
        image_label(image),
        weights_note(model),
    )


def strongest_channels(activations: np.ndarray, k: int = 8) -> list[int]:
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


def maps_grid(activations: np.ndarray, columns: int | None = None, gap: int = 1, fill: float = 1.0) -> np.ndarray:
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


def maps_figure(maps: FeatureMaps, top: int = MAPS_TOP) -> Figure:
    """
    The figure of `maps`: the input beside the grid of all channels, the `top` strongest framed and numbered.

    Arguments:
    maps -- a FeatureMaps
    top -- how many of the strongest channels to mark

    Returns:
    figure -- a matplotlib Figure
    """
    Figure, Rectangle = matplotlib_classes("Figure", "Rectangle")
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
    colours = colormap("gray").with_extremes(bad="#4a6fa5")  # the gaps between tiles
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
    wrapped_suptitle(figure, title, fontsize=11)
    return figure
