"""Training throughput of the fast stylisation: the step `neural-style train` runs (train_fast_model, Keras' model.fit
with FastStyleTrainer's train_step) against a PyTorch training loop written the way pytorch/examples'
fast_neural_style writes its own, on the same transformation network, the same loss network and the same costs.

    python benchmarks/bench_fast_torch.py                 # 256x256 crops, batch 4 (about 10 minutes on 2 cores)
    python benchmarks/bench_fast_torch.py --quick         # tiny sizes: checks that the script runs
    python benchmarks/bench_fast_torch.py --quick --profile [--torch-threads 1]   # PyTorch's step by operation

Both run in child processes that stay alive for the whole run, and take turns: a warm-up each (TensorFlow's traces
and compiles its step), then rounds of a few steps, TensorFlow's round then PyTorch's, so that a slow moment of the
shared machine hits both alike; the figures are the medians of the steps. The machine's load average is read at
every round.

- TensorFlow: train_fast_model itself, on a folder of random JPEGs (its tf.data pipeline decodes and crops them, as
  in a real training), with a Keras callback that stamps each step's end and, between rounds, waits for its turn.
- PyTorch: the same network built from the TensorFlow network's own kernels (their shapes and strides) and the same
  costs (benchmarks/torch_fast.py), in pytorch/examples' loop: zero_grad, the network, the loss network on the
  output and on the crops, the content cost, batched Gram matrices (bmm) against the style's, backward, Adam's step;
  the crops are ready tensors (no input pipeline), and the crops' pass stops at the content layer as the project's
  does.
- The check: before any step, on the same crops and the same weights (copied from the TensorFlow network), both
  compute the cost J and its parts, the stylised output, and J's gradient with respect to every weight; they must
  agree within float32 rounding, which is what makes "the same network and loss" a measured fact.

Random filters (the project's random_vgg_weights(seed=0) for the loss network, the network's seeded initialisation):
the time of a convolution does not depend on its weights. torch.set_num_threads(os.cpu_count()) (--torch-threads);
TensorFlow uses every core by default. Results are printed and written as JSON to benchmarks/results/.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks.children import Child, say  # noqa: E402
from benchmarks.machine import cpu_name, write_results  # noqa: E402
from benchmarks.torch_fast import torch_costs, torch_network  # noqa: E402
from benchmarks.torch_vgg import read_filters, torch_filters, write_filters  # noqa: E402

# The field's recipe (Johnson et al.; pytorch/examples' defaults): two epochs of COCO's 83k pictures in batches of 4.
RECIPE_STEPS = 40_000
# The check's bounds (relative). J and its parts are float32 sums of up to 4 x 256 x 256 x 64 terms that the two
# frameworks add in different orders, after 17 convolutions whose own sums differ likewise: each sum's rounding is
# about sqrt(terms) x 6e-8 relative (a few 1e-5 at most), and the instance normalisations keep it from growing
# through the network. The gradient passes through both networks again: ten times the bound.
COST_BOUND = 2e-4
GRADIENT_BOUND = 2e-3


# --- the TensorFlow child: train_fast_model, paused between rounds


def tensorflow_child(photos, work, size, batch, warmup, rounds, steps):
    """Runs train_fast_model for warmup + rounds x steps steps; reports the check, then each round's step times."""
    import keras
    import numpy as np
    import tensorflow as tf

    from neural_style.fast import network
    from neural_style.fast.train import train_fast_model
    from neural_style.weights import random_vgg_weights

    class Rounds(keras.callbacks.Callback):
        """Stamps each step's end; after the warm-up and after each round, reports the steps' times and waits for
        the parent's next turn (a line on stdin)."""

        def __init__(self):
            super().__init__()
            self.ends = [warmup + steps * r for r in range(rounds + 1)]
            self.done, self.started, self.times = 0, None, []

        def on_train_begin(self, logs=None):
            say(dict(check=dump_check(self.model, os.path.join(work, "check.npz"), size, batch)))
            self.wait()

        def wait(self):
            if sys.stdin.readline().strip() != "go":
                raise SystemExit("the parent ended the run")
            self.started = time.perf_counter()

        def on_train_batch_end(self, index, logs=None):
            now = time.perf_counter()
            self.times.append(now - self.started)
            self.started, self.done = now, self.done + 1
            if self.done in self.ends:
                say({"times": self.times, "load": os.getloadavg()})
                self.times = []
                if self.done != self.ends[-1]:
                    self.wait()

    def dump_check(trainer, path, size, batch):
        """The check's inputs and TensorFlow's answers, saved for the PyTorch child; returns its metadata."""
        net = trainer.net
        pictures = np.random.default_rng(1).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
        with tf.GradientTape() as tape:
            generated = net((pictures, tf.one_hot(tf.zeros(batch, tf.int32), net.styles)), training=True)
            costs = trainer.costs(tf.constant(pictures), generated)
        gradients = tape.gradient(costs[0], net.trainable_variables)
        arrays = {"pictures": pictures, "generated": generated.numpy()}
        for index, conv in enumerate(net.convs):
            arrays[f"kernel{index}"] = conv.kernel.numpy()
            arrays[f"gamma{index}"] = net.norms[index].gamma.numpy()[0]
            arrays[f"beta{index}"] = net.norms[index].beta.numpy()[0]
        arrays["kernel_out"], arrays["bias_out"] = (v.numpy() for v in (net.output_conv.kernel, net.output_conv.bias))
        for variable, gradient in zip(net.trainable_variables, gradients):
            # conv3/kernel, norm3/gamma, ...: the variable's layer and name, without the model's.
            arrays["gradient/" + "/".join(variable.path.split("/")[-2:])] = gradient.numpy()
        options = trainer.options
        for name, _ in options.style_layers:
            arrays["gram/" + name] = trainer._grams[name][0].numpy()
        np.savez(path, **arrays)
        return {
            "path": path,
            "strides": [conv.strides[0] for conv in net.convs],
            "encoder": len(network.ENCODER),
            "residual_blocks": network.RESIDUAL_BLOCKS,
            "epsilon": network.EPSILON,
            "channel_order": trainer._vgg.weights.channel_order,
            "pooling": trainer._vgg.pooling,
            "means": trainer.mean.numpy().ravel().tolist(),
            "content_layer": options.content_layer,
            "style_layers": [list(pair) for pair in options.style_layers],
            "weights": [options.content_weight, options.style_weight, options.tv_weight],
            "learning_rate": options.learning_rate,
            "costs": [float(c) for c in costs],
            "variables": [v.path for v in net.trainable_variables],
            "jit_compile": trainer.jit_compile,
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        }

    total = warmup + rounds * steps
    train_fast_model(
        os.path.join(photos, "p0.jpg"),
        photos,
        os.path.join(work, "model.keras"),
        weights=random_vgg_weights(seed=0),
        work_dir=os.path.join(work, "train"),
        steps=total,
        checkpoint_every=total,
        size=size,
        batch_size=batch,
        callbacks=[Rounds()],
    )
    say({"finished": True})


