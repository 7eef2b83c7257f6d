"""Many styles in one network (conditional instance normalisation): one style is the single-style network, a one-hot
style k is a network with style k's scales and shifts, a mixture of the weights is the network with the mixed
parameters, per-pixel masks tile like the rest, the batches take the styles in turn, and bad --style-index / --mix
are one line, exit 2."""

import os

import imageio.v3 as iio
import keras
import numpy as np
import pytest
import tensorflow as tf

from neural_style.checks import OptionError
from neural_style.cli import main
from neural_style.fast import data
from neural_style.fast.apply import fit_style_weights, load_style_masks, stylize_picture
from neural_style.fast.layers import InstanceNormalization
from neural_style.fast.loss import FastStyleTrainer, style_grams
from neural_style.fast.network import TransformNet, build_transform_net
from neural_style.fast.options import TrainOptions
from neural_style.fast.style_choice import style_weights
from neural_style.fast.train import train_fast_model
from neural_style.fast.video import stylize_frames
from neural_style.vgg import load_vgg_model
from neural_style.weights import random_vgg_weights
from tests.fixtures import trained_like

STYLES = 3


@pytest.fixture(scope="module")
def net():
    return trained_like(build_transform_net(seed=5, styles=STYLES, style_digests=["a" * 64, "b" * 64, "c" * 64]), 1)


def _single_with(net, gamma_beta):
    """A single-style network with `net`'s convolutions and the given (gamma, beta) for each normalisation."""
    single = build_transform_net(seed=0)
    for mine, theirs in zip(single.convs + [single.output_conv], net.convs + [net.output_conv]):
        for variable, value in zip(mine.weights, theirs.weights):
            variable.assign(value)
    for norm, (gamma, beta) in zip(single.norms, gamma_beta):
        norm.gamma.assign(np.asarray(gamma, np.float32)[None])
        norm.beta.assign(np.asarray(beta, np.float32)[None])
    return single


def _pictures(count=2, height=23, width=30, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, height, width, 3)).astype(np.float32)


def test_one_style_is_the_single_style_network(tmp_path):
    model = trained_like(build_transform_net(seed=3, style_digest="d" * 64), 2)
    assert model.styles == 1 and [norm.gamma.shape for norm in model.norms][0] == (1, 32)
    x = _pictures()
    alone = model(x).numpy()
    assert alone.shape == x.shape
    # The weight 1 times the one gamma is that gamma exactly: the same outputs, bit for bit.
    np.testing.assert_array_equal(model((x, np.ones((2, 1), np.float32))).numpy(), alone)
    path = tmp_path / "one.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.styles == 1 and loaded.style_digest == "d" * 64 and loaded.style_digests == ["d" * 64]
    np.testing.assert_array_equal(loaded(x).numpy(), alone)


def test_round_trip_keeps_the_styles_and_their_digests(net, tmp_path):
    path = tmp_path / "three.keras"
    net.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, TransformNet)
    assert loaded.styles == STYLES and loaded.style_digests == ["a" * 64, "b" * 64, "c" * 64]
    assert loaded.style_digest is None  # no single style's digest for several
    x = _pictures()
    weights = np.array([[0.2, 0.3, 0.5], [0, 1, 0]], np.float32)
    np.testing.assert_array_equal(loaded((x, weights)).numpy(), net((x, weights)).numpy())


def test_single_style_file_of_the_earlier_layout_loads():
    # Files written before the per-style scales had gamma and beta of shape (C,): read as one style's (1, C).
    layer = InstanceNormalization()
    layer.build((None, None, None, 4))
    layer.load_own_variables({"0": np.arange(4, dtype=np.float32), "1": -np.arange(4, dtype=np.float32)})
    np.testing.assert_array_equal(layer.gamma.numpy(), [[0, 1, 2, 3]])
    np.testing.assert_array_equal(layer.beta.numpy(), [[0, -1, -2, -3]])


