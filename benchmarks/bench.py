"""Speed and memory of one optimisation step, against a course-TF2-style Keras loop and PyTorch, in one run.

    python benchmarks/bench.py            # the full table (about 15 minutes on 2 cores)
    python benchmarks/bench.py --quick    # a smoke run at tiny sizes

Every method runs in its own process (so its peak RSS is its own), on the same He-initialised random VGG-19 filters,
and the methods alternate round by round so that a slow moment of the machine hits all of them alike. The table is
printed and written as JSON to benchmarks/results/.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from machine import cpu_name, write_results
from torch_vgg import read_filters, torch_filters, vgg_features, write_filters

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED_IMAGES = os.path.join(ROOT, "..", "shared", "images")
STYLE_NAMES = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]


# --- FLOPs, counted from the network's shapes


def step_flops(height, width, deepest="conv5_1"):
    """
    Multiply-adds x 2 of one step: the forward pass to `deepest` and the gradient with respect to the input.

    Arguments:
    height, width -- input size
    deepest -- last layer computed

    Returns:
    forward, step -- FLOPs of the forward pass and of forward + input gradient (the backward pass of a convolution
                     with respect to its input costs what its forward pass does; the first layer's is skipped by
                     no framework, so it is counted)
    """
    from neural_style.weights import CONV_LAYERS

    forward, h, w = 0, height, width
    for name, (c_in, c_out) in CONV_LAYERS.items():
        block = int(name[4])
        scale = 2 ** (block - 1)
        h, w = -(-height // scale), -(-width // scale)
        forward += 2 * h * w * 9 * c_in * c_out
        if name == deepest:
            break
    return forward, 2 * forward


# --- the methods, each run in a child process


def _images(height, width):
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (height, width, 3)).astype("float32"), rng.uniform(0, 255, (height, width, 3))


# Our variants: StyleOptions overrides.
OURS = {
    "ours-adam": {},
    "ours-adam-xla": {"jit_compile": True},
    "ours-adam-noxla": {"jit_compile": False},
    "ours-adam-bf16": {"precision": "bfloat16"},
    "ours-lbfgs": {"optimizer": "lbfgs"},
}


def child_ours(height, width, steps, options):
    """This library: StyleTransfer.run, timed from its own history (the first step, which compiles, excluded)."""
    from neural_style import StyleTransfer

    content, style = _images(height, width)
    transfer = StyleTransfer(
        content, style, weights="random", height=height, width=width, iterations=steps + 1, **options
    )
    transfer.run()
    seconds = [entry["seconds"] for entry in transfer.history]
    per_step = statistics.median(b - a for a, b in zip(seconds, seconds[1:]))
    result = {"seconds_per_step": per_step}
    evaluations = [entry.get("evaluations") for entry in transfer.history]
    if evaluations[-1]:
        result["evaluations_per_step"] = (evaluations[-1] - evaluations[0]) / (len(evaluations) - 1)
        result["seconds_per_evaluation"] = per_step / result["evaluations_per_step"]
    return result


def child_keras(height, width, steps):
    """The TF2 course's loop: Keras VGG19, outputs block1_conv1..block5_conv1 + block5_conv4, @tf.function step."""
    import tensorflow as tf

    vgg = tf.keras.applications.VGG19(include_top=False, weights=None, input_shape=(height, width, 3))
    for name, (kernel, bias) in read_filters().items():
        vgg.get_layer(f"block{name[4]}_conv{name[6]}").set_weights([kernel, bias])
    names = [f"block{i}_conv1" for i in range(1, 6)] + ["block5_conv4"]
    model = tf.keras.Model([vgg.input], [vgg.get_layer(name).output for name in names])
    from neural_style import compute_content_cost, compute_style_cost, total_cost
    from neural_style.config import STYLE_LAYERS

    content, style = _images(height, width)
    a_C = model(tf.constant(content[None] / 255, tf.float32))
    a_S = model(tf.constant(style[None] / 255, tf.float32))
    generated = tf.Variable(tf.constant(content[None] / 255, tf.float32))
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)

    @tf.function()
    def train_step(generated_image):
        with tf.GradientTape() as tape:
            a_G = model(generated_image)
            J = total_cost(compute_content_cost(a_C, a_G), compute_style_cost(a_S, a_G, STYLE_LAYERS))
        grad = tape.gradient(J, generated_image)
        optimizer.apply_gradients([(grad, generated_image)])
        generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
        return J

    return {"seconds_per_step": _time_steps(lambda: float(train_step(generated)), steps)}


