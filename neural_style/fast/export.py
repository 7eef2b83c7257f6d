"""A trained network for phones and servers: a TFLite file and a SavedModel, both taking a float32 RGB picture in
0..255 of shape [1, H, W, 3] (any H and W: the input is resizable) and returning the stylised picture likewise.
A network of several styles takes a second input, `style_weights` float32 [1, h, w, styles], also resizable: each
position's convex weights of the styles. h = w = 1 (its shape until resized) is one mixture for the whole picture
(one-hot for one style); h, w = the picture's H, W is a mixture per pixel (style masks, as apply.fit_style_weights
resizes them), which each normalisation averages over the 2 x 2 or 4 x 4 blocks of its level as the Keras model
does."""

import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from ..checks import check_choice
from ..files import atomic_write
from .apply import fit_style_weights
from .layers import statistics_in_float32
from .options import QUANTIZATIONS


def serving_function(model):
    """
    The network as a tf.function of one picture of any size.

    Arguments:
    model -- a TransformNet

    Returns:
    function -- tf.function(picture [1, None, None, 3] float32 0..255) -> stylised [1, H, W, 3], clipped to 0..255;
                for several styles tf.function(picture, style_weights [1, None, None, styles] float32): h = w = 1
                one mixture, or the picture's H x W a mixture per pixel
    """
    picture = tf.TensorSpec([1, None, None, 3], tf.float32, name="picture")
    if model.styles == 1:

        @tf.function(input_signature=[picture])
        def stylize(picture):
            return {"stylized": tf.clip_by_value(model(picture), 0.0, 255.0)}

        return stylize

    # One input for both uses: a 1 x 1 map goes through the per-pixel path unchanged (each level's 2 x 2 average of
    # one position is that position), and broadcasts over the picture as a (1, styles) vector would.
    weights = tf.TensorSpec([1, None, None, model.styles], tf.float32, name="style_weights")

    @tf.function(input_signature=[picture, weights])
    def stylize_mixed(picture, style_weights):
        return {"stylized": tf.clip_by_value(model((picture, style_weights)), 0.0, 255.0)}

    return stylize_mixed


def export_tflite(model, path, quantize="none"):
    """
    Writes the network as a TFLite model (atomically).

    Arguments:
    model -- a TransformNet
    path -- the .tflite file
    quantize -- 'none' (float32), 'float16' (weights in float16: half the size) or 'dynamic' (weights in int8,
                activations quantised on the fly: a quarter of the size)

    Returns:
    size -- bytes written
    """
    check_choice(quantize, QUANTIZATIONS, "quantize")
    # Keras' variables frozen into constants first: converted as variables, they would be left out of the file.
    with statistics_in_float32():
        frozen = convert_variables_to_constants_v2(serving_function(model).get_concrete_function())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the converter's notice that a frozen function comes without its trackable
        flatbuffer = _convert(frozen, quantize)
    with atomic_write(path, suffix=".tflite") as temporary, open(temporary, "wb") as file:
        file.write(flatbuffer)
    return len(flatbuffer)


def export_predictor_tflite(predictor, path):
    """
    Writes the arbitrary-style network's style predictor as a TFLite model (atomically): a float32 picture
    [1, H, W, 3] in 0..255 (any H and W) in, its style vector [1, 100] out.

    Arguments:
    predictor -- a StylePredictor
    path -- the .tflite file

    Returns:
    size -- bytes written
    """
    picture = tf.TensorSpec([1, None, None, 3], tf.float32, name="picture")

    @tf.function(input_signature=[picture])
    def predict(picture):
        return {"style": predictor(picture)}

    frozen = convert_variables_to_constants_v2(predict.get_concrete_function())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flatbuffer = _convert(frozen, "none")
    with atomic_write(path, suffix=".tflite") as temporary, open(temporary, "wb") as file:
        file.write(flatbuffer)
    return len(flatbuffer)


def _convert(frozen, quantize):
    """A frozen concrete function's flatbuffer, with the quantisation asked for."""
    # The converter's notice (through absl's Python logger) that a frozen function comes without its trackable.
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()
    finally:
        absl.setLevel(level)


def export_saved_model(model, folder):
    """
    Writes the network as a SavedModel folder whose serving_default signature is serving_function's; the folder
    appears whole or not at all (written beside it, then renamed).

    Arguments:
    model -- a TransformNet
    folder -- the SavedModel's folder (must not exist yet)

    Returns:
    folder -- the folder written
    """
    folder = os.fspath(folder)
    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    try:
        module = tf.Module()
        module.model = model
        module.stylize = serving_function(model)
        try:
            tf.saved_model.save(module, temporary, signatures={"serving_default": module.stylize})
        except tf.errors.OpError as error:
            # TensorFlow's writers fail with an OpError (ResourceExhaustedError for a full disk) and a C++ message
            # of several lines; the command line takes an OSError as one line, exit 1.
            raise OSError(_write_failure(folder, error)) from None
        os.replace(temporary, folder)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder


