"""The style term on tiles: the statistics each style loss sums over the tiles' cores, and its cost from their sums.

Every style loss we have is a function of sums over positions (style_losses: moments_on_tiles), so the tiles' sums
add up to the whole image's:

- the article's Gram cost (GramStyle): each style layer's Gram matrix, sum_p f_p f_p^T;
- the other losses and the masks (MomentStyle, after masks.GuidedStyleCost): per region and layer, the guided first
  and second moments sum_p w_p f_p and sum_p w_p f_p f_p^T (w_p = the region's mask squared, 1 without masks), whose
  mass sum_p w_p is fixed.

Each class gives `window(cores, guides)`, the statistics of one tile's core (pass 1, and through its gradient pass 2:
tiles.TiledStyleTransferCost), `cost(totals)`, J_style from their sums, and `guides_for(tile)`, the tile's share of
the masks. The style images' own statistics are summed tile by tile too, so a large painting is never run whole.
"""

import numpy as np
import tensorflow as tf

from .. import style_losses
from ..costs import layer_gram
from ..masks import Guides, layer_mask, style_regions
from .layout import layer_level, positions_at, tile_layout
from .tiling import tile_cores, tiled_sums


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


def tiled_moments(model, image, layers, tile_size, source=None):
    """
    masks.style_statistics of an image at several layers, its sums accumulated tile by tile (in float64).

    Arguments:
    model -- a VGGModel
    image -- (1, H, W, 3), a style image of any size
    layers -- layer names
    tile_size -- core size, as for tile_layout
    source -- None, or the image's source mask (H, W): where the style is taken from

    Returns:
    statistics -- list, per layer, of (mu, second): the (guided) mean (n_C,) and second moment (n_C, n_C)
    """
    _, height, width, _ = image.shape
    tiles = tile_layout(height, width, tile_size, layers, model.pooling)
    levels = [layer_level(name, model.pooling) for name in layers]
    guides = [None if source is None else layer_mask(source, _shape_at(height, width, level)) for level in levels]

    def moments_of(window, tile):
        cores = tile_cores(model, window, tile, layers)
        sums = []
        for name, level, guide in zip(layers, levels, guides):
            F = tf.reshape(tf.cast(cores[name], tf.float64), [-1, cores[name].shape[-1]])
            w = tf.ones_like(F[:, :1]) if guide is None else _core_weights(guide, tile, level, tf.float64)
            sums.append([tf.reduce_sum(w), tf.reduce_sum(w * F, axis=0), tf.matmul(w * F, F, transpose_a=True)])
        return sums

    sums = tiled_sums(image, tiles, moments_of)
    return [(first / mass, second / mass) for mass, first, second in sums]


