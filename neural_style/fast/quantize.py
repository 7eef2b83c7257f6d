"""The arithmetic of a quantised network, as its file does it, for networks read from published int8 files.

A fully quantised network (TensorFlow Lite's int8 format, and its ONNX conversion) stores each weight as an 8-bit
integer with a scale per output channel, and rounds each activation to 8 bits with a scale and a zero point of its
own: q = clip(round(x / scale) + zero_point, -128, 127), read back as (q - zero_point) * scale (ONNX's
QuantizeLinear and DequantizeLinear; round half to even). Reproducing those roundings where the file has them is
what makes a float network give the file's pictures: without them the published arbitrary-style network's pictures
differ from its runtime's by 8 grey levels on average.
"""

import numpy as np
import tensorflow as tf

# The range of an int8 activation.
INT8_LOW, INT8_HIGH = -128, 127


def fake_quantize(x, scale, zero_point, reciprocal=False):
    """
    An activation rounded to the file's 8 bits and read back, in float32.

    Arguments:
    x -- tensor (any shape), float32
    scale -- the step between two of its levels (float)
    zero_point -- the level that stands for 0 (int)
    reciprocal -- divide by multiplying with float32(1 / scale): what TFLite's converter turns a division by a
                  constant into, so that a network converted to TFLite rounds every value as its Keras model does
                  (a quotient and that product differ in the last bit now and then, which at a near-tie is a level)

    Returns:
    y -- tensor like x: (clip(round(x / scale) + zero_point, -128, 127) - zero_point) * scale, rounding half to even
    """
    scale = np.float32(scale)
    zero_point = np.float32(zero_point)
    quotient = x * (np.float32(1) / scale) if reciprocal else x / scale
    # Clipped to the int8 range before the rounding, which gives the same levels for every finite value (the bounds
    # are whole numbers) and for an infinity (a channel of zero variance's rsqrt): XNNPACK's rounding turns an
    # infinity into NaN.
    levels = tf.round(tf.clip_by_value(quotient, INT8_LOW - zero_point, INT8_HIGH - zero_point)) + zero_point
    return (levels - zero_point) * scale


def rounding_points(points):
    """
    A network's rounding points as its config holds them (JSON: lists, floats and ints).

    Arguments:
    points -- None, or {point name: (scale, zero point)}; a scale is a float, or one per channel (a kernel's)

    Returns:
    points -- {point name: [scale, zero point]}
    """
    result = {}
    for name, (scale, zero_point) in (points or {}).items():
        scale = [float(s) for s in scale] if isinstance(scale, (list, tuple, np.ndarray)) else float(scale)
        result[name] = [scale, int(zero_point)]
    return result


def round_at(points, name, x, reciprocal=False):
    """
    x rounded at the point `name` as the network's file rounds it, unchanged where the file does not round.

    Arguments:
    points -- {point name: [scale, zero point]}
    name -- the point
    x -- tensor
    reciprocal -- as fake_quantize takes it

    Returns:
    y -- fake_quantize(x, *points[name], reciprocal), or x
    """
    point = points.get(name)
    return x if point is None else fake_quantize(x, *point, reciprocal=reciprocal)


def dequantize(values, scale, zero_point=0, axis=None):
    """
    Integer weights read back as float32, as the file's runtime reads them.

    Arguments:
    values -- int8 or int32 array
    scale -- float32 scalar, or one per index of `axis`
    zero_point -- int scalar, or one per index of `axis`
    axis -- the axis the scales run along (None: one scale)

    Returns:
    weights -- float32 array of values' shape: (values - zero_point) * scale, computed in float32
    """
    values = np.asarray(values)
    scale = np.asarray(scale, np.float32)
    zero_point = np.asarray(zero_point)
    if axis is not None and scale.ndim:
        shape = [1] * values.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
        zero_point = zero_point.reshape(shape) if zero_point.ndim else zero_point
    return (values.astype(np.int64) - zero_point.astype(np.int64)).astype(np.float32) * scale


