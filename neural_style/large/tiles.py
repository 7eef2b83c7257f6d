"""Exact tiled cost and gradient: the article's J(G) and dJ/dG for pictures too large to run through the network whole.

The image is cut into tiles (tiling.py: each tile's core, the block of the picture it answers for, and its window,
the core plus the margin that makes the core's activations exact).

The costs need global statistics, so a step makes two passes over the tiles (Galerne et al., "Scaling painting style
transfer", EGSR 2024):

1. without gradients, the sum over the cores of each style statistic (the course's Gram matrix is a sum over
   positions of F^T F, so the tiles' Grams add up to the whole image's; the other style losses and the masks use
   guided moments, tiled_style.py) and of the content cost's squared differences; the costs follow from these sums;
2. per tile, the gradient of a surrogate J_tile = sum(stop_gradient(dJ/dS) * S_tile) over the statistics S + the
   tile's content share, whose derivative with respect to the core's activations is the whole cost's (for a Gram,
   dJ/dF = 2 F dJ/dG), back through the tile's window; the tiles' gradients add up to dJ/dG exactly.

The total variation term is computed on the whole image: it is a function of the pixels alone (no network), and the
image itself is small next to the activations.
"""

import numpy as np
import tensorflow as tf

from ..config import ALPHA, BETA, CONTENT_LAYER, STYLE_LAYERS
from ..cost_settings import CostSettings, SettingsCost
from ..costs import total_cost, total_variation_cost
from ..optimize import CostTerms
from .layout import Tile, layer_level, tile_layout
from .tiled_style import tiled_style
from .tiling import tile_cores, tiled_activation, tiled_gradient, tiled_sums


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