def child_torch(height, width, steps):
    """The same network cut at conv5_1 (average pooling) and the same costs in PyTorch, Adam on the pixels."""
    import torch

    torch.set_num_threads(os.cpu_count())
    filters = torch_filters(read_filters())

    def features(x):
        return vgg_features(x, filters, STYLE_NAMES + ["conv4_2"])

    def gram(a):
        a = a.reshape(a.shape[1], -1)
        return a @ a.T

    content, style = (torch.from_numpy(x.transpose(2, 0, 1)[None].astype("float32")) for x in _images(height, width))
    with torch.no_grad():
        a_C = features(content)["conv4_2"]
        grams = {name: gram(a) for name, a in features(style).items() if name in STYLE_NAMES}
    generated = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([generated], lr=2.0)

    def step():
        optimizer.zero_grad()
        acts = features(generated)
        J_content = ((acts["conv4_2"] - a_C) ** 2).sum() / (4 * a_C.numel())
        J_style = 0
        for name in STYLE_NAMES:
            _, c, h, w = acts[name].shape
            J_style = J_style + 0.2 * ((gram(acts[name]) - grams[name]) ** 2).sum() / (4 * c**2 * (h * w) ** 2)
        J = 10 * J_content + 40 * J_style
        J.backward()
        optimizer.step()
        return float(J)

    return {"seconds_per_step": _time_steps(step, steps), "torch": torch.__version__}


def child_matmul(size=2048, repeats=10):
    """Dense float32 matmul rate of this machine in TensorFlow, best of `repeats`."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    (a @ b).numpy()
    best = min(_timed(lambda: (a @ b).numpy()) for _ in range(repeats))
    return {"gflops": 2 * size**3 / best / 1e9}


def child_quality(height, width, iterations, content, style):
    """Time to quality: the article's loop, then each faster method until it reaches the article's final cost."""
    from neural_style import StyleTransfer

    common = {"weights": "random", "height": height, "width": width}
    runs = {}
    article = StyleTransfer(content, style, iterations=iterations, seed=0, **common)
    start = time.perf_counter()
    article.run()
    target = min(entry["J"] for entry in article.history)
    runs["adam (article)"] = {"seconds": time.perf_counter() - start, "J": target, "iterations": iterations}
    for label, options in [
        ("lbfgs", {"optimizer": "lbfgs"}),
        ("lbfgs --scales 0.25,0.5,1", {"optimizer": "lbfgs", "scales": (0.25, 0.5, 1)}),
    ]:
        transfer = StyleTransfer(content, style, iterations=iterations, seed=0, **common, **options)
        start = time.perf_counter()
        reached = {}

        def stop_at_target(entry, transfer=transfer, start=start, reached=reached):
            final_scale = entry.get("scale", 1) == 1
            if final_scale and entry["J"] <= target and not reached:
                reached.update(seconds=time.perf_counter() - start, iterations=entry["iteration"] + 1, J=entry["J"])
                raise StopIteration

        try:
            transfer.run(callback=stop_at_target)
        except StopIteration:
            pass
        runs[label] = reached or {"seconds": None, "J": min(e["J"] for e in transfer.history), "iterations": None}
    return {"target_J": target, "runs": runs}


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _time_steps(step, steps):
    step()  # traces / compiles
    return statistics.median(_timed(step) for _ in range(steps))


def run_child(args):
    """Runs one measurement in this process and prints it as JSON, with the process's peak RSS."""
    import resource

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    kind, values = args.child[0], args.child[1:]
    if kind == "matmul":
        result = child_matmul()
    elif kind == "quality":
        result = child_quality(int(values[0]), int(values[1]), int(values[2]), values[3], values[4])
    else:
        height, width, steps = (int(v) for v in values)
        if kind in OURS:
            result = child_ours(height, width, steps, OURS[kind])
        else:
            result = {"course-keras": child_keras, "pytorch": child_torch}[kind](height, width, steps)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def measure(*child_args):
    """Runs a child process and returns its result, or {'error': ...}."""
    command = [sys.executable, os.path.abspath(__file__), "--child", *map(str, child_args)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}


# --- the run


def torch_available():
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def machine():
    import tensorflow as tf

    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round: checks the script runs")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per measurement")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    choices = ", ".join(list(OURS) + ["course-keras", "pytorch"])
    parser.add_argument("--methods", help=f"comma-separated subset of: {choices}")
    parser.add_argument("--sizes", help="comma-separated HxW, e.g. 300x400 (default 300x400,600x800)")
    parser.add_argument("--no-quality", action="store_true", help="skip the time-to-quality runs")
    args = parser.parse_args()
    if args.child:
        return run_child(args)
    sizes = [(32, 40), (64, 80)] if args.quick else [(300, 400), (600, 800)]
    if args.sizes:
        sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    rounds = 1 if args.quick else args.rounds
    methods = args.methods.split(",") if args.methods else list(OURS) + ["course-keras"]
    if not args.methods and torch_available():
        methods.append("pytorch")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    write_filters(os.path.join(HERE, "results", "he_filters.npz"))
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "steps": {}, "flops": {}}
    report["matmul"] = measure("matmul")
    for height, width in sizes:
        key = f"{height}x{width}"
        forward, step = step_flops(height, width)
        report["flops"][key] = {"forward_gflop": forward / 1e9, "step_gflop": step / 1e9}
        runs = {method: [] for method in methods}
        for _ in range(rounds):
            for method in methods:  # alternating: each round measures every method once
                result = measure(method, height, width, args.steps)
                print(f"  {key} {method}: {result}", flush=True)
                runs[method].append(result)
        report["steps"][key] = {method: _median_of(results) for method, results in runs.items()}
    content, style = (os.path.join(SHARED_IMAGES, name) for name in ("tubingen.jpg", "starry_night.jpg"))
    if os.path.exists(content) and not args.no_quality:
        size, iterations = ((30, 40), 20) if args.quick else ((150, 200), 200)
        report["quality"] = measure("quality", *size, iterations, content, style)
    write_report(report)