# --- the PyTorch child: pytorch/examples' loop on torch_fast's network and costs


def torch_child(threads):
    """Answers `check META_JSON` with its comparison and `round N` with N training steps' times."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    filters = torch_filters(read_filters())
    state = {}
    for line in sys.stdin:
        command, _, rest = line.strip().partition(" ")
        if command == "check":
            meta = json.loads(rest)
            with np.load(meta["path"]) as data:
                arrays = dict(data)
            if meta["channel_order"] != "RGB" or meta["pooling"] != "avg":
                raise SystemExit(f"the check expects RGB filters and average pooling, got {meta}")
            net, mapping = torch_network(meta, arrays)
            grams = {name: torch.from_numpy(arrays["gram/" + name]) for name, _ in meta["style_layers"]}
            pictures = torch.from_numpy(arrays["pictures"].transpose(0, 3, 1, 2).copy())
            generated = net(pictures)
            costs = torch_costs(meta, filters, grams, pictures, generated)
            costs[0].backward()
            tf_generated = arrays["generated"].transpose(0, 3, 1, 2)
            ours, theirs = [], []
            for parameter, path in mapping:
                gradient = arrays["gradient/" + path]
                if gradient.ndim == 4:  # a kernel: HWIO -> OIHW
                    gradient = gradient.transpose(3, 2, 0, 1)
                theirs.append(gradient.reshape(parameter.shape).ravel())
                ours.append(parameter.grad.numpy().ravel())
            ours, theirs = np.concatenate(ours), np.concatenate(theirs)
            say(
                {
                    "costs": [float(c.detach()) for c in costs],
                    "generated_max_difference": float(np.abs(generated.detach().numpy() - tf_generated).max()),
                    "gradient_relative_difference": float(np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)),
                    "parameters": int(sum(p.numel() for p in net.parameters())),
                    "variables_compared": len(mapping),
                    "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                }
            )
            net.zero_grad()
            optimizer = torch.optim.Adam(net.parameters(), lr=meta["learning_rate"], eps=1e-7)  # Keras' epsilon
            state.update(meta=meta, net=net, grams=grams, optimizer=optimizer, shape=pictures.shape)
        elif command == "round":
            meta, net, optimizer = state["meta"], state["net"], state["optimizer"]
            generator = torch.Generator().manual_seed(len(state))
            times = []
            for _ in range(int(rest)):
                x = torch.rand(state["shape"], generator=generator) * 255  # the crops: ready, no input pipeline
                start = time.perf_counter()
                # pytorch/examples' step: zero_grad, the network, the loss, backward, Adam's step; its loop also reads
                # the costs back with .item().
                optimizer.zero_grad()
                y = net(x)
                J, J_content, J_style, _ = torch_costs(meta, filters, state["grams"], x, y)
                J.backward()
                optimizer.step()
                read = [J.item(), J_content.item(), J_style.item()]
                times.append(time.perf_counter() - start)
            say({"times": times, "load": os.getloadavg(), "last_costs": read})
        elif command == "profile":
            from torch.profiler import ProfilerActivity, profile

            meta, net, optimizer = state["meta"], state["net"], state["optimizer"]
            x = torch.rand(state["shape"]) * 255
            with profile(activities=[ProfilerActivity.CPU]) as profiler:
                optimizer.zero_grad()
                torch_costs(meta, filters, state["grams"], x, net(x))[0].backward()
                optimizer.step()
            rows = sorted(profiler.key_averages(), key=lambda row: -row.self_cpu_time_total)[: int(rest)]
            say(
                {
                    "total_ms": sum(row.self_cpu_time_total for row in profiler.key_averages()) / 1e3,
                    "top": [[row.key, row.self_cpu_time_total / 1e3, row.count] for row in rows],
                }
            )
        elif command:
            raise SystemExit(f"unknown command {command!r}")


# --- the run


def write_photos(folder, count, height, width):
    """Random JPEGs to train on (the first is also the style picture)."""
    import imageio.v3 as iio
    import numpy as np

    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for i in range(count):
        iio.imwrite(os.path.join(folder, f"p{i}.jpg"), rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def check_line(tf_check, torch_check):
    """The check's verdict: the largest relative difference of J and its parts, and whether all are in bounds."""
    differences = [abs(a - b) / max(abs(a), 1e-30) for a, b in zip(tf_check["costs"], torch_check["costs"])]
    ok = max(differences) <= COST_BOUND and torch_check["gradient_relative_difference"] <= GRADIENT_BOUND
    return {"cost_relative_difference": max(differences), "within_float32_rounding": ok}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64x64 crops, batch 2, one round of one step")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2, help="steps before the timed rounds (TensorFlow compiles)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round, each framework")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=os.cpu_count(),
        help="PyTorch's threads (default: every core, as TensorFlow uses; fewer shows what a shared machine costs "
        "PyTorch's OpenMP threads)",
    )
    parser.add_argument("--profile", action="store_true", help="at the end, PyTorch's step under torch.profiler")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, values = args.child[0], args.child[1:]
        if kind == "tensorflow":
            return tensorflow_child(values[0], values[1], *map(int, values[2:]))
        return torch_child(int(values[0]))
    if args.quick:
        args.size, args.batch_size, args.warmup, args.rounds, args.steps = 64, 2, 1, 1, 1

    results = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "size": args.size,
        "batch_size": args.batch_size,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as folder:
        write_filters(os.path.join(folder, "filters.npz"))
        photos = os.path.join(folder, "photos")
        write_photos(photos, max(16, 2 * args.batch_size), args.size + 44, args.size + 144)
        log_path = os.path.join(HERE, "results", "bench_fast_torch-children.log")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "w") as log:
            plan = (args.size, args.batch_size, args.warmup, args.rounds, args.steps)
            tf_child = Child(__file__, "tensorflow", (photos, folder, *plan), log)
            torch_child_ = Child(__file__, "torch", (args.torch_threads,), log)
            try:
                results.update(run(args, tf_child, torch_child_))
            finally:
                tf_child.close()
                torch_child_.close()
    results["load_at_end"] = os.getloadavg()
    report(results)


