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
        # Two gathers, not tf.pad's MirrorPad: the same values, in about 60% of its time on a CPU (MirrorPad copies
        # element by element; a gather copies whole rows and channel vectors).
        rows = reflection_indices(tf.shape(x)[1], self.padding)
        cols = reflection_indices(tf.shape(x)[2], self.padding)
        return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)

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

    def call(self, x, statistics=None, style_weights=None, training=None):
        """
        Arguments:
        x -- tensor (batch, H, W, C)
        statistics -- None (each picture's own), or (mean, variance), each broadcastable to (batch, 1, 1, C): the
                      whole picture's, when x is one tile of it (variance: the average of squared_deviations)
        style_weights -- None (the first style: the only one of a single-style network), (batch, styles) a mixture per
                         picture, or (batch, H, W, styles) a mixture per position of x
        training -- True while training (Keras passes it down): each picture's own statistics by the fused op in
                    training mode, whose gradient flows through the mean and variance (in inference mode the op
                    takes them as constants, and instance_statistics' exactness matters only at sizes far beyond a
                    training crop's)

        Returns:
        y -- gamma * (x - mean) / sqrt(variance + epsilon) + beta, gamma and beta the style weights' mixture of the
             styles' own
        """
        gamma, beta = self.scale_and_shift(style_weights)
        if not self.quantization:
            if x.shape[0] is not None and _one_per_channel(statistics, x.shape[-1]) and not tracing_for_tflite():
                return self._fused(x, statistics, gamma, beta, training=bool(training))
            if statistics is None and training:
                mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
            elif statistics is None:
                mean, variance = instance_statistics(x, float64=not tracing_for_tflite())
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

    def _fused(self, x, statistics, gamma, beta, training=False):
        """
        Each picture normalised by one fused op (FusedBatchNormV3 in inference mode, given the mean and variance: one
        pass over the values where a subtraction and a product take two). Without statistics, each picture's own come
        from instance_statistics (row sums in float32, then float64 across rows, as the streamed tiles gather them):
        the op's own (is_training=True) are float32 sums over every position, off by more than a deviation at
        2048 x 2048 about a mean of 100. While training, the op computes them itself (training mode), because only
        then does its gradient include the statistics' own terms (inference mode's gradient takes the mean and
        variance as constants). A per-position gamma and beta (style masks) or per picture scale the normalised values
        after it.
        """
        channels = x.shape[-1]
        # Scaled and shifted after the fused op whatever the weights' shape, so that a uniform mask, a mixture, a
        # one-hot choice and a single-style network with the same scales round alike (the op's own scaling rounds
        # otherwise, and a network amplifies one rounding's difference to hundredths of a grey level).
        own = statistics is None and training
        if own:
            means = variances = tf.zeros([x.shape[0], 0], tf.float32)
        elif statistics is None:
            # Each picture's own, (batch, C).
            means, variances = (tf.reshape(s, [-1, channels]) for s in instance_statistics(x))
        else:
            mean, variance = (tf.broadcast_to(tf.reshape(tf.cast(s, tf.float32), [-1]), [channels]) for s in statistics)
            means, variances = tf.stack([mean] * x.shape[0]), tf.stack([variance] * x.shape[0])
        pictures = []
        for index in range(x.shape[0]):
            picture = x if x.shape[0] == 1 else x[index : index + 1]
            normalised = tf.raw_ops.FusedBatchNormV3(
                x=picture,
                scale=tf.ones([channels]),
                offset=tf.zeros([channels]),
                mean=means[index],
                variance=variances[index],
                epsilon=self.epsilon,
                exponential_avg_factor=1.0,
                data_format="NHWC",
                is_training=own,
            )[0]
            pictures.append(normalised)
        normalised = pictures[0] if len(pictures) == 1 else tf.concat(pictures, axis=0)
        return normalised * gamma + beta

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


