"""What writing a run for TensorBoard costs a step: the same run with and without --tensorboard, in alternating rounds.

Each round builds the same StyleTransfer (random VGG-19 weights of the real shapes, the same seed) and runs it; the
rounds alternate off, on, off, on, ... so that a change in the machine's load falls on both alike. Reported:

- per-step time, median over the steps of a round (the first step, which traces the step function, left out), then
  the median over the rounds of each kind; the overhead is on / off - 1;
- the time spent inside the TensorBoard callback itself (the scalars every step, the picture every save_every steps),
  per step, which is the overhead without the noise of the machine: callback time / off step time.

    python benchmarks/bench_tensorboard.py --max-size 128 --iterations 60 --rounds 3
"""

import argparse
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-size", type=int, default=128, help="the pictures' longest side")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--save-every", type=int, default=20, help="a picture every N steps (the article's 20)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind, alternating")
    arguments = parser.parse_args()

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
