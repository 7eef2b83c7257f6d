"""The fast network against the optimisation, on this machine: seconds and peak memory of one forward pass at
300x400 and 1080x1920, of the tiled apply at 3000x4000, the optimisation's 200 Adam steps at 300x400 (timed over a
few steps), and training throughput at 256x256, batch 4.

    python benchmarks/bench_fast.py [--only apply,optimise,tiled,large,train]

Each size runs in a child process, so that its peak memory (ru_maxrss) is its own. Random filters: the time of a
convolution does not depend on its weights.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.machine import cpu_name, write_results  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import numpy as np
from neural_style.fast.apply import stylize_picture
from neural_style.fast.network import build_transform_net
height, width, tile, repeats = map(int, sys.argv[1:5])
model = build_transform_net(seed=0)
picture = np.random.default_rng(0).uniform(0, 255, (height, width, 3)).astype(np.float32)
stylize_picture(model, picture[: min(height, 256), : min(width, 256)], tile_size=min(tile, 128) if tile else 0)
times = []
for _ in range(repeats):
    start = time.perf_counter()
    stylize_picture(model, picture, tile_size=tile)
    times.append(time.perf_counter() - start)
print(json.dumps({"seconds": min(times), "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
"""


def apply_run(height, width, tile=0, repeats=3):
    """Seconds (best of `repeats`) and peak RSS of stylize_picture at a size, in a child process."""
    answer = subprocess.run(
        [sys.executable, "-c", CHILD, str(height), str(width), str(tile), str(repeats)],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(HERE),
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


def optimisation_seconds(steps=(4, 12)):
    """The article's optimisation at 300x400: seconds for 200 Adam steps, from the time of steps[1] - steps[0]."""
    import numpy as np

    from neural_style import stylize

    rng = np.random.default_rng(0)
    content, style = rng.uniform(0, 255, (300, 400, 3)), rng.uniform(0, 255, (300, 400, 3))
    times = []
    for iterations in steps:
        start = time.perf_counter()
        stylize(content, style, weights="random", iterations=iterations, seed=0, save_every=0)
        times.append(time.perf_counter() - start)
    per_step = (times[1] - times[0]) / (steps[1] - steps[0])
    return {
        "per_step": per_step,
        "setup": times[0] - steps[0] * per_step,
        "200_steps": times[0] + (200 - steps[0]) * per_step,
    }


def training_throughput(steps=8):
    """Pictures per second of train_fast_model at 256x256, batch 4 (real VGG-19 shapes, random filters)."""
    import imageio.v3 as iio
    import keras
    import numpy as np

    from neural_style.fast.train import train_fast_model

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.stamps = []

        def on_train_batch_end(self, batch, logs=None):
            self.stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        for i in range(16):
            iio.imwrite(f"{folder}/p{i}.jpg", rng.integers(0, 255, (300, 400, 3), dtype=np.uint8))
        clock = Clock()
        train_fast_model(
            f"{folder}/p0.jpg",
            folder,
            f"{folder}/out/m.keras",
            weights="random",
            steps=steps + 2,
            checkpoint_every=steps + 2,
            callbacks=[clock],
        )
        # The first two steps trace and compile the step: left out.
        seconds = (clock.stamps[-1] - clock.stamps[1]) / (len(clock.stamps) - 2)
        # The input pipeline alone, for the share of a step that could wait for it.
        from neural_style.fast import data

        pictures = data.Pictures(folder)
        dataset = iter(data.training_dataset(pictures, 256, 4, 0))
        next(dataset)
        start = time.perf_counter()
        for _ in range(steps):
            next(dataset)
        input_seconds = (time.perf_counter() - start) / steps
    return {"seconds_per_step": seconds, "pictures_per_second": 4 / seconds, "input_seconds_per_batch": input_seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="apply,optimise,tiled,large,train")
    parts = parser.parse_args().only.split(",")
    results = {"cpu": cpu_name(), "cores": os.cpu_count()}
    if "apply" in parts:
        results["apply_300x400"] = apply_run(300, 400)
        results["apply_1080x1920"] = apply_run(1080, 1920, repeats=1)
        print(results, flush=True)
    if "optimise" in parts:
        results["optimisation_300x400"] = optimisation_seconds()
        if "apply_300x400" in results:
            results["ratio_300x400"] = (
                results["optimisation_300x400"]["200_steps"] / results["apply_300x400"]["seconds"]
            )
        print(results, flush=True)
    if "tiled" in parts:
        # The tiled apply's cost and peak at a size the whole pass also runs (apply_1080x1920): the ratio of times,
        # and the peak set by one 512 + 2 x 56 window.
        results["apply_1080x1920_tiled_512"] = apply_run(1080, 1920, tile=512, repeats=1)
        print(results, flush=True)
    if "large" in parts:
        results["apply_3000x4000_tiled_512"] = apply_run(3000, 4000, tile=512, repeats=1)
        print(results, flush=True)
    if "train" in parts:
        results["training_256_batch4"] = training_throughput()
    # The comparison of the training step with a PyTorch loop is benchmarks/bench_fast_torch.py's.
    print(json.dumps(results, indent=1))
    print("written to", write_results("bench_fast", results))


if __name__ == "__main__":
    main()
