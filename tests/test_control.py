"""Control over where and how the style acts: layer weights by rule, style losses in the cost, masks.

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
from neural_style.stylize import StyleTransfer
from tests import reference
from tests.transfers import COST_ROUNDING

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
        with pytest.raises(OptionError, match="style_layer_weights must be 'equal' or 'decay R'"):
            StyleOptions(style_layer_weights=bad).validate()
    with pytest.raises(OptionError, match="not both"):
        StyleOptions(style_layers=[("conv1_1", 0.5), ("conv2_1", 0.1)], style_layer_weights="equal").validate()


@pytest.mark.slow
def test_style_layer_weights_reach_the_cost(job, pictures, mat_file):
    _, arrays = pictures
    code, err, history, _ = job("--style-layer-weights", "decay", "4", "--style-layers", "conv1_1,conv2_1,conv3_1")
    assert code == 0, err
    layers = [("conv1_1", 16 / 21), ("conv2_1", 4 / 21), ("conv3_1", 1 / 21)]
    style = reference.grams(as_network(arrays["stripes"]), mat_file[1], [name for name, _ in layers])
    content = as_network(arrays["content"])
    start = reference.noise_image(content, seed=3)  # the article's starting image for --seed 3
    J_content, J_style = reference.style_transfer_costs(start, content, style, mat_file[1], "conv4_2", layers)
    np.testing.assert_allclose(history[0]["J_style"], J_style, rtol=COST_ROUNDING)
    np.testing.assert_allclose(history[0]["J_content"], J_content, rtol=COST_ROUNDING)


MEANS = np.array([123.68, 116.779, 103.939])


def as_network(pixels):
    return (pixels - MEANS)[None]


# --- masks: tests of effect


def write_mask(path, size, black_columns):
    """A greyscale PNG of `size`, black in the given column slice, white elsewhere."""
    mask = np.full(size, 255, np.uint8)
    mask[:, black_columns] = 0
    iio.imwrite(path, mask)
    return path


def redness(pixels, columns):
    return float(np.mean(pixels[:, columns, 0].astype(float) - pixels[:, columns, 2]))


@pytest.mark.slow
def test_style_masks_put_each_style_in_its_region(job, tmp_path):
    # Masks of another size than the picture (12x16): resized to it.
    left = write_mask(tmp_path / "left.png", (12, 16), slice(8, None))
    right = write_mask(tmp_path / "right.png", (12, 16), slice(None, 8))
    run = dict(style=("red", "blue"), iterations=6)
    fast = ("--init", "content", "--learning-rate", "20")  # big steps: a few iterations show the colours
    code, err, _, masked = job("--style-masks", left, right, *fast, **run)
    assert code == 0, err
    _, _, _, swapped = job("--style-masks", right, left, *fast, **run)
    half = WIDTH // 2
    # Red on the left and blue on the right, against the same run with the masks swapped.
    assert redness(masked, slice(None, half)) > redness(swapped, slice(None, half)) + 20
    assert redness(masked, slice(half, None)) < redness(swapped, slice(half, None)) - 20


@pytest.mark.slow
def test_content_mask_keeps_the_photo_outside_it(job, pictures, tmp_path):
    _, arrays = pictures
    mask = write_mask(tmp_path / "right-only.png", (12, 16), slice(None, 8))
    code, err, _, pixels = job("--content-mask", mask, "--init", "content", iterations=10, style=("red",))
    assert code == 0, err
    difference = np.abs(pixels.astype(float) - arrays["content"])
    half = WIDTH // 2
    assert difference[:, : half - 1].max() <= 2  # the mask's resized edge is one column wide
    assert difference[:, half + 1 :].mean() > 10


@pytest.mark.slow
def test_masks_work_with_lbfgs_scales_blends_and_another_loss(job, pictures, tmp_path):
    _, arrays = pictures
    content_mask = write_mask(tmp_path / "right-only.png", (HEIGHT, WIDTH), slice(None, 16))
    top = np.zeros((HEIGHT, WIDTH), np.uint8)
    top[: HEIGHT // 2] = 255
    iio.imwrite(tmp_path / "top.png", top)
    iio.imwrite(tmp_path / "bottom.png", 255 - top)
    style_masks = [tmp_path / "top.png", tmp_path / "bottom.png"]
    for extra in (
        ("--optimizer", "lbfgs", "--scales", "0.5,1", "--init", "noise"),
        ("--style-loss", "w2", "--style-blend", "0.7,0.3", "--style-scale", "0.5"),
    ):
        code, err, history, pixels = job(
            "--content-mask", content_mask, "--style-masks", *style_masks, *extra, iterations=4, style=("red", "blue")
        )
        assert code == 0, err
        assert len(history) == 4 and all(np.isfinite(entry["J"]) for entry in history)
        np.testing.assert_array_equal(pixels[:, :16], arrays["content"][:, :16])
        assert np.abs(pixels[:, 16:].astype(float) - arrays["content"][:, 16:]).mean() > 5


class Stop(Exception):
    pass


@pytest.mark.slow
def test_a_masked_run_resumes_exactly_and_a_checkpoint_remembers_the_masks(pictures, mat_file, tmp_path):
    _, arrays = pictures
    left = write_mask(tmp_path / "left.png", (HEIGHT, WIDTH), slice(16, None))
    right = write_mask(tmp_path / "right.png", (HEIGHT, WIDTH), slice(None, 16))
    options = dict(weights=mat_file[1], height=HEIGHT, width=WIDTH, iterations=4, seed=1, jit_compile=False)
    options.update(style_masks=[left, right], content_mask=np.ones((HEIGHT, WIDTH)))
    styles = [arrays["red"], arrays["blue"]]
    whole, whole_history = StyleTransfer(arrays["content"], styles, **options).run()

    def stop(entry):
        if entry["iteration"] == 2:
            raise Stop

    folder = str(tmp_path / "run")
    with pytest.raises(Stop):
        StyleTransfer(arrays["content"], styles, checkpoint_every=2, output_dir=folder, **options).run(callback=stop)
    result, history = StyleTransfer(arrays["content"], styles, resume=folder, **options).run()
    np.testing.assert_array_equal(result, whole)
    assert [entry["J"] for entry in history] == [entry["J"] for entry in whole_history]
    with pytest.raises(OptionError, match="different run.*style-masks"):
        StyleTransfer(arrays["content"], styles, resume=folder, **{**options, "style_masks": [right, left]})
    write_mask(left, (HEIGHT, WIDTH), slice(20, None))  # the same file name, other pixels
    with pytest.raises(OptionError, match="different run.*masks"):
        StyleTransfer(arrays["content"], styles, resume=folder, **options)


# --- bad input: one line, exit code 2


@pytest.mark.parametrize(
    "extra, style, message",
    [
        (("--content-mask", "{notes}"), ("red",), "not a readable image"),
        (("--content-mask", "{black}"), ("red",), "the mask is all black"),
        (("--content-mask", "{missing}"), ("red",), "--content-mask {missing}: no such file"),
        (("--style-masks", "{white}"), ("red", "blue"), "--style-masks has 1 mask for 2 style images"),
        (("--style-masks", "{white}", "{black}"), ("red", "blue"), "the mask is all black"),
        (("--style-source-masks", "{white}"), ("red",), "--style-source-masks needs --style-masks"),
        (("--style-masks", "{white}", "--style-source-masks", "{notes}"), ("red",), "not a readable image"),
        (("--style-loss", "gatys"), ("red",), "--style-loss must be one of gram, mean-cov, w2"),
        (("--style-layer-weights", "decay", "-2"), ("red",), "--style-layer-weights must be 'equal' or 'decay R'"),
        (("--content-mask", "{white}", "--output", "{white}"), ("red",), "is also an input"),
    ],
)
def test_bad_mask_and_loss_options_are_one_line(job, tmp_path, extra, style, message):
    files = {
        "notes": tmp_path / "notes.png",
        "black": write_mask(tmp_path / "black.png", (4, 4), slice(None)),
        "white": write_mask(tmp_path / "white.png", (4, 4), slice(0, 0)),
        "missing": tmp_path / "missing.png",
    }
    files["notes"].write_text("not an image")
    code, err, history, pixels = job(*[item.format(**files) for item in extra], style=style)
    assert code == 2 and len(err) == 1 and message.format(**files) in err[0], err
    assert history == [] and (pixels is None or extra[0] == "--output")
    assert iio.imread(files["white"]).max() == 255  # inputs never overwritten
