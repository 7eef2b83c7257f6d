"""Large pictures: the automatic schedule, the memory estimate, averaging, 16 bits, and the options."""

import math
import os

import cv2
import numpy as np
import pytest

from neural_style import cli, large
from neural_style.image_files import write_image
from neural_style.large.tiles import TiledStyleTransferCost
from neural_style.optimize import IterateAverage
from neural_style.option_fields import may_change_on_resume
from neural_style.options import OptionError, StyleOptions
from neural_style.stylize import StyleTransfer
from tests.transfers import weights_with_biases

ARTICLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"]


def test_auto_sizes_go_up_by_sqrt2_from_min_size_to_the_output():
    sizes = large.auto_sizes((600, 800), 128)
    assert sizes[-1] == (600, 800)
    longest = [max(size) for size in sizes]
    assert 128 <= longest[0] < 128 * math.sqrt(2)
    np.testing.assert_allclose(np.diff(np.log(longest)), math.log(math.sqrt(2)), atol=0.01)
    assert [round(800 / math.sqrt(2) ** k) for k in range(5, -1, -1)] == longest


def test_auto_sizes_refuse_a_min_size_above_the_output():
    with pytest.raises(OptionError, match="min_size 900 is larger than the output's longest side \\(800") as error:
        large.auto_sizes((600, 800), 900)
    assert error.value.parameters == ("min_size",)
    assert large.auto_sizes((60, 80)) == [(60, 80)]  # the default min size never exceeds the output


def test_auto_iterations_fall_by_sqrt2_a_scale_and_add_up():
    sizes = large.auto_sizes((600, 800), 128)
    shares = large.auto_iterations(200, sizes)
    assert sum(shares) == 200 and shares == sorted(shares, reverse=True)
    # In proportion to 1 / the longest side, after one each: within one iteration of the exact shares.
    weights = np.array([1 / max(size) for size in sizes])
    np.testing.assert_allclose(shares, 1 + (200 - len(sizes)) * weights / weights.sum(), atol=1)
    # Each scale's time (iterations x pixels) grows by about sqrt(2) a scale.
    time = np.array(shares) * [h * w for h, w in sizes]
    np.testing.assert_allclose(time[1:] / time[:-1], math.sqrt(2), rtol=0.2)
    assert large.auto_iterations(len(sizes), sizes) == [1] * len(sizes)
    assert large.split_iterations(200, 3) == [66, 67, 67]  # explicit lists of scales: equal shares


def test_activation_bytes_count_every_layer_up_to_conv5_1():
    # float32 channels / 4 ** level: block 1 2 x 64 + pool 16; block 2 2 x 32 + 8; block 3 4 x 16 + 4;
    # block 4 4 x 8 + 2; conv5_1 2: 320 floats.
    assert large.activation_bytes_per_pixel(ARTICLE_LAYERS) == 4 * (128 + 16 + 64 + 8 + 64 + 4 + 32 + 2 + 2)


@pytest.mark.parametrize(
    "size, tile_size, measured_mb, tolerance",
    [
        ((300, 400), 0, 1750, 0.05),
        ((600, 800), 0, 3180, 0.05),
        ((300, 400), 256, 1360, 0.15),
        ((600, 800), 256, 1741, 0.1),
    ],
)
def test_the_estimate_matches_the_measured_peaks(size, tile_size, measured_mb, tolerance):
    # The peaks measured by benchmarks/bench_large.py (docs/performance.md); tiled, the estimate errs on the high side.
    estimate = large.estimate_peak_memory(*size, tile_size, ARTICLE_LAYERS) / 1e6
    assert measured_mb * (1 - tolerance / 2) <= estimate <= measured_mb * (1 + tolerance)


def test_the_chosen_tile_is_the_largest_that_fits():
    assert large.choose_tile_size(300, 400, 4e9, ARTICLE_LAYERS) == 0
    tile = large.choose_tile_size(3000, 4000, 6e9, ARTICLE_LAYERS)
    assert tile % 16 == 0 and tile >= 80
    assert large.estimate_peak_memory(3000, 4000, tile, ARTICLE_LAYERS) <= 6e9
    assert large.estimate_peak_memory(3000, 4000, tile + 16, ARTICLE_LAYERS) > 6e9


def test_a_budget_too_small_for_any_tile_names_the_largest_size_that_fits():
    with pytest.raises(OptionError, match=r"does not fit in 1.5 GB .* the largest that fits is about \d+x\d+"):
        large.choose_tile_size(3000, 4000, 1.5e9, ARTICLE_LAYERS)
    with pytest.raises(OptionError, match="max_memory 0.5 GB is below what any run takes"):
        large.choose_tile_size(3000, 4000, 0.5e9, ARTICLE_LAYERS)
    with pytest.raises(OptionError, match=r"3000x2000 does not fit in 2.0 GB .* the largest that fits is about"):
        large.choose_tile_size(2000, 3000, 2e9, ARTICLE_LAYERS)


