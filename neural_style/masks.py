"""Where the style acts: region masks and guided statistics (Gatys, Ecker, Bethge, Hertzmann & Shechtman, "Controlling
Perceptual Factors in Neural Style Transfer", CVPR 2017).

A mask is a greyscale image (any size, resized to the picture it guides; soft values allowed): 1 where it applies,
0 where not. At each layer the mask is brought to the layer's resolution by area averaging, the paper's simple
method: a position's weight is the fraction of its cell inside the region. (The paper's alternative, eroding the mask
so that only positions whose receptive field lies wholly inside the region count, empties a region at the deep
layers: conv5_1's receptive field is about 200 pixels wide, more than a 300x400 picture's regions.) The features
are multiplied by the mask before their statistics are taken, as the paper's guided Gram matrices, and the statistics
are divided by the mask's mass (sum of its squared weights), so a small region is matched as strongly as a large one.

``GuidedStyleCost`` is the style cost of StyleTransferCost when masks or another style loss are asked for: the style
statistics (Gram, or mean and covariance and its square root) are computed once, per style and region.
``load_guides`` reads the options' masks once for StyleTransfer, ``resize_guides`` brings them to each scale.
"""

import collections
import os

import numpy as np
import tensorflow as tf

from .config import STYLE_LOSSES
from .costs import feature_moments, mean_cov_distance, sqrtm_psd, w2_distance
from .images import ImageError, load_image, load_pixels


class MaskError(ImageError):
    """A mask that cannot be used (not an image, all black, not overlapping); the message names which."""


# The masks of one cost, as float32 (H, W) arrays in [0, 1]: `content` at the generated image's size (or None),
# `styles` one per style image at that size (or None), `sources` one per style image at its size (or None).
Guides = collections.namedtuple("Guides", ["content", "styles", "sources"], defaults=[None, None, None])


def load_mask(mask, size=None, what="mask", stretch=False, reference=None, hint=None):
    """
    A mask as float32 weights in [0, 1], resized to `size` if given.

    Arguments:
    mask -- an image file (greyscale, or colour: its channels are averaged; white = 1; an alpha channel multiplies
            the weights, so transparent = 0), or an array (H, W) or (H, W, 1|3): uint8 in 0..255, or floats in [0, 1]
    size -- (height, width) to resize to (bilinear with antialiasing, so soft edges stay soft), or None
    what -- the option the mask comes from, for the messages (e.g. '--content-mask')
    stretch -- allow a mask whose aspect ratio is not that of the picture it guides (stretched); otherwise MaskError
    reference -- (height, width) of that picture as given, before any resize (default: `size`)
    hint -- what to do about a mask of another aspect ratio, for the message, where the caller's options differ from
            the main command's (None: the main command's: the picture it guides, and --stretch-masks to stretch it)

    Returns:
    mask -- float32 array of shape (height, width), not all 0
    """
    if isinstance(mask, (str, os.PathLike)):
        try:
            # Over black: a transparent pixel weighs 0, a half-transparent white one 0.5.
            weights = load_image(mask, background=0).mean(axis=-1) / 255
        except (FileNotFoundError, ImageError) as error:
            raise type(error)(f"{what}: {error}") from None
        name = os.fspath(mask)
    else:
        weights = _array_weights(mask, what)
        name = "the array"
    if not np.any(weights > 0):
        raise MaskError(f"{what} {name}: the mask is all black (empty); white marks where it applies")
    reference = size if reference is None else reference
    if reference is not None and not stretch and not same_aspect(weights.shape, reference):
        (mask_h, mask_w), (height, width) = weights.shape, reference
        if hint is None:
            raise MaskError(
                f"{what} {name} is {mask_w}x{mask_h}, not of the shape of the {width}x{height} picture it guides; "
                "give a mask of that aspect ratio, or --stretch-masks (stretch_masks=True) to stretch it"
            )
        # Another caller (the fast network's apply) has no --stretch-masks, and its `reference` may not be a picture.
        raise MaskError(f"{what} {name} is {mask_w}x{mask_h}, not of the {width}x{height} shape it must match; {hint}")
    if size is not None and weights.shape != tuple(size):
        weights = tf.image.resize(weights[..., None], size, method="bilinear", antialias=True).numpy()[..., 0]
    return np.clip(weights, 0, 1).astype(np.float32)