def requantize(total, input_scale, kernel_scale, output, relu6=False):
    """
    A quantised convolution's integer sum rounded to its output's 8 bits, as the file's runtime rescales it: the sum
    (the input's levels times the kernel's, plus the bias's integer) times the float32 multiplier input scale x kernel
    scale / output scale, rounded half to even, the zero point added, clipped to int8 (and to ReLU6's levels).

    The sum is rounded first although it is an integer already: that says so to the graph's optimisers (TFLite's
    converter, grappler), which would otherwise fold the multiplier into the kernel and sum non-integers, whose
    roundings differ from the file's now and then.

    Arguments:
    total -- tensor, the integer sum (exact in float32: below 2 ** 24)
    input_scale -- the scale of the input's levels (float)
    kernel_scale -- the kernel's scale, one or one per output channel (the tensor's last axis)
    output -- (scale, zero point) of the output's rounding
    relu6 -- whether a ReLU6 is fused: the levels are also clipped to those of 0..6

    Returns:
    y -- tensor like total, float32: the output's levels read back, (levels - zero point) x scale
    """
    scale, zero_point = np.float32(output[0]), int(output[1])
    multiplier = (np.float32(input_scale) * np.asarray(kernel_scale, np.float32)) / scale
    low, high = INT8_LOW, INT8_HIGH
    if relu6:  # TFLite's fused activation range: the levels of 0 and of 6
        low, high = max(low, zero_point), min(high, zero_point + int(np.round(np.float32(6) / scale)))
    levels = tf.clip_by_value(tf.round(tf.round(total) * multiplier) + np.float32(zero_point), low, high)
    return (levels - np.float32(zero_point)) * scale


def levels_of(x, scale):
    """
    An activation's levels less its zero point, from its float32 value (levels - zero point) x scale: integers.

    Arguments:
    x -- tensor, an activation rounded by fake_quantize (or requantize) with this scale
    scale -- its scale

    Returns:
    levels -- tensor like x, whole numbers in float32
    """
    return tf.round(x * (np.float32(1) / np.float32(scale)))


def level_average(x, scale, int32=False):
    """
    Each picture's channel means over height and width of an activation rounded with `scale`, from the exact sum of
    its levels: float32(sum) x scale / count, two float32 operations that every runtime computes alike (a float sum of
    the values depends on its order, and TFLite has no float64 to sum them in).

    Arguments:
    x -- tensor (batch, H, W, C): (levels - zero point) x scale
    scale -- its scale
    int32 -- sum in int32 (TFLite's integer sum; exact below 2 ** 31 / 255 pixels) rather than float64

    Returns:
    mean -- tensor (batch, 1, 1, C), float32
    """
    levels = levels_of(x, scale)
    if int32:
        total = tf.reduce_sum(tf.cast(levels, tf.int32), axis=[1, 2], keepdims=True)
    else:
        total = tf.reduce_sum(tf.cast(levels, tf.float64), axis=[1, 2], keepdims=True)
    count = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], tf.float32)
    return tf.cast(total, tf.float32) * np.float32(scale) / count


def integer_convolution(layer, x, points, name, reads, relu6=False):
    """
    A quantised convolution as the file's runtime computes it: the input's levels times the kernel's integers, summed
    with the bias's integer (exact in float32), then rescaled and rounded to the output's levels (quantize.requantize).
    Float32 sums of the dequantised values round differently now and then (and TFLite's converter would fold the
    multiplier into the kernel), which flips levels.

    Arguments:
    layer -- its Keras Conv2D or DepthwiseConv2D (the dequantised weights, the strides; 'same' padding)
    x -- tensor (batch, H, W, channels), rounded at the point `reads`
    points -- the rounding points: `reads`, `name` (the output), '<name>/kernel' and '<name>/bias' (the scales)
    name, reads -- the convolution's point and its input's
    relu6 -- whether a ReLU6 follows (fused into the output's levels)

    Returns:
    y -- tensor, the output's levels read back in float32
    """
    input_scale = np.float32(points[reads][0])
    kernel_scale = np.asarray(points[f"{name}/kernel"][0], np.float32)
    bias_scale = np.asarray(points[f"{name}/bias"][0], np.float32)
    levels = levels_of(x, input_scale)
    if hasattr(layer, "depth_multiplier"):  # a DepthwiseConv2D: its kernel (h, w, channels, 1)
        kernel = tf.round(layer.kernel / kernel_scale.reshape(1, 1, -1, 1))
        total = tf.nn.depthwise_conv2d(levels, kernel, (1, *layer.strides, 1), "SAME")
    else:
        total = tf.nn.conv2d(levels, tf.round(layer.kernel / kernel_scale), layer.strides, "SAME")
    return requantize(total + tf.round(layer.bias / bias_scale), input_scale, kernel_scale, points[name], relu6)
