"""Checkpoints: the settings fingerprint and what a resume may change (field metadata), saving and resuming a run."""

import dataclasses
import hashlib
import json
import os

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style.checkpoint import (
    CHECKPOINT_FILE,
    IMAGE_FILE,
    CheckpointError,
    RunState,
    differences,
    digest,
    load_checkpoint,
    load_run,
    may_change_on_resume,
    save_checkpoint,
    save_run,
    settings_fingerprint,
    weights_digest,
)
from neural_style.images import image_to_uint8
from neural_style.options import OptionError, StyleOptions
from tests.transfers import HEIGHT, MAY_CHANGE_ON_RESUME, WIDTH, pictures, transfer

# The options a resumed run may change, as options.py marks them: they only make the first image (which the
# checkpoint replaces), say where things are written, or are checked in another form (weights, size); the tiles, the
# memory budget and the bit depth do not change the costs or the steps, only the memory and how the result is written.
# Another value for every option, each different from the validated default's.
OTHER_VALUES = {
    "weights": "other-weights.mat",
    "height": 20,
    "width": 28,
    "max_size": 100,
    "iterations": 12,
    "content_layer": "conv5_2",
    "style_layers": [("conv1_1", 1.0)],
    "alpha": 5.0,
    "beta": 7.0,
    "learning_rate": 1.0,
    "noise_ratio": 0.2,
    "pooling": "max",
    "seed": 9,
    "save_every": 5,
    "output_dir": "elsewhere",
    "jit_compile": True,
    "precision": "bfloat16",
    "optimizer": "lbfgs",
    "init": "content",
    "checkpoint_every": 4,
    "resume": "old-run",
    "scales": (0.5, 1.0),
    "preset": "gatys",
    "image_range": "unit",
    "content_cost": "gatys",
    "clip": True,
    "tv_weight": 0.5,
    "style_blend": (0.7, 0.3),
    "style_scale": 2.0,
    "preserve_colors": True,
    "color_match": True,
    "style_layer_weights": ("decay", 4.0),
    "style_loss": "w2",
    "content_mask": "mask.png",
    "style_masks": ["where.png"],
    "style_source_masks": ["from.png"],
    "stretch_masks": True,
    "tile_size": 96,
    "max_memory": 4.0,
    "min_size": 64,
    "average": 0.99,
    "bit_depth": 16,
    "tensorboard": "runs",
}


def fingerprint(options, weights, size=(HEIGHT, WIDTH), content=None, styles=None):
    content_pixels, style_pixels = pictures()
    return settings_fingerprint(
        options,
        size,
        weights,
        content_pixels if content is None else content,
        [style_pixels] if styles is None else styles,
    )


# What a resume may change: a property of the option


def test_may_change_on_resume_reads_the_field_metadata():
    @dataclasses.dataclass
    class Options:
        kept: int = 1
        free: int = dataclasses.field(default=2, metadata={"resume": "may_change"})
        other: int = dataclasses.field(default=3, metadata={"resume": "checked", "flag": "--other"})

    assert may_change_on_resume(Options) == {"free"}
    assert may_change_on_resume(Options()) == {"free"}
    assert may_change_on_resume(StyleOptions) == MAY_CHANGE_ON_RESUME


def test_fingerprint_ignores_exactly_the_options_that_may_change(weights):
    names = {field.name for field in dataclasses.fields(StyleOptions)}
    assert set(OTHER_VALUES) == names, "every option needs another value here"
    base = StyleOptions(weights="vgg.mat").validate()
    settings = fingerprint(base, weights)
    assert json.loads(json.dumps(settings)) == settings  # JSON values, as the checkpoint stores them
    for name, value in OTHER_VALUES.items():
        assert getattr(base, name) != value
        changed = differences(settings, fingerprint(dataclasses.replace(base, **{name: value}), weights))
        if name in may_change_on_resume(StyleOptions):
            assert changed == [], name
        else:
            assert len(changed) == 1 and changed[0].startswith(name.replace("_", "-") + ": "), (name, changed)


