"""Masks and guided statistics (neural_style/masks.py) against numpy float64 references."""

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from neural_style.costs import compute_layer_style_cost, guided_gram, guided_layer_style_cost
from neural_style.images import ImageError
from neural_style.masks import (
    GuidedStyleCost,
    Guides,
    MaskError,
    layer_mask,
    load_mask,
    same_aspect,
    style_statistics,
)
from neural_style.optimize import StyleTransferCost
from neural_style.vgg import VGGModel
from tests import reference
from tests.reference import forward
from tests.transfers import COST_ROUNDING

HEIGHT, WIDTH = 24, 32
LAYERS = [("conv1_1", 0.5), ("conv2_1", 0.3), ("conv3_1", 0.2)]


def features(shape, seed):
    return np.random.default_rng(seed).uniform(0, 3, shape)


# --- loading and resizing


def test_load_mask_reads_grey_and_colour_files_and_resizes(tmp_path):
    grey = np.zeros((6, 8), np.uint8)
    grey[:, 4:] = 255
    grey[0, 0] = 51
    iio.imwrite(tmp_path / "grey.png", grey)
    np.testing.assert_allclose(load_mask(tmp_path / "grey.png"), grey / 255, atol=1e-6)
    colour = np.zeros((6, 8, 3), np.uint8)
    colour[..., 0] = 255  # pure red: the mean of the channels, 1/3
    iio.imwrite(tmp_path / "red.png", colour)
    np.testing.assert_allclose(load_mask(tmp_path / "red.png"), 1 / 3, atol=1e-6)
    # Resized to the picture (12x16 from 6x8): the halves stay 0 and 1 away from the edge, the edge is soft.
    resized = load_mask(tmp_path / "grey.png", (12, 16))
    assert resized.shape == (12, 16) and resized.dtype == np.float32
    np.testing.assert_allclose(resized[4:, :6], 0, atol=1e-6)
    np.testing.assert_allclose(resized[:, 10:], 1, atol=1e-6)
    assert 0 < resized[5, 8] < 1


def test_load_mask_arrays_uint8_and_float():
    np.testing.assert_allclose(load_mask(np.full((3, 4), 255, np.uint8)), 1)
    np.testing.assert_allclose(load_mask(np.full((3, 4, 3), 0.25)), 0.25)
    with pytest.raises(MaskError, match=r"values must be in \[0, 1\]"):
        load_mask(np.full((3, 4), 2.0))
    with pytest.raises(MaskError, match="greyscale image file or an"):
        load_mask(np.ones((2, 3, 4, 5)))


def test_an_empty_mask_and_a_non_image_are_one_line(tmp_path):
    iio.imwrite(tmp_path / "black.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(MaskError, match="black.png: the mask is all black"):
        load_mask(tmp_path / "black.png", what="--content-mask")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match=r"--style-masks: .*notes.png: not a readable image"):
        load_mask(tmp_path / "notes.png", what="--style-masks")


def test_a_masks_alpha_is_honoured_transparent_is_zero(tmp_path):
    # Before: transparency was composited over white, so a transparent region was a full-weight region.
    rgba = np.full((6, 8, 4), 255, np.uint8)
    rgba[:, :4, 3] = 0  # left half: white but fully transparent
    rgba[:, 4:6, 3] = 51  # white at alpha 0.2
    iio.imwrite(tmp_path / "alpha.png", rgba)
    expected = np.ones((6, 8))
    expected[:, :4], expected[:, 4:6] = 0, 51 / 255
    np.testing.assert_allclose(load_mask(tmp_path / "alpha.png"), expected, atol=1e-6)
    grey_alpha = np.zeros((6, 8, 2), np.uint8)
    grey_alpha[..., 0], grey_alpha[:, 2:, 1] = 255, 255  # grey + alpha: only the first two columns transparent
    iio.imwrite(tmp_path / "la.png", grey_alpha)
    np.testing.assert_allclose(load_mask(tmp_path / "la.png"), (np.arange(8) >= 2)[None].repeat(6, 0), atol=1e-6)


