"""Peak memory against the number of jobs of `neural-style batch` and of frames of `neural-style video`, and the time a
job saves by sharing one compiled step per picture size (shared_steps.SharedSteps) instead of building its own.

    python benchmarks/memory.py                        # jobs 1 10 100 1000, frames 10 100 200, 3 rounds of the saving
    python benchmarks/memory.py --jobs 1 10 --frames 10 --rounds 1 --saving-jobs 5   # a smoke run

Each run of a command is a fresh process (start-up, weights and all) whose peak resident memory (ru_maxrss, read by
os.wait4 for that child alone) is recorded with its wall time. The batches are grids of tiny random pictures (one
content size, so one shared step), the videos folders of tiny frames of a moving pattern; every run uses the
He-initialised random VGG-19 filters (real shapes, so real memory and arithmetic), --max-size 32 and 2 iterations.

The saving: in one child process with the weights loaded once, jobs run through the batch's Worker as it is now
(shared) and as it was before (a new SharedSteps per job: a new network and a new traced step for every job, the old
path, kept only here); the two alternate round by round so that a slow moment of a shared machine hits both alike.
The figures are printed and written as JSON to benchmarks/results/.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from machine import cpu_name, write_results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TINY = ["--weights", "random", "--max-size", "32", "--iterations", "2", "--quiet"]
# A run that takes longer than this is stopped and reported as such (a bounded wait, whatever the machine).
RUN_LIMIT_SECONDS = 6 * 3600


def peak_run(command, limit=RUN_LIMIT_SECONDS):
    """
    Runs a command in a child process and measures it.

    Arguments:
    command -- argument list
    limit -- seconds before the child is killed

    Returns:
    result -- dict: exit code, wall seconds, peak resident memory of the child in MB (ru_maxrss)
    """
    environment = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    child = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - start > limit:
            child.kill()
            pid, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = child.stderr.read().decode(errors="replace").strip().splitlines()
    child.stderr.close()
    return {
        "exit": child.returncode,
        "seconds": round(seconds, 1),
        "peak_mb": round(usage.ru_maxrss / 1024),
        "last_error_line": errors[-1] if child.returncode and errors else None,
    }


def tiny_pictures(folder, count, seed, shape=(40, 48)):
    """`count` random pictures of one shape in a new folder; returns the folder."""
    import imageio.v3 as iio
    import numpy as np

    os.makedirs(folder)
    rng = np.random.default_rng(seed)
    for k in range(count):
        iio.imwrite(os.path.join(folder, f"{k:05d}.png"), rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    return folder


def tiny_frames(folder, count, shape=(40, 48)):
    """`count` numbered frames of a pattern moving one pixel a frame (so the flow has something to follow)."""
    import imageio.v3 as iio
    import numpy as np

    os.makedirs(folder)
    height, width = shape
    rng = np.random.default_rng(1)
    scene = rng.integers(0, 256, (height, width + count, 3), dtype=np.uint8)
    for k in range(count):
        iio.imwrite(os.path.join(folder, f"{k:05d}.png"), scene[:, k : k + width])
    return folder


def grid(count):
    """Contents x styles making `count` jobs: up to 10 styles, the rest contents."""
    styles = 10 if count % 10 == 0 else 1
    return count // styles, styles


def measure_jobs(folder, counts):
    """Peak memory of `neural-style batch` over grids of `counts` jobs."""
    rows = []
    for count in counts:
        contents, styles = grid(count)
        base = os.path.join(folder, f"jobs-{count}")
        command = [sys.executable, "-m", "neural_style", "batch"]
        command += ["--contents", tiny_pictures(os.path.join(base, "contents"), contents, seed=count)]
        command += ["--styles", tiny_pictures(os.path.join(base, "styles"), styles, seed=count + 1, shape=(48, 40))]
        command += ["--output-dir", os.path.join(base, "out"), *TINY]
        result = {"jobs": count, **peak_run(command)}
        out = os.path.join(base, "out")
        result["pictures_written"] = sum(name.endswith(".jpg") for name in os.listdir(out)) if os.path.isdir(out) else 0
        result["per_job_seconds"] = round(result["seconds"] / count, 2)
        print(json.dumps(result), flush=True)
        rows.append(result)
    return rows


def measure_frames(folder, counts):
    """Peak memory of `neural-style video` over folders of `counts` frames."""
    rows = []
    for count in counts:
        base = os.path.join(folder, f"frames-{count}")
        style = tiny_pictures(os.path.join(base, "style"), 1, seed=7)
        command = [sys.executable, "-m", "neural_style", "video", "--content", tiny_frames(base + "/in", count)]
        command += ["--style", os.path.join(style, "00000.png"), "--output", os.path.join(base, "out"), *TINY]
        result = {"frames": count, **peak_run(command)}
        out = os.path.join(base, "out")
        result["frames_written"] = len(os.listdir(out)) if os.path.isdir(out) else 0
        result["per_frame_seconds"] = round(result["seconds"] / count, 2)
        print(json.dumps(result), flush=True)
        rows.append(result)
    return rows


def saving_child(mode, count, folder):
    """In this process: `count` jobs through one Worker, shared or each with its own step (the old path); prints
    JSON with each job's seconds and the peak memory."""
    import resource

    sys.path.insert(0, ROOT)
    from neural_style.batch.jobs import Job
    from neural_style.batch.workers import Worker
    from neural_style.options import StyleOptions
    from neural_style.shared_steps import SharedSteps

    contents = sorted(os.path.join(folder, "contents", n) for n in os.listdir(os.path.join(folder, "contents")))
    styles = sorted(os.path.join(folder, "styles", n) for n in os.listdir(os.path.join(folder, "styles")))
    worker = Worker(StyleOptions(weights="random", max_size=32, iterations=2))
    seconds = []
    for k in range(count):
        if mode == "own step":
            worker.steps = SharedSteps()  # the old path: a new network and a new trace for this job
        job = Job(contents[k % len(contents)], (styles[k % len(styles)],), os.path.join(folder, f"{k}.jpg"))
        start = time.perf_counter()
        result = worker.run(job)
        seconds.append(time.perf_counter() - start)
        assert result.status == "done", result.error
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": round(peak)}))


