"""What every kind of visualisation shares: the model, image loading, the checks of layers and channels, receptive
fields, and the figure helpers (matplotlib's Agg backend, wrapped titles, writing a figure atomically)."""

from __future__ import annotations

import os
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from .. import images
from ..checks import OptionError, check_layers, is_int
from ..image_files import write_image
from ..images import reshape_and_normalize_image
from ..layers import layer_names
from ..vgg import VGGModel, load_vgg_model
from ..weights import RANDOM, VGGWeights
from .options import POOLING, check_options

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# What the functions take as the network: a built model, weights, a weights file, or 'random'.
ModelLike = VGGModel | VGGWeights | str | os.PathLike
# What they take as an image: a file, or RGB pixels in [0, 255].
ImageLike = str | os.PathLike | np.ndarray


def as_model(model: ModelLike, pooling: str = POOLING) -> VGGModel:
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


def load_pixels(
    image: ImageLike, height: int | None = None, width: int | None = None, max_size: int | None = None
) -> np.ndarray:
    """
    An image as the visualisations take it: images.load_pixels with the sizes checked as the main job checks them.

    Arguments:
    image -- path of an image file, or an array (H, W, 3) in [0, 255]
    height, width, max_size -- as for the main job; none of them gives the article's size (images.default_size)

    Returns:
    pixels -- float32 array (height, width, 3)
    """
    check_options(height, width, max_size)
    return images.load_pixels(image, height=height, width=width, max_size=max_size)


def check_layer(model: VGGModel, layer: str) -> str:
    """
    Raises UnknownLayerError, listing the valid names, unless the model has the layer.

    Arguments:
    model -- a VGGModel
    layer -- a layer name such as 'conv4_1' or 'avgpool3'

    Returns:
    layer -- unchanged
    """
    return check_layers([layer], model.layer_names)[0]


def layer_channels(model: VGGModel, layer: str) -> int:
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


def check_channel(model: VGGModel, layer: str, channel: int) -> int:
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
    if not is_int(channel) or not 0 <= channel < n_C:
        raise OptionError(f"--channel {channel}: {layer} has {n_C} channels, numbered 0 to {n_C - 1}")
    return int(channel)


def receptive_field(
    layer: str, y: int, x: int, height: int, width: int, pooling: str = "avg"
) -> tuple[int, int, int, int]:
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
    check_layers([layer], names)
    top, bottom, left, right = y, y, x, x
    for name in reversed(names[: names.index(layer) + 1]):
        if name.startswith("conv"):
            top, bottom, left, right = top - 1, bottom + 1, left - 1, right + 1
        else:
            top, bottom, left, right = 2 * top, 2 * bottom + 1, 2 * left, 2 * right + 1
    return max(top, 0), max(left, 0), min(bottom + 1, height), min(right + 1, width)


def receptive_field_size(layer: str, pooling: str = "avg") -> int:
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


def layer_activation(model, pixels, layer):
    """One layer's activation for an RGB image in [0, 255], as a numpy array (n_H, n_W, n_C)."""
    return model(reshape_and_normalize_image(pixels), [layer])[0].numpy()[0]


def strongest_position(channel_map):
    """(y, x) of the largest value of a 2-D map (the first one in row order on ties)."""
    y, x = np.unravel_index(int(np.argmax(channel_map)), channel_map.shape)
    return int(y), int(x)


def image_label(image):
    """
    What a figure calls an image.

    Arguments:
    image -- a path, or an array

    Returns:
    label -- the file's name, or 'the image'
    """
    return os.path.basename(os.fspath(image)) if isinstance(image, (str, os.PathLike)) else "the image"


def weights_note(model):
    """
    The line a figure gives to say which weights drew it.

    Arguments:
    model -- a VGGModel

    Returns:
    note -- str: the weights file's name, or a warning that random filters show no object parts
    """
    source = model.weights.source
    if source == RANDOM:
        return "weights: random (He-initialised filters, not the trained VGG-19: patterns are not object parts)"
    return f"weights: {os.path.basename(str(source))}"


def matplotlib_classes(*names):
    """matplotlib's Figure (drawn with the Agg backend, no pyplot state) and patches, imported when first needed."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:
        raise RuntimeError("the figures need matplotlib: pip install matplotlib") from None
    found = {"Figure": Figure, "Rectangle": Rectangle}
    return tuple(found[name] for name in names)


def wrapped_suptitle(figure, text, fontsize=10):
    """The figure's title, each line wrapped to the figure's width (a narrow figure would cut it off)."""
    columns = max(40, int(figure.get_figwidth() * 72 / (0.55 * fontsize)))
    lines = [wrapped for line in text.split("\n") for wrapped in textwrap.wrap(line, columns) or [""]]
    figure.suptitle("\n".join(lines), fontsize=fontsize)


def colormap(name):
    """
    A matplotlib colormap, imported when first needed.

    Arguments:
    name -- the colormap's name ('viridis', ...)

    Returns:
    colormap -- matplotlib.colors.Colormap
    """
    import matplotlib

    return matplotlib.colormaps[name]


def figure_to_array(figure: Figure) -> np.ndarray:
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


def save_figure(figure: Figure, path: str | os.PathLike) -> str:
    """
    Writes a figure as an image, atomically (image_files.write_image): a crash never leaves half a file.

    Arguments:
    figure -- a matplotlib Figure
    path -- destination (.png recommended; any extension write_image knows)

    Returns:
    path -- the path written
    """
    return write_image(path, figure_to_array(figure))
