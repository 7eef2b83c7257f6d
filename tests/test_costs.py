import numpy as np
import pytest
import tensorflow as tf

from neural_style import (
    STYLE_LAYERS,
    compute_content_cost,
    compute_layer_style_cost,
    compute_style_cost,
    gram_matrix,
    total_cost,
)
from tests import reference
from tests.transfers import EPS

EagerTensor = type(tf.constant(1))


def activations(shape, seed):
    return np.random.default_rng(seed).uniform(0, 3, shape).astype(np.float32)


def content_rounding(a):
    """float32's relative error in a content cost: n = a.size squares of rounded differences (2 eps each), summed."""
    return (a.size + 2) * EPS


def style_rounding(a_S, a_G):
    """
    float32's relative error in a layer style cost, from the activations.

    Each Gram entry sums n = n_H n_W non-negative products: within n eps of itself. J = c sum d^2 with d = GS - GG,
    so |dJ| / J <= 2 |delta d| / |d| (Cauchy-Schwarz) <= 2 n eps |GS + GG| / |GS - GG| (2-norms over the entries;
    the difference cancels most of two similar Grams), and the final sum of n_C^2 squares adds n_C^2 eps.
    """
    GS, GG = reference.gram(a_S), reference.gram(a_G)
    n = a_G.shape[1] * a_G.shape[2]
    return 2 * n * EPS * np.linalg.norm(GS + GG) / np.linalg.norm(GS - GG) + (GS.size + 2) * EPS


# --- the TF2 course's public tests (REFERENCE.md §1)


def test_content_cost_course_value():
    tf.random.set_seed(1)
    a_C = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    J_content = compute_content_cost(a_C, a_G)
    J_content_0 = compute_content_cost(a_C, a_C)
    assert isinstance(J_content, EagerTensor)
    assert np.isclose(J_content, 7.0568767)
    assert J_content_0 == 0.0


def test_gram_matrix_course_value():
    tf.random.set_seed(1)
    A = tf.random.normal([3, 2], mean=1, stddev=4)
    GA = gram_matrix(A)
    assert GA.shape == (3, 3)
    assert isinstance(GA, EagerTensor)
    np.testing.assert_allclose(GA[0, :], [63.1888, -26.721275, -7.7320204], rtol=1e-6)


def test_layer_style_cost_course_value():
    tf.random.set_seed(1)
    a_S = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    J_style_layer_GG = compute_layer_style_cost(a_G, a_G)
    J_style_layer_SG = compute_layer_style_cost(a_S, a_G)
    assert isinstance(J_style_layer_SG, EagerTensor)
    assert np.isclose(J_style_layer_GG, 0.0)
    assert np.isclose(J_style_layer_SG, 14.017805)


def test_total_cost_course_values():
    J = total_cost(0.2, 0.8)
    assert isinstance(J, EagerTensor)
    assert np.isclose(J, 34)
    assert np.isclose(total_cost(0.3, 0.5, 3, 8), 4.9)
    np.random.seed(1)
    assert np.round(total_cost(np.random.uniform(0, 1), np.random.uniform(0, 1)), 4) == 32.9832


def test_total_cost_article_value():
    np.random.seed(3)
    J_content = np.random.randn()
    J_style = np.random.randn()
    assert float(total_cost(J_content, J_style)) == 35.34667875478276


# --- against numpy float64 on random tensors


@pytest.mark.parametrize("shape", [(1, 4, 4, 3), (1, 7, 5, 16), (1, 38, 50, 32)])
def test_content_cost_equals_numpy(shape):
    a_C, a_G = activations(shape, 0), activations(shape, 1)
    rtol = content_rounding(a_G)  # up to 3.6e-3 at 38x50x32; a wrong normalisation is a factor
    np.testing.assert_allclose(compute_content_cost(a_C, a_G).numpy(), reference.content_cost(a_C, a_G), rtol=rtol)
    # The TF2 course's call: lists of model outputs whose last entry is the content layer.
    other = activations((1, 2, 2, 3), 2)
    np.testing.assert_allclose(
        compute_content_cost([other, a_C], [other, a_G]).numpy(), reference.content_cost(a_C, a_G), rtol=rtol
    )


@pytest.mark.parametrize("shape", [(1, 4, 4, 3), (1, 7, 5, 16), (1, 38, 50, 32)])
def test_layer_style_cost_equals_numpy(shape):
    a_S, a_G = activations(shape, 3), activations(shape, 4)
    np.testing.assert_allclose(
        compute_layer_style_cost(a_S, a_G).numpy(), reference.layer_style_cost(a_S, a_G), rtol=style_rounding(a_S, a_G)
    )
    assert compute_layer_style_cost(a_S, a_S).numpy() == 0.0


def test_gram_matrix_equals_numpy():
    A = activations((5, 30), 5)
    np.testing.assert_allclose(gram_matrix(A).numpy(), np.float64(A) @ np.float64(A).T, rtol=1e-5)


def style_outputs(seed):
    shapes = [(1, 16, 16, 4), (1, 8, 8, 8), (1, 4, 4, 16), (1, 2, 2, 32), (1, 1, 1, 32)]
    return [activations(shape, seed + i) for i, shape in enumerate(shapes)]


