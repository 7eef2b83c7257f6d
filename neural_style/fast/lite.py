"""The published and exported networks run by LiteRT (TensorFlow Lite's own runtime, `ai-edge-litert`), without
TensorFlow or Keras: a picture in numpy pixels through a .tflite transformer, and a painting through the arbitrary-style
network's .tflite predictor. This is the apply command's quick route for a picture that fits in memory; tiles,
training and the optimisation stay with TensorFlow.

The .tflite files are export.py's (`neural-style export --tflite`, and the bundled networks converted once into the
user's models folder: lite_files); each takes a float32 picture [1, H, W, 3] in 0..255, any H and W (the interpreter's
input is resized to the picture), and, for a network of several styles, its `style_weights` [1, h, w, styles].
"""

import os

import numpy as np

from .._native_logs import silenced  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line, too
from .arbitrary import STYLE_SIZE  # arbitrary's, TensorFlow-free

# The range of an int8 level (quantize.INT8_LOW, INT8_HIGH, which imports TensorFlow).
INT8_LOW, INT8_HIGH = -128, 127
# The smallest side a .tflite file of this package's networks takes (network.Layout.min_side: 5 for every layout it
# has); a smaller picture is padded by its edge and the result cropped, as fast.apply does.
MIN_SIDE = 5


class NonFiniteOutputError(ValueError):
    """LiteRT gave NaN or infinity for a picture, with its own kernels too (the apply command then paints it by the
    Keras route)."""