def instance_statistics(x, float64=True):
    """
    Each picture's channel means and variances over height and width, exact enough at any size: each row's sum in
    float32 (W values), the rows' sums in float64 (H values), as the streamed tiles gather them (stream.Moments); the
    variance in a second pass, the average of (x - mean) ** 2 about the float32 mean, summed the same way and corrected
    by the square of that mean's rounding. A float32 sum's error grows with its count: one flat sum over the whole
    picture (FusedBatchNormV3's, tf.nn.moments') was off by more than a deviation at 2048 x 2048 about a mean of 100;
    a row's sum is off by at most (W - 1) x 2^-24 of the sum of its magnitudes, the float64 sum across rows adds next
    to nothing.

    Arguments:
    x -- tensor (batch, H, W, C), float32
    float64 -- True: the rows' sums in float64; False: in float32 too (for TFLite, which has no float64; two levels of
               float32 sums, W and then H values, are still far closer than one flat sum of H x W)

    Returns:
    mean, variance -- float32 tensors (batch, 1, 1, C)
    """
    x = tf.convert_to_tensor(x, tf.float32)
    across = tf.float64 if float64 else tf.float32
    count = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], across)

    def average(values):
        # Each row's sum in float32 (a reduction of W values), then the rows' sum in `across`.
        rows = tf.reduce_sum(values, axis=2, keepdims=True)
        return tf.reduce_sum(tf.cast(rows, across), axis=1, keepdims=True) / count

    exact_mean = average(x)
    mean = tf.cast(exact_mean, tf.float32)
    # Two passes: the squares of the deviations from the mean, not x ** 2 less the mean's square (whose digits a large
    # mean cancels); about the float32 mean, whose offset from the exact one adds its square to the average.
    variance = average(tf.math.squared_difference(x, mean))
    if float64:
        variance = tf.maximum(variance - tf.square(exact_mean - tf.cast(mean, across)), 0.0)
    return mean, tf.cast(variance, tf.float32)


def _one_per_channel(statistics, channels):
    """Whether statistics (None, or (mean, variance)) hold one value, or one per channel, for every picture."""
    if statistics is None:
        return True
    sizes = {int(np.prod(np.shape(s))) for s in statistics}
    return sizes <= {1, channels}


def float_convolution(conv, x, precision="float32"):
    """
    A Keras Conv2D of x (already padded), as conv(x) computes it: its kernel over x, plus its bias. A convolution to
    few channels runs over the picture's 2 x 2 blocks (convolve_by_blocks: several times faster with oneDNN), except
    when traced for TFLite.

    Arguments:
    conv -- a built keras.layers.Conv2D with "valid" padding
    x -- tensor (batch, H, W, cin), float32
    precision -- "float32", or "bfloat16": x and the kernel rounded to bfloat16 and summed in float32 (oneDNN's
                 bfloat16 kernels), the result float32

    Returns:
    y -- float32 tensor (batch, H', W', filters)
    """
    kernel = conv.kernel
    if precision == "bfloat16":
        x, kernel = tf.cast(x, tf.bfloat16), tf.cast(kernel, tf.bfloat16)
    blocks = conv.filters < FEW_OUTPUTS and conv.kernel_size[0] > 3 and conv.strides == (1, 1)
    if blocks and not tracing_for_tflite():
        y = convolve_by_blocks(x, kernel)
    else:
        y = tf.nn.conv2d(x, kernel, conv.strides, "VALID")
    y = tf.cast(y, tf.float32)
    return y + conv.bias if conv.use_bias else y


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


def tracing_for_tflite():
    """
    Whether the network is being traced for TFLite's converter (within statistics_in_float32): then it keeps to the
    ops TFLite has built in (statistics of float32 sums, plain convolutions), not the fused and blocked ones that are
    faster on a CPU.

    Returns:
    True or False
    """
    return bool(_FLOAT32_AVERAGES)


def _average(x):
    """Each picture's channel means over height and width, summed in float64, as float32 (batch, 1, 1, C)."""
    if _FLOAT32_AVERAGES:
        return tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    return tf.cast(tf.reduce_mean(tf.cast(x, tf.float64), axis=[1, 2], keepdims=True), tf.float32)


def reflection_indices(size, padding):
    """
    The rows (or columns) a reflection padding reads: -p .. size + p - 1 reflected at 0 and size - 1 (numpy's
    "reflect": the edge itself is not repeated).

    Arguments:
    size -- the side (an int or a scalar tensor), more than `padding`
    padding -- pixels added on each side

    Returns:
    indices -- int32 tensor (size + 2 x padding,)
    """
    last = size - 1
    return last - tf.abs(last - tf.abs(tf.range(-padding, size + padding)))