def same_aspect(shape, size):
    """
    Whether two sizes are one aspect ratio up to the rounding of each side to whole pixels.

    If (H, W) and (h, w) are both a true shape (A, B) scaled and rounded (H = kA + e1, W = kB + e3, h = jA + e4,
    w = jB + e2 with |e| <= 1/2), then |H w - W h| = |kA e2 + jB e1 + e1 e2 - kB e4 - jA e3 - e3 e4|
    <= (H + W + h + w) / 2 + 1 (kA <= H + 1/2 and so on, and the products of two errors): the bound allowed.

    Arguments:
    shape -- (H, W) of the mask
    size -- (h, w) of the picture

    Returns:
    same -- bool
    """
    (H, W), (h, w) = shape, size
    return abs(H * w - W * h) <= (H + W + h + w) / 2 + 1


def _array_weights(mask, what):
    """A mask array as float (H, W) weights in [0, 1], or MaskError naming what is wrong."""
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[-1] in (1, 3):
        array = array.mean(axis=-1) if array.dtype != np.uint8 else array.astype(np.float32).mean(axis=-1) / 255
    elif array.dtype == np.uint8:
        array = array / 255
    if array.ndim != 2 or min(array.shape) < 1 or not np.issubdtype(array.dtype, np.number):
        raise MaskError(f"{what} must be a greyscale image file or an (H, W) array, got shape {np.shape(mask)}")
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise MaskError(f"{what} array values must be in [0, 1] (or uint8 0..255)")
    return array


def layer_mask(mask, shape):
    """
    A mask brought to a layer's resolution by area averaging (each position: the mean of the mask over its cell).

    Arguments:
    mask -- array of shape (H, W), weights in [0, 1] at the image's resolution
    shape -- (n_H, n_W) of the layer

    Returns:
    guide -- float32 tensor of shape (n_H, n_W)
    """
    mask = tf.convert_to_tensor(np.asarray(mask, np.float32))[None, ..., None]
    if tuple(mask.shape[1:3]) != tuple(shape):
        mask = tf.image.resize(mask, shape, method="area")
    return mask[0, ..., 0]


def guided_gram(a, guide=None):
    """
    The guided Gram matrix of a layer: the Gram of the features multiplied by the guide, divided by the guide's mass.

    GG = sum_p g_p^2 f_p f_p^T / sum_p g_p^2  (g_p = 1: the course's Gram matrix divided by n_H * n_W)

    Arguments:
    a -- tensor of dimension (1, n_H, n_W, n_C), a layer's activations
    guide -- None, or the layer's mask (layer_mask), shape (n_H, n_W), not all 0

    Returns:
    GG -- tensor of shape (n_C, n_C)
    """
    n_C = a.shape[-1]
    F = tf.reshape(a, [-1, n_C])
    if guide is None:
        return tf.matmul(F, F, transpose_a=True) / F.shape[0]
    w = tf.reshape(tf.square(tf.cast(guide, F.dtype)), [-1, 1])
    return tf.matmul(w * F, F, transpose_a=True) / tf.reduce_sum(w)


def guided_layer_style_cost(GS, a_G, guide=None):
    """
    The article's layer style cost between guided Gram matrices, both per position, so that regions of any size weigh
    the same: with no guide it equals compute_layer_style_cost.

    J_style_layer = 1 / (4 * n_C**2) * sum((GS - GG) ** 2), GS and GG from guided_gram
    (= 1 / (4 * n_C**2 * (n_H*n_W)**2) * sum((n_H*n_W * GS - n_H*n_W * GG) ** 2), the course's formula)

    Arguments:
    GS -- the style's guided Gram matrix at this layer, shape (n_C, n_C)
    a_G -- tensor of dimension (1, n_H, n_W, n_C), the generated image's activations
    guide -- None, or the generated image's mask at this layer, shape (n_H, n_W)

    Returns:
    J_style_layer -- scalar tensor
    """
    n_C = a_G.shape[-1]
    return tf.reduce_sum(tf.square(GS - guided_gram(a_G, guide))) / (4.0 * n_C**2)


