"""The image-transformation network: its layers against numpy, any picture size, the .keras round trip."""

import keras
import numpy as np
import pytest

from neural_style.fast.layers import InstanceNormalization, ReflectionPadding2D
from neural_style.fast.network import (
    JOHNSON,
    MAGENTA_26,
    MAGENTA_ARBITRARY,
    TransformNet,
    build_transform_net,
)


@pytest.fixture(scope="module")
def net():
    model = build_transform_net({"size": 32, "seed": 3}, "ab" * 32, seed=3)
    # Untrained gammas and betas are 1 and 0; other values make the round trip and the statistics tests meaningful.
    rng = np.random.default_rng(0)
    for norm in model.norms:
        norm.gamma.assign(rng.uniform(0.5, 1.5, norm.gamma.shape).astype(np.float32))
        norm.beta.assign(rng.uniform(-0.5, 0.5, norm.beta.shape).astype(np.float32))
    return model


def test_reflection_padding_is_numpys_reflect():
    x = np.arange(2 * 5 * 6 * 3, dtype=np.float32).reshape(2, 5, 6, 3)
    expected = np.pad(x, [(0, 0), (4, 4), (4, 4), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(ReflectionPadding2D(4)(x).numpy(), expected)


def test_instance_normalization_is_per_picture_per_channel():
    rng = np.random.default_rng(1)
    x = rng.normal(3, 2, (2, 7, 5, 4)).astype(np.float32)
    layer = InstanceNormalization()
    layer.build(x.shape)
    layer.gamma.assign(np.array([[1, 2, 0.5, -1]], np.float32))
    layer.beta.assign(np.array([[0, 1, -1, 0.25]], np.float32))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(1, 2), keepdims=True)
    variance = x64.var(axis=(1, 2), keepdims=True)
    expected = (x64 - mean) / np.sqrt(variance + 1e-5) * [1, 2, 0.5, -1] + [0, 1, -1, 0.25]
    # Values of order 1, normalised by a float32 mean and variance over 35 positions: errors of a few float32 ulps.
    np.testing.assert_allclose(layer(x).numpy(), expected, atol=1e-5)
    # Statistics given from outside replace the picture's own.
    given = (np.float32(1.0), np.float32(4.0))
    np.testing.assert_allclose(
        layer(x, statistics=given).numpy(),
        (x64 - 1) / np.sqrt(4 + 1e-5) * [1, 2, 0.5, -1] + [0, 1, -1, 0.25],
        atol=1e-5,
    )


def test_johnsons_architecture():
    model = build_transform_net()
    kernels = [tuple(conv.kernel.shape) for conv in model.convs] + [tuple(model.output_conv.kernel.shape)]
    assert kernels[:3] == [(9, 9, 3, 32), (3, 3, 32, 64), (3, 3, 64, 128)]
    assert kernels[3:13] == [(3, 3, 128, 128)] * 10
    assert kernels[13:] == [(3, 3, 128, 64), (3, 3, 64, 32), (9, 9, 32, 3)]
    assert [conv.strides for conv in model.convs[:3]] == [(1, 1), (2, 2), (2, 2)]
    assert len(model.norms) == len(JOHNSON.normalised()) == 15
    assert JOHNSON.levels() == [0, 1, 2] + [2] * 10 + [1, 0]


@pytest.mark.parametrize("height, width", [(JOHNSON.min_side, JOHNSON.min_side), (7, 9), (32, 32), (33, 47), (50, 13)])
def test_any_picture_size(net, height, width):
    x = np.random.default_rng(height).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    y = net(x).numpy()
    assert y.shape == (2, height, width, 3)
    assert np.all(np.isfinite(y))
    # Each picture of a batch is stylised on its own (instance, not batch, statistics).
    np.testing.assert_allclose(net(x[1:]).numpy()[0], y[1], atol=1e-3)


def test_untrained_network_gives_grey_around_the_middle():
    # Its last convolution starts near 0, and 127.5 + 127.5 * output is then near mid-grey.
    model = build_transform_net(seed=0)
    y = model(np.random.default_rng(0).uniform(0, 255, (1, 24, 24, 3)).astype(np.float32)).numpy()
    assert 64 < y.mean() < 192


def test_keras_round_trip_is_exact_and_keeps_settings(net, tmp_path):
    path = tmp_path / "model.keras"
    net.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, TransformNet)
    assert loaded.settings == {"size": 32, "seed": 3}
    assert loaded.style_digest == "ab" * 32
    x = np.random.default_rng(5).uniform(0, 255, (1, 21, 30, 3)).astype(np.float32)
    # The same float32 weights and the same operations: equal outputs.
    np.testing.assert_array_equal(loaded(x).numpy(), net(x).numpy())


