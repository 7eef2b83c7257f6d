"""`neural-style video --model magenta-26 --style-index K` on a short synthetic 4K clip (3840x2160): seconds a
frame, peak memory, whether it streams, the disk it uses, and whether its frames are apply's.

    python benchmarks/bench_video_4k.py                      # 7 to 9 minutes on 2 shared cores
    python benchmarks/bench_video_4k.py --frames 2,4 --check-frames 2   # checks that it runs

The clip: the demo's Tübingen photograph (Andreas Praefcke, CC BY 3.0) scaled up with Lanczos so that its height is
2160, and a 3840x2160 window panned across it PAN pixels a frame, written as H.264 (libx264, yuv420p, 25 fps) with
imageio-ffmpeg. The time of a pass does not depend on the content.

The runs, each `neural-style video --model magenta-26 --style-index K --content CLIP --output OUT` in its own process
(the command as a user types it: start-up, decoding, the passes, encoding), one after another:

- OUT an .mp4, once for each length of --frames (default 6 and 60 frames): wall seconds, the command's own "s a
  frame" line, and the seconds a frame from the difference of the two lengths (start-up cancels). Peak memory: the
  command's ru_maxrss (os.wait4) and the peak of its process tree's resident memory (the command and its ffmpeg
  reader and writer, /proc sampled every SAMPLE seconds). It streams when the peaks of the two lengths are the same
  (each more 4K frame held would add 24.9 MB as uint8, four times that as float32), and the resident memory
  after the first frames stays flat; the command's own memory and its process tree's (with the ffmpeg reader and
  writer: libx264 holds up to its look-ahead's frames, 40 at its default preset) are sampled apart. Disk: the
  output folder's size, sampled likewise (the atomic write's temporary file grows there), and the finished file.
  The result: its size and frame count as ffmpeg reads them. Then ffmpeg's writer alone (--encoder-frames, fed as
  fast as it takes them), its resident memory every 10 frames: where libx264's share levels off.
- OUT a folder of PNG frames (lossless), --check-frames long: frame CHECK_INDEX of the folder against `neural-style
  apply --model magenta-26 --style-index K --content FRAME.png --output APPLIED.png --max-memory M` on the clip's
  frame CHECK_INDEX as ffmpeg decodes it (the bytes the video command got), once for each M of --apply-max-memory
  (the route apply takes depends on it: LiteRT, the whole Keras pass, or streamed tiles): the largest and mean
  difference in grey levels, and how many values differ by more than one.

The bench process itself imports neither TensorFlow nor the package (its own peak stays small, so the children's
ru_maxrss are their own). Results are printed and written as JSON to benchmarks/results/.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import imageio_ffmpeg
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks.machine import cpu_name, write_results  # noqa: E402

HEIGHT, WIDTH, FPS = 2160, 3840, 25
PAN = 16  # pixels a frame, to the right
SAMPLE = 0.25  # seconds between samples of memory and disk
PHOTO = os.path.join(ROOT, "neural_style", "demo", "tubingen.jpg")


def make_clip(path, frames, height=HEIGHT, width=WIDTH, pan=PAN):
    """
    Writes a clip of a window panned across the demo photograph, scaled up to the clip's height.

    Arguments:
    path -- the .mp4 file
    frames -- how many frames
    height, width -- the frames' size
    pan -- pixels the window moves right each frame

    Returns:
    None
    """
    photo = Image.open(PHOTO).convert("RGB")
    span = width + pan * (frames - 1)
    scale = max(height / photo.height, span / photo.width)
    big = np.asarray(photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS))
    top = (big.shape[0] - height) // 2
    writer = imageio_ffmpeg.write_frames(
        path, (width, height), fps=FPS, codec="libx264", quality=8, ffmpeg_log_level="error"
    )
    writer.send(None)
    try:
        for k in range(frames):
            writer.send(np.ascontiguousarray(big[top : top + height, k * pan : k * pan + width]))
    finally:
        writer.close()


def read_frame(path, index):
    """
    One frame of a video as ffmpeg decodes it (as the video command reads it).

    Arguments:
    path -- the video
    index -- the frame's number, from 0

    Returns:
    frame -- uint8 (H, W, 3)
    """
    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    width, height = meta["size"]
    try:
        for k, buffer in enumerate(reader):
            if k == index:
                return np.frombuffer(buffer, np.uint8).reshape(height, width, 3).copy()
    finally:
        reader.close()
    raise ValueError(f"{path} has no frame {index}")


def tree_rss(pid):
    """
    The resident memory of a process and of it with all its descendants (Linux /proc), in bytes.

    Arguments:
    pid -- the process

    Returns:
    own, tree -- ints (0 once it is gone)
    """
    total, own, stack = 0, None, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as file:
                total += next((int(line.split()[1]) * 1024 for line in file if line.startswith("VmRSS:")), 0)
            own = total if own is None else own
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as file:
                    stack += [int(child) for child in file.read().split()]
        except (OSError, ValueError):
            continue
    return own or 0, total


def folder_bytes(folder):
    """
    The bytes of the files in a folder and its subfolders (0 when it does not exist).

    Arguments:
    folder -- path

    Returns:
    bytes -- int
    """
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(parent, name))
            except OSError:
                pass  # a temporary file renamed or removed between the listing and the size
    return total


def run_command(command, watch_folder):
    """
    Runs a command, sampling its process tree's memory and a folder's size until it ends.

    Arguments:
    command -- argv
    watch_folder -- the folder whose size is sampled (the output's)

    Returns:
    run -- dict: seconds, exit code, ru_maxrss MB, samples [(seconds, tree RSS MB, folder MB, the command's own RSS
           MB)], stderr's last lines
    """
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
    errors = tempfile.TemporaryFile()
    start = time.perf_counter()
    child = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
    samples, done = [], threading.Event()

    def sample():
        while not done.wait(SAMPLE):
            moment = time.perf_counter() - start
            own, tree = tree_rss(child.pid)
            samples.append((moment, tree / 2**20, folder_bytes(watch_folder) / 2**20, own / 2**20))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    errors.seek(0)
    lines = errors.read().decode(errors="replace").strip().splitlines()
    return {
        "command": command,
        "seconds": seconds,
        "exit": os.waitstatus_to_exitcode(status),
        "ru_maxrss_mb": usage.ru_maxrss / 1024,
        "peak_tree_rss_mb": max((sample[1] for sample in samples), default=0.0),
        "peak_folder_mb": max((sample[2] for sample in samples), default=0.0),
        "samples": samples,
        "stderr_tail": lines[-5:],
    }


def per_frame_line(lines):
    """
    The video command's own figure from its closing line, "wrote OUT (N frames, X s a frame)".

    Arguments:
    lines -- the last lines of its standard error

    Returns:
    (frames, seconds a frame), or None where no such line is there
    """
    for line in reversed(lines):
        found = re.search(r"\((\d+) frames, ([0-9.]+) s a frame\)", line)
        if found:
            return int(found.group(1)), float(found.group(2))
    return None


def encoder_memory(frames, every=10, height=HEIGHT, width=WIDTH):
    """
    The resident memory of ffmpeg's writer alone, fed the clip's kind of frames with the video command's settings
    (neural_style.video.frames.write_video's: libx264, yuv420p, quality 8), as the frames go in: whether what the
    encoder holds (its look-ahead) levels off.

    Arguments:
    frames -- how many frames to write (to a temporary file, removed)
    every -- a sample after every `every` frames
    height, width -- the frames' size

    Returns:
    samples -- [(frames sent, ffmpeg's resident MB)]
    """
    photo = Image.open(PHOTO).convert("RGB")
    span = width + PAN * (frames - 1)
    scale = max(height / photo.height, span / photo.width)
    big = np.asarray(photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS))
    samples = []
    with tempfile.TemporaryDirectory() as folder:
        writer = imageio_ffmpeg.write_frames(
            os.path.join(folder, "encoded.mp4"),
            (width, height),
            fps=FPS,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=2,
            quality=8,
            ffmpeg_log_level="error",
        )
        writer.send(None)
        try:
            for k in range(frames):
                writer.send(np.ascontiguousarray(big[:height, k * PAN : k * PAN + width]))
                if (k + 1) % every == 0:
                    own, tree = tree_rss(os.getpid())
                    samples.append((k + 1, (tree - own) / 2**20))
        finally:
            writer.close()
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", default="6,60", help="the .mp4 runs' lengths, two of them (default 6,60)")
    parser.add_argument("--check-frames", type=int, default=6, help="the PNG run's length (default 6)")
    parser.add_argument("--check-index", type=int, default=3, help="the frame held against apply (default 3)")
    parser.add_argument("--style-index", type=int, default=7)
    parser.add_argument(
        "--apply-max-memory",
        default="16,8",
        help="apply's --max-memory, GB, one apply each ('' for none; default 16,8: on a 23 GB machine the whole "
        "Keras pass, then the streamed tiles)",
    )
    parser.add_argument("--encoder-frames", type=int, default=150, help="frames for the writer alone (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    args = parser.parse_args()
    lengths = [int(n) for n in args.frames.split(",")]
    work = tempfile.mkdtemp(prefix="bench_video_4k-", dir=os.path.join(HERE, "results") if args.keep else None)
    neural_style = shutil.which("neural-style") or "neural-style"
    style = ["--model", "magenta-26", "--style-index", str(args.style_index)]
    report = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "size": [HEIGHT, WIDTH],
        "style_index": args.style_index,
        "load_average_before": os.getloadavg(),
        "runs": [],
    }
    print(f"{report['cpu']}, {os.cpu_count()} cores; work folder {work}", flush=True)
    for frames in sorted(set(lengths + [max(args.check_frames, args.check_index + 1)])):
        start = time.perf_counter()
        make_clip(os.path.join(work, f"clip{frames}.mp4"), frames)
        print(f"clip of {frames} frames written in {time.perf_counter() - start:.1f} s", flush=True)

    for frames in lengths:
        clip = os.path.join(work, f"clip{frames}.mp4")
        folder = os.path.join(work, f"out{frames}")
        os.makedirs(folder)
        output = os.path.join(folder, "styled.mp4")
        run = run_command([neural_style, "video", *style, "--content", clip, "--output", output], folder)
        run.update(
            frames=frames,
            kind="mp4",
            clip_mb=os.path.getsize(clip) / 2**20,
            own_line=per_frame_line(run["stderr_tail"]),
        )
        if run["exit"] == 0:
            count, _ = imageio_ffmpeg.count_frames_and_secs(output)
            reader = imageio_ffmpeg.read_frames(output)
            run["output"] = {"size": next(reader)["size"], "frames": count, "mb": os.path.getsize(output) / 2**20}
            reader.close()
        report["runs"].append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "samples"}), flush=True)

    # The PNG run, and apply on one of its frames.
    frames = max(args.check_frames, args.check_index + 1)
    clip = os.path.join(work, f"clip{frames}.mp4")
    folder = os.path.join(work, "png")
    run = run_command([neural_style, "video", *style, "--content", clip, "--output", folder], folder)
    run.update(frames=frames, kind="png folder", own_line=per_frame_line(run["stderr_tail"]))
    report["runs"].append(run)
    print(json.dumps({k: v for k, v in run.items() if k != "samples"}), flush=True)
    if run["exit"] == 0:
        names = sorted(os.listdir(folder))
        ours = np.asarray(Image.open(os.path.join(folder, names[args.check_index])), np.int32)
        frame_png = os.path.join(work, "frame.png")
        Image.fromarray(read_frame(clip, args.check_index)).save(frame_png)
        report["checks"] = []
        for memory in args.apply_max_memory.split(","):
            applied = os.path.join(work, f"applied-{memory or 'default'}.png")
            command = [neural_style, "apply", *style, "--content", frame_png, "--output", applied]
            command += ["--max-memory", memory] if memory else []
            apply_run = run_command(command, os.path.join(work, "none"))
            check = {"png_frames": len(names), "max_memory": memory or None}
            check["apply"] = {k: v for k, v in apply_run.items() if k != "samples"}
            if apply_run["exit"] == 0:
                difference = np.abs(ours - np.asarray(Image.open(applied), np.int32))
                check.update(
                    shape=list(ours.shape),
                    max_difference=int(difference.max()),
                    mean_difference=float(difference.mean()),
                    above_one=int(np.count_nonzero(difference > 1)),
                )
            report["checks"].append(check)
            print(json.dumps(check), flush=True)

    if args.encoder_frames:
        report["encoder_alone"] = encoder_memory(args.encoder_frames)
    report["load_average_after"] = os.getloadavg()
    mp4 = [run for run in report["runs"] if run["kind"] == "mp4" and run["exit"] == 0]
    if len(mp4) >= 2:
        short, long = mp4[0], mp4[-1]
        report["seconds_a_frame_from_difference"] = (long["seconds"] - short["seconds"]) / (
            long["frames"] - short["frames"]
        )
    print()
    for run in report["runs"]:
        # The process tree's resident memory, its largest in each quarter of the run: flat once the passes run when
        # the frames stream.
        quarters = [[s for s in run["samples"] if q / 4 <= s[0] / run["seconds"] < (q + 1) / 4] for q in range(4)]
        run["peak_rss_by_quarter_mb"] = [max((s[1] for s in values), default=0.0) for values in quarters]
        run["peak_own_rss_by_quarter_mb"] = [max((s[3] for s in values), default=0.0) for values in quarters]
        print(
            f"{run['kind']:10} {run['frames']:3} frames: exit {run['exit']}, {run['seconds']:.1f} s "
            f"(own line: {run['own_line']}), ru_maxrss {run['ru_maxrss_mb']:.0f} MB, tree peak "
            f"{run['peak_tree_rss_mb']:.0f} MB, output folder peak {run['peak_folder_mb']:.0f} MB, "
            f"result {run.get('output')}; tree peak by quarter of the run "
            f"{', '.join(f'{mb:.0f}' for mb in run['peak_rss_by_quarter_mb'])} MB, of the command alone "
            f"{', '.join(f'{mb:.0f}' for mb in run['peak_own_rss_by_quarter_mb'])} MB"
        )
    for check in report.get("checks", []):
        apply_run = check["apply"]
        print(
            f"frame {args.check_index} against apply --max-memory {check['max_memory']}: exit {apply_run['exit']}, "
            f"{apply_run['seconds']:.1f} s, ru_maxrss {apply_run['ru_maxrss_mb']:.0f} MB; largest difference "
            f"{check.get('max_difference')}, mean {check.get('mean_difference', float('nan')):.3f}, "
            f"{check.get('above_one')} values above 1 grey level ({apply_run['stderr_tail'][-1:]})"
        )
    if "encoder_alone" in report:
        samples = ", ".join(f"{n}: {mb:.0f}" for n, mb in report["encoder_alone"])
        print(f"ffmpeg's writer alone, resident MB after N frames: {samples}")
    if "seconds_a_frame_from_difference" in report:
        print(f"seconds a frame (difference of the two lengths): {report['seconds_a_frame_from_difference']:.2f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("results:", write_results("bench_video_4k", report))


if __name__ == "__main__":
    main()
