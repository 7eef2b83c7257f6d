"""The style prediction network of Ghiasi et al. (2017), "Exploring the structure of a real-time, arbitrary neural
artistic stylization network": a picture in, a vector of 100 numbers out that the arbitrary-style transformer takes
as its style. This is the MobileNetV2 (Sandler et al. 2018) predictor of Magenta's int8 TensorFlow Lite release, as a
Keras model read from that release's ONNX conversion, doing the file's int8 arithmetic.

MobileNetV2 up to its last 1 x 1 convolution: a 3 x 3 stride-2 convolution to 32 channels, 17 inverted-residual
blocks (a 1 x 1 expansion, a 3 x 3 depthwise convolution, a 1 x 1 projection without activation; the input added
back where the block keeps its size and width), a 1 x 1 convolution to 1280 channels; every activation but the
projections' is ReLU6. Then the mean over height and width (Magenta's 'bottleneck'), and a 1 x 1 convolution to the
100 numbers of the style. Pixels in are RGB in 0..255; the file takes them divided by 255.

The file rounds the input and every activation (each convolution's output, each addition, the mean) to 8 bits
(quantize.fake_quantize): with its rounding points (`quantization`) and its weights' scales the network computes as
the file's int8 runtime does, each convolution on the integers and the mean from the levels' exact sum, in float32
operations that TFLite computes alike (its .tflite gives the same vector bit for bit); onnxruntime, whose float32
convolutions of the dequantised weights round a near-tie the other way now and then, is within two of the output's
8-bit steps. Without the weights' scales, the convolutions are float32 on the dequantised weights; without rounding
points (an empty dict), the network is the float network its weights stand for. Any height and width: the
convolutions pad as TensorFlow's 'SAME' does, which is what the file's paddings are at its 256 x 256 (no padding
before, one row and column after each stride-2 convolution).
"""

import keras
import numpy as np
import tensorflow as tf

from ..checks import OptionError
from .layers import PACKAGE
from .network import assign_weights
from .onnx_files import Quantized
from .quantize import integer_convolution, level_average, round_at, rounding_points

# MobileNetV2's inverted-residual blocks (Sandler et al. 2018, table 2): (expansion, channels, repeats, stride), the
# stride that of the first block of each group. The file's weights give the widths; the strides are not in them.
MOBILENET_V2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
BLOCK_STRIDES = tuple(stride if i == 0 else 1 for _, _, repeats, stride in MOBILENET_V2 for i in range(repeats))
# The first convolution's kernel and stride, and the depthwise convolutions' kernel.
STEM_KERNEL, STEM_STRIDE = 3, 2
DEPTHWISE_KERNEL = 3
# The file's input, and its activations' TensorFlow names (read_onnx's keys) outside the blocks.
FILE_INPUT = "style_image"
FILE_STEM, FILE_HEAD, FILE_MEAN, FILE_OUTPUT = (
    "MobilenetV2/Conv",
    "MobilenetV2/Conv_1",
    "bottleneck/Mean",
    "mobilenet_conv/Conv",
)


def file_block(index):
    """The TensorFlow name of inverted-residual block `index` in Magenta's graph ('MobilenetV2/expanded_conv_3')."""
    return "MobilenetV2/expanded_conv" + (f"_{index}" if index else "")


def point_names(blocks):
    """
    The rounding points of a layout, and the TensorFlow name of each in the published file.

    Arguments:
    blocks -- the layout (StylePredictor's `blocks`)

    Returns:
    names -- dict, point name -> the file's TensorFlow name of that activation, in the network's order: 'input',
             'conv0', 'block0/depthwise', 'block0/project', 'block1/expand', ..., 'block2/add', ..., 'conv1', 'mean',
             'output'
    """
    names = {"input": FILE_INPUT}
    convs = {"conv0": f"{FILE_STEM}/Relu6", "conv1": f"{FILE_HEAD}/Relu6", "output": f"{FILE_OUTPUT}/BiasAdd"}
    for block in blocks:
        name = block["name"]
        if block["kind"] == "conv":
            names[name] = convs.get(name, name)
        elif block["kind"] == "mean":
            names[name] = FILE_MEAN
        else:
            prefix = file_block(int(name.removeprefix("block")))
            if block["expand"]:
                names[f"{name}/expand"] = f"{prefix}/expand/Relu6"
            names[f"{name}/depthwise"] = f"{prefix}/depthwise/Relu6"
            names[f"{name}/project"] = f"{prefix}/project/BatchNorm/FusedBatchNormV3"
            if block["residual"]:
                names[f"{name}/add"] = f"{prefix}/add"
    return names


