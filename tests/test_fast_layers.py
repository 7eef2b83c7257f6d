"""Instance normalisation's statistics (neural_style/fast/layers.py): exact enough at any size against numpy float64,
within bounds derived from float32 summation, and the whole pass then equal to the streamed exact tiles (stream.py)."""

import numpy as np
import pytest
import tensorflow as tf

from neural_style.fast.layers import InstanceNormalization, instance_statistics
from neural_style.fast.network import build_transform_net
from neural_style.fast.stream import stylize_streamed
from tests.fixtures import trained_like

# float32's unit roundoff.
U = 2.0**-24


@pytest.fixture(scope="module")
def large():
    """(1, 2048, 2048, 4): mean 100, deviation 1 (a flat float32 sum over its 4 million positions drifts by more than
    a deviation), with numpy's float64 mean and variance."""
    rng = np.random.default_rng(0)
    x = (100 + rng.standard_normal((1, 2048, 2048, 4))).astype(np.float32)
    x64 = x.astype(np.float64)
    return x, x64.mean(axis=(1, 2)), x64.var(axis=(1, 2)), np.abs(x64).mean(axis=(1, 2))


def _bounds(height, width, absolute_mean, mean, variance, float64):
    """
    The largest errors float32 summation allows the mean and the variance (Higham's bound: a float32 sum of n terms in
    any order is off by at most (n - 1) u times the sum of their magnitudes).

    The mean: each row's float32 sum, (W - 1) u; the rows' sum in float64 adds next to nothing (H x 2^-53), in float32
    (H - 1) u more; the result's rounding to float32, u of the mean. The variance: each (x - mean) rounds once and its
    square once more (3u of the square), then sums of positive terms, (W - 1) u of the sum a row and, in float32,
    (H - 1) u across rows; rounded to float32, u. Without float64 the square of the float32 mean's own error adds to
    the average of the squares (the float64 path corrects it). One u more in each for the orders of 2^-53 dropped.
    """
    levels = width + (height if not float64 else 0)
    mean_error = (levels + 1) * U * absolute_mean + U * np.abs(mean)
    variance_error = (levels + 5) * U * variance + (0 if float64 else mean_error**2)
    return mean_error, variance_error


@pytest.mark.parametrize("float64", [True, False])
def test_statistics_at_2048_squared_about_a_large_mean_are_numpys_float64(large, float64):
    x, mean, variance, absolute_mean = large
    got_mean, got_variance = (s.numpy()[:, 0, 0] for s in instance_statistics(x, float64=float64))
    mean_error, variance_error = _bounds(2048, 2048, absolute_mean, mean, variance, float64)
    # float64: 0.012 and 1.2e-4 relative; TensorFlow's flat float32 sums (FusedBatchNormV3's statistics) were off by
    # 1.44 in the mean and 2.07 times the variance here.
    assert np.all(np.abs(got_mean - mean) <= mean_error)
    assert np.all(np.abs(got_variance - variance) <= variance_error)


def test_the_layer_normalises_a_large_picture_by_its_exact_statistics(large):
    x, mean, variance, absolute_mean = large
    y = InstanceNormalization()(x).numpy()
    deviation = np.sqrt(variance + 1e-5)
    exact = (x.astype(np.float64) - mean[:, None, None]) / deviation[:, None, None]
    mean_error, variance_error = _bounds(2048, 2048, absolute_mean, mean, variance, True)
    # A mean off by e moves every value by e / deviation; a variance off by a relative r scales z by about r / 2; the
    # op's own float32 arithmetic on x (of magnitude 100) rounds by a few u of x / deviation.
    z = np.abs(exact).max()
    bound = mean_error / deviation + variance_error / variance / 2 * z + 4 * U * np.abs(x).max() / deviation
    assert np.all(np.abs(y - exact).max(axis=(0, 1, 2)) <= bound[0])


def test_whole_pass_equals_the_streamed_tiles_on_a_low_contrast_picture():
    # A picture of little contrast about a bright grey: the first normalisation's values have a mean many deviations
    # from zero, where a flat float32 sum's error shows most (the fused op's own statistics: 2.4 grey levels apart).
    rng = np.random.default_rng(2)
    model = trained_like(build_transform_net(seed=11), rng)
    picture = (200 + rng.normal(0, 3, (1, 256, 384, 3))).astype(np.float32)
    whole = np.clip(model(picture).numpy()[0], 0, 255)
    streamed = np.clip(stylize_streamed(model, picture, strip_pixels=64 * 384), 0, 255)
    # The same convolutions on the same values; the statistics summed alike (float32 rows, float64 across rows, the
    # tiles about a shift): float32 rounding of the convolutions and statistics, which this untrained network
    # amplifies, under one grey level.
    assert whole.std() > 5  # not trivially constant
    assert np.abs(whole - streamed).max() < 1.0


@pytest.mark.parametrize("shape", [(2, 9, 13, 4), (1, 40, 56, 3)])
def test_the_training_gradient_flows_through_each_pictures_statistics(shape):
    # The analytic gradient of y = gamma (x - mean) / sqrt(variance + epsilon) + beta in float64, for a loss sum(y * g):
    # dx = gamma / s (g - mean(g) - z mean(g z)), z the normalised x, s its deviation (per picture and channel). Taking
    # the statistics as constants (the fused op's inference mode) leaves out the two averages.
    rng = np.random.default_rng(4)
    x = (5 + 3 * rng.standard_normal(shape)).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    layer = InstanceNormalization()
    layer.build(shape)
    gamma = rng.uniform(0.5, 2, layer.gamma.shape).astype(np.float32)
    layer.gamma.assign(gamma)
    x_tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        loss = tf.reduce_sum(layer(x_tensor, training=True) * g)
    dx = tape.gradient(loss, x_tensor).numpy()
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    s = np.sqrt(x64.var(axis=(1, 2), keepdims=True) + layer.epsilon)
    z = (x64 - x64.mean(axis=(1, 2), keepdims=True)) / s
    expected = (
        gamma[0] / s * (g64 - g64.mean(axis=(1, 2), keepdims=True) - z * (g64 * z).mean(axis=(1, 2), keepdims=True))
    )
    # float32 sums of H x W terms in the op's backward: a few hundred u of the terms' size.
    bound = 64 * shape[1] * shape[2] * U * (np.abs(g64).max() * gamma.max() / s.min())
    assert np.abs(dx - expected).max() <= bound


def test_a_network_called_for_training_normalises_in_training_mode(monkeypatch):
    model = trained_like(build_transform_net(seed=11))
    seen = []
    original = InstanceNormalization._fused

    def recording(self, x, statistics, gamma, beta, training=False):
        seen.append(training)
        return original(self, x, statistics, gamma, beta, training=training)

    monkeypatch.setattr(InstanceNormalization, "_fused", recording)
    picture = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    model(picture, training=True)
    assert seen and all(seen)
    seen.clear()
    model(picture)
    assert seen and not any(seen)
