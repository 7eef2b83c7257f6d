"""The tiled cost and gradient (neural_style.tiles) against the whole-image ones of optimize.StyleTransferCost."""

import numpy as np
import pytest
import tensorflow as tf

from neural_style.large.layout import tile_layout
from neural_style.large.tiled_style import tiled_grams
from neural_style.large.tiles import TiledStyleTransferCost
from neural_style.large.tiling import tiled_activation
from neural_style.masks import Guides
from neural_style.optimize import StyleTransferCost, compile_train_step
from neural_style.vgg import VGGModel
from tests.reference import forward_rounding
from tests.transfers import EPS, weights_with_biases

ARTICLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"]
STYLE_LAYERS = [("conv1_1", 0.2), ("conv2_1", 0.2), ("conv3_1", 0.2), ("conv4_1", 0.2), ("conv5_1", 0.2)]


def model(pooling="avg", precision="float32"):
    return VGGModel(weights_with_biases(), 16, 16, pooling=pooling, precision=precision)


def image(height, width, seed, spread=120.0):
    """Uniform noise around the mean pixel; style images get another spread, so that GS - GG does not cancel."""
    noise = np.random.default_rng(seed).uniform(-spread, spread, (1, height, width, 3))
    return tf.constant(noise.astype(np.float32))


def test_style_grams_and_content_activation_accumulate_exactly():
    vgg = model()
    style = image(210, 290, 2)  # larger than a tile, sizes not multiples of the stride
    names = [name for name, _ in STYLE_LAYERS]
    grams, positions = tiled_grams(vgg, style, names, 96)
    tiles = tile_layout(210, 290, 96, names)
    for name, a in zip(names, vgg(style, names)):
        F = a[0].numpy().astype(np.float64).reshape(-1, a.shape[-1])
        expected = F.T @ F
        # The tiles' activations are within D = 2 forward_rounding(name) max|a| of the whole image's (other sizes,
        # other kernels), which moves an entry by <= D (sum_p a_pc + sum_p a_pd); the entries are sums of
        # non-negative terms (after the ReLU): a tile's <= 96x96 positions, then the tiles, within
        # (96^2 + tiles) eps of the entry. A row of positions lost or counted twice moves it by 1/rows of itself.
        D = 2 * forward_rounding(weights_with_biases(), name) * F.max()
        sums = F.sum(axis=0)
        bound = (96**2 + len(tiles)) * EPS * expected + D * (sums[:, None] + sums[None, :])
        live = np.diag(expected) > 0  # each channel's energy: a row of positions lost or counted twice shows there
        assert np.all(np.diag(bound)[live] < np.diag(expected)[live] / a.shape[1]), "the bound leaves the test no power"
        assert np.all(np.abs(grams[name].numpy() - expected) <= bound), name
        assert positions[name] == a.shape[1] * a.shape[2]
    tiles = tile_layout(210, 290, 96, ["conv4_2"])
    whole = vgg(style, ["conv4_2"])[0].numpy()
    # Two float32 computations of the same activations: within 2 forward_rounding of their largest.
    np.testing.assert_allclose(
        tiled_activation(vgg, style, "conv4_2", tiles).numpy(),
        whole,
        rtol=0,
        atol=2 * forward_rounding(weights_with_biases(), "conv4_2") * np.abs(whole).max(),
    )


def costs_and_gradients(cost, generated):
    """Every cost term and the gradient of each with respect to the image, as float64 numpy."""
    terms, grads = {}, {}
    for name in ("J", "J_content", "J_style", "J_tv"):
        with tf.GradientTape() as tape:
            tape.watch(generated)
            value = getattr(cost.terms(generated), name)
        terms[name] = float(value)
        grads[name] = tape.gradient(value, generated).numpy().astype(np.float64)
    return terms, grads


def relative_gradient_error(expected, got):
    return np.abs(expected - got).max() / np.abs(expected).max()


