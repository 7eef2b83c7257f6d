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


def fake_quantize(x, scale, zero_point):
    """
    An activation rounded to the file's 8 bits and read back, in float32.

    Arguments:
    x -- tensor (any shape), float32
    scale -- the step between two of its levels (float)
    zero_point -- the level that stands for 0 (int)

    Returns:
    y -- tensor like x: (clip(round(x / scale) + zero_point, -128, 127) - zero_point) * scale, rounding half to even
    """
    scale = np.float32(scale)
    zero_point = np.float32(zero_point)
    levels = tf.clip_by_value(tf.round(x / scale) + zero_point, INT8_LOW, INT8_HIGH)
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


def round_at(points, name, x):
    """
    x rounded at the point `name` as the network's file rounds it, unchanged where the file does not round.

    Arguments:
    points -- {point name: [scale, zero point]}
    name -- the point
    x -- tensor

    Returns:
    y -- fake_quantize(x, *points[name]), or x
    """
    point = points.get(name)
    return x if point is None else fake_quantize(x, *point)


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
