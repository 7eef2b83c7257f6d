"""The streamed exact tiles (neural_style/fast/stream.py) against the whole pass: seconds per megapixel, peak RSS and
the work folder's disk, Johnson et al.'s layout with random filters (a convolution's time does not depend on them).

    python benchmarks/bench_stream.py [--rounds 2] [--sizes 1080x1920,2400x3200,3000x4000] [--huge 10000x10000]

The whole pass and the streamed one alternate at 1080x1920 (the machine is shared: the ratio is taken within each
round); the other sizes run streamed only (the whole pass would not fit). The streamed runs go through
stylize_picture with max_memory 2 (GB): the tiles it picks set the strips' pixels. --huge runs one picture larger
than memory, with strips of 512 x 512 pixels: the picture and the result are .npy files read and written strip by
strip, never held whole. Each run is a child
process, so that its peak RSS (ru_maxrss) is its own; a thread samples the work folder's size on the disk.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.machine import cpu_name, write_results  # noqa: E402

CHILD = r"""
import json, os, resource, sys, threading, time
import numpy as np
from neural_style.fast.apply import stylize_picture
from neural_style.fast.network import build_transform_net
from neural_style.fast.stream import plan_stream, stylize_streamed

mode, height, width, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
max_memory = float(sys.argv[5])
model = build_transform_net(seed=0)
warm = np.random.default_rng(1).uniform(0, 255, (1, 256, 256, 3)).astype(np.float32)
model(warm)
stylize_streamed(model, warm, strip_pixels=128 * 128, work_dir=work)
peak_disk = [0]
done = threading.Event()

def sample():
    while not done.wait(0.2):
        total = 0
        for root, _, names in os.walk(work):
            for name in names:
                try:
                    total += os.stat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    pass
        peak_disk[0] = max(peak_disk[0], total)

class Rows:
    # A .npy picture (or result) read and written a strip of rows at a time: nothing of it held in memory.
    def __init__(self, path, shape, batch, create=False):
        self.path, self.shape, self.batch = path, shape, batch
        if create:
            np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape[batch:])
    def __getitem__(self, key):
        array = np.lib.format.open_memmap(self.path, mode="r")
        rows = np.array(array[key[1]])[None]
        del array
        return rows
    def __setitem__(self, key, values):
        array = np.lib.format.open_memmap(self.path, mode="r+")
        array[key] = values
        del array

threading.Thread(target=sample, daemon=True).start()
if mode == "huge":
    picture_path, result_path = os.path.join(work, "..", "picture.npy"), os.path.join(work, "..", "result.npy")
    array = np.lib.format.open_memmap(picture_path, mode="w+", dtype=np.float32, shape=(height, width, 3))
    rng = np.random.default_rng(0)
    for start in range(0, height, 500):
        array[start : start + 500] = rng.uniform(0, 255, array[start : start + 500].shape)
    del array
    image = Rows(picture_path, (1, height, width, 3), 1)
    out = Rows(result_path, (height, width, 3), 0, create=True)
    start = time.perf_counter()
    stylize_streamed(model, image, strip_pixels=512 * 512, work_dir=work, out=out)
else:
    picture = np.random.default_rng(0).uniform(0, 255, (height, width, 3)).astype(np.float32)
    start = time.perf_counter()
    if mode == "whole":
        stylize_picture(model, picture, max_memory=64)
    else:
        # The tiles apply chooses in max_memory GB (the streamed pass's strips cover a tile's pixels).
        stylize_picture(model, picture, max_memory=max_memory)
seconds = time.perf_counter() - start
done.set()
print(json.dumps({
    "mode": mode, "size": f"{height}x{width}", "seconds": seconds,
    "seconds_per_mp": seconds / (height * width / 1e6),
    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    "peak_disk_gb": peak_disk[0] / 1e9,
    "planned_disk_gb": plan_stream(model.layout, height, width)[2] / 1e9,
}))
"""


def run(mode, height, width, folder, max_memory=2):
    """One child's figures: seconds, seconds per megapixel, peak RSS, the work folder's peak and planned disk."""
    work = tempfile.mkdtemp(dir=folder)
    answer = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(height), str(width), work, str(max_memory)],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(HERE),
        env={**os.environ, "TMPDIR": work},  # the apply's work folder goes where the sampling thread looks
    )
    if answer.returncode:
        raise SystemExit(f"{mode} {height}x{width} failed: {answer.stderr.strip().splitlines()[-1]}")
    figures = json.loads(answer.stdout.strip().splitlines()[-1])
    print(json.dumps(figures), flush=True)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="1080x1920,2400x3200,3000x4000")
    parser.add_argument("--huge", default="", help="e.g. 10000x10000: one streamed run from and to .npy files")
    parser.add_argument("--folder", default=None, help="where the work folders go (default: TMPDIR)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(dir=args.folder)
    results = {"cpu": cpu_name(), "cores": os.cpu_count(), "runs": []}
    for _ in range(args.rounds):
        results["runs"].append(run("whole", 1080, 1920, folder))
        results["runs"].append(run("stream", 1080, 1920, folder))
    for size in args.sizes.split(","):
        height, width = map(int, size.split("x"))
        if (height, width) != (1080, 1920):
            results["runs"].append(run("stream", height, width, folder))
    if args.huge:
        height, width = map(int, args.huge.split("x"))
        results["runs"].append(run("huge", height, width, folder))
    print(write_results("bench_stream", results))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
