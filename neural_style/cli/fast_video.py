"""`neural-style video (--model NAME|MODEL.keras | --style-image PAINTING) --content IN --output OUT
[--temporal-blend W] [--tile-size N]
[--max-memory GB] [--style-index K | --mix W0,W1 | --style-masks M0 M1 ...]`: a clip through a network trained by
`neural-style train`, one forward pass a frame (neural_style.fast.video), with the tiles and the styles chosen as for
`neural-style apply`; `neural-style video` hands the command here when --model is given."""

import os
import sys
import time

from ..options import FLOW_METHODS
from . import common, networks


def build_parser():
    """The parser of `neural-style video --model`."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} video --model",
        description="Stylise a clip with a trained network, one forward pass a frame; --temporal-blend blends the "
        "previous stylised frame, warped by the optical flow, in where the motion is reliable (less flicker).",
    )
    parser.add_argument(
        "--model",
        metavar="NAME|MODEL.keras",
        help="a network's name (`neural-style models`) or a .keras file (with --style-image: magenta-arbitrary)",
    )
    parser.add_argument("--content", required=True, metavar="IN", help="a video or a folder of numbered frames")
    parser.add_argument("--output", required=True, metavar="OUT", help="a video, or a folder for PNG frames")
    parser.add_argument(
        "--temporal-blend",
        type=float,
        default=0.0,
        metavar="W",
        help="0 (off, default) .. 1: the share of the previous result, warped, where motion is reliable",
    )
    networks.add_painting_options(parser)
    common.add_tile_options(parser)
    networks.add_precision_option(parser)
    common.add_style_choice_options(parser)
    parser.add_argument("--flow", choices=FLOW_METHODS, default="dis", help="OpenCV's optical flow (default dis)")
    parser.add_argument("--fps", type=float, help="frame rate of a folder of frames (default 25)")
    parser.add_argument("--quiet", action="store_true", help="no closing line")
    return parser


def main(argv):
    """
    Runs `neural-style video --model`.

    Arguments:
    argv -- command-line arguments (without `neural-style video`)

    Returns:
    code -- exit code
    """
    parser = build_parser()
    # `video --model --help`, the help this command's messages point to: argparse would first refuse --model for
    # having no value.
    options = argv[: argv.index("--")] if "--" in argv else argv
    if "-h" in options or "--help" in options:
        parser.parse_args(["--help"])
    args = parser.parse_args(argv)
    from ..checks import check_number
    from ..fast.apply import check_precision, check_tile_size
    from ..fast.video import stylize_frames
    from ..safety import signals_as_interrupts
    from ..video import frames as video_frames

    check_number(args.temporal_blend, "temporal_blend", minimum=0, maximum=1, note=" (0 = off)")
    common.check_tile_options(args)
    name, kind, target, unknown = networks.resolve(args)
    video_frames.output_kind(args.output, [args.content, *networks.reads(args, kind, target)])
    common.check_writable_folder(os.path.dirname(os.path.abspath(args.output)), "--output")
    if unknown is not None:
        raise unknown
    check_tile_size(args.tile_size)  # before the model is read: a bad size costs nothing
    # The network and styles checked before the clip is opened: a bad choice costs no frame read.
    precision = check_precision(args.precision)
    model, weights = networks.choose(args, name, kind, target)
    check_tile_size(args.tile_size, model.layout)
    clip = video_frames.open_clip(args.content, args.fps)
    start = time.perf_counter()
    with signals_as_interrupts():
        stylised = stylize_frames(
            model,
            clip.frames(),
            args.temporal_blend,
            args.flow,
            tile_size=args.tile_size,
            max_memory=args.max_memory,
            style_weights=weights,
            precision=precision,
        )
        audio = clip.source if clip.audio_codec else None
        count = video_frames.write_video(args.output, stylised, clip.fps, audio, clip.audio_codec)
    if not args.quiet:
        seconds = time.perf_counter() - start
        print(f"wrote {args.output} ({count} frames, {seconds / max(count, 1):.3f} s a frame)", file=sys.stderr)
    return 0