def style_statistics(a_S, guide=None):
    """
    The per-position statistics of a style at one layer, in float64, in a form that blends linearly.

    Arguments:
    a_S -- tensor of dimension (1, n_H, n_W, n_C), the style image's activations
    guide -- None, or its source mask at this layer, shape (n_H, n_W)

    Returns:
    mu -- tensor of shape (n_C,), the (guided) mean of the features
    second -- tensor of shape (n_C, n_C), their (guided) second moment, guided_gram(a_S, guide)
    """
    a_S = tf.cast(a_S, tf.float64)
    weights = None if guide is None else tf.square(tf.cast(guide, tf.float64))
    mu, C = feature_moments(a_S, weights)
    return mu, C + mu[:, None] * mu[None, :]


def style_target(style_loss, mu, second, dtype=tf.float32):
    """
    What a style loss compares the generated image with, from blended style statistics (computed once per run).

    Arguments:
    style_loss -- 'gram', 'mean-cov' or 'w2'
    mu, second -- style_statistics (or a weighted sum of several)
    dtype -- the dtype of the costs

    Returns:
    target -- tuple: (GS,) for gram; (mu_S, C_S) for mean-cov; (mu_S, C_S, sqrt_C_S) for w2
    """
    if style_loss == "gram":
        return (tf.cast(second, dtype),)
    C = second - mu[:, None] * mu[None, :]
    target = (mu, C) if style_loss == "mean-cov" else (mu, C, sqrtm_psd(C))
    return tuple(tf.cast(value, dtype) for value in target)


def layer_cost(style_loss, target, a_G, guide=None):
    """
    The style cost of one layer of the generated image (in one region) against a style_target.

    Arguments:
    style_loss -- 'gram' (guided_layer_style_cost), 'mean-cov' (costs.mean_cov_distance) or 'w2'
                  (costs.w2_distance)
    target -- from style_target
    a_G -- tensor of dimension (1, n_H, n_W, n_C), the generated image's activations
    guide -- None, or the region's mask at this layer, shape (n_H, n_W)

    Returns:
    J_style_layer -- scalar tensor
    """
    if style_loss == "gram":
        return guided_layer_style_cost(target[0], a_G, guide)
    mu_G, C_G = feature_moments(a_G, None if guide is None else tf.square(guide))
    if style_loss == "mean-cov":
        return mean_cov_distance(*target, mu_G, C_G)
    return w2_distance(*target, mu_G, C_G)


def style_regions(statistics, blend, style_loss, guides, names, layer_shapes, dtype=tf.float32):
    """
    Where each style acts and what it is matched against: GuidedStyleCost's regions, from the styles' statistics.

    With style masks, region k is where style k goes (times the content mask, if any), matched against style k's
    statistics; without, one region (the content mask, or the whole image) against the blend of the statistics.

    Arguments:
    statistics -- per style image, per layer: (mu, second) of style_statistics (whole, or summed tile by tile)
    blend -- one weight per style image, summing to 1
    style_loss -- one of costs.STYLE_LOSSES
    guides -- a Guides (content and style masks at the generated image's size)
    names -- the style layers' names
    layer_shapes -- dict: layer name -> (n_H, n_W) of the generated image's activation
    dtype -- the dtype of the targets

    Returns:
    regions -- list of (weight, targets: per layer a style_target, guides: per layer None or the region's layer_mask)
    """
    if style_loss not in STYLE_LOSSES:
        raise ValueError(f"unknown style loss {style_loss!r}; use one of {', '.join(STYLE_LOSSES)}")
    if guides.styles is None:
        blended = [
            [sum(w * stats[i][j] for w, stats in zip(blend, statistics)) for j in range(2)] for i in range(len(names))
        ]
        statistics, blend, masks = [blended], [1.0], [guides.content]
    else:
        masks = [mask if guides.content is None else mask * guides.content for mask in guides.styles]
    regions = []
    for weight, stats, region in zip(blend, statistics, masks):
        if region is not None and not np.any(region > 0):
            raise MaskError("a --style-masks region lies wholly outside --content-mask; it would get no style")
        targets = [style_target(style_loss, *layer_stats, dtype=dtype) for layer_stats in stats]
        layer_guides = [None if region is None else layer_mask(region, layer_shapes[name]) for name in names]
        regions.append((weight, targets, layer_guides))
    return regions


