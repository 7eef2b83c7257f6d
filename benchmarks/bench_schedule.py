"""Time to quality of --scales auto against the article's single scale, and with --average (issue 11).

    python benchmarks/bench_schedule.py --size 150x200 --iterations 200
    python benchmarks/bench_schedule.py --size 600x800 --images ../shared/images --weights PATH   # the issue's case

Runs, in one process and alternating: the article's single-scale Adam for --iterations steps (the reference), then
--scales auto with the same and with half the iterations, each with and without --average 0.99 on the auto runs. Every
picture is evaluated with the same full-size cost; the table gives each run's time, its final cost, and the time the
reference took to first reach that cost. Content and style are tubingen.jpg / starry_night.jpg from --images.
"""

import argparse
import os
import time

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="150x200")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--images", default=os.path.join(HERE, "..", "..", "shared", "images"))
    parser.add_argument("--weights", default="random")
    parser.add_argument("--min-size", type=int, default=None)
    args = parser.parse_args()

    from neural_style.images import normalize_image
    from neural_style.stylize import StyleTransfer

    height, width = map(int, args.size.split("x"))
    content = os.path.join(args.images, "tubingen.jpg")
    style = os.path.join(args.images, "starry_night.jpg")
    common = {"weights": args.weights, "height": height, "width": width, "seed": 1}
    if args.weights == "random":
        from neural_style.weights import random_vgg_weights

        common["weights"] = random_vgg_weights()
    runs = [
        ("article: one scale", {"iterations": args.iterations}),
        ("auto", {"iterations": args.iterations, "scales": "auto", "min_size": args.min_size}),
        (
            "auto, average 0.99",
            {"iterations": args.iterations, "scales": "auto", "min_size": args.min_size, "average": 0.99},
        ),
        (
            "auto, half the iterations",
            {"iterations": args.iterations // 2, "scales": "auto", "min_size": args.min_size},
        ),
    ]
    reference = None
    rows = []
    for name, options in runs:
        options = {key: value for key, value in options.items() if value is not None}
        transfer = StyleTransfer(content, style, **common, **options)
        start = time.perf_counter()
        image, history = transfer.run()
        seconds = time.perf_counter() - start
        # The written picture's cost, with the full-size cost of the last scale (the same for every run).
        network = normalize_image(image.astype(np.float32), transfer.options.image_range)
        J = float(transfer.cost(tf.constant(network))[0])
        if reference is None:
            reference = history
        reached = next((h["seconds"] for h in reference if h["J"] <= J), None)
        scales = {}
        for entry in history:
            scales[entry.get("scale", 1.0)] = scales.get(entry.get("scale", 1.0), 0) + 1
        rows.append((name, seconds, J, reached, scales))
    print(
        f"| run ({args.size}, {args.weights} weights) | time s | J of the picture | article's time to that J "
        "| iterations per scale |"
    )
    print("| --- | ---: | ---: | ---: | --- |")
    for name, seconds, J, reached, scales in rows:
        reached = f"{reached:.1f}" if reached is not None else "not reached"
        per_scale = ", ".join(f"{scale}: {count}" for scale, count in scales.items())
        print(f"| {name} | {seconds:.1f} | {J:,.0f} | {reached} | {per_scale} |")


if __name__ == "__main__":
    main()
