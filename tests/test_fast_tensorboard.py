"""Watching a training in TensorBoard (neural_style/fast/watch.py, `neural-style train ... --tensorboard DIR`).

The event files are read back with TensorFlow's own reader (tf.compat.v1.train.summary_iterator, tests/
test_tensorboard.py's read_events), independently of the writer, and compared with what the training itself reports:
Keras' History (one entry per step here: a checkpoint every step, so every Keras epoch is one step) and the logs a
callback of the test records at each batch; the previews with the network's output computed here, from the saved model
given the weights of each step; a resumed training's steps with the interrupted one's and its own.
"""

import os
import re
import types

import imageio.v3 as iio
import keras
import numpy as np
import pytest
import tensorflow as tf

from neural_style.checks import OptionError
from neural_style.cli import main
from neural_style.fast import watch
from neural_style.fast.apply import load_fast_model
from neural_style.fast.options import PREVIEW_LIMIT, TrainOptions
from neural_style.fast.train import train_fast_model
from neural_style.images import load_pixels

# Narrow random filters (VGG-19's channels / 16) keep each step short; the shapes and layers are the real ones.
from tests.fixtures import write_photo_folder, write_stripes
from tests.test_fast_train import WEIGHTS, InterruptAfter
from tests.test_tensorboard import read_events, settings_table

TOY = {"size": 32, "batch_size": 2, "seed": 7}
COSTS = {"loss": "J", "content": "J_content", "style": "J_style", "tv": "J_tv"}


@pytest.fixture
def folder(tmp_path):
    return write_photo_folder(tmp_path / "photos")


@pytest.fixture
def styles(tmp_path):
    paths = [write_stripes(tmp_path / "stripes.png"), tmp_path / "dots.png"]
    iio.imwrite(paths[1], np.random.default_rng(3).integers(0, 256, (40, 40, 3)).astype(np.uint8))
    return paths


