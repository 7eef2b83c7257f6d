"""Running the network tile by tile (layout.py cuts the tiles): the activations of a core, sums of statistics over
the tiles, a gradient added up window by window. The cost is in tiles.py, the style statistics in tiled_style.py.
"""

import numpy as np
import tensorflow as tf

from .layout import layer_level


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
