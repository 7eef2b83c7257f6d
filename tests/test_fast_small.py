"""`train --architecture small`: Dumoulin et al.'s 26-style layout trained by the project's training. Its model file
says its layout; loaded, it applies whole and in tiles alike, exports to TFLite and stylises video; its output is in
0..255 as Johnson et al.'s is, the range the training's costs take; a resume refuses a changed architecture."""

import json
import zipfile

import numpy as np
import pytest

from neural_style.checks import OptionError
from neural_style.cli import main
from neural_style.fast.apply import load_fast_model, stylize_picture
from neural_style.fast.export import export_tflite, run_tflite
from neural_style.fast.network import JOHNSON, LAYOUTS, MAGENTA_26, build_transform_net
from neural_style.fast.options import ARCHITECTURES, TrainOptions
from neural_style.fast.train import train_fast_model, training_layout
from neural_style.fast.video import stylize_frames
from neural_style.weights import random_vgg_weights
from tests.fixtures import smooth_photo, trained_like, write_photo_folder, write_stripes
from tests.test_fast_train import InterruptAfter

# Narrow random filters (VGG-19's channels / 16) keep each step short; the shapes and layers are the real ones.
WEIGHTS = random_vgg_weights(seed=0, width_divisor=16)
TOY = {"size": 32, "batch_size": 2, "checkpoint_every": 2, "seed": 7}
# Dumoulin, Shlens & Kudlur (2017), as TensorFlow's Android stylize demo ships the network: the encoder's
# (filters, kernel, stride), the residual blocks (3x3, at the encoder's last width), the decoder's (filters, kernel),
# a 9x9 convolution to RGB that is normalised too.
PUBLISHED = {"encoder": [(32, 9, 1), (32, 3, 2), (32, 3, 2)], "blocks": 6, "decoder": [(8, 3), (4, 3)], "out": 9}


def published_parameter_count(styles=1):
    """The weights of the published layout, counted from its widths: kernels (no bias before a normalisation) and a
    scale and shift per channel and style for every normalised convolution, the one to RGB included."""
    convolutions = [(k, f) for f, k, _ in PUBLISHED["encoder"]]
    convolutions += [(3, 32)] * (2 * PUBLISHED["blocks"]) + [(k, f) for f, k in PUBLISHED["decoder"]]
    convolutions.append((PUBLISHED["out"], 3))
    count, channels = 0, 3
    for kernel, filters in convolutions:
        count += kernel * kernel * channels * filters + 2 * styles * filters
        channels = filters
    return count


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small network trained 4 steps on toy pictures, and its model file."""
    root = tmp_path_factory.mktemp("small")
    folder = write_photo_folder(root / "photos")
    style = write_stripes(root / "style.png")
    path = root / "small.keras"
    net, summary = train_fast_model(
        style, folder, path, weights=WEIGHTS, steps=4, architecture="small", progress=False, **TOY
    )
    return path, net, summary


@pytest.fixture(scope="module")
def spread(trained):
    """The trained model loaded, its normalisations' scales and shifts spread as a longer training leaves them, so
    that the whole picture's statistics matter and the outputs cover the grey levels."""
    return trained_like(load_fast_model(trained[0]), spread_outputs=False)


def test_the_architectures_name_the_presets():
    assert TrainOptions().validate().architecture == "johnson"
    assert training_layout("johnson") is JOHNSON
    small = training_layout("small")
    assert small is MAGENTA_26 and small is LAYOUTS[ARCHITECTURES["small"]]
    assert [tuple(e) for e in small.encoder] == PUBLISHED["encoder"] and small.residual_blocks == PUBLISHED["blocks"]
    assert [tuple(d) for d in small.decoder] == PUBLISHED["decoder"] and small.output_kernel == PUBLISHED["out"]
    assert small.output == "sigmoid" and small.encoder_norm and small.conditioning == "table"