@pytest.mark.parametrize("k", range(STYLES))
def test_one_hot_k_is_the_network_with_style_ks_parameters(net, k):
    single = _single_with(net, [(norm.gamma.numpy()[k], norm.beta.numpy()[k]) for norm in net.norms])
    x = _pictures(seed=k)
    one_hot = np.eye(STYLES, dtype=np.float32)[[k, k]]
    # A one-hot matmul picks gamma_k exactly (the other products are 0); the rest is the same float32 arithmetic,
    # so the outputs agree to float32 rounding of values up to a few hundred (1e-3 grey levels is about 100 ulps).
    np.testing.assert_allclose(net((x, one_hot)).numpy(), single(x).numpy(), atol=1e-3)
    # And the styles do differ (the check above could not pass by accident).
    other = np.eye(STYLES, dtype=np.float32)[[(k + 1) % STYLES] * 2]
    assert np.abs(net((x, other)).numpy() - single(x).numpy()).mean() > 1


def test_a_mixture_of_weights_is_the_network_with_the_mixed_parameters(net):
    w = np.array([0.5, 0.3, 0.2])
    mixed = [
        (w @ norm.gamma.numpy().astype(np.float64), w @ norm.beta.numpy().astype(np.float64)) for norm in net.norms
    ]
    single = _single_with(net, mixed)
    x = _pictures(seed=9)
    result = net((x, np.tile(w.astype(np.float32), (2, 1)))).numpy()
    # The mixed gammas and betas differ from the float64 ones by a float32 rounding (relative 6e-8), and the matmul
    # rounds once more; each of the 15 normalisations re-scales its input, so the relative error stays a few ulps per
    # layer: 15 x 4 x 6e-8 < 1e-5 of the outputs' scale (thousands here: the last layer is x 20, unclipped); 1e-4
    # leaves room for the convolutions' own rounding of the perturbed activations.
    np.testing.assert_allclose(result, single(x).numpy(), atol=1e-4 * np.abs(result).max())
    # The mixture is not any one style's picture.
    for k in range(STYLES):
        assert np.abs(result - net((x, np.eye(STYLES, dtype=np.float32)[[k, k]])).numpy()).mean() > 0.5


def test_per_pixel_weights_are_each_pixels_mixture_of_the_scales_and_shifts():
    layer = InstanceNormalization(styles=2)
    layer.build((None, None, None, 3))
    rng = np.random.default_rng(4)
    gamma, beta = rng.uniform(0.5, 2, (2, 3)), rng.uniform(-1, 1, (2, 3))
    layer.gamma.assign(gamma.astype(np.float32))
    layer.beta.assign(beta.astype(np.float32))
    x = rng.normal(0, 3, (1, 6, 7, 3))
    masks = rng.uniform(0, 1, (1, 6, 7, 1))
    masks = np.concatenate([masks, 1 - masks], axis=-1)
    normalised = (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)
    expected = normalised * (masks @ gamma) + masks @ beta
    result = layer(x.astype(np.float32), style_weights=masks.astype(np.float32)).numpy()
    # Values of order 10, float32 moments over 42 positions: errors of a few ulps.
    np.testing.assert_allclose(result, expected, atol=1e-4)


def test_uniform_masks_are_the_mixture_and_masks_tile_like_the_whole(net, tmp_path):
    picture = _pictures(1, 61, 61, seed=3)[0]
    w = np.array([0.25, 0.25, 0.5], np.float32)
    # Masks that give every pixel the same weights: each level's average of equal weights is those weights.
    uniform = np.broadcast_to(w, (61, 61, STYLES))
    np.testing.assert_allclose(
        stylize_picture(net, picture, style_weights=uniform), stylize_picture(net, picture, style_weights=w), atol=1e-2
    )
    # A style per region (left, middle, right thirds, soft edges from the resize), from mask files.
    paths = []
    for k in range(STYLES):
        mask = np.zeros((20, 30), np.uint8)
        mask[:, 10 * k : 10 * (k + 1)] = 255
        paths.append(tmp_path / f"m{k}.png")
        iio.imwrite(paths[-1], mask)
    masks = load_style_masks(paths, STYLES)
    np.testing.assert_allclose(masks.sum(axis=-1), 1, atol=1e-6)
    whole = stylize_picture(net, picture, style_weights=masks)
    tiled = stylize_picture(net, picture, tile_size=40, style_weights=masks)
    # As for one style (test_fast_apply): the tiles' statistics are the whole picture's to float32 rounding.
    assert np.abs(tiled - whole).max() < 1.0 and np.abs(tiled - whole).mean() < 0.01
    assert np.abs(whole - stylize_picture(net, picture, style_weights=w)).mean() > 1
    with pytest.raises(OptionError, match="2 masks for a model of 3 styles"):
        load_style_masks(paths[:2], STYLES)


