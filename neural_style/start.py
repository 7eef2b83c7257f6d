"""The image the optimisation starts from (option init), in the options' image range.

``start_image`` is what StyleTransfer starts each run from (and resizes from scale to scale); ``initial_image`` is
the article's starting image in the network's space.
"""

from .images import (
    generate_noise_image,
    generate_unit_noise_image,
    load_pixels,
    network_to_pixels,
    normalize_image,
    reshape_and_normalize_image,
)
from .options import INITS


def start_image(options, content_pixels, size):
    """
    The first image in the options' image range: initial_image's, or for 'unit' with init 'noise' the TF2
    course's (the content plus uniform(-0.25, 0.25) noise, clipped to [0, 1]).

    Arguments:
    options -- validated StyleOptions (init, seed, noise_ratio, image_range)
    content_pixels -- the content image, RGB array (H, W, 3) in [0, 255]
    size -- (height, width)

    Returns:
    image -- float32 array (1, height, width, 3)
    """
    if options.image_range == "mean":
        return initial_image(options, content_pixels, size)
    if isinstance(options.init, str) and options.init == "noise":
        content = normalize_image(load_pixels(content_pixels, size, what="content"), "unit")
        return generate_unit_noise_image(content, seed=options.seed)
    return normalize_image(network_to_pixels(initial_image(options, content_pixels, size)), "unit")


def initial_image(options, content_pixels, size):
    """
    The image the optimisation starts from (option init), in the network's space.

    noise: the article's generate_noise_image (uniform(-20, 20) noise mixed with the content by noise_ratio);
    content: the content image; random: the article's noise alone (noise_ratio 1), white noise around the mean
    pixel, as Gatys et al. start from; anything else: an image (path or array) resized to `size`.

    Arguments:
    options -- validated StyleOptions (init, seed, noise_ratio)
    content_pixels -- the content image, RGB array (H, W, 3) in [0, 255]
    size -- (height, width)

    Returns:
    image -- float32 array (1, height, width, 3)
    """
    init, seed = options.init, options.seed
    content = reshape_and_normalize_image(load_pixels(content_pixels, size, what="content"))
    if isinstance(init, str) and init in INITS:
        if init == "content":
            return content
        return generate_noise_image(content, 1.0 if init == "random" else options.noise_ratio, seed=seed)
    return reshape_and_normalize_image(load_pixels(init, size, what="--init image"))
