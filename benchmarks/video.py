"""Video style transfer on a clip with known motion: seconds per frame, the flow's share, and the flicker.

    python benchmarks/video.py clip OUT.mp4        # a slow pan and zoom over tubingen.jpg, 240x320, 10 fps
    python benchmarks/video.py run                 # the benchmark (about 20 minutes on 2 busy cores)
    python benchmarks/video.py strip OUT.png FOLDER... --first 2 --count 4   # consecutive frames, a row a folder
    python benchmarks/video.py fast MODEL.keras --blends 0,0.5,0.8   # a trained fast network on the same clip

The clip is rendered from the photo by an affine map per frame (a pan of PAN pixels and a zoom of ZOOM per frame), so
the true backward flow of every frame is known exactly: the temporal error of Ruder et al. (the mean squared
difference between each stylised frame and the previous one warped by the true motion, over the pixels whose source
lies inside the previous frame) is measured with it, for three runs of `stylize_video` from the same first frame:
independent frames (noise start, no temporal cost), the warped start alone, and the warped start with the temporal
cost at its default weight. The filters are He-initialised random ones (the real VGG-19 file is not on the build
machine); the table is printed and written as JSON to benchmarks/results/video.json.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import time

import cv2
import imageio.v3 as iio
import numpy as np
from machine import cpu_name

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
SHARED_IMAGES = os.path.join(ROOT, "..", "shared", "images")
HEIGHT, WIDTH, FPS = 240, 320, 10
PAN, ZOOM = 2.0, 0.99  # per frame: the view moves 2 output pixels right and its width shrinks by 1%


def views(count, image_shape, height=HEIGHT, width=WIDTH, pan=PAN, zoom=ZOOM):
    """
    The affine maps of the clip's frames: output pixel p shows the photo's point scale_k * p + offset_k.

    Returns:
    maps -- list of (scale, (offset_x, offset_y)) per frame
    """
    photo_height, photo_width = image_shape[:2]
    scale = 0.75 * min(photo_width / width, photo_height / height)  # the first view: 75% of the photo's width
    maps = []
    for k in range(count):
        s = scale * zoom**k
        # The view's centre moves right by `pan` output pixels a frame, from near the photo's left edge.
        centre_x = scale * (width - 1) / 2 + 10 + pan * scale * k
        centre_y = photo_height / 2
        maps.append((s, (centre_x - s * (width - 1) / 2, centre_y - s * (height - 1) / 2)))
    return maps


def render(photo, maps, height=HEIGHT, width=WIDTH):
    """The clip's frames: the photo sampled bilinearly through each map (uint8, height x width x 3)."""
    frames = []
    for s, (ox, oy) in maps:
        matrix = np.array([[s, 0, ox], [0, s, oy]], np.float64)
        frame = cv2.warpAffine(
            photo, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
        )
        frames.append(frame)
    return frames