def test_a_mask_of_another_aspect_ratio_is_one_line_unless_stretching_is_allowed(tmp_path):
    # Before: a 6x6 mask guiding a 24x32 picture was stretched without a word.
    iio.imwrite(tmp_path / "square.png", np.full((6, 6), 255, np.uint8))
    with pytest.raises(MaskError, match=r"--content-mask .*square.png is 6x6, not of the shape of the 32x24 picture"):
        load_mask(tmp_path / "square.png", (24, 32), "--content-mask")
    assert load_mask(tmp_path / "square.png", (24, 32), stretch=True).shape == (24, 32)
    # The same ratio at another size is no stretch: 3x4 to 24x32, and 7x10 to 24x32 (rounding of a 2.4:3.2 picture).
    assert load_mask(np.ones((3, 4)), (24, 32)).shape == (24, 32)
    assert load_mask(np.ones((7, 10)), (24, 32)).shape == (24, 32)


def test_a_callers_hint_replaces_the_main_commands_advice(tmp_path):
    iio.imwrite(tmp_path / "square.png", np.full((6, 6), 255, np.uint8))
    with pytest.raises(MaskError) as raised:
        load_mask(tmp_path / "square.png", (24, 32), "--style-masks", hint="give masks of one shape")
    # No --stretch-masks (a command without it) and no "picture" (the reference may be another mask).
    assert str(raised.value) == (
        f"--style-masks {tmp_path / 'square.png'} is 6x6, not of the 32x24 shape it must match; give masks of one shape"
    )


@pytest.mark.parametrize(
    "mask, picture, same",
    [
        ((300, 400), (24, 32), True),  # 3:4 both
        ((301, 400), (24, 32), True),  # one pixel of rounding: |301*32 - 400*24| = 32 <= (301+400+24+32)/2 + 1
        ((225, 400), (24, 32), False),  # 9:16 against 3:4: |225*32 - 400*24| = 2400 > 341.5
        ((1, 1000), (1, 999), True),  # a one-pixel strip, one pixel shorter
        ((7, 10), (24, 32), True),  # 2.4:3.2 rounded to 7x10 (and 24x32): 16 <= 37.5
        ((6, 10), (24, 32), False),  # |6*32 - 10*24| = 48 > 37
    ],
)
def test_same_aspect_allows_exactly_the_rounding_of_each_side(mask, picture, same):
    assert same_aspect(mask, picture) is same