class TiledStyleTransferCost(SettingsCost):
    """optimize.StyleTransferCost computed tile by tile: the same costs, exact gradients, bounded memory.

    The content activation and the style targets are computed tile by tile once; `terms(image)` runs pass 1 for the
    costs and, only when a gradient is asked for (a tf.GradientTape), pass 2 for the gradient, through
    tf.custom_gradient, so that the optimisation step and L-BFGS use it exactly as they use StyleTransferCost.
    Every style loss and the masks are covered (tiled_style.py).
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
        style_loss="gram",
        guides=None,
        tile_size,
    ):
        """
        Arguments:
        model, content_image, style_image, content_layer, style_layers, alpha, beta, style_blend, tv_weight,
        content_cost, style_loss, guides -- as for optimize.StyleTransferCost (from_settings builds the cost from a
        cost_settings.CostSettings and the tile size)
        tile_size -- pixels of a tile's core (tile_layout); style images are cut with the same size
        """
        settings = CostSettings(
            content_layer=content_layer,
            style_layers=style_layers,
            alpha=alpha,
            beta=beta,
            style_blend=style_blend,
            tv_weight=tv_weight,
            content_cost=content_cost,
            style_loss=style_loss,
            guides=guides,
        )
        style_images = self.set_up(model, style_image, settings)
        self.tile_size = tile_size
        _, height, width, _ = content_image.shape
        self.tiles = tile_layout(height, width, tile_size, self.layers, model.pooling)
        # Outside a content mask the image the costs see is the photo (masks.GuidedStyleCost.masked_image).
        self._mask = None
        if guides is not None and guides.content is not None:
            self._mask = tf.constant(np.asarray(guides.content, np.float32)[None, ..., None])
            self._photo = (1 - self._mask) * content_image
        self.a_C = tiled_activation(model, content_image, self.content_layer, self.tiles)
        self._content_scale = content_cost_scale(content_cost, self.a_C.shape)
        self.style = tiled_style(
            model, style_images, self.style_layers, self.style_blend, (height, width), tile_size, style_loss, guides
        )
        # Window sizes, core offsets and the masks' shares are arguments, not constants: one trace of each pass
        # serves every tile.
        self._signature = [
            tf.TensorSpec([1, None, None, 3], tf.float32),
            tf.TensorSpec([1, None, None, self.a_C.shape[-1]], tf.float32),
            tf.nest.map_structure(
                lambda _: tf.TensorSpec([None, None], tf.float32), self.style.guides_for(self.tiles[0])
            ),
        ]
        geometry = tf.TensorSpec([8], tf.int32)
        self._pass1 = tf.function(self._window_statistics, input_signature=[*self._signature, geometry])
        self._pass2 = None  # compiled at the first gradient, whose adjoints give the signature's last shapes

    def _content_core(self, tile):
        """The content activation at a tile's core (a_C for the positions the tile answers for)."""
        rows, cols = tile.core_in_image(layer_level(self.content_layer, self.model.pooling))
        return self.a_C[:, rows, cols, :]

    def _content_share(self, a_C_core, cores):
        """The content cost of a tile's core: scale * sum((a_C - a_G) ** 2) over the core's positions."""
        return self._content_scale * tf.reduce_sum(tf.square(cores[self.content_layer] - a_C_core))

    def _window_statistics(self, window, a_C_core, guides, geometry):
        """Pass 1 for one window (compiled once for every tile; `geometry` is local_geometry(tile))."""
        cores = tile_cores(self.model, window, Tile.from_coordinates(geometry), self.layers)
        return {"style": self.style.window(cores, guides), "J_content": self._content_share(a_C_core, cores)}

    def _window_gradient(self, window, a_C_core, guides, geometry, adjoints, content_weight):
        """
        Pass 2 for one window (compiled once for every tile): the gradient of its surrogate cost.

        The surrogate is content_weight * the core's content share + the sum of adjoint * statistic over the style
        statistics of the core: its derivative with respect to the core's activations is the whole cost's.
        """
        with tf.GradientTape() as tape:
            tape.watch(window)
            cores = tile_cores(self.model, window, Tile.from_coordinates(geometry), self.layers)
            J_tile = content_weight * self._content_share(a_C_core, cores)
            statistics = tf.nest.flatten(self.style.window(cores, guides))
            for D, statistic in zip(tf.nest.flatten(adjoints), statistics, strict=True):
                J_tile += tf.reduce_sum(D * statistic)
        return tape.gradient(J_tile, window)

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

    def _seen(self, image):
        """The image the costs see: the generated one, the photo outside a content mask."""
        return image if self._mask is None else self._mask * image + self._photo

    @tf.custom_gradient
    def _costs(self, image):
        """J, J_content, J_style, J_tv from pass 1; their gradient, when asked for, from pass 2."""
        seen = self._seen(image)

        def statistics(window, tile):
            return self._pass1(window, self._content_core(tile), self.style.guides_for(tile), local_geometry(tile))

        # Pass 1 on a stopped image: a tape around the step would otherwise keep every tile's activations for a
        # backward pass that never comes (pass 2 makes the gradient).
        totals = tiled_sums(tf.stop_gradient(seen), self.tiles, statistics)
        J_content = totals["J_content"]
        J_style = self.style.cost(totals["style"])
        J_tv = total_variation_cost(seen) if self.tv_weight else tf.zeros([])
        J = total_cost(J_content, J_style, self.alpha, self.beta) + self.tv_weight * J_tv

        def gradient(dJ, dJ_content, dJ_style, dJ_tv):
            upstream = (tf.zeros([]) if d is None else d for d in (dJ, dJ_content, dJ_style, dJ_tv))
            grad = self._gradient(seen, totals["style"], *upstream)
            return grad if self._mask is None else self._mask * grad

        return (J, J_content, J_style, J_tv), gradient

    def _gradient(self, seen, style_totals, dJ, dJ_content, dJ_style, dJ_tv):
        """Pass 2: the gradient of dJ * J + dJ_content * J_content + dJ_style * J_style + dJ_tv * J_tv (seen image)."""
        content_weight = dJ * self.alpha + dJ_content
        with tf.GradientTape() as tape:
            tape.watch(style_totals)
            J_style = self.style.cost(style_totals)
        # The adjoint of each statistic: the derivative of the whole style cost with respect to its sum.
        scale = dJ * self.beta + dJ_style
        derivatives = tape.gradient(J_style, style_totals, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        adjoints = tf.nest.map_structure(lambda D: scale * D, derivatives)
        if self._pass2 is None:
            specs = tf.nest.map_structure(lambda D: tf.TensorSpec(D.shape, D.dtype), adjoints)
            signature = [*self._signature, tf.TensorSpec([8], tf.int32), specs, tf.TensorSpec([], tf.float32)]
            self._pass2 = tf.function(self._window_gradient, input_signature=signature)

        def window_gradient(window, tile):
            return self._pass2(
                window,
                self._content_core(tile),
                self.style.guides_for(tile),
                local_geometry(tile),
                adjoints,
                content_weight,
            )

        grad = tiled_gradient(seen, self.tiles, window_gradient)
        if self.tv_weight:
            with tf.GradientTape() as tape:
                tape.watch(seen)
                J_tv = total_variation_cost(seen)
            grad += (dJ * self.tv_weight + dJ_tv) * tape.gradient(J_tv, seen)
        return grad


def local_geometry(tile):
    """A tile's coordinates in its own window, as an int32 tensor: one compiled pass serves tiles of every shape."""
    return tf.constant(tile.local().coordinates(), tf.int32)