CASES = [
    # pooling, content cost, style images (sizes), blend, image size
    ("avg", "course", [(256, 320)], None, (256, 320)),
    ("max", "course", [(256, 320)], None, (256, 320)),
    pytest.param("avg", "gatys", [(200, 300), (400, 360)], (0.3, 0.7), (256, 320), marks=pytest.mark.slow),
    pytest.param("max", "gatys", [(200, 300), (400, 360)], (0.8, 0.2), (256, 320), marks=pytest.mark.slow),
    # Sizes that are not multiples of the stride, and a style image at half the size (style scale 0.5).
    pytest.param("avg", "course", [(128, 165)], None, (250, 330), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("pooling, content_cost, style_sizes, blend, size", CASES)
def test_tiled_cost_and_gradient_equal_the_whole_image_ones(pooling, content_cost, style_sizes, blend, size):
    vgg = model(pooling)
    content, generated = image(*size, 3), image(*size, 4)
    styles = [image(h, w, 5 + k, spread=40.0) for k, (h, w) in enumerate(style_sizes)]
    options = dict(style_layers=STYLE_LAYERS, style_blend=blend, tv_weight=0.03, content_cost=content_cost)
    whole = StyleTransferCost(vgg, content, styles, **options)
    tiled = TiledStyleTransferCost(vgg, content, styles, tile_size=128, **options)
    assert len(tiled.tiles) >= 6
    expected_terms, expected_grads = costs_and_gradients(whole, generated)
    terms, grads = costs_and_gradients(tiled, generated)
    for name in expected_terms:
        assert terms[name] == pytest.approx(expected_terms[name], rel=1e-5), name
        assert relative_gradient_error(expected_grads[name], grads[name]) < 1e-4, name


def soft_mask(height, width, seed):
    """A smooth mask in [0, 1]: a soft-edged blob, zero in places, one in others."""
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    centre = np.random.default_rng(seed).uniform(0.3, 0.7, 2)
    return np.clip(2.5 - 8 * np.hypot(rows - centre[0], cols - centre[1]), 0, 1).astype(np.float32)


GUIDED = [
    # style loss, masks: None, or (content mask, style masks, source masks) by seed
    ("mean-cov", None),
    ("w2", None),
    ("gram", (1, (2, 3), (4, 5))),
    pytest.param("w2", (None, (2, 3), None), marks=pytest.mark.slow),
    pytest.param("mean-cov", (1, None, None), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("style_loss, masks", GUIDED)
def test_tiled_style_losses_and_masks_equal_the_whole_image_ones(style_loss, masks):
    vgg = model()
    size, style_size = (256, 320), (200, 240)
    content, generated = image(*size, 3), image(*size, 4)
    styles = [image(*style_size, 5 + k, spread=40.0) for k in range(2)]
    guides = None
    if masks is not None:
        content_seed, style_seeds, source_seeds = masks
        guides = Guides(
            None if content_seed is None else soft_mask(*size, content_seed),
            None if style_seeds is None else [soft_mask(*size, seed) for seed in style_seeds],
            None if source_seeds is None else [soft_mask(*style_size, seed) for seed in source_seeds],
        )
    options = dict(style_layers=STYLE_LAYERS, style_blend=(0.6, 0.4), tv_weight=0.03, style_loss=style_loss)
    whole = StyleTransferCost(vgg, content, styles, guides=guides, **options)
    tiled = TiledStyleTransferCost(vgg, content, styles, guides=guides, tile_size=128, **options)
    assert len(tiled.tiles) >= 6
    expected_terms, expected_grads = costs_and_gradients(whole, generated)
    terms, grads = costs_and_gradients(tiled, generated)
    for name in expected_terms:
        assert terms[name] == pytest.approx(expected_terms[name], rel=1e-5), name
        assert relative_gradient_error(expected_grads[name], grads[name]) < 1e-4, name


@pytest.mark.slow
def test_bfloat16_tiles_agree_within_bfloat16_rounding():
    content, generated, style = image(256, 320, 3), image(256, 320, 4), image(256, 320, 5, spread=40.0)
    options = dict(style_layers=STYLE_LAYERS, tv_weight=0.03)
    reference = costs_and_gradients(StyleTransferCost(model(), content, style, **options), generated)
    vgg = model(precision="bfloat16")
    whole = costs_and_gradients(StyleTransferCost(vgg, content, style, **options), generated)
    tiled = costs_and_gradients(TiledStyleTransferCost(vgg, content, style, tile_size=128, **options), generated)
    # The tiles' bfloat16 rounding differs from the whole image's only by as much as bfloat16 differs from float32.
    rounding = relative_gradient_error(reference[1]["J"], whole[1]["J"])
    assert relative_gradient_error(whole[1]["J"], tiled[1]["J"]) < 2 * rounding
    assert tiled[0]["J"] == pytest.approx(whole[0]["J"], rel=1e-3)


@pytest.mark.slow
def test_ten_adam_steps_tiled_and_whole_give_the_same_picture():
    vgg = model()
    content, style = image(256, 320, 3), image(256, 320, 5, spread=40.0)
    options = dict(style_layers=STYLE_LAYERS, tv_weight=0.03)
    pictures = []
    for cost in (
        StyleTransferCost(vgg, content, style, **options),
        TiledStyleTransferCost(vgg, content, style, tile_size=128, **options),
    ):
        generated = tf.Variable(image(256, 320, 4))
        step = compile_train_step(generated, tf.keras.optimizers.Adam(learning_rate=2.0), cost.terms)
        costs = [float(step().J) for _ in range(10)]
        assert costs[-1] < costs[0]
        pictures.append(generated.numpy())
    assert np.abs(pictures[0] - pictures[1]).max() <= 1.0
