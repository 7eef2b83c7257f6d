import json
import os

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from neural_style import load_vgg_model, reshape_and_normalize_image
from neural_style import visualize as V
from neural_style.cli import main as cli_main
from neural_style.images import generate_noise_image
from neural_style.options import OptionError
from neural_style.vgg import UnknownLayerError
from neural_style.weights import VGGWeights
from tests import reference

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model(mat_file):
    return load_vgg_model(str(mat_file[0]), height=24, width=32)


@pytest.fixture(scope="module")
def weights(mat_file):
    return mat_file[1]


def random_pixels(height, width, seed=0, low=0, high=255):
    return np.random.default_rng(seed).uniform(low, high, (height, width, 3)).astype(np.float32)


def influence_box(weights, layer, position, height, width):
    """The receptive field found by autodiff, independently of visualize.receptive_field.

    With every filter weight positive and positive biases, no ReLU is ever off, so a pixel influences the unit exactly
    when a path of non-zero weights joins them: the non-zero support of the gradient is the receptive field.
    """
    positive = VGGWeights(
        {name: (np.abs(k) + 1e-3, np.abs(b) + 0.1) for name, (k, b) in weights.layers.items()}, "test"
    )
    net = load_vgg_model(positive, height=height, width=width)
    image = tf.constant(np.full((1, height, width, 3), 10.0, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(image)
        unit = net(image, [layer])[0][0, position[0], position[1], 0]
    support = np.abs(tape.gradient(unit, image).numpy()[0]).sum(-1) > 0
    rows, cols = np.nonzero(support)
    box = (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)
    assert support[box[0] : box[2], box[1] : box[3]].all()  # a full rectangle
    return tuple(int(v) for v in box), support


# ---------------------------------------------------------------------------------------------------------------------
# receptive fields and layers


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


def test_channels_and_checks(model):
    assert V.layer_channels(model, "conv4_1") == 32  # 512 / 16 in the fixture
    assert V.layer_channels(model, "avgpool2") == 8  # the pool keeps conv2_2's 128 / 16
    with pytest.raises(UnknownLayerError, match="valid: conv1_1, conv1_2, avgpool1"):
        V.check_layer(model, "conv6_1")
    with pytest.raises(OptionError, match="conv4_1 has 32 channels, numbered 0 to 31"):
        V.check_channel(model, "conv4_1", 32)
    with pytest.raises(OptionError, match="has 32 channels"):
        V.check_channel(model, "conv4_1", -1)


# ---------------------------------------------------------------------------------------------------------------------
# maps


def test_feature_maps_are_the_layer_activations(model, weights):
    pixels = random_pixels(24, 32)
    maps = V.feature_maps(model, pixels, "conv2_1", height=24, width=32)
    expected = reference.forward(reshape_and_normalize_image(pixels), weights)["conv2_1"][0]
    assert maps.activations.shape == (12, 16, 8)
    np.testing.assert_allclose(maps.activations, expected, rtol=1e-4, atol=1e-3)
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


# ---------------------------------------------------------------------------------------------------------------------
# top


def test_top_ranks_a_planted_image_first_and_crops_its_receptive_field(tmp_path, model, weights):
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

    top = V.top_images(model, folder, "conv1_1", channel, k=3, height=24, width=32)
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


def test_top_refuses_an_empty_or_missing_folder(tmp_path, model):
    with pytest.raises(OptionError, match="no images in this folder"):
        V.top_images(model, tmp_path, "conv1_1", 0)
    with pytest.raises(FileNotFoundError, match="folder not found"):
        V.top_images(model, tmp_path / "absent", "conv1_1", 0)


# ---------------------------------------------------------------------------------------------------------------------
# project


def test_projection_relus_follow_their_rules():
    x = tf.constant([-2.0, -1.0, 1.0, 2.0])
    upstream = tf.constant([1.0, -1.0, 1.0, -1.0])
    for rule, expected in [("guided", [0, 0, 1, 0]), ("deconvnet", [1, 0, 1, 0])]:
        relu = V.projection_relu(rule)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = relu(x)
            objective = tf.reduce_sum(upstream * y)
        np.testing.assert_array_equal(y.numpy(), np.maximum(x.numpy(), 0))
        np.testing.assert_array_equal(tape.gradient(objective, x).numpy(), expected)


@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
def test_projection_is_zero_outside_the_receptive_field(model, weights, rule):
    height, width = 56, 64
    pixels = random_pixels(height, width, seed=3)
    activations = reference.forward(reshape_and_normalize_image(pixels), weights)["conv3_1"][0]
    channel = int(np.argmax(activations.reshape(-1, activations.shape[-1]).max(0)))  # one that is on (some are off)
    activation = activations[..., channel]
    p = V.project(model, pixels, "conv3_1", channel, rule, height=height, width=width)
    assert p.position == np.unravel_index(np.argmax(activation), activation.shape)
    np.testing.assert_allclose(p.activation, activation.max(), rtol=1e-4)
    assert p.projection.shape == (height, width, 3) and p.image.shape == (height, width, 3)
    box, support = influence_box(weights, "conv3_1", p.position, height, width)
    assert p.box == box
    assert (p.projection[~support] == 0).all()  # exactly zero where the image cannot influence the unit
    assert np.abs(p.projection[support]).max() > 0
    picture = V.projection_to_image(p.projection)
    assert picture.dtype == np.uint8 and picture.min() >= 0 and (picture[~support] == 128).all()


def test_guided_projection_of_a_linear_region_is_the_gradient(mat_file, weights):
    # Where every ReLU on the way is on and the backward signal is positive, guided backprop is the plain gradient:
    # check it against tf's own gradient of the ordinary model for conv1_1 (one ReLU, the unit's own).
    model = load_vgg_model(str(mat_file[0]))
    pixels = random_pixels(12, 12, seed=4)
    p = V.project(model, pixels, "conv1_1", 2, "guided", height=12, width=12)
    image = tf.constant(reshape_and_normalize_image(pixels))
    with tf.GradientTape() as tape:
        tape.watch(image)
        unit = model(image, ["conv1_1"])[0][0, p.position[0], p.position[1], 2]
    np.testing.assert_allclose(p.projection, tape.gradient(unit, image).numpy()[0], rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------------
# maximize


@pytest.mark.parametrize("objective", ["center", "mean"])
def test_maximize_raises_the_channel_above_the_starting_noise(model, weights, objective):
    layer, channel, size = "conv3_1", 3, 32
    result = V.maximize(
        model, layer, channel, height=size, width=size, iterations=12, seed=5, objective=objective, jit_compile=False
    )
    assert result.image.shape == (size, size, 3) and result.image.dtype == np.uint8
    assert len(result.activations) == 13

    def measured(image):
        a = reference.forward(image, weights)[layer][0, ..., channel]
        return a[a.shape[0] // 2, a.shape[1] // 2] if objective == "center" else a.mean()

    noise = generate_noise_image(np.zeros((1, size, size, 3), np.float32), 1.0, seed=5)
    np.testing.assert_allclose(result.start, measured(noise), rtol=1e-4, atol=1e-4)
    final = measured(reshape_and_normalize_image(result.image.astype(np.float32)))
    np.testing.assert_allclose(result.final, final, rtol=0.02, atol=0.02)  # the saved image is rounded to uint8
    assert final > result.start + 1


# ---------------------------------------------------------------------------------------------------------------------
# sweep


def numpy_costs(weights, content, generated, layers):
    """J_content at layers[0] and J_style over layers with weights 1/N, from the numpy forward pass."""
    target = reference.forward(content, weights)
    mine = reference.forward(generated, weights)
    _, n_H, n_W, n_C = mine[layers[0]].shape
    J_content = ((target[layers[0]] - mine[layers[0]]) ** 2).sum() / (4 * n_H * n_W * n_C)
    J_style = 0.0
    for name in layers:
        _, n_H, n_W, n_C = mine[name].shape
        A, G = target[name].reshape(-1, n_C), mine[name].reshape(-1, n_C)
        J_style += ((A.T @ A - G.T @ G) ** 2).sum() / (4 * n_C**2 * (n_H * n_W) ** 2) / len(layers)
    return J_content, J_style


@pytest.mark.slow
def test_sweep_has_one_panel_per_layer_and_layer_set(model, weights):
    content, style = random_pixels(24, 32, seed=6), random_pixels(24, 32, seed=7)
    result = V.sweep(model, content, style, iterations=4, height=24, width=32, seed=8, jit_compile=False)
    assert [(p.kind, p.layers) for p in result.panels] == (
        [("content", (name,)) for name in V.SWEEP_CONTENT_LAYERS] + [("style", s) for s in V.SWEEP_STYLE_SETS]
    )
    noise = generate_noise_image(np.zeros((1, 24, 32, 3), np.float32), 1.0, seed=8)
    for panel in result.panels:
        assert panel.image.shape == (24, 32, 3) and panel.image.dtype == np.uint8 and len(panel.history) == 4
        target = reshape_and_normalize_image(content if panel.kind == "content" else style)
        J_content, J_style = numpy_costs(weights, target, noise, panel.layers)
        np.testing.assert_allclose(panel.history[0], J_content if panel.kind == "content" else J_style, rtol=1e-3)
        assert panel.cost < panel.history[0]


def test_sweep_with_only_a_style_and_chosen_sets(model):
    result = V.sweep(
        model,
        style=random_pixels(20, 20),
        style_sets=[("conv1_1",), ("conv2_1", "conv1_1")],
        iterations=1,
        max_size=16,
        jit_compile=False,
    )
    assert [p.layers for p in result.panels] == [("conv1_1",), ("conv2_1", "conv1_1")]
    assert result.content is None and result.style.shape == (16, 16, 3)
    with pytest.raises(UnknownLayerError):
        V.sweep(model, random_pixels(8, 8), content_layers=["conv9_9"], iterations=1, max_size=8)
    with pytest.raises(OptionError):
        V.sweep(model, iterations=1)


# ---------------------------------------------------------------------------------------------------------------------
# curves


def write_history(path, entries):
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    return path


def test_history_series_keep_the_costs_and_extra_terms(tmp_path):
    entries = [
        {
            "iteration": i,
            "seconds": 0.5 * i,
            "J": 100.0 / (i + 1),
            "J_content": 3.0 / (i + 1),
            "J_style": 2.0 / (i + 1),
            "J_tv": 0.1 * i,
            "lr": 2.0,
        }
        for i in range(6)
    ]
    path = write_history(tmp_path / "run.jsonl", entries)
    read = V.read_history(path)
    assert read == entries
    series = V.history_series(read)
    assert list(series) == ["J", "J_content", "J_style", "J_tv"]
    np.testing.assert_array_equal(series["J_style"][1], [2.0 / (i + 1) for i in range(6)])
    np.testing.assert_array_equal(series["J"][0], range(6))
    pixels = V.figure_to_array(V.curves_figure({"run.jsonl": read}))
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no cost entries"),
        ('{"iteration": 0, "J": 1}\n', "line 1: no J_content, J_style"),
        ('{"iteration": 0, "J": 1, "J_content": 1, "J_style": 1}\n{oops\n', "line 2: not JSON"),
    ],
)
def test_bad_history_files_say_where(tmp_path, text, message):
    path = tmp_path / "h.jsonl"
    path.write_text(text)
    with pytest.raises(V.HistoryError, match=message):
        V.read_history(path)


# ---------------------------------------------------------------------------------------------------------------------
# the command


def run_cli(capsys, *argv):
    code = cli_main(["visualize", *map(str, argv)])
    return code, capsys.readouterr().err


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = iio.imread(path)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert min(pixels.shape[:2]) > 200
    assert not [name for name in os.listdir(path.parent) if name.startswith(".tmp-")]
    return pixels


@pytest.fixture()
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        iio.imwrite(folder / f"img{i}.png", random_pixels(20, 28, seed=i).astype(np.uint8))
    history = write_history(
        tmp_path / "history.jsonl",
        [
            {"iteration": i, "seconds": i * 0.1, "J": 50.0 - i, "J_content": 5.0 - i / 2, "J_style": 1.0 / (i + 1)}
            for i in range(5)
        ],
    )
    return folder, history


@pytest.mark.slow
def test_every_kind_writes_its_png(tmp_path, capsys, mat_file, inputs):
    folder, history = inputs
    image = folder / "img0.png"
    common = ["--weights", mat_file[0], "--height", 20, "--width", 28, "--seed", 1]
    commands = {
        "maps": ["maps", image, "--layer", "conv2_1", *common],
        "top": ["top", folder, "--layer", "conv3_1", "--channel", 4, "--k", 2, *common],
        "project": ["project", image, "--layer", "conv3_1", "--channel", 4, "--rule", "deconvnet", *common],
        "maximize": ["maximize", "--layer", "conv2_1", "--channel", 3, "--iterations", 3, *common],
        "sweep": [
            "sweep",
            "--content",
            image,
            "--style",
            folder / "img1.png",
            "--iterations",
            2,
            "--content-layers",
            "conv2_1",
            "--style-sets",
            "conv1_1,conv2_1",
            *common,
        ],
        "curves": ["curves", history],
    }
    for kind, argv in commands.items():
        output = tmp_path / "out" / f"{kind}.png"
        code, err = run_cli(capsys, *argv, "--output", output)
        assert code == 0, err
        assert f"wrote {output}" in err
        assert_png(output)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["maps", "{image}", "--layer", "conv9_1"], "unknown layer; valid: conv1_1, conv1_2, avgpool1, conv2_1"),
        (["project", "{image}", "--layer", "conv4_1", "--channel", "40"], "conv4_1 has 32 channels, numbered 0 to 31"),
        (["maximize", "--layer", "conv1_1", "--channel", "4", "--iterations", "0"], "--iterations must be a positive"),
        (["top", "{empty}", "--layer", "conv1_1", "--channel", "0"], "no images in this folder"),
        (["top", "{image}", "--layer", "conv1_1", "--channel", "0"], "is not a folder"),
        (["maps", "{missing}", "--layer", "conv1_1"], "image not found"),
        (["curves", "{missing}"], "history file not found"),
        (["sweep", "--iterations", "1"], "give --content PHOTO, --style PAINTING or both"),
        (["maps", "{image}", "--layer", "conv1_1", "--height", "-3"], "--height must be a positive"),
        (["top", "{folder}", "--layer", "conv1_1"], "the following arguments are required: --channel"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(tmp_path, capsys, mat_file, inputs, argv, message):
    folder, _ = inputs
    (tmp_path / "empty").mkdir()
    names = {
        "image": folder / "img0.png",
        "empty": tmp_path / "empty",
        "missing": tmp_path / "missing.png",
        "folder": folder,
    }
    argv = [part.format(**names) for part in argv]
    output = tmp_path / "out.png"
    extra = [] if argv[0] == "curves" else ["--weights", str(mat_file[0])]
    code, err = run_cli(capsys, *argv, *extra, "--output", output)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1, err
    assert not output.exists()


def test_the_output_never_overwrites_an_input(capsys, mat_file, inputs):
    folder, _ = inputs
    image = folder / "img0.png"
    before = image.read_bytes()
    code, err = run_cli(capsys, "maps", image, "--layer", "conv1_1", "--weights", mat_file[0], "--output", image)
    assert code == 2 and "is also an input" in err
    assert image.read_bytes() == before