def test_the_average_is_the_bias_corrected_ema():
    rng = np.random.default_rng(0)
    iterates = rng.normal(size=(5, 2, 3))
    average = IterateAverage(0.9)
    for x in iterates:
        average.update(x)
    weights = 0.9 ** np.arange(4, -1, -1)  # the newest iterate weighs most
    np.testing.assert_allclose(average.value(), (weights[:, None, None] * iterates).sum(0) / weights.sum(), rtol=1e-6)
    average.reset()
    assert average.value() is None


def test_sixteen_bit_png_and_tiff_round_trip(tmp_path):
    pixels = np.linspace(0, 255, 4 * 5 * 3).reshape(4, 5, 3)
    expected = np.rint(pixels * 257).astype(np.uint16)
    np.testing.assert_array_equal(large.to_bit_depth(pixels, 16), expected)
    path = write_image(tmp_path / "out.png", expected)
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1], expected)
    with pytest.raises(OptionError, match="bit_depth 16: .*out.jpg is a .jpg file, which holds 8 bits"):
        large.check_bit_depth(tmp_path / "out.jpg", 16)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tile_size": 64}, "^tile_size must be 0 \\(off\\) or at least 80 pixels"),
        ({"max_memory": 0}, "^max_memory must be a number of GB > 0, got 0"),
        ({"min_size": 128}, "^min_size sets the first scale of the automatic schedule: give scales auto"),
        ({"min_size": 0, "scales": "auto"}, "^min_size must be a positive whole number of pixels"),
        ({"average": 1.0}, "^average must be a decay in \\[0, 1\\)"),
        ({"bit_depth": 12}, "^bit_depth must be one of 8, 16, got 12"),
        ({"tile_size": 128, "jit_compile": True}, "outside XLA"),
    ],
)
def test_bad_large_picture_options_get_one_line(options, message):
    with pytest.raises(OptionError, match=message):
        StyleOptions(weights="random", **options).validate()


