"""The main job's options beyond the course: --tv-weight, several --style images with --style-blend,
--style-scale, --preserve-colors, --color-match, --pooling, --preset, and Keras VGG19 .h5 weights with blockN_convM
layer names.

Runs are in-process (`neural_style.cli.main`) on small fixture weights and 24x32 PNGs; the costs the command writes
to --history are checked against the plain-numpy forward pass of tests/reference.py.
"""

import importlib
import json

import h5py
import imageio.v3 as iio
import numpy as np
import pytest

from neural_style.cli import main
from neural_style.cli.stylize import build_parser, options_from_args
from neural_style.images import generate_noise_image, reshape_and_normalize_image
from neural_style.options import StyleOptions
from neural_style.weights import VGGWeights, keras_layer_name, random_vgg_weights
from tests import reference
from tests.h5_fixtures import write_keras2_h5
from tests.transfers import COST_ROUNDING

cli_stylize = importlib.import_module("neural_style.cli.stylize")
HEIGHT, WIDTH = 24, 32
MEANS = np.array([123.68, 116.779, 103.939])
KERAS_MEAN_BGR = np.array([103.939, 116.779, 123.68])  # keras.applications.vgg19.preprocess_input's


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """A smooth, mildly coloured content picture and two style pictures, 24x32 PNG (lossless), and their pixels."""
    folder = tmp_path_factory.mktemp("pictures")
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    content = np.stack([90 + x * 3, 80 + y * 4, 120 + (x - y) * 1.5], -1)
    stripes = np.stack([128 + 90 * np.sin(x / 1.5), 100 + 60 * np.sin(y / 2), 150 - 60 * np.sin(x / 1.5)], -1)
    dots = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3))
    arrays = {"content": content, "stripes": stripes, "dots": dots}
    paths = {}
    for name, array in arrays.items():
        arrays[name] = np.clip(np.rint(array), 0, 255).astype(np.uint8)
        paths[name] = folder / f"{name}.png"
        iio.imwrite(paths[name], arrays[name])
    return paths, {name: array.astype(np.float64) for name, array in arrays.items()}


@pytest.fixture(scope="module")
def keras_h5(tmp_path_factory):
    """A small Keras-2-layout vgg19 ..._notop.h5 with He-initialised filters and non-zero biases, and its weights."""
    rng = np.random.default_rng(5)
    weights = random_vgg_weights(seed=3, width_divisor=16)
    layers = {
        name: (kernel, rng.normal(0, 0.05, kernel.shape[-1]).astype(np.float32))
        for name, (kernel, _) in weights.layers.items()
    }
    path = tmp_path_factory.mktemp("keras") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    write_keras2_h5(path, {keras_layer_name(name): list(arrays) for name, arrays in layers.items()})
    return path, VGGWeights(layers=layers, source=str(path), channel_order="BGR")


@pytest.fixture
def job(pictures, mat_file, tmp_path, capfd, monkeypatch):
    """Runs the main job in-process (plain tf.function, no XLA: faster for 2-iteration runs).

    Returns (exit code, stderr lines, history entries, output pixels or None).
    """
    monkeypatch.setattr(
        cli_stylize, "options_from_args", lambda args: {**options_from_args(args), "jit_compile": False}
    )
    paths, _ = pictures

    def run(*extra, style=("stripes",), weights=None):
        output, history = tmp_path / "out.png", tmp_path / "history.jsonl"
        for stale in (output, history):
            stale.unlink(missing_ok=True)
        argv = [
            "--content",
            str(paths["content"]),
            "--style",
            *[str(paths[name]) for name in style],
            "--output",
            str(output),
            "--weights",
            str(weights or mat_file[0]),
            "--height",
            str(HEIGHT),
            "--width",
            str(WIDTH),
            "--iterations",
            "2",
            "--seed",
            "3",
            "--save-every",
            "0",
            "--quiet",
            "--history",
            str(history),
        ]
        code = main(argv + [str(item) for item in extra])
        _, err = capfd.readouterr()
        entries = [json.loads(line) for line in history.read_text().splitlines()] if history.exists() else []
        pixels = iio.imread(output) if output.exists() else None
        return code, err.splitlines(), entries, pixels

    return run


def first_image(content_pixels, seed=3):
    """The article's starting image for --seed 3, mean-subtracted RGB."""
    return generate_noise_image(reshape_and_normalize_image(content_pixels), 0.6, seed=seed).astype(np.float64)


# --- Keras VGG19 .h5 weights and blockN_convM names


