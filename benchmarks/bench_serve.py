"""`neural-style serve` as a user meets it: how long until the picture appears for a 1 MP photo (the request sent,
the PNG received), one at a time and four at once, and the server's resident memory over 500 requests.

    flock /tmp/bench.lock python benchmarks/bench_serve.py [--requests 500] [--latency 20] [--json OUT.json]

The real command runs in a child process (`python -m neural_style serve --port 0 --weights random`, on 127.0.0.1);
the client is httpx in this process. The photo is the demo's Tübingen photograph resized with Lanczos to 1155x866
(1.00 MP) and sent as a JPEG (quality 92), the painting the demo's Starry Night, as a browser page sends them.

- Latency, concurrency 1: `--latency` requests one after the other with the same painting (a slider moved: the
  painting's style vector is kept by the server) at strengths 1, 0.8, 0.6, ... (below 1 the photo's own vector is
  computed too), and as many with a new painting each time (one pixel changed: the predictor runs again).
- Latency, concurrency 4: four client threads, `--latency` requests each, at once (the pool runs one at a time and
  queues the rest: the figure includes the wait).
- Memory: `--requests` requests of varied sizes (five photo sizes from 0.13 to 1 MP), strengths, mixes and regions,
  the server's VmRSS read from /proc every 50; flat means the last reading within a few percent of the one after the
  first 50 (the caches and the compiled passes filled).

The figures are printed and written as JSON to benchmarks/results/. Run it alone (flock a lock file shared with the
other benchmarks): it is a timing.
"""

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
from machine import cpu_name, write_results
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEMO = os.path.join(ROOT, "neural_style", "demo")
ONE_MP = (1155, 866)  # width x height, 1.0002 MP, the photo's aspect ratio
SIZES = [(420, 315), (640, 480), (800, 600), (1024, 768), (1155, 866)]


def jpeg(picture, quality=92):
    """A PIL picture as JPEG bytes."""
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def pictures():
    """The demo photo at each of SIZES (JPEG bytes, by size) and the painting (PNG bytes) as a PIL picture."""
    with Image.open(os.path.join(DEMO, "tubingen.jpg")) as photo:
        photos = {size: jpeg(photo.convert("RGB").resize(size, Image.LANCZOS)) for size in SIZES}
    with Image.open(os.path.join(DEMO, "starry_night.jpg")) as painting:
        painting = painting.convert("RGB")
        painting.load()
    return photos, painting


def png(picture):
    """A PIL picture or an array as PNG bytes."""
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def start_server():
    """The server in a child process; returns (process, base URL) once its ready line is read (bounded: 300 s)."""
    command = [sys.executable, "-m", "neural_style", "serve", "--port", "0", "--weights", "random"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    lines = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(300)
    match = re.match(r"Serving on (http://\S+/)", lines[0] if lines else "")
    if not match:
        process.kill()
        raise SystemExit(f"the server gave no ready line within 300 s ({lines})")
    return process, match.group(1).rstrip("/")


def resident_mb(pid):
    """A process's resident memory (VmRSS) in MB."""
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stylize(client, photo, painting, fields=None, extra=None):
    """One request; returns its seconds (the PNG received) and raises on any answer but 200."""
    files = {"content": ("photo.jpg", photo, "image/jpeg"), "style": ("painting.png", painting, "image/png")}
    files.update(extra or {})
    start = time.perf_counter()
    response = client.post("/api/stylize", files=files, data=fields or {})
    seconds = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"the server answered {response.status_code}: {response.text}")
    return seconds


def quantiles(seconds):
    """p50 and p95 (numpy's linear interpolation), rounded to ms."""
    return {
        "p50": round(float(np.percentile(seconds, 50)), 3),
        "p95": round(float(np.percentile(seconds, 95)), 3),
        "n": len(seconds),
    }