def test_fingerprint_holds_the_size_and_digests_of_the_weights_and_pixels(weights):
    from neural_style.weights import random_vgg_weights

    options = StyleOptions(weights="vgg.mat").validate()
    settings = fingerprint(options, weights)
    content, style = pictures()
    assert settings["size"] == f"{HEIGHT}x{WIDTH}"
    assert settings["content image"] == digest([content]) and settings["style image"] == digest([style])
    # The same pixels in new arrays: the same run.
    assert differences(settings, fingerprint(options, weights, content=content.copy(), styles=[style.copy()])) == []
    assert differences(settings, fingerprint(options, weights, size=(20, 28))) == ['size: "24x32" there, "20x28" here']
    other_weights = random_vgg_weights(seed=5, width_divisor=16)
    assert differences(settings, fingerprint(options, other_weights)) == ["weights: different"]
    brighter = content + 1
    assert differences(settings, fingerprint(options, weights, content=brighter)) == ["content image: different"]
    assert differences(settings, fingerprint(options, weights, styles=[style, style])) == ["style image: different"]
    # The masks' pixels, when a run has masks: an edited mask file is another run.
    mask = np.zeros((HEIGHT, WIDTH), np.float32)
    masked = settings_fingerprint(options, (HEIGHT, WIDTH), weights, content, [style], masks=[mask])
    assert masked["masks"] == digest([mask]) and "masks" not in settings
    edited = settings_fingerprint(options, (HEIGHT, WIDTH), weights, content, [style], masks=[mask + 1])
    assert differences(masked, edited) == ["masks: different"]


def test_digest_is_sha256_of_dtype_shape_and_bytes():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    expected = hashlib.sha256(b"float32(2, 3)" + array.tobytes()).hexdigest()
    assert digest(array) == digest([array]) == "sha256:" + expected
    assert digest(array.T) == digest(np.ascontiguousarray(array.T))  # the pixels, not their layout in memory
    assert digest(array.reshape(3, 2)) != digest(array)
    assert digest(array.astype(np.float64)) != digest(array)


def test_weights_digest_is_the_filters_digest_computed_once_per_weights(monkeypatch):
    from neural_style import checkpoint
    from neural_style.weights import random_vgg_weights

    fresh = random_vgg_weights(seed=7, width_divisor=16)
    expected = hashlib.sha256()
    for name in sorted(fresh.layers):
        for array in fresh.layers[name]:
            expected.update(f"{array.dtype}{array.shape}".encode() + np.ascontiguousarray(array).tobytes())
    hashed = []
    monkeypatch.setattr(checkpoint, "digest", lambda arrays: hashed.append(len(arrays)) or digest(arrays))
    assert weights_digest(fresh) == weights_digest(fresh) == "sha256:" + expected.hexdigest()
    assert hashed == [2 * len(fresh.layers)]  # the filters hashed once, the second answer remembered
    copy = dataclasses.replace(fresh)  # another VGGWeights with the same filters: hashed again, the same digest
    assert weights_digest(copy) == weights_digest(fresh) and len(hashed) == 2 and copy == fresh


def test_runs_sharing_loaded_weights_hash_the_filters_once(monkeypatch):
    from neural_style import checkpoint
    from neural_style.weights import random_vgg_weights

    shared = random_vgg_weights(seed=8, width_divisor=16)
    hashed = []
    monkeypatch.setattr(checkpoint, "digest", lambda arrays: hashed.append(len(arrays)) or digest(arrays))
    runs = [transfer(shared, iterations=1, seed=seed) for seed in (1, 2)]
    first, second = (run.settings() for run in runs)
    assert first == second and first["weights"] == weights_digest(shared)
    assert hashed == [2 * len(shared.layers), 1, 1, 1, 1]  # the weights once, then each run's content and style
    # The model's own copy of the filters has the same digest: a checkpoint resumes whichever way the weights came.
    assert weights_digest(runs[0].model.weights) == first["weights"]


# Saving and resuming a run's state


def run_state(seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(1, 4, 6, 3)).astype(np.float32)
    return RunState(
        image=image,
        best_image=image + 1,
        best_cost=np.float32(12.5),
        optimizer_variables=["adam/iteration", "adam/learning_rate", "adam/m", "adam/v"],
        optimizer_state=[np.int64(3), np.float32(2.0), image * 0.1, image**2],
        scale_index=1,
        evaluations=7,
        history=[{"iteration": 0, "J": 20.0}, {"iteration": 1, "J": 15.0}, {"iteration": 2, "J": 12.5}],
        settings={"alpha": 10.0, "weights": "sha256:ab"},
    )


def test_save_run_and_load_run_keep_the_average_of_the_iterates(tmp_path):
    state = dataclasses.replace(run_state(), average_total=np.full((1, 4, 6, 3), 0.25), average_count=5)
    save_run(tmp_path, state)
    assert "average" in load_checkpoint(tmp_path)[1]
    loaded = load_run(tmp_path, state.settings)
    np.testing.assert_array_equal(loaded.average_total, state.average_total)
    assert loaded.average_count == 5
    assert run_state().average_total is None  # no average: nothing saved, nothing loaded
    save_run(tmp_path, run_state())
    assert load_run(tmp_path, state.settings).average_total is None


