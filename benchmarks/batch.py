"""Jobs per hour of `neural-style batch` (in this process, --workers 2) against a shell loop of lone runs, and the
per-job overhead of the batch over a lone run, in one run.

    python benchmarks/batch.py            # 2 x 2 jobs at 64x64, 20 iterations, 2 rounds
    python benchmarks/batch.py --quick    # a smoke run: 2 x 1 jobs at 16x16, 2 iterations, 1 round
    python benchmarks/batch.py --ray-transfer   # what travels with a Ray job, on a two-node loopback cluster

Throughput: each mode is one command (start-up, weights and all) in a fresh process; the modes alternate round by
round so that a slow moment of a shared machine hits all of them alike, and the best round of each counts.
Overhead: in one process with the weights loaded once, the same jobs run as the main job runs one (StyleTransfer,
run, write the picture) and through stylize_many, alternating; the difference per job is what the batch adds. All
runs use the He-initialised random VGG-19 filters (the real file is not on the build machine; shapes and arithmetic,
so times, are the real ones). The figures are printed and written as JSON to benchmarks/results/.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

from machine import cpu_name, write_results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED_IMAGES = os.path.join(ROOT, "..", "shared", "images")


def inputs(folder, contents, styles, size):
    """Content and style pictures: the shared photos and paintings where present, else random pixels."""
    import imageio.v3 as iio
    import numpy as np

    shared = {
        "contents": ["tubingen.jpg", "shipwreck.jpg"],
        "styles": ["starry_night.jpg", "the_scream.jpg"],
    }
    rng = np.random.default_rng(0)
    paths = {}
    for kind, count in (("contents", contents), ("styles", styles)):
        os.makedirs(os.path.join(folder, kind))
        paths[kind] = []
        for k in range(count):
            name = shared[kind][k % 2]
            source = os.path.join(SHARED_IMAGES, name)
            target = os.path.join(folder, kind, f"{k}-{name}")
            if os.path.isfile(source):
                shutil.copyfile(source, target)
            else:
                iio.imwrite(target, rng.integers(0, 256, (size * 2, size * 2, 3), dtype=np.uint8))
            paths[kind].append(target)
    return paths


def throughput(folder, jobs_settings, rounds):
    """Wall time of each mode's whole command, rounds alternating; returns mode -> list of seconds."""
    shared = ["--weights", "random", "--quiet", *jobs_settings]
    environment = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    contents = sorted(os.path.join(folder, "contents", n) for n in os.listdir(os.path.join(folder, "contents")))
    styles = sorted(os.path.join(folder, "styles", n) for n in os.listdir(os.path.join(folder, "styles")))
    batch = [sys.executable, "-m", "neural_style", "batch", "--contents", *contents, "--styles", *styles, *shared]
    modes = {
        "batch, in-process": lambda out: [batch + ["--output-dir", out]],
        "batch --workers 2": lambda out: [batch + ["--output-dir", out, "--workers", "2"]],
        "loop of lone runs": lambda out: [
            [sys.executable, "-m", "neural_style", "--content", c, "--style", s, "--output", f"{out}/{k}.jpg"]
            + shared
            + ["--save-every", "0"]
            for k, (c, s) in enumerate((c, s) for c in contents for s in styles)
        ],
    }
    times = {mode: [] for mode in modes}
    for round_ in range(rounds):
        for mode, commands in modes.items():
            out = os.path.join(folder, f"out-{round_}-{mode.split()[0]}-{len(times[mode])}")
            start = time.perf_counter()
            for command in commands(out):
                subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)
            times[mode].append(time.perf_counter() - start)
            print(f"round {round_ + 1}: {mode}: {times[mode][-1]:.1f} s", flush=True)
    return times


def overhead(folder, size, iterations, rounds):
    """Per-job seconds as the main job runs a job and through stylize_many, same weights object, alternating."""
    sys.path.insert(0, ROOT)
    from neural_style.batch import grid_jobs, job_fingerprint, stylize_many
    from neural_style.image_files import write_image
    from neural_style.options import StyleOptions
    from neural_style.stylize import StyleTransfer
    from neural_style.weights import load_weights

    options = StyleOptions(weights=load_weights("random"), height=size, width=size, iterations=iterations, seed=0)
    jobs = grid_jobs([os.path.join(folder, "contents")], [os.path.join(folder, "styles")], "unused")
    lone, batch, optimisation, building, fingerprints = [], [], [], [], []
    StyleTransfer(jobs[0].content, list(jobs[0].styles), options).run()  # warm-up: TensorFlow's first-call costs
    for round_ in range(rounds):
        start, run_seconds, build_seconds, fingerprint_seconds = time.perf_counter(), 0.0, 0.0, 0.0
        for k, job in enumerate(jobs):
            built = time.perf_counter()
            transfer = StyleTransfer(job.content, list(job.styles), options)
            ran = time.perf_counter()
            image, _ = transfer.run()
            run_seconds += time.perf_counter() - ran
            build_seconds += ran - built
            write_image(os.path.join(folder, f"lone-{round_}", f"{k}.jpg"), image)
            stamped = time.perf_counter()
            job_fingerprint(transfer)  # what the batch adds to each job's work (outside the lone run's time)
            fingerprint_seconds += time.perf_counter() - stamped
            start += time.perf_counter() - stamped
        lone.append((time.perf_counter() - start) / len(jobs))
        optimisation.append(run_seconds / len(jobs))
        building.append(build_seconds / len(jobs))
        fingerprints.append(fingerprint_seconds / len(jobs))
        out = os.path.join(folder, f"batch-{round_}")
        named = [
            job.__class__(job.content, job.styles, os.path.join(out, os.path.basename(job.output))) for job in jobs
        ]
        start = time.perf_counter()
        results = list(stylize_many(named, os.path.join(out, "results.jsonl"), options=options))
        batch.append((time.perf_counter() - start) / len(jobs))
        assert all(result.status == "done" for result in results), [result.error for result in results]
        print(f"round {round_ + 1}: per job: lone {lone[-1]:.2f} s, batch {batch[-1]:.2f} s", flush=True)
    return {
        "lone": lone,
        "batch": batch,
        "optimisation (run)": optimisation,
        "building (targets, model)": building,
        "fingerprint": fingerprints,
    }


