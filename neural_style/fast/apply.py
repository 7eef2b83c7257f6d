"""A trained network applied to pictures: one forward pass each, whole or in tiles with the whole picture's statistics.

Instance normalisation takes each channel's mean and variance over the whole picture, so tiles normalised by their own
statistics would each get their own colours. The tiled apply gathers the statistics of each normalisation in turn,
tile by tile (Chan et al.'s pairwise combination of means and sums of squares, in float64), the earlier ones fixed to
the whole picture's, then runs the tiles once more with all of them: the cores then equal the whole picture's result,
and only one tile's activations are held at a time. The tiles are the project's (large/layout.py), with the
network's own stride and margin (network.network_reach).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from ..checks import OptionError
from ..image_files import IMAGE_EXTENSIONS, write_image
from ..images import load_image
from ..large import available_memory
from ..large.layout import layout_for_reach
from ..safety import same_file
from .data import list_pictures
from .network import MIN_SIDE, NORMS, TransformNet, network_reach, norm_levels

# A whole-picture forward pass's peak memory: what TensorFlow and the model hold, plus bytes per pixel (its largest
# activations are 32 float32 channels at full size, several alive at once). Fitted to benchmarks/bench_fast.py's peaks
# (0.96 GB at 300x400, 3.15 GB at 1080x1920: docs/performance.md).
BASE_BYTES = 800e6
PER_PIXEL_BYTES = 1300
# The tile core's side when a picture is tiled and no size is asked for (windows of 512 + 2 x 56 pixels).
TILE_SIZE = 512


def load_fast_model(path):
    """
    Reads a model written by train_fast_model (a .keras file).

    Arguments:
    path -- the .keras file

    Returns:
    model -- a TransformNet, callable on (batch, H, W, 3) pictures in 0..255; OptionError (one line) for a missing
             file or one that is not such a model
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OptionError(f"model {path}: no such file; give a .keras file written by neural-style train", "model")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file that is not a model
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise OptionError(
            f"model {path}: not a model neural-style train writes ({reason[:160]}); give such a .keras file", "model"
        ) from None
    if not isinstance(model, TransformNet):
        raise OptionError(f"model {path}: a Keras model, but not one neural-style train writes", "model")
    return model


def estimate_peak_memory(height, width, tile_size=0):
    """
    The peak memory of stylising a picture, whole (tile_size 0) or in tiles of tile_size.

    Arguments:
    height, width -- the picture's size
    tile_size -- 0 (whole) or the tiles' core side

    Returns:
    bytes -- BASE_BYTES + PER_PIXEL_BYTES x the largest window, + 24 bytes per pixel of the picture when tiled (the
             picture and the result, float32, held whole)
    """
    if not tile_size:
        return BASE_BYTES + PER_PIXEL_BYTES * height * width
    _, margin = network_reach()
    window = (min(height, tile_size + 2 * margin)) * min(width, tile_size + 2 * margin)
    return BASE_BYTES + PER_PIXEL_BYTES * window + 24 * height * width


