"""The tiles' geometry: how far the network reaches, and the cut of an image into tiles whose cores are exact.

Each tile's *core* is a block of the picture; the tiles' cores partition it. Each tile is run through the network on
its *window*: the core plus a margin wide enough that every activation of the core, at every layer the costs use, is
exactly the activation the whole image would give (VGG's 3x3 convolutions with 'SAME' padding see one more position
per layer, its 2x2 pools halve that; network_reach counts it). Windows start at multiples of the network's total
stride (16 up to conv5_1), so every pool groups the same positions as on the whole image, and where a window meets
the picture's edge it pads exactly as the whole image does.

Pure arithmetic on sizes (no TensorFlow): the memory estimate and the options use it before anything is built;
tiling.py runs the network over these tiles.
"""

import dataclasses

from ..layers import canonical_layer_name, layer_names


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

    def coordinates(self):
        """The eight coordinates in one flat tuple: as one tensor, a compiled pass serves tiles of every shape."""
        return tuple(n for span in dataclasses.astuple(self) for n in span)

    @classmethod
    def from_coordinates(cls, n):
        """The Tile of coordinates()' eight numbers (or a tensor of them, whose slices are then tensors)."""
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
