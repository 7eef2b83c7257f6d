"""`neural-style video --content IN --style PAINTING --output OUT`: a thin layer over neural_style.video.stylize_video.

Every option of the main job applies to each frame; the options below are the video's own.
"""

import itertools
import json
import os
import sys
import time

from ..options import FLOW_METHODS, TEMPORAL_WEIGHT, VIDEO_INITS
from ..video import frames as video_frames
from ..video import stylize_video
from . import common
from .stylize import build_parser as build_stylize_parser
from .stylize import options_from_args

VIDEO_OPTIONS = ("temporal_weight", "video_init", "first_iterations", "flow", "fps")


# The main job's options whose meaning for a video needs saying differently.
HELP = {
    "content": "a video (mp4, mov, webm, mkv, gif) or a folder of numbered frames",
    "output": f"a video ({', '.join(video_frames.VIDEO_CODECS)}; same frame rate, audio copied) or a folder for PNG "
    "frames",
    "iterations": "steps of each frame after the first (default 200)",
    "save_every": "write each frame's image every N iterations into --output-dir/frame_NNNNN/ (default 0, never)",
    "history": "write the costs as JSON lines, one per iteration, with the frame's index",
    "checkpoint_every": "not for videos: a video run resumes by itself from --work-dir",
    "resume": "not for videos: a video run resumes by itself from --work-dir",
}


def _action(parser, dest):
    return next(action for action in parser._actions if action.dest == dest)


def build_parser():
    """The video command's parser: the main job's options, then the video's own."""
    parser = build_stylize_parser()
    parser.prog = f"{common.PROG} video"
    parser.description = (
        "Stylise a video frame by frame, temporally consistent (Ruder, Dosovitskiy & Brox 2016): each frame starts "
        "from the previous stylised frame warped by the optical flow, and a temporal cost keeps it close to that "
        "frame where the motion is reliable. Every option of the main job applies to each frame."
    )
    _action(parser, "content").metavar = "IN"
    for dest, text in HELP.items():
        _action(parser, dest).help = text
    # Intermediate images of every frame would pile up in output/: only when asked for (then one folder per frame).
    parser.set_defaults(save_every=0)
    group = parser.add_argument_group("video")
    group.add_argument(
        "--temporal-weight",
        type=float,
        default=TEMPORAL_WEIGHT,
        metavar="W",
        help=f"weight of the temporal cost, (1/D) sum c (x - warped previous frame)^2 (default {TEMPORAL_WEIGHT:g}; "
        "0 = off)",
    )
    group.add_argument(
        "--video-init",
        choices=VIDEO_INITS,
        default="warped",
        help="how frames after the first start: the previous stylised frame warped by the flow (default), the "
        "content frame, or --init (noise: independent runs)",
    )
    group.add_argument(
        "--first-iterations", type=int, metavar="N", help="steps of the first frame (default: --iterations)"
    )
    group.add_argument(
        "--flow", choices=FLOW_METHODS, default="dis", help="OpenCV's optical flow method (default dis: DIS, medium)"
    )
    group.add_argument("--fps", type=float, help="frame rate of a folder of frames (default 25)")
    group.add_argument(
        "--work-dir",
        metavar="DIR",
        help="where finished frames and the flow cache are kept; the same command again continues after the last "
        "finished frame (default: OUT without its extension, plus .work)",
    )
    return parser


def default_work_dir(output):
    """The work folder of an output: out.mp4 -> out.work."""
    return os.path.splitext(os.path.normpath(output))[0] + ".work"


def main(argv):
    """
    Runs the video command.

    Arguments:
    argv -- command-line arguments (without `neural-style video`)

    Returns:
    code -- exit code
    """
    if any(arg == "--model" or arg.startswith("--model=") for arg in argv):
        from .fast_video import main as fast_video_main  # a trained network: one forward pass a frame

        return fast_video_main(argv)
    args = build_parser().parse_args(argv)
    inputs = [args.content, *args.style, args.init]
    video_frames.output_kind(args.output, inputs)
    common.check_writable_folder(os.path.dirname(os.path.abspath(args.output)), "--output")
    work_dir = args.work_dir or default_work_dir(args.output)
    common.check_writable_folder(work_dir, "--work-dir")
    if args.history:
        common.check_output_file(args.history, inputs, "--history", extensions=None)
    options = options_from_args(args)
    options.update({name: getattr(args, name) for name in VIDEO_OPTIONS})
    start = time.perf_counter()
    clip = video_frames.open_clip(args.content, args.fps)
    history = open(args.history, "a") if args.history else None
    callback = history and _history_writer(history)
    frames = stylize_video(clip, args.style, work_dir=work_dir, progress=not args.quiet, callback=callback, **options)
    common.note_random_weights(options["weights"], args.quiet)  # after the checks: bad input gets one line
    done = 0
    try:
        for done, _ in enumerate(frames, 1):
            pass
    except KeyboardInterrupt:
        common.fail(
            f"interrupted; {done} of {clip.count} frames are finished in {work_dir}; run the same command again "
            "to continue from there"
        )
        return common.EXIT_INTERRUPTED
    finally:
        if history:
            history.close()
    finished = video_frames.open_clip(os.path.join(work_dir, "frames")).frames()
    audio = clip.source if clip.audio_codec else None
    video_frames.write_video(args.output, itertools.islice(finished, done), clip.fps, audio, clip.audio_codec)
    if not args.quiet:
        print(
            f"wrote {args.output} ({done} frames at {clip.fps:g} fps) in {time.perf_counter() - start:.1f} s; "
            f"the frames and flows stay in {work_dir}",
            file=sys.stderr,
        )
    return 0


def _history_writer(file):
    def write(index, entry):
        file.write(json.dumps({"frame": index, **entry}) + "\n")
        file.flush()

    return write