def upsample(x, like, padding=0):
    """
    Nearest-neighbour x2, cropped to the height and width of `like` (the encoder's level it returns to): row i and
    column j of the result are row i // 2 and column j // 2 of x, gathered (a gather keeps the channel count known to
    TFLite's converter, which a slice with computed bounds does not). With `padding`, the result is also padded by
    reflection in the same gathers (what ReflectionPadding2D(padding) of the upsampled picture gives, without the
    copy a padding of its own makes).

    Arguments:
    x -- tensor (batch, h, w, C): a decoder stage's input
    like -- tensor (batch, H, W, ...) with ceil(H / 2) = h and ceil(W / 2) = w: the level the stage returns to
    padding -- pixels of reflection padding on each side of the upsampled picture (0: none)

    Returns:
    upsampled -- tensor (batch, H + 2 x padding, W + 2 x padding, C)
    """
    rows = reflection_indices(tf.shape(like)[1], padding) // 2
    cols = reflection_indices(tf.shape(like)[2], padding) // 2
    return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)


# A convolution with fewer output channels than this runs on a CPU at a fraction of its rate (oneDNN's kernels fill
# vector registers with output channels: a 9x9 32 -> 3 convolution ran at 41 GFLOP/s where the 32 -> 64 ones ran at
# 220); as a convolution of the picture's 2 x 2 blocks it has 4 times the outputs and runs near the full rate.
FEW_OUTPUTS = 8


def space_to_depth_kernel(kernel, block=2):
    """
    The kernel of a stride-1 convolution rewritten for the picture's block x block blocks: the same convolution, as
    one over tf.nn.space_to_depth(x, block) whose outputs tf.nn.depth_to_space(..., block) puts back in place.

    Arguments:
    kernel -- tensor (k, k, cin, cout)
    block -- the blocks' side

    Returns:
    kernel -- tensor (kk, kk, block^2 cin, block^2 cout), kk = ceil((k + block - 1) / block): output (oy, ox) of a
              block reads input rows and columns oy .. oy + k - 1 of the blocks' grid
    """
    k, cin, cout = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    kk = -(-(k + block - 1) // block)
    shifted = []
    for oy in range(block):
        for ox in range(block):
            # Output (oy, ox) of a block: the kernel moved by (oy, ox) in a kk x block window, zeros elsewhere.
            moved = tf.pad(kernel, [[oy, kk * block - k - oy], [ox, kk * block - k - ox], [0, 0], [0, 0]])
            moved = tf.reshape(moved, [kk, block, kk, block, cin, cout])
            shifted.append(tf.reshape(tf.transpose(moved, [0, 2, 1, 3, 4, 5]), [kk, kk, block * block * cin, cout]))
    # depth_to_space's channel order: (oy, ox, c).
    return tf.reshape(tf.stack(shifted, axis=-2), [kk, kk, block * block * cin, block * block * cout])


def convolve_by_blocks(x, kernel, block=2):
    """
    tf.nn.conv2d(x, kernel, 1, "VALID") computed over the picture's block x block blocks (space_to_depth_kernel): the
    same sums in another order, within float32 rounding, at several times the speed where kernel has few outputs.

    Arguments:
    x -- tensor (batch, H, W, cin), already padded
    kernel -- tensor (k, k, cin, cout), of x's dtype
    block -- the blocks' side

    Returns:
    y -- tensor (batch, H - k + 1, W - k + 1, cout)
    """
    k = kernel.shape[0]
    height, width = tf.shape(x)[1] - k + 1, tf.shape(x)[2] - k + 1
    kk = -(-(k + block - 1) // block)
    # Rows and columns up to whole blocks covering every output's window; the zeros added meet zero kernel entries
    # or give outputs that are cropped.
    grow = [block * ((n + block - 1) // block + kk - 1) - (n + k - 1) for n in (height, width)]
    x = tf.pad(x, [[0, 0], [0, grow[0]], [0, grow[1]], [0, 0]])
    y = tf.nn.conv2d(tf.nn.space_to_depth(x, block), space_to_depth_kernel(kernel, block), 1, "VALID")
    return tf.nn.depth_to_space(y, block)[:, :height, :width]


__all__ = [
    "EPSILON",
    "FEW_OUTPUTS",
    "PACKAGE",
    "InstanceNormalization",
    "ReflectionPadding2D",
    "convolve_by_blocks",
    "float_convolution",
    "instance_statistics",
    "reflection_indices",
    "space_to_depth_kernel",
    "statistics_in_float32",
    "tracing_for_tflite",
    "upsample",
]