def layer_cost_of_moments(style_loss, target, mu_G, second_G):
    """
    layer_cost from the generated image's (guided) moments instead of its activations: what the tiles sum up.

    Arguments:
    style_loss -- 'gram', 'mean-cov' or 'w2'
    target -- from style_target
    mu_G -- the (guided) mean of the generated image's features, (n_C,)
    second_G -- their (guided) second moment, (n_C, n_C): guided_gram of the whole activation

    Returns:
    J_style_layer -- scalar tensor, equal to layer_cost's up to rounding
    """
    if style_loss == "gram":
        n_C = second_G.shape[-1]
        return tf.reduce_sum(tf.square(target[0] - second_G)) / (4.0 * n_C**2)
    C_G = second_G - mu_G[:, None] * mu_G[None, :]
    if style_loss == "mean-cov":
        return mean_cov_distance(*target, mu_G, C_G)
    return w2_distance(*target, mu_G, C_G)


class GuidedStyleCost:
    """J_style with region masks and any of the style losses: sum over layers l and regions k of
    coeff_l * w_k * J_style_layer(target_k_l, a_G_l, guide_k_l).

    With style masks, region k is where style k goes (times the content mask, if any), matched against style k's
    statistics (taken on its source mask, if any); w_k are the blend weights. Without, one region (the content mask,
    or the whole image) is matched against the blend of the styles' statistics (means and second moments averaged
    with the blend weights, as the article's Grams are). Outside a content mask the picture is the photo
    (masked_image).
    """

    def __init__(self, model, style_images, style_layers, layer_shapes, blend, style_loss="gram", guides=None):
        """
        Arguments:
        model -- a VGGModel
        style_images -- list of style images as the network sees them, (1, h, w, 3) each, any sizes
        style_layers -- list of (name, coeff), canonical names
        layer_shapes -- dict: layer name -> (n_H, n_W) of the generated image's activation
        blend -- one weight per style image, summing to 1
        style_loss -- one of costs.STYLE_LOSSES
        guides -- a Guides, or None
        """
        guides = guides or Guides()
        self.style_loss = style_loss
        self.style_layers = style_layers
        self.content_mask = guides.content
        names = [name for name, _ in style_layers]
        statistics = []  # per style: per layer (mu, second)
        for k, image in enumerate(style_images):
            source = None if guides.sources is None else guides.sources[k]
            activations = model(image, names)
            statistics.append(
                [
                    style_statistics(a_S, None if source is None else layer_mask(source, a_S.shape[1:3]))
                    for a_S in activations
                ]
            )
        self.regions = style_regions(statistics, blend, style_loss, guides, names, layer_shapes)

    def masked_image(self, generated_image, content_image):
        """
        The image the whole cost sees: the generated image inside the content mask, the photo outside.

        G' = m * G + (1 - m) * C. The pixels outside the mask (m = 0) then get no gradient from any cost, so they
        never move, and StyleTransfer writes the same blend: there the picture is the photo, whatever the starting
        image and the optimiser. (Masking only the style cost leaves those pixels to the content cost, whose
        gradient through conv4_2's wide receptive fields makes them follow the stylised region: Adam, which takes
        steps of about its learning rate whatever the gradient's size, moved them by 14 grey levels on average in
        30 steps on a 32x48 test.) It is a function of G, so J stays one cost with one gradient, as L-BFGS needs.

        Arguments:
        generated_image -- tensor of shape (1, n_H, n_W, 3)
        content_image -- the photo as the network sees it, same shape

        Returns:
        image -- generated_image itself when there is no content mask, else G'
        """
        if self.content_mask is None:
            return generated_image
        m = tf.constant(self.content_mask[None, ..., None])
        return m * generated_image + (1 - m) * content_image

    def __call__(self, activations):
        """
        The style cost of the generated image.

        Arguments:
        activations -- dict: style layer name -> the activation of the image masked_image returned

        Returns:
        J_style -- scalar tensor
        """
        J_style = 0.0
        for weight, targets, layer_guides in self.regions:
            for (name, coeff), target, guide in zip(self.style_layers, targets, layer_guides):
                J_style += weight * coeff * layer_cost(self.style_loss, target, activations[name], guide)
        return J_style


