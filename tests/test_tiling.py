"""The tiles' geometry (neural_style/large/layout.py): the reach of the network, cores that partition the picture."""

import dataclasses

import numpy as np
import pytest

from neural_style.large.layout import largest_window, minimum_tile_size, network_reach, tile_layout
from neural_style.large.tiling import tile_cores
from tests.test_tiles import ARTICLE_LAYERS, image, model


def test_article_layers_need_stride_16_and_margin_80():
    # conv5_1 follows 4 pools; the wrong positions per edge: 2 (block 1) -> 1 -> 3 (block 2) -> 2 -> 6 -> 3 -> 7 -> 4,
    # then conv5_1 makes 5 positions of 16 pixels.
    assert network_reach(ARTICLE_LAYERS) == (16, 80)
    assert network_reach(["conv1_1"]) == (1, 1)
    assert minimum_tile_size(ARTICLE_LAYERS, "max") == 80


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_the_margin_is_exactly_wide_enough(pooling):
    vgg = model(pooling)
    whole = image(256, 320, 0)
    layers = ["conv3_1", "conv4_2", "conv5_1"]
    stride, margin = network_reach(layers, pooling)
    expected = dict(zip(layers, vgg(whole, layers)))
    tile = next(t for t in tile_layout(256, 320, 80, layers, pooling) if t.rows[0] > 0 and t.cols[0] > 0)
    levels = {"conv3_1": 2, "conv4_2": 3, "conv5_1": 4}

    def error(tile):
        errors = []
        for name, core in tile_cores(vgg, tile.window(whole), tile, layers).items():
            rows, cols = tile.core_in_image(levels[name])
            reference = expected[name][:, rows, cols, :].numpy()
            errors.append(np.abs(core.numpy() - reference).max() / np.abs(reference).max())
        return max(errors)

    assert error(tile) < 1e-6
    # One stride less of margin above the core, and the deepest layer's core is wrong.
    narrow = dataclasses.replace(tile, window_rows=(tile.window_rows[0] + stride, tile.window_rows[1]))
    assert error(narrow) > 1e-4
    assert margin == 80


def test_the_cores_partition_the_image_and_windows_are_aligned():
    tiles = tile_layout(250, 330, 100, ARTICLE_LAYERS)
    covered = np.zeros((250, 330), int)
    for tile in tiles:
        covered[tile.rows[0] : tile.rows[1], tile.cols[0] : tile.cols[1]] += 1
        assert tile.window_rows[0] % 16 == 0 and tile.window_cols[0] % 16 == 0
        assert tile.window_rows[0] == max(0, tile.rows[0] - 80) and tile.window_cols[1] == min(330, tile.cols[1] + 80)
    assert (covered == 1).all()
    assert len(tiles) == 3 * 4  # cores of 96 pixels (100 rounded down to the stride)


def test_the_cores_along_a_side_are_as_equal_as_the_stride_allows():
    tiles = tile_layout(600, 800, 512, ARTICLE_LAYERS)
    assert sorted({tile.rows for tile in tiles}) == [(0, 304), (304, 600)]
    assert sorted({tile.cols for tile in tiles}) == [(0, 400), (400, 800)]
    # The largest window is the tile size plus one margin at most where the picture's edge is on the other side.
    assert max(tile.window_rows[1] - tile.window_rows[0] for tile in tiles) == 304 + 80


def test_a_tile_below_the_minimum_is_refused():
    with pytest.raises(ValueError, match="below the minimum 80"):
        tile_layout(256, 320, 64, ARTICLE_LAYERS)


SIZES_AND_TILES = [((600, 800), 256), ((3000, 4000), 272), ((250, 330), 100), ((90, 700), 400)]


@pytest.mark.parametrize("size, tile_size", SIZES_AND_TILES)
def test_the_largest_window_is_the_layouts(size, tile_size):
    tiles = tile_layout(*size, tile_size, ARTICLE_LAYERS)
    rows = max(tile.window_rows[1] - tile.window_rows[0] for tile in tiles)
    cols = max(tile.window_cols[1] - tile.window_cols[0] for tile in tiles)
    assert largest_window(*size, tile_size, ARTICLE_LAYERS) == (rows, cols)
