"""`neural-style visualize KIND ...`: figures of what VGG-19 sees, a thin layer over neural_style.visualize.

Kinds: maps (every channel of a layer), top (the images of a folder that excite a channel most), project (a channel's
strongest activation projected back to pixels), maximize (an image made to excite a channel), sweep (Gatys et al.
fig. 1: reconstructions from one layer's content or a set of layers' style), curves (the costs of a run).
"""

import argparse
import os
import sys

from .. import visualize as V
from ..checks import OptionError, check_layers
from ..layers import POOLINGS, layer_names
from ..visualize import options
from . import common

KINDS = {
    "maps": "every channel of one layer for one image, the strongest marked",
    "top": "the k images of a folder that activate one channel most, cropped to its receptive field",
    "project": "a channel's strongest activation projected back to pixels (guided backprop / deconvnet)",
    "maximize": "an image made from noise to activate one channel (regularised activation maximisation)",
    "sweep": "Gatys et al. fig. 1: reconstructions from white noise, per content layer and per set of style layers",
    "curves": "cost curves (total, content, style; log scale) from a run's --history file",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of `neural-style visualize`, one sub-command per kind."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} visualize",
        description="Figures of what the layers of VGG-19 see (the article's visualisation section). Every kind "
        "writes one labelled PNG figure.",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", parser_class=common.ArgumentParser, required=True)
    add = {
        kind: kinds.add_parser(kind, help=text, description=text[0].upper() + text[1:] + ".")
        for kind, text in KINDS.items()
    }
    add["maps"].add_argument("image", metavar="IMAGE", help="the image to look at")
    add["top"].add_argument("folder", metavar="FOLDER", help="a folder of images")
    add["project"].add_argument("image", metavar="IMAGE", help="the image to look at")
    add["sweep"].add_argument("--content", metavar="PHOTO", help="the photo for the content reconstructions")
    add["sweep"].add_argument("--style", metavar="PAINTING", help="the painting for the style reconstructions")
    add["curves"].add_argument(
        "history", metavar="HISTORY", nargs="+", help="JSON-lines file(s) written by `neural-style ... --history PATH`"
    )
    for kind in ("maps", "top", "project", "maximize"):
        add[kind].add_argument("--layer", required=True, help="e.g. conv1_1 (edges, colours) ... conv5_1 (parts)")
    for kind in ("top", "project", "maximize"):
        add[kind].add_argument("--channel", type=int, required=True, help="channel of the layer, counted from 0")
    add["maps"].add_argument(
        "--top", type=int, default=options.MAPS_TOP, metavar="N", help="mark the N strongest channels (%(default)s)"
    )
    add["top"].add_argument(
        "--k", type=int, default=options.TOP_K, help="how many images to show (default %(default)s)"
    )
    add["project"].add_argument(
        "--rule",
        choices=options.PROJECTION_RULES,
        default=options.PROJECTION_RULE,
        help="guided backpropagation or Zeiler & Fergus's deconvnet (default %(default)s)",
    )
    _maximize_options(add["maximize"])
    add["sweep"].add_argument(
        "--learning-rate", type=float, default=options.SWEEP_LEARNING_RATE, help="Adam's (default %(default)s)"
    )
    add["sweep"].add_argument(
        "--content-layers",
        type=_names,
        default=options.SWEEP_CONTENT_LAYERS,
        metavar="L,L,...",
        help=f"one content panel per layer (default {','.join(options.SWEEP_CONTENT_LAYERS)})",
    )
    add["sweep"].add_argument(
        "--style-sets",
        type=_sets,
        default=options.SWEEP_STYLE_SETS,
        metavar="L,L;L,L,...",
        help=f"one style panel per set, sets separated by ';' (default {_sets_text(options.SWEEP_STYLE_SETS)})",
    )
    for kind, parser_ in add.items():
        parser_.add_argument("--output", required=True, metavar="OUT.png", help="where to write the figure")
        parser_.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
        if kind == "curves":
            continue
        common.add_weights_option(parser_)
        common.add_size_options(parser_)
        if kind in ("maximize", "sweep"):
            default = options.SWEEP_ITERATIONS if kind == "sweep" else options.MAXIMIZE["iterations"]
            steps = "Adam steps per panel" if kind == "sweep" else "ascent steps"
            parser_.add_argument("--iterations", type=int, default=default, help=f"{steps} (default %(default)s)")
            parser_.add_argument("--seed", type=int, help="seed of the starting noise")
        else:
            parser_.add_argument("--seed", type=int, help="accepted for uniform scripts; this kind has no randomness")
        parser_.add_argument(
            "--pooling",
            choices=POOLINGS,
            default=options.POOLING,
            help="the pools' kind (default %(default)s, the article's)",
        )
    return parser


def _names(text):
    """argparse type: 'conv1_1,conv2_1' -> ('conv1_1', 'conv2_1')."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _sets(text):
    """argparse type: 'conv1_1;conv1_1,conv2_1' -> (('conv1_1',), ('conv1_1', 'conv2_1'))."""
    return tuple(filter(None, (_names(part) for part in text.split(";"))))


def _sets_text(sets):
    """(('conv1_1',), ('conv1_1', 'conv2_1')) -> 'conv1_1; conv1_1,conv2_1', what _sets reads back."""
    return "; ".join(",".join(layers) for layers in sets)


def _maximize_options(parser):
    """The regularisation of `maximize`, defaults and all from V.maximize."""
    parser.add_argument(
        "--objective",
        choices=options.OBJECTIVES,
        default=options.MAXIMIZE["objective"],
        help="maximise the channel's centre position (as DeepVis) or its mean (default %(default)s)",
    )
    parser.add_argument(
        "--step-size",
        type=float,
        default=options.MAXIMIZE["step_size"],
        help="pixels per step, RMS (default %(default)s)",
    )
    parser.add_argument(
        "--decay", type=float, default=options.MAXIMIZE["decay"], help="L2 decay per step (default %(default)s)"
    )
    parser.add_argument(
        "--blur-every",
        type=int,
        default=options.MAXIMIZE["blur_every"],
        metavar="N",
        help="blur every N steps (%(default)s; 0 = never)",
    )
    parser.add_argument(
        "--blur-sigma",
        type=float,
        default=options.MAXIMIZE["blur_sigma"],
        help="blur width in pixels (default %(default)s)",
    )
    parser.add_argument(
        "--norm-percentile",
        type=float,
        default=options.MAXIMIZE["norm_percentile"],
        metavar="P",
        help="reset pixels with a norm under the P-th percentile (default %(default)s; 0 = never)",
    )


def main(argv: list[str]) -> int:
    """
    Runs `neural-style visualize`.

    Arguments:
    argv -- command-line arguments after `visualize`

    Returns:
    code -- exit code
    """
    args = build_parser().parse_args(argv)
    inputs = [getattr(args, name, None) for name in ("image", "folder", "content", "style")]
    common.check_output_file(args.output, inputs + list(getattr(args, "history", [])))
    if args.kind == "curves":
        return _finish(args, _curves(args), "")
    options.check_options(args.height, args.width, args.max_size, getattr(args, "iterations", 1))
    if getattr(args, "layer", None) is not None:
        check_layers([args.layer], layer_names(args.pooling))
    if args.kind == "sweep" and args.content is None and args.style is None:
        raise OptionError("give --content PHOTO, --style PAINTING or both")
    # Missing inputs are reported before the weights (510 MB) are read.
    if args.kind == "top":
        options.image_files(args.folder)
    for image in filter(None, inputs):
        if args.kind != "top" and not os.path.isfile(image):
            raise FileNotFoundError(f"image not found: {image}")
    path = common.weights_path(args)
    common.note_random_weights(path, args.quiet)
    model = V.as_model(path, args.pooling)
    figure, summary = KIND_RUNNERS[args.kind](args, model)
    return _finish(args, figure, summary)


def _size(args):
    return {"height": args.height, "width": args.width, "max_size": args.max_size}


def _maps(args, model):
    maps = V.feature_maps(model, args.image, args.layer, **_size(args))
    strongest = ", ".join(str(c) for c in maps.strongest(min(args.top, 5)))
    return V.maps_figure(maps, args.top), f"{args.layer}: {maps.activations.shape[-1]} channels; strongest {strongest}"


def _top(args, model):
    top = V.top_images(model, args.folder, args.layer, args.channel, args.k, **_size(args))
    best = top.hits[0]
    return V.top_figure(top), (
        f"{args.layer} channel {args.channel}: {top.count} images; strongest "
        f"{os.path.basename(best.path)} ({best.score:.4g})"
    )


def _project(args, model):
    projection = V.project(model, args.image, args.layer, args.channel, args.rule, **_size(args))
    return V.project_figure(projection), (
        f"{args.layer} channel {args.channel}: activation {projection.activation:.4g} at {projection.position}"
    )


def _maximize(args, model):
    result = V.maximize(
        model,
        args.layer,
        args.channel,
        **_size(args),
        iterations=args.iterations,
        step_size=args.step_size,
        decay=args.decay,
        blur_every=args.blur_every,
        blur_sigma=args.blur_sigma,
        norm_percentile=args.norm_percentile,
        objective=args.objective,
        seed=args.seed,
        progress=not args.quiet,
    )
    return V.maximize_figure(result), (
        f"{args.layer} channel {args.channel}: activation {result.start:.4g} -> {result.final:.4g}"
    )


def _sweep(args, model):
    result = V.sweep(
        model,
        args.content,
        args.style,
        args.content_layers,
        args.style_sets,
        args.iterations,
        args.learning_rate,
        seed=args.seed,
        progress=not args.quiet,
        **_size(args),
    )
    return V.sweep_figure(result), f"{len(result.panels)} panels"


def _curves(args):
    histories = {os.path.basename(path): V.read_history(path) for path in args.history}
    if len(histories) < len(args.history):  # same file names in different folders: label by path
        histories = {path: V.read_history(path) for path in args.history}
    return V.curves_figure(histories)


KIND_RUNNERS = {"maps": _maps, "top": _top, "project": _project, "maximize": _maximize, "sweep": _sweep}


def _finish(args, figure, summary):
    V.save_figure(figure, args.output)
    if not args.quiet:
        width, height = figure.canvas.get_width_height(physical=True)  # the canvas save_figure drew on
        detail = f"; {summary}" if summary else ""
        print(f"wrote {args.output} ({width}x{height}){detail}", file=sys.stderr)
    return 0