def test_style_weights_options():
    assert style_weights(3) == [1, 0, 0]
    assert style_weights(3, style_index=2) == [0, 0, 1]
    assert style_weights(3, mix="0.1,0.2,0.7") == [0.1, 0.2, 0.7]
    for kwargs, message in [
        ({"style_index": 3}, "style_index 3 is not one of the model's 3 styles"),
        ({"style_index": -1}, "style_index must be a whole number >= 0"),
        ({"mix": "0.5,0.5"}, "mix has 2 weights but the model has 3 styles"),
        ({"mix": "0.5,0.6,0"}, "must sum to 1"),
        ({"mix": "1.5,-0.5,0"}, "^mix weights must be finite numbers >= 0, got -0.5$"),
        ({"mix": "a,b,c"}, "mix must be 3 numbers"),
        ({"mix": "1,0,0", "style_index": 0}, "give only one of style_index, mix"),
        ({"style_masks": ["m0.png"], "mix": "1,0,0"}, "give only one of mix, style_masks"),
        ({"style_masks": ["m0.png"]}, "style_masks: 1 mask for a model of 3 styles"),
    ]:
        with pytest.raises(OptionError, match=message):
            style_weights(3, **kwargs)
    # A network of one style has nothing to mix; its one index is 0.
    assert style_weights(1) == [1.0] and style_weights(1, style_index=0) == [1.0]
    for kwargs, message in [
        ({"mix": "1"}, "mix is for a model of several styles; this model has one"),
        ({"style_masks": ["m0.png"]}, "style_masks is for a model of several styles"),
        ({"style_index": 1}, "style_index 1 is not one of the model's 1 style; give 0"),
    ]:
        with pytest.raises(OptionError, match=message):
            style_weights(1, **kwargs)


def test_batches_take_the_styles_in_turn_and_resume_with_them(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        iio.imwrite(folder / f"p{i}.png", np.full((20, 24, 3), 40 * i, np.uint8))
    pictures = data.Pictures(folder)
    batches = list(data.training_dataset(pictures, 16, 2, seed=1, styles=3).take(5))
    assert [b[1].numpy().tolist() for b in batches] == [[0, 0], [1, 1], [2, 2], [0, 0], [1, 1]]
    # A training resumed after 2 batches gets the third batch's pictures with the third batch's style.
    resumed = list(data.training_dataset(pictures, 16, 2, seed=1, start_batch=2, styles=3).take(1))[0]
    np.testing.assert_array_equal(resumed[0].numpy(), batches[2][0].numpy())
    assert resumed[1].numpy().tolist() == [2, 2]
    # Without styles the elements are the crops alone, as for one style before.
    plain = next(iter(data.training_dataset(pictures, 16, 2, seed=1)))
    np.testing.assert_array_equal(plain.numpy(), batches[0][0].numpy())


def test_each_picture_is_costed_against_its_own_style(tmp_path):
    vgg = load_vgg_model(random_vgg_weights(seed=0, width_divisor=16), 32, 32)
    options = TrainOptions(size=32).validate()
    rng = np.random.default_rng(2)
    paints = []
    for k in range(2):
        paints.append(tmp_path / f"s{k}.png")
        iio.imwrite(paints[-1], rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    grams = [style_grams(vgg, path, options) for path in paints]
    both = FastStyleTrainer(keras.Sequential(), vgg, grams, options)
    pictures = tf.constant(rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32))
    generated = tf.constant(rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32))
    for k in range(2):
        alone = FastStyleTrainer(keras.Sequential(), vgg, grams[k], options)
        # The same Gram matrices picked from the stack: the same float32 arithmetic, equal costs.
        np.testing.assert_allclose(
            float(both.costs(pictures, generated, tf.constant([k, k]))[2]),
            float(alone.costs(pictures, generated)[2]),
            rtol=1e-6,
        )
    assert float(both.costs(pictures, generated, tf.constant([0, 0]))[2]) != float(
        both.costs(pictures, generated, tf.constant([1, 1]))[2]
    )