def interpreter(path, threads=None, xnnpack=True):
    """
    A LiteRT interpreter of a .tflite file, its kernels on every CPU this process may use.

    Arguments:
    path -- the .tflite file
    threads -- the kernels' threads (None: the CPUs this process may run on)
    xnnpack -- True: XNNPACK's kernels where they apply (LiteRT's default, about twice as fast); False: LiteRT's own

    Returns:
    interpreter -- ai_edge_litert.interpreter.Interpreter (tensors not yet allocated)
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kernels = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return Interpreter(
        model_path=os.fspath(path), num_threads=threads or cpu_count(), experimental_op_resolver_type=kernels
    )


def cpu_count():
    """The CPUs this process may run on (its affinity where the system says, else all of them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # systems without sched_getaffinity
        return os.cpu_count() or 1


def _input_index(interpreter, name):
    """The index of the input whose name holds `name` ('picture', 'style_weights'), or None."""
    for detail in interpreter.get_input_details():
        if name in detail["name"]:
            return detail["index"]
    return None


def styles_of(path_or_interpreter):
    """
    How many styles a .tflite transformer takes (the last dimension of its `style_weights` input; 1 without one).

    Arguments:
    path_or_interpreter -- the .tflite file, or its interpreter

    Returns:
    styles -- int
    """
    model = path_or_interpreter
    if isinstance(model, (str, os.PathLike)):
        model = interpreter(model, threads=1)
    for detail in model.get_input_details():
        if "style_weights" in detail["name"]:
            return int(detail["shape_signature"][-1])
    return 1


def keras_rounding(values, point, divisor=1):
    """
    Values rounded at an int8 network's rounding point as its Keras model rounds them (quantize.fake_quantize:
    a float32 quotient, rounded half to even), in numpy. TFLite's converter turns each division by a constant into a
    product with its reciprocal, which rounds a value at a tie (a resized picture's 37.5) the other way now and then;
    a network given these values rounds them to the same levels either way, since they are levels already.

    Arguments:
    values -- float32 array
    point -- (scale, zero point) of the rounding
    divisor -- what the network divides the values by before it rounds them (255 for its pixels)

    Returns:
    rounded -- float32 array like values: the rounded values, times divisor again
    """
    scale, zero_point = np.float32(point[0]), np.float32(point[1])
    quotient = np.asarray(values, np.float32) / np.float32(divisor) / scale
    # np.round rounds half to even, as tf.round; the bounds are whole numbers, so clipping first changes no level.
    levels = np.round(np.clip(quotient, INT8_LOW - zero_point, INT8_HIGH - zero_point))
    return (levels * scale * np.float32(divisor)).astype(np.float32)


def run_transform(model, picture, style_weights=None, min_side=1, rounding=None):
    """
    A picture through a .tflite transformer, at its own size, clipped to 0..255.

    Arguments:
    model -- the .tflite file, or an interpreter of it (its input is resized here)
    picture -- float32 (H, W, 3) RGB in 0..255
    style_weights -- None (a one-style network), convex weights of the styles (styles,) (a style vector for the
                     arbitrary-style network), or (H, W, styles) one mixture per pixel at the picture's size
    min_side -- the network's smallest side (Layout.min_side): a smaller picture is padded by its edge, the result
                cropped back, as fast.apply does
    rounding -- None, or an int8 network's rounding points of its inputs, {"input": (scale, zero point), "style":
                (scale, zero point)}: the picture and the style rounded here as the Keras network rounds them
                (keras_rounding), so that the file's own rounding of them agrees with it at every tie

    Returns:
    stylised -- float32 (H, W, 3) in 0..255; NonFiniteOutputError when the network gives NaN or infinity (given a
                file, only when LiteRT's own kernels give it too: XNNPACK's rsqrt of 0, a channel of zero variance in
                an int8 network, is NaN where theirs is infinity, as TensorFlow's, which the network's next rounding
                clips to its top level)
    """
    pixels = np.asarray(picture, np.float32)
    if rounding and rounding.get("input"):
        pixels = keras_rounding(pixels, rounding["input"], 255)
    if rounding and rounding.get("style") and style_weights is not None:
        style_weights = keras_rounding(style_weights, rounding["style"])
    if not isinstance(model, (str, os.PathLike)):
        return _invoke(model, pixels, style_weights, min_side)
    try:
        return _invoke(interpreter(model), pixels, style_weights, min_side)
    except NonFiniteOutputError:
        return _invoke(interpreter(model, xnnpack=False), pixels, style_weights, min_side)


def _invoke(model, pixels, style_weights, min_side):
    """run_transform's pass through one interpreter, of pixels and style weights as the file takes them."""
    height, width = pixels.shape[:2]
    padded = _pad(pixels, min_side)
    index = _input_index(model, "picture")
    model.resize_tensor_input(index, (1, *padded.shape), strict=True)
    weights_index = _input_index(model, "style_weights")
    if weights_index is not None:
        styles = styles_of(model)
        weights = np.eye(styles, dtype=np.float32)[0] if style_weights is None else style_weights
        weights = np.asarray(weights, np.float32)
        weights = weights.reshape(1, 1, 1, -1) if weights.ndim == 1 else _pad(weights, min_side)[None]
        model.resize_tensor_input(weights_index, weights.shape, strict=True)
    with silenced():
        model.allocate_tensors()
    model.set_tensor(index, padded[None])
    if weights_index is not None:
        model.set_tensor(weights_index, weights)
    model.invoke()
    result = model.get_tensor(model.get_output_details()[0]["index"])[0, :height, :width]
    bad = result.size - int(np.count_nonzero(np.isfinite(result)))
    if bad:
        raise NonFiniteOutputError(f"the network gave NaN or infinity for {bad:,} of the {result.size:,} values")
    return np.clip(result, 0, 255)


def _pad(pixels, min_side):
    """pixels (H, W, C) padded by their edge to min_side where smaller (fast.apply.pad_to_min_side's arithmetic)."""
    height, width = pixels.shape[:2]
    pad = [(0, max(0, min_side - height)), (0, max(0, min_side - width)), (0, 0)]
    return np.pad(pixels, pad, mode="edge") if pad[0][1] or pad[1][1] else pixels


def square(pixels, side):
    """
    A picture's centred square resized to side x side with Pillow's Lanczos filter on its 8-bit pixels (the
    arithmetic of arbitrary.square, without TensorFlow).

    Arguments:
    pixels -- float32 (H, W, 3) RGB in 0..255
    side -- the square's side

    Returns:
    square -- float32 (side, side, 3), whole grey levels in 0..255
    """
    from PIL import Image

    height, width = pixels.shape[:2]
    edge = min(height, width)
    top, left = (height - edge) // 2, (width - edge) // 2
    eight_bits = np.clip(np.rint(pixels[top : top + edge, left : left + edge]), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(eight_bits).resize((side, side), Image.LANCZOS), np.float32)


def run_predictor(model, picture, style_size=STYLE_SIZE):
    """
    A picture's style vector from a .tflite style predictor (the arbitrary-style network's).

    Arguments:
    model -- the .tflite file, or an interpreter of it
    picture -- float32 (H, W, 3) RGB in 0..255 (its centred square is resized to style_size)
    style_size -- the square's side at the predictor

    Returns:
    vector -- float32 (100,)
    """
    model = interpreter(model) if isinstance(model, (str, os.PathLike)) else model
    pixels = square(np.asarray(picture, np.float32), style_size)[None]
    index = model.get_input_details()[0]["index"]
    model.resize_tensor_input(index, pixels.shape, strict=True)
    with silenced():
        model.allocate_tensors()
    model.set_tensor(index, pixels)
    model.invoke()
    return np.array(model.get_tensor(model.get_output_details()[0]["index"]), np.float32).reshape(-1)


# A whole picture's memory through LiteRT: the interpreter and the network's constants, then bytes per pixel of the
# picture (fast.tiles' figure for the widest quantised layout, 32 float32 channels at full size with int8 roundings'
# temporaries: an upper bound for both bundled networks). A picture above it goes the Keras route, in exact tiles.
BASE_BYTES = 300e6
PER_PIXEL_BYTES = 2600


def fits(height, width, budget):
    """
    Whether a picture of height x width goes through LiteRT whole within `budget` bytes.

    Arguments:
    height, width -- the picture's size
    budget -- bytes the apply may use

    Returns:
    fits -- bool
    """
    return BASE_BYTES + PER_PIXEL_BYTES * height * width <= budget
