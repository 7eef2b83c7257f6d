"""The layers of the image-transformation network (network.py) that Keras does not have: the reflection padding
before each convolution, instance normalisation with its conditioning on the styles, and the decoder's upsampling.

- ReflectionPadding2D: pads by reflecting the picture at its edges, so that no convolution sees a zero border.
- InstanceNormalization (Ulyanov, Vedaldi & Lempitsky 2016): each picture's channels normalised by their own mean and
  variance, then scaled and shifted; with a scale and shift per style mixed by the style weights (conditional instance
  normalisation, Dumoulin, Shlens & Kudlur 2017), or an affine map of a style vector (Ghiasi et al. 2017); it takes
  the whole picture's statistics from outside for the tiled apply, and rounds where an int8 file does (quantize.py).
- upsample: nearest-neighbour x2, cropped to the encoder's level it returns to (no checkerboard artefacts, Odena et
  al. 2016).
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

from .quantize import round_at, rounding_points

PACKAGE = "neural_style"
# PyTorch's InstanceNorm2d default, which pytorch/examples' fast_neural_style uses.
EPSILON = 1e-5


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by reflecting the picture at its edges (no zero border for the convolution to see)."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        grow = [None if n is None else n + 2 * self.padding for n in input_shape[1:3]]
        return (input_shape[0], *grow, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class InstanceNormalization(keras.layers.Layer):
    """Each picture's channels normalised by their own mean and variance over height and width, then scaled and
    shifted by learned gamma and beta (Ulyanov, Vedaldi & Lempitsky 2016); with several styles, by a gamma and a beta
    per style, mixed by the style weights (conditional instance normalisation, Dumoulin et al. 2017); with "vector"
    conditioning, by an affine map of a style vector (Ghiasi et al. 2017).

    `quantization` (point -> [scale, zero point]) rounds the intermediate values where an int8 file does, in the
    file's order: scale = rsqrt(variance + epsilon) x gamma, then x x scale + (beta - mean x scale).
    """

    def __init__(self, epsilon=EPSILON, styles=1, conditioning="table", quantization=None, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.styles = int(styles)
        self.conditioning = conditioning
        self.quantization = rounding_points(quantization)

    def build(self, input_shape):
        shape = (self.styles, input_shape[-1])
        vector = self.conditioning == "vector"
        # A style vector's map starts at zero (gamma = g0 = 1); a table's styles start as the identity.
        self.gamma = self.add_weight(name="gamma", shape=shape, initializer="zeros" if vector else "ones")
        self.beta = self.add_weight(name="beta", shape=shape, initializer="zeros")
        if vector:
            self.gamma_offset = self.add_weight(name="gamma_offset", shape=shape[1:], initializer="ones")
            self.beta_offset = self.add_weight(name="beta_offset", shape=shape[1:], initializer="zeros")

    def _q(self, name, x):
        """x rounded at the point `name` as the file rounds it (unchanged where the file does not)."""
        return round_at(self.quantization, name, x)

    def scale_and_shift(self, style_weights):
        """
        Gamma and beta for the style weights.

        Arguments:
        style_weights -- None (the first style, or the offsets of a vector map), (batch, styles), or
                         (batch, H, W, styles) per position

        Returns:
        gamma, beta -- tensors broadcastable to the normalised values
        """
        vector = self.conditioning == "vector"
        if style_weights is None:
            if vector:
                return self.gamma_offset, self.beta_offset
            return self.gamma[0], self.beta[0]
        if len(style_weights.shape) == 2:
            # A mixture of the scales and shifts (not of the outputs): the same weights, one per picture.
            gamma = tf.matmul(style_weights, self.gamma)[:, None, None, :]
            beta = tf.matmul(style_weights, self.beta)[:, None, None, :]
        else:
            gamma = tf.einsum("bhws,sc->bhwc", style_weights, self.gamma)
            beta = tf.einsum("bhws,sc->bhwc", style_weights, self.beta)
        if vector:
            gamma, beta = gamma + self.gamma_offset, beta + self.beta_offset
        return gamma, beta

    def squared_deviations(self, x, mean):
        """
        What the variance averages: (x - mean) ** 2, rounded as the file rounds it (for the tiled apply, which
        gathers the average over the whole picture tile by tile).

        Arguments:
        x -- tensor (batch, H, W, C): the values this normalisation normalises
        mean -- the whole picture's mean, broadcastable to x

        Returns:
        squares -- tensor like x
        """
        return self._q("squares", tf.square(x - self._q("mean", mean)))

    def call(self, x, statistics=None, style_weights=None):
        """
        Arguments:
        x -- tensor (batch, H, W, C)
        statistics -- None (each picture's own), or (mean, variance), each broadcastable to (batch, 1, 1, C): the
                      whole picture's, when x is one tile of it (variance: the average of squared_deviations)
        style_weights -- None (the first style: the only one of a single-style network), (batch, styles) a mixture per
                         picture, or (batch, H, W, styles) a mixture per position of x

        Returns:
        y -- gamma * (x - mean) / sqrt(variance + epsilon) + beta, gamma and beta the style weights' mixture of the
             styles' own
        """
        gamma, beta = self.scale_and_shift(style_weights)
        if not self.quantization:
            if statistics is None:
                mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
            else:
                mean, variance = statistics
            return (x - mean) * tf.math.rsqrt(variance + self.epsilon) * gamma + beta
        q = self._q
        if statistics is None:
            # Averages in float64, as the tiled apply gathers them: a rounded statistic then flips between the two
            # only at an exact tie.
            mean = _average(x)
            variance = _average(self.squared_deviations(x, mean))
        else:
            mean, variance = statistics
        mean = q("mean", mean)
        variance = q("variance", variance)
        rstd = q("rsqrt", 1.0 / tf.sqrt(q("variance_epsilon", variance + self.epsilon)))
        scale = q("scale", rstd * q("gamma", gamma))
        shift = q("shift", q("beta", beta) - q("mean_scale", mean * scale))
        return q("scaled", x * scale) + shift

    def load_own_variables(self, store):
        # Files written before the per-style scales held gamma and beta of shape (C,): one style's, read as (1, C).
        for key, variable in zip(("0", "1", "2", "3"), self.weights):
            variable.assign(np.reshape(np.asarray(store[key]), variable.shape))

    def get_config(self):
        config = {**super().get_config(), "epsilon": self.epsilon, "styles": self.styles}
        if self.conditioning != "table":
            config["conditioning"] = self.conditioning
        if self.quantization:
            config["quantization"] = self.quantization
        return config


# TFLite has no float64 mean: an export traces the network with float32 averages (statistics_in_float32).
_FLOAT32_AVERAGES = []


@contextlib.contextmanager
def statistics_in_float32():
    """
    Within it, a network that rounds as an int8 file averages in float32, which TFLite can run (export.py traces the
    network for its converter inside it); outside it, in float64, as the tiled apply gathers the statistics.

    Returns:
    a context manager
    """
    _FLOAT32_AVERAGES.append(True)
    try:
        yield
    finally:
        _FLOAT32_AVERAGES.pop()


def _average(x):
    """Each picture's channel means over height and width, summed in float64, as float32 (batch, 1, 1, C)."""
    if _FLOAT32_AVERAGES:
        return tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    return tf.cast(tf.reduce_mean(tf.cast(x, tf.float64), axis=[1, 2], keepdims=True), tf.float32)


def upsample(x, like):
    """
    Nearest-neighbour x2, cropped to the height and width of `like` (the encoder's level it returns to): row i and
    column j of the result are row i // 2 and column j // 2 of x, gathered (a gather keeps the channel count known to
    TFLite's converter, which a slice with computed bounds does not).

    Arguments:
    x -- tensor (batch, h, w, C): a decoder stage's input
    like -- tensor (batch, H, W, ...) with ceil(H / 2) = h and ceil(W / 2) = w: the level the stage returns to

    Returns:
    upsampled -- tensor (batch, H, W, C)
    """
    rows = tf.range(tf.shape(like)[1]) // 2
    cols = tf.range(tf.shape(like)[2]) // 2
    return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)


__all__ = [
    "EPSILON",
    "PACKAGE",
    "InstanceNormalization",
    "ReflectionPadding2D",
    "statistics_in_float32",
    "upsample",
]