def test_scales_auto_is_accepted():
    assert StyleOptions(weights="random", scales="auto", min_size=100).validate().scales == "auto"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tile-size", "40"], "--tile-size must be 0 (off) or at least 80"),
        (["--max-memory", "0.5"], "--max-memory 0.5 GB is below what any run takes"),
        (["--scales", "auto", "--min-size", "900"], "--min-size 900 is larger than the output's longest side"),
        (["--bit-depth", "16"], "x.jpg is a .jpg file, which holds 8 bits"),
        (["--bit-depth", "12"], "--bit-depth must be one of 8, 16, got 12"),
        (["--min-size", "100"], "--min-size sets the first scale of the automatic schedule: give --scales auto"),
    ],
)
def test_the_command_line_refuses_bad_large_picture_options(tmp_path, capsys, extra, message):
    content = tmp_path / "c.png"
    write_image(content, np.full((40, 60, 3), 128, np.uint8))
    output = tmp_path / "x.jpg"
    argv = ["--content", str(content), "--style", str(content), "--output", str(output), "--weights", "random"]
    code = cli.main([*argv, "--max-size", "200", "--iterations", "2", "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not output.exists()


def run(optimizer, **options):
    rng = np.random.default_rng(0)
    content = rng.uniform(0, 255, (96, 160, 3)).astype(np.float32)
    style = rng.uniform(60, 200, (120, 140, 3)).astype(np.float32)
    transfer = StyleTransfer(
        content,
        style,
        weights=weights_with_biases(),
        height=96,
        width=160,
        iterations=3,
        seed=1,
        optimizer=optimizer,
        **options,
    )
    return transfer, transfer.run()


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_tiled_run_makes_the_same_picture(optimizer):
    whole, (image, history) = run(optimizer)
    tiled, (tiled_image, tiled_history) = run(optimizer, tile_size=80)
    assert len(tiled.cost.tiles) == 4 and whole.tile_sizes == [0]
    np.testing.assert_allclose([h["J"] for h in tiled_history], [h["J"] for h in history], rtol=1e-4)
    assert np.abs(image.astype(int) - tiled_image.astype(int)).max() <= 1


@pytest.mark.slow
def test_a_tiled_run_resumes_from_its_checkpoint(tmp_path):
    _, (expected, _) = run("adam", tile_size=80, average=0.5)
    first, _ = run("adam", tile_size=80, average=0.5, checkpoint_every=2, output_dir=str(tmp_path))
    resumed, (image, history) = run("adam", tile_size=80, average=0.5, resume=str(tmp_path))
    assert [h["iteration"] for h in history] == [0, 1, 2]
    assert np.abs(image.astype(int) - expected.astype(int)).max() <= 1


def test_tiles_memory_and_bit_depth_may_change_on_resume_and_the_schedule_may_not():
    may_change = may_change_on_resume(StyleOptions)
    assert {"tile_size", "max_memory", "bit_depth"} <= may_change
    assert not {"min_size", "average", "scales"} & may_change


def test_the_bit_depth_changes_only_how_the_result_is_written():
    _, (image8, history8) = run("adam")
    _, (image16, history16) = run("adam", bit_depth=16)
    assert image8.dtype == np.uint8 and image16.dtype == np.uint16
    assert [h["J"] for h in history16] == [h["J"] for h in history8]
    # The same float picture: rounded to 8 bits, and x 257 rounded to 16, the two agree within half a grey level.
    assert np.abs(image16 / 257.0 - image8).max() <= 0.5 + 1 / 257


def test_max_memory_picks_the_largest_tile_that_fits():
    rng = np.random.default_rng(0)
    content = rng.uniform(0, 255, (600, 800, 3)).astype(np.float32)
    transfer = StyleTransfer(
        content, content[:100, :100], weights=weights_with_biases(), height=600, width=800, max_memory=2.5, iterations=1
    )
    expected = large.choose_tile_size(600, 800, 2.5e9, ARTICLE_LAYERS)
    assert 0 < expected and transfer.tile_sizes == [expected]
    assert isinstance(transfer.cost, TiledStyleTransferCost) and transfer.options.jit_compile is False
    assert StyleTransfer(content, content, weights=weights_with_biases(), height=60, width=80).tile_sizes == [0]


def test_the_plan_of_a_run_is_its_scales_and_their_tiles(monkeypatch):
    # --scales auto: auto_sizes from min_size up, at most one scale per iteration; given scales split the iterations,
    # the remainder to the finest.
    sizes, values, iterations = large.plan_scales((600, 800), "auto", 100, 128)
    assert sizes == large.auto_sizes((600, 800), 128) and sizes[-1] == (600, 800) and values[-1] == 1.0
    assert values == [round(max(size) / 800, 4) for size in sizes] and sum(iterations) == 100
    assert large.plan_scales((600, 800), "auto", 2, 128)[0] == sizes[-2:]
    assert large.plan_scales((600, 800), (0.5, 1.0), 9, None) == ([(300, 400), (600, 800)], [0.5, 1.0], [4, 5])
    # Tiles: --tile-size only where a scale is larger; else what the memory allows (choose_tile_size).
    assert large.plan_tiles([(300, 400), (600, 800)], ARTICLE_LAYERS, tile_size=512) == [0, 512]
    assert large.plan_tiles([(3000, 4000)], ARTICLE_LAYERS, max_memory=6) == [
        large.choose_tile_size(3000, 4000, 6e9, ARTICLE_LAYERS)
    ]
    with pytest.raises(OptionError, match="max_memory"):
        large.plan_tiles([(3000, 4000)], ARTICLE_LAYERS, max_memory=0.5)
    # Without --max-memory, a picture that fits in nothing free now is tried whole; unknown memory means no tiles.
    monkeypatch.setattr(large, "available_memory", lambda gpu=False: 0.5e9)
    assert large.plan_tiles([(3000, 4000)], ARTICLE_LAYERS) == [0]
    monkeypatch.setattr(large, "available_memory", lambda gpu=False: None)
    assert large.plan_tiles([(3000, 4000)], ARTICLE_LAYERS) == [0]


def fake_nvidia_smi(tmp_path, monkeypatch, body):
    """An nvidia-smi on PATH that records its arguments and runs `body`."""
    script = tmp_path / "nvidia-smi"
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "arguments"}\n{body}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


def test_on_a_gpu_the_budget_is_the_first_visible_gpus_free_memory(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, monkeypatch, "echo 81000")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert large.available_memory(gpu=True) == 81000 * 2**20
    assert "--query-gpu=memory.free" in (tmp_path / "arguments").read_text()
    assert "--id=3" in (tmp_path / "arguments").read_text()


@pytest.mark.parametrize("body", ["echo 'No devices were found'", "exit 9"])
def test_an_unreadable_gpu_gives_no_budget(tmp_path, monkeypatch, body):
    fake_nvidia_smi(tmp_path, monkeypatch, body)
    assert large.available_memory(gpu=True) is None