@pytest.fixture
def two_style_model(tmp_path):
    model = trained_like(build_transform_net(seed=2, styles=2, style_digests=["e" * 64, "f" * 64]), 3)
    path = tmp_path / "two.keras"
    model.save(path)
    photo = tmp_path / "photo.png"
    iio.imwrite(photo, _pictures(1, 20, 26)[0].astype(np.uint8))
    return model, path, photo


def test_apply_with_a_mix_and_an_index(two_style_model, tmp_path):
    model, path, photo = two_style_model
    out = tmp_path / "mixed.png"
    assert main(["apply", "--model", str(path), "--content", str(photo), "--output", str(out), "--mix", "0.7,0.3"]) == 0
    pixels = iio.imread(photo).astype(np.float32)
    expected = np.rint(stylize_picture(model, pixels, style_weights=[0.7, 0.3]))
    # The same network on the same pixels, rounded to 8 bits: at most one level apart where rounding tips.
    assert np.abs(iio.imread(out).astype(np.float32) - expected).max() <= 1
    out1 = tmp_path / "second.png"
    argv = ["apply", "--model", str(path), "--content", str(photo), "--output", str(out1), "--style-index", "1"]
    assert main(argv) == 0
    expected = np.rint(stylize_picture(model, pixels, style_weights=[0, 1]))
    assert np.abs(iio.imread(out1).astype(np.float32) - expected).max() <= 1


def _frames_folder(folder, count=3, height=20, width=26, broken=False):
    """Numbered PNG frames of noise; with `broken`, a last frame file that is not a picture."""
    folder.mkdir()
    for i, frame in enumerate(_pictures(count, height, width, seed=7)):
        iio.imwrite(folder / f"{i:04d}.png", frame.astype(np.uint8))
    if broken:
        (folder / f"{count:04d}.png").write_bytes(b"not a picture")
    return folder


