"""Training throughput of the fast network across replicas, on this machine: pictures per second of train_fast_model
at 128x128, global batch 4 (real VGG-19 shapes, random filters), for

    one        one process, one device (TensorFlow's default strategy)
    mirrored   one process, MirroredStrategy over two logical CPU devices (the several-GPU code path)
    workers    two processes on 127.0.0.1, MultiWorkerMirroredStrategy from TF_CONFIG (the several-machine path)

    python benchmarks/bench_fast_workers.py [--steps 5] [--rounds 2]

Each run is a child process (logical devices and TF_CONFIG must be set before TensorFlow starts); the kinds take
turns, round after round, so that a change in the machine's load falls on all of them. The first two steps (tracing)
are left out of the time. The global batch is the same in all: the replicas split it, the step count is the same.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks.machine import cpu_name, write_results  # noqa: E402

SIZE, BATCH = 128, 4
KINDS = ("one", "mirrored", "workers")


def child(kind, steps, folder, output):
    """One training (one worker of it for `workers`): prints the chief's seconds per step as JSON."""
    import tensorflow as tf

    if kind == "mirrored":
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
        )
    import keras

    from neural_style.fast.distribute import choose_strategy
    from neural_style.fast.train import train_fast_model

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.stamps, self.cpu = [], []

        def on_train_batch_end(self, batch, logs=None):
            self.stamps.append(time.perf_counter())
            self.cpu.append(time.process_time())  # all the process's threads

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if kind == "mirrored" else choose_strategy()
    clock = Clock()
    model, summary = train_fast_model(
        f"{folder}/p0.jpg",
        folder,
        output,
        weights="random",
        size=SIZE,
        batch_size=BATCH,
        steps=steps + 2,
        checkpoint_every=steps + 2,
        callbacks=[clock],
        strategy=strategy,
    )
    seconds = (clock.stamps[-1] - clock.stamps[1]) / (len(clock.stamps) - 2)
    cpu = (clock.cpu[-1] - clock.cpu[1]) / (len(clock.cpu) - 2)
    print(
        json.dumps(
            {
                "seconds_per_step": seconds,
                "cpu_seconds_per_step": cpu,
                "replicas": strategy.num_replicas_in_sync,
                "chief": summary["chief"],
                "weights": model.count_params(),
            }
        )
    )


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run(kind, steps, folder, timeout=900):
    """One measurement of `kind`: the chief's answer (dict)."""
    tasks = 2 if kind == "workers" else 1
    ports = _free_ports(tasks)
    processes = []
    try:
        for index in range(tasks):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            env.pop("TF_CONFIG", None)
            if kind == "workers":
                cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
                env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            output = os.path.join(folder, f"out{index}", "m.keras")
            command = [sys.executable, __file__, "--child", kind, str(steps), folder, output]
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True))
        answers = [process.communicate(timeout=timeout)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    if any(process.returncode for process in processes):
        raise RuntimeError(f"{kind}: a process failed")
    results = [json.loads(answer.strip().splitlines()[-1]) for answer in answers]
    chief = next(result for result in results if result["chief"])
    # The CPU time of a step, all processes together: the work, whatever share of the cores the machine's load left.
    return {**chief, "cpu_seconds_per_step": sum(result["cpu_seconds_per_step"] for result in results)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=4, metavar=("KIND", "STEPS", "FOLDER", "OUTPUT"))
    args = parser.parse_args()
    if args.child:
        kind, steps, folder, output = args.child
        child(kind, int(steps), folder, output)
        return
    import imageio.v3 as iio
    import numpy as np

    results = {"cpu": cpu_name(), "cores": os.cpu_count(), "size": SIZE, "global_batch": BATCH, "steps": args.steps}
    results["load_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        for i in range(16):
            iio.imwrite(f"{folder}/p{i}.jpg", rng.integers(0, 255, (160, 200, 3), dtype=np.uint8))
        times = {kind: [] for kind in KINDS}
        cpu = {kind: [] for kind in KINDS}
        for round_ in range(args.rounds):
            for kind in KINDS:
                answer = run(kind, args.steps, folder)
                times[kind].append(answer["seconds_per_step"])
                cpu[kind].append(answer["cpu_seconds_per_step"])
                results["weights"] = answer["weights"]
                print(round_, kind, answer, "load", os.getloadavg(), flush=True)
    results["load_after"] = os.getloadavg()
    for kind in KINDS:
        best = min(times[kind])
        results[kind] = {
            "seconds_per_step": times[kind],
            "pictures_per_second": BATCH / best,
            "cpu_seconds_per_step": cpu[kind],
            "cpu_seconds_per_picture": min(cpu[kind]) / BATCH,
        }
    # The all-reduce a step sends: every trained weight's gradient, float32 (the ring sends 2 (n - 1) / n of it).
    results["gradient_megabytes"] = 4 * results["weights"] / 1e6
    print(json.dumps(results, indent=1))
    print("written to", write_results("bench_fast_workers", results))


if __name__ == "__main__":
    main()