def run(args, tf_child, torch_child_):
    """The check, the warm-ups, then the alternating rounds; returns the results."""
    tf_check = tf_child.answer()["check"]
    torch_check = torch_child_.ask("check " + json.dumps(tf_check))
    out = {"check": {"tensorflow": tf_check, "torch": torch_check, **check_line(tf_check, torch_check)}}
    for key in ("path", "variables", "strides"):
        tf_check.pop(key)
    times = {"tensorflow": [], "torch": []}
    loads = []
    out["warmup"] = {
        "tensorflow": tf_child.ask("go")["times"],
        "torch": torch_child_.ask(f"round {args.warmup}")["times"],
    }
    print(f"warm-up: {out['warmup']}", flush=True)
    for number in range(args.rounds):
        for name, child, command in (("tensorflow", tf_child, "go"), ("torch", torch_child_, f"round {args.steps}")):
            answer = child.ask(command)
            times[name] += answer["times"]
            loads.append(answer["load"][0])
            print(f"round {number + 1} {name}: {[round(t, 3) for t in answer['times']]} (load {answer['load'][0]:.2f})")
    tf_child.answer()  # the training's end (its checkpoint and model written)
    if args.profile:
        out["torch_profile"] = torch_child_.ask("profile 12")
        print("PyTorch's step by operation (self CPU ms, calls):", flush=True)
        for name, milliseconds, calls in out["torch_profile"]["top"]:
            print(f"  {name:<40}{milliseconds:10.1f}{calls:6d}")
        print(f"  {'all':<40}{out['torch_profile']['total_ms']:10.1f}")
    out["times"] = times
    out["load_during"] = [min(loads), max(loads)]
    pictures = args.batch_size
    for name, values in times.items():
        seconds = statistics.median(values)
        out[name] = {"seconds_per_step": seconds, "pictures_per_second": pictures / seconds}
    out["tensorflow_speed_over_torch"] = out["torch"]["seconds_per_step"] / out["tensorflow"]["seconds_per_step"]
    out["recipe_hours"] = RECIPE_STEPS * out["tensorflow"]["seconds_per_step"] / 3600
    return out


