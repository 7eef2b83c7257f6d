"""Training the fast network: the costs are the project's, bad pictures are skipped and counted, a folder with no
usable picture is refused before any work, and an interrupted training resumes to the uninterrupted one's weights."""

import json
import os

import imageio.v3 as iio
import keras
import numpy as np
import pytest
import tensorflow as tf

from neural_style.checks import OptionError
from neural_style.config import CONFIG
from neural_style.costs import compute_layer_style_cost, total_variation_cost
from neural_style.fast import data
from neural_style.fast.loss import FastStyleTrainer, style_grams, style_targets
from neural_style.fast.options import TrainOptions
from neural_style.fast.train import train_fast_model
from neural_style.vgg import load_vgg_model
from neural_style.weights import random_vgg_weights
from tests import reference
from tests.fixtures import write_photo_folder, write_stripes

# Narrow random filters (VGG-19's channels / 16) keep each step short; the shapes and layers are the real ones.
WEIGHTS = random_vgg_weights(seed=0, width_divisor=16)
TOY = {"size": 32, "batch_size": 2, "checkpoint_every": 2, "seed": 7}


@pytest.fixture
def folder(tmp_path):
    return write_photo_folder(tmp_path / "photos")


@pytest.fixture
def style(tmp_path):
    return write_stripes(tmp_path / "style.png")


def test_cost_is_the_projects_per_picture_mean(style):
    options = TrainOptions(size=32).validate()
    vgg = load_vgg_model(WEIGHTS, 32, 32)
    grams = style_grams(vgg, style, options)
    trainer = FastStyleTrainer(keras.Sequential(), vgg, grams, options)
    rng = np.random.default_rng(1)
    pictures = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    generated = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    J, J_content, J_style, J_tv = (float(v) for v in trainer.costs(tf.constant(pictures), tf.constant(generated)))
    # The article's costs picture by picture, the style against the style picture's own activations (32x32 here,
    # the crops' size, so style_gram_for_size leaves its Gram unchanged).
    from neural_style.images import load_pixels

    style_pixels = load_pixels(style, max_size=32)[None] - CONFIG.MEANS.astype(np.float32)
    names = [name for name, _ in options.style_layers]
    a_S = vgg(style_pixels, names)
    contents, styles, tvs = [], [], []
    for i in range(2):
        a_C = vgg(pictures[i : i + 1] - CONFIG.MEANS.astype(np.float32), ["conv4_2"])[0].numpy().astype(np.float64)
        a_G = vgg(generated[i : i + 1] - CONFIG.MEANS.astype(np.float32), names + ["conv4_2"])
        contents.append(np.sum((a_C - a_G[-1].numpy()) ** 2) / (4 * np.prod(a_C.shape[1:])))
        styles.append(
            sum(w * float(compute_layer_style_cost(s, g)) for (_, w), s, g in zip(options.style_layers, a_S, a_G))
        )
        tvs.append(float(total_variation_cost(generated[i])))
    # float32 sums of up to 32*32*3 squares: relative errors of order 1e-6; 1e-4 leaves room for the summation order.
    np.testing.assert_allclose(J_content, np.mean(contents), rtol=1e-4)
    np.testing.assert_allclose(J_style, np.mean(styles), rtol=1e-4)
    np.testing.assert_allclose(J_tv, np.mean(tvs), rtol=1e-4)
    expected = 10 * np.mean(contents) + 40 * np.mean(styles) + options.tv_weight * np.mean(tvs)
    np.testing.assert_allclose(J, expected, rtol=1e-4)


