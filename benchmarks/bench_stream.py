"""The streamed exact tiles (neural_style/fast/stream.py) against the whole pass: seconds per megapixel, peak RSS and
the work folder's disk, Johnson et al.'s layout with random filters (a convolution's time does not depend on them).

    python benchmarks/bench_stream.py [--rounds 3] [--sizes 1080x1920:2,2400x3200:1.5] [--once 3000x4000:2]
                                      [--huge 10000x10000]

Each round runs the whole pass at 1080x1920, then each of --sizes streamed, one after the other (the machine is
shared: the ratios are taken within each round, a pixel's time against that round's whole pass). A size's number
after the colon is the streamed run's max_memory in GB: it goes through stylize_picture, whose budget sets the strips'
pixels and which stored outputs stay in memory (tiles.stream_budget). --once sizes run streamed once, after the rounds.
--huge runs one picture larger than memory: the picture and the result are .npy files read and written strip by
strip, never held whole, every stored output in a file. Each run is a child process, so that its peak RSS
(ru_maxrss) is its own; a thread samples the work folder's size on the disk.
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
from neural_style.fast.stream import STRIP_PIXELS, plan_stream, stylize_streamed
from neural_style.fast.stream_store import disk_need, in_memory
from neural_style.fast.tiles import stream_budget, transform_tile_size

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
    stylize_streamed(model, image, work_dir=work, out=out)
else:
    picture = np.random.default_rng(0).uniform(0, 255, (height, width, 3)).astype(np.float32)
    start = time.perf_counter()
    if mode == "whole":
        stylize_picture(model, picture, max_memory=64)
    else:
        # The streamed tiles within max_memory GB: its strips and what stays in memory are the budget's.
        stylize_picture(model, picture, max_memory=max_memory)
seconds = time.perf_counter() - start
done.set()
shapes, lives, _ = plan_stream(model.layout, height, width)
strip_pixels, memory_bytes = STRIP_PIXELS, 0
if mode == "stream":
    tile = transform_tile_size(height, width, max_memory, model)
    strip_pixels, memory_bytes = stream_budget(height, width, tile, max_memory, model)
on_disk = set(shapes) - in_memory(shapes, lives, memory_bytes)
print(json.dumps({
    "mode": mode, "size": f"{height}x{width}", "max_memory": max_memory, "seconds": seconds,
    "seconds_per_mp": seconds / (height * width / 1e6),
    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    "strip_pixels": strip_pixels, "stored_in_memory_gb": disk_need(shapes, lives, set(shapes) - on_disk) / 1e9,
    "peak_disk_gb": peak_disk[0] / 1e9,
    "planned_disk_gb": disk_need(shapes, lives, on_disk) / 1e9,
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


def sizes(text):
    """[(height, width, max_memory)] of 'HxW:GB,...' (GB 2 where not given)."""
    result = []
    for item in filter(None, text.split(",")):
        size, _, memory = item.partition(":")
        height, width = map(int, size.split("x"))
        result.append((height, width, float(memory or 2)))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="1080x1920:2,2400x3200:1.5", help="streamed each round: HxW:GB,...")
    parser.add_argument("--once", default="3000x4000:2", help="streamed once after the rounds: HxW:GB,...")
    parser.add_argument("--huge", default="", help="e.g. 10000x10000: one streamed run from and to .npy files")
    parser.add_argument("--folder", default=None, help="where the work folders go (default: TMPDIR)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(dir=args.folder)
    results = {"cpu": cpu_name(), "cores": os.cpu_count(), "runs": [], "ratios": []}
    for _ in range(args.rounds):
        whole = run("whole", 1080, 1920, folder, 64)
        results["runs"].append(whole)
        for height, width, memory in sizes(args.sizes):
            streamed = run("stream", height, width, folder, memory)
            results["runs"].append(streamed)
            ratio = streamed["seconds_per_mp"] / whole["seconds_per_mp"]
            results["ratios"].append({"size": streamed["size"], "max_memory": memory, "to_whole_1080x1920": ratio})
            print(f"  {streamed['size']} streamed / whole 1080x1920, a pixel: {ratio:.2f}x", flush=True)
    for height, width, memory in sizes(args.once):
        results["runs"].append(run("stream", height, width, folder, memory))
    if args.huge:
        height, width = map(int, args.huge.split("x"))
        results["runs"].append(run("huge", height, width, folder))
    print(write_results("bench_stream", results))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
