import json

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from neural_style import cli, config
from neural_style.checkpoint import load_checkpoint
from neural_style.config import CONFIG
from neural_style.images import image_to_uint8, reshape_and_normalize_image
from neural_style.large import split_iterations
from neural_style.stylize import StyleTransfer, stylize
from tests.transfers import COST_ROUNDING, HEIGHT, WIDTH, pictures, transfer

MEANS = CONFIG.MEANS.astype(np.float64)


def cost_of(transfer_, image):
    return float(transfer_.cost.terms(tf.constant(image, tf.float32)).J)


# --init: the first image, against numpy float64


def test_init_noise_is_the_articles_mixture(weights):
    first = transfer(weights, init="noise", noise_ratio=0.3, seed=7).image.numpy()
    content, _ = pictures()
    noise = np.random.default_rng(7).uniform(-20, 20, (1, HEIGHT, WIDTH, 3))
    expected = noise * 0.3 + (content[None] - MEANS) * 0.7
    np.testing.assert_allclose(first, expected, atol=1e-4)


def test_init_content_is_the_content_image(weights):
    first = transfer(weights, init="content").image.numpy()
    content, _ = pictures()
    np.testing.assert_allclose(first, content[None] - MEANS, atol=1e-4)


def test_init_random_is_the_articles_noise_alone(weights):
    first = transfer(weights, init="random", seed=3).image.numpy()
    expected = np.random.default_rng(3).uniform(-20, 20, (1, HEIGHT, WIDTH, 3))
    np.testing.assert_allclose(first, expected, atol=1e-5)
    assert abs(first.mean()) < 2  # white noise around the mean pixel: nothing of the content left


def test_init_path_is_that_image_at_the_output_size(weights, tmp_path):
    rng = np.random.default_rng(4)
    same_size = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "start.png", same_size)
    first = transfer(weights, init=str(tmp_path / "start.png")).image.numpy()
    np.testing.assert_allclose(first, same_size[None] - MEANS, atol=1e-4)
    # A picture of another size is resized to the output size: a flat colour stays that colour.
    flat = np.full((50, 70, 3), (200, 40, 90), np.uint8)
    iio.imwrite(tmp_path / "flat.png", flat)
    first = transfer(weights, init=str(tmp_path / "flat.png")).image.numpy()
    assert first.shape == (1, HEIGHT, WIDTH, 3)
    np.testing.assert_allclose(first, np.broadcast_to(np.array([200, 40, 90]) - MEANS, first.shape), atol=1e-3)


def test_history_starts_at_the_cost_of_the_first_image(weights):
    run = transfer(weights, init="content", iterations=2)
    first = run.image.numpy()
    _, history = run.run()
    assert history[0]["J"] == pytest.approx(cost_of(run, first), rel=COST_ROUNDING)


# --optimizer lbfgs


def test_lbfgs_reaches_a_lower_cost_than_the_articles_adam(weights):
    adam = transfer(weights, optimizer="adam", iterations=20)
    adam.run()
    lbfgs = transfer(weights, optimizer="lbfgs", iterations=20)
    _, history = lbfgs.run()
    assert len(history) == 20 and [entry["iteration"] for entry in history] == list(range(20))
    # Same start, same problem: each written image's cost, recomputed, and L-BFGS well below Adam's.
    adam_cost = cost_of(adam, adam.best_image.numpy())
    lbfgs_cost = cost_of(lbfgs, lbfgs.best_image.numpy())
    assert adam_cost == pytest.approx(float(adam.best_cost), rel=COST_ROUNDING)
    assert lbfgs_cost == pytest.approx(float(lbfgs.best_cost), rel=COST_ROUNDING)
    assert lbfgs_cost < 0.5 * adam_cost
    evaluations = [entry["evaluations"] for entry in history]
    assert evaluations == sorted(evaluations) and 20 <= evaluations[-1] <= 2 * 20 + 20


