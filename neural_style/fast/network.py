"""Johnson, Alahi & Fei-Fei's (2016) image-transformation network, as a Keras model that any picture size goes through.

9x9 convolution to 32 channels, two stride-2 3x3 convolutions to 64 and 128, five residual blocks of 128, two
upsampling stages (nearest-neighbour x2, then a 3x3 convolution: no checkerboard artefacts, Odena et al. 2016), a
9x9 convolution to RGB. Every convolution but the last is followed by instance normalisation (Ulyanov et al. 2016)
and a ReLU, and pads by reflection. Pixels in and out are RGB in 0..255. The layers Keras lacks (the reflection
padding, the instance normalisation with its conditioning, the upsampling) are in layers.py.

Any height and width: a stride-2 convolution gives ceil(n / 2) positions, and each upsampling stage crops its x2
result to the size of the encoder's level it returns to. For the tiled apply (apply.py) the network can take each
instance normalisation's statistics from outside, and stop at a normalisation to hand out what it would normalise.

Many styles in one network (Dumoulin, Shlens & Kudlur 2017, "conditional instance normalisation"): every instance
normalisation has a scale and a shift per style, (styles, C) each, and everything else is shared. The network takes
the styles' weights as a second input, (batch, styles), one-hot for one style; a convex mixture mixes the scales and
shifts, hence the styles. Weights of shape (batch, H, W, styles) give each pixel its own mixture (a style per region);
each normalisation sees them averaged over the 2 x 2 or 4 x 4 blocks of its level. A single-style network is the
case styles = 1, where the weights may be left out.

Layouts (Layout): Johnson et al.'s is the default, and the published networks the package carries are the same
network with other widths and depths. Dumoulin et al.'s 26-style network (TensorFlow's Android stylize demo) has an
encoder of 32/32/32, six residual blocks, a decoder of 8 then 4, and ends in a convolution to RGB that is normalised
too, then a sigmoid. Ghiasi et al.'s arbitrary-style transformer (Magenta) has an encoder of 8/16/32 whose batch
normalisation is folded into biases (no instance normalisation there), five residual blocks, the same head, and takes
each normalisation's scale and shift from a 100-number style vector through a learned affine map ("vector"
conditioning: gamma = v G + g0) instead of a table of styles; masks, mixtures and tiles work on it unchanged. A
network read from an int8 file also rounds its activations where the file does (quantize.py), so that it gives the
file's pictures.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from . import layers
from .layers import EPSILON, PACKAGE, InstanceNormalization, ReflectionPadding2D, float_convolution, upsample
from .quantize import INT8_HIGH, INT8_LOW, level_average, round_at, rounding_points

# (filters, kernel, stride) of the encoder; the residual blocks' convolutions; the decoder's (filters, kernel).
ENCODER = ((32, 9, 1), (64, 3, 2), (128, 3, 2))
RESIDUAL_BLOCKS = 5
DECODER = ((64, 3), (32, 3))
OUTPUT_KERNEL = 9


@dataclasses.dataclass(frozen=True)
class Layout:
    """
    The shape of an image-transformation network.

    encoder -- (filters, kernel, stride) of each encoder convolution
    encoder_norm -- True: each encoder convolution is instance-normalised (no bias); False: it has a bias (batch
                    normalisation folded in) and no normalisation
    residual_blocks -- how many residual blocks (two 3x3 convolutions each, normalised) at the encoder's last width
    decoder -- (filters, kernel) of each upsampling stage (nearest x2, then the convolution, normalised)
    output_kernel -- the kernel of the convolution to RGB
    output -- "affine": that convolution has a bias and gives 127.5 + 127.5 x its value (Johnson et al.);
              "sigmoid": it is normalised too, and gives 255 x sigmoid (Magenta's networks)
    conditioning -- "table": each normalisation has a scale and shift per style, mixed by convex style weights;
                    "vector": they are an affine map of a style vector (gamma = v G + g0)
    epsilon -- the normalisations' epsilon
    """

    name: str = "johnson"
    encoder: tuple = ENCODER
    encoder_norm: bool = True
    residual_blocks: int = RESIDUAL_BLOCKS
    decoder: tuple = DECODER
    output_kernel: int = OUTPUT_KERNEL
    output: str = "affine"
    conditioning: str = "table"
    epsilon: float = EPSILON

    def __post_init__(self):
        # Lists from a JSON config become tuples, so that layouts compare and hash.
        object.__setattr__(self, "encoder", tuple(tuple(int(n) for n in e) for e in self.encoder))
        object.__setattr__(self, "decoder", tuple(tuple(int(n) for n in d) for d in self.decoder))
        if self.output not in ("affine", "sigmoid") or self.conditioning not in ("table", "vector"):
            raise ValueError(f"unknown output {self.output!r} or conditioning {self.conditioning!r}")

    @classmethod
    def from_config(cls, config):
        """A layout from its get_config() dict (None: Johnson et al.'s)."""
        return cls(**config) if config else cls()

    def get_config(self):
        """The layout as a JSON-able dict."""
        return dataclasses.asdict(self)

    @property
    def downsamplings(self):
        """How many stride-2 convolutions: the deepest level's positions are 2 ** this pixels apart."""
        return sum(stride == 2 for _, _, stride in self.encoder)

    def convolutions(self):
        """
        Every convolution named conv{index}, in order: the encoder's, the residual blocks' (two each), the decoder's,
        and, when the output is "sigmoid", the convolution to RGB (normalised, so it is one of them).

        Returns:
        plan -- list of (filters, kernel, stride, normalised); a convolution not normalised has a bias
        """
        width = self.encoder[-1][0]
        plan = [(f, k, s, self.encoder_norm) for f, k, s in self.encoder]
        plan += [(width, 3, 1, True)] * (2 * self.residual_blocks)
        plan += [(f, k, 1, True) for f, k in self.decoder]
        if self.output == "sigmoid":
            plan.append((3, self.output_kernel, 1, True))
        return plan

    def levels(self):
        """
        The level of each convolution's output: its positions are 2 ** level pixels apart.

        Returns:
        levels -- list of ints, one per convolutions() entry
        """
        encoder = [sum(stride == 2 for _, _, stride in self.encoder[: i + 1]) for i in range(len(self.encoder))]
        decoder = [self.downsamplings - 1 - i for i in range(len(self.decoder))]
        tail = [0] if self.output == "sigmoid" else []
        return encoder + [self.downsamplings] * (2 * self.residual_blocks) + decoder + tail

    def normalised(self):
        """The indices of the normalised convolutions (the ones whose statistics a tiled apply gathers)."""
        return [index for index, (_, _, _, norm) in enumerate(self.convolutions()) if norm]

    @property
    def min_side(self):
        """
        The smallest side the reflection paddings allow (a reflection pad must be shorter than the side it reflects);
        the apply functions pad smaller pictures up to it by repeating their edge, then crop.
        """
        return self.output_kernel // 2 + 1

    def reach(self):
        """
        The tile geometry: the total stride, and the margin that makes a tile's core exact.

        Along an edge of a window that is not the picture's, its reflection padding differs from the picture's
        pixels: each k x k convolution at a level makes k // 2 more positions wrong there, a stride-2 one leaves
        ceil((wrong + k // 2) / 2) at the next level, an x2 upsampling doubles them. The margin is the wrong pixels
        at the output, rounded up to the stride (windows start at multiples of it, so every stride-2 convolution
        samples the positions the whole picture gives).

        Returns:
        stride -- 2 ** downsamplings
        margin -- pixels of context each side of a core
        """
        wrong = 0
        for _, kernel, stride in self.encoder:
            wrong = -(-(wrong + kernel // 2) // stride)
        wrong += 2 * self.residual_blocks
        for _, kernel in self.decoder:
            wrong = 2 * wrong + kernel // 2
        wrong += self.output_kernel // 2
        stride = 1 << self.downsamplings
        return stride, -(-wrong // stride) * stride


JOHNSON = Layout()
# Dumoulin, Shlens & Kudlur's 26-style network, as TensorFlow's Android stylize demo ships it.
MAGENTA_26 = Layout(
    name="magenta-26",
    encoder=((32, 9, 1), (32, 3, 2), (32, 3, 2)),
    residual_blocks=6,
    decoder=((8, 3), (4, 3)),
    output="sigmoid",
)
# Ghiasi et al.'s arbitrary-style transformer, as TF Hub's TFLite release ships it.
MAGENTA_ARBITRARY = Layout(
    name="magenta-arbitrary",
    encoder=((8, 9, 1), (16, 3, 2), (32, 3, 2)),
    encoder_norm=False,
    residual_blocks=5,
    decoder=((16, 3), (8, 3)),
    output="sigmoid",
    conditioning="vector",
)
LAYOUTS = {layout.name: layout for layout in (JOHNSON, MAGENTA_26, MAGENTA_ARBITRARY)}


class StoppedAtNormalisation(Exception):
    """Raised inside a forward pass asked to stop at a normalisation (the tiled apply's stop_at): the pass ends there,
    and `value` holds what that normalisation would normalise."""

    def __init__(self, value):
        super().__init__("stopped at a normalisation")
        self.value = value


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformNet(keras.Model):
    """The image-transformation network: model(pictures) or model((pictures, style_weights)) -> stylised pictures,
    (batch, H, W, 3) RGB in 0..255; style_weights (batch, styles) or (batch, H, W, styles), one-hot for one style
    (a style vector for "vector" conditioning, where `styles` is its length).

    `styles` (how many), `settings` (the training's options), `style_digests` (sha256 of each style picture, in
    the order of the style weights), `layout` (Layout.get_config(); None: Johnson et al.'s), `quantization`
    (point -> [scale, zero point] of a network read from an int8 file) and `source` (where its weights came from)
    travel in the .keras file.
    """

    def __init__(
        self,
        styles=1,
        settings=None,
        style_digests=None,
        style_digest=None,
        layout=None,
        quantization=None,
        source=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.styles = int(styles)
        self.settings = dict(settings or {})
        # style_digest: one style's, as single-style models before conditional normalisation were saved.
        digests = style_digests if style_digests is not None else [style_digest] if style_digest else []
        self.style_digests = list(digests)
        self.layout = layout if isinstance(layout, Layout) else Layout.from_config(layout)
        self.quantization = rounding_points(quantization)
        self.source = dict(source or {})
        self._levels = tuple(self.layout.levels())
        self.pads, self.convs, self.norms = [], [], []
        for index, (filters, kernel, stride, normalised) in enumerate(self.layout.convolutions()):
            self.pads.append(ReflectionPadding2D(kernel // 2, name=f"pad{index}"))
            # No bias before a normalisation: it subtracts every per-channel constant.
            conv = keras.layers.Conv2D(filters, kernel, stride, use_bias=not normalised, name=f"conv{index}")
            self.convs.append(conv)
            prefix = f"norm{index}/"
            points = {k[len(prefix) :]: v for k, v in self.quantization.items() if k.startswith(prefix)}
            norm = InstanceNormalization(
                self.layout.epsilon, self.styles, self.layout.conditioning, points, name=f"norm{index}"
            )
            self.norms.append(norm if normalised else None)
        if self.layout.output == "affine":
            self.output_pad = ReflectionPadding2D(self.layout.output_kernel // 2, name="pad_out")
            self.output_conv = keras.layers.Conv2D(3, self.layout.output_kernel, name="conv_out")

    def build(self, input_shape=None):
        channels = 3
        for conv, norm in zip(self.convs, self.norms):
            conv.build((None, None, None, channels))
            channels = conv.filters
            if norm is not None:
                norm.build((None, None, None, channels))
        if self.layout.output == "affine":
            self.output_conv.build((None, None, None, channels))
        self.built = True

    @property
    def style_digest(self):
        """The style picture's sha256 of a single-style network (None for several styles)."""
        return self.style_digests[0] if len(self.style_digests) == 1 else None

    def _q(self, name, x):
        """x rounded at the point `name` as the network's file rounds it (unchanged where it does not)."""
        return round_at(self.quantization, name, x)

    def convolve(self, index, x, precision="float32", padded=False):
        """
        Convolution `index` of x, padded (padded=True: x is already). For a network read from an int8 file, as the
        file's runtime computes it: the input's levels times the kernel's, summed with the bias's integer (exact in
        float32: the sums stay below 2 ** 24), times the float32 multiplier input scale x kernel scale / output scale,
        rounded to the output's level. Float32 products of the dequantised values round differently now and then,
        and one flipped level early on moves whole channels later (a channel's statistics are rounded too).

        Arguments:
        index -- the convolution's number, in the network's order
        x -- tensor (batch, H, W, channels), the convolution's input
        precision -- 'float32' or 'bfloat16' (a float network's convolutions only)
        padded -- whether x is already padded

        Returns:
        y -- tensor, the convolution's output before its normalisation (or its ReLU)
        """
        conv = self.convs[index]
        x = x if padded else self.pads[index](x)
        kernel_point = self.quantization.get(f"conv{index}/kernel")
        if kernel_point is None:
            return float_convolution(conv, x, precision)
        kernel_scale = np.asarray(kernel_point[0], np.float32)
        input_scale = np.float32(self.quantization[f"conv{index}/input"][0])
        # The convolution's output is rounded before the normalisation, or after the ReLU where none follows.
        scale, zero_point = self.quantization.get(f"conv{index}") or self.quantization[f"conv{index}/output"]
        # The sum of integer products is an integer already; rounding it says so to the graph's optimisers (grappler's
        # and TFLite's converter), which would otherwise fold the multiplier below into the kernel and sum
        # non-integers, whose roundings flip levels.
        total = tf.round(
            tf.nn.conv2d(tf.round(x / input_scale), tf.round(conv.kernel / kernel_scale), conv.strides, "VALID")
        )
        if conv.use_bias:
            total += tf.round(conv.bias / np.asarray(self.quantization[f"conv{index}/bias"][0], np.float32))
        multiplier = (input_scale * kernel_scale) / np.float32(scale)
        levels = tf.clip_by_value(tf.round(total * multiplier) + zero_point, INT8_LOW, INT8_HIGH)
        return (levels - zero_point) * np.float32(scale)

    def _blocks(self, statistics, stop_at, weights, precision="float32"):
        """
        The network's convolutions in their order, as one function a forward pass calls once for each.

        Arguments:
        statistics, stop_at -- as call takes them
        weights -- style_weights_by_level's

        Returns:
        block -- function(x, relu=True, like=None): the next convolution of x, padded, then its normalisation (if it
                 has one), then the ReLU (relu=False: none), rounded as the network's file rounds them; like: x is
                 first upsampled to like's size (layers.upsample, padded in the same gathers); at `stop_at` it
                 raises StoppedAtNormalisation with the value that normalisation would normalise
        """
        indices = iter(range(len(self.convs)))

        def block(x, relu=True, like=None):
            index = next(indices)
            if like is not None:
                x = upsample(x, like, self.pads[index].padding)
            x = self._q(f"conv{index}", self.convolve(index, x, precision, padded=like is not None))
            if stop_at == index:
                raise StoppedAtNormalisation(x)
            norm = self.norms[index]
            if norm is not None:
                level_weights = weights[self._levels[index]] if weights else None
                own = statistics[index] if statistics else None
                own = self._level_statistics(index, x) if own is None and norm.quantization else own
                x = norm(x, own, level_weights)
            return self._q(f"conv{index}/output", tf.nn.relu(x) if relu else x)

        return block

    def _level_statistics(self, index, x):
        """An int8 network's normalisation statistics of x from exact sums of its levels: alike in TFLite (int32)."""
        norm, int32 = self.norms[index], layers.tracing_for_tflite()
        mean = level_average(x, self.quantization[f"conv{index}"][0], int32)
        squares = norm.squared_deviations(x, mean)
        return mean, level_average(squares, norm.quantization["squares"][0], int32)

    def style_weights_by_level(self, style_weights):
        """
        The style weights as each level's normalisations take them.

        Arguments:
        style_weights -- None, (batch, styles), or (batch, H, W, styles) per pixel

        Returns:
        weights -- None, or a list of downsamplings + 1 tensors: the same (batch, styles) for every level, or the
                   per-pixel weights averaged over the 2 ** level x 2 ** level blocks that start at each position of
                   the level (an average pool whose edge blocks count only their pixels, so ceil(n / 2) positions)
        """
        if style_weights is None:
            return None
        style_weights = self._q("style", tf.cast(style_weights, tf.float32))
        if len(style_weights.shape) == 2:
            return [style_weights] * (self.layout.downsamplings + 1)
        weights = [style_weights]
        for _ in range(self.layout.downsamplings):
            weights.append(tf.nn.avg_pool2d(weights[-1], 2, 2, "SAME"))
        return weights

    def call(self, inputs, statistics=None, stop_at=None, precision="float32"):
        """
        Stylises pictures.

        Arguments:
        inputs -- tensor (batch, H, W, 3), RGB in 0..255 (H, W >= layout.min_side), or a pair (pictures,
                  style_weights): style_weights (batch, styles) convex weights of the styles (one-hot: one style),
                  or (batch, H, W, styles) a mixture per pixel (style vectors, for "vector" conditioning); pictures
                  alone take the first style
        statistics -- None, or a list with an entry (mean, variance) per convolution (None for one not normalised)
                      for the instance normalisations (tiled apply: the whole picture's); an entry None takes the
                      input's own
        stop_at -- None, or the index of a normalised convolution: return the value its normalisation would
                   normalise instead
        precision -- "float32", or "bfloat16": the float convolutions' inputs and kernels rounded to bfloat16 and
                     summed in float32 (where the CPU has bfloat16 or on a GPU, several times faster); everything
                     else, and a network that rounds as an int8 file does, stays as in float32

        Returns:
        outputs -- tensor (batch, H, W, 3), RGB in about 0..255 (not clipped), or the value at `stop_at`
        """
        pictures, style_weights = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        block = self._blocks(statistics, stop_at, self.style_weights_by_level(style_weights), precision)
        try:
            x = self._q("input", tf.cast(pictures, tf.float32) / 255.0)
            returns_to = []  # the levels before each stride-2 convolution: the decoder's stages crop to their sizes
            for _, _, stride in self.layout.encoder:
                if stride == 2:
                    returns_to.append(x)
                x = block(x)
            for residual in range(self.layout.residual_blocks):
                x = self._q(f"residual{residual}", block(block(x), relu=False) + x)
            for like in reversed(returns_to):
                x = block(x, like=like)
            return self._head(x, block, precision)
        except StoppedAtNormalisation as stopped:
            return stopped.value

    def _head(self, x, block, precision="float32"):
        """The decoder's output to RGB in 0..255: a normalised convolution and a sigmoid, or an affine convolution."""
        if self.layout.output == "sigmoid":
            return self._q("output", tf.sigmoid(block(x, relu=False))) * 255.0
        # Centred on mid-grey, one unit of the last convolution is half the range: an untrained network gives grey.
        return float_convolution(self.output_conv, self.output_pad(x), precision) * 127.5 + 127.5

    def compute_output_shape(self, input_shape):
        return input_shape[0] if isinstance(input_shape, (tuple, list)) and len(input_shape) == 2 else input_shape

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "styles": self.styles,
            "settings": self.settings,
            "style_digests": self.style_digests,
        }
        # Johnson et al.'s float network keeps the config its files have always had.
        if self.layout != JOHNSON:
            config["layout"] = self.layout.get_config()
        if self.quantization:
            config["quantization"] = self.quantization
        if self.source:
            config["source"] = self.source
        return config


def convolutions(layout=JOHNSON):
    """
    The network's normalised convolutions in order: the encoder's, the residual blocks' (two each), the decoder's.

    Arguments:
    layout -- a Layout (Johnson et al.'s by default)

    Returns:
    plan -- list of (filters, kernel, stride) of the normalised convolutions; each is followed by an instance
            normalisation of `filters` channels
    """
    return [(f, k, s) for f, k, s, normalised in layout.convolutions() if normalised]


def assign_weights(model, arrays, what="the network"):
    """
    Every weight of a built Keras model from arrays named by the weight's path inside the model ("conv3/kernel"), as
    the published networks' readers and files give them.

    Arguments:
    model -- a built Keras model (a TransformNet, a StylePredictor)
    arrays -- {path: float32 array, or an int8 weight with its scales (onnx_files.Quantized: dequantised as the file's
              runtime reads it)}
    what -- the network, for messages

    Returns:
    model -- the same model; OptionError (one line) when the arrays are not exactly its weights, in its shapes
    """
    from ..checks import OptionError

    prefix = f"{model.name}/"
    variables = {variable.path.removeprefix(prefix): variable for variable in model.weights}
    if set(variables) != set(arrays):
        missing, extra = sorted(set(variables) - set(arrays)), sorted(set(arrays) - set(variables))
        raise OptionError(f"{what}: weights missing {missing[:3]}, unexpected {extra[:3]}", "model")
    for name, variable in variables.items():
        value = arrays[name]
        value = value.dequantize() if hasattr(value, "dequantize") else np.asarray(value, np.float32)
        if tuple(value.shape) != tuple(variable.shape):
            raise OptionError(f"{what}: weight {name} is {value.shape}, not {tuple(variable.shape)}", "model")
        variable.assign(value)
    return model


def build_transform_net(settings=None, style_digest=None, seed=None, styles=1, style_digests=None, layout=JOHNSON):
    """
    A new, untrained image-transformation network.

    Arguments:
    settings -- dict of the training's settings, kept in the saved model
    style_digest -- sha256 hex digest of the style picture (one style), kept in the saved model
    seed -- seed of the initial filters (None: Keras' global generator)
    styles -- how many styles its normalisations have a scale and shift for
    style_digests -- the sha256 of each style picture, in order (instead of style_digest)
    layout -- a Layout (Johnson et al.'s by default)

    Returns:
    model -- a built TransformNet
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = TransformNet(
        styles=styles,
        settings=settings,
        style_digests=style_digests,
        style_digest=style_digest,
        layout=layout,
        name="transform_net",
    )
    model.build((None, None, None, 3))
    return model