def _write_failure(folder, error):
    """What a SavedModel's failed write says: the folder, TensorFlow's reason in one line, and what to do."""
    reason = " ".join(str(getattr(error, "message", "") or error).split())
    # The reason starts with the failing operation's internal name; the useful part is after the temporary path.
    reason = reason.rsplit("; ", 1)[-1] if "; " in reason else reason
    if "no space left" in reason.lower():
        advice = "the disk is full: free some space or choose a folder on another disk"
    else:
        advice = "check that the disk is writable and has room"
    return f"saved_model {folder}: could not be written ({reason[:160]}); {advice}; nothing was written"


def run_tflite(path_or_bytes, picture, style_weights=None):
    """
    Runs a TFLite model on one picture, with its input resized to the picture's size (tf.lite.Interpreter).

    Arguments:
    path_or_bytes -- the .tflite file, or its bytes
    picture -- float32 array (H, W, 3) or (1, H, W, 3) in 0..255
    style_weights -- for a model of several styles: its convex weights (styles,), or style masks (h, w, styles)
                     (style_choice.style_weights), resized to the picture by apply.fit_style_weights

    Returns:
    stylised -- float32 array (H, W, 3)
    """
    picture = np.asarray(picture, np.float32)
    picture = picture[None] if picture.ndim == 3 else picture
    if isinstance(path_or_bytes, bytes):
        interpreter = tf.lite.Interpreter(model_content=path_or_bytes)
    else:
        interpreter = tf.lite.Interpreter(model_path=os.fspath(path_or_bytes))
    inputs = {detail["name"]: detail["index"] for detail in interpreter.get_input_details()}
    index = next(value for name, value in inputs.items() if "picture" in name)
    interpreter.resize_tensor_input(index, picture.shape, strict=True)
    if style_weights is not None:
        weights = fit_style_weights(style_weights, *picture.shape[1:3])
        weights = weights.reshape(1, 1, 1, -1) if weights.ndim == 1 else weights[None]
        weights_index = next(value for name, value in inputs.items() if "style_weights" in name)
        interpreter.resize_tensor_input(weights_index, weights.shape, strict=True)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, picture)
    if style_weights is not None:
        interpreter.set_tensor(weights_index, weights)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]


def convert_bundled(name, folder=None):
    """
    Converts a bundled network to .tflite files in the models folder (each written atomically), and checks them: the
    demo photograph at two sizes, through the files by LiteRT (lite.py) and through the Keras network, the arbitrary
    network with the demo painting's style vector (each route's own predictor), the 26-style network with three
    styles and a mixture. The check's verdict is written beside them (bundled.lite_check reads it); the apply
    command takes the files only where it says "exact".

    Arguments:
    name -- a key of bundled.BUNDLED
    folder -- the models folder (default: bundled.models_folder())

    Returns:
    check -- dict: exact (bool: every uint8 picture within one grey level of the Keras network's), max_difference,
             styles, min_side, rounding (an int8 network's input and style rounding points, for lite.run_transform)
    """
    import json

    from ..image_files import read_image
    from . import arbitrary, bundled, lite
    from .apply import stylize_picture

    files = bundled.lite_files(name, folder)
    files["transform"].parent.mkdir(parents=True, exist_ok=True)
    network = bundled.load_bundled(name)
    export_tflite(network.transform, files["transform"])
    if network.predictor is not None:
        export_predictor_tflite(network.predictor, files["predictor"])
    demo = Path(__file__).resolve().parent.parent / "demo"
    photo = read_image(demo / "tubingen.jpg", 10**8)
    # An int8 network's inputs, rounded as its Keras model rounds them before the file sees them (lite.keras_rounding).
    points = network.transform.quantization
    rounding = {point: points[point] for point in ("input", "style") if point in points} or None
    worst = 0
    for height, width in ((96, 128), (61, 83)):
        pixels = tf.image.resize(photo, (height, width), antialias=True).numpy()
        if network.predictor is not None:
            painting = read_image(demo / "starry_night.jpg", 10**8)
            keras_vector = arbitrary.style_vector(network.predictor, painting)
            choices = [(keras_vector, lite.run_predictor(files["predictor"], painting))]
        else:
            eye = np.eye(network.transform.styles, dtype=np.float32)
            mixture = (eye[3] + eye[7] + eye[20]) / 3
            choices = [(eye[0], eye[0]), (eye[7], eye[7]), (mixture, mixture)]
        for keras_weights, lite_weights in choices:
            ours = stylize_picture(network.transform, pixels, style_weights=keras_weights)
            min_side = network.transform.layout.min_side
            theirs = lite.run_transform(files["transform"], pixels, lite_weights, min_side, rounding)
            difference = np.abs(np.rint(ours).astype(np.int32) - np.rint(theirs).astype(np.int32)).max()
            worst = max(worst, int(difference))
    transform = network.transform
    check = {
        "exact": worst <= 1,
        "max_difference": worst,
        "styles": transform.styles,
        "min_side": transform.layout.min_side,
        "rounding": rounding,
        "tensorflow": tf.__version__,
    }
    with atomic_write(files["check"], suffix=".json") as temporary, open(temporary, "w") as file:
        json.dump(check, file)
    return check