def measure_saving(folder, rounds, count):
    """Per-job seconds of the shared step against a step per job, alternating in child processes."""
    base = os.path.join(folder, "saving")
    tiny_pictures(os.path.join(base, "contents"), 4, seed=3)
    tiny_pictures(os.path.join(base, "styles"), 4, seed=4, shape=(48, 40))
    environment = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    runs = {"shared step": [], "own step": []}
    for _ in range(rounds):
        for mode in runs:
            command = [sys.executable, os.path.abspath(__file__), "saving-child", mode, str(count), base]
            done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=3600)
            if done.returncode:
                raise SystemExit(f"saving child ({mode}) failed: {done.stderr.strip().splitlines()[-1:]}")
            runs[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(mode, runs[mode][-1]["peak_mb"], "MB", [round(s, 2) for s in runs[mode][-1]["seconds"]], flush=True)
    summary = {}
    for mode, results in runs.items():
        # The first job of a process builds everything in both modes: the saving is in the jobs after it.
        later = sorted(s for result in results for s in result["seconds"][1:])
        summary[mode] = {
            "median_seconds_after_first_job": round(later[len(later) // 2], 3),
            "first_job_seconds": [round(result["seconds"][0], 2) for result in results],
            "peak_mb": [result["peak_mb"] for result in results],
        }
    return {"jobs_per_process": count, "rounds": rounds, **summary}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "saving-child":
        saving_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 10, 100, 1000])
    parser.add_argument("--frames", type=int, nargs="*", default=[10, 100, 200])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the saving (0: skip it)")
    parser.add_argument("--saving-jobs", type=int, default=10, help="jobs per process in the saving")
    arguments = parser.parse_args()
    results = {"cpu": cpu_name(), "cores": len(os.sched_getaffinity(0)), "settings": " ".join(TINY)}
    with tempfile.TemporaryDirectory(prefix="neural-style-memory-") as folder:
        if arguments.rounds:
            results["saving"] = measure_saving(folder, arguments.rounds, arguments.saving_jobs)
            print(json.dumps(results["saving"]), flush=True)
        results["jobs"] = measure_jobs(folder, arguments.jobs)
        results["frames"] = measure_frames(folder, arguments.frames)
    print("written", write_results("memory", results))


if __name__ == "__main__":
    main()