def test_keras_h5_weights_and_block_names_end_to_end(job, pictures, keras_h5):
    _, arrays = pictures
    path, weights = keras_h5
    code, err, history, pixels = job(
        "--content-layer", "block4_conv2", "--style-layers", "block1_conv1:0.5,block3_conv1:0.5", weights=path
    )
    assert code == 0, err
    assert pixels.shape == (HEIGHT, WIDTH, 3) and len(history) == 2
    # Independently: Keras's preprocessing (RGB to BGR, minus Keras's mean) into the filters as stored, no flip.
    keras_view = VGGWeights(layers=weights.layers, source="keras", channel_order="RGB")
    to_keras = lambda rgb: (rgb[..., ::-1] - KERAS_MEAN_BGR)[None]  # noqa: E731
    generated = to_keras(first_image(arrays["content"])[0] + MEANS)
    layers = [("conv1_1", 0.5), ("conv3_1", 0.5)]
    J_content, J_style = reference.style_transfer_costs(
        generated,
        to_keras(arrays["content"]),
        reference.grams(to_keras(arrays["stripes"]), keras_view, ["conv1_1", "conv3_1"]),
        keras_view,
        "conv4_2",
        layers,
    )
    np.testing.assert_allclose(history[0]["J_content"], J_content, rtol=COST_ROUNDING)
    np.testing.assert_allclose(history[0]["J_style"], J_style, rtol=COST_ROUNDING)
    np.testing.assert_allclose(history[0]["J"], 10 * J_content + 40 * J_style, rtol=COST_ROUNDING)


def test_an_h5_that_is_not_vgg19_weights_is_one_line(job, tmp_path):
    other = tmp_path / "resnet50_weights.h5"
    write_keras2_h5(
        other,
        {"conv1": [np.zeros((7, 7, 3, 64), np.float32), np.zeros(64, np.float32)]},
        layer_order=("input_1", "conv1", "bn_conv1"),
    )
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as file:
        file.create_dataset("x", data=np.zeros(3))
    not_hdf5 = tmp_path / "notes.h5"
    not_hdf5.write_text("not HDF5")
    for path, reason in (
        (other, "no layer 'block1_conv1'"),
        (empty, "no Keras 'layer_names'"),
        (not_hdf5, "not an HDF5 file"),
    ):
        code, err, _, pixels = job(weights=path)
        assert code == 2 and len(err) == 1 and pixels is None
        assert str(path) in err[0] and reason in err[0] and "Keras VGG19 weights" in err[0]


# --- several styles, their blend, the style scale, colours


def test_blend_one_zero_is_the_single_style_and_an_even_blend_is_between(job):
    code, err, single, _ = job()
    assert code == 0, err
    _, _, blended, _ = job("--style-blend", "1,0", style=("stripes", "dots"))
    np.testing.assert_allclose([e["J"] for e in blended], [e["J"] for e in single], rtol=1e-5)
    _, _, other, _ = job(style=("dots",))
    _, _, even, _ = job(style=("stripes", "dots"))  # default: equal weights
    # The first image is the same in every run; its style cost against the mixed Grams differs from both.
    assert len({round(run[0]["J_style"], 2) for run in (single, other, even)}) == 3


def test_style_scale_and_color_match_reach_the_cost(job):
    # Their exact effect on the Grams is checked in tests/test_stylize.py; here, that the flags get there.
    code, err, history, _ = job("--style-scale", "0.5")
    assert code == 0, err
    _, _, matched, _ = job("--color-match")
    _, _, plain, _ = job()
    for run in (history, matched):
        assert abs(run[0]["J_style"] - plain[0]["J_style"]) > 1e-3 * plain[0]["J_style"]
        np.testing.assert_allclose(run[0]["J_content"], plain[0]["J_content"], rtol=1e-5)  # the same first image
    options = resolved("--style-scale", "0.5", "--color-match", "--pooling", "max")
    assert (options.style_scale, options.color_match, options.pooling) == (0.5, True, "max")


def test_preserve_colors_writes_the_photos_chrominance(job, pictures):
    _, arrays = pictures
    code, err, _, kept = job("--preserve-colors")
    assert code == 0, err
    _, _, _, plain = job()
    inside = np.all((kept > 0) & (kept < 255), axis=-1)
    assert inside.mean() > 0.9
    np.testing.assert_allclose(
        reference.yiq(kept)[inside][:, 1:], reference.yiq(arrays["content"])[inside][:, 1:], atol=1.0
    )
    np.testing.assert_allclose(reference.yiq(kept)[inside][:, 0], reference.yiq(plain)[inside][:, 0], atol=1.0)
    assert np.abs(reference.yiq(plain)[..., 1:] - reference.yiq(arrays["content"])[..., 1:]).max() > 10


def test_tv_weight_is_added_and_recorded(job):
    code, err, history, _ = job("--tv-weight", "0.25")
    assert code == 0, err
    _, _, plain, _ = job()
    for entry in history:
        np.testing.assert_allclose(
            entry["J"], 10 * entry["J_content"] + 40 * entry["J_style"] + 0.25 * entry["J_tv"], rtol=1e-5
        )
    np.testing.assert_allclose(history[0]["J"], plain[0]["J"] + 0.25 * history[0]["J_tv"], rtol=1e-5)
    assert all("J_tv" not in entry for entry in plain)