def choose_tile_size(height, width, max_memory=None):
    """
    0 when the whole picture fits in the memory budget, else the largest tile that does.

    Arguments:
    height, width -- the picture's size
    max_memory -- GB the apply may use (None: the memory available now)

    Returns:
    tile_size -- 0 or a core side in pixels; OptionError when not even the smallest tile fits
    """
    budget = max_memory * 1e9 if max_memory else (available_memory() or 4e9)
    if estimate_peak_memory(height, width) <= budget:
        return 0
    stride, margin = network_reach()
    for tile_size in range(max(height, width) // stride * stride, margin - 1, -stride):
        if estimate_peak_memory(height, width, tile_size) <= budget:
            return tile_size
    raise OptionError(
        f"{width}x{height} does not fit in {budget / 1e9:.2g} GB even in tiles; raise max_memory or shrink it",
        "max_memory",
    )


def _pad_to_min_side(pixels):
    """A picture smaller than MIN_SIDE padded by repeating its edge (the reflection pads need MIN_SIDE)."""
    height, width = pixels.shape[:2]
    pad = [(0, max(0, MIN_SIDE - height)), (0, max(0, MIN_SIDE - width)), (0, 0)]
    return np.pad(pixels, pad, mode="edge") if pad[0][1] or pad[1][1] else pixels


def _combine(totals, core):
    """Chan et al.'s pairwise update of (count, mean, M2) per channel with a tile core's values (float64)."""
    values = core.reshape(-1, core.shape[-1]).astype(np.float64)
    count, mean = len(values), values.mean(axis=0)
    m2 = ((values - mean) ** 2).sum(axis=0)
    if totals is None:
        return count, mean, m2
    n, mu, s = totals
    delta = mean - mu
    total = n + count
    return total, mu + delta * count / total, s + m2 + delta**2 * n * count / total


def load_style_masks(paths, styles):
    """
    The --style-masks: a style per region, as each pixel's convex weights of the styles.

    Arguments:
    paths -- one mask picture per style, in the model's order (white: the style applies; grey: in part)
    styles -- how many styles the model has

    Returns:
    weights -- float32 (h, w, styles) at the first mask's size, each pixel's weights >= 0 summing to 1 (soft masks
               share a pixel in proportion); OptionError (one line) for a wrong count or pixels no mask covers
    """
    from ..masks import load_mask

    if len(paths) != styles:
        masks = f"{len(paths)} mask{'s' * (len(paths) != 1)}"
        raise OptionError(f"style_masks: {masks} for a model of {styles} styles; give one for each", "style_masks")
    first = load_mask(paths[0], what="--style-masks")
    stack = np.stack([first] + [load_mask(p, first.shape, what="--style-masks") for p in paths[1:]], axis=-1)
    total = stack.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise OptionError(
            f"style_masks: {int(np.sum(total <= 0))} pixels are black in every mask; each pixel needs a style",
            "style_masks",
        )
    return stack / total


def fit_style_weights(style_weights, height, width):
    """
    Style weights as a picture of height x width takes them: convex weights as they are, masks resized to it.

    Arguments:
    style_weights -- convex weights of the styles (styles,), or load_style_masks' (h, w, styles)
    height, width -- the picture's size

    Returns:
    weights -- float32 (styles,), or (height, width, styles) with each pixel's weights >= 0 summing to 1
    """
    weights = np.asarray(style_weights, np.float32)
    if weights.ndim == 3 and weights.shape[:2] != (height, width):
        # Bilinear with antialiasing: positive weights stay positive; renormalised to sum 1 again.
        weights = tf.image.resize(weights, (height, width), method="bilinear", antialias=True).numpy()
        weights = np.clip(weights, 0, None)
        weights /= weights.sum(axis=-1, keepdims=True)
    return weights


def _inputs(image, weights, tile=None):
    """The network's input: the picture (or a tile's window of it) with its style weights, if any."""
    window = tile.window if tile is not None else (lambda x: x)
    if weights is None:
        return window(image)
    return window(image), weights if len(weights.shape) == 2 else window(weights)


def whole_picture_statistics(model, image, tiles, weights=None):
    """
    The mean and variance of every instance normalisation over the whole picture, gathered tile by tile.

    Arguments:
    model -- a TransformNet
    image -- float32 (1, H, W, 3) in 0..255
    tiles -- from large.layout.layout_for_reach with network_reach()'s stride and margin
    weights -- None, or the style weights: (1, styles), or (1, H, W, styles) per pixel

    Returns:
    statistics -- list of NORMS (mean, variance), float32 arrays (1, 1, 1, C): what the whole picture's pass uses
    """
    statistics = []
    levels = norm_levels()
    for index in range(NORMS):
        totals = None
        for tile in tiles:
            value = model(
                _inputs(image, weights, tile), statistics=statistics + [None] * (NORMS - index), stop_at=index
            )
            rows, cols = tile.core_in_window(levels[index])
            totals = _combine(totals, value[0, rows, cols, :].numpy())
        count, mean, m2 = totals
        statistics.append(
            (mean.reshape(1, 1, 1, -1).astype(np.float32), (m2 / count).reshape(1, 1, 1, -1).astype(np.float32))
        )
    return statistics


def stylize_picture(model, picture, tile_size=0, max_memory=None, style_weights=None):
    """
    A picture through the network, whole or in tiles (the same result within float32 rounding).

    Arguments:
    model -- a TransformNet
    picture -- path of a picture, or an array (H, W, 3) RGB in 0..255
    tile_size -- 0: tiles only when the whole picture would not fit in max_memory; N: tiles of N x N pixels (plus
                 the network's margin)
    max_memory -- GB the apply may use (None: the memory available)
    style_weights -- None (the first style), convex weights of the model's styles (options.style_weights), or
                     load_style_masks' (h, w, styles), resized to the picture

    Returns:
    stylised -- float32 array (H, W, 3), clipped to 0..255
    """
    pixels = _read(picture)
    height, width = pixels.shape[:2]
    padded = _pad_to_min_side(pixels)
    weights = None
    if style_weights is not None:
        weights = fit_style_weights(style_weights, height, width)
        weights = tf.constant(weights[None] if weights.ndim == 1 else _pad_to_min_side(weights)[None])
    if not tile_size:
        tile_size = choose_tile_size(*padded.shape[:2], max_memory)
    image = tf.constant(padded[None])
    if not tile_size:
        result = model(_inputs(image, weights)).numpy()[0]
    else:
        stride, margin = network_reach()
        tiles = layout_for_reach(*padded.shape[:2], tile_size, stride, margin)
        statistics = whole_picture_statistics(model, image, tiles, weights)
        result = np.empty(padded.shape, np.float32)
        for tile in tiles:
            rows, cols = tile.core_in_window(0)
            result[slice(*tile.rows), slice(*tile.cols)] = model(_inputs(image, weights, tile), statistics=statistics)[
                0, rows, cols
            ].numpy()
    return np.clip(result[:height, :width], 0, 255)


def output_pairs(content, output, others=()):
    """
    The (input, output) files of an apply: a picture to a file, or a folder to a folder (names and subfolders kept).

    Arguments:
    content -- a picture, or a folder of pictures (searched recursively)
    output -- a file (for a picture) or a folder (for a folder)
    others -- the other files the apply reads (the model, the style masks), which no output may be either

    Returns:
    pairs -- list of (input path, output path); OptionError (one line) when an output would overwrite an input or the
             kinds do not match
    """
    content, output = os.fspath(content), os.fspath(output)
    if os.path.isdir(content):
        if os.path.isfile(output):
            raise OptionError(f"output {output} is a file; a folder of pictures goes to a folder", "output")
        if same_file(content, output):
            raise OptionError(
                f"output {output} is the content folder; choose another (inputs are never overwritten)", "output"
            )
        pictures = list_pictures(content)
        if not pictures:
            raise OptionError(
                f"content {content}: no pictures ({', '.join(IMAGE_EXTENSIONS)}) in this folder", "content"
            )
        pairs = [(path, os.path.join(output, os.path.relpath(path, content))) for path in pictures]
    else:
        if not os.path.isfile(content):
            raise OptionError(f"content {content}: no such picture or folder", "content")
        if os.path.splitext(output)[1].lower() not in IMAGE_EXTENSIONS:
            raise OptionError(
                f"output {output}: unknown image type; use one of {', '.join(IMAGE_EXTENSIONS)}", "output"
            )
        pairs = [(content, output)]
    inputs = [path for path, _ in pairs] + [os.fspath(path) for path in others if os.path.exists(path)]
    for _, target in pairs:
        if any(same_file(target, path) for path in inputs if os.path.exists(target)):
            raise OptionError(
                f"output {target} is also an input; choose another output (inputs are never overwritten)", "output"
            )
    return pairs


def apply_model(model, content, output, tile_size=0, max_memory=None, report=None, style_weights=None):
    """
    Stylises a picture into a file, or every picture of a folder into a folder (names kept), each written atomically.

    Arguments:
    model -- a TransformNet, or the path of its .keras file
    content -- a picture or a folder
    output -- a file or a folder
    tile_size, max_memory -- as for stylize_picture
    report -- function(input, output) called after each picture is written, or None
    style_weights -- as for stylize_picture

    Returns:
    written -- list of the output paths
    """
    pairs = output_pairs(content, output)
    if not isinstance(model, TransformNet):
        model = load_fast_model(model)
    written = []
    for source, target in pairs:
        pixels = stylize_picture(model, source, tile_size, max_memory, style_weights)
        write_image(target, np.rint(pixels).astype(np.uint8))
        written.append(target)
        if report:
            report(source, target)
    return written


def _read(picture):
    """A picture at its own size as float32 RGB in 0..255: a path through images.load_image, or an array."""
    if isinstance(picture, (str, os.PathLike)):
        return load_image(picture)
    pixels = np.asarray(picture, np.float32)
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise OptionError(
            f"content must be a picture's path or an (H, W, 3) RGB array, got shape {pixels.shape}", "content"
        )
    return pixels
