"""Exact tiled cost and gradient: the article's J(G) and dJ/dG for pictures too large to run through the network whole.

The image is cut into tiles. Each tile's *core* is a block of the picture; the tiles' cores partition it. Each tile is
run through the network on its *window*: the core plus a margin wide enough that every activation of the core, at
every layer the costs use, is exactly the activation the whole image would give (VGG's 3x3 convolutions with 'SAME'
padding see one more position per layer, its 2x2 pools halve that; network_reach counts it). Windows start at
multiples of the network's total stride (16 up to conv5_1), so every pool groups the same positions as on the whole
image, and where a window meets the picture's edge it pads exactly as the whole image does.

The costs need global statistics, so a step makes two passes over the tiles (Galerne et al., "Scaling painting style
transfer", EGSR 2024):

1. without gradients, the sum over the cores of each style layer's F^T F (the course's Gram matrix is a sum over
   positions, so the tiles' Grams add up to the whole image's) and of the content cost's squared differences; the
   costs follow from these sums;
2. per tile, the gradient of a surrogate J_tile = sum(stop_gradient(dJ/dG) * G_tile) + the tile's content share,
   whose derivative with respect to the core's activations is the whole cost's (dJ/dF = 2 F dJ/dG for a Gram G of
   F^T F), back through the tile's window; the tiles' gradients add up to dJ/dG exactly.

The total variation term is computed on the whole image: it is a function of the pixels alone (no network), and the
image itself is small next to the activations.
"""

import dataclasses

import tensorflow as tf

from .config import ALPHA, BETA, CONTENT_LAYER, STYLE_LAYERS
from .costs import layer_gram, total_cost, total_variation_cost
from .optimize import CostTerms, blend_weights
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

    def padding(self, height, width):
        """tf.pad paddings that put a window-sized array back in its place in a (1, height, width, C) one."""
        (top, bottom), (left, right) = self.window_rows, self.window_cols
        return [[0, 0], [top, height - bottom], [left, width - right], [0, 0]]


def _spans(length, core, margin):
    """(core, window) spans along one axis: cores of `core` pixels from 0, windows `margin` wider, clipped."""
    return [
        ((start, min(start + core, length)), (max(0, start - margin), min(length, start + core + margin)))
        for start in range(0, length, core)
    ]