def _shape_at(height, width, level):
    """(n_H, n_W) of an activation at `level` of a height x width image ('SAME' pools round up)."""
    return -(-height // (1 << level)), -(-width // (1 << level))


def _core_weights(guide, tile, level, dtype=tf.float32):
    """The squared guide over a tile's core at `level`, as a column of weights (one per position)."""
    rows, cols = tile.core_in_image(level)
    return tf.reshape(tf.square(tf.cast(guide[rows, cols], dtype)), [-1, 1])


class GramStyle:
    """The article's Gram style cost on tiles (no masks): each style layer's Gram matrix summed over the cores."""

    def __init__(self, model, style_images, style_layers, blend, size, tile_size):
        """
        Arguments:
        model -- a VGGModel
        style_images -- list of style images as the network sees them, (1, h, w, 3) each, any sizes
        style_layers -- list of (name, coeff), canonical names
        blend -- one weight per style image, summing to 1
        size -- (height, width) of the generated image
        tile_size -- the tiles' core size
        """
        self.style_layers = style_layers
        names = [name for name, _ in style_layers]
        self.positions = [positions_at(*size, layer_level(name, model.pooling)) for name in names]
        self.GS = [0.0] * len(names)
        for weight, image in zip(blend, style_images):
            grams, positions = tiled_grams(model, image, names, tile_size)
            for i, name in enumerate(names):
                # As costs.style_gram_for_size: the per-position average times the generated image's positions.
                self.GS[i] += weight * grams[name] * (self.positions[i] / positions[name])

    def guides_for(self, tile):
        """The tile's share of the masks: none."""
        return []

    def window(self, cores, guides):
        """Pass 1's style statistics of one core: the Gram matrix of each style layer."""
        return [layer_gram(cores[name]) for name, _ in self.style_layers]

    def cost(self, totals):
        """J_style from the generated image's Grams (the sums of `window` over the tiles)."""
        J_style = 0.0
        for (_, coeff), GS, G, n_positions in zip(self.style_layers, self.GS, totals, self.positions):
            J_style += coeff * style_cost_of_grams(GS, G, G.shape[0], n_positions)
        return J_style


class MomentStyle:
    """Any style loss, with or without masks, on tiles: masks.GuidedStyleCost from moments summed over the cores."""

    def __init__(self, model, style_images, style_layers, blend, size, tile_size, loss, guides):
        """
        Arguments:
        model, style_images, style_layers, blend, size, tile_size -- as for GramStyle
        loss -- a style loss whose cost follows from moments (style_losses.lookup, moments_on_tiles)
        guides -- a masks.Guides at the generated image's size (source masks at the style images' size), or None
        """
        guides = guides or Guides()
        self.loss = loss
        self.style_layers = style_layers
        names = [name for name, _ in style_layers]
        self.levels = [layer_level(name, model.pooling) for name in names]
        shapes = {name: _shape_at(*size, level) for name, level in zip(names, self.levels)}
        statistics = [
            tiled_moments(model, image, names, tile_size, None if guides.sources is None else guides.sources[k])
            for k, image in enumerate(style_images)
        ]
        self.regions = style_regions(statistics, blend, loss, guides, names, shapes)
        # The mass of each region at each layer, sum_p w_p: fixed, so the moments are the sums divided by it.
        self.masses = [
            [
                float(np.prod(shapes[name])) if guide is None else float(tf.reduce_sum(tf.square(guide)))
                for name, guide in zip(names, layer_guides)
            ]
            for _, _, layer_guides in self.regions
        ]

    def guides_for(self, tile):
        """The tile's share of the masks: per region, per layer, the guide over its core (a 1x1 stand-in: none)."""
        none = tf.zeros([1, 1])
        return [
            [none if guide is None else guide[tile.core_in_image(level)] for guide, level in zip(guides, self.levels)]
            for _, _, guides in self.regions
        ]

    def window(self, cores, guides):
        """Pass 1's style statistics of one core: per region and layer, sum w_p f_p and sum w_p f_p f_p^T."""
        sums = []
        for (_, _, layer_guides), region_guides in zip(self.regions, guides):
            per_layer = []
            for (name, _), guide, core_guide in zip(self.style_layers, layer_guides, region_guides):
                F = tf.reshape(tf.cast(cores[name], tf.float32), [-1, cores[name].shape[-1]])
                wF = F if guide is None else tf.reshape(tf.square(core_guide), [-1, 1]) * F
                per_layer.append([tf.reduce_sum(wF, axis=0), tf.matmul(wF, F, transpose_a=True)])
            sums.append(per_layer)
        return sums

    def cost(self, totals):
        """J_style from the sums of `window` over the tiles: masks.GuidedStyleCost's, region by region."""
        J_style = 0.0
        for (weight, targets, _), masses, region in zip(self.regions, self.masses, totals):
            for (_, coeff), target, mass, (first, second) in zip(self.style_layers, targets, masses, region):
                J_style += weight * coeff * self.loss.cost_of_moments(target, first / mass, second / mass)
        return J_style


def tiled_style(model, style_images, style_layers, blend, size, tile_size, style_loss="gram", guides=None):
    """
    The style term of a tiled cost: GramStyle for the article's cost without masks, else MomentStyle.

    Arguments:
    model, style_images, style_layers, blend, size, tile_size, guides -- as for MomentStyle
    style_loss -- one of style_losses.TILED_NAMES

    Returns:
    style -- a GramStyle or a MomentStyle
    """
    loss = style_losses.lookup(style_loss)
    if not loss.moments_on_tiles:
        tiled = ", ".join(style_losses.TILED_NAMES)
        raise ValueError(f"the style loss {style_loss!r} cannot be computed on tiles; use one of {tiled}")
    if loss.articles_grams and guides is None:
        return GramStyle(model, style_images, style_layers, blend, size, tile_size)
    return MomentStyle(model, style_images, style_layers, blend, size, tile_size, loss, guides)
