"""`neural-style video --content IN --style PAINTING --output OUT`: a thin layer over neural_style.video.stylize_video.

Every option of the main job applies to each frame; the options below are the video's own.
"""

import json
import os
import sys
import time

from .. import safety
from ..options import FLOW_METHODS, TEMPORAL_WEIGHT, VIDEO_INITS, OptionError, VideoOptions
from ..video import frames as video_frames
from ..video.work import check_work_folder, finished_frames
from . import common
from .fast_video import build_parser as build_model_parser
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
        "frame where the motion is reliable. Every option of the main job applies to each frame. With --model "
        "MODEL.keras a network trained by `neural-style train` stylises each frame in one pass instead (see "
        "`neural-style video --model --help`)."
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
        "finished frame (default: OUT without its extension, plus .work); a new or empty folder, or one a video run "
        "made",
    )
    group.add_argument(
        "--force",
        action="store_true",
        help="write the frames into an --output folder that already holds files (those of the same names replaced)",
    )
    # The options of `video --model` alone (--mix, --temporal-blend, ...): said so, where argparse would suggest a
    # look-alike of the optimisation (--style-index: "did you mean --style-blend?").
    for flag in _flags(build_model_parser()) - _flags(parser):
        parser.misplaced[flag] = (
            f"{flag} is for video --model MODEL.keras, a network trained by `neural-style train`; without --model "
            "each frame is optimised against --style"
        )
    return parser


def _flags(parser):
    """A parser's option strings, --help left out."""
    return {flag for flag in parser._option_string_actions if flag not in ("-h", "--help")}


def refuse_optimisation_options(argv):
    """
    Refuses, with one line, an option of the optimisation in `video --model`: the trained network takes none of
    them, and argparse would answer "unrecognized" or suggest a look-alike (--temporal-weight: --temporal-blend).

    Arguments:
    argv -- command-line arguments (without `neural-style video`), --model among them

    Returns:
    None; exits with code 2 after the message otherwise
    """
    parser = build_model_parser()
    optimisation_only = _flags(build_parser()) - _flags(parser) - set(parser.misplaced)
    for token in argv:
        if token == "--":
            break
        name = token.split("=", 1)[0]
        if name in optimisation_only:
            parser.error(
                f"{name} is for video without --model, where each frame is optimised; with --model the trained "
                "network stylises each frame in one pass"
            )


def video_work_dir(output):
    """The work folder of an output: out.mp4 -> out.work."""
    return os.path.splitext(os.path.normpath(output))[0] + ".work"


def check_output_folder(output, work_dir, force=False):
    """
    Refuses, before any work, an output folder that holds files (unless forced) or that is, holds or lies in the work
    folder.

    Arguments:
    output -- --output, a folder for PNG frames (video_frames.output_kind says 'folder')
    work_dir -- the run's work folder
    force -- --force: write the frames into a folder that holds files, replacing those of the same names

    Returns:
    None; raises OptionError with one line
    """
    mine, theirs = os.path.realpath(output), os.path.realpath(work_dir)
    if mine == theirs or mine.startswith(theirs + os.sep) or theirs.startswith(mine + os.sep):
        raise OptionError(f"--output {output} and --work-dir {work_dir} overlap; give folders apart from each other")
    if not force and os.path.isdir(output) and os.listdir(output):
        raise OptionError(
            f"--output {output} is a folder that already holds files, which the frames would mix with; give a new or "
            "empty folder, or --force to write into it (frames of the same names are replaced)"
        )


def check_inputs_outside(work_dir, inputs):
    """
    Refuses an input that lies in the work folder (the run writes and cleans there), before any work.

    Arguments:
    work_dir -- the run's work folder
    inputs -- list of (option, path); None and arrays skipped

    Returns:
    None; raises OptionError with one line
    """
    folder = os.path.realpath(work_dir)
    for option, path in inputs:
        if isinstance(path, (str, os.PathLike)):
            resolved = os.path.realpath(path)
            if resolved == folder or resolved.startswith(folder + os.sep):
                raise OptionError(
                    f"{option} {path} lies in --work-dir {work_dir}, where the run writes; give another --work-dir "
                    "(inputs are never overwritten)"
                )


def main(argv):
    """
    Runs the video command.

    Arguments:
    argv -- command-line arguments (without `neural-style video`)

    Returns:
    code -- exit code (143 after SIGTERM, 129 after SIGHUP, 130 after Ctrl-C: the finished frames are kept)
    """
    if any(arg in ("--model", "--style-image") or arg.startswith(("--model=", "--style-image=")) for arg in argv):
        from .fast_video import main as fast_video_main  # a trained network: one forward pass a frame

        refuse_optimisation_options(argv)
        return fast_video_main(argv)
    args = build_parser().parse_args(argv)
    masks = [args.content_mask, *(args.style_masks or ()), *(args.style_source_masks or ())]
    inputs = [args.content, *args.style, args.init, *masks]
    named = [("--content", args.content), *[("--style", style) for style in args.style], ("--init", args.init)]
    named += [("--content-mask", args.content_mask)]
    named += [("--style-masks", mask) for mask in args.style_masks or ()]
    named += [("--style-source-masks", mask) for mask in args.style_source_masks or ()]
    VideoOptions(**{name: getattr(args, name) for name in VIDEO_OPTIONS}).validate()
    kind = video_frames.output_kind(args.output, inputs)
    common.check_writable_folder(os.path.dirname(os.path.abspath(args.output)), "--output")
    work_dir = args.work_dir or video_work_dir(args.output)
    common.check_writable_folder(work_dir, "--work-dir")
    check_inputs_outside(work_dir, named)
    check_work_folder(work_dir)
    if kind == "folder":
        check_output_folder(args.output, work_dir, args.force)
    if args.history:
        common.check_output_file(args.history, inputs, "--history", extensions=None)
    options = options_from_args(args)
    options.update({name: getattr(args, name) for name in VIDEO_OPTIONS})
    clip = video_frames.open_clip(args.content, args.fps)
    created = not os.path.exists(work_dir)
    try:
        with safety.signals_as_interrupts(), safety.hold_folder(work_dir, "--work-dir"):
            return _run(args, options, work_dir, clip)
    finally:
        if created and os.path.isdir(work_dir) and not os.listdir(work_dir):
            os.rmdir(work_dir)  # refused before any work: the folder the lock made goes too


def _run(args, options, work_dir, clip):
    """The run itself, once its paths are checked: every frame into the work folder, then the output from there."""
    from ..video.transfer import stylize_video  # TensorFlow is loaded here, when the work starts

    start = time.perf_counter()
    history = open(args.history, "a") if args.history else None
    callback = history and _history_writer(history)
    done = 0
    try:
        frames = stylize_video(
            clip, args.style, work_dir=work_dir, progress=not args.quiet, callback=callback, **options
        )
        common.note_random_weights(options["weights"], args.quiet)  # after the checks: bad input gets one line
        for done, _ in enumerate(frames, 1):
            pass
    except KeyboardInterrupt as interrupt:
        common.fail(
            f"interrupted{common.signal_name(interrupt)}; {done} of {clip.count} frames are finished in {work_dir}; "
            "run the same command again to continue from there"
        )
        return safety.exit_code(interrupt)
    finally:
        if history:
            history.close()
    audio = clip.source if clip.audio_codec else None
    video_frames.write_video(args.output, finished_frames(work_dir, done), clip.fps, audio, clip.audio_codec)
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
