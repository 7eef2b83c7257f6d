"""The fast network's forward pass against the machine's float32 matmul rate, in one process.

    python benchmarks/bench_forward.py [--size 768x1024] [--rounds 5] [--layout johnson] [--eager] [--xla]

The matmul rate: a 4096 x 4096 float32 tf.matmul in a tf.function (2 n^3 FLOP). The network's arithmetic: its
multiply-adds counted from its layout (network.Layout.convolutions() and levels(): filters x kernel^2 x input channels
at each convolution's positions, plus Johnson et al.'s affine 9x9 convolution to RGB), 2 FLOP each. Rounds alternate
the matmul and each pass, so that a shared machine's load falls on all of them alike; the medians are reported, and
each pass's rate as a share of the matmul's rate of the same rounds. Random filters (He-initialised by Keras): a
convolution's time does not depend on its weights. The passes: "apply" (fast/apply.forward_pass, what stylize_picture
runs for a whole picture), "apply bfloat16" (the same with precision="bfloat16"), and with --eager the model called
eagerly (what apply did before), with --xla the same graph compiled by XLA (jit_compile=True). Copied into an
earlier checkout's benchmarks/ (with machine.py), it measures that checkout's apply, an eager call.

With --statistics, also every instance normalisation of the layout at its shape, in alternating rounds, as the pass
runs it now (layers.InstanceNormalization: the statistics by rows in float32 and across rows in float64, then
FusedBatchNormV3 in inference mode) and as it ran before (FusedBatchNormV3 computing its own float32 statistics), each
in a tf.function: what the exact statistics cost, summed over the pass's normalisations.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.machine import cpu_name, write_results  # noqa: E402


def multiply_adds(layout, height, width):
    """The network's multiply-adds for one picture of height x width, from its layout."""
    total, channels = 0, 3
    for (filters, kernel, _, _), level in zip(layout.convolutions(), layout.levels()):
        positions = -(-height // 2**level) * -(-width // 2**level)
        total += filters * kernel * kernel * channels * positions
        channels = filters
    if layout.output == "affine":
        total += 3 * layout.output_kernel**2 * channels * height * width
    return total


def best_time(function, repeats=1):
    """Seconds of function() (its result read back), the least of `repeats`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        getattr(result, "numpy", lambda: None)()
        times.append(time.perf_counter() - start)
    return min(times)


def architectures_speed(height, width, rounds):
    """
    The forward pass of each architecture's network at height x width as apply runs it (apply.stylize_picture: the
    whole picture in one pass), in alternating rounds (johnson, small, johnson, ...), after one warm-up pass of each
    (the first call traces and allocates).

    Returns:
    dict: seconds per round of each, their medians, and the ratio small / johnson of the medians and of each round
    """
    import tensorflow as tf

    from neural_style.fast.apply import stylize_picture
    from neural_style.fast.model_file import parameter_count
    from neural_style.fast.network import build_transform_net
    from neural_style.fast.options import ARCHITECTURES
    from neural_style.fast.train import training_layout

    picture = np.random.default_rng(0).uniform(0, 255, (height, width, 3)).astype(np.float32)
    # Each architecture's start (seed 0): a convolution's time does not depend on its weights.
    nets = {name: build_transform_net(seed=0, styles=1, layout=training_layout(name)) for name in ARCHITECTURES}
    times = {name: [] for name in nets}
    for name, net in nets.items():
        stylize_picture(net, picture)
    for _ in range(rounds):
        for name, net in nets.items():
            start = time.perf_counter()
            stylize_picture(net, picture)
            times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(values)) for name, values in times.items()}
    return {
        "height": height,
        "width": width,
        "rounds": rounds,
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "seconds": times,
        "median_seconds": medians,
        "ratio_small_to_johnson": medians["small"] / medians["johnson"],
        "ratio_each_round": [s / j for s, j in zip(times["small"], times["johnson"])],
        "parameters": {name: parameter_count(1, net.layout) for name, net in nets.items()},
        # At 4 x 4, every level's positions are exact (two stride-2 levels): the count a pixel at any size.
        "multiply_adds_per_pixel": {name: multiply_adds(net.layout, 4, 4) / 16 for name, net in nets.items()},
    }


def normalisation_speed(layout, height, width, rounds):
    """
    The layout's instance normalisations at their shapes for a picture of height x width, each timed as the pass runs
    it now and with FusedBatchNormV3's own float32 statistics (before), in alternating rounds.

    Returns:
    dict: seconds per round of each way, summed over the normalisations, their medians and ratio
    """
    import tensorflow as tf

    from neural_style.fast.layers import InstanceNormalization

    def before(norm):
        # What InstanceNormalization._fused ran before the exact statistics: the op's own, then gamma and beta.
        def normalise(x):
            channels = x.shape[-1]
            normalised = tf.raw_ops.FusedBatchNormV3(
                x=x,
                scale=tf.ones([channels]),
                offset=tf.zeros([channels]),
                mean=tf.zeros([0]),
                variance=tf.zeros([0]),
                epsilon=norm.epsilon,
                exponential_avg_factor=1.0,
                data_format="NHWC",
                is_training=True,
            )[0]
            return normalised * norm.gamma[0] + norm.beta[0]

        return tf.function(normalise)

    rng = np.random.default_rng(0)
    shapes = []
    for (filters, _, _, normalised), level in zip(layout.convolutions(), layout.levels()):
        if normalised:
            shapes.append((1, -(-height // 2**level), -(-width // 2**level), filters))
    inputs, ways = {}, {"now": {}, "before": {}}
    for shape in set(shapes):
        inputs[shape] = tf.constant(rng.normal(3, 2, shape).astype(np.float32))
        norm = InstanceNormalization()
        norm.build(shape)
        ways["now"][shape], ways["before"][shape] = tf.function(norm), before(norm)
        for way in ways.values():  # traces and warms up
            way[shape](inputs[shape])
    seconds = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            seconds[name].append(sum(best_time(lambda: way[shape](inputs[shape]), 3) for shape in shapes))
    medians = {name: float(np.median(values)) for name, values in seconds.items()}
    return {"seconds": seconds, "median_seconds": medians, "ratio_now_to_before": medians["now"] / medians["before"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="768x1024", help="HEIGHTxWIDTH")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--layout", default="johnson")
    parser.add_argument("--eager", action="store_true", help="also the eager call (apply before this work)")
    parser.add_argument("--xla", action="store_true", help="also the pass compiled by XLA")
    parser.add_argument("--no-bfloat16", action="store_true")
    parser.add_argument("--matmul", type=int, default=4096, help="the matmul's side")
    parser.add_argument("--statistics", action="store_true", help="also each normalisation now and before")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from neural_style.fast.network import LAYOUTS, build_transform_net
    from neural_style.limits import cpu_has_native_bfloat16

    height, width = map(int, args.size.split("x"))
    layout = LAYOUTS[args.layout]
    model = build_transform_net(seed=0, layout=layout)
    picture = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, height, width, 3)).astype(np.float32))
    n = args.matmul
    a, b = tf.random.normal((n, n), seed=1), tf.random.normal((n, n), seed=2)
    matmul = tf.function(lambda: tf.matmul(a, b))
    try:
        from neural_style.fast.apply import forward_pass
    except ImportError:  # a checkout from before forward_pass: its apply called the model eagerly
        passes, args.no_bfloat16 = {"apply (eager)": lambda: model(picture)}, True
    else:
        passes = {"apply": lambda: forward_pass(model)(picture)}
    if not args.no_bfloat16:
        passes["apply bfloat16"] = lambda: forward_pass(model, "bfloat16")(picture)
    if args.eager:
        passes["eager (before)"] = lambda: model(picture)
    if args.xla:
        xla = tf.function(lambda x: model(x), jit_compile=True)
        passes["xla"] = lambda: xla(picture)
    flop = 2 * multiply_adds(layout, height, width)
    for function in [matmul, *passes.values()]:  # traces and warms up
        best_time(function)
    rates = {"matmul": []} | {name: [] for name in passes}
    for round_ in range(args.rounds):
        rates["matmul"].append(2 * n**3 / best_time(matmul, 3) / 1e9)
        for name, function in passes.items():
            rates[name].append(flop / best_time(function) / 1e9)
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()), flush=True)
    matmul_rate = statistics.median(rates["matmul"])
    report = {
        "cpu": cpu_name(),
        "native_bfloat16": cpu_has_native_bfloat16(),
        "tensorflow": tf.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "size": [height, width],
        "layout": layout.name,
        "gflop": flop / 1e9,
        "rounds": rates,
        "load_average": os.getloadavg(),
    }
    print(f"{report['cpu']}; {layout.name} at {height}x{width}: {flop / 1e9:.1f} GFLOP a pass")
    print(f"matmul {n}^3 float32: {matmul_rate:.0f} GFLOP/s (median of {args.rounds} rounds)")
    for name in passes:
        rate = statistics.median(rates[name])
        shares = [r / m for r, m in zip(rates[name], rates["matmul"])]
        print(
            f"{name}: {flop / rate / 1e9:.3f} s, {rate:.0f} GFLOP/s, {100 * rate / matmul_rate:.0f}% of the matmul's "
            f"(round by round {min(shares):.0%} to {max(shares):.0%})"
        )
    if args.statistics:
        report["normalisations"] = normalisation_speed(layout, height, width, args.rounds)
        medians = report["normalisations"]["median_seconds"]
        print(
            f"the {layout.name} pass's normalisations: now {medians['now']:.3f} s, before (the fused op's own float32 "
            f"statistics) {medians['before']:.3f} s, {medians['now'] / medians['before']:.2f}x"
        )
    print("results:", write_results("bench_forward", report))


if __name__ == "__main__":
    main()
