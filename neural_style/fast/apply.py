"""A trained network applied to pictures: one forward pass each, whole or in tiles with the whole picture's statistics.

Instance normalisation takes each channel's mean and variance over the whole picture, so tiles normalised by their own
statistics would each get their own colours. The tiled apply gathers the statistics of each normalisation in turn,
tile by tile (Chan et al.'s pairwise combination of means and sums of squares, in float64), the earlier ones fixed to
the whole picture's, then runs the tiles once more with all of them: the cores then equal the whole picture's result,
and only one tile's activations are held at a time. The tiles are the project's (large/layout.py), with the
network's own stride and margin (network.Layout.reach).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from ..checks import OptionError, warn
from ..image_files import IMAGE_EXTENSIONS, ImageError, write_image
from ..images import load_image, preserve_colors
from ..large import available_memory
from ..large.layout import layout_for_reach
from ..safety import same_file
from .data import list_pictures
from .model_file import check_model_file
from .network import JOHNSON, TransformNet
from .quantize import INT8_HIGH, INT8_LOW

# A whole-picture forward pass's peak memory: what TensorFlow and the model hold, plus bytes per pixel (its largest
# activations are 32 float32 channels at full size, several alive at once). Fitted to benchmarks/bench_fast.py's peaks
# (0.96 GB at 300x400, 3.15 GB at 1080x1920: docs/performance.md).
BASE_BYTES = 800e6
PER_PIXEL_BYTES = 1300
# The tile core's side when a picture is tiled and no size is asked for (windows of 512 + 2 x 56 pixels).
TILE_SIZE = 512


class NonFiniteOutputError(RuntimeError):
    """The network gave NaN or infinity for a picture: its weights are broken (a training that diverged)."""


# The probe picture's side: small (a forward pass of a few milliseconds), yet every level of the network has 8 x 8
# positions; styles go through it this many at a time.
PROBE_SIDE = 32
PROBE_STYLES = 8


def load_fast_model(path):
    """
    Reads a model written by train_fast_model (a .keras file), checked before Keras reads it (model_file: only the
    members train writes, in the sizes its network has) and after (finite weights, a finite picture from each style).

    Arguments:
    path -- the .keras file

    Returns:
    model -- a TransformNet, callable on (batch, H, W, 3) pictures in 0..255; OptionError (one line) for a missing
             file, a folder, a file that is not such a model, or a network whose weights or output are not finite
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OptionError(f"model {path} is a folder, not a model; give the .keras file{_in_folder(path)}", "model")
    if not os.path.exists(path):
        raise OptionError(f"model {path}: no such file; give a .keras file written by neural-style train", "model")
    if not os.path.isfile(path):
        raise OptionError(f"model {path} is not a regular file; give the .keras file neural-style train wrote", "model")
    if not path.endswith(".keras"):
        raise OptionError(f"model {path}: not a .keras file; give the .keras file neural-style train writes", "model")
    check_model_file(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file that is not a model
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise OptionError(
            f"model {path}: not a model neural-style train writes ({reason[:160]}); give such a .keras file", "model"
        ) from None
    if not isinstance(model, TransformNet):
        raise OptionError(f"model {path}: a Keras model, but not one neural-style train writes", "model")
    check_finite_network(model, path)
    return model


def _in_folder(folder):
    """' in it, e.g. FOLDER/NAME.keras' when the folder holds a .keras file, else ' neural-style train wrote'."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".keras") and entry.is_file():
                    return f" in it, e.g. {os.path.join(folder, entry.name)}"
    except OSError:  # a folder that cannot be listed still gets its one line
        pass
    return " neural-style train wrote"


def check_finite_network(model, name="the model"):
    """
    Refuses a network that cannot give a picture: a weight that is NaN or infinite, or an output that is not finite
    on probe_picture for any of its styles (weights so large that the forward pass overflows float32).

    Arguments:
    model -- a TransformNet
    name -- the model's file, for the message

    Returns:
    None; OptionError (one line naming the model and saying to train it again) for a broken network
    """
    advice = "the training diverged or the file was altered: train it again (a lower --learning-rate helps)"
    for weight in model.weights:
        values = np.asarray(weight.numpy())
        bad = values.size - int(np.count_nonzero(np.isfinite(values)))
        if bad:
            raise OptionError(
                f"model {name}: {bad:,} of the {values.size:,} weights of {weight.path} are NaN or infinite; {advice}",
                "model",
            )
    probe = probe_picture()[None]
    for first in range(0, model.styles, PROBE_STYLES):
        chosen = np.arange(first, min(first + PROBE_STYLES, model.styles))
        pictures = np.repeat(probe, len(chosen), axis=0)
        if model.styles == 1:
            output = model(pictures).numpy()
        else:
            output = model((pictures, np.eye(model.styles, dtype=np.float32)[chosen])).numpy()
        finite = np.isfinite(output).reshape(len(chosen), -1).all(axis=1)
        if not finite.all():
            style = "" if model.styles == 1 else f" with style {chosen[np.argmin(finite)]}"
            raise OptionError(
                f"model {name}: its output for a {PROBE_SIDE}x{PROBE_SIDE} test picture{style} is NaN or infinite "
                f"(weights too large for float32); {advice}",
                "model",
            )


def probe_picture():
    """
    The picture check_finite_network runs: mid-grey with gentle waves, so that every normalisation has something to
    normalise (a flat grey picture is zero after the first one, whatever its scales).

    Returns:
    picture -- float32 (PROBE_SIDE, PROBE_SIDE, 3) in 67.5..187.5
    """
    y, x = np.mgrid[0:PROBE_SIDE, 0:PROBE_SIDE]
    waves = [np.sin(x / 3 + channel) * np.cos(y / 4 - channel) for channel in range(3)]
    return (127.5 + 60 * np.stack(waves, axis=-1)).astype(np.float32)


def check_tile_size(tile_size, layout=JOHNSON):
    """
    Refuses a tile smaller than the network's margin: each tile's window is its core plus the margin on every side,
    so a smaller core would be mostly margin (a 1-pixel core costs hundreds of times the whole picture's pass).

    Arguments:
    tile_size -- 0 (tiles only when needed) or the tiles' core side
    layout -- the network's Layout

    Returns:
    tile_size -- unchanged; OptionError (one line naming tile_size and the smallest allowed) when 0 < it < the margin
    """
    smallest = minimum_tile_size(layout)
    if 0 < tile_size < smallest:
        raise OptionError(
            f"tile_size must be 0 (tiles only when needed) or at least {smallest} pixels (the network reads "
            f"{smallest} pixels of context on each side of a tile), got {tile_size}",
            "tile_size",
        )
    return tile_size


def minimum_tile_size(layout=JOHNSON):
    """
    The smallest tile core worth its margin, the one choose_tile_size goes down to.

    Arguments:
    layout -- the network's Layout

    Returns:
    size -- pixels: the margin of layout.reach() (56 for Johnson et al.'s), at least one stride
    """
    stride, margin = layout.reach()
    return max(stride, margin)


def bytes_per_pixel(layout=JOHNSON, quantized=False):
    """
    A forward pass's bytes per pixel: PER_PIXEL_BYTES for Johnson et al.'s 32 channels at full size, in proportion
    to the widest full-size convolution of another layout, twice that where int8 roundings add their temporaries.

    Arguments:
    layout -- the network's Layout
    quantized -- whether the network rounds its activations as an int8 file does

    Returns:
    bytes -- float
    """
    full_size = max(filters for (filters, _, _, _), level in zip(layout.convolutions(), layout.levels()) if not level)
    return PER_PIXEL_BYTES * max(full_size, 3) / 32 * (2 if quantized else 1)


def estimate_peak_memory(height, width, tile_size=0, model=None):
    """
    The peak memory of stylising a picture, whole (tile_size 0) or in tiles of tile_size.

    Arguments:
    height, width -- the picture's size
    tile_size -- 0 (whole) or the tiles' core side
    model -- the TransformNet (None: Johnson et al.'s float network)

    Returns:
    bytes -- BASE_BYTES + bytes_per_pixel x the largest window, + 24 bytes per pixel of the picture when tiled (the
             picture and the result, float32, held whole)
    """
    layout = model.layout if model is not None else JOHNSON
    per_pixel = bytes_per_pixel(layout, bool(model is not None and model.quantization))
    if not tile_size:
        return BASE_BYTES + per_pixel * height * width
    _, margin = layout.reach()
    window = (min(height, tile_size + 2 * margin)) * min(width, tile_size + 2 * margin)
    return BASE_BYTES + per_pixel * window + 24 * height * width


def choose_tile_size(height, width, max_memory=None, model=None):
    """
    0 when the whole picture fits in the memory budget, else the largest tile that does.

    Arguments:
    height, width -- the picture's size
    max_memory -- GB the apply may use (None: the memory available now)
    model -- the TransformNet (None: Johnson et al.'s float network)

    Returns:
    tile_size -- 0 or a core side in pixels; OptionError when not even the smallest tile fits
    """
    budget = max_memory * 1e9 if max_memory else (available_memory() or 4e9)
    if estimate_peak_memory(height, width, 0, model) <= budget:
        return 0
    layout = model.layout if model is not None else JOHNSON
    stride, _ = layout.reach()
    for tile_size in range(max(height, width) // stride * stride, minimum_tile_size(layout) - 1, -stride):
        if estimate_peak_memory(height, width, tile_size, model) <= budget:
            return tile_size
    raise OptionError(
        f"{width}x{height} does not fit in {budget / 1e9:.2g} GB even in tiles; raise max_memory or shrink it",
        "max_memory",
    )


def _pad_to_min_side(pixels, min_side=JOHNSON.min_side):
    """A picture smaller than min_side padded by repeating its edge (the reflection pads need min_side)."""
    height, width = pixels.shape[:2]
    pad = [(0, max(0, min_side - height)), (0, max(0, min_side - width)), (0, 0)]
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
    hint = "give every mask the first one's shape, the pictures' aspect ratio (they are resized to each picture)"
    stack = np.stack([first] + [load_mask(p, first.shape, "--style-masks", hint=hint) for p in paths[1:]], axis=-1)
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
    tiles -- from large.layout.layout_for_reach with the layout's reach (stride and margin)
    weights -- None, or the style weights: (1, styles), or (1, H, W, styles) per pixel

    Returns:
    statistics -- list of (mean, variance), float32 arrays (1, 1, 1, C), one per convolution (None for one not
                  normalised): what the whole picture's pass uses
    """
    statistics = []
    levels = model.layout.levels()
    count = len(model.convs)

    def values(index, tile):
        value = model(_inputs(image, weights, tile), statistics=statistics + [None] * (count - index), stop_at=index)
        rows, cols = tile.core_in_window(levels[index])
        return value[:, rows, cols, :]

    for index, norm in enumerate(model.norms):
        if norm is None:
            statistics.append(None)
            continue
        if norm.quantization:
            statistics.append(_level_statistics(model, index, norm, (values(index, tile) for tile in tiles)))
            continue
        totals = None
        for tile in tiles:
            totals = _combine(totals, values(index, tile)[0].numpy())
        count_, mean, m2 = totals
        statistics.append(
            (mean.reshape(1, 1, 1, -1).astype(np.float32), (m2 / count_).reshape(1, 1, 1, -1).astype(np.float32))
        )
    return statistics


def _level_statistics(model, index, norm, cores):
    """
    The mean and variance of an int8 network's normalisation, as its whole-picture pass computes them, from the
    tiles' cores in one pass: the values it normalises are int8 levels, so a count of each level per channel gives
    both the mean and the average of the rounded squares about the rounded mean (which needs the mean first).
    """
    scale, zero_point = model.quantization[f"conv{index}"]
    levels = np.arange(INT8_LOW, INT8_HIGH + 1)
    counts = 0
    for core in cores:
        steps = np.rint(core.numpy().reshape(-1, core.shape[-1]) / np.float32(scale)).astype(np.int64)
        counts = counts + np.stack([np.bincount(c - (INT8_LOW - zero_point), minlength=len(levels)) for c in steps.T])
    # Each level's value as the network holds it (float32), and its count per channel (C, 256).
    grid = ((levels - zero_point).astype(np.float32) * np.float32(scale))[:, None]
    total = counts.sum(axis=1)
    mean = (counts @ grid.astype(np.float64))[:, 0] / total
    mean = mean.reshape(1, 1, 1, -1).astype(np.float32)
    squares = norm.squared_deviations(np.broadcast_to(grid, (len(levels), len(total)))[None, None], mean)
    variance = (counts * squares.numpy()[0, 0].T.astype(np.float64)).sum(axis=1) / total
    return mean, variance.reshape(1, 1, 1, -1).astype(np.float32)


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
    stylised -- float32 array (H, W, 3), clipped to 0..255; NonFiniteOutputError (one line) when the network gives
                NaN or infinity for it (a broken network), before anything could be written from it
    """
    what = picture if isinstance(picture, (str, os.PathLike)) else "a picture"
    return _stylize_finite(model, _read(picture), what, tile_size, max_memory, style_weights)


def _stylize_finite(model, pixels, what, tile_size, max_memory, style_weights):
    """_stylize's result clipped to 0..255, or NonFiniteOutputError naming `what` when any of it is not finite."""
    # A broken network's infinities would make numpy warn in the tiles' statistics; they are refused below instead.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        result = _stylize(model, pixels, tile_size, max_memory, style_weights)
    bad = result.size - int(np.count_nonzero(np.isfinite(result)))
    if bad:
        raise NonFiniteOutputError(
            f"the network gave NaN or infinity for {bad:,} of the {result.size:,} values of {what}: its weights are "
            "broken (a training that diverged); train it again"
        )
    return np.clip(result, 0, 255)


def _stylize(model, pixels, tile_size, max_memory, style_weights):
    """stylize_picture's work on the pixels: the network's output (H, W, 3), not clipped."""
    height, width = pixels.shape[:2]
    layout = model.layout
    padded = _pad_to_min_side(pixels, layout.min_side)
    weights = None
    if style_weights is not None:
        weights = fit_style_weights(style_weights, height, width)
        weights = tf.constant(weights[None] if weights.ndim == 1 else _pad_to_min_side(weights, layout.min_side)[None])
    if not tile_size:
        tile_size = choose_tile_size(*padded.shape[:2], max_memory, model)
    image = tf.constant(padded[None])
    if not tile_size:
        result = model(_inputs(image, weights)).numpy()[0]
    else:
        stride, margin = layout.reach()
        tiles = layout_for_reach(*padded.shape[:2], tile_size, stride, margin)
        statistics = whole_picture_statistics(model, image, tiles, weights)
        result = np.empty(padded.shape, np.float32)
        for tile in tiles:
            rows, cols = tile.core_in_window(0)
            result[slice(*tile.rows), slice(*tile.cols)] = model(_inputs(image, weights, tile), statistics=statistics)[
                0, rows, cols
            ].numpy()
    return result[:height, :width]


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


def apply_model(
    model,
    content,
    output,
    tile_size=0,
    max_memory=None,
    report=None,
    style_weights=None,
    skip=None,
    keep_colors=False,
):
    """
    Stylises a picture into a file, or every picture of a folder into a folder (names kept), each written atomically.
    A picture of a folder that cannot be read is skipped (as the training skips one), the others still done; a
    single picture that cannot be read is an error.

    Arguments:
    model -- a TransformNet, or the path of its .keras file
    content -- a picture or a folder
    output -- a file or a folder
    tile_size, max_memory -- as for stylize_picture
    report -- function(input, output) called after each picture is written, or None
    style_weights -- as for stylize_picture, or a function(pixels) giving them for each picture (the arbitrary-style
                     network's vectors, which may depend on the photo)
    skip -- function(input, reason) called for each picture of a folder skipped as unreadable (None: a warning line
            `neural-style: warning: skipping PATH: reason` on stderr)
    keep_colors -- True: the result's luminance with the photo's colours (images.preserve_colors)

    Returns:
    written -- list of the output paths (the skipped pictures' are not in it)
    """
    pairs = output_pairs(content, output)
    if not isinstance(model, TransformNet):
        model = load_fast_model(model)
    if skip is None:
        skip = warn_skipped
    folder = os.path.isdir(os.fspath(content))
    written = []
    for source, target in pairs:
        try:
            pixels = _read(source)
        except (ImageError, OSError) as error:
            if not folder:
                raise
            skip(source, " ".join(str(error).split()))
            continue
        weights = style_weights(pixels) if callable(style_weights) else style_weights
        stylised = _stylize_finite(model, pixels, source, tile_size, max_memory, weights)
        if keep_colors:
            stylised = preserve_colors(stylised, pixels)
        write_image(target, np.rint(stylised).astype(np.uint8))
        written.append(target)
        if report:
            report(source, target)
    return written


def warn_skipped(source, reason):
    """
    The line that says a picture was skipped, on stderr (as the training says it of its pictures).

    Arguments:
    source -- the picture
    reason -- why it was skipped (one line)

    Returns:
    None
    """
    warn(f"skipping {source}: {reason}")


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
