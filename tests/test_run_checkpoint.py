"""What StyleTransfer saves of its run and takes back (run_checkpoint), apart from a whole run (test_checkpoint.py)."""

import numpy as np
import pytest
import tensorflow as tf

from neural_style.checkpoint import CheckpointError, digest, settings_fingerprint
from neural_style.optimize import BestImage, IterateAverage
from neural_style.options import OptionError, StyleOptions
from neural_style.run_checkpoint import capture_run, restore_run, resume_errors
from neural_style.weights import random_vgg_weights


def test_resume_errors_are_one_option_error_naming_the_checkpoint():
    with pytest.raises(OptionError, match=r"^--resume run: no checkpoint here$"):
        with resume_errors("run"):
            raise CheckpointError("no checkpoint here")
    with pytest.raises(OptionError, match=r"^--resume run: a damaged checkpoint \(IndexError: list index"):
        with resume_errors("run"):
            [][0]
    with resume_errors("run"):
        pass  # nothing wrong: nothing raised


def test_a_captured_run_is_restored_into_another():
    rng = np.random.default_rng(0)
    image = tf.Variable(rng.normal(size=(1, 4, 5, 3)).astype(np.float32))
    best = BestImage(image)
    best.offer(image + 1, 2.5)
    average = IterateAverage(0.9)
    average.update(image.numpy())
    optimizer = tf.keras.optimizers.Adam(1.0)
    optimizer.build([image])
    state = capture_run(image, best, optimizer, 1, 7, [{"J": 3.0}], {"size": "4x5"}, average)
    assert state.optimizer_variables == [variable.path for variable in optimizer.variables]
    assert (state.scale_index, state.evaluations, state.iteration, state.average_count) == (1, 7, 1, 1)

    other_image = tf.Variable(np.zeros((1, 4, 5, 3), np.float32))
    other_best, other_average = BestImage(other_image), IterateAverage(0.9)
    restore_run(state, other_image, other_best, other_average)
    np.testing.assert_array_equal(other_image.numpy(), image.numpy())
    np.testing.assert_array_equal(other_best.image.numpy(), image.numpy() + 1)
    assert float(other_best.cost) == 2.5
    np.testing.assert_array_equal(other_average.total, average.total)
    assert other_average.count == 1
    assert capture_run(image, best, None, 0, 0, [], {}).optimizer_state == []


def test_a_clip_s_settings_digest_its_frames_together_and_keep_the_options_that_start_a_frame():
    weights = random_vgg_weights(seed=1, width_divisor=16)
    options = StyleOptions(weights=weights, height=4, width=5, seed=3).validate(style_count=1)
    frames = [np.full((4, 5, 3), k, np.float32) for k in range(3)]
    style = [np.zeros((4, 5, 3), np.float32)]
    settings = settings_fingerprint(options, (4, 5), weights, frames, style, kept=("seed", "init"))
    assert settings["content image"] == digest(frames)
    assert list(settings)[-2:] == ["seed", "init"] and settings["seed"] == 3
    files = [["/clip.mp4", 10, 1.5]]
    assert settings_fingerprint(options, (4, 5), weights, files, style)["content image"] == files
    assert "seed" not in settings_fingerprint(options, (4, 5), weights, frames[0], style)