def test_stop_at_hands_out_what_a_normalisation_sees(net):
    x = np.random.default_rng(6).uniform(0, 255, (1, 20, 24, 3)).astype(np.float32)
    first = net(x, stop_at=0).numpy()
    # The first normalisation sees the 9x9 convolution of the reflected picture, computed here in numpy.
    padded = np.pad(x / 255.0, [(0, 0), (4, 4), (4, 4), (0, 0)], mode="reflect").astype(np.float64)
    kernel = net.convs[0].kernel.numpy().astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(padded[0], (9, 9), axis=(0, 1))  # (20, 24, 3, 9, 9)
    expected = np.einsum("hwcij,ijco->hwo", windows, kernel)
    # 243 products of terms below 1 in magnitude, summed in float32: errors below 1e-5.
    np.testing.assert_allclose(first[0], expected, atol=1e-4)
    assert net(x, stop_at=14).shape == (1, 20, 24, 32)
    assert net(x, stop_at=12).shape == (1, 5, 6, 128)


def test_network_reach():
    stride, margin = JOHNSON.reach()
    # By hand: 4 (9x9) -> 3 at level 1 -> 2 at level 2, + 10 residual 3x3 -> 12, x2 + 1 -> 25, x2 + 1 -> 51, + 4 -> 55
    # pixels, rounded up to the stride.
    assert (stride, margin) == (4, 56)
    # The arbitrary-style transformer has the same kernels and blocks; the 26-style network's sixth block adds 2 at
    # level 2: 14 -> 29 -> 59, + 4 -> 63, rounded up to 64.
    assert MAGENTA_ARBITRARY.reach() == (4, 56) and MAGENTA_26.reach() == (4, 64)


@pytest.mark.parametrize("height, width, kernel", [(9, 9, 9), (20, 23, 9), (14, 11, 5)])
def test_a_convolution_over_blocks_is_the_convolution(height, width, kernel):
    from neural_style.fast.layers import convolve_by_blocks

    rng = np.random.default_rng(height)
    x = rng.uniform(-1, 1, (1, height, width, 4)).astype(np.float32)
    k = rng.uniform(-1, 1, (kernel, kernel, 4, 3)).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(x[0].astype(np.float64), (kernel, kernel), axis=(0, 1))
    expected = np.einsum("hwcij,ijco->hwo", windows, k.astype(np.float64))
    result = convolve_by_blocks(x, k).numpy()[0]
    assert result.shape == expected.shape
    # At most 4 x 81 products of terms below 1, summed in float32: errors below 324 x 2^-24 x the largest sum.
    np.testing.assert_allclose(result, expected, atol=1e-4)


@pytest.mark.parametrize("height, width", [(3, 4), (5, 7)])
def test_upsampling_with_padding_is_the_padded_upsampling(height, width):
    from neural_style.fast.layers import upsample

    x = np.arange(height * width * 2, dtype=np.float32).reshape(1, height, width, 2)
    like = np.zeros((1, 2 * height - 1, 2 * width, 1), np.float32)
    nearest = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)[:, : 2 * height - 1, : 2 * width]
    expected = np.pad(nearest, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(upsample(x, like, padding=1).numpy(), expected)
    np.testing.assert_array_equal(upsample(x, like).numpy(), nearest)
