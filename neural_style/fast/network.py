"""Johnson, Alahi & Fei-Fei's (2016) image-transformation network, as a Keras model that any picture size goes through.

9x9 convolution to 32 channels, two stride-2 3x3 convolutions to 64 and 128, five residual blocks of 128, two
upsampling stages (nearest-neighbour x2, then a 3x3 convolution: no checkerboard artefacts, Odena et al. 2016), a
9x9 convolution to RGB. Every convolution but the last is followed by instance normalisation (Ulyanov et al. 2016)
and a ReLU, and pads by reflection. Pixels in and out are RGB in 0..255.

Any height and width: a stride-2 convolution gives ceil(n / 2) positions, and each upsampling stage crops its x2
result to the size of the encoder's level it returns to. For the tiled apply (apply.py) the network can take each
instance normalisation's statistics from outside, and stop at a normalisation to hand out what it would normalise.

Many styles in one network (Dumoulin, Shlens & Kudlur 2017, "conditional instance normalisation"): every instance
normalisation has a scale and a shift per style, (styles, C) each, and everything else is shared. The network takes
the styles' weights as a second input, (batch, styles), one-hot for one style; a convex mixture mixes the scales and
shifts, hence the styles. Weights of shape (batch, H, W, styles) give each pixel its own mixture (a style per region);
each normalisation sees them averaged over the 2 x 2 or 4 x 4 blocks of its level. A single-style network is the
case styles = 1, where the weights may be left out.
"""

import keras
import numpy as np
import tensorflow as tf

