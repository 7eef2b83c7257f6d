"""Small style transfers that the stylize, checkpoint and optimisation tests share: 24x32 pictures, the .mat fixture."""

import dataclasses
import functools

import numpy as np

from neural_style.stylize import StyleTransfer
from neural_style.weights import random_vgg_weights

HEIGHT, WIDTH = 24, 32

EPS = 2.0**-24  # float32's unit roundoff
# How far two float32 computations of the cost and of its gradient on the fixture's network (channels 4 to 32, up
# to 32x32 pixels) may differ when they sum in other orders: traced or eager, XLA, another CPU's oneDNN kernels, or
# none. The cost's chain of sums: the convolutions up to conv5_4 sum 9 C_in terms each (27 + 36 + 36 + 72 + 72 +
# 3*144 + 144 + 3*288 + 4*288 = 2835), a pool 4, a Gram entry <= 1024 positions, the style cost <= 32^2 entries:
# n <= 5000 (the gradient runs the chain back again: n <= 10000). The style cost's GS - GG cancels: a relative error
# in GG grows by kappa = |GG| / |GS - GG| <= 16 (measured in float64 over these runs' iterates: a property of the
# images, not of a CPU). The worst case, 2 n eps kappa, is 1e-2 for the cost, 2e-2 for the gradient: as wide as
# the effects tested (an Adam step at lr 60 moves a pixel by at most 60, a 1% wrong rate by 0.6). Rounding errors
# of round-to-nearest behave as independent and zero-mean, and then a sum of n terms is within
# lambda sqrt(n) eps sum|terms| of the exact one with probability >= 1 - 2 n exp(-lambda^2 / 2) (Higham and Mary,
# SIAM J. Sci. Comput. 41(5), 2019): with lambda = 10, two orders differ by <= 2 * 10 sqrt(n) eps kappa. sum|terms|
# is the cost itself (sums of squares) and, for the gradient, its largest entry. Measured on an Intel Xeon (AMX):
# 3e-7 of the cost and of max|g| between eager, traced and XLA.
COST_ROUNDING = 2 * 10 * 5000**0.5 * EPS * 16  # 1.3e-3, relative; an Adam step changes the cost by >= 6% here
GRADIENT_ROUNDING = 2 * 10 * 10000**0.5 * EPS * 16  # 1.9e-3, relative to the largest gradient entry

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
