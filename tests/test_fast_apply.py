"""Applying a trained network: any picture size, tiles with the whole picture's statistics equal to the whole
picture, a folder into a folder with its names, and the bad-input cases as one line."""

import os

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style.checks import OptionError
from neural_style.fast.apply import apply_model, load_fast_model, stylize_picture
from neural_style.fast.network import JOHNSON, build_transform_net
from neural_style.fast.tiles import transform_tile_size, whole_picture_statistics
from neural_style.large.layout import layout_for_reach
from tests.fixtures import smooth_photo, trained_like


@pytest.fixture(scope="module")
def net():
    # Trained networks have gammas and betas away from 1 and 0: use such values, so that the statistics matter.
    return trained_like(build_transform_net(seed=11))


@pytest.mark.parametrize("height, width", [(1, 1), (3, 7), (5, 5), (17, 30)])
def test_any_size_including_tiny(net, height, width):
    result = stylize_picture(net, smooth_photo(height, width))
    assert result.shape == (height, width, 3)
    assert result.dtype == np.float32 and 0 <= result.min() and result.max() <= 255


def test_statistics_gathered_by_tiles_are_the_whole_pictures(net):
    image = smooth_photo(90, 100)[None]
    stride, margin = JOHNSON.reach()
    tiles = layout_for_reach(90, 100, 48, stride, margin)
    assert len(tiles) == 6
    tiled = whole_picture_statistics(net, image, tiles)
    # One tile covering the picture gathers the statistics the network computes itself (tf.nn.moments, float32).
    whole = whole_picture_statistics(net, image, layout_for_reach(90, 100, 1024, stride, margin))
    assert len(tiled) == len(JOHNSON.normalised())
    for (mean_t, var_t), (mean_w, var_w) in zip(tiled, whole):
        # The same activations (the cores are exact), summed in another order in float64: float32 rounding only.
        np.testing.assert_allclose(mean_t, mean_w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(var_t, var_w, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "height, width, tile_size",
    [
        (61, 61, 40),
        pytest.param(150, 130, 64, marks=pytest.mark.slow),
        pytest.param(97, 203, 56, marks=pytest.mark.slow),
    ],
)
def test_tiled_equals_whole_within_one_grey_level(net, height, width, tile_size):
    picture = smooth_photo(height, width, seed=height)
    whole = stylize_picture(net, picture)
    tiled = stylize_picture(net, picture, tile_size=tile_size)
    # The statistics differ from tf.nn.moments' by float32 rounding, the activations not at all: the tiled result is
    # the whole one to far below one grey level (the bound the task sets); it is not trivially constant.
    assert np.abs(tiled - whole).max() < 1.0
    assert np.abs(tiled - whole).mean() < 0.01
    assert whole.std() > 5


def test_tiles_with_their_own_statistics_would_differ(net):
    # Why the statistics pass exists: each tile normalised by its own statistics is far from the whole picture.
    picture = smooth_photo(150, 130)
    whole = stylize_picture(net, picture)
    naive = np.concatenate([stylize_picture(net, half) for half in (picture[:76], picture[76:])])
    assert np.abs(naive - whole).max() > 5


def test_memory_budget_picks_tiles():
    assert transform_tile_size(300, 400, max_memory=8) == 0
    tile = transform_tile_size(3000, 4000, max_memory=2)
    assert 0 < tile < 4000 and tile % 4 == 0
    with pytest.raises(OptionError, match="does not fit"):
        transform_tile_size(3000, 4000, max_memory=0.5)


def test_folder_to_folder_keeps_names_and_never_overwrites(net, tmp_path):
    model_path = tmp_path / "style.keras"
    net.save(model_path)
    photos = tmp_path / "photos"
    (photos / "trip").mkdir(parents=True)
    iio.imwrite(photos / "a.png", smooth_photo(20, 30).astype(np.uint8))
    iio.imwrite(photos / "trip" / "b.jpg", smooth_photo(33, 21).astype(np.uint8))
    written = apply_model(str(model_path), photos, tmp_path / "out")
    assert sorted(os.path.relpath(path, tmp_path / "out") for path in written) == [
        "a.png",
        os.path.join("trip", "b.jpg"),
    ]
    assert iio.imread(tmp_path / "out" / "trip" / "b.jpg").shape == (33, 21, 3)
    expected = np.rint(stylize_picture(load_fast_model(model_path), photos / "a.png")).astype(np.uint8)
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "a.png"), expected)
    with pytest.raises(OptionError, match="is the content folder"):
        apply_model(net, photos, photos)
    with pytest.raises(OptionError, match="also an input"):
        apply_model(net, photos / "a.png", photos / "a.png")
    with pytest.raises(OptionError, match="unknown image type"):
        apply_model(net, photos / "a.png", tmp_path / "a.txt")


