"""What writing a run for TensorBoard costs a step: the same run with and without --tensorboard, in alternating rounds.

Each round builds the same StyleTransfer (random VGG-19 weights of the real shapes, the same seed) and runs it; the
rounds alternate off, on, off, on, ... so that a change in the machine's load falls on both alike. Reported:

- per-step time, median over the steps of a round (the first step, which traces the step function, left out), then
  the median over the rounds of each kind; the overhead is on / off - 1;
- the time spent inside the TensorBoard callback itself (the scalars every step, the picture every save_every steps),
  per step, which is the overhead without the noise of the machine: callback time / off step time.

    python benchmarks/bench_tensorboard.py --max-size 128 --iterations 60 --rounds 3

With --train, the same for `neural-style train`: train_fast_model with and without tensorboard= (random VGG-19
filters of the real shapes, synthetic photographs), alternating; per-step time from one batch's end to the next
(the first steps, which trace the step, left out), and the time inside the TensorBoard callback's per-step hook (the
scalars every step, the previews every --save-every steps) against the step without TensorBoard; the callback's
start (opening the run, the previews of the untrained network) and end (the last previews, closing) are reported
apart: they are paid once per training.

    python benchmarks/bench_tensorboard.py --train --size 64 --batch-size 2 --steps 30 --save-every 10 --rounds 2
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
from machine import cpu_name, write_results


def pictures(size):
    """A smooth content picture and a busy style picture of `size` (H, W), made here."""
    height, width = size
    y, x = np.mgrid[0:height, 0:width]
    content = np.stack([255 * x / width, 255 * y / height, 128 + 0 * x], -1).astype(np.float32)
    style = np.random.default_rng(0).integers(0, 256, (height, width, 3)).astype(np.float32)
    return content, style


def one_round(weights, content, style, arguments, logdir):
    """One run; returns (median step seconds, callback seconds per step or 0)."""
    from neural_style.stylize import StyleTransfer
    from neural_style.tensorboard import RunWriter, make_run_folder, watch_transfer

    transfer = StyleTransfer(
        content, style, weights=weights, iterations=arguments.iterations, save_every=arguments.save_every, seed=1
    )
    spent = [0.0]
    writer = None
    callback = None
    if logdir is not None:
        writer = RunWriter(make_run_folder(logdir, "bench"), {"iterations": arguments.iterations})
        watch = watch_transfer(writer, transfer)

        def callback(entry):
            start = time.perf_counter()
            watch(entry)
            spent[0] += time.perf_counter() - start

    try:
        _, history = transfer.run(callback=callback)
    finally:
        if writer is not None:
            writer.close()
    seconds = [entry["seconds"] for entry in history]
    steps = np.diff(seconds)  # step i's time: from the end of step i-1 to the end of step i, the callback included
    return float(np.median(steps)), spent[0] / len(history)


class _Timed:
    """Replaces methods of classes by ones that note each call's seconds in `calls[name]` (put back by restore)."""

    def __init__(self, methods):
        """
        Arguments:
        methods -- list of (class, method name)
        """
        self.saved = [(cls, name, getattr(cls, name)) for cls, name in methods]
        self.calls = {name: [] for _, name in methods}
        for cls, name, method in self.saved:
            setattr(cls, name, self._wrap(name, method))

    def _wrap(self, name, method):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls[name].append(time.perf_counter() - start)

        return timed

    def restore(self):
        for cls, name, method in self.saved:
            setattr(cls, name, method)


def training_photos(folder, count=8):
    """`count` synthetic photographs of 80x96 in `folder`, smooth gradients with noise."""
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    for index in range(count):
        y, x = np.mgrid[0:80, 0:96]
        picture = np.stack([x * 2 + index * 20, y * 3, (x + y) * 1.5], axis=-1) % 256 + rng.integers(0, 30, (80, 96, 3))
        iio.imwrite(f"{folder}/photo{index}.png", picture.clip(0, 255).astype(np.uint8))


def train_round(weights, folder, arguments, logdir, skip=3):
    """
    One training; returns its step time and, with TensorBoard, what its callback cost.

    Returns:
    step -- median seconds between consecutive batch ends (the first `skip` steps, which trace the step, left out)
    costs -- None, or dict: per_step (the callback's per-step hook, all its calls / steps: the scalars, the previews
             every save_every, the first call's tracing of the compiled scalar writer), steady (median of the hook's
             calls that wrote no preview), scalars (median seconds of write_costs), preview (median seconds of one
             round of previews after the first), once (the start and end hooks: opening, the first and last
             previews, closing), first (the hook's first call), first_preview (the first round of previews: the
             tracing of the compiled forward pass)
    """
    import keras

    from neural_style.fast import watch
    from neural_style.fast.train import train_fast_model
    from neural_style.tensorboard import RunWriter

    ends = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    board = watch.TrainingBoard
    timed = _Timed(
        [(board, "on_train_begin"), (board, "on_train_batch_end"), (board, "on_train_end"), (board, "preview")]
        + [(RunWriter, "write_costs")]
    )
    style = f"{folder}/photos/photo0.png"
    output = f"{folder}/model-{time.perf_counter_ns()}.keras"
    try:
        train_fast_model(
            style, f"{folder}/photos", output, weights=weights, steps=arguments.steps, size=arguments.size,
            batch_size=arguments.batch_size, seed=1, callbacks=[Clock()], tensorboard=logdir,
            save_every=arguments.save_every if logdir else 0,
        )  # fmt: skip
    finally:
        timed.restore()
    step = float(np.median(np.diff(ends)[skip:]))
    if logdir is None:
        return step, None
    calls = timed.calls
    hooks = calls["on_train_batch_end"]
    previewing = {
        index for index in range(len(hooks)) if arguments.save_every and (index + 1) % arguments.save_every == 0
    }
    costs = {
        "per_step": sum(hooks) / len(hooks),
        "steady": float(np.median([seconds for index, seconds in enumerate(hooks) if index not in previewing])),
        "scalars": float(np.median(calls["write_costs"])),
        # The first round of previews (step 0) traces the compiled forward pass: a cost paid once, reported apart.
        "preview": float(np.median(calls["preview"][1:] or calls["preview"])),
        "first_preview": calls["preview"][0],
        "once": sum(calls["on_train_begin"]) + sum(calls["on_train_end"]),
        "first": hooks[0],
    }
    return step, costs


