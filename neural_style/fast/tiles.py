"""The tiled apply of the image-transformation network: how large a tile fits the memory, and tiles whose cores equal
the whole picture's result.

Instance normalisation takes each channel's mean and variance over the whole picture, so tiles normalised by their own
statistics would each get their own colours. whole_picture_statistics gathers the statistics of each normalisation in
turn, tile by tile (Chan et al.'s pairwise combination of means and sums of squares, in float64; for an int8 network,
counts of its levels), the earlier ones fixed to the whole picture's; stylize_in_tiles then runs the tiles once more
with all of them: the cores then equal the whole picture's result, and only one tile's activations are held at a
time. The tiles are the project's (large/layout.py), with the network's own stride and margin (network.Layout.reach).
stylize_in_tiles runs the network once instead (stream.py): level by level, strip by strip, each level's activations
kept (in memory as far as the budget allows, stream_budget; else in a work file) until its statistics are known.

The memory: transform_peak_bytes estimates a pass's peak in bytes, whole or in tiles; transform_tile_size picks 0
(whole) or the largest tile within a budget in GB. (Their twins in neural_style.large size the optimisation's VGG-19.)
"""

import numpy as np

from ..checks import OptionError
from ..large import available_memory
from .network import JOHNSON
from .stream import STRIP_PIXELS, plan_stream, statistics_gatherer, stylize_streamed

# A whole-picture forward pass's peak memory: what TensorFlow and the model hold, plus bytes per pixel (its largest
# activations are 32 float32 channels at full size, several alive at once). Fitted to benchmarks/bench_fast.py's peaks
# (0.96 GB at 300x400, 3.15 GB at 1080x1920: docs/performance.md).
BASE_BYTES = 800e6
PER_PIXEL_BYTES = 1300
# The tile core's side when a picture is tiled and no size is asked for (windows of 512 + 2 x 56 pixels).
TILE_SIZE = 512
# The streamed tiles' strips are no smaller than this many pixels when the budget could keep every stored output in
# memory with them: below it the rows of context each strip reads again cost more than 5% (at 1920 pixels' width).
STRIP_FLOOR = 512 * 512


def transform_minimum_tile_size(layout=JOHNSON):
    """
    The smallest tile core worth its margin, the one transform_tile_size goes down to.

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


def transform_peak_bytes(height, width, tile_size=0, model=None):
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


def transform_tile_size(height, width, max_memory=None, model=None):
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
    if transform_peak_bytes(height, width, 0, model) <= budget:
        return 0
    layout = model.layout if model is not None else JOHNSON
    stride, _ = layout.reach()
    for tile_size in range(max(height, width) // stride * stride, transform_minimum_tile_size(layout) - 1, -stride):
        if transform_peak_bytes(height, width, tile_size, model) <= budget:
            return tile_size
    raise OptionError(
        f"{width}x{height} does not fit in {budget / 1e9:.2g} GB even in tiles; raise max_memory or shrink it",
        "max_memory",
    )


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


def network_inputs(image, weights, tile=None):
    """
    The network's input: the picture (or a tile's window of it) with its style weights, if any.

    Arguments:
    image -- float32 (1, H, W, 3) in 0..255
    weights -- None, or the style weights: (1, styles), or (1, H, W, styles) per pixel (windowed with the picture)
    tile -- None (the whole picture), or a tile of large.layout.layout_for_reach

    Returns:
    inputs -- the picture's tensor, or the pair (picture, style weights) that TransformNet.call takes
    """
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
        value = model(
            network_inputs(image, weights, tile), statistics=statistics + [None] * (count - index), stop_at=index
        )
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
    """An int8 network's normalisation statistics from the tiles' cores (stream.LevelCounts: counts of its levels)."""
    counts = statistics_gatherer(model, index)
    for core in cores:
        counts.add(core.numpy())
    return counts.statistics(norm)


def stream_budget(height, width, tile_size, max_memory=None, model=None):
    """
    How the streamed tiles spend a memory budget: the pixels of their strips, and the bytes of the convolutions'
    outputs they keep in memory rather than in files (what the budget leaves after TensorFlow, the model, the picture,
    the result and a strip's step).

    Arguments:
    height, width -- the picture's size
    tile_size -- the tiles' core side: a strip covers at most tile_size ** 2 pixels (and stream.STRIP_PIXELS)
    max_memory -- GB the apply may use (None: the memory available now)
    model -- the TransformNet (None: Johnson et al.'s float network)

    Returns:
    strip_pixels -- int: tile_size ** 2 (at most STRIP_PIXELS), fewer where that lets every stored output stay in
                    memory with strips of at least min(that, STRIP_FLOOR) pixels
    memory_bytes -- float: every stored output's bytes (stream.plan_stream's) when they fit so, else what the budget
                    leaves after strips of strip_pixels (0 or more)
    """
    budget = max_memory * 1e9 if max_memory else (available_memory() or 4e9)
    layout = model.layout if model is not None else JOHNSON
    per_pixel = bytes_per_pixel(layout, bool(model is not None and model.quantization))
    room = budget - BASE_BYTES - 24 * height * width
    strip_pixels = min(tile_size * tile_size, STRIP_PIXELS)
    _, _, stored = plan_stream(layout, height, width)
    if room - stored >= per_pixel * min(strip_pixels, STRIP_FLOOR):
        # Files cost more than strips beyond the floor (each stored byte is written and read back once).
        return int(min(strip_pixels, (room - stored) // per_pixel)), stored
    return strip_pixels, max(0.0, room - per_pixel * strip_pixels)


def stylize_in_tiles(model, image, tile_size, weights=None, work_dir=None, max_memory=None):
    """
    The network's output for a picture computed tile by tile, each tile normalised with the whole picture's statistics:
    one streamed pass (stream.py), each convolution once over strips of the picture, its output kept in memory where
    the budget allows (stream_budget) and else in a file of a work folder, until the whole picture's statistics
    normalise it.

    Arguments:
    model -- a TransformNet
    image -- float32 (1, H, W, 3) in 0..255 (a tensor or an array), H and W at least the layout's min_side
    tile_size -- the tiles' core side: the strips cover at most tile_size ** 2 pixels (stream_budget)
    weights -- None, or the style weights: (1, styles), or (1, H, W, styles) per pixel
    work_dir -- None (a temporary folder, TMPDIR honoured) or the folder to make the work folder in
    max_memory -- GB the apply may use (None: the memory available now)

    Returns:
    result -- float32 (H, W, 3), not clipped: the whole picture's pass within float32 rounding; OptionError (one line)
              when the disk lacks the room the work folder needs (stream.plan_stream's, less what stays in memory)
    """
    height, width = int(image.shape[1]), int(image.shape[2])
    strip_pixels, memory_bytes = stream_budget(height, width, tile_size, max_memory, model)
    return stylize_streamed(
        model, image, weights, strip_pixels=strip_pixels, work_dir=work_dir, memory_bytes=memory_bytes
    )


__all__ = [
    "BASE_BYTES",
    "PER_PIXEL_BYTES",
    "STRIP_FLOOR",
    "TILE_SIZE",
    "bytes_per_pixel",
    "transform_minimum_tile_size",
    "network_inputs",
    "stream_budget",
    "stylize_in_tiles",
    "transform_peak_bytes",
    "transform_tile_size",
    "whole_picture_statistics",
]
