"""One compiled step per picture size, shared by the jobs of a batch and the frames of a video
(shared_steps.SharedSteps).

The shared step reads the same values (the targets from variables instead of constants) through the same operations
in the same order: no operation folds a target with another constant, so the arithmetic, and every pixel, is the
same as a lone run's. The comparisons are therefore exact.
"""

import numpy as np
import pytest
import tensorflow as tf

from neural_style.batch.jobs import Job
from neural_style.batch.workers import Worker
from neural_style.optimize import StyleTransferCost
from neural_style.options import StyleOptions
from neural_style.shared_steps import SharedSteps
from neural_style.stylize import StyleTransfer
from neural_style.video import TemporalCost
from neural_style.video.transfer import FrameStyleTransfer

HEIGHT, WIDTH = 24, 32


def pictures(count, seed=0, shape=(HEIGHT, WIDTH)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*shape, 3)).astype(np.float32) for _ in range(count)]


def options(weights, **fields):
    return StyleOptions(**{"weights": weights, "height": HEIGHT, "width": WIDTH, "iterations": 3, **fields})


def tracing_counts(steps):
    return [shared.step.experimental_get_tracing_count() for shared in steps._steps.values()]


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_jobs_through_one_shared_step_give_each_job_s_own_pixels_and_costs(weights, optimizer):
    images = pictures(4)
    steps = SharedSteps()
    # Per-picture options (seed, init) differ between the jobs; they share the step.
    jobs = [(0, 1, {"seed": 1}), (2, 3, {"seed": 2, "init": "content"}), (1, 0, {"seed": 3})]
    for content, style, fields in jobs:
        settings = options(weights, optimizer=optimizer, **fields)
        shared, shared_history = StyleTransfer(images[content], [images[style]], settings, steps=steps).run()
        alone, alone_history = StyleTransfer(images[content], [images[style]], settings).run()
        np.testing.assert_array_equal(shared, alone)
        assert [entry["J"] for entry in shared_history] == [entry["J"] for entry in alone_history]
    assert len(steps) == 1


def test_the_step_is_traced_once_for_many_jobs_of_one_size_and_once_more_per_size_or_graph_setting(weights):
    images = pictures(3)
    steps = SharedSteps()
    for k in range(4):
        StyleTransfer(images[k % 3], [images[(k + 1) % 3]], options(weights, seed=k), steps=steps).run()
    assert tracing_counts(steps) == [1]
    # Another size, and another alpha (a constant of the graph), each make one more step, traced once.
    StyleTransfer(images[0], [images[1]], options(weights, seed=0, width=40), steps=steps).run()
    StyleTransfer(images[0], [images[1]], options(weights, seed=0, alpha=20.0), steps=steps).run()
    assert tracing_counts(steps) == [1, 1, 1]
    # The first size's step still holds: a fifth job of it traces nothing.
    StyleTransfer(images[2], [images[0]], options(weights, seed=5), steps=steps).run()
    assert tracing_counts(steps) == [1, 1, 1]


def test_a_worker_traces_one_step_for_a_batch_of_one_size(weights, tmp_path):
    import imageio.v3 as iio

    paths = []
    for k, image in enumerate(pictures(3, seed=2)):
        paths.append(str(tmp_path / f"{k}.png"))
        iio.imwrite(paths[-1], image.astype(np.uint8))
    worker = Worker(options(weights, iterations=2))
    for k in range(4):
        result = worker.run(Job(paths[k % 3], (paths[(k + 1) % 3],), str(tmp_path / f"out{k}.jpg")))
        assert result.status == "done", result.error
    assert tracing_counts(worker.steps) == [1]


def test_video_frames_share_one_step_for_the_first_frame_and_one_for_the_others(weights):
    frames = pictures(4, seed=3)
    style = pictures(1, seed=4)[0]
    mask = np.random.default_rng(5).uniform(size=(HEIGHT, WIDTH)).astype(np.float32)
    steps = SharedSteps()
    settings = options(weights, seed=1)
    for index, frame in enumerate(frames):
        temporal = None if index == 0 else (frames[index - 1], mask * index / 4, 100.0)
        shared, _ = FrameStyleTransfer(frame, [style], settings, temporal=temporal, steps=steps).run()
        alone, _ = FrameStyleTransfer(frame, [style], settings, temporal=temporal).run()
        np.testing.assert_array_equal(shared, alone)
    assert tracing_counts(steps) == [1, 1]


def test_a_held_cost_given_another_picture_s_targets_is_that_picture_s_cost(small_model):
    rng = np.random.default_rng(6)
    images = [rng.normal(0, 40, (1, HEIGHT, WIDTH, 3)).astype(np.float32) for _ in range(5)]
    masks = [rng.uniform(size=(HEIGHT, WIDTH)).astype(np.float32) for _ in range(2)]
    held = TemporalCost(StyleTransferCost(small_model, images[0], images[1]), images[2], masks[0], 3.0)
    held.hold_targets()
    assert all(isinstance(target, tf.Variable) for target in held.targets())
    other = TemporalCost(StyleTransferCost(small_model, images[1], images[3]), images[4], masks[1], 3.0)
    held.assign_targets(other)
    generated = images[2]
    # The same values through the same operations: equal to the last bit.
    assert held.terms(generated).floats() == other.terms(generated).floats()


class _Cost:
    """A stand-in cost: only what SharedSteps.step asks of one."""

    def __init__(self, value):
        self.value = value

    def hold_targets(self):
        self.value = tf.Variable(self.value)

    def assign_targets(self, other):
        self.value.assign(other.value)


def test_shared_steps_keep_only_the_most_recent_sizes():
    steps = SharedSteps(max_sizes=2)
    image = np.zeros((1, 2, 2, 3), np.float32)
    first = steps.step("a", _Cost(1.0), image)
    steps.step("b", _Cost(2.0), image)
    assert steps.step("a", _Cost(3.0), image) is first and float(first.cost.value) == 3.0
    steps.step("c", _Cost(4.0), image)  # "b" is the least recently used: dropped
    assert len(steps) == 2 and set(steps._steps) == {"a", "c"}
    # A step taken again starts afresh: its best image has no cost.
    first.best.cost.assign(5.0)
    steps.step("a", _Cost(6.0), image + 1)
    assert float(first.best.cost) == np.inf and np.all(first.image.numpy() == 1)