def report(results):
    """Prints the results and writes them to benchmarks/results/."""
    check = results["check"]
    print(
        f"\nCPU {results['cpu']} ({results['cores']} cores), {results['size']}x{results['size']}, "
        f"batch {results['batch_size']}; {check['tensorflow']['versions']}, torch {check['torch']['torch']} "
        f"({check['torch']['threads']} threads); TensorFlow's jit_compile: {check['tensorflow']['jit_compile']}"
    )
    print(
        f"check on the same crops and weights: J {check['tensorflow']['costs'][0]:.6g} (TensorFlow) against "
        f"{check['torch']['costs'][0]:.6g} (PyTorch); largest relative difference of J and its parts "
        f"{check['cost_relative_difference']:.2e}, of the gradient "
        f"{check['torch']['gradient_relative_difference']:.2e}, "
        f"outputs within {check['torch']['generated_max_difference']:.2e} grey levels: "
        + ("within float32 rounding" if check["within_float32_rounding"] else "NOT THE SAME COMPUTATION")
    )
    for name in ("tensorflow", "torch"):
        figures = results[name]
        print(
            f"{name:<11} {figures['seconds_per_step']:8.3f} s a step  {figures['pictures_per_second']:7.3f} pictures/s"
        )
    print(
        f"TensorFlow's speed / PyTorch's: {results['tensorflow_speed_over_torch']:.3f}; the recipe's "
        f"{RECIPE_STEPS} steps at TensorFlow's step: {results['recipe_hours']:.1f} h"
    )
    print(
        f"load average: {results['load_at_start'][0]:.2f} at the start, {results['load_during'][0]:.2f} to "
        f"{results['load_during'][1]:.2f} during the rounds, {results['load_at_end'][0]:.2f} at the end"
    )
    print("written to", write_results("bench_fast_torch", results))


if __name__ == "__main__":
    main()