def test_lbfgs_keeps_the_pixels_in_range_and_records_each_iterate(weights):
    seen = []
    run = transfer(weights, optimizer="lbfgs", iterations=6)
    _, history = run.run(callback=lambda entry: seen.append((entry["J"], run.image.numpy())))
    low, high = run.bounds
    for J, image in seen:
        assert np.all(image >= low - 1e-4) and np.all(image <= high + 1e-4)
        assert J == pytest.approx(cost_of(run, image), rel=COST_ROUNDING)  # the entry is the cost of that iterate
    assert [J for J, _ in seen] == [entry["J"] for entry in history]


def test_an_integer_learning_rate_is_taken_as_its_float(weights):
    # Keras's Adam refuses an int; stylize(..., learning_rate=2) is what a learner types.
    images = [transfer(weights, iterations=2, learning_rate=rate).run()[0] for rate in (4, 4.0)]
    np.testing.assert_array_equal(images[0], images[1])


# The lowest-cost image is what gets written


def test_adam_writes_the_lowest_cost_image_not_the_last(weights):
    images = []
    # A step far too long makes Adam overshoot, so the last image is not the best one.
    run = transfer(weights, optimizer="adam", iterations=8, learning_rate=60.0)
    images.append(run.image.numpy())
    result, history = run.run(callback=lambda entry: images.append(run.image.numpy()))
    costs = [entry["J"] for entry in history] + [cost_of(run, images[-1])]
    best = int(np.argmin(costs))
    assert best != len(costs) - 1, "the test needs a run whose last image is not its best"
    np.testing.assert_array_equal(result, image_to_uint8(images[best]))
    assert float(run.best_cost) == pytest.approx(costs[best], rel=COST_ROUNDING)


def test_lbfgs_writes_the_lowest_cost_image(weights):
    run = transfer(weights, optimizer="lbfgs", iterations=5)
    result, history = run.run()
    best = run.best_image.numpy()
    np.testing.assert_array_equal(result, image_to_uint8(best))
    assert cost_of(run, best) == pytest.approx(float(run.best_cost), rel=COST_ROUNDING)
    assert float(run.best_cost) <= min(entry["J"] for entry in history) * (1 + 1e-6)


# --scales


def test_split_iterations():
    assert split_iterations(200, 3) == [66, 67, 67]
    assert split_iterations(10, 2) == [5, 5]
    assert split_iterations(7, 7) == [1] * 7