def test_style_cost_is_the_weighted_sum_of_layer_costs():
    a_S, a_G = style_outputs(10), style_outputs(20)
    weights = [0.1, 0.2, 0.3, 0.15, 0.25]
    layers = [(name, w) for (name, _), w in zip(STYLE_LAYERS, weights)]
    expected = sum(w * reference.layer_style_cost(s, g) for w, s, g in zip(weights, a_S, a_G))
    rtol = max(style_rounding(s, g) for s, g in zip(a_S, a_G))  # a relative bound of each term bounds their sum
    J_style = compute_style_cost(a_S, a_G, layers)
    assert isinstance(J_style, EagerTensor)
    np.testing.assert_allclose(J_style.numpy(), expected, rtol=rtol)
    # A trailing content activation (the TF2 course's model outputs) is ignored ...
    content = activations((1, 4, 4, 16), 30)
    with_content = compute_style_cost(a_S + [content], a_G + [content], layers)
    np.testing.assert_allclose(with_content.numpy(), expected, rtol=rtol)
    # ... and dicts keyed by layer name give the same.
    by_name = {name: a for (name, _), a in zip(layers, a_S)}, {name: a for (name, _), a in zip(layers, a_G)}
    np.testing.assert_allclose(compute_style_cost(*by_name, layers).numpy(), expected, rtol=rtol)


def test_style_cost_with_default_layers_and_itself_is_zero():
    a_S = style_outputs(40)
    assert compute_style_cost(a_S, a_S).numpy() == 0.0


def test_style_cost_wrong_number_of_activations():
    with pytest.raises(ValueError, match="3 activations for 5 style layers"):
        compute_style_cost(style_outputs(0)[:3], style_outputs(0)[:3])
    with pytest.raises(KeyError, match="conv5_1"):
        outputs = dict(zip([n for n, _ in STYLE_LAYERS[:4]], style_outputs(0)))
        compute_style_cost(outputs, outputs)


def test_costs_inside_tf_function():
    a_S, a_G = activations((1, 6, 6, 4), 50), activations((1, 6, 6, 4), 51)

    @tf.function
    def J(a_S, a_G):
        return total_cost(compute_content_cost(a_S, a_G), compute_layer_style_cost(a_S, a_G))

    expected = 10 * reference.content_cost(a_S, a_G) + 40 * reference.layer_style_cost(a_S, a_G)
    np.testing.assert_allclose(J(a_S, a_G).numpy(), expected, rtol=1e-5)


# --- beyond the course: total variation, the paper's content cost, style Grams taken at another size


@pytest.mark.parametrize("shape", [(1, 2, 2, 1), (1, 6, 9, 3), (1, 24, 32, 3)])
def test_total_variation_cost_equals_numpy(shape):
    from neural_style.costs import total_variation_cost

    image = np.random.default_rng(7).uniform(-120, 130, shape).astype(np.float32)
    J_tv = total_variation_cost(image)
    assert isinstance(J_tv, EagerTensor)
    np.testing.assert_allclose(J_tv.numpy(), reference.total_variation(image), rtol=1e-5)
    # A constant image has none; an (H, W, C) image gives the same as its batch of one.
    assert total_variation_cost(np.full(shape, 3.5, np.float32)).numpy() == 0.0
    np.testing.assert_allclose(total_variation_cost(image[0]).numpy(), J_tv.numpy(), rtol=1e-6)


def test_total_variation_cost_of_a_step_edge():
    # One vertical edge of height 2 across 3 rows and 1 channel: 3 horizontal pairs differ by 2, so 3 * 2**2 = 12.
    from neural_style.costs import total_variation_cost

    image = np.zeros((1, 3, 4, 1), np.float32)
    image[:, :, 2:] = 2.0
    assert total_variation_cost(image).numpy() == 12.0


def test_gatys_content_cost_is_half_the_sum_of_squares():
    from neural_style.costs import CONTENT_COSTS, gatys_content_cost

    a_C, a_G = activations((1, 7, 5, 16), 60), activations((1, 7, 5, 16), 61)
    expected = reference.content_cost(a_C, a_G, form="gatys")
    np.testing.assert_allclose(gatys_content_cost(a_C, a_G).numpy(), expected, rtol=1e-5)
    # The course's form is the same sum over 4 * n_H * n_W * n_C, i.e. the paper's over 2 * n_H * n_W * n_C.
    np.testing.assert_allclose(CONTENT_COSTS["course"](a_C, a_G).numpy(), expected / (2 * 7 * 5 * 16), rtol=1e-5)


def test_style_gram_for_size_rescales_by_the_pixel_counts():
    from neural_style.costs import style_gram_for_size

    a_S = activations((1, 8, 12, 4), 70)
    GS = reference.gram(a_S)
    # Same size: the course's Gram, untouched.
    np.testing.assert_allclose(style_gram_for_size(a_S, 8 * 12).numpy(), GS, rtol=1e-5)
    # A generated layer of 4 x 6 positions: the style's per-position Gram times 24.
    np.testing.assert_allclose(style_gram_for_size(a_S, 24).numpy(), GS * 24 / 96, rtol=1e-5)
    # A style activation tiled 2 x 2 has 4 times the Gram, and the rescaled Gram of the tiled one equals the original's.
    tiled = np.tile(a_S, (1, 2, 2, 1))
    np.testing.assert_allclose(style_gram_for_size(tiled, 96).numpy(), GS, rtol=1e-5)
    # The layer style cost against it is then 0 for a generated activation equal to the untiled one.
    from neural_style.costs import layer_style_cost_from_gram

    assert layer_style_cost_from_gram(style_gram_for_size(tiled, 96), a_S).numpy() < 1e-6