def _half_masks(folder, height=10, width=13):
    """Two masks: style 0 on the left, style 1 on the right; smaller than the pictures, so resized to them."""
    paths = []
    for k in range(2):
        mask = np.zeros((height, width), np.uint8)
        mask[:, : width // 2] = 255 * (k == 0)
        mask[:, width // 2 :] = 255 * (k == 1)
        paths.append(folder / f"half{k}.png")
        iio.imwrite(paths[-1], mask)
    return [str(path) for path in paths]


@pytest.mark.parametrize("choice", ["index", "mix", "masks"])
def test_video_with_a_style_choice_is_the_apply_of_each_frame(two_style_model, tmp_path, choice):
    model, path, _ = two_style_model
    frames = _frames_folder(tmp_path / "frames")
    extra = {
        "index": ["--style-index", "1"],
        "mix": ["--mix", "0.7,0.3"],
        "masks": ["--style-masks", *_half_masks(tmp_path)],
    }[choice]
    video, applied = tmp_path / "video", tmp_path / "applied"
    for command, output in [("video", video), ("apply", applied)]:
        argv = [command, "--model", str(path), "--content", str(frames), "--output", str(output), "--quiet", *extra]
        assert main(argv) == 0
    # The apply keeps the frames' names; the video numbers its frames in the same order.
    by_videos, by_applies = _frames_as_read(video), _frames_as_read(applied)
    assert len(by_videos) == len(by_applies) == 3
    first_style = [np.rint(stylize_picture(model, frame, style_weights=[1, 0])) for frame in _frames_as_read(frames)]
    for by_video, by_apply, plain in zip(by_videos, by_applies, first_style):
        # Both run stylize_picture on the same 8-bit pixels with the same weights (the masks resized to the frame by
        # the same fit_style_weights), then round to 8 bits: equal, except that a float32 difference from another
        # kernel order (about 1e-3 levels: 100 ulps of values up to a few hundred) tips a rounding where a value lies
        # within it of a half: at most one level, at about 0.1% of the values.
        difference = np.abs(by_video - by_apply)
        assert difference.max() <= 1 and difference.mean() < 0.01
        # The choice was used: not the first style's picture, which the default gives.
        assert np.abs(by_video - plain).mean() > 1


def _frames_as_read(folder):
    return [iio.imread(path).astype(np.float32) for path in sorted(folder.iterdir())]


def test_video_api_takes_the_style_weights(two_style_model, tmp_path):
    model, _, _ = two_style_model
    frames = _frames_as_read(_frames_folder(tmp_path / "frames", count=2))
    masks = load_style_masks(_half_masks(tmp_path), 2)
    for weights in ([0, 1], [0.4, 0.6], masks):
        for frame, result in zip(frames, stylize_frames(model, frames, style_weights=weights)):
            # The same function on the same pixels in this process: the same bits.
            np.testing.assert_array_equal(
                result, np.rint(stylize_picture(model, frame, style_weights=weights)).astype(np.uint8)
            )


@pytest.fixture
def one_style_model(tmp_path):
    path = tmp_path / "one.keras"
    build_transform_net(seed=1).save(path)
    return path


@pytest.mark.parametrize("command", ["apply", "video"])
@pytest.mark.parametrize(
    "model, extra, message",
    [
        ("two", ["--style-index", "2"], "--style-index 2 is not one of the model's 2 styles"),
        ("two", ["--mix", "0.7,0.7"], "--mix weights must sum to 1"),
        ("two", ["--mix", "1"], "--mix has 1 weights but the model has 2 styles"),
        ("two", ["--mix", "x,y"], "--mix must be 2 numbers"),
        # A negative first weight, as a user types it (not --mix=-1,2), reaches the range check.
        ("two", ["--mix", "-1,2"], "neural-style: error: --mix weights must be finite numbers >= 0, got -1.0"),
        ("two", ["--mix", "1,0", "--style-index", "0"], "not allowed with"),
        ("two", ["--style-masks", "{mask}"], "--style-masks: 1 mask for a model of 2 styles; give one for each"),
        ("two", ["--style-masks", "{mask}", "{mask}"], "pixels are black in every mask; each pixel needs a style"),
        ("one", ["--mix", "1"], "--mix is for a model of several styles; this model has one, so leave it out"),
        ("one", ["--style-masks", "{mask}"], "--style-masks is for a model of several styles"),
        ("one", ["--style-index", "1"], "--style-index 1 is not one of the model's 1 style; give 0"),
    ],
)
def test_bad_style_choices_are_one_line_exit_2(
    two_style_model, one_style_model, tmp_path, capsys, command, model, extra, message
):
    _, two, photo = two_style_model
    extra = [arg.format(mask=_half_masks(tmp_path)[0]) for arg in extra]  # the left half's mask
    # The video's frames end with a file that is not a picture: reading the clip would fail on it, so the style's
    # message shows that the choice was checked before any frame was read.
    content = photo if command == "apply" else _frames_folder(tmp_path / "frames", broken=True)
    out = tmp_path / ("out.png" if command == "apply" else "out")
    path = two if model == "two" else one_style_model
    assert main([command, "--model", str(path), "--content", str(content), "--output", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", ["apply", "video"])
def test_style_masks_of_two_shapes_say_what_to_give_not_stretch_masks(two_style_model, tmp_path, capsys, command):
    _, path, photo = two_style_model
    first, _ = _half_masks(tmp_path)  # 13x10
    (tmp_path / "wide").mkdir()
    wide = _half_masks(tmp_path / "wide", width=26)[1]  # 26x10: twice as wide
    content = photo if command == "apply" else _frames_folder(tmp_path / "frames")
    out = tmp_path / ("out.png" if command == "apply" else "out")
    argv = [command, "--model", str(path), "--content", str(content), "--output", str(out), "--style-masks"]
    assert main([*argv, first, wide]) == 2
    # --stretch-masks is the main command's: these commands have none, so the line says what masks to give.
    assert capsys.readouterr().err.splitlines() == [
        f"neural-style: error: --style-masks {wide} is 26x10, not of the 13x10 shape it must match; give every mask "
        "the first one's shape, the pictures' aspect ratio (they are resized to each picture)"
    ]
    assert not out.exists()


def test_apply_never_writes_over_a_style_mask(two_style_model, tmp_path, capsys):
    _, path, photo = two_style_model
    masks = _half_masks(tmp_path)
    before = open(masks[0], "rb").read()
    argv = ["apply", "--model", str(path), "--content", str(photo), "--output", masks[0], "--style-masks", *masks]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is also an input" in err, err
    assert open(masks[0], "rb").read() == before


def test_train_two_styles_end_to_end(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        iio.imwrite(folder / f"p{i}.png", rng.integers(0, 256, (36, 40, 3), dtype=np.uint8))
    paints = [folder / "p0.png", folder / "p1.png"]
    output = tmp_path / "two.keras"
    weights = random_vgg_weights(seed=0, width_divisor=16)
    model, summary = train_fast_model(paints, folder, output, weights=weights, size=32, batch_size=2, steps=2)
    assert summary["steps"] == 2 and os.path.isfile(output)
    loaded = keras.models.load_model(output)
    assert loaded.styles == 2 and len(loaded.style_digests) == 2 and loaded.style_digests[0] != loaded.style_digests[1]
    # Batch 0 trained style 0's scales and shifts, batch 1 style 1's: both moved away from their start (1 and 0).
    moved = np.abs(loaded.norms[0].beta.numpy()).max(axis=1)
    assert np.all(moved > 0)


def test_tflite_takes_the_style_weights_as_a_second_input(two_style_model, tmp_path):
    from neural_style.fast.export import export_tflite, run_tflite

    model, _, _ = two_style_model
    path = tmp_path / "two.tflite"
    export_tflite(model, path)
    inputs = {d["name"]: d["shape_signature"].tolist() for d in tf.lite.Interpreter(str(path)).get_input_details()}
    # A map of weights, resizable: 1 x 1 (its shape as written) one mixture, or the picture's size per pixel.
    assert sorted(inputs.values()) == [[1, -1, -1, 2], [1, -1, -1, 3]]
    picture = _pictures(1, 21, 26, seed=4)[0]
    for weights in ([1.0, 0.0], [0.3, 0.7]):
        expected = np.clip(model((picture[None], np.array([weights], np.float32))).numpy()[0], 0, 255)
        # The same float32 operations in TFLite's kernels (another summation order): far below one grey level.
        assert np.abs(run_tflite(path, picture, weights) - expected).max() < 1.0
    # Style masks (left half style 0, right half style 1; soft at the border, and at 10 x 13 resized to 21 x 26 by
    # run_tflite as by the apply): TFLite's average pools count only the positions inside the picture at its edges,
    # as TensorFlow's SAME pools do, so every level gets the Keras model's weights; the rest is float32 rounding in
    # another order, as above.
    masks = load_style_masks(_half_masks(tmp_path), 2)
    expected = stylize_picture(model, picture, style_weights=masks)
    assert np.abs(run_tflite(path, picture, masks) - expected).max() < 1.0
    # The masks were used: the picture is neither style's alone nor their even mixture.
    for weights in ([1.0, 0.0], [0.0, 1.0], [0.5, 0.5]):
        assert np.abs(stylize_picture(model, picture, style_weights=weights) - expected).mean() > 1


def test_saved_model_takes_the_same_weights_map(two_style_model, tmp_path):
    from neural_style.fast.export import export_saved_model

    model, _, _ = two_style_model
    serve = tf.saved_model.load(export_saved_model(model, tmp_path / "saved")).signatures["serving_default"]
    picture = _pictures(1, 19, 22, seed=6)[0]
    masks = load_style_masks(_half_masks(tmp_path), 2)
    for weights, as_map in [([0.3, 0.7], np.float32([[[[0.3, 0.7]]]])), (masks, None)]:
        as_map = as_map if as_map is not None else fit_style_weights(masks, 19, 22)[None]
        result = serve(picture=tf.constant(picture[None]), style_weights=tf.constant(as_map))["stylized"].numpy()[0]
        # The Keras model's graph run by TensorFlow, the 1 x 1 map through the per-pixel path: float32 rounding.
        np.testing.assert_allclose(result, stylize_picture(model, picture, style_weights=weights), atol=0.05)
