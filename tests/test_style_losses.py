"""The style losses beyond the Gram matrix (costs.py) against numpy float64 and scipy references."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from neural_style.costs import (
    compute_layer_mean_cov_cost,
    compute_layer_w2_cost,
    feature_moments,
    sqrtm_psd,
    trace_sqrtm_psd,
)
from tests import reference


def features(shape, seed, dtype=np.float64):
    # ReLU-like: non-negative, correlated channels, as a layer's activations are.
    rng = np.random.default_rng(seed)
    mix = rng.uniform(0, 1, (shape[-1], shape[-1]))
    return np.maximum(rng.standard_normal(shape) @ mix + 0.5, 0).astype(dtype)


LOSSES = [(compute_layer_mean_cov_cost, reference.mean_cov_cost), (compute_layer_w2_cost, reference.w2_cost)]


def test_feature_moments_equal_numpy_and_weights_select_positions():
    a = features((1, 4, 5, 3), 0)
    mu, C = feature_moments(a)
    np.testing.assert_allclose(mu, reference.moments(a)[0], rtol=1e-12)
    np.testing.assert_allclose(C, reference.moments(a)[1], rtol=1e-12)
    weights = np.zeros((4, 5))
    weights[:, :2] = 1  # the first two columns only
    mu, C = feature_moments(a, weights)
    np.testing.assert_allclose(mu, reference.moments(a[:, :, :2])[0], rtol=1e-12)
    np.testing.assert_allclose(C, reference.moments(a[:, :, :2])[1], rtol=1e-12)


def test_sqrtm_psd_equals_scipy_and_clamps_a_singular_matrix():
    a = features((1, 2, 2, 6), 1)  # 4 positions, 6 channels: covariance of rank 3
    _, C = reference.moments(a)
    root = sqrtm_psd(C).numpy()
    np.testing.assert_allclose(root @ root, C, atol=1e-12)
    assert np.all(np.isfinite(root))
    full = reference.moments(features((1, 5, 5, 4), 2))[1]
    np.testing.assert_allclose(sqrtm_psd(full), scipy.linalg.sqrtm(full).real, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss, numpy_loss", LOSSES)
@pytest.mark.parametrize("shape", [(1, 4, 5, 3), (1, 6, 3, 8)])
def test_loss_equals_numpy_float64(loss, numpy_loss, shape):
    a_S, a_G = features(shape, 3), features(shape, 4) * 1.5
    np.testing.assert_allclose(loss(a_S, a_G).numpy(), numpy_loss(a_S, a_G), rtol=1e-9)


@pytest.mark.parametrize("loss, numpy_loss", LOSSES)
def test_loss_accepts_another_style_size(loss, numpy_loss):
    a_S, a_G = features((1, 8, 6, 4), 5), features((1, 3, 5, 4), 6)
    np.testing.assert_allclose(loss(a_S, a_G).numpy(), numpy_loss(a_S, a_G), rtol=1e-9)


@pytest.mark.parametrize("loss, _", LOSSES)
def test_gradient_matches_finite_differences(loss, _):
    a_S = tf.constant(features((1, 4, 4, 3), 7))
    a_G = tf.Variable(features((1, 3, 3, 3), 8))  # another size than the style's
    with tf.GradientTape() as tape:
        J = loss(a_S, a_G)
    grad = tape.gradient(J, a_G).numpy().ravel()
    x, h = a_G.numpy().ravel(), 1e-6
    numeric = np.empty_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        plus = loss(a_S, (x + step).reshape(a_G.shape)).numpy()
        minus = loss(a_S, (x - step).reshape(a_G.shape)).numpy()
        numeric[i] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_w2_of_identical_feature_sets_is_zero_with_a_zero_gradient():
    a = features((1, 5, 5, 4), 9)
    a_G = tf.Variable(a)
    with tf.GradientTape() as tape:
        J = compute_layer_w2_cost(a, a_G)
    assert abs(J.numpy()) < 1e-12 * np.trace(reference.moments(a)[1])
    np.testing.assert_allclose(tape.gradient(J, a_G), 0, atol=1e-7)


def test_w2_gradient_is_finite_in_float32_for_identical_singular_feature_sets():
    # A dead channel (all 0) and fewer positions than channels: the covariances are singular, sqrt'(0) is infinite.
    a = features((1, 2, 3, 8), 10, np.float32)
    a[..., 2] = 0
    a_G = tf.Variable(a)
    step = tf.function(lambda: tf.gradients(compute_layer_w2_cost(a, a_G), a_G)[0])
    grad = step().numpy()
    assert np.all(np.isfinite(grad))
    # W2 is at its minimum (0): the gradient is 0 up to float32 rounding of the features' scale.
    assert np.abs(grad).max() < 1e-3 * np.abs(a).max()
    J = compute_layer_w2_cost(a, a_G).numpy()
    assert abs(J) < 1e-5 * np.trace(reference.moments(a)[1])


@pytest.mark.parametrize(
    "jit_compile", [False, pytest.param(True, marks=pytest.mark.slow)]
)  # XLA: the compiled step's default where a GPU is present
@pytest.mark.parametrize("loss, numpy_loss", LOSSES)
def test_loss_under_tf_function_in_float32(loss, numpy_loss, jit_compile):
    a_S, a_G = features((1, 6, 8, 16), 11, np.float32), features((1, 6, 8, 16), 12, np.float32)
    a_G_variable = tf.Variable(a_G)

    @tf.function(jit_compile=jit_compile)
    def value_and_gradient():
        with tf.GradientTape() as tape:
            J = loss(a_S, a_G_variable)
        return J, tape.gradient(J, a_G_variable)

    J, grad = value_and_gradient()
    assert J.dtype == tf.float32
    np.testing.assert_allclose(J.numpy(), numpy_loss(a_S, a_G), rtol=1e-4)
    assert np.all(np.isfinite(grad.numpy()))
    # The float32 gradient agrees with the float64 one.
    a_G64 = tf.Variable(np.float64(a_G))
    with tf.GradientTape() as tape:
        J64 = loss(np.float64(a_S), a_G64)
    grad64 = tape.gradient(J64, a_G64).numpy()
    np.testing.assert_allclose(grad.numpy(), grad64, rtol=1e-2, atol=1e-3 * np.abs(grad64).max())


def test_trace_sqrtm_psd_equals_the_sum_of_root_eigenvalues():
    _, C = reference.moments(features((1, 5, 5, 4), 13))
    np.testing.assert_allclose(
        trace_sqrtm_psd(tf.constant(C)).numpy(), np.trace(scipy.linalg.sqrtm(C)).real, rtol=1e-10
    )