# mean-cov: float32 sums over at most 32*32 positions, relative errors of order 1e-6 (1e-4 as the costs above). w2 also
# takes square roots of covariances that are singular at the deep layers (conv5_1 has 2x2 positions at 32x32, for 32
# channels): an eigenvalue near zero, known to float32's eps, carries its square root to sqrt(eps) = 3.5e-4, over up to
# 32 channels: 1e-2.
@pytest.mark.parametrize(
    "style_loss, layer_cost, rtol", [("mean-cov", reference.mean_cov_cost, 1e-4), ("w2", reference.w2_cost, 1e-2)]
)
def test_another_style_loss_reaches_training(style, style_loss, layer_cost, rtol):
    # The registry's other losses train too: each picture's style cost is the loss's, against the style picture's own
    # activations (32x32, the crops' size), in numpy float64 (tests/reference.py).
    options = TrainOptions(size=32, style_loss=style_loss).validate()
    vgg = load_vgg_model(WEIGHTS, 32, 32)
    trainer = FastStyleTrainer(keras.Sequential(), vgg, style_targets(vgg, style, options), options)
    rng = np.random.default_rng(2)
    pictures = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    generated = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    _, _, J_style, _ = trainer.costs(tf.constant(pictures), tf.constant(generated))
    from neural_style.images import load_pixels

    means = CONFIG.MEANS.astype(np.float32)
    names = [name for name, _ in options.style_layers]
    a_S = [a.numpy() for a in vgg(load_pixels(style, max_size=32)[None] - means, names)]
    per_picture = []
    for i in range(2):
        a_G = [a.numpy() for a in vgg(generated[i : i + 1] - means, names)]
        per_picture.append(sum(w * layer_cost(s, g) for (_, w), s, g in zip(options.style_layers, a_S, a_G)))
    np.testing.assert_allclose(float(J_style), np.mean(per_picture), rtol=rtol)
    assert float(J_style) > 0


def test_picture_order_is_the_seeds_and_resumes_exactly():
    whole = list(zip(range(30), data.picture_order(7, seed=3)))
    # Each epoch is a permutation of the 7 pictures.
    assert sorted(index for _, (index, _) in whole[:7]) == list(range(7))
    assert [pair for _, pair in whole][:7] != [pair for _, pair in whole][7:14]
    # Starting after 10 entries gives the rest of the same stream.
    rest = list(zip(range(20), data.picture_order(7, seed=3, start=10)))
    assert [pair for _, pair in rest] == [pair for _, pair in whole[10:]]
    # A picture left out does not move the others' positions (their crops stay the same).
    skipping = [pair for _, pair in zip(range(20), data.picture_order(7, 3, skip=lambda i: i == 2))]
    assert skipping == [pair for pair in (p for _, p in whole) if pair[0] != 2][:20]


def test_crops_are_square_resized_up_and_the_seeds(tmp_path):
    picture = tf.constant(np.random.default_rng(0).uniform(0, 255, (10, 6, 3)).astype(np.float32))
    crop = data.crop_to_size(picture, 32, seed=1, position=5).numpy()
    assert crop.shape == (32, 32, 3)
    assert 0 <= crop.min() and crop.max() <= 255
    np.testing.assert_array_equal(crop, data.crop_to_size(picture, 32, seed=1, position=5).numpy())


def test_bad_files_are_skipped_with_one_warning_each_and_counted(folder, style, tmp_path):
    (folder / "notes.jpg").write_text("not a picture")
    whole = iio.imread(folder / "nested" / "photo0.png")
    truncated = folder / "truncated.png"
    iio.imwrite(truncated, whole)
    truncated.write_bytes(truncated.read_bytes()[:200])  # its header is fine, its pixels are cut
    (folder / "readme.txt").write_text("not a picture either, and not a picture's extension")
    warnings = []
    _, summary = train_fast_model(
        style,
        folder,
        tmp_path / "m.keras",
        weights=WEIGHTS,
        steps=4,
        warn=warnings.append,
        **{**TOY, "checkpoint_every": 4},
    )
    assert sorted(summary["skipped"]) == sorted([str(folder / "notes.jpg"), str(truncated)])
    assert len(warnings) == 2 and all(line.startswith("skipping ") for line in warnings)
    assert summary["pictures"] == 5
    assert os.path.isfile(tmp_path / "m.keras")


def test_a_folder_without_pictures_is_one_line(tmp_path, style):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.jpg").write_text("no")
    with pytest.raises(OptionError, match="no usable picture"):
        train_fast_model(style, empty, tmp_path / "m.keras", weights=WEIGHTS, steps=1, warn=lambda line: None, **TOY)
    with pytest.raises(OptionError, match="not a folder"):
        train_fast_model(style, tmp_path / "missing", tmp_path / "m.keras", weights=WEIGHTS, steps=1, **TOY)
    assert not os.path.exists(tmp_path / "m.keras")