def main_train(arguments):
    """The --train measurement."""
    from neural_style.weights import random_vgg_weights

    weights = random_vgg_weights(seed=0)
    off, on, costs = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        os.mkdir(f"{folder}/photos")
        training_photos(f"{folder}/photos")
        for index in range(2 * arguments.rounds):
            watching = index % 2 == 1
            step, cost = train_round(weights, folder, arguments, f"{folder}/runs" if watching else None)
            (on if watching else off).append(step)
            if watching:
                costs.append(cost)
            print(f"round {index}: tensorboard {'on ' if watching else 'off'} {step * 1e3:.2f} ms/step", flush=True)
    off_step, on_step = statistics.median(off), statistics.median(on)
    cost = {name: statistics.median(round_[name] for round_ in costs) for name in costs[0]}
    long_run = cost["steady"] + (cost["preview"] / arguments.save_every if arguments.save_every else 0.0)
    results = {
        "cpu": cpu_name(),
        "command": "train",
        "size": arguments.size,
        "batch_size": arguments.batch_size,
        "steps": arguments.steps,
        "save_every": arguments.save_every,
        "rounds": arguments.rounds,
        "off_ms_per_step_rounds": [value * 1e3 for value in off],
        "on_ms_per_step_rounds": [value * 1e3 for value in on],
        "off_ms_per_step": off_step * 1e3,
        "on_ms_per_step": on_step * 1e3,
        "overhead_percent": 100 * (on_step / off_step - 1),
        "callback_ms_per_step_rounds": [round_["per_step"] * 1e3 for round_ in costs],
        "callback_ms_per_step": cost["per_step"] * 1e3,
        "callback_percent_of_step": 100 * cost["per_step"] / off_step,
        "callback_steady_ms_per_step": cost["steady"] * 1e3,
        "scalars_ms": cost["scalars"] * 1e3,
        "previews_ms": cost["preview"] * 1e3,
        "previews_percent_of_step_amortised": 100 * cost["preview"] / (arguments.save_every or 1) / off_step,
        # What a long training pays a step: the steady hook (the scalars) and a round of previews every save_every
        # steps; the first hook call (the scalar writer's tracing) and the start and end are paid once a training.
        "long_run_ms_per_step": long_run * 1e3,
        "long_run_percent_of_step": 100 * long_run / off_step,
        "first_hook_call_ms": cost["first"] * 1e3,
        "first_previews_ms": cost["first_preview"] * 1e3,
        "callback_start_and_end_ms": cost["once"] * 1e3,
    }
    for name, value in results.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
    print("wrote", write_results("bench_tensorboard_train", results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-size", type=int, default=128, help="the pictures' longest side")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--save-every", type=int, default=20, help="a picture every N steps (the article's 20)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind, alternating")
    parser.add_argument("--train", action="store_true", help="measure `neural-style train` instead of the main job")
    parser.add_argument("--size", type=int, default=64, help="--train: the crops' side")
    parser.add_argument("--batch-size", type=int, default=2, help="--train: pictures per step")
    parser.add_argument("--steps", type=int, default=30, help="--train: steps per round")
    arguments = parser.parse_args()
    if arguments.train:
        main_train(arguments)
        return

    from neural_style.weights import random_vgg_weights

    size = (arguments.max_size * 3 // 4, arguments.max_size)
    content, style = pictures(size)
    weights = random_vgg_weights(seed=0)
    off, on, callback = [], [], []
    with tempfile.TemporaryDirectory() as logdir:
        for index in range(2 * arguments.rounds):
            watching = index % 2 == 1
            step, spent = one_round(weights, content, style, arguments, logdir if watching else None)
            (on if watching else off).append(step)
            if watching:
                callback.append(spent)
            print(f"round {index}: tensorboard {'on ' if watching else 'off'} {step * 1e3:.2f} ms/step", flush=True)
    off_step, on_step, spent = statistics.median(off), statistics.median(on), statistics.median(callback)
    results = {
        "cpu": cpu_name(),
        "size": list(size),
        "iterations": arguments.iterations,
        "save_every": arguments.save_every,
        "rounds": arguments.rounds,
        "off_ms_per_step": off_step * 1e3,
        "on_ms_per_step": on_step * 1e3,
        "overhead_percent": 100 * (on_step / off_step - 1),
        "callback_ms_per_step": spent * 1e3,
        "callback_percent_of_step": 100 * spent / off_step,
    }
    for name, value in results.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
    print("wrote", write_results("bench_tensorboard", results))


if __name__ == "__main__":
    main()