def _echo_pixels(data, height, width):
    """A Ray task that receives a picture's bytes and returns an (H, W, 3) uint8 picture, as a batch job does."""
    import numpy as np

    return np.full((height, width, 3), len(data) % 256, np.uint8)


def ray_transfer(repeats=20):
    """
    What travels with a Ray job, timed on a two-node loopback cluster: a task with nothing, and a task that gets a
    1 MB input (put once, as the batch puts each input file) and returns a 300x400 picture's pixels.

    Returns:
    seconds -- dict name -> median seconds per task
    """
    import statistics

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep every Ray process on 127.0.0.1
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        task = ray.remote(_echo_pixels).options(num_cpus=1)
        data = os.urandom(1 << 20)
        timings = {"empty task": [], "1 MB in, 300x400 pixels back": []}
        ray.get([task.remote(b"", 1, 1) for _ in range(4)])  # workers started on both nodes
        for _ in range(repeats):
            start = time.perf_counter()
            ray.get(task.remote(b"", 1, 1))
            timings["empty task"].append(time.perf_counter() - start)
            start = time.perf_counter()
            ray.get(task.remote(ray.put(data), 300, 400))
            timings["1 MB in, 300x400 pixels back"].append(time.perf_counter() - start)
        return {name: statistics.median(values) for name, values in timings.items()}
    finally:
        ray.shutdown()
        cluster.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run at a tiny size")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ray-transfer", action="store_true", help="only time what travels with a Ray job")
    parser.add_argument("--overhead-only", action="store_true", help="only the per-job overhead, no throughput")
    args = parser.parse_args()
    if args.ray_transfer:
        for name, seconds in ray_transfer().items():
            print(f"{name}: {seconds * 1000:.1f} ms per task (median of 20; CPU: {cpu_name()})")
        return
    if args.quick:
        args.size, args.iterations, args.rounds = 16, 2, 1
    contents, styles = (2, 1) if args.quick else (2, 2)
    settings = ["--height", str(args.size), "--width", str(args.size), "--iterations", str(args.iterations)]
    settings += ["--seed", "0"]
    report = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load average before": os.getloadavg(),
        "python": platform.python_version(),
        "jobs": contents * styles,
        "size": args.size,
        "iterations": args.iterations,
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory(prefix="neural-style-batch-bench-") as folder:
        inputs(folder, contents, styles, args.size)
        report["overhead seconds per job"] = overhead(folder, args.size, args.iterations, args.rounds)
        if not args.overhead_only:
            report["throughput seconds"] = throughput(folder, settings, args.rounds)
    report["load average after"] = os.getloadavg()
    jobs = report["jobs"]
    print(
        f"\nCPU: {report['cpu']} ({report['cores']} cores); {jobs} jobs at {args.size}x{args.size}, "
        f"{args.iterations} iterations; best of {args.rounds} alternating rounds"
    )
    for mode, seconds in report.get("throughput seconds", {}).items():
        print(f"{mode}: {min(seconds):.1f} s, {jobs * 3600 / min(seconds):.0f} jobs/hour")
    per_job = {name: min(values) for name, values in report["overhead seconds per job"].items()}
    added = per_job["batch"] / per_job["lone"] - 1
    print(
        f"per job: lone {per_job['lone']:.2f} s (optimisation {per_job['optimisation (run)']:.2f} s, building "
        f"{per_job['building (targets, model)']:.2f} s), batch {per_job['batch']:.2f} s: the batch adds {added:+.1%}; "
        f"its fingerprint {per_job['fingerprint']:.3f} s = {per_job['fingerprint'] / per_job['lone']:.1%} of a job"
    )
    print(f"written {write_results('batch', report)}")


if __name__ == "__main__":
    main()