class InterruptAfter(keras.callbacks.Callback):
    """Interrupts a training as Ctrl-C would, after `steps` steps."""

    def __init__(self, steps):
        super().__init__()
        self.steps, self.done = steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.steps:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_resumed_training_ends_with_the_uninterrupted_weights(folder, style, tmp_path):
    steps = 6
    whole, summary = train_fast_model(style, folder, tmp_path / "whole.keras", weights=WEIGHTS, steps=steps, **TOY)
    assert summary["resumed_at"] is None
    output = tmp_path / "resumed.keras"
    # Interrupted in the middle of the second checkpoint interval (after step 3): the checkpoint of step 2 is kept.
    with pytest.raises(KeyboardInterrupt):
        train_fast_model(style, folder, output, weights=WEIGHTS, steps=steps, callbacks=[InterruptAfter(3)], **TOY)
    assert not output.exists()
    assert os.path.isfile(tmp_path / "resumed.train" / "latest.weights.h5")
    resumed, summary = train_fast_model(style, folder, output, weights=WEIGHTS, steps=steps, **TOY)
    assert summary["resumed_at"] == 2
    assert not (tmp_path / "resumed.train").exists()  # removed once the model is written
    # The same batches, the same restored weights and Adam moments: the same float32 arithmetic, so equal weights up
    # to float32 rounding in a different thread schedule (a few ulps of weights of order 0.1).
    for a, b in zip(whole.get_weights(), keras.models.load_model(output).get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Six steps did change the weights: the comparison is not of two untouched networks.
    untouched = train_fast_model.__globals__["build_transform_net"](seed=TOY["seed"])
    assert max(np.abs(a - b).max() for a, b in zip(whole.get_weights(), untouched.get_weights())) > 1e-4


def test_a_checkpoint_of_other_settings_is_refused(folder, style, tmp_path):
    with pytest.raises(KeyboardInterrupt):  # after step 3: the checkpoint of step 2 is kept
        train_fast_model(
            style, folder, tmp_path / "m.keras", weights=WEIGHTS, steps=4, callbacks=[InterruptAfter(3)], **TOY
        )
    with pytest.raises(OptionError, match="other settings .*learning_rate: 0.001 there, 0.5 here"):
        train_fast_model(style, folder, tmp_path / "m.keras", weights=WEIGHTS, steps=4, learning_rate=0.5, **{**TOY})
    assert os.path.isfile(tmp_path / "m.train" / "latest.weights.h5")  # the refusal kept it


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"size": 8}, "size must be at least 16"),
        ({"batch_size": 0}, "batch_size must be a positive whole number"),
        ({"tv_weight": -1}, "tv_weight must be"),
        ({"learning_rate": 0}, "learning_rate must be"),
        ({"style_layers": "conv9_1:1"}, "style_layers must be one of"),
        ({"content_layer": "fc7"}, "content_layer must be one of"),
    ],
)
def test_bad_settings_are_one_line(settings, message):
    with pytest.raises(OptionError, match=message):
        TrainOptions(**settings).validate()


def test_an_unreadable_checkpoint_is_one_line(folder, style, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train_fast_model(
            style, folder, tmp_path / "m.keras", weights=WEIGHTS, steps=4, callbacks=[InterruptAfter(3)], **TOY
        )
    checkpoint = tmp_path / "m.train" / "latest.weights.h5"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])  # cut, as a full disk would leave it
    with pytest.raises(OptionError, match="its checkpoint cannot be read .*remove the folder"):
        train_fast_model(style, folder, tmp_path / "m.keras", weights=WEIGHTS, steps=4, **TOY)


def test_a_signal_while_the_checkpoint_is_written_waits_for_it(folder, style, tmp_path, monkeypatch):
    import signal

    calls = []
    save = keras.Model.save_weights

    def signalled_while_saving(self, path, *args, **kwargs):
        calls.append(path)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the first checkpoint
        return save(self, path, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save_weights", signalled_while_saving)
    with pytest.raises(KeyboardInterrupt):
        train_fast_model(style, folder, tmp_path / "m.keras", weights=WEIGHTS, steps=4, **TOY)
    monkeypatch.undo()
    # The Ctrl-C stopped the training once the checkpoint was whole: its weights and the step they belong to agree,
    # no temporary file is left, and the same call continues from it.
    work = tmp_path / "m.train"
    assert len(calls) == 1
    assert not [name for name in os.listdir(work) if name.startswith(".tmp-")]
    assert json.loads((work / "training_metadata.json").read_text())["epoch"] == 1
    _, summary = train_fast_model(style, folder, tmp_path / "m.keras", weights=WEIGHTS, steps=4, **TOY)
    assert summary["resumed_at"] == 2