def test_multiscale_ends_at_the_output_size_and_covers_the_budget(weights):
    content, style = pictures()
    run = transfer(weights, iterations=9, scales="0.25,0.5,1")
    assert run.sizes == [(6, 8), (12, 16), (24, 32)]
    seen = {}

    def capture(entry):
        seen.setdefault(entry["scale"], []).append((run.image.numpy(), run.cost))

    result, history = run.run(callback=capture)
    assert result.shape == (HEIGHT, WIDTH, 3)
    assert [entry["iteration"] for entry in history] == list(range(9))
    assert [entry["scale"] for entry in history] == [0.25] * 3 + [0.5] * 3 + [1.0] * 3
    # The targets of each scale come from the content resized to it.
    cost_half = seen[0.5][0][1]
    small = tf.image.resize(content, (12, 16), antialias=True).numpy()
    expected = run.model(reshape_and_normalize_image(small), ["conv4_2"])[0]
    np.testing.assert_allclose(cost_half.a_C.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
    # The final scale starts from the half scale's best image, upsampled.
    candidates = [seen[0.25][-1][0]] + [image for image, _ in seen[0.5]]  # the images costed at scale 0.5
    costs = [entry["J"] for entry in history[3:6]] + [float(cost_half.terms(tf.constant(candidates[-1])).J)]
    best = candidates[int(np.argmin(costs))]
    start = tf.image.resize(best, (HEIGHT, WIDTH), method="bilinear").numpy()
    assert history[6]["J"] == pytest.approx(float(run.cost.terms(tf.constant(start)).J), rel=COST_ROUNDING)
    final = [entry["J"] for entry in history if entry["scale"] == 1.0]
    assert np.isfinite(float(run.best_cost)) and float(run.best_cost) < final[0]


def test_multiscale_lbfgs(weights):
    result, history = stylize(
        *pictures(),
        weights=weights,
        height=HEIGHT,
        width=WIDTH,
        seed=1,
        jit_compile=False,
        iterations=8,
        scales=(0.5, 1),
        optimizer="lbfgs",
    )
    assert result.shape == (HEIGHT, WIDTH, 3) and len(history) == 8
    final = [entry["J"] for entry in history if entry["scale"] == 1.0]
    assert len(final) == 4 and final[-1] < final[0]


# The command line


def test_command_line_lbfgs_scales_checkpoint_and_resume(mat_file, tmp_path, capsys):
    content, style = pictures()
    iio.imwrite(tmp_path / "content.png", content.astype(np.uint8))
    iio.imwrite(tmp_path / "style.png", style.astype(np.uint8))
    common = [
        "--content",
        str(tmp_path / "content.png"),
        "--style",
        str(tmp_path / "style.png"),
        "--weights",
        str(mat_file[0]),
        "--height",
        str(HEIGHT),
        "--width",
        str(WIDTH),
        "--iterations",
        "6",
        "--optimizer",
        "lbfgs",
        "--scales",
        "0.5,1",
        "--save-every",
        "0",
        "--quiet",
    ]
    folder = tmp_path / "out"
    code = cli.main(
        common
        + [
            "--output",
            str(tmp_path / "a.png"),
            "--init",
            "content",
            "--checkpoint-every",
            "2",
            "--output-dir",
            str(folder),
            "--history",
            str(tmp_path / "a.jsonl"),
        ]
    )
    assert code == 0
    assert iio.imread(tmp_path / "a.png").shape == (HEIGHT, WIDTH, 3)
    state, _ = load_checkpoint(folder)
    assert state["iteration"] == 6 and state["settings"]["scales"] == [0.5, 1.0]
    lines = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [entry["scale"] for entry in lines] == [0.5] * 3 + [1.0] * 3
    # Resuming a finished run ends where it was, and the history file covers the whole run.
    code = cli.main(
        common + ["--output", str(tmp_path / "b.png"), "--resume", str(folder), "--history", str(tmp_path / "b.jsonl")]
    )
    assert code == 0
    assert (tmp_path / "b.jsonl").read_text() == (tmp_path / "a.jsonl").read_text()
    capsys.readouterr()
    # Another optimiser: one line naming it, exit code 2.
    code = cli.main(
        [arg if arg != "lbfgs" else "adam" for arg in common]
        + ["--output", str(tmp_path / "c.png"), "--resume", str(folder)]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "optimizer:" in err
    assert not (tmp_path / "c.png").exists()
    code = cli.main(common + ["--output", str(tmp_path / "d.png"), "--scales", "1,0.5"])
    assert code == 2 and "--scales" in capsys.readouterr().err


# --- Options beyond the course: tv weight, several styles, style scale, colours,
# pooling, image range and presets. Each checked against numpy float64 (tests/reference.py) or exact arithmetic.

from tests import reference  # noqa: E402


def feature_pictures():
    """A smooth, mildly coloured content and two different style textures, RGB in [0, 255]."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    content = np.stack([90 + x * 3, 80 + y * 4, 120 + (x - y) * 1.5], -1).astype(np.float32)
    stripes = np.stack(
        [128 + 90 * np.sin(x / 1.5), 100 + 60 * np.sin(y / 2), 150 - 60 * np.sin(x / 1.5) + 30 * np.cos(y / 1.3)], -1
    )
    dots = rng.integers(0, 256, (HEIGHT, WIDTH, 3))
    return content, stripes.astype(np.float32), dots.astype(np.float32)


def feature_transfer(weights, style=None, **options):
    content, stripes, _ = feature_pictures()
    options = {"height": HEIGHT, "width": WIDTH, "seed": 1, "jit_compile": False, **options}
    return StyleTransfer(content, stripes if style is None else style, weights=weights, **options)


STYLE_NAMES = [name for name, _ in config.STYLE_LAYERS]


def test_blended_styles_target_the_weighted_sum_of_their_grams(weights):
    content, stripes, dots = feature_pictures()
    blended = feature_transfer(weights, [stripes, dots], style_blend=(7, 3))
    assert blended.options.style_blend == (0.7, 0.3)  # normalised
    grams_a = reference.grams(reshape_and_normalize_image(stripes), weights, STYLE_NAMES)
    grams_b = reference.grams(reshape_and_normalize_image(dots), weights, STYLE_NAMES)
    for GS, A, B in zip(blended.cost.GS, grams_a, grams_b):
        np.testing.assert_allclose(GS.numpy(), 0.7 * A + 0.3 * B, rtol=2e-4, atol=1e-3 * np.abs(A).max())
        # Between the single-style Grams, entry by entry.
        low, high = np.minimum(A, B), np.maximum(A, B)
        tolerance = 1e-3 * np.abs(A).max()
        assert np.all(GS.numpy() >= low - tolerance) and np.all(GS.numpy() <= high + tolerance)
    # The default blend is equal weights.
    equal = feature_transfer(weights, [stripes, dots])
    np.testing.assert_allclose(equal.cost.GS[0].numpy(), 0.5 * grams_a[0] + 0.5 * grams_b[0], rtol=2e-4)


def test_blend_one_zero_costs_what_the_single_style_costs(weights):
    _, stripes, dots = feature_pictures()
    single = feature_transfer(weights, stripes)
    blended = feature_transfer(weights, [stripes, dots], style_blend="1,0")
    image = single.image.numpy()
    np.testing.assert_allclose(cost_of(blended, image), cost_of(single, image), rtol=1e-5)
    other = feature_transfer(weights, [stripes, dots], style_blend="0,1")
    assert abs(cost_of(other, image) - cost_of(single, image)) > 1e-3 * cost_of(single, image)


def test_style_scale_resizes_the_style_and_rescales_its_grams(weights):
    _, stripes, _ = feature_pictures()
    scaled = feature_transfer(weights, stripes, style_scale=2)
    assert scaled.style_pixels[0].shape == (2 * HEIGHT, 2 * WIDTH, 3)
    big = reshape_and_normalize_image(scaled.style_pixels[0])
    activations = reference.forward(big, weights)
    generated = reference.forward(scaled.content_image, weights)
    for name, GS in zip(STYLE_NAMES, scaled.cost.GS):
        expected = reference.gram(activations[name])
        ratio = np.prod(generated[name].shape[1:3]) / np.prod(activations[name].shape[1:3])  # about 1/4
        np.testing.assert_allclose(GS.numpy(), expected * ratio, rtol=2e-4, atol=1e-4 * np.abs(expected).max() * ratio)


def test_style_scale_keeps_a_tiled_textures_grams(weights):
    # A texture tiled 2 x 2 and used at style scale 2 is the same texture at the same scale: its rescaled Grams
    # match the untiled texture's (up to the seams), where the course's unnormalised Grams would be 4 times larger.
    _, stripes, _ = feature_pictures()
    tiled = np.tile(stripes, (2, 2, 1))
    plain = feature_transfer(weights, stripes)
    scaled = feature_transfer(weights, tiled, style_scale=2)
    GS_plain, GS_scaled = plain.cost.GS[0].numpy(), scaled.cost.GS[0].numpy()
    relative = np.abs(GS_scaled - GS_plain).max() / np.abs(GS_plain).max()
    assert relative < 0.1
    assert np.abs(4 * GS_scaled - GS_plain).max() / np.abs(GS_plain).max() > 2  # what leaving it out would give


def test_tv_weight_adds_the_total_variation_cost(weights):
    plain = feature_transfer(weights)
    smooth = feature_transfer(weights, tv_weight=0.5)
    image = plain.image.numpy()
    J_tv = reference.total_variation(image)
    terms = smooth.cost.terms(tf.constant(image))
    np.testing.assert_allclose(float(terms.J_tv), J_tv, rtol=1e-5)
    np.testing.assert_allclose(cost_of(smooth, image), cost_of(plain, image) + 0.5 * J_tv, rtol=1e-5)
    assert plain.cost.terms(tf.constant(image)).J_tv is None
    # The course's tuple is the first three terms, J with the tv term in it.
    assert [float(value) for value in smooth.cost(tf.constant(image))] == [
        float(terms.J),
        float(terms.J_content),
        float(terms.J_style),
    ]
    assert set(terms.floats()) == {"J", "J_content", "J_style", "J_tv"}


def test_tv_weight_makes_a_smoother_image_and_is_recorded(weights):
    image_plain, history_plain = feature_transfer(weights, iterations=6, learning_rate=4.0).run()
    image_smooth, history = feature_transfer(weights, iterations=6, learning_rate=4.0, tv_weight=20.0).run()
    assert all("J_tv" in entry for entry in history) and all("J_tv" not in entry for entry in history_plain)
    # The first entry is the starting image's: the same image, so J = the plain J + tv_weight * J_tv.
    np.testing.assert_allclose(history[0]["J"], history_plain[0]["J"] + 20.0 * history[0]["J_tv"], rtol=1e-5)
    assert history[-1]["J_tv"] < history[0]["J_tv"]
    assert reference.total_variation(image_smooth[None]) < 0.7 * reference.total_variation(image_plain[None])


def test_pooling_max_gives_other_costs_than_avg(weights):
    avg = feature_transfer(weights, pooling="avg")
    mx = feature_transfer(weights, pooling="max")
    image = avg.image.numpy()
    J_avg, J_max = cost_of(avg, image), cost_of(mx, image)
    assert abs(J_avg - J_max) > 1e-3 * J_avg
    # Each is the course's cost through a numpy network with that pooling.
    for pooling, J in (("avg", J_avg), ("max", J_max)):
        content, style = (reshape_and_normalize_image(pixels) for pixels in feature_pictures()[:2])
        style_grams = reference.grams(style, weights, STYLE_NAMES, pooling)
        J_content, J_style = reference.style_transfer_costs(
            image, content, style_grams, weights, "conv4_2", config.STYLE_LAYERS, pooling
        )
        np.testing.assert_allclose(J, 10 * J_content + 40 * J_style, rtol=1e-4)


def test_color_match_gives_the_styles_the_contents_colour_statistics(weights):
    content, stripes, dots = feature_pictures()
    matched = feature_transfer(weights, [stripes, dots], color_match=True)
    flat = lambda image: np.float64(image).reshape(-1, 3)  # noqa: E731
    for style in matched.style_pixels:
        assert 0 < style.min() and style.max() < 255  # nothing clipped, so the statistics are exact
        np.testing.assert_allclose(flat(style).mean(0), flat(content).mean(0), atol=1e-2)
        np.testing.assert_allclose(
            np.cov(flat(style), rowvar=False), np.cov(flat(content), rowvar=False), rtol=1e-3, atol=1e-2
        )
    # The cost's Grams are those of the matched styles.
    grams = reference.grams(reshape_and_normalize_image(matched.style_pixels[0]), weights, STYLE_NAMES[:1])
    expected = (
        0.5 * grams[0]
        + 0.5 * reference.grams(reshape_and_normalize_image(matched.style_pixels[1]), weights, STYLE_NAMES[:1])[0]
    )
    np.testing.assert_allclose(matched.cost.GS[0].numpy(), expected, rtol=2e-4)


def test_preserve_colors_writes_the_contents_chrominance(weights):
    content, _, _ = feature_pictures()
    kept = feature_transfer(weights, iterations=2, preserve_colors=True)
    plain = feature_transfer(weights, iterations=2)
    image_kept, _ = kept.run()
    image_plain, _ = plain.run()
    inside = np.all((image_kept > 0) & (image_kept < 255), axis=-1)
    assert inside.mean() > 0.9
    # The written picture's I and Q are the photo's (up to 8-bit rounding), its Y the stylised image's.
    np.testing.assert_allclose(
        reference.yiq(image_kept)[inside][:, 1:], reference.yiq(content)[inside][:, 1:], atol=1.0
    )
    np.testing.assert_allclose(
        reference.yiq(image_kept)[inside][:, 0], reference.yiq(image_plain)[inside][:, 0], atol=1.0
    )
    assert np.abs(reference.yiq(image_plain)[..., 1:] - reference.yiq(content)[..., 1:]).max() > 10


def test_unit_image_range_loads_inits_bounds_and_writes_in_0_1(weights):
    content, stripes, _ = feature_pictures()
    run = feature_transfer(weights, image_range="unit", init="noise", seed=3)
    np.testing.assert_allclose(run.content_image[0], content / 255.0, rtol=1e-6)
    expected = np.clip(
        content[None] / 255.0 + np.random.default_rng(3).uniform(-0.25, 0.25, (1, HEIGHT, WIDTH, 3)), 0, 1
    )
    np.testing.assert_allclose(run.image.numpy(), expected, atol=1e-6)
    assert run.bounds[0].max() == 0 and run.bounds[1].min() == 1
    grams = reference.grams(stripes[None] / 255.0, weights, STYLE_NAMES[:1])
    np.testing.assert_allclose(run.cost.GS[0].numpy(), grams[0], rtol=2e-4)
    np.testing.assert_array_equal(run.result(), np.clip(np.rint(expected[0] * 255), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("clip", [True, False])
def test_clip_keeps_each_adam_step_in_range(weights, clip):
    run = feature_transfer(weights, image_range="unit", learning_rate=0.5, iterations=2, clip=clip, alpha=1e4)
    run.run()
    image = run.image.numpy()
    inside = image.min() >= 0 and image.max() <= 1
    assert inside == clip


def test_gatys_preset_uses_the_papers_content_loss(weights):
    run = feature_transfer(weights, preset="gatys", iterations=1)
    content, stripes, _ = feature_pictures()
    image = run.image.numpy()
    P = reference.forward(reshape_and_normalize_image(content), weights)["conv4_2"]
    F = reference.forward(image, weights)["conv4_2"]
    J, J_content, J_style = (float(value) for value in run.cost(tf.constant(image)))
    np.testing.assert_allclose(J_content, reference.content_cost(P, F, form="gatys"), rtol=1e-4)
    np.testing.assert_allclose(J, 1.0 * J_content + 1e3 * J_style, rtol=1e-5)
    # White noise to start: the article's noise alone, around the mean pixel.
    assert np.abs(image).max() <= 20 + 1e-4


def test_keras_layer_names_are_aliases(weights):
    run = feature_transfer(weights, content_layer="block5_conv4", style_layers=[("block1_conv1", 1.0)])
    assert run.options.content_layer == "conv5_4" and run.options.style_layers == [("conv1_1", 1.0)]
    assert run.cost.layers == ["conv1_1", "conv5_4"]


def test_lbfgs_records_the_tv_term_of_each_iterate(weights):
    _, history = feature_transfer(weights, optimizer="lbfgs", iterations=3, tv_weight=0.5).run()
    assert len(history) == 3
    for entry in history:
        np.testing.assert_allclose(
            entry["J"], 10 * entry["J_content"] + 40 * entry["J_style"] + 0.5 * entry["J_tv"], rtol=1e-5
        )


@pytest.mark.parametrize("init", ["content", "random"])
def test_unit_image_range_converts_the_other_starting_images(weights, init):
    content, _, _ = feature_pictures()
    mean_run = feature_transfer(weights, init=init, seed=4)
    unit_run = feature_transfer(weights, init=init, seed=4, image_range="unit")
    expected = (np.float64(mean_run.image.numpy()) + MEANS) / 255  # the same picture, in [0, 1]
    np.testing.assert_allclose(unit_run.image.numpy(), expected, atol=1e-6)
    if init == "content":
        np.testing.assert_allclose(unit_run.image.numpy()[0], content / 255, atol=1e-6)