def test_the_command_refuses_a_mask_of_another_shape_in_one_line(tmp_path, capsys):
    from neural_style.cli import main

    rng = np.random.default_rng(3)
    iio.imwrite(tmp_path / "content.png", rng.integers(0, 256, (24, 32, 3)).astype(np.uint8))
    iio.imwrite(tmp_path / "style.png", rng.integers(0, 256, (24, 32, 3)).astype(np.uint8))
    iio.imwrite(tmp_path / "wide.png", np.full((10, 40), 255, np.uint8))
    args = ["--content", str(tmp_path / "content.png"), "--style", str(tmp_path / "style.png"), "--weights", "random"]
    args += ["--height", "24", "--iterations", "1", "--quiet", "--content-mask", str(tmp_path / "wide.png")]
    code = main([*args, "--output", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "wide.png is 40x10, not of the shape of the 32x24 picture" in err
    assert "--stretch-masks" in err and not (tmp_path / "out.png").exists()
    assert main([*args, "--output", str(tmp_path / "out.png"), "--stretch-masks"]) == 0
    assert iio.imread(tmp_path / "out.png").shape == (24, 32, 3)


def test_a_source_mask_is_held_to_its_paintings_shape_not_the_outputs(tmp_path):
    from neural_style.masks import load_guides
    from neural_style.options import StyleOptions

    square = np.ones((20, 20), np.float32)
    options = StyleOptions(content_mask=None, style_masks=[np.ones((24, 32))], style_source_masks=[square])
    options.validate(style_count=1)
    # The painting is square (20x20), resized to the output's 24x32 as the style images are: its square mask fits.
    guides = load_guides(options, (24, 32), (24, 32), ((24, 32), [(20, 20)]))
    assert guides.sources[0].shape == (24, 32)
    with pytest.raises(MaskError, match="--style-source-masks the array is 20x20, not of the shape of the 40x20"):
        load_guides(options, (24, 32), (24, 32), ((24, 32), [(20, 40)]))


def test_layer_mask_is_the_area_mean_of_each_cell():
    mask = np.random.default_rng(0).uniform(0, 1, (8, 12))
    np.testing.assert_allclose(layer_mask(mask, (4, 6)), reference.block_mean(mask, 2), rtol=1e-6)
    np.testing.assert_allclose(layer_mask(mask, (2, 3)), reference.block_mean(mask, 4), rtol=1e-6)
    np.testing.assert_allclose(layer_mask(mask, (8, 12)), mask, rtol=1e-6)


# --- guided Gram matrices


def test_guided_gram_equals_numpy_and_weights_positions_by_the_squared_guide():
    a = features((1, 4, 6, 5), 1)
    guide = np.random.default_rng(2).uniform(0, 1, (4, 6))
    np.testing.assert_allclose(guided_gram(tf.constant(a), guide), reference.guided_gram(a, guide), rtol=1e-12)
    F = a.reshape(-1, 5)
    np.testing.assert_allclose(guided_gram(tf.constant(a)), F.T @ F / 24, rtol=1e-12)


def test_guided_cost_with_a_full_guide_is_the_articles_layer_cost():
    a_S, a_G = features((1, 4, 6, 5), 3), features((1, 4, 6, 5), 4)
    GS = guided_gram(tf.constant(a_S))
    np.testing.assert_allclose(
        guided_layer_style_cost(GS, tf.constant(a_G), np.ones((4, 6))), compute_layer_style_cost(a_S, a_G), rtol=1e-10
    )


def test_a_small_region_weighs_as_much_as_a_large_one():
    # The same features in a 2-position region and in the whole image: the mass normalisation gives the same cost.
    a_S = features((1, 4, 6, 5), 5)
    region = np.zeros((4, 6))
    region[0, :2] = 1
    a_G = np.tile(features((1, 1, 2, 5), 6), (1, 4, 3, 1))  # the region's features repeated everywhere
    small = guided_layer_style_cost(guided_gram(tf.constant(a_S)), tf.constant(a_G), region)
    whole = guided_layer_style_cost(guided_gram(tf.constant(a_S)), tf.constant(a_G))
    np.testing.assert_allclose(small, whole, rtol=1e-10)


def test_style_statistics_on_a_source_mask_are_the_regions_moments():
    a = features((1, 4, 6, 3), 7)
    guide = np.zeros((4, 6))
    guide[:, :3] = 1
    mu, second = style_statistics(tf.constant(a), guide)
    region = a[0, :, :3].reshape(-1, 3)
    np.testing.assert_allclose(mu, region.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(second, region.T @ region / len(region), rtol=1e-12)


# --- the cost with masks, against a numpy forward pass


@pytest.fixture(scope="module")
def network(mat_file):
    return VGGModel(mat_file[1], HEIGHT, WIDTH), mat_file[1]


def images(seed):
    return np.random.default_rng(seed).uniform(-100, 100, (1, HEIGHT, WIDTH, 3)).astype(np.float32)


def test_region_costs_equal_numpy(network):
    model, weights = network
    content, style_a, style_b, generated = (images(seed) for seed in range(4))
    left = np.zeros((HEIGHT, WIDTH), np.float32)
    left[:, :12] = 1  # a third of the width: at conv2_1 and conv3_1 still whole cells (12 = 2 * 6 = 4 * 3)
    masks = [left, 1 - left]
    cost = StyleTransferCost(
        model, content, [style_a, style_b], style_layers=LAYERS, style_blend=(0.75, 0.25), guides=Guides(styles=masks)
    )
    J_style = float(cost.terms(tf.constant(generated)).J_style)
    a_G = forward(generated, weights)
    expected = 0.0
    for weight, style, mask in zip((0.75, 0.25), (style_a, style_b), masks):
        a_S = forward(style, weights)
        for (name, coeff), factor in zip(LAYERS, (1, 2, 4)):
            GS = reference.guided_gram(a_S[name], np.ones(a_S[name].shape[1:3]))
            GG = reference.guided_gram(a_G[name], reference.block_mean(mask, factor))
            expected += weight * coeff * np.sum((GS - GG) ** 2) / (4 * a_G[name].shape[-1] ** 2)
    np.testing.assert_allclose(J_style, expected, rtol=COST_ROUNDING)  # float32 network against float64


def test_the_guided_path_without_masks_equals_the_articles_cost(network):
    model, _ = network
    content, style, generated = images(4), images(5), tf.constant(images(6))
    article = StyleTransferCost(model, content, style, style_layers=LAYERS)
    guided = StyleTransferCost(model, content, style, style_layers=LAYERS, guides=Guides())
    np.testing.assert_allclose(
        [float(J) for J in guided(generated)], [float(J) for J in article(generated)], rtol=COST_ROUNDING
    )


def test_w2_cost_of_a_blend_equals_numpy_mixture_moments(network):
    model, weights = network
    content, style_a, style_b, generated = (images(seed) for seed in range(7, 11))
    cost = StyleTransferCost(
        model, content, [style_a, style_b], style_layers=LAYERS[:2], style_blend=(0.6, 0.4), style_loss="w2"
    )
    a_G = forward(generated, weights)
    expected = 0.0
    for name, coeff in LAYERS[:2]:
        moments = []
        for style in (style_a, style_b):
            F = forward(style, weights)[name].reshape(-1, a_G[name].shape[-1])
            moments.append((F.mean(axis=0), F.T @ F / len(F)))
        mu = 0.6 * moments[0][0] + 0.4 * moments[1][0]
        C = 0.6 * moments[0][1] + 0.4 * moments[1][1] - np.outer(mu, mu)
        expected += coeff * reference.w2_of_moments(mu, C, *reference.moments(a_G[name]))
    np.testing.assert_allclose(float(cost.terms(tf.constant(generated)).J_style), expected, rtol=1e-3)


def test_source_masks_take_the_style_from_that_part_of_the_painting(network):
    model, weights = network
    content, generated, style = images(11), images(12), images(13)
    left = np.zeros((HEIGHT, WIDTH), np.float32)
    left[:, :16] = 1
    ones = np.ones((HEIGHT, WIDTH), np.float32)
    cost = StyleTransferCost(model, content, style, style_layers=LAYERS[:2], guides=Guides(None, [ones], [left]))
    a_S, a_G = forward(style, weights), forward(generated, weights)
    expected = 0.0
    for (name, coeff), factor in zip(LAYERS[:2], (1, 2)):
        GS = reference.guided_gram(a_S[name], reference.block_mean(left, factor))
        GG = reference.guided_gram(a_G[name], np.ones(a_G[name].shape[1:3]))
        expected += coeff * np.sum((GS - GG) ** 2) / (4 * a_G[name].shape[-1] ** 2)
    np.testing.assert_allclose(float(cost.terms(tf.constant(generated)).J_style), expected, rtol=COST_ROUNDING)


def test_a_style_region_outside_the_content_mask_is_refused(network):
    model, _ = network
    left = np.zeros((HEIGHT, WIDTH), np.float32)
    left[:, :16] = 1
    with pytest.raises(MaskError, match="wholly outside --content-mask"):
        GuidedStyleCost(model, [images(1)], LAYERS, {"conv1_1": (24, 32)}, [1.0], guides=Guides(left, [1 - left]))
