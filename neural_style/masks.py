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
statistics (Gram, or mean and covariance and its square root) are computed once, per style and region; each loss's
target and cost are its own (style_losses).
``load_guides`` reads the options' masks once for StyleTransfer, ``resize_guides`` brings them to each scale.
"""

import collections
import os

import numpy as np
import tensorflow as tf

from . import style_losses
from .costs import feature_moments
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


def style_regions(statistics, blend, loss, guides, names, layer_shapes, dtype=tf.float32):
    """
    Where each style acts and what it is matched against: GuidedStyleCost's regions, from the styles' statistics.

    With style masks, region k is where style k goes (times the content mask, if any), matched against style k's
    statistics; without, one region (the content mask, or the whole image) against the blend of the statistics.

    Arguments:
    statistics -- per style image, per layer: (mu, second) of style_statistics (whole, or summed tile by tile)
    blend -- one weight per style image, summing to 1
    loss -- the style loss (style_losses.lookup)
    guides -- a Guides (content and style masks at the generated image's size)
    names -- the style layers' names
    layer_shapes -- dict: layer name -> (n_H, n_W) of the generated image's activation
    dtype -- the dtype of the targets

    Returns:
    regions -- list of (weight, targets: per layer the loss's target in `dtype`, guides: per layer None or the
               region's layer_mask)
    """
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
        # The targets are computed from the float64 statistics, then cast: once per run.
        targets = [tuple(tf.cast(value, dtype) for value in loss.target(*layer_stats)) for layer_stats in stats]
        layer_guides = [None if region is None else layer_mask(region, layer_shapes[name]) for name in names]
        regions.append((weight, targets, layer_guides))
    return regions


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
        style_loss -- one of style_losses.NAMES
        guides -- a Guides, or None
        """
        guides = guides or Guides()
        self.loss = style_losses.lookup(style_loss)
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
        self.regions = style_regions(statistics, blend, self.loss, guides, names, layer_shapes)

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
                J_style += weight * coeff * self.loss.cost(target, activations[name], guide)
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