class Recorder(keras.callbacks.Callback):
    """What the training reports at each step (its logs) and the network's weights at the steps asked for."""

    def __init__(self, snapshot_steps=()):
        super().__init__()
        self.snapshot_steps, self.logs, self.weights = set(snapshot_steps), {}, {}

    def _step(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_train_begin(self, logs=None):
        if self._step() in self.snapshot_steps:
            self.weights[self._step()] = self.model.net.get_weights()

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        self.logs[step] = dict(logs)
        if step in self.snapshot_steps:
            self.weights[step] = self.model.net.get_weights()


def run_folder(logdir):
    (name,) = os.listdir(logdir)
    return os.path.join(logdir, name)


def as_tensorboard_shows(folder):
    """
    The run as TensorBoard shows it: the event files read in order (read_events), and in each series a point at step s
    dropping the points at steps >= s written before it (TensorBoard's reservoir "preemption": a job restarted from
    its checkpoint writes those steps again).

    Returns:
    events -- dict from tag to list of (step, plugin, value), steps strictly increasing
    """
    shown = {}
    for tag, points in read_events(folder).items():
        kept = []
        for point in points:
            kept = [earlier for earlier in kept if earlier[0] < point[0]] + [point]
        shown[tag] = kept
    return shown


def previews(events):
    """{tag: {step: uint8 strip}} of the preview tags (each value is [width, height, PNG bytes])."""
    found = {}
    for tag, points in events.items():
        if tag.startswith(watch.PREVIEW_TAG + "/"):
            for step, plugin, (width, height, png) in points:
                assert plugin == "images"
                strip = iio.imread(png, extension=".png")
                assert strip.shape == (int(height), int(width), 3)
                found.setdefault(tag, {})[step] = strip
    return found


def expected_strip(model, photo, styles):
    """The photograph and the network's output for it with each style, computed here: the Keras model called on the
    picture with one-hot style weights, clipped and rounded as a written picture is."""
    parts = [photo]
    for style in range(styles):
        weights = tf.one_hot([style], styles)
        parts.append(np.clip(model((photo[None], weights)).numpy()[0], 0, 255))
    return np.rint(np.concatenate(parts, axis=1)).astype(np.uint8)


def test_training_writes_every_cost_every_step_the_settings_and_previews(folder, styles, tmp_path):
    logdir, output, steps = tmp_path / "runs", tmp_path / "two.keras", 4
    recorder, history = Recorder(snapshot_steps=(0, 2, 4)), keras.callbacks.History()
    _, summary = train_fast_model(
        styles, folder, output, weights=WEIGHTS, steps=steps, checkpoint_every=1, tensorboard=logdir, save_every=2,
        callbacks=[history, recorder], **TOY,
    )  # fmt: skip
    run = run_folder(logdir)
    assert os.path.basename(run).startswith("two-")  # named after the model file
    events = read_events(run)
    # One event file, every step once, nothing preempted.
    assert len(os.listdir(run)) == 1
    assert {tag: [step for step, _, _ in points] for tag, points in as_tensorboard_shows(run).items()} == {
        tag: [step for step, _, _ in points] for tag, points in events.items()
    }
    for key, tag in COSTS.items():
        assert [step for step, _, _ in events[tag]] == [1, 2, 3, 4]
        assert {plugin for _, plugin, _ in events[tag]} == {"scalars"}
        written = [value.item() for _, _, value in events[tag]]
        # Keras' History, one entry per epoch = per step here: the same float32 values, bit for bit.
        assert written == [float(np.float32(value)) for value in history.history[key]]
        assert written == [recorder.logs[step][key] for step in (1, 2, 3, 4)]
    assert summary["loss"] == events["J"][-1][2].item()

    settings = settings_table(events)
    assert settings["style"] == [str(path) for path in styles] and settings["images"] == str(folder)
    assert settings["output"] == str(output) and settings["resumed_at"] is None
    assert (settings["steps"], settings["save_every"], settings["size"], settings["seed"]) == (4, 2, 32, 7)
    assert settings["tensorboard"] == str(logdir) and settings["preview_images"] is None
    # The default previews: the first four pictures of the training folder in the pipeline's sorted order.
    photos = sorted(str(path) for path in (folder / "nested").iterdir())[:4]
    assert settings["previews"] == photos

    shown = previews(events)
    assert sorted(shown) == [f"preview/{index:02d}-photo{index}" for index in range(4)]
    saved = load_fast_model(output)
    # The last step's weights are the saved model's.
    for a, b in zip(recorder.weights[4], saved.get_weights()):
        np.testing.assert_array_equal(a, b)
    for tag, path in zip(sorted(shown), photos):
        assert sorted(shown[tag]) == [0, 2, 4]  # the untrained network, every --save-every, the last step
        photo = load_pixels(path, max_size=32)
        assert max(photo.shape[:2]) == 32
        for step, strip in shown[tag].items():
            saved.set_weights(recorder.weights[step])
            expected = expected_strip(saved, photo, 2)
            assert strip.shape == expected.shape == (photo.shape[0], 3 * photo.shape[1], 3)
            # The photograph itself: exactly load_pixels' resize, rounded.
            np.testing.assert_array_equal(strip[:, : photo.shape[1]], expected[:, : photo.shape[1]])
            # The outputs: the same float32 network on the same picture; a value within float32 rounding of a .5
            # may round to the neighbouring grey level, no more.
            difference = np.abs(strip.astype(int) - expected)
            assert difference.max() <= 1 and np.mean(difference > 0) < 0.01, (tag, step, difference.max())
        # Training changed the outputs: the comparison is not of one picture with itself.
        assert np.abs(shown[tag][4].astype(int) - shown[tag][0])[:, photo.shape[1] :].max() > 1
    # The two styles' outputs differ: each column is its own style's.
    width = load_pixels(photos[0], max_size=32).shape[1]
    strip = shown[sorted(shown)[0]][4].astype(int)
    assert np.abs(strip[:, width : 2 * width] - strip[:, 2 * width :]).max() > 1


@pytest.mark.slow
def test_a_resumed_training_continues_the_runs_steps(folder, styles, tmp_path):
    logdir, output = tmp_path / "runs", tmp_path / "one.keras"
    settings = {**TOY, "steps": 6, "checkpoint_every": 2, "tensorboard": logdir}
    first = Recorder()
    # Interrupted after step 3: the checkpoint of step 2 is kept, the events of steps 1 to 3 too.
    with pytest.raises(KeyboardInterrupt):
        train_fast_model(styles[0], folder, output, weights=WEIGHTS, callbacks=[first, InterruptAfter(3)], **settings)
    run = run_folder(logdir)
    assert [step for step, _, _ in read_events(run)["J"]] == [1, 2, 3]
    second = Recorder()
    _, summary = train_fast_model(styles[0], folder, output, weights=WEIGHTS, callbacks=[second], **settings)
    assert summary["resumed_at"] == 2 and sorted(second.logs) == [3, 4, 5, 6]
    # The same run continued: a second event file in the same folder, its steps from the checkpoint's on.
    assert run_folder(logdir) == run and len(os.listdir(run)) == 2
    written = read_events(run)
    assert [step for step, _, _ in written["J"]] == [1, 2, 3, 3, 4, 5, 6]
    shown = as_tensorboard_shows(run)
    for key, tag in COSTS.items():
        assert [step for step, _, _ in shown[tag]] == [1, 2, 3, 4, 5, 6]
        values = [value.item() for _, _, value in shown[tag]]
        assert values == [first.logs[1][key], first.logs[2][key]] + [second.logs[s][key] for s in (3, 4, 5, 6)]
    # The settings of each part, at the step it started from.
    assert [step for step, _, _ in written["settings"]] == [0, 2]
    rows = dict((name.decode(), text.decode()) for name, text in written["settings"][1][2])
    assert rows["resumed_at"] == "2"
    # Previews: the untrained network at 0 (first part), the last step (second part).
    assert {step for points in previews(shown).values() for step in points} == {0, 6}


def test_only_the_chief_writes(folder, tmp_path):
    assert watch.is_chief(None) and watch.is_chief(tf.distribute.get_strategy())
    assert watch.is_chief(tf.distribute.OneDeviceStrategy("/cpu:0"))
    worker = types.SimpleNamespace(extended=types.SimpleNamespace(should_save_summary=False))
    assert not watch.is_chief(worker)
    # A board on a worker that is not the chief writes nothing, not even its folder.
    options = TrainOptions(size=32, tensorboard=str(tmp_path / "runs"), save_every=1).validate()
    photos = [("p.png", np.zeros((8, 8, 3), np.float32))]
    board = watch.TrainingBoard(options, photos, 1, {}, tmp_path / "m.keras", tmp_path / "work")
    iterations = keras.Variable(0, dtype="int64")
    board.set_model(types.SimpleNamespace(distribute_strategy=worker, optimizer=types.SimpleNamespace(
        iterations=iterations), net=None))  # fmt: skip
    board.on_train_begin()
    iterations.assign(1)
    board.on_train_batch_end(0, {"loss": 1.0, "content": 2.0, "style": 3.0, "tv": 4.0})
    board.on_epoch_end(0)
    board.on_train_end()
    assert not (tmp_path / "runs").exists() and not (tmp_path / "work").exists()


def test_watching_options_are_checked_and_left_out_of_the_settings(tmp_path):
    options = TrainOptions(tensorboard=str(tmp_path / "runs"), save_every=3, preview_images=str(tmp_path)).validate()
    # Where a training is watched is no part of what it trains: a resumed training may change it.
    assert not {"tensorboard", "save_every", "preview_images"} & set(options.settings())
    assert TrainOptions().validate().settings() == options.settings()
    (tmp_path / "file").write_text("x")
    bad = [
        ({"tensorboard": str(tmp_path / "file")}, "tensorboard .*file is a file; give a folder"),
        ({"tensorboard": ""}, "tensorboard must be a folder's path, got ''"),
        ({"save_every": 2}, "save_every needs tensorboard"),
        ({"tensorboard": "runs", "save_every": -1}, "save_every must be a whole number >= 0"),
        ({"preview_images": str(tmp_path)}, "preview_images needs tensorboard"),
        ({"tensorboard": "runs", "preview_images": str(tmp_path / "none")}, "preview_images .*none is not a folder"),
    ]
    for settings, message in bad:
        with pytest.raises(OptionError, match=message):
            TrainOptions(**settings).validate()


TRAIN = ["--weights", "random", "--size", "32", "--batch-size", "2", "--quiet"]


@pytest.fixture
def setup(tmp_path):
    photos = write_photo_folder(tmp_path / "photos", count=3)
    return tmp_path, photos, photos / "nested" / "photo0.png"


def test_train_command_writes_the_previews_of_the_held_out_photographs(setup, mat_file, capfd):
    tmp_path, photos, style = setup
    held_out = tmp_path / "held-out"
    held_out.mkdir()
    rng = np.random.default_rng(5)
    for name in ("b.png", "a.png"):
        iio.imwrite(held_out / name, rng.integers(0, 256, (20, 50, 3)).astype(np.uint8))
    logdir, model = tmp_path / "runs", tmp_path / "style.keras"
    argv = ["train", "--style", style, "--images", photos, "--output", model, "--steps", 2, "--checkpoint-every", 2]
    argv += ["--tensorboard", logdir, "--save-every", 1, "--preview-images", held_out, *TRAIN, "--weights", mat_file[0]]
    assert main([str(part) for part in argv]) == 0
    assert capfd.readouterr().err == ""
    run = run_folder(logdir)
    assert os.path.basename(run).startswith("style-")
    events = read_events(run)
    assert [step for step, _, _ in events["J"]] == [1, 2]
    shown = previews(events)
    assert sorted(shown) == ["preview/00-a", "preview/01-b"]  # the folder's pictures in sorted order
    saved = load_fast_model(model)
    for tag, name in zip(sorted(shown), ("a.png", "b.png")):
        assert sorted(shown[tag]) == [0, 1, 2]
        photo = load_pixels(held_out / name, max_size=32)
        assert photo.shape == (13, 32, 3)  # 20x50 resized so that the longest side is --size
        difference = np.abs(shown[tag][2].astype(int) - expected_strip(saved, photo, 1))
        assert difference.max() <= 1 and np.mean(difference > 0) < 0.01  # as above: rounding of a .5 at most
    assert settings_table(events)["previews"] == [str(held_out / "a.png"), str(held_out / "b.png")]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tensorboard", "{photos}/nested/photo1.png"], "--tensorboard .*photo1.png is a file; give a folder"),
        (["--tensorboard", ""], "--tensorboard must be a folder's path, got ''"),
        (["--tensorboard", "{tmp}/plain/runs"], "--tensorboard: .*plain is a file, so the folder .* cannot be made"),
        (["--tensorboard", "{tmp}/m.keras"], "--tensorboard .*m.keras and --output .*m.keras are one path"),
        (["--tensorboard", "{tmp}/m.train/runs"], "--tensorboard .*runs is inside --work-dir .*m.train, which is"),
        (["--save-every", "2"], "--save-every needs --tensorboard"),
        (["--tensorboard", "{tmp}/runs", "--save-every", "-1"], "--save-every must be a whole number >= 0"),
        (["--tensorboard", "{tmp}/runs", "--preview-images", "{tmp}/none"], "--preview-images .*none is not a folder"),
        (["--tensorboard", "{tmp}/runs", "--preview-images", "{tmp}/empty"], "--preview-images .*empty: no picture"),
        (["--tensorboard", "{tmp}/runs", "--preview-images", "{tmp}/many"], f"17 pictures; .*at most {PREVIEW_LIMIT}"),
        (["--tensorboard", "{tmp}/runs", "--preview-images", "{tmp}/broken"], "--preview-images .*broken: .*bad.png"),
    ],
)  # fmt: skip
def test_bad_watching_options_are_one_line_exit_2(setup, capfd, extra, message):
    tmp_path, photos, style = setup
    (tmp_path / "plain").write_text("a file")
    (tmp_path / "empty").mkdir()
    (tmp_path / "many").mkdir()
    for index in range(PREVIEW_LIMIT + 1):
        iio.imwrite(tmp_path / "many" / f"{index}.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "bad.png").write_text("not a picture")
    argv = ["train", "--style", str(style), "--images", str(photos), "--output", str(tmp_path / "m.keras")]
    argv += ["--steps", "1", *[part.format(photos=photos, tmp=tmp_path) for part in extra], *TRAIN]
    assert main(argv) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert not (tmp_path / "m.keras").exists() and not (tmp_path / "runs").exists()