def test_save_run_and_load_run_give_back_the_same_state(tmp_path):
    state = run_state()
    picture = np.full((4, 6, 3), 7, np.uint8)
    path = save_run(tmp_path, state, picture)
    assert path == os.path.join(tmp_path, CHECKPOINT_FILE)
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_FILE, IMAGE_FILE]  # nothing half-written left
    np.testing.assert_array_equal(iio.imread(tmp_path / IMAGE_FILE), picture)
    # The file's form: the JSON state and the arrays by name.
    saved, arrays = load_checkpoint(tmp_path)
    assert saved["iteration"] == 3 and saved["optimizer_variables"] == state.optimizer_variables
    assert sorted(arrays) == ["best_cost", "best_image", "image"] + [f"optimizer_{k}" for k in range(4)]
    loaded = load_run(tmp_path, state.settings)
    for field in dataclasses.fields(RunState):
        here, there = getattr(loaded, field.name), getattr(state, field.name)
        if field.name == "optimizer_state":
            assert len(here) == len(there)
            for a, b in zip(here, there):
                np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_array_equal(here, there)


def test_load_run_refuses_another_runs_checkpoint_naming_what_differs(tmp_path):
    state = run_state()
    save_run(tmp_path, state)
    with pytest.raises(CheckpointError) as error:
        load_run(tmp_path, {"alpha": 5.0, "weights": "sha256:cd"})
    message = str(error.value)
    assert "alpha: 10.0 there, 5.0 here; weights: different" in message and "\n" not in message


@pytest.mark.parametrize(
    "missing, problem",
    [
        ("best_image", r"'best_image' is not a \(1, H, W, 3\) float image"),
        ("optimizer_2", r"its optimizer arrays \['optimizer_0', 'optimizer_1', 'optimizer_3'\] do not match its 4 .*"),
    ],
)
def test_load_run_says_a_checkpoint_is_damaged(tmp_path, missing, problem):
    state = run_state()
    save_run(tmp_path, state)
    saved, arrays = load_checkpoint(tmp_path)
    del arrays[missing]
    save_checkpoint(tmp_path, saved, arrays)
    # load_run reads through load_checkpoint, which checks every member (checkpoint.check_contents).
    with pytest.raises(CheckpointError, match=f"{problem}; the checkpoint is damaged"):
        load_run(tmp_path, state.settings)


# A StyleTransfer stopped and resumed (--checkpoint-every, --resume)


class Stop(Exception):
    pass


def interrupted(weights, folder, stop_at, **options):
    """A run with checkpoints that stops (as on Ctrl-C) after iteration `stop_at`."""

    def stop(entry):
        if entry["iteration"] == stop_at:
            raise Stop

    run = transfer(weights, checkpoint_every=options.pop("checkpoint_every", 3), output_dir=str(folder), **options)
    with pytest.raises(Stop):
        run.run(callback=stop)
    return run


@pytest.mark.parametrize("scales", [(1.0,), (0.5, 1.0)])
def test_resumed_adam_run_equals_an_uninterrupted_one(weights, tmp_path, scales):
    whole_run = transfer(weights, iterations=8, scales=scales)
    whole, whole_history = whole_run.run()
    # scales (0.5, 1): 4 iterations each; stopping at 6 resumes from the checkpoint after iteration 5 (done = 6),
    # stopping at 4 (with checkpoints every 4) from the end of the first scale.
    for every, stop_at in [(3, 6), (4, 4)]:
        folder = tmp_path / f"run-{every}"
        interrupted(weights, folder, stop_at, iterations=8, scales=scales, checkpoint_every=every)
        state, _ = load_checkpoint(folder)
        assert state["iteration"] == (stop_at // every) * every
        resumed = transfer(weights, iterations=8, scales=scales, resume=str(folder))
        assert len(resumed.history) == state["iteration"]
        result, history = resumed.run()
        np.testing.assert_array_equal(result, whole)
        # The same float32 operations on the same values in one process: bit for bit (as the costs above).
        np.testing.assert_array_equal(resumed.best_image.numpy(), whole_run.best_image.numpy())
        assert [entry["J"] for entry in history] == [entry["J"] for entry in whole_history]
        assert [entry["iteration"] for entry in history] == list(range(8))


def test_checkpoint_holds_image_state_history_and_settings(weights, tmp_path):
    run = interrupted(weights, tmp_path, 4, iterations=10, checkpoint_every=2)
    state, arrays = load_checkpoint(tmp_path)
    assert state["iteration"] == 4 and len(state["history"]) == 4
    assert [entry["J"] for entry in state["history"]] == [entry["J"] for entry in run.history[:4]]
    assert state["settings"]["optimizer"] == "adam" and state["settings"]["size"] == f"{HEIGHT}x{WIDTH}"
    # Adam's state: its iteration count is the steps taken, its moments have the image's shape.
    assert state["optimizer_variables"][0].endswith("iteration") and int(arrays["optimizer_0"]) == 4
    assert arrays["optimizer_2"].shape == arrays["image"].shape == (1, HEIGHT, WIDTH, 3)
    picture = iio.imread(tmp_path / IMAGE_FILE)
    np.testing.assert_array_equal(picture, image_to_uint8(arrays["best_image"]))
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_FILE, IMAGE_FILE]  # nothing half-written left


