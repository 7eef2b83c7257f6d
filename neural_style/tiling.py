"""The tiles' geometry: how far the network reaches, and the cut of an image into tiles whose cores are exact.

Each tile's *core* is a block of the picture; the tiles' cores partition it. Each tile is run through the network on
its *window*: the core plus a margin wide enough that every activation of the core, at every layer the costs use, is
exactly the activation the whole image would give (VGG's 3x3 convolutions with 'SAME' padding see one more position
per layer, its 2x2 pools halve that; network_reach counts it). Windows start at multiples of the network's total
stride (16 up to conv5_1), so every pool groups the same positions as on the whole image, and where a window meets
the picture's edge it pads exactly as the whole image does. Here too: running the network tile by tile (the
activations of a core, sums of statistics over the tiles, a gradient added up window by window); the cost is in
tiles.py, the style statistics in tiled_style.py.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from .vgg import canonical_layer_name, layer_names


def layer_level(name, pooling="avg"):
    """
    How many 2x2 pools come before (and including) a layer: its positions are 2 ** level pixels apart.

    Arguments:
    name -- a layer name, e.g. 'conv4_2'
    pooling -- 'avg' or 'max'

    Returns:
    level -- int, 0 for conv1_*, 3 for conv4_*, 4 for avgpool4 and conv5_*
    """
    names = layer_names(pooling)
    return sum("pool" in other for other in names[: names.index(name) + 1])


def network_reach(layers, pooling="avg"):
    """
    The tile geometry a set of layers needs: the network's total stride and the margin that makes a core exact.

    Along each edge of a window that is not the picture's, the convolutions' zero padding makes the outermost
    positions wrong: each 3x3 convolution adds one wrong position at its level, each 2x2 stride-2 pool (windows
    aligned to the stride, so of even length at every level) leaves ceil(wrong / 2). The margin is the largest number
    of wrong pixels (positions times 2 ** level) over the layers used, rounded up to the stride.

    Arguments:
    layers -- layer names the costs use, e.g. ['conv1_1', ..., 'conv5_1', 'conv4_2']
    pooling -- 'avg' or 'max'

    Returns:
    stride -- pixels between positions of the deepest layer's level (16 when conv5_1 is used)
    margin -- pixels of context each side of a core (80 for the article's layers)
    """
    names = layer_names(pooling)
    used = {canonical_layer_name(name, pooling) for name in layers}
    deepest = max(names.index(name) for name in used)
    level = wrong = margin = 0
    for name in names[: deepest + 1]:
        if "pool" in name:  # avgpool1.. / maxpool1..: the 2x2 stride-2 pools
            level, wrong = level + 1, -(-wrong // 2)
        else:
            wrong += 1  # every VGG-19 convolution is 3x3, 'SAME' padded: one more position each side
        if name in used:
            margin = max(margin, wrong << level)
    stride = 1 << level
    return stride, -(-margin // stride) * stride


def minimum_tile_size(layers, pooling="avg"):
    """
    The smallest tile core allowed: the margin (at least one stride); a smaller core would be mostly margin.

    Arguments:
    layers, pooling -- as for network_reach

    Returns:
    size -- pixels, a multiple of the stride (80 for the article's layers)
    """
    stride, margin = network_reach(layers, pooling)
    return max(stride, margin)


@dataclasses.dataclass(frozen=True)
class Tile:
    """One tile: its core (the pixels it answers for) and its window (what the network sees), both [start, stop)."""

    rows: tuple
    cols: tuple
    window_rows: tuple
    window_cols: tuple

    def window(self, image):
        """The tile's window of an image (1, H, W, C)."""
        return image[:, self.window_rows[0] : self.window_rows[1], self.window_cols[0] : self.window_cols[1], :]

    def core_in_window(self, level):
        """The core's positions at `level`, as (row slice, column slice) of the window's activation."""
        return tuple(
            slice((core[0] - window[0]) // (1 << level), -(-(core[1] - window[0]) // (1 << level)))
            for core, window in ((self.rows, self.window_rows), (self.cols, self.window_cols))
        )

    def core_in_image(self, level):
        """The core's positions at `level`, as (row slice, column slice) of the whole image's activation."""
        return tuple(slice(core[0] // (1 << level), -(-core[1] // (1 << level))) for core in (self.rows, self.cols))

    def local(self):
        """The same tile with its window's origin at (0, 0): the coordinates the per-window passes need."""
        (top, _), (left, _) = self.window_rows, self.window_cols
        return Tile(
            *(tuple(n - origin for n in span) for span, origin in zip(dataclasses.astuple(self), (top, left) * 2))
        )

    def as_tensor(self):
        """The tile's eight coordinates as an int32 tensor: one compiled pass serves tiles of every shape."""
        return tf.constant([n for span in dataclasses.astuple(self) for n in span], tf.int32)

    @classmethod
    def from_tensor(cls, coordinates):
        """The Tile of as_tensor's coordinates, whose slices are then tensors."""
        n = tf.unstack(coordinates, num=8)
        return cls((n[0], n[1]), (n[2], n[3]), (n[4], n[5]), (n[6], n[7]))


def _spans(length, core, margin, stride):
    """
    (core, window) spans along one axis: as few cores as `core` pixels allow, of equal length rounded up to the
    stride (the last takes what is left), windows `margin` wider where they are not at the edge.

    Equal cores keep the largest window, which sets the peak memory, as small as the count allows; the count alone
    sets the time (every edge between two cores costs 2 x margin, however the cores are cut).
    """
    count = -(-length // core)
    size = -(-(-(-length // count)) // stride) * stride
    return [
        ((start, min(start + size, length)), (max(0, start - margin), min(length, start + size + margin)))
        for start in range(0, length, size)
    ]


def tile_layout(height, width, tile_size, layers, pooling="avg"):
    """
    Cuts an image into tiles whose cores partition it, each with an exact margin, windows aligned to the stride.

    Arguments:
    height, width -- the image's size in pixels
    tile_size -- the longest side of a core in pixels, rounded down to a multiple of the stride; at least
                 minimum_tile_size (the cores along each side are cut as equal as the stride allows)
    layers -- layer names the costs use
    pooling -- 'avg' or 'max'

    Returns:
    tiles -- list of Tile, row by row
    """
    stride, margin = network_reach(layers, pooling)
    smallest = minimum_tile_size(layers, pooling)
    if tile_size < smallest:
        raise ValueError(f"tile size {tile_size} is below the minimum {smallest} pixels for these layers")
    return layout_for_reach(height, width, tile_size, stride, margin)


def layout_for_reach(height, width, tile_size, stride, margin):
    """
    Cuts an image into tiles for any network whose reach is known: cores that partition it, windows a margin wider
    where they are not at the picture's edge, starting at multiples of the stride (tile_layout for VGG-19; the fast
    network's tiled apply for its own stride and margin).

    Arguments:
    height, width -- the image's size in pixels
    tile_size -- the longest side of a core in pixels, rounded down to a multiple of the stride (at least one stride)
    stride -- the network's total stride: windows start at multiples of it
    margin -- pixels of context each side of a core, a multiple of the stride

    Returns:
    tiles -- list of Tile, row by row
    """
    core = max(stride, tile_size // stride * stride)
    return [
        Tile(rows, cols, window_rows, window_cols)
        for rows, window_rows in _spans(height, core, margin, stride)
        for cols, window_cols in _spans(width, core, margin, stride)
    ]


def positions_at(height, width, level):
    """n_H * n_W of an activation at `level` of a height x width image ('SAME' pools round up)."""
    step = 1 << level
    return -(-height // step) * -(-width // step)


def largest_window(height, width, tile_size, layers, pooling="avg"):
    """
    The largest window of tile_layout's tiles (what sets a tiled run's peak memory), without making the tiles.

    Arguments:
    height, width, tile_size, layers, pooling -- as for tile_layout

    Returns:
    (rows, cols) -- the largest window's height and width in pixels
    """
    stride, margin = network_reach(layers, pooling)
    core = max(tile_size, minimum_tile_size(layers, pooling)) // stride * stride
    return tuple(
        max(window[1] - window[0] for _, window in _spans(length, core, margin, stride)) for length in (height, width)
    )


def tile_cores(model, window, tile, layers):
    """
    The activations of a tile's core at several layers, from one forward pass over its window.

    Arguments:
    model -- a VGGModel
    window -- the tile's window of the image, (1, h, w, 3)
    tile -- the Tile
    layers -- layer names

    Returns:
    cores -- dict name -> activation of the core, (1, core_h, core_w, n_C), exactly the whole image's there
    """
    cores = {}
    for name, a in zip(layers, model(window, layers)):
        rows, cols = tile.core_in_window(layer_level(name, model.pooling))
        cores[name] = a[:, rows, cols, :]
    return cores


def tiled_sums(image, tiles, statistic):
    """
    Pass 1: the sum over the tiles of a statistic of their windows, one tile in memory at a time.

    Arguments:
    image -- (1, H, W, 3), as the network sees it
    tiles -- from tile_layout
    statistic -- statistic(window, tile) -> a nest (dict, list) of tensors, e.g. Grams of tile_cores

    Returns:
    totals -- the nest of sums over the tiles
    """
    totals = None
    for tile in tiles:
        values = statistic(tile.window(image), tile)
        totals = values if totals is None else tf.nest.map_structure(tf.add, totals, values)
    return totals


def tiled_gradient(image, tiles, window_gradient):
    """
    Pass 2: the sum over the tiles of gradients with respect to their windows, each added in its window's place.

    Each tile's gradient flows back through its whole window (the margin's pixels feed the core too); only one
    tile's activations are held at a time, and the sum is added up in place (no image-sized temporaries per tile).

    Arguments:
    image -- (1, H, W, 3)
    tiles -- from tile_layout, in the order their gradients are to be taken
    window_gradient -- window_gradient(window, tile) -> the gradient of the tile's surrogate cost with respect to its
                       window, of the window's shape

    Returns:
    grad -- (1, H, W, 3), float32: the sum of the tiles' gradients
    """
    image = tf.convert_to_tensor(image, tf.float32)
    grad = np.zeros(image.shape, np.float32)
    for tile in tiles:
        (top, bottom), (left, right) = tile.window_rows, tile.window_cols
        grad[:, top:bottom, left:right, :] += window_gradient(tile.window(image), tile).numpy()
    return tf.convert_to_tensor(grad)


def tiled_activation(model, image, layer, tiles):
    """
    The whole image's activation at one layer, assembled from the tiles' cores.

    Arguments:
    model -- a VGGModel
    image -- (1, H, W, 3)
    layer -- a layer name
    tiles -- from tile_layout (row by row)

    Returns:
    a -- (1, n_H, n_W, n_C), equal to model(image, [layer])[0]
    """
    level = layer_level(layer, model.pooling)
    _, height, width, _ = image.shape
    a = None
    for tile in tiles:
        core = tile_cores(model, tile.window(image), tile, [layer])[layer].numpy()
        if a is None:  # filled in place: the tiles' pieces are never held twice
            a = np.empty((1, -(-height // (1 << level)), -(-width // (1 << level)), core.shape[-1]), core.dtype)
        rows, cols = tile.core_in_image(level)
        a[:, rows, cols, :] = core
    return tf.convert_to_tensor(a)