def _median_of(results):
    good = [r for r in results if "error" not in r]
    if not good:
        return results[-1]
    return {key: statistics.median(r[key] for r in good) for key in good[0] if isinstance(good[0][key], float)}


def largest_size(pixels, rss_mb, memory_mb=24 * 1024, aspect=(3, 4)):
    """
    The largest image of the given aspect ratio whose peak RSS, extrapolated linearly from two sizes, fits.

    Arguments:
    pixels -- pixel counts of the two sizes measured
    rss_mb -- their peak RSS in MB
    memory_mb -- the memory available
    aspect -- (height, width) ratio

    Returns:
    dict -- mb_per_megapixel, height, width
    """
    slope = (rss_mb[1] - rss_mb[0]) / (pixels[1] - pixels[0])
    most = pixels[0] + (memory_mb - rss_mb[0]) / slope
    unit = (most / (aspect[0] * aspect[1])) ** 0.5
    return {"mb_per_megapixel": slope * 1e6, "height": int(unit * aspect[0]), "width": int(unit * aspect[1])}


def write_report(report):
    """Prints the table and writes the JSON."""
    lines = [f"machine: {report['machine']}", f"dense float32 matmul: {report['matmul'].get('gflops', 0):.1f} GFLOP/s"]
    for size, methods in report["steps"].items():
        flops = report["flops"][size]["step_gflop"]
        lines.append(f"\n{size}: one step = {flops:.1f} GFLOP (forward to conv5_1 + input gradient)")
        lines.append(f"{'method':<16}{'s/step':>9}{'peak RSS MB':>13}{'GFLOP/s':>9}{'% matmul':>10}{'baseline/x':>12}")
        baseline = methods.get("course-keras", {}).get("seconds_per_step")
        for method, result in methods.items():
            seconds = result.get("seconds_per_step")
            if not seconds:
                lines.append(f"{method:<16} failed: {result.get('error')}")
                continue
            rate = flops / seconds
            matmul = report["matmul"].get("gflops")
            lines.append(
                f"{method:<16}{seconds:>9.3f}{result['peak_rss_mb']:>13.0f}{rate:>9.1f}"
                f"{100 * rate / matmul if matmul else 0:>9.0f}%"
                f"{baseline / seconds if baseline else 0:>12.2f}"
            )
            if "seconds_per_evaluation" in result:
                lines.append(
                    f"{'  per evaluation':<16}{result['seconds_per_evaluation']:>9.3f}"
                    f"   ({result['evaluations_per_step']:.2f} evaluations per iteration)"
                )
    sizes = list(report["steps"])
    if len(sizes) == 2:
        small, large = (report["steps"][s].get("ours-adam", {}) for s in sizes)
        if small.get("seconds_per_step") and large.get("seconds_per_step"):
            pixels = [int(h) * int(w) for h, w in (size.split("x") for size in sizes)]
            ratio = large["seconds_per_step"] / small["seconds_per_step"]
            lines.append(
                f"\nours-adam {sizes[1]} / {sizes[0]}: {ratio:.2f}x the time for "
                f"{pixels[1] / pixels[0]:.0f}x the pixels"
            )
            report["largest_in_24gb"] = largest = largest_size(pixels, [small["peak_rss_mb"], large["peak_rss_mb"]])
            lines.append(
                f"peak RSS grows {largest['mb_per_megapixel']:.0f} MB per megapixel: about "
                f"{largest['height']}x{largest['width']} fits in 24 GB (extrapolated)"
            )
    if "quality" in report:
        quality = report["quality"]
        lines.append(f"\ntime to the article's cost (Adam 2.0 loop's best J = {quality.get('target_J', 0):.4g}):")
        article = quality.get("runs", {}).get("adam (article)", {}).get("seconds")
        for label, run in quality.get("runs", {}).items():
            seconds = run.get("seconds")
            ratio = f"{seconds / article:.2f}x" if seconds and article else "not reached"
            lines.append(f"  {label:<28}{seconds or float('nan'):>8.1f} s  {run.get('iterations')} iterations  {ratio}")
    text = "\n".join(lines)
    print("\n" + text)
    print(f"\nwrote {write_results('bench', report)}")


if __name__ == "__main__":
    main()