def tile_layout(height, width, tile_size, layers, pooling="avg"):
    """
    Cuts an image into tiles whose cores partition it, each with an exact margin, windows aligned to the stride.

    Arguments:
    height, width -- the image's size in pixels
    tile_size -- pixels of a core's side, rounded down to a multiple of the stride; at least minimum_tile_size
    layers -- layer names the costs use
    pooling -- 'avg' or 'max'

    Returns:
    tiles -- list of Tile, row by row
    """
    stride, margin = network_reach(layers, pooling)
    smallest = minimum_tile_size(layers, pooling)
    if tile_size < smallest:
        raise ValueError(f"tile size {tile_size} is below the minimum {smallest} pixels for these layers")
    core = tile_size // stride * stride
    return [
        Tile(rows, cols, window_rows, window_cols)
        for rows, window_rows in _spans(height, core, margin)
        for cols, window_cols in _spans(width, core, margin)
    ]


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
    tile's activations are held at a time.

    Arguments:
    image -- (1, H, W, 3)
    tiles -- from tile_layout
    window_gradient -- window_gradient(window, tile) -> the gradient of the tile's surrogate cost with respect to its
                       window, of the window's shape

    Returns:
    grad -- (1, H, W, 3), float32: the sum of the tiles' gradients
    """
    image = tf.convert_to_tensor(image, tf.float32)
    _, height, width, _ = image.shape
    grad = tf.zeros_like(image)
    for tile in tiles:
        grad += tf.pad(window_gradient(tile.window(image), tile), tile.padding(height, width))
    return grad


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
    rows = {}
    for tile in tiles:
        rows.setdefault(tile.rows, []).append(tile_cores(model, tile.window(image), tile, [layer])[layer])
    return tf.concat([tf.concat(row, axis=2) for row in rows.values()], axis=1)


def tiled_grams(model, image, layers, tile_size):
    """
    The course's Gram matrices of an image (sums over positions of F^T F), accumulated tile by tile.

    Arguments:
    model -- a VGGModel
    image -- (1, H, W, 3), e.g. a style image of any size
    layers -- layer names
    tile_size -- core size, as for tile_layout

    Returns:
    grams -- dict name -> (n_C, n_C) tensor, equal to costs.layer_gram of the whole image's activation
    positions -- dict name -> n_H * n_W at that layer
    """
    _, height, width, _ = image.shape
    tiles = tile_layout(height, width, tile_size, layers, model.pooling)

    def grams_of(window, tile):
        cores = tile_cores(model, window, tile, layers)
        return {name: layer_gram(cores[name]) for name in layers}

    grams = tiled_sums(image, tiles, grams_of)
    return grams, {name: positions_at(height, width, layer_level(name, model.pooling)) for name in layers}


def positions_at(height, width, level):
    """n_H * n_W of an activation at `level` of a height x width image ('SAME' pools round up)."""
    step = 1 << level
    return -(-height // step) * -(-width // step)


def style_cost_of_grams(GS, GG, n_C, n_positions):
    """
    The course's layer style cost from the two Gram matrices: 1 / (4 n_C^2 (n_H n_W)^2) * sum((GS - GG) ** 2).

    Arguments:
    GS, GG -- the style and generated Gram matrices, (n_C, n_C)
    n_C -- channels of the layer
    n_positions -- n_H * n_W of the generated image at the layer

    Returns:
    J_style_layer -- scalar tensor (what costs.layer_style_cost_from_gram gives for the whole activation)
    """
    return tf.reduce_sum(tf.square(GS - GG)) / (4.0 * n_C**2 * n_positions**2)


def content_cost_scale(content_cost, shape):
    """
    The factor that turns sum((a_C - a_G) ** 2) into a content cost: 1 / (4 n_H n_W n_C) (course) or 1/2 (gatys).

    Arguments:
    content_cost -- 'course' or 'gatys' (costs.CONTENT_COSTS)
    shape -- the content activation's shape (1, n_H, n_W, n_C)

    Returns:
    scale -- float
    """
    if content_cost == "gatys":
        return 0.5
    _, n_H, n_W, n_C = shape
    return 1.0 / (4 * n_H * n_W * n_C)


class TiledStyleTransferCost:
    """optimize.StyleTransferCost computed tile by tile: the same costs, exact gradients, bounded memory.

    The content activation and the style Grams are computed tile by tile once; `terms(image)` runs pass 1 for the
    costs and, only when a gradient is asked for (a tf.GradientTape), pass 2 for the gradient, through
    tf.custom_gradient, so that the optimisation step and L-BFGS use it exactly as they use StyleTransferCost.
    """

    def __init__(
        self,
        model,
        content_image,
        style_image,
        content_layer=CONTENT_LAYER,
        style_layers=STYLE_LAYERS,
        alpha=ALPHA,
        beta=BETA,
        *,
        style_blend=None,
        tv_weight=0.0,
        content_cost="course",
        tile_size,
    ):
        """
        Arguments:
        model, content_image, style_image, content_layer, style_layers, alpha, beta, style_blend, tv_weight,
        content_cost -- as for optimize.StyleTransferCost
        tile_size -- pixels of a tile's core (tile_layout); style images are cut with the same size
        """
        self.model = model
        self.content_layer = canonical_layer_name(content_layer, model.pooling)
        self.style_layers = [(canonical_layer_name(name, model.pooling), w) for name, w in style_layers]
        self.alpha, self.beta = alpha, beta
        self.tv_weight = tv_weight
        self.tile_size = tile_size
        self.style_names = [name for name, _ in self.style_layers]
        self.layers = list(dict.fromkeys(self.style_names + [self.content_layer]))
        _, height, width, _ = content_image.shape
        self.tiles = tile_layout(height, width, tile_size, self.layers, model.pooling)
        self.a_C = tiled_activation(model, content_image, self.content_layer, self.tiles)
        self._content_scale = content_cost_scale(content_cost, self.a_C.shape)
        self.positions = [positions_at(height, width, layer_level(name, model.pooling)) for name in self.style_names]
        style_images = list(style_image) if isinstance(style_image, (list, tuple)) else [style_image]
        self.style_blend = blend_weights(style_blend, len(style_images))
        self.GS = [0.0] * len(self.style_names)
        for weight, image in zip(self.style_blend, style_images):
            grams, positions = tiled_grams(model, image, self.style_names, tile_size)
            for i, name in enumerate(self.style_names):
                # As costs.style_gram_for_size: the per-position average times the generated image's positions.
                self.GS[i] += weight * grams[name] * (self.positions[i] / positions[name])
        # Window sizes and core offsets are arguments, not constants: one trace of each pass serves every tile.
        window = tf.TensorSpec([1, None, None, 3], tf.float32)
        a_C_core = tf.TensorSpec([1, None, None, self.a_C.shape[-1]], tf.float32)
        geometry = tf.TensorSpec([8], tf.int32)
        adjoints = [tf.TensorSpec(GS.shape, tf.float32) for GS in self.GS]
        self._pass1 = tf.function(self._window_statistics, input_signature=[window, a_C_core, geometry])
        self._pass2 = tf.function(
            self._window_gradient,
            input_signature=[window, a_C_core, adjoints, tf.TensorSpec([], tf.float32), geometry],
        )

    def _content_core(self, tile):
        """The content activation at a tile's core (a_C for the positions the tile answers for)."""
        rows, cols = tile.core_in_image(layer_level(self.content_layer, self.model.pooling))
        return self.a_C[:, rows, cols, :]

    def _content_share(self, a_C_core, cores):
        """The content cost of a tile's core: scale * sum((a_C - a_G) ** 2) over the core's positions."""
        return self._content_scale * tf.reduce_sum(tf.square(cores[self.content_layer] - a_C_core))

    def _window_statistics(self, window, a_C_core, geometry):
        """Pass 1 for one window (compiled once for every tile; `geometry` is Tile.local().as_tensor())."""
        tile = Tile.from_tensor(geometry)
        cores = tile_cores(self.model, window, tile, self.layers)
        return {
            "GG": [layer_gram(cores[name]) for name in self.style_names],
            "J_content": self._content_share(a_C_core, cores),
        }

    def _window_gradient(self, window, a_C_core, adjoints, content_weight, geometry):
        """
        Pass 2 for one window (compiled once for every tile): the gradient of its surrogate cost.

        The surrogate is content_weight * the core's content share + sum over style layers of
        sum(adjoint * G_core): its derivative with respect to the core's activations is the whole cost's.
        """
        tile = Tile.from_tensor(geometry)
        with tf.GradientTape() as tape:
            tape.watch(window)
            cores = tile_cores(self.model, window, tile, self.layers)
            J_tile = content_weight * self._content_share(a_C_core, cores)
            for name, D in zip(self.style_names, adjoints):
                J_tile += tf.reduce_sum(D * layer_gram(cores[name]))
        return tape.gradient(J_tile, window)

    def _style_cost(self, GG):
        """J_style from the generated image's Grams."""
        J_style = 0.0
        for (_, coeff), GS, G, n_positions in zip(self.style_layers, self.GS, GG, self.positions):
            J_style += coeff * style_cost_of_grams(GS, G, G.shape[0], n_positions)
        return J_style

    def terms(self, generated_image):
        """
        Every term of the cost of a generated image, with the tiled gradient attached.

        Inside a tf.function (the optimisation step, L-BFGS's cost) the tiles run eagerly through tf.py_function:
        one graph of every tile's passes takes minutes to build, while the two per-window passes are compiled once
        and serve every tile (their sizes and offsets are arguments).

        Arguments:
        generated_image -- tensor of shape (1, n_H, n_W, 3), as the network sees it

        Returns:
        terms -- CostTerms of scalar tensors: J, J_content, J_style, and J_tv (None when tv_weight is 0)
        """
        image = tf.convert_to_tensor(generated_image, tf.float32)
        if tf.inside_function():
            values = tf.py_function(self._costs, [image], [tf.float32] * 4)
            for value in values:
                value.set_shape([])
        else:
            values = self._costs(image)
        J, J_content, J_style, J_tv = values
        return CostTerms(J, J_content, J_style, J_tv if self.tv_weight else None)

    @tf.custom_gradient
    def _costs(self, image):
        """J, J_content, J_style, J_tv from pass 1; their gradient, when asked for, from pass 2."""

        def statistics(window, tile):
            return self._pass1(window, self._content_core(tile), tile.local().as_tensor())

        # Pass 1 on a stopped image: a tape around the step would otherwise keep every tile's activations for a
        # backward pass that never comes (pass 2 makes the gradient).
        totals = tiled_sums(tf.stop_gradient(image), self.tiles, statistics)
        GG, J_content = totals["GG"], totals["J_content"]
        J_style = self._style_cost(GG)
        J_tv = total_variation_cost(image) if self.tv_weight else tf.zeros([])
        J = total_cost(J_content, J_style, self.alpha, self.beta) + self.tv_weight * J_tv

        def gradient(dJ, dJ_content, dJ_style, dJ_tv):
            upstream = (tf.zeros([]) if d is None else d for d in (dJ, dJ_content, dJ_style, dJ_tv))
            return self._gradient(image, GG, *upstream)

        return (J, J_content, J_style, J_tv), gradient

    def _gradient(self, image, GG, dJ, dJ_content, dJ_style, dJ_tv):
        """Pass 2: the image gradient of dJ * J + dJ_content * J_content + dJ_style * J_style + dJ_tv * J_tv."""
        content_weight = dJ * self.alpha + dJ_content
        with tf.GradientTape() as tape:
            tape.watch(GG)
            J_style = self._style_cost(GG)
        # The adjoint of each Gram: the derivative of the whole style cost with respect to it.
        adjoints = [(dJ * self.beta + dJ_style) * D for D in tape.gradient(J_style, GG)]

        def window_gradient(window, tile):
            return self._pass2(window, self._content_core(tile), adjoints, content_weight, tile.local().as_tensor())

        grad = tiled_gradient(image, self.tiles, window_gradient)
        if self.tv_weight:
            with tf.GradientTape() as tape:
                tape.watch(image)
                J_tv = total_variation_cost(image)
            grad += (dJ * self.tv_weight + dJ_tv) * tape.gradient(J_tv, image)
        return grad

    def __call__(self, generated_image):
        """
        Computes the costs of a generated image.

        Arguments:
        generated_image -- tensor of shape (1, n_H, n_W, 3), mean-subtracted

        Returns:
        J, J_content, J_style -- scalar tensors (J includes tv_weight * J_tv; `terms` gives J_tv itself)
        """
        return self.terms(generated_image).course()
