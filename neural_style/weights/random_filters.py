"""He-initialised VGG-19 filters from a fixed seed, for a machine without the weight files."""

import numpy as np

from .filters import VGGWeights
from .published import CONV_LAYERS, RANDOM


def random_vgg_weights(seed=0, width_divisor=1):
    """
    He-initialised VGG-19 filters (normal, stddev sqrt(2 / fan_in)) with zero biases, from a fixed seed.

    Random filters still transfer texture (He, Wang & Hopcroft 2016), so the whole pipeline runs without a download;
    the results are demo quality.

    Arguments:
    seed -- seed of the generator; the same seed gives the same filters
    width_divisor -- divide every channel count by this (for small test networks)

    Returns:
    weights -- a VGGWeights with source 'random'
    """
    rng = np.random.default_rng(seed)
    layers = {}
    for name, (c_in, c_out) in CONV_LAYERS.items():
        c_in = 3 if name == "conv1_1" else c_in // width_divisor
        c_out = c_out // width_divisor
        std = np.sqrt(2.0 / (9 * c_in))
        kernel = rng.standard_normal((3, 3, c_in, c_out), dtype=np.float32) * np.float32(std)
        layers[name] = (kernel, np.zeros(c_out, np.float32))
    return VGGWeights(layers=layers, source=RANDOM)
