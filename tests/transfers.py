"""Small style transfers that the stylize, checkpoint and optimisation tests share: 24x32 pictures, the .mat fixture."""

import dataclasses
import functools

import numpy as np

from neural_style.stylize import StyleTransfer
from neural_style.weights import random_vgg_weights

HEIGHT, WIDTH = 24, 32

# The StyleOptions fields that a resumed run may change (field metadata resume=MAY_CHANGE), as the tests expect them.
MAY_CHANGE_ON_RESUME = {
    "weights",
    "height",
    "width",
    "max_size",
    "init",
    "noise_ratio",
    "seed",
    "save_every",
    "output_dir",
    "checkpoint_every",
    "resume",
    "jit_compile",
    # The tiles and the memory budget give the same costs and steps; the bit depth is how the result is written.
    "tile_size",
    "max_memory",
    "bit_depth",
    # Where the run's TensorBoard events go: watching a run does not change it.
    "tensorboard",
}


def pictures(seed=0):
    """Smooth content, busy style, as RGB arrays in [0, 255]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    content = np.stack([x * 8, y * 10, (x + y) * 4], -1).clip(0, 255).astype(np.float32)
    style = rng.integers(0, 256, (HEIGHT, WIDTH, 3)).astype(np.float32)
    return content, style


def transfer(weights, **options):
    """A StyleTransfer of pictures() at HEIGHT x WIDTH, seed 1, without XLA; options override those."""
    content, style = pictures()
    options = {"height": HEIGHT, "width": WIDTH, "seed": 1, "jit_compile": False, **options}
    return StyleTransfer(content, style, weights=weights, **options)


@functools.lru_cache(maxsize=None)
def weights_with_biases():
    """Small random filters with non-zero biases: with zero biases a zero-padded image would hide padding errors."""
    weights = random_vgg_weights(seed=0, width_divisor=32)
    rng = np.random.default_rng(1)
    layers = {
        name: (kernel, rng.standard_normal(bias.shape).astype(np.float32) * 0.5)
        for name, (kernel, bias) in weights.layers.items()
    }
    return dataclasses.replace(weights, layers=layers)