def true_motion(maps, height=HEIGHT, width=WIDTH):
    """
    The exact backward flows (frame k to k-1) of the clip and the pixels whose source lies inside frame k-1.

    Returns:
    flows, masks -- lists of len(maps) - 1 arrays (H, W, 2) and (H, W)
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    flows, masks = [], []
    for (s0, (ox0, oy0)), (s1, (ox1, oy1)) in zip(maps[:-1], maps[1:]):
        source_x, source_y = (s1 * x + ox1 - ox0) / s0, (s1 * y + oy1 - oy0) / s0
        flows.append(np.stack([source_x - x, source_y - y], -1).astype(np.float32))
        inside = (source_x >= 0) & (source_x <= width - 1) & (source_y >= 0) & (source_y <= height - 1)
        masks.append(inside.astype(np.float32))
    return flows, masks


def load_photo(images):
    """tubingen.jpg at 300x400 (area-averaged), so that the views sample it at about its own resolution."""
    photo = iio.imread(os.path.join(images, "tubingen.jpg"))[..., :3]
    return cv2.resize(photo, (400, 300), interpolation=cv2.INTER_AREA)


def make_clip(args):
    """Writes the pan-and-zoom clip as a video file (or a folder of frames)."""
    from neural_style.video import write_video

    photo = load_photo(args.images)
    frames = render(photo, views(args.frames, photo.shape))
    write_video(args.output, frames, FPS)
    print(f"wrote {args.output}: {len(frames)} frames, {WIDTH}x{HEIGHT}, {FPS} fps", file=sys.stderr)


def make_strip(args):
    """Writes frames first .. first + count - 1 of each folder side by side, a row per folder, 4 pixels apart."""
    from neural_style.image_files import write_image

    chosen = []
    for folder in args.folders:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".png"))
        chosen.append(
            [iio.imread(os.path.join(folder, name))[..., :3] for name in names[args.first : args.first + args.count]]
        )
    # Every row at the smallest row's size (the input frames may be larger than the stylised ones).
    height, width = min(frames[0].shape[:2] for frames in chosen)
    rows = []
    for frames in chosen:
        frames = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in frames]
        gap = np.full((frames[0].shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([part for frame in frames for part in (frame, gap)][:-1], axis=1))
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    write_image(args.output, np.concatenate([part for row in rows for part in (row, gap)][:-1], axis=0))
    print(f"wrote {args.output}", file=sys.stderr)


def write_video_results(name, results, frames, flows, masks, machine):
    """
    Completes a video benchmark's results with the clip's own temporal error (what any stylisation adds to) and the
    machine, writes them to benchmarks/results/NAME.json and prints them.

    Arguments:
    name -- the results file's name, without .json
    results -- the benchmark's figures (dict, completed in place)
    frames, flows, masks -- the clip's frames and its true motion (true_motion)
    machine -- what the benchmark records of the machine
    """
    from neural_style.video import temporal_error

    results["input temporal error (the clip itself)"] = temporal_error(
        [frame.astype(np.float64) for frame in frames], flows, masks
    )
    results["machine"] = machine
    with open(os.path.join(HERE, "results", f"{name}.json"), "w") as file:
        json.dump(results, file, indent=1)
    print(json.dumps(results, indent=1))


def run_benchmark(args):
    from neural_style.video import flow_pair, stylize_video, temporal_error
    from neural_style.weights import random_vgg_weights

    photo = load_photo(args.images)
    maps = views(args.frames, photo.shape)
    frames = render(photo, maps)
    flows, masks = true_motion(maps)
    style = os.path.join(args.images, "starry_night.jpg")
    weights = random_vgg_weights(seed=0)
    common = dict(weights=weights, seed=0, iterations=args.iterations, first_iterations=args.first_iterations)
    variants = {
        "warped init + temporal cost": dict(video_init="warped"),
        "warped init": dict(temporal_weight=0.0, video_init="warped"),
        # Independent frames all start from noise: each gets the first frame's iterations.
        "per-frame": dict(temporal_weight=0.0, video_init="noise", iterations=args.first_iterations),
    }
    results = {"frames": args.frames, "size": f"{HEIGHT}x{WIDTH}", "variants": {}}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    first_frame = None
    for name, options in variants.items():
        seconds, outputs, first_steps = [], [], []
        start = time.perf_counter()
        step_times = {}

        def on_iteration(index, entry, step_times=step_times):
            step_times.setdefault(index, []).append(entry["seconds"])

        work = os.path.join(HERE, "results", "video_work", name.replace(" ", "_").replace("+", "and"))
        # A work folder left by an earlier run is reused (the frames it holds are not timed again): delete
        # benchmarks/results/video_work to time everything.
        stylised = stylize_video(frames, style, work_dir=work, callback=on_iteration, **{**common, **options})
        if first_frame is not None and first_frame != os.path.join(work, "frames", "00000.png"):
            # Every variant continues from the same first frame (the same settings would make it again).
            os.makedirs(os.path.join(work, "frames"), exist_ok=True)
            shutil.copy(first_frame, os.path.join(work, "frames", "00000.png"))
        first_frame = first_frame or os.path.join(work, "frames", "00000.png")
        for output in stylised:
            outputs.append(output)
            seconds.append(time.perf_counter() - start)
            print(f"{name}: frame {len(outputs) - 1} in {seconds[-1]:.1f} s", flush=True)
            start = time.perf_counter()
        for index, times in step_times.items():
            first_steps.append(times[0])
        steady = [np.median(np.diff(times)) for times in step_times.values() if len(times) > 2]
        error = temporal_error([frame.astype(np.float64) for frame in outputs], flows, masks)
        results["variants"][name] = {
            "seconds per frame": seconds,
            "frames computed (the others read from the work folder)": sorted(step_times),
            "first step seconds (tracing included)": first_steps,
            "median step seconds": float(np.median(steady)),
            "temporal error": error,
            "options": {key: value for key, value in {**common, **options}.items() if key != "weights"},
        }
        print(f"{name}: temporal error {error:.1f}, seconds per frame {[round(s, 1) for s in seconds]}", flush=True)
    flow_seconds = []
    for previous, current in zip(frames[:-1], frames[1:]):
        start = time.perf_counter()
        flow_pair(previous, current, "dis")
        flow_seconds.append(time.perf_counter() - start)
    results["flow seconds per pair (DIS medium, both directions)"] = float(np.median(flow_seconds))
    machine = {"processor": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()}
    write_video_results("video", results, frames, flows, masks, machine)


def run_fast(args):
    """
    A trained fast network on the same clip: the temporal error and the seconds a frame, for each --temporal-blend
    (0: the network alone), the frames written under benchmarks/results/video_fast/.
    """
    from neural_style.fast.apply import load_fast_model
    from neural_style.fast.video import stylize_frames
    from neural_style.image_files import write_image
    from neural_style.video import temporal_error

    photo = load_photo(args.images)
    maps = views(args.frames, photo.shape)
    frames = render(photo, maps)
    flows, masks = true_motion(maps)
    model = load_fast_model(args.model)
    list(stylize_frames(model, frames[:1]))  # traced once, outside the timing
    results = {"model": args.model, "frames": args.frames, "size": f"{HEIGHT}x{WIDTH}", "blends": {}}
    for blend in (float(value) for value in args.blends.split(",")):
        folder = os.path.join(HERE, "results", "video_fast", f"blend_{blend:g}")
        os.makedirs(folder, exist_ok=True)
        outputs, seconds = [], []
        start = time.perf_counter()
        for index, output in enumerate(stylize_frames(model, frames, temporal_blend=blend)):
            seconds.append(time.perf_counter() - start)
            outputs.append(output)
            write_image(os.path.join(folder, f"{index:05d}.png"), output)
            start = time.perf_counter()
        error = temporal_error([frame.astype(np.float64) for frame in outputs], flows, masks)
        results["blends"][f"{blend:g}"] = {
            "temporal error": error,
            "median seconds per frame": float(np.median(seconds)),
            "seconds per frame": seconds,
        }
        print(f"blend {blend:g}: temporal error {error:.1f}, median {np.median(seconds):.3f} s a frame", flush=True)
    machine = {"processor": cpu_name(), "cores": os.cpu_count(), "load": os.getloadavg()}
    write_video_results("video_fast", results, frames, flows, masks, machine)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    clip = commands.add_parser("clip", help="write the pan-and-zoom clip")
    clip.add_argument("output")
    clip.add_argument("--frames", type=int, default=12)
    clip.add_argument("--images", default=SHARED_IMAGES)
    run = commands.add_parser("run", help="the benchmark")
    run.add_argument("--frames", type=int, default=6)
    run.add_argument("--first-iterations", type=int, default=40)
    run.add_argument("--iterations", type=int, default=20)
    run.add_argument("--images", default=SHARED_IMAGES)
    strip = commands.add_parser("strip", help="consecutive frames of a folder side by side")
    strip.add_argument("output")
    strip.add_argument("folders", nargs="+", help="folders of frames (00000.png, ...), one row each")
    strip.add_argument("--first", type=int, default=0)
    strip.add_argument("--count", type=int, default=4)
    fast = commands.add_parser("fast", help="a trained fast network on the same clip, with and without blending")
    fast.add_argument("model", help="a .keras model from neural-style train")
    fast.add_argument("--frames", type=int, default=6)
    fast.add_argument("--blends", default="0,0.5,0.8", help="the --temporal-blend weights to measure")
    fast.add_argument("--images", default=SHARED_IMAGES)
    args = parser.parse_args()
    {"clip": make_clip, "run": run_benchmark, "strip": make_strip, "fast": run_fast}[args.command](args)


if __name__ == "__main__":
    main()