def latency(base, photo, painting, count):
    """Concurrency 1: the same painting (strengths varied), then a new painting each time."""
    same, new = [], []
    painting_png = png(painting)
    with httpx.Client(base_url=base, timeout=300) as client:
        stylize(client, photo, painting_png)  # the painting's vector kept from here on, as after a first drop
        for index in range(count):
            strength = 1 - 0.2 * (index % 5)
            same.append(stylize(client, photo, painting_png, {"strength": f"{strength:.1f}"}))
        pixels = np.asarray(painting).copy()
        for index in range(count):
            pixels[0, 0, 0] = (int(pixels[0, 0, 0]) + 1) % 256  # a new painting's bytes: the predictor runs
            new.append(stylize(client, photo, png(pixels)))
    return same, new


def concurrent(base, photo, painting, count, threads=4):
    """Four clients at once, `count` requests each; every request's seconds."""
    painting_png = png(painting)
    seconds, errors = [], []

    def client_loop():
        try:
            with httpx.Client(base_url=base, timeout=600) as client:
                for _ in range(count):
                    seconds.append(stylize(client, photo, painting_png))
        except BaseException as error:  # noqa: BLE001 -- reported below, with the figures
            errors.append(repr(error))

    workers = [threading.Thread(target=client_loop) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise SystemExit(f"concurrent requests failed: {errors[0]}")
    return seconds, time.perf_counter() - start


def memory(base, pid, photos, painting, requests):
    """`requests` varied requests; the server's VmRSS before them and after every 50."""
    painting_png = png(painting)
    second = png(np.asarray(painting)[::-1].copy())
    readings = [(0, round(resident_mb(pid), 1))]
    with httpx.Client(base_url=base, timeout=300) as client:
        for index in range(1, requests + 1):
            size = SIZES[index % len(SIZES)]
            fields = {"strength": f"{1 - 0.25 * (index % 3):.2f}", "style_size": str(256 if index % 4 else 192)}
            extra = {}
            if index % 5 == 1:
                extra["style2"] = ("painting2.png", second, "image/png")
                fields["mix"] = "0.3"
            if index % 10 == 3:
                extra["style2"] = ("painting2.png", second, "image/png")
                mask = np.zeros((size[1], size[0]), np.uint8)
                mask[:, size[0] // 2 :] = 255
                extra["region"] = ("region.png", png(mask), "image/png")
            stylize(client, photos[size], painting_png, fields, extra)
            if index % 50 == 0:
                readings.append((index, round(resident_mb(pid), 1)))
                print(f"  {index} requests: {readings[-1][1]} MB", flush=True)
    return readings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=int, default=20, help="requests per latency series (default 20)")
    parser.add_argument("--requests", type=int, default=500, help="requests of the memory series (default 500)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    photos, painting = pictures()
    photo = photos[ONE_MP]
    process, base = start_server()
    try:
        ready_mb = resident_mb(process.pid)
        same, new = latency(base, photo, painting, args.latency)
        print(f"1 MP, concurrency 1, same painting: {quantiles(same)}", flush=True)
        print(f"1 MP, concurrency 1, new painting each time: {quantiles(new)}", flush=True)
        together, wall = concurrent(base, photo, painting, args.latency // 2 or 1)
        print(f"1 MP, concurrency 4: {quantiles(together)}, {len(together) / wall:.2f} pictures/s", flush=True)
        readings = memory(base, process.pid, photos, painting, args.requests)
    finally:
        process.terminate()
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    results = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "photo": f"{ONE_MP[0]}x{ONE_MP[1]} JPEG",
        "server_rss_ready_mb": round(ready_mb, 1),
        "concurrency_1_same_painting": quantiles(same),
        "concurrency_1_new_painting": quantiles(new),
        "concurrency_4": {**quantiles(together), "pictures_per_second": round(len(together) / wall, 3)},
        "rss_mb_by_requests": readings,
        "exit_code_after_sigterm": code,
        "raw": {"same": same, "new": new, "concurrent": together},
    }
    print(json.dumps({key: value for key, value in results.items() if key != "raw"}, indent=1))
    path = write_results("bench_serve", results)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)
    print(f"written to {path}; median load {statistics.median(os.getloadavg()):.1f}")


if __name__ == "__main__":
    main()
