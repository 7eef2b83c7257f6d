"""visualize/maps.py: every channel of one layer."""

import numpy as np

from neural_style import reshape_and_normalize_image
from neural_style import visualize as V
from tests import reference
from tests.reference import forward_rounding
from tests.visualize_helpers import random_pixels


def test_feature_maps_are_the_layer_activations(small_model, weights):
    pixels = random_pixels(24, 32)
    maps = V.feature_maps(small_model, pixels, "conv2_1", height=24, width=32)
    expected = reference.forward(reshape_and_normalize_image(pixels), weights)["conv2_1"][0]
    assert maps.activations.shape == (12, 16, 8)
    bound = forward_rounding(weights, "conv2_1") * np.abs(expected).max()  # float32 against float64
    np.testing.assert_allclose(maps.activations, expected, rtol=0, atol=bound)
    peaks = expected.reshape(-1, 8).max(0)
    np.testing.assert_array_equal(maps.strongest(3), np.argsort(-peaks)[:3])


def test_maps_grid_scales_each_channel_to_its_peak():
    activations = np.random.default_rng(1).uniform(0, 5, (3, 4, 5)).astype(np.float32)
    activations[..., 2] = 0  # a channel that is off everywhere
    grid = V.maps_grid(activations, columns=2, gap=1, fill=-1)
    assert grid.shape == (3 * 4 - 1, 2 * 5 - 1)  # 3 rows of 2 tiles (3 x 4) with 1-pixel gaps
    for c in range(5):
        y, x = (c // 2) * 4, (c % 2) * 5
        tile = grid[y : y + 3, x : x + 4]
        peak = activations[..., c].max()
        np.testing.assert_allclose(tile, activations[..., c] / peak if peak > 0 else 0, rtol=1e-6)
    assert (grid[3, :] == -1).all() and (grid[8:, 5:] == -1).all()  # a gap row and the unused sixth tile
    tiles = V.maps_grid(activations)
    assert tiles.min() >= 0 and tiles.max() == 1