def test_pooling_max_changes_the_costs(job, pictures, mat_file):
    _, arrays = pictures
    weights = mat_file[1]
    code, err, history, _ = job("--pooling", "max")
    assert code == 0, err
    _, _, plain, _ = job()
    layers = [(name, 0.2) for name in ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")]
    style = reference.grams(reshape_and_normalize_image(arrays["stripes"]), weights, [n for n, _ in layers], "max")
    J_content, J_style = reference.style_transfer_costs(
        first_image(arrays["content"]),
        reshape_and_normalize_image(arrays["content"]),
        style,
        weights,
        "conv4_2",
        layers,
        pooling="max",
    )
    np.testing.assert_allclose(history[0]["J"], 10 * J_content + 40 * J_style, rtol=COST_ROUNDING)
    assert abs(history[0]["J"] - plain[0]["J"]) > 1e-3 * plain[0]["J"]


# --- presets


def resolved(*argv):
    args = build_parser().parse_args(["--content", "c.png", "--style", "s.png", "--output", "o.png", *argv])
    return StyleOptions(**options_from_args(args)).validate()


def test_preset_flags_resolve_with_explicit_flags_winning():
    article = resolved()
    assert (article.content_layer, article.learning_rate, article.optimizer, article.image_range) == (
        "conv4_2",
        2.0,
        "adam",
        "mean",
    )
    tf2 = resolved("--preset", "course-tf2")
    assert (tf2.content_layer, tf2.learning_rate, tf2.pooling, tf2.image_range, tf2.clip, tf2.init) == (
        "conv5_4",
        0.01,
        "max",
        "unit",
        True,
        "noise",
    )
    gatys = resolved("--preset", "gatys", "--optimizer", "adam", "--content-layer", "block5_conv2", "--beta", "500")
    assert (gatys.optimizer, gatys.content_layer, gatys.beta, gatys.alpha, gatys.init, gatys.content_cost) == (
        "adam",
        "conv5_2",
        500,
        1.0,
        "random",
        "gatys",
    )


def test_course_tf2_preset_end_to_end(job, pictures, mat_file):
    _, arrays = pictures
    weights = mat_file[1]
    code, err, history, pixels = job("--preset", "course-tf2")
    assert code == 0, err
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    # Images in [0, 1], the content + uniform(-0.25, 0.25) noise clipped, content layer conv5_4, max pooling.
    noise = np.random.default_rng(3).uniform(-0.25, 0.25, (1, HEIGHT, WIDTH, 3))
    generated = np.clip(arrays["content"][None] / 255 + noise, 0, 1)
    layers = [(name, 0.2) for name in ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")]
    style = reference.grams(arrays["stripes"][None] / 255, weights, [n for n, _ in layers], "max")
    J_content, J_style = reference.style_transfer_costs(
        generated, arrays["content"][None] / 255, style, weights, "conv5_4", layers, pooling="max"
    )
    np.testing.assert_allclose(history[0]["J_content"], J_content, rtol=COST_ROUNDING)
    np.testing.assert_allclose(history[0]["J_style"], J_style, rtol=COST_ROUNDING)


def test_gatys_preset_end_to_end(job, pictures, mat_file):
    _, arrays = pictures
    code, err, history, pixels = job("--preset", "gatys")
    assert code == 0, err
    assert pixels.shape == (HEIGHT, WIDTH, 3) and "evaluations" in history[0]  # L-BFGS
    for entry in history:  # alpha / beta = 1e-3
        np.testing.assert_allclose(entry["J"], entry["J_content"] + 1e3 * entry["J_style"], rtol=1e-5)


# --- bad input: one line, exit code 2, nothing written


@pytest.mark.parametrize(
    "extra, style, message",
    [
        (("--style-blend", "1,2,3"), ("stripes", "dots"), "--style-blend has 3 weights for 2 style images"),
        (("--style-blend", "0.5,-0.5"), ("stripes", "dots"), "--style-blend weights must be finite numbers >= 0"),
        (("--style-blend", "a,b"), ("stripes", "dots"), "--style-blend must be numbers"),
        (("--style-scale", "-1"), ("stripes",), "--style-scale must be a number > 0"),
        (("--tv-weight", "-0.1"), ("stripes",), "--tv-weight must be a finite number >= 0"),
        (("--preset", "fast"), ("stripes",), "--preset must be one of article, course-tf2, gatys"),
        (("--pooling", "min"), ("stripes",), "--pooling must be one of avg, max"),
        (("--content-layer", "block6_conv1"), ("stripes",), "unknown layer block6_conv1"),
    ],
)
def test_bad_feature_flags_are_one_line(job, extra, style, message):
    code, err, history, pixels = job(*extra, style=style)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert pixels is None and history == []
