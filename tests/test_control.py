"""Control over where and how the style acts (issue 12): layer weights by rule, style losses in the cost, masks.

The command runs are in-process (`neural_style.cli.main`) on the small fixture weights; the costs it records are
checked against the plain-numpy forward pass of tests/reference.py.
"""

import importlib
import json

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style.cli import main
from neural_style.cli.stylize import options_from_args
from neural_style.config import STYLE_LAYERS
from neural_style.options import OptionError, StyleOptions, style_layer_weights
from tests.test_cli_features import first_image, grams, numpy_costs

cli_stylize = importlib.import_module("neural_style.cli.stylize")
HEIGHT, WIDTH = 24, 32


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """A smooth content picture, a striped style picture, flat red and blue ones, 24x32 PNG, and their pixels."""
    folder = tmp_path_factory.mktemp("pictures")
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    arrays = {
        "content": np.stack([90 + x * 3, 80 + y * 4, 120 + (x - y) * 1.5], -1),
        "stripes": np.stack([128 + 90 * np.sin(x / 1.5), 100 + 60 * np.sin(y / 2), 150 - 60 * np.sin(x / 1.5)], -1),
        "red": np.broadcast_to([230, 20, 20], (HEIGHT, WIDTH, 3)),
        "blue": np.broadcast_to([20, 20, 230], (HEIGHT, WIDTH, 3)),
    }
    paths = {}
    for name, array in arrays.items():
        arrays[name] = np.clip(np.rint(array), 0, 255).astype(np.uint8)
        paths[name] = folder / f"{name}.png"
        iio.imwrite(paths[name], arrays[name])
    return paths, {name: array.astype(np.float64) for name, array in arrays.items()}


@pytest.fixture
def job(pictures, mat_file, tmp_path, capfd, monkeypatch):
    """Runs the main job in-process; returns (exit code, stderr lines, history entries, output pixels or None)."""
    monkeypatch.setattr(
        cli_stylize, "options_from_args", lambda args: {**options_from_args(args), "jit_compile": False}
    )
    paths, _ = pictures

    def run(*extra, style=("stripes",), iterations=2, size=(HEIGHT, WIDTH)):
        output, history = tmp_path / "out.png", tmp_path / "history.jsonl"
        for stale in (output, history):
            stale.unlink(missing_ok=True)
        argv = ["--content", str(paths["content"]), "--style", *[str(paths[name]) for name in style]]
        argv += ["--output", str(output), "--weights", str(mat_file[0]), "--height", str(size[0])]
        argv += ["--width", str(size[1]), "--iterations", str(iterations), "--seed", "3", "--save-every", "0"]
        argv += ["--quiet", "--history", str(history)]
        code = main(argv + [str(item) for item in extra])
        _, err = capfd.readouterr()
        entries = [json.loads(line) for line in history.read_text().splitlines()] if history.exists() else []
        pixels = iio.imread(output) if output.exists() else None
        return code, err.splitlines(), entries, pixels

    return run


# --- layer weights by rule


def test_decay_4_over_the_five_style_layers_is_256_64_16_4_1():
    layers = style_layer_weights(STYLE_LAYERS, ("decay", 4))
    assert [name for name, _ in layers] == [name for name, _ in STYLE_LAYERS]
    np.testing.assert_allclose([w for _, w in layers], np.array([256, 64, 16, 4, 1]) / 341, rtol=1e-12)
    np.testing.assert_allclose(
        [w for _, w in style_layer_weights(STYLE_LAYERS[:3], "decay 0.5")], [1 / 7, 2 / 7, 4 / 7]
    )
    assert [w for _, w in style_layer_weights([("conv1_1", 1.0), ("conv3_1", 1.0)], "equal")] == [0.5, 0.5]


def test_style_layer_weights_option_is_checked_and_used():
    options = StyleOptions(style_layer_weights="decay 4").validate()
    assert options.style_layer_weights == ("decay", 4.0)
    np.testing.assert_allclose([w for _, w in options.weighted_style_layers()], np.array([256, 64, 16, 4, 1]) / 341)
    for bad in ("decay", "decay 0", "decay x", "geometric 2", "equal 2"):
        with pytest.raises(OptionError, match="--style-layer-weights must be 'equal' or 'decay R'"):
            StyleOptions(style_layer_weights=bad).validate()
    with pytest.raises(OptionError, match="not both"):
        StyleOptions(style_layers=[("conv1_1", 0.5), ("conv2_1", 0.1)], style_layer_weights="equal").validate()


def test_style_layer_weights_reach_the_cost(job, pictures, mat_file):
    _, arrays = pictures
    code, err, history, _ = job("--style-layer-weights", "decay", "4", "--style-layers", "conv1_1,conv2_1,conv3_1")
    assert code == 0, err
    layers = [("conv1_1", 16 / 21), ("conv2_1", 4 / 21), ("conv3_1", 1 / 21)]
    style = reference_grams(arrays["stripes"], mat_file[1], [name for name, _ in layers])
    J_content, J_style = numpy_costs(
        first_image(arrays["content"]), as_network(arrays["content"]), style, mat_file[1], "conv4_2", layers
    )
    np.testing.assert_allclose(history[0]["J_style"], J_style, rtol=1e-4)
    np.testing.assert_allclose(history[0]["J_content"], J_content, rtol=1e-4)


MEANS = np.array([123.68, 116.779, 103.939])


def as_network(pixels):
    return (pixels - MEANS)[None]


def reference_grams(pixels, weights, names):
    return grams(as_network(pixels), weights, names)