def convolutions(blocks):
    """
    A layout's convolutions in their order, each with the rounding point of the activation it reads.

    Arguments:
    blocks -- the layout (StylePredictor's `blocks`)

    Returns:
    reads -- dict, convolution ('conv0', 'block0/depthwise', 'block1/expand', ..., 'output') -> the point its input
             was rounded at ('input', 'conv0', 'block0/project', ..., 'mean')
    """
    reads, last = {}, "input"
    for block in blocks:
        name = block["name"]
        if block["kind"] == "conv":
            reads[name], last = last, name
        elif block["kind"] == "mean":
            last = name
        else:
            if block["expand"]:
                reads[f"{name}/expand"], last = last, f"{name}/expand"
            reads[f"{name}/depthwise"], last = last, f"{name}/depthwise"
            reads[f"{name}/project"] = last
            last = f"{name}/add" if block["residual"] else f"{name}/project"
    return reads


def weight_points(blocks):
    """The scales of a layout's int8 weights, as its quantization names them: '<convolution>/kernel' (one per output
    channel) and '<convolution>/bias', for each of convolutions(blocks)."""
    return [f"{conv}/{part}" for conv in convolutions(blocks) for part in ("kernel", "bias")]


# What each kind of block holds besides its name.
BLOCK_KEYS = {
    "conv": {"filters", "kernel", "stride", "relu6"},
    "inverted_residual": {"expand", "filters", "stride", "residual"},
    "mean": set(),
}


def _check_blocks(blocks):
    """OptionError unless `blocks` is a layout: blocks of the known kinds, each with its keys, the names unique."""
    names = [block.get("name") for block in blocks]
    for block in blocks:
        keys = BLOCK_KEYS.get(block.get("kind"))
        if keys is None or set(block) != keys | {"kind", "name"} or not isinstance(block["name"], str):
            raise OptionError(f"a style predictor's layout has a block it cannot read: {str(block)[:120]}", "model")
        if block["kind"] == "inverted_residual" and not block["name"].removeprefix("block").isdigit():
            raise OptionError(f"a style predictor's block {block['name']!r} is not named block<number>", "model")
    if len(set(names)) != len(names) or not blocks or blocks[-1]["kind"] != "conv":
        raise OptionError("a style predictor's layout must end in a convolution and name its blocks once", "model")