def listed(masks):
    """A mask or a list of masks, as a list."""
    return masks if isinstance(masks, list) else [masks]


def load_guides(options, size, style_size, shapes=None):
    """
    The options' masks, read and checked once: Guides at the output size (source masks at the style size).

    Arguments:
    options -- validated StyleOptions (content_mask, style_masks, style_source_masks, stretch_masks)
    size -- (height, width) of the output
    style_size -- (height, width) of the style images
    shapes -- None, or (content shape, [style shapes]): the (height, width) of the content and style images as
              given, which the masks' aspect ratios must match unless stretch_masks (default: size and style_size)

    Returns:
    guides -- a Guides, or None when no mask is given
    """
    if options.content_mask is None and options.style_masks is None:
        return None
    content_shape, style_shapes = shapes if shapes is not None else (size, None)
    stretch = options.stretch_masks
    sources = options.style_source_masks
    if sources is not None:
        sources = [
            load_mask(mask, style_size, "--style-source-masks", stretch, None if style_shapes is None else shape)
            for mask, shape in zip(sources, style_shapes or [None] * len(sources))
        ]
    return Guides(
        _masks_at(options.content_mask, size, "--content-mask", stretch, content_shape),
        _masks_at(options.style_masks, size, "--style-masks", stretch, content_shape),
        sources,
    )


def resize_guides(guides, size, style_size):
    """
    The masks of load_guides at one scale's size (and its style size).

    Arguments:
    guides -- a Guides, or None
    size -- (height, width) of the generated image at this scale
    style_size -- (height, width) of the style images at this scale

    Returns:
    guides -- a Guides of resized masks; None stays None
    """
    if guides is None:
        return None
    # Checked (or allowed to stretch) when read: another scale's rounding may change the ratio by a pixel.
    return Guides(
        _masks_at(guides.content, size, stretch=True),
        _masks_at(guides.styles, size, stretch=True),
        _masks_at(guides.sources, style_size, stretch=True),
    )


def _masks_at(masks, size, what="mask", stretch=False, reference=None):
    """One mask, or a list of them, through load_mask at `size`; None stays None."""
    if masks is None:
        return None
    if isinstance(masks, list):
        return [load_mask(mask, size, what, stretch, reference) for mask in masks]
    return load_mask(masks, size, what, stretch, reference)


def keep_content_outside(pixels, guides, content_pixels):
    """
    Outside the content mask the picture is the photo, as the cost saw it (GuidedStyleCost).

    Arguments:
    pixels -- the generated picture, float array (H, W, 3) in [0, 255]
    guides -- a Guides, or None
    content_pixels -- the content image, RGB array in [0, 255] (resized to the picture)

    Returns:
    pixels -- the picture inside the content mask blended with the photo outside it; unchanged without one
    """
    if guides is None or guides.content is None:
        return pixels
    mask = load_mask(guides.content, pixels.shape[:2], stretch=True)[..., None]
    return mask * pixels + (1 - mask) * load_pixels(content_pixels, pixels.shape[:2], what="content")