PACKAGE = "neural_style"
# (filters, kernel, stride) of the encoder; the residual blocks' convolutions; the decoder's (filters, kernel).
ENCODER = ((32, 9, 1), (64, 3, 2), (128, 3, 2))
RESIDUAL_BLOCKS = 5
DECODER = ((64, 3), (32, 3))
OUTPUT_KERNEL = 9
# PyTorch's InstanceNorm2d default, which pytorch/examples' fast_neural_style uses.
EPSILON = 1e-5
# The count of instance normalisations: one per encoder convolution, two per residual block, one per decoder stage.
NORMS = len(ENCODER) + 2 * RESIDUAL_BLOCKS + len(DECODER)
# Positions of the deepest level are 2 ** DOWNSAMPLINGS pixels apart.
DOWNSAMPLINGS = sum(stride == 2 for _, _, stride in ENCODER)
# The smallest side the reflection paddings allow (a reflection pad must be shorter than the side it reflects); the
# apply functions pad smaller pictures up to it by repeating their edge, then crop.
MIN_SIDE = OUTPUT_KERNEL // 2 + 1


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
    per style, mixed by the style weights (conditional instance normalisation, Dumoulin et al. 2017)."""

    def __init__(self, epsilon=EPSILON, styles=1, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.styles = int(styles)

    def build(self, input_shape):
        shape = (self.styles, input_shape[-1])
        self.gamma = self.add_weight(name="gamma", shape=shape, initializer="ones")
        self.beta = self.add_weight(name="beta", shape=shape, initializer="zeros")

    def call(self, x, statistics=None, style_weights=None):
        """
        Arguments:
        x -- tensor (batch, H, W, C)
        statistics -- None (each picture's own), or (mean, variance), each broadcastable to (batch, 1, 1, C): the
                      whole picture's, when x is one tile of it
        style_weights -- None (the first style: the only one of a single-style network), (batch, styles) a mixture per
                         picture, or (batch, H, W, styles) a mixture per position of x

        Returns:
        y -- gamma * (x - mean) / sqrt(variance + epsilon) + beta, gamma and beta the style weights' mixture of the
             styles' own
        """
        if statistics is None:
            mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        else:
            mean, variance = statistics
        if style_weights is None:
            gamma, beta = self.gamma[0], self.beta[0]
        elif len(style_weights.shape) == 2:
            # A mixture of the scales and shifts (not of the outputs): the same weights, one per picture.
            gamma = tf.matmul(style_weights, self.gamma)[:, None, None, :]
            beta = tf.matmul(style_weights, self.beta)[:, None, None, :]
        else:
            gamma = tf.einsum("bhws,sc->bhwc", style_weights, self.gamma)
            beta = tf.einsum("bhws,sc->bhwc", style_weights, self.beta)
        return (x - mean) * tf.math.rsqrt(variance + self.epsilon) * gamma + beta

    def load_own_variables(self, store):
        # Files written before the per-style scales held gamma and beta of shape (C,): one style's, read as (1, C).
        for key, variable in zip(("0", "1"), (self.gamma, self.beta)):
            variable.assign(np.reshape(np.asarray(store[key]), variable.shape))

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "styles": self.styles}


def _upsample(x, like):
    """
    Nearest-neighbour x2, cropped to the height and width of `like` (the encoder's level it returns to): row i and
    column j of the result are row i // 2 and column j // 2 of x, gathered (a gather keeps the channel count known to
    TFLite's converter, which a slice with computed bounds does not).
    """
    rows = tf.range(tf.shape(like)[1]) // 2
    cols = tf.range(tf.shape(like)[2]) // 2
    return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformNet(keras.Model):
    """The image-transformation network: model(pictures) or model((pictures, style_weights)) -> stylised pictures,
    (batch, H, W, 3) RGB in 0..255; style_weights (batch, styles) or (batch, H, W, styles), one-hot for one style.

    `styles` (how many), `settings` (the training's options) and `style_digests` (sha256 of each style picture, in
    the order of the style weights) travel in the .keras file.
    """

    def __init__(self, styles=1, settings=None, style_digests=None, style_digest=None, **kwargs):
        super().__init__(**kwargs)
        self.styles = int(styles)
        self.settings = dict(settings or {})
        # style_digest: one style's, as single-style models before conditional normalisation were saved.
        digests = style_digests if style_digests is not None else [style_digest] if style_digest else []
        self.style_digests = list(digests)
        self.pads, self.convs, self.norms = [], [], []
        for index, (filters, kernel, stride) in enumerate(convolutions()):
            self.pads.append(ReflectionPadding2D(kernel // 2, name=f"pad{index}"))
            # No bias: the instance normalisation after it subtracts every per-channel constant.
            self.convs.append(keras.layers.Conv2D(filters, kernel, stride, use_bias=False, name=f"conv{index}"))
            self.norms.append(InstanceNormalization(styles=self.styles, name=f"norm{index}"))
        self.output_pad = ReflectionPadding2D(OUTPUT_KERNEL // 2, name="pad_out")
        self.output_conv = keras.layers.Conv2D(3, OUTPUT_KERNEL, name="conv_out")

    def build(self, input_shape=None):
        channels = 3
        for conv, norm in zip(self.convs, self.norms):
            conv.build((None, None, None, channels))
            channels = conv.filters
            norm.build((None, None, None, channels))
        self.output_conv.build((None, None, None, channels))
        self.built = True

    @property
    def style_digest(self):
        """The style picture's sha256 of a single-style network (None for several styles)."""
        return self.style_digests[0] if len(self.style_digests) == 1 else None

    def _block(self, index, x, statistics, stop_at, weights=None):
        """Convolution `index`, then its normalisation; (x, None), or (None, pre-norm value) at `stop_at`."""
        x = self.convs[index](self.pads[index](x))
        if stop_at == index:
            return None, x
        level_weights = weights[LEVELS[index]] if weights else None
        return self.norms[index](x, statistics[index] if statistics else None, level_weights), None

    def style_weights_by_level(self, style_weights):
        """
        The style weights as each level's normalisations take them.

        Arguments:
        style_weights -- None, (batch, styles), or (batch, H, W, styles) per pixel

        Returns:
        weights -- None, or a list of DOWNSAMPLINGS + 1 tensors: the same (batch, styles) for every level, or the
                   per-pixel weights averaged over the 2 ** level x 2 ** level blocks that start at each position of
                   the level (an average pool whose edge blocks count only their pixels, so ceil(n / 2) positions)
        """
        if style_weights is None:
            return None
        style_weights = tf.cast(style_weights, tf.float32)
        if len(style_weights.shape) == 2:
            return [style_weights] * (DOWNSAMPLINGS + 1)
        weights = [style_weights]
        for _ in range(DOWNSAMPLINGS):
            weights.append(tf.nn.avg_pool2d(weights[-1], 2, 2, "SAME"))
        return weights

    def call(self, inputs, statistics=None, stop_at=None):
        """
        Stylises pictures.

        Arguments:
        inputs -- tensor (batch, H, W, 3), RGB in 0..255 (H, W >= MIN_SIDE), or a pair (pictures, style_weights):
                  style_weights (batch, styles) convex weights of the styles (one-hot: one style), or
                  (batch, H, W, styles) a mixture per pixel; pictures alone take the first style
        statistics -- None, or a list of NORMS entries (mean, variance) for the instance normalisations (tiled
                      apply: the whole picture's); an entry None takes the input's own
        stop_at -- None, or the index of a normalisation: return the value it would normalise instead

        Returns:
        outputs -- tensor (batch, H, W, 3), RGB in about 0..255 (not clipped), or the value at `stop_at`
        """
        pictures, style_weights = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        weights = self.style_weights_by_level(style_weights)
        x = tf.cast(pictures, tf.float32) / 255.0
        # The picture at each level a stride-2 convolution leaves: the decoder's stages crop to their sizes.
        levels = []
        for index, (_, _, stride) in enumerate(ENCODER):
            if stride == 2:
                levels.append(x)
            x, stopped = self._block(index, x, statistics, stop_at, weights)
            if stopped is not None:
                return stopped
            x = tf.nn.relu(x)
        index = len(ENCODER)
        for _ in range(RESIDUAL_BLOCKS):
            skip = x
            x, stopped = self._block(index, x, statistics, stop_at, weights)
            if stopped is not None:
                return stopped
            x, stopped = self._block(index + 1, tf.nn.relu(x), statistics, stop_at, weights)
            if stopped is not None:
                return stopped
            x = x + skip
            index += 2
        for like in reversed(levels):
            x, stopped = self._block(index, _upsample(x, like), statistics, stop_at, weights)
            if stopped is not None:
                return stopped
            x = tf.nn.relu(x)
            index += 1
        # Centred on mid-grey, one unit of the last convolution is half the range: an untrained network gives grey.
        return self.output_conv(self.output_pad(x)) * 127.5 + 127.5

    def compute_output_shape(self, input_shape):
        return input_shape[0] if isinstance(input_shape, (tuple, list)) and len(input_shape) == 2 else input_shape

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "styles": self.styles,
            "settings": self.settings,
            "style_digests": self.style_digests,
        }


def convolutions():
    """
    The network's normalised convolutions in order: the encoder's, the residual blocks' (two each), the decoder's.

    Returns:
    plan -- list of NORMS (filters, kernel, stride); each is followed by an instance normalisation of `filters`
            channels (the 9x9 convolution to RGB after them is not in the list)
    """
    plan = [(f, k, s) for f, k, s in ENCODER] + [(ENCODER[-1][0], 3, 1)] * (2 * RESIDUAL_BLOCKS)
    return plan + [(f, k, 1) for f, k in DECODER]


def norm_levels():
    """
    The level of each instance normalisation: its positions are 2 ** level pixels apart.

    Returns:
    levels -- list of NORMS ints: 0, 1, 2 (encoder), 2 for every residual one, then 1, 0 (decoder)
    """
    encoder = [sum(stride == 2 for _, _, stride in ENCODER[: i + 1]) for i in range(len(ENCODER))]
    decoder = [DOWNSAMPLINGS - 1 - i for i in range(len(DECODER))]
    return encoder + [DOWNSAMPLINGS] * (2 * RESIDUAL_BLOCKS) + decoder


LEVELS = norm_levels()


def network_reach():
    """
    The tile geometry of the network: its total stride, and the margin that makes a tile's core exact.

    Along an edge of a window that is not the picture's, its reflection padding differs from the picture's pixels:
    each k x k convolution at a level makes k // 2 more positions wrong there, a stride-2 one leaves
    ceil((wrong + k // 2) / 2) at the next level, an x2 upsampling doubles them. The margin is the wrong pixels at the
    output, rounded up to the stride (windows start at multiples of it, so every stride-2 convolution samples the
    positions the whole picture gives).

    Returns:
    stride -- 2 ** DOWNSAMPLINGS (4)
    margin -- pixels of context each side of a core
    """
    wrong = 0
    for _, kernel, stride in ENCODER:
        wrong = -(-(wrong + kernel // 2) // stride)
    wrong += 2 * RESIDUAL_BLOCKS
    for _, kernel in DECODER:
        wrong = 2 * wrong + kernel // 2
    wrong += OUTPUT_KERNEL // 2
    stride = 1 << DOWNSAMPLINGS
    return stride, -(-wrong // stride) * stride


def build_transform_net(settings=None, style_digest=None, seed=None, styles=1, style_digests=None):
    """
    A new, untrained image-transformation network.

    Arguments:
    settings -- dict of the training's settings, kept in the saved model
    style_digest -- sha256 hex digest of the style picture (one style), kept in the saved model
    seed -- seed of the initial filters (None: Keras' global generator)
    styles -- how many styles its normalisations have a scale and shift for
    style_digests -- the sha256 of each style picture, in order (instead of style_digest)

    Returns:
    model -- a built TransformNet
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = TransformNet(
        styles=styles, settings=settings, style_digests=style_digests, style_digest=style_digest, name="transform_net"
    )
    model.build((None, None, None, 3))
    return model
