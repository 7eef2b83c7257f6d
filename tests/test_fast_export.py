"""Export for phones and servers: the TFLite model (tf.lite.Interpreter) and the SavedModel give the Keras model's
pictures, at any size (resizable input [1, H, W, 3], float32, 0..255)."""

import numpy as np
import pytest
import tensorflow as tf

from neural_style.checks import OptionError
from neural_style.fast.export import export_saved_model, export_tflite, run_tflite
from neural_style.fast.network import build_transform_net


@pytest.fixture(scope="module")
def net():
    model = build_transform_net(seed=4)
    model.output_conv.kernel.assign(model.output_conv.kernel * 20)  # outputs spread over the grey levels
    return model


def _picture(height, width, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (height, width, 3)).astype(np.float32)


def test_tflite_float32_equals_keras_within_one_grey_level_at_any_size(net, tmp_path):
    path = tmp_path / "style.tflite"
    size = export_tflite(net, path)
    # 1.68 million float32 weights: the file holds them all (about 6.7 MB).
    assert size == path.stat().st_size > 4 * 1_600_000
    for height, width in [(37, 50), (21, 13), (64, 64)]:
        picture = _picture(height, width, seed=height)
        keras_result = np.clip(net(picture[None]).numpy()[0], 0, 255)
        lite = run_tflite(path, picture)
        assert lite.shape == (height, width, 3)
        # The same float32 operations in TFLite's kernels (another summation order): far below one grey level.
        assert np.abs(lite - keras_result).max() < 1.0


def test_quantised_files_are_smaller(net, tmp_path):
    full = export_tflite(net, tmp_path / "full.tflite")
    half = export_tflite(net, tmp_path / "half.tflite", quantize="float16")
    quarter = export_tflite(net, tmp_path / "quarter.tflite", quantize="dynamic")
    # float16 weights take half the bytes, int8 a quarter (plus the graph's few kilobytes).
    assert 0.45 * full < half < 0.55 * full
    assert 0.2 * full < quarter < 0.3 * full
    assert run_tflite(tmp_path / "half.tflite", _picture(20, 24)).shape == (20, 24, 3)
    with pytest.raises(OptionError, match="quantize must be one of none, float16, dynamic"):
        export_tflite(net, tmp_path / "x.tflite", quantize="int4")


def test_saved_model_serves_the_keras_pictures(net, tmp_path):
    folder = export_saved_model(net, tmp_path / "saved")
    serve = tf.saved_model.load(folder).signatures["serving_default"]
    picture = _picture(33, 29)
    result = serve(picture=tf.constant(picture[None]))["stylized"].numpy()[0]
    # The same graph as Keras' call, run by TensorFlow: equal up to float32 rounding.
    np.testing.assert_allclose(result, np.clip(net(picture[None]).numpy()[0], 0, 255), atol=0.05)
