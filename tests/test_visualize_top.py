"""visualize/top.py: the images of a folder that activate one channel most."""

import os

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style import reshape_and_normalize_image
from neural_style import visualize as V
from neural_style.options import OptionError
from tests import reference
from tests.visualize_helpers import random_pixels


def test_top_ranks_a_planted_image_first_and_crops_its_receptive_field(tmp_path, small_model, weights):
    channel, spot = 2, (10, 20)
    kernel = weights.layers["conv1_1"][0][..., channel]
    mean = np.array([123.68, 116.779, 103.939])
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):  # low-contrast noise around the mean pixel
        pixels = np.rint(mean + random_pixels(24, 32, seed=i, low=-6, high=6)).astype(np.uint8)
        iio.imwrite(folder / f"noise{i}.png", pixels)
    planted = np.rint(mean + random_pixels(24, 32, seed=9, low=-6, high=6))
    planted[spot[0] - 1 : spot[0] + 2, spot[1] - 1 : spot[1] + 2] = mean + 100 * np.sign(kernel)
    planted = planted.clip(0, 255).astype(np.uint8)
    iio.imwrite(folder / "planted.png", planted)
    (folder / "notes.txt").write_text("not an image")

    top = V.top_images(small_model, folder, "conv1_1", channel, k=3, height=24, width=32)
    assert top.count == 5 and len(top.hits) == 3
    first = top.hits[0]
    assert os.path.basename(first.path) == "planted.png"
    assert first.position == spot
    assert first.box == (9, 19, 12, 22)
    np.testing.assert_array_equal(first.crop, planted[9:12, 19:22])
    # Every score is the image's peak in a numpy forward pass, and the hits come in decreasing order.
    for hit in top.hits:
        image = reshape_and_normalize_image(iio.imread(hit.path).astype(np.float32))
        peak = reference.forward(image, weights)["conv1_1"][0, ..., channel].max()
        np.testing.assert_allclose(hit.score, peak, rtol=1e-4)
    assert [hit.score for hit in top.hits] == sorted((hit.score for hit in top.hits), reverse=True)


def test_top_refuses_an_empty_or_missing_folder(tmp_path, small_model):
    with pytest.raises(OptionError, match="no images in this folder"):
        V.top_images(small_model, tmp_path, "conv1_1", 0)
    with pytest.raises(FileNotFoundError, match="folder not found"):
        V.top_images(small_model, tmp_path / "absent", "conv1_1", 0)