def test_bad_model_files_are_one_line(tmp_path):
    with pytest.raises(OptionError, match="no such file"):
        load_fast_model(tmp_path / "missing.keras")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(OptionError, match=r"not a \.keras model file, or a damaged one"):
        load_fast_model(junk)


def test_float32_precision_is_the_default_pass_bit_for_bit(net):
    picture = smooth_photo(40, 56, seed=4)
    default = stylize_picture(net, picture)
    np.testing.assert_array_equal(stylize_picture(net, picture, precision="float32"), default)
    # The compiled pass computes what the eager call does, the same float32 operations summed in other orders: within
    # float32 rounding as the network amplifies it: the tiled pass's criterion (less than a grey level, 0.01 mean).
    eager = np.clip(net(picture[None]).numpy()[0], 0, 255)
    np.testing.assert_allclose(default, eager, atol=1)
    assert np.abs(default - eager).mean() < 0.01


def test_bfloat16_differs_from_float32_by_its_rounding(net):
    from neural_style.fast.apply import forward_pass

    image = smooth_photo(64, 80, seed=5)[None]
    exact = forward_pass(net)(image).numpy()
    rounded = forward_pass(net, "bfloat16")(image).numpy()
    # bfloat16 keeps 8 significant bits: a value rounded to it is off by at most u = 2^-9 of itself. Each float
    # convolution rounds its input, its kernel and its output, so its values are off by at most 3u of their size; each
    # normalisation divides a value and its error by the same deviation, a ReLU never enlarges an error, so along the
    # network's 16 convolutions the relative errors add up to at most 16 x 3u = 9.4% of the output's deviation from
    # mid-grey (127.5 + 127.5 x the last convolution), as a root mean square over the picture.
    convolutions = len(net.convs) + 1
    bound = convolutions * 3 * 2.0**-9 * np.sqrt(np.mean((exact - 127.5) ** 2))
    difference = np.sqrt(np.mean((rounded - exact) ** 2))
    assert 0 < difference <= bound
    # float32 stays exact: asking for it gives the default pass.
    np.testing.assert_array_equal(forward_pass(net, "float32")(image).numpy(), exact)


def test_precision_is_checked_in_one_line(net, tmp_path):
    from neural_style.limits import FORCE_BFLOAT16_ENV, resolve_precision

    with pytest.raises(OptionError, match="precision"):
        stylize_picture(net, smooth_photo(8, 8), precision="float16")
    photo = tmp_path / "photo.png"
    iio.imwrite(photo, smooth_photo(8, 8).astype(np.uint8))
    with pytest.raises(OptionError, match="precision"):
        apply_model(net, photo, tmp_path / "out.png", precision="half")
    assert not (tmp_path / "out.png").exists()
    # Where the CPU has no bfloat16, the apply falls back to float32 as the main command does (one note line).
    notes = []
    assert resolve_precision("bfloat16", False, native_bfloat16=False, report=notes.append) == "float32"
    assert len(notes) == 1 and FORCE_BFLOAT16_ENV in notes[0]


def test_an_int8_network_is_painted_by_its_own_arithmetic():
    # The bundled arbitrary network rounds as its int8 file does; a compiled graph's rewrites of its integer
    # convolutions flipped levels (up to 42 grey levels at 130x100): apply paints it as the network's own pass does.
    from neural_style.fast import arbitrary, bundled

    network = bundled.load_bundled(bundled.ARBITRARY)
    picture = smooth_photo(130, 100, seed=5)
    vector = arbitrary.style_vector(network.predictor, picture[::-1])
    own = np.clip(network.transform((picture[None], vector[None])).numpy()[0], 0, 255)
    np.testing.assert_array_equal(stylize_picture(network.transform, picture, style_weights=vector), own)