@keras.saving.register_keras_serializable(package=PACKAGE)
class InvertedResidual(keras.layers.Layer):
    """One MobileNetV2 block: 1 x 1 expansion and ReLU6 (none in the first block), 3 x 3 depthwise convolution and
    ReLU6, 1 x 1 projection; the block's input added back when `residual`. Each result rounded where `rounding`
    says (suffix 'expand', 'depthwise', 'project', 'add' -> (scale, zero point))."""

    def __init__(self, channels, expand, filters, stride, residual, rounding=None, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.filters, self.stride = int(channels), int(filters), int(stride)
        self.expand_channels = int(expand) if expand else None
        self.residual = bool(residual)
        self.rounding = dict(rounding or {})
        width = self.expand_channels or self.channels
        self.expand = keras.layers.Conv2D(width, 1, name="expand") if self.expand_channels else None
        self.depthwise = keras.layers.DepthwiseConv2D(DEPTHWISE_KERNEL, self.stride, "same", name="depthwise")
        self.project = keras.layers.Conv2D(self.filters, 1, name="project")
        # Built here, where the widths are known, so that the weights' paths are 'block3/expand/kernel' whatever
        # the model is called.
        self.build((None, None, None, self.channels))

    def build(self, input_shape):
        width = self.expand_channels or self.channels
        if self.expand is not None:
            self.expand.build((None, None, None, self.channels))
        self.depthwise.build((None, None, None, width))
        self.project.build((None, None, None, width))
        self.built = True

    def _round(self, x, point):
        return round_at(self.rounding, point, x, reciprocal="depthwise/kernel" in self.rounding)

    def call(self, x):
        if "depthwise/kernel" in self.rounding:
            return self._integer_call(x)
        y = x
        if self.expand is not None:
            y = self._round(tf.nn.relu6(self.expand(y)), "expand")
        y = self._round(tf.nn.relu6(self.depthwise(y)), "depthwise")
        y = self._round(self.project(y), "project")
        if self.residual:
            y = self._round(y + x, "add")
        return y

    def _integer_call(self, x):
        """call with the convolutions on the file's integers (integer_convolution); the block's input was rounded at
        the point 'input' of `rounding`."""
        y, reads = x, "input"
        if self.expand is not None:
            y, reads = integer_convolution(self.expand, y, self.rounding, "expand", reads, relu6=True), "expand"
        y = integer_convolution(self.depthwise, y, self.rounding, "depthwise", reads, relu6=True)
        y = integer_convolution(self.project, y, self.rounding, "project", "depthwise")
        if self.residual:
            y = self._round(y + x, "add")
        return y

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "expand": self.expand_channels,
            "filters": self.filters,
            "stride": self.stride,
            "residual": self.residual,
            "rounding": self.rounding,
        }

    def compute_output_shape(self, input_shape):
        rows, cols = (None if n is None else -(-n // self.stride) for n in input_shape[1:3])
        return (input_shape[0], rows, cols, self.filters)


@keras.saving.register_keras_serializable(package=PACKAGE)
class StylePredictor(keras.Model):
    """The style prediction network: model(pictures) -> (batch, 100) style vectors, pictures (batch, H, W, 3) RGB in
    0..255 of any size.

    `blocks` (the layout, a list of dicts: kind 'conv' with filters, kernel, stride, relu6; kind 'inverted_residual'
    with expand (the expanded width, or None), filters, stride, residual; kind 'mean') and `quantization` (rounding
    point -> [scale, zero point]; empty: float arithmetic) travel in the .keras file.
    """

    def __init__(self, blocks, quantization=None, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [dict(block) for block in blocks]
        _check_blocks(self.blocks)
        self.quantization = rounding_points(quantization)
        unknown = sorted(set(self.quantization) - set(point_names(self.blocks)) - set(weight_points(self.blocks)))
        if unknown:
            raise OptionError(f"quantization names points the layout does not have: {', '.join(unknown)}", "model")
        self.reads = convolutions(self.blocks)
        # The convolutions on the file's integers where the quantization has every weight's scales (a file's reader
        # gives them), else in float32 on the dequantised weights (a .keras file from before, the float network).
        self.integer = bool(self.quantization) and all(p in self.quantization for p in weight_points(self.blocks))
        self.stages = []
        channels = 3
        for block in self.blocks:
            name, kind = block["name"], block["kind"]
            if kind == "conv":
                layer = keras.layers.Conv2D(block["filters"], block["kernel"], block["stride"], "same", name=name)
                layer.build((None, None, None, channels))
                channels = block["filters"]
            elif kind == "inverted_residual":
                rounding = {
                    point.removeprefix(f"{name}/"): value
                    for point, value in self.quantization.items()
                    if point.startswith(f"{name}/")
                }
                if self.integer:  # the scale of the levels the block reads, for its first convolution
                    first = f"{name}/expand" if block["expand"] else f"{name}/depthwise"
                    rounding["input"] = self.quantization[self.reads[first]]
                else:
                    rounding = {k: v for k, v in rounding.items() if not k.endswith(("/kernel", "/bias"))}
                layer = InvertedResidual(
                    channels, block["expand"], block["filters"], block["stride"], block["residual"], rounding, name=name
                )
                channels = block["filters"]
            else:  # the mean: no weights
                layer = None
            self.stages.append(layer)
        self.built = True

    def _round(self, x, point):
        return round_at(self.quantization, point, x, reciprocal=self.integer)

    def call(self, pictures, stop_at=None):
        """
        Style vectors of pictures.

        Arguments:
        pictures -- tensor (batch, H, W, 3), RGB in 0..255, any height and width
        stop_at -- None, or the name of a block ('block3', 'mean'): return its output instead

        Returns:
        styles -- tensor (batch, 100) float32: the arbitrary-style transformer's style of each picture; or the
                  output of block `stop_at`, (batch, h, w, channels), rounded as the file rounds it
        """
        if stop_at is not None and stop_at not in [block["name"] for block in self.blocks]:
            raise OptionError(
                f"stop_at must be one of the blocks' names (conv0, block0, ..., mean), got {stop_at!r}", "stop_at"
            )
        # Times float32(1 / 255) on the file's integer arithmetic: TFLite's converter's own form of the quotient.
        x = tf.cast(pictures, tf.float32)
        x = self._round(x * (np.float32(1) / np.float32(255)) if self.integer else x / 255.0, "input")
        last = "input"
        for block, layer in zip(self.blocks, self.stages):
            if block["kind"] == "mean" and self.integer:
                # From the levels' exact sum, as TFLite computes it too (its float mean sums in another order).
                x = self._round(level_average(x, self.quantization[last][0], int32=True), block["name"])
            elif block["kind"] == "mean":
                x = self._round(tf.reduce_mean(x, axis=[1, 2], keepdims=True), block["name"])
            elif block["kind"] == "conv" and self.integer:
                x = integer_convolution(layer, x, self.quantization, block["name"], last, block["relu6"])
            elif block["kind"] == "conv":
                x = layer(x)
                x = self._round(tf.nn.relu6(x) if block["relu6"] else x, block["name"])
            else:
                x = layer(x)
            last = block["name"] if block["kind"] != "inverted_residual" else self._block_point(block)
            if block["name"] == stop_at:
                return x
        return tf.reshape(x, [-1, x.shape[-1]])

    @staticmethod
    def _block_point(block):
        """The rounding point of an inverted-residual block's output."""
        return f"{block['name']}/add" if block["residual"] else f"{block['name']}/project"

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.blocks[-1]["filters"])

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "blocks": self.blocks,
            "quantization": self.quantization,
        }


def _layout_error(source, problem):
    return OptionError(f"{source}: not Magenta's MobileNetV2 style predictor ({problem})", "model")


def _keras_layout(weight, kind):
    """
    A convolution's weight moved from ONNX's layout to Keras': (out, in, kh, kw) -> (kh, kw, in, out) for a
    convolution, (channels, 1, kh, kw) -> (kh, kw, channels, 1) for a depthwise one; a bias stays as it is.

    Returns:
    weight -- Quantized (the same integers, scales and zero points; `axis` the output channels' axis in Keras'
              layout), or float32 array
    """
    order = {"kernel": (2, 3, 1, 0), "depthwise": (2, 3, 0, 1), "bias": (0,)}[kind]
    axis = {"kernel": 3, "depthwise": 2, "bias": 0}[kind]
    if isinstance(weight, Quantized):
        values = np.ascontiguousarray(np.transpose(weight.values, order))
        return Quantized(values, weight.scale, weight.zero_point, axis if weight.axis is not None else None)
    return np.ascontiguousarray(np.transpose(np.asarray(weight, np.float32), order))


def predictor_arrays(tensors, source="the network"):
    """
    A published style predictor's layout and weights, as a StylePredictor takes them.

    Arguments:
    tensors -- onnx_files.NetworkTensors of Magenta's MobileNetV2 style predictor (int8 or float)
    source -- what the tensors came from, for the messages (the file's path)

    Returns:
    config -- dict: 'blocks' (the layout) and 'quantization' (point -> [scale, zero point]; empty for a float file)
    arrays -- dict, Keras weight path ('conv0/kernel', 'block3/depthwise/bias') -> Quantized (the file's int8
              weights and int32 biases, in Keras' layout) or float32 array; OptionError for tensors in another layout
    """
    weights = tensors.weights
    claimed = set()

    def take(name, kind, shape):
        if name not in weights:
            raise _layout_error(source, f"it has no weight {name}")
        weight = weights[name]
        values = weight.values if isinstance(weight, Quantized) else np.asarray(weight)
        fits = len(values.shape) == len(shape) and all(want in (None, n) for n, want in zip(values.shape, shape))
        if not fits:
            raise _layout_error(source, f"{name} is {values.shape}, not {tuple(shape)}")
        claimed.add(name)
        return _keras_layout(weight, kind), values.shape[0]

    def bias(prefix, filters, kind="bias"):
        for name in (f"{prefix}/Conv2D_bias", f"{prefix}/{kind}", f"{prefix}/biases"):
            if name in weights:
                return take(name, "bias", (filters,))[0]
        raise _layout_error(source, f"it has no bias of {prefix}")

    arrays, blocks = {}, []
    arrays["conv0/kernel"], channels = take(f"{FILE_STEM}/weights", "kernel", (None, 3, STEM_KERNEL, STEM_KERNEL))
    arrays["conv0/bias"] = bias(FILE_STEM, channels)
    stem = {"filters": channels, "kernel": STEM_KERNEL, "stride": STEM_STRIDE, "relu6": True}
    blocks.append({"kind": "conv", "name": "conv0", **stem})
    index = 0
    while f"{file_block(index)}/project/weights" in weights:
        prefix, name = file_block(index), f"block{index}"
        if index >= len(BLOCK_STRIDES):
            raise _layout_error(source, f"more than MobileNetV2's {len(BLOCK_STRIDES)} blocks")
        width = None
        if f"{prefix}/expand/weights" in weights:
            arrays[f"{name}/expand/kernel"], width = take(f"{prefix}/expand/weights", "kernel", (None, channels, 1, 1))
            arrays[f"{name}/expand/bias"] = bias(f"{prefix}/expand", width)
        depthwise = f"{prefix}/depthwise/depthwise_weights"
        kernel = (width or channels, 1, DEPTHWISE_KERNEL, DEPTHWISE_KERNEL)
        arrays[f"{name}/depthwise/kernel"], _ = take(depthwise, "depthwise", kernel)
        arrays[f"{name}/depthwise/bias"] = bias(f"{prefix}/depthwise", width or channels, "depthwise_bias")
        arrays[f"{name}/project/kernel"], filters = take(
            f"{prefix}/project/weights", "kernel", (None, width or channels, 1, 1)
        )
        arrays[f"{name}/project/bias"] = bias(f"{prefix}/project", filters)
        stride = BLOCK_STRIDES[index]
        # MobileNetV2 adds a block's input back wherever the block keeps the size and the width.
        residual = stride == 1 and filters == channels
        if tensors.activations and (f"{prefix}/add" in tensors.activations) != residual:
            raise _layout_error(source, f"{prefix} {'lacks' if residual else 'has'} the addition MobileNetV2 gives it")
        block = {"expand": width, "filters": filters, "stride": stride, "residual": residual}
        blocks.append({"kind": "inverted_residual", "name": name, **block})
        channels = filters
        index += 1
    if index != len(BLOCK_STRIDES):
        raise _layout_error(source, f"{index} inverted-residual blocks, not MobileNetV2's {len(BLOCK_STRIDES)}")
    arrays["conv1/kernel"], channels = take(f"{FILE_HEAD}/weights", "kernel", (None, channels, 1, 1))
    arrays["conv1/bias"] = bias(FILE_HEAD, channels)
    blocks.append({"kind": "conv", "name": "conv1", "filters": channels, "kernel": 1, "stride": 1, "relu6": True})
    blocks.append({"kind": "mean", "name": "mean"})
    arrays["output/kernel"], styles = take(f"{FILE_OUTPUT}/weights", "kernel", (None, channels, 1, 1))
    blocks.append({"kind": "conv", "name": "output", "filters": styles, "kernel": 1, "stride": 1, "relu6": False})
    names = [name for name in (f"{FILE_OUTPUT}/Conv2D_bias", f"{FILE_OUTPUT}/biases") if name in weights]
    if not names:
        # tf2onnx gave the last bias a generated name: it is the one vector of that length no convolution took.
        names = [
            name
            for name, weight in weights.items()
            if name not in claimed and np.shape(weight.values if isinstance(weight, Quantized) else weight) == (styles,)
        ]
    if len(names) != 1:
        raise _layout_error(source, f"{len(names)} candidates for the bias of {FILE_OUTPUT}, not one")
    arrays["output/bias"] = take(names[0], "bias", (styles,))[0]
    quantization = {}
    if tensors.activations:
        for point, file_name in point_names(blocks).items():
            if file_name not in tensors.activations:
                raise _layout_error(source, f"no quantisation of the activation {file_name}")
            scale, zero_point = tensors.activations[file_name]
            quantization[point] = [float(scale), int(zero_point)]
    return {"blocks": blocks, "quantization": quantization}, arrays


def build_predictor(config, arrays):
    """
    A StylePredictor with the given weights.

    Arguments:
    config -- dict of StylePredictor's arguments ('blocks', 'quantization'), as predictor_arrays gives it
    arrays -- dict, Keras weight path -> Quantized or float32 array, as predictor_arrays gives it

    Returns:
    model -- a built StylePredictor; each Quantized weight read back in float32 as ONNX's DequantizeLinear reads it
             (quantize.dequantize); OptionError when the arrays are not the layout's weights
    """
    return assign_weights(
        StylePredictor(**{"name": "style_predictor", **with_weight_scales(config, arrays)}), arrays, "style predictor"
    )


def with_weight_scales(config, arrays):
    """
    A quantised predictor's config with its int8 weights' scales added to its quantization (weight_points), so that
    its convolutions are computed on the file's integers (integer_convolution), as the file's runtime computes them.

    Arguments:
    config -- dict of StylePredictor's arguments ('blocks', 'quantization')
    arrays -- dict, Keras weight path -> Quantized (its scales are taken) or float32 array

    Returns:
    config -- the same, or a copy with the scales: where the quantization rounds activations, lacks the weights'
              scales, and every convolution's kernel and bias is a Quantized weight
    """
    quantization = dict(config.get("quantization") or {})
    points = weight_points(config["blocks"])
    if not quantization or all(point in quantization for point in points):
        return config
    if not all(isinstance(arrays.get(point), Quantized) for point in points):
        return config
    for point in points:
        quantization[point] = [np.ravel(np.asarray(arrays[point].scale, np.float32)).tolist(), 0]
    return {**config, "quantization": quantization}


def read_predictor(path):
    """
    Magenta's style prediction network from a published ONNX file (the int8 release's conversion).

    Arguments:
    path -- the .onnx file

    Returns:
    model -- a StylePredictor doing the file's arithmetic; OptionError (one line naming the file) for a file that is
             not that network
    """
    from .onnx_files import read_onnx

    tensors = read_onnx(path)
    if len(tensors.inputs) != 1 or len(tensors.outputs) != 1:
        raise _layout_error(path, f"{len(tensors.inputs)} inputs and {len(tensors.outputs)} outputs, not one of each")
    return build_predictor(*predictor_arrays(tensors, str(path)))