def test_a_bad_architecture_is_one_line(tmp_path, capsys):
    with pytest.raises(OptionError, match=r"^architecture must be one of johnson, small, got 'tiny'$"):
        TrainOptions(architecture="tiny").validate()
    with pytest.raises(OptionError, match="architecture must be one of johnson, small"):
        training_layout("magenta-26")  # a layout's name is not an architecture of the training
    photos = write_photo_folder(tmp_path / "photos")
    argv = ["train", "--style", str(photos / "p0.png"), "--images", str(photos), "--output", str(tmp_path / "m.keras")]
    assert main([*argv, "--architecture", "tiny", "--weights", "random", "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "neural-style train: error: --architecture must be one of johnson, small, got 'tiny' (see neural-style "
        "train --help)"
    ]
    assert not (tmp_path / "m.keras").exists()


def test_a_small_network_trains_and_its_file_says_its_layout(trained):
    path, net, summary = trained
    assert summary["steps"] == 4 and np.isfinite(summary["loss"])
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))["config"]
    assert config["layout"]["name"] == "magenta-26"
    assert config["settings"]["architecture"] == "small"
    loaded = load_fast_model(path)
    assert loaded.layout == MAGENTA_26
    assert loaded.count_params() == published_parameter_count() == 141_354
    for a, b in zip(net.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Four steps did move the weights from the seed's start.
    untouched = build_transform_net(seed=TOY["seed"], layout=MAGENTA_26)
    assert max(np.abs(a - b).max() for a, b in zip(net.get_weights(), untouched.get_weights())) > 1e-4


def test_the_outputs_are_in_the_range_the_costs_take():
    # The costs compare VGG-19's features of (output - the mean pixel), on the 0..255 scale of the photographs: the
    # small network's sigmoid times 255 is in [0, 255] by construction, and an untrained network of either layout is
    # grey-ish, about mid-range (Johnson's: 127.5 + 127.5 x a convolution near 0; the small one's: 255 x the sigmoid
    # of a unit-variance normalised value, whose mean lies between sigmoid(-1) and sigmoid(1) per channel).
    photo = smooth_photo(48, 64)[None]
    small = build_transform_net(seed=3, layout=MAGENTA_26)(photo).numpy()
    johnson = build_transform_net(seed=3)(photo).numpy()
    assert small.min() >= 0 and small.max() <= 255
    assert small.std() > 5  # not a constant
    low, high = 255 / (1 + np.e), 255 / (1 + np.exp(-1))
    for output in (small, johnson):
        assert low < output.mean() < high


@pytest.mark.parametrize("height, width, tile_size", [(150, 130, 64), pytest.param(97, 203, 72)])
def test_tiled_equals_whole_within_one_grey_level(spread, height, width, tile_size):
    picture = smooth_photo(height, width, seed=height)
    whole = stylize_picture(spread, picture)
    tiled = stylize_picture(spread, picture, tile_size=tile_size)
    # As for Johnson's layout (test_fast_apply): the tiles take the whole picture's statistics, which differ from
    # tf.nn.moments' by float32 rounding only, so the results agree far below one grey level; not trivially constant.
    assert np.abs(tiled - whole).max() < 1.0
    assert np.abs(tiled - whole).mean() < 0.01
    assert whole.std() > 5


def test_tflite_and_video_take_the_small_network(spread, tmp_path):
    lite = tmp_path / "small.tflite"
    size = export_tflite(spread, lite)
    # float32 weights: 4 bytes each, plus the graph's records (well under a quarter of a megabyte).
    assert 4 * published_parameter_count() < size < 4 * published_parameter_count() + 250_000
    for height, width in ((36, 40), (61, 47)):
        picture = smooth_photo(height, width, seed=width)
        keras_result = np.clip(stylize_picture(spread, picture), 0, 255)
        # The same float32 graph in another runtime: differences of float32 rounding, far below one grey level.
        assert np.abs(run_tflite(lite, picture) - keras_result).max() < 1.0
    frames = [smooth_photo(40, 52, seed=i) for i in range(3)]
    for frame, result in zip(frames, stylize_frames(spread, frames)):
        np.testing.assert_array_equal(result, np.clip(np.rint(stylize_picture(spread, frame)), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("before, after", [("johnson", "small"), ("small", "johnson")])
def test_a_resume_refuses_a_changed_architecture(tmp_path, before, after):
    folder = write_photo_folder(tmp_path / "photos")
    style = write_stripes(tmp_path / "style.png")
    output = tmp_path / "m.keras"
    with pytest.raises(KeyboardInterrupt):  # after step 3: the checkpoint of step 2 is kept
        train_fast_model(
            style,
            folder,
            output,
            weights=WEIGHTS,
            steps=4,
            architecture=before,
            callbacks=[InterruptAfter(3)],
            **TOY,
        )
    with pytest.raises(OptionError, match="other settings .*architecture: .* there, .* here"):
        train_fast_model(style, folder, output, weights=WEIGHTS, steps=4, architecture=after, **TOY)
    assert (tmp_path / "m.train" / "latest.weights.h5").is_file()  # the refusal kept it
    # The same architecture continues it.
    _, summary = train_fast_model(style, folder, output, weights=WEIGHTS, steps=4, architecture=before, **TOY)
    assert summary["resumed_at"] == 2
    assert load_fast_model(output).layout == training_layout(before)