def test_resumed_lbfgs_run_restarts_from_the_image_and_counts_on(weights, tmp_path):
    interrupted(weights, tmp_path, 4, iterations=8, optimizer="lbfgs", checkpoint_every=2)
    state, arrays = load_checkpoint(tmp_path)
    resumed = transfer(weights, iterations=8, optimizer="lbfgs", resume=str(tmp_path))
    np.testing.assert_array_equal(resumed.image.numpy(), arrays["image"])
    _, history = resumed.run()
    assert [entry["iteration"] for entry in history] == list(range(8))
    costs = [entry["J"] for entry in history]
    assert all(b <= a for a, b in zip(costs, costs[1:]))  # still descending across the restart
    evaluations = [entry["evaluations"] for entry in history]
    assert evaluations[4] > state["evaluations"] and evaluations == sorted(evaluations)


@pytest.mark.parametrize(
    "change, named",
    [
        ({"height": 20}, "size"),
        ({"style_layers": [("conv1_1", 1.0)]}, "style-layers"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"alpha": 5.0}, "alpha"),
        ({"iterations": 12}, "iterations"),
    ],
)
def test_resuming_another_runs_checkpoint_names_what_differs(weights, tmp_path, change, named):
    interrupted(weights, tmp_path, 2, iterations=10)
    options = {"iterations": 10, **change}
    with pytest.raises(OptionError) as error:
        transfer(weights, resume=str(tmp_path), **options)
    message = str(error.value)
    assert "\n" not in message and "--resume" in message and f"{named}:" in message


def test_resuming_with_other_weights_names_the_weights(weights, tmp_path):
    from neural_style.weights import random_vgg_weights

    interrupted(weights, tmp_path, 2, iterations=10)
    with pytest.raises(OptionError, match="weights: different"):
        transfer(random_vgg_weights(seed=5, width_divisor=16), iterations=10, resume=str(tmp_path))


def test_resume_and_checkpoint_errors(weights, tmp_path):
    with pytest.raises(OptionError, match="no checkpoint.npz"):
        transfer(weights, resume=str(tmp_path))
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(OptionError, match="not a neural-style checkpoint"):
        transfer(weights, resume=str(tmp_path))
    with pytest.raises(OptionError, match="checkpoint_every needs output_dir"):
        transfer(weights, checkpoint_every=5)  # no output_dir
    with pytest.raises(OptionError, match="checkpoint_every must be a whole number >= 0"):
        transfer(weights, checkpoint_every=-1, output_dir=str(tmp_path))


def test_a_resume_may_change_the_options_marked_so(weights, tmp_path):
    whole, whole_history = transfer(weights, iterations=6).run()
    interrupted(weights, tmp_path / "first", 3, iterations=6, checkpoint_every=2)
    # Another start (init, seed, noise ratio), other outputs and checkpoints: the checkpoint's image and state win.
    resumed = transfer(
        weights,
        iterations=6,
        resume=str(tmp_path / "first"),
        init="content",
        seed=9,
        noise_ratio=0.2,
        save_every=2,
        output_dir=str(tmp_path / "second"),
        checkpoint_every=3,
    )
    result, history = resumed.run()
    np.testing.assert_array_equal(result, whole)
    assert [entry["J"] for entry in history] == [entry["J"] for entry in whole_history]
    # Resumed at iteration 4 (the checkpoint after iteration 3): saves every 2 and a checkpoint after iteration 5.
    assert sorted(os.listdir(tmp_path / "second")) == ["4.png", CHECKPOINT_FILE, IMAGE_FILE]
    assert load_checkpoint(tmp_path / "second")[0]["iteration"] == 6


def test_a_checkpoint_that_does_not_fit_the_run_is_damaged(weights, tmp_path):
    interrupted(weights, tmp_path, 2, iterations=10)
    saved, arrays = load_checkpoint(tmp_path)
    arrays["image"] = arrays["image"][:, :-1]
    save_checkpoint(tmp_path, saved, arrays)
    with pytest.raises(
        OptionError, match=r"^--resume .*: 'image' \(1, \d+, \d+, 3\) and 'best_image' .* differ in shape"
    ):
        transfer(weights, iterations=10, resume=str(tmp_path))
    saved["scale_index"] = 3
    arrays["image"] = arrays["best_image"]
    save_checkpoint(tmp_path, saved, arrays)
    with pytest.raises(OptionError, match=r"a damaged checkpoint \(IndexError: "):
        transfer(weights, iterations=10, resume=str(tmp_path))
