"""visualize/shared.py: receptive fields, layers and channels, the figure helpers, and the package's names."""

import os

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style import visualize as V
from neural_style.options import OptionError
from neural_style.vgg import UnknownLayerError
from tests.visualize_helpers import influence_box


@pytest.mark.parametrize(
    "layer, position",
    [
        ("conv1_1", (0, 0)),
        ("conv1_2", (5, 9)),
        ("avgpool1", (4, 20)),
        ("conv2_1", (21, 0)),
        ("conv3_1", (5, 11)),
        ("avgpool3", (2, 3)),
        ("conv4_1", (2, 2)),
        ("conv4_1", (5, 0)),
    ],
)
def test_receptive_field_is_what_autodiff_finds(weights, layer, position):
    height, width = 87, 93  # odd sizes: the pools pad at the bottom and right
    expected, _ = influence_box(weights, layer, position, height, width)
    assert V.receptive_field(layer, *position, height, width) == expected


def test_receptive_field_sizes_away_from_the_borders(weights):
    # conv3_1 has 24 px; the size is what autodiff finds in the middle of a large image.
    expected, _ = influence_box(weights, "conv3_1", (12, 12), 100, 100)
    assert V.receptive_field_size("conv3_1") == expected[2] - expected[0] == 24
    assert V.receptive_field_size("conv1_1") == 3


def test_channels_and_checks(small_model):
    assert V.layer_channels(small_model, "conv4_1") == 32  # 512 / 16 in the fixture
    assert V.layer_channels(small_model, "avgpool2") == 8  # the pool keeps conv2_2's 128 / 16
    with pytest.raises(UnknownLayerError, match="valid layers: conv1_1, conv1_2, avgpool1"):
        V.check_layer(small_model, "conv6_1")
    with pytest.raises(OptionError, match="conv4_1 has 32 channels, numbered 0 to 31"):
        V.check_channel(small_model, "conv4_1", 32)
    with pytest.raises(OptionError, match="has 32 channels"):
        V.check_channel(small_model, "conv4_1", -1)


# Every public name of the module visualize.py was before it became a package (commit b713f87).
OLD_PUBLIC_NAMES = """
SWEEP_CONTENT_LAYERS SWEEP_STYLE_SETS PROJECTION_RULES OBJECTIVES HISTORY_KEYS HistoryError as_model check_options
load_pixels check_layer layer_channels check_channel receptive_field receptive_field_size FeatureMaps feature_maps
strongest_channels maps_grid maps_figure TopHit TopImages image_files top_images top_figure projection_relu Projection
project projection_to_image project_figure Maximization maximize maximize_figure SweepPanel Sweep sweep sweep_figure
read_history history_series CURVE_TITLES curves_figure figure_to_array save_figure
""".split()


def test_every_name_of_the_old_module_is_still_there():
    assert len(OLD_PUBLIC_NAMES) == 42
    assert sorted(V.__all__) == sorted(OLD_PUBLIC_NAMES)
    for name in OLD_PUBLIC_NAMES:
        assert getattr(V, name) is not None, name
    # The kinds' functions are the functions, not the modules that hold them.
    assert callable(V.project) and callable(V.maximize) and callable(V.sweep)


def test_load_pixels_checks_sizes_as_the_main_job_does():
    pixels = V.load_pixels(np.full((10, 20, 3), 300.0), height=5)
    assert pixels.shape == (5, 10, 3) and pixels.dtype == np.float32
    np.testing.assert_array_equal(pixels, 255)  # clipped to the valid range
    with pytest.raises(OptionError, match="max_size must be a positive"):
        V.load_pixels(np.zeros((4, 4, 3)), max_size=0)


def test_save_figure_writes_the_rendered_figure_atomically(tmp_path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1.5), dpi=50)
    figure.subplots().plot([0, 1], [1, 0])
    path = tmp_path / "sub" / "figure.png"
    assert V.save_figure(figure, path) == str(path)
    written = iio.imread(path)
    assert written.shape == (75, 100, 3)  # 2 x 1.5 inches at 50 dpi
    np.testing.assert_array_equal(written, V.figure_to_array(figure))
    assert os.listdir(path.parent) == ["figure.png"]  # no temporary file left
