"""Time to quality of --scales auto (Adam and L-BFGS) against the article's single scale.

    python benchmarks/bench_schedule.py --size 600x800 --auto 300 --equal-split 160 --lbfgs 120   # as measured
    python benchmarks/bench_schedule.py --size 150x200 --min-size 32 --auto 100 --equal-split 100 --average 0.99

Runs, one after the other in one process: the article's single-scale Adam for --iterations steps (the reference),
then `--scales auto` with Adam for each count in --auto (and with --average DECAY, with --average), then with the
equal split of the iterations for each count in --equal-split, then `--scales auto --optimizer lbfgs` for each count in
--lbfgs. Every written picture is evaluated with the same full-size cost; the table gives each run's time, its time
over the reference's, the cost of its picture and the time the reference took to first reach that cost (the
reference's history holds the cost before each of its steps). Content and style are tubingen.jpg /
starry_night.jpg from --images; the results are also written to benchmarks/results/ as JSON.
"""

import argparse
import json
import os
import time

import numpy as np
import tensorflow as tf
from machine import cpu_name, write_results

HERE = os.path.dirname(os.path.abspath(__file__))


def counts(text):
    """'120,60' -> [120, 60]; '' -> []."""
    return [int(n) for n in text.split(",") if n]


def planned_runs(args):
    """(name, options, variant) for every run, the reference first; variant: None, 'equal split', 'carry moments'."""
    auto = {"scales": "auto", "min_size": args.min_size}
    runs = [("article: one scale", {"iterations": args.iterations}, None)]
    for n in counts(args.auto):
        runs.append((f"auto, {n}", {**auto, "iterations": n}, None))
        if args.average:
            runs.append(
                (f"auto, {n}, average {args.average}", {**auto, "iterations": n, "average": args.average}, None)
            )
    for n in counts(args.equal_split):
        runs.append((f"auto, {n}, equal split", {**auto, "iterations": n}, "equal split"))
    for n in counts(args.carry_moments):
        runs.append((f"auto, {n}, Adam's moments carried", {**auto, "iterations": n}, "carry moments"))
    for n in counts(args.lbfgs):
        runs.append((f"auto, lbfgs, {n}", {**auto, "iterations": n, "optimizer": "lbfgs"}, None))
    return runs


def carry_moments(transfer):
    """Makes a StyleTransfer start each scale's Adam from the last scale's moments, resized (an experiment)."""
    enter_scale = transfer._enter_scale

    def entering(index, image):
        before = transfer._optimizer
        enter_scale(index, image)
        if before is None:
            return
        size = transfer.sizes[index]
        transfer._optimizer_state = [
            tf.image.resize(v, size).numpy() if len(v.shape) == 4 else v.numpy() for v in before.variables
        ]

    transfer._enter_scale = entering


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="150x200")
    parser.add_argument("--iterations", type=int, default=200, help="the reference's Adam steps")
    parser.add_argument("--auto", default="200", help="iterations of each --scales auto Adam run, e.g. 120,60")
    parser.add_argument("--carry-moments", default="", help="iterations of each Adam run carrying Adam's moments")
    parser.add_argument("--lbfgs", default="", help="iterations of each --scales auto L-BFGS run, e.g. 40")
    parser.add_argument("--equal-split", default="", help="iterations of each Adam run split equally, e.g. 160")
    parser.add_argument("--average", type=float, default=None, help="also each Adam count with --average DECAY")
    parser.add_argument("--images", default=os.path.join(HERE, "..", "..", "shared", "images"))
    parser.add_argument("--weights", default="random")
    parser.add_argument("--min-size", type=int, default=None)
    args = parser.parse_args()

    from neural_style import large
    from neural_style.images import normalize_image
    from neural_style.stylize import StyleTransfer

    height, width = map(int, args.size.split("x"))
    content = os.path.join(args.images, "tubingen.jpg")
    style = os.path.join(args.images, "starry_night.jpg")
    common = {"weights": args.weights, "height": height, "width": width, "seed": 1}
    if args.weights == "random":
        from neural_style.weights import random_vgg_weights

        common["weights"] = random_vgg_weights()
    side_rule = large.auto_iterations
    reference = None
    rows = []
    for name, options, variant in planned_runs(args):
        options = {key: value for key, value in options.items() if value is not None}
        equal = variant == "equal split"
        large.auto_iterations = (lambda n, sizes: large.split_iterations(n, len(sizes))) if equal else side_rule
        transfer = StyleTransfer(content, style, **common, **options)
        if variant == "carry moments":
            carry_moments(transfer)
        start = time.perf_counter()
        image, history = transfer.run()
        seconds = time.perf_counter() - start
        # The written picture's cost, with the full-size cost of the last scale (the same for every run).
        network = normalize_image(image.astype(np.float32), transfer.options.image_range)
        J = float(transfer.cost(tf.constant(network))[0])
        if reference is None:
            reference = {"history": history, "seconds": seconds}
        reached = next((h["seconds"] for h in reference["history"] if h["J"] <= J), None)
        scales = {}
        for entry in history:
            scales[entry.get("scale", 1.0)] = scales.get(entry.get("scale", 1.0), 0) + 1
        rows.append(
            {
                "run": name,
                "seconds": seconds,
                "time_ratio": seconds / reference["seconds"],
                "J": J,
                "reference_seconds_to_J": reached,
                "iterations_per_scale": scales,
                "evaluations": transfer.evaluations or None,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    large.auto_iterations = side_rule
    cpu = f"{cpu_name()}, {os.cpu_count()} cores"
    print(f"CPU: {cpu}")
    print(
        f"| run ({args.size}, {args.weights} weights) | time s | / article's | J of the picture "
        "| article's time to that J | iterations per scale |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        reached = row["reference_seconds_to_J"]
        reached = f"{reached:.1f}" if reached is not None else "not reached"
        per_scale = ", ".join(f"{scale}: {count}" for scale, count in row["iterations_per_scale"].items())
        print(
            f"| {row['run']} | {row['seconds']:.1f} | {row['time_ratio']:.2f} | {row['J']:,.0f} | {reached} "
            f"| {per_scale} |"
        )
    print(f"wrote {write_results('bench_schedule', {'cpu': cpu, 'args': vars(args), 'results': rows})}")


if __name__ == "__main__":
    main()
