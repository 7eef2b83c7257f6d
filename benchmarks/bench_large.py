"""Peak memory against picture size, whole and tiled, and the tiled step's time against the whole image's.

    python benchmarks/bench_large.py                                   # 0.12, 0.48 and 1.1 MP, whole and tiled
    python benchmarks/bench_large.py --sizes 3000x4000 --modes tiled --max-memory 4 --steps 2
    python benchmarks/bench_large.py --quick                           # a smoke run at tiny sizes

Every (size, mode) runs in its own process, so its peak RSS is its own, on He-initialised random VGG-19 filters (the
real network's shapes and arithmetic), float32 Adam, the article's layers; the modes alternate round by round and the
best of the rounds is kept. Each run also prints the peak estimated by neural_style.large.estimate_peak_memory,
to check the formula. The table is printed and the JSON written to benchmarks/results/.
"""

import argparse
import json
import os
import subprocess
import sys

from machine import cpu_name, write_results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED_IMAGES = os.path.join(ROOT, "..", "shared", "images")


def child(size, mode, steps, tile_size, max_memory):
    """One measured run, in this process: prints one JSON line."""
    import resource

    import numpy as np

    from neural_style import large
    from neural_style.stylize import StyleTransfer
    from neural_style.weights import random_vgg_weights

    height, width = size
    rng = np.random.default_rng(0)
    content = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    style = rng.uniform(0, 255, (min(height, 512), min(width, 512), 3)).astype(np.float32)
    options = {"tile_size": tile_size} if mode == "tiled" and tile_size else {}
    if mode == "tiled" and max_memory:
        options["max_memory"] = max_memory
    transfer = StyleTransfer(
        content, style, weights=random_vgg_weights(), height=height, width=width, iterations=steps, seed=1, **options
    )
    _, history = transfer.run()
    seconds = [b["seconds"] - a["seconds"] for a, b in zip(history, history[1:])]
    layers = [transfer.options.content_layer] + [name for name, _ in transfer.options.style_layers]
    tile = transfer.tile_sizes[-1]
    print(
        json.dumps(
            {
                "size": f"{height}x{width}",
                "megapixels": height * width / 1e6,
                "mode": mode,
                "tile_size": tile,
                "tiles": len(getattr(transfer.cost, "tiles", [None])),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "estimate_mb": large.estimate_peak_memory(height, width, tile, layers) / 1e6,
                "step_s": min(seconds) if seconds else None,
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="300x400,600x800,900x1200", help="HxW,HxW,...")
    parser.add_argument("--modes", default="whole,tiled", help="whole,tiled")
    parser.add_argument("--steps", type=int, default=3, help="Adam steps per run (the first is not timed)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--max-memory", type=float, default=None, help="GB, for the tiled runs (picks the tile)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, mode, steps, tile_size, max_memory = args.child
        child(tuple(map(int, size.split("x"))), mode, int(steps), int(tile_size), float(max_memory) or None)
        return
    if args.quick:
        args.sizes, args.steps, args.tile_size = "96x128,160x192", 2, 80
    sizes = args.sizes.split(",")
    modes = args.modes.split(",")
    results = {}
    for _ in range(args.rounds):
        for size in sizes:
            for mode in modes:
                command = [sys.executable, __file__, "--child", size, mode, str(args.steps), str(args.tile_size)]
                command.append(str(args.max_memory or 0))
                env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
                out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
                row = json.loads(out.strip().splitlines()[-1])
                key = (size, mode)
                best = results.get(key)
                if best is None or (row["step_s"] or 0) < (best["step_s"] or 0):
                    results[key] = row
    cpu = cpu_name()
    print(f"CPU: {cpu}, {os.cpu_count()} cores; {args.steps} Adam steps per run, best of {args.rounds} round(s)")
    print("| size | MP | mode | tile | tiles | peak RSS MB | estimate MB | s / step |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for row in results.values():
        step = f"{row['step_s']:.2f}" if row["step_s"] else ""
        print(
            f"| {row['size']} | {row['megapixels']:.2f} | {row['mode']} | {row['tile_size']} | {row['tiles']} | "
            f"{row['peak_rss_mb']:,.0f} | {row['estimate_mb']:,.0f} | {step} |"
        )
    path = write_results("bench_large", {"cpu": cpu, "args": vars(args), "results": list(results.values())})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
