"""`neural-style export --model MODEL.keras --tflite OUT.tflite [--quantize none|float16|dynamic] [--saved-model DIR]`:
a thin layer over neural_style.fast.export."""

import os
import sys

from ..fast.options import QUANTIZATIONS
from . import common, networks


def build_parser():
    """The export command's parser."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} export",
        description="Export a network trained by `neural-style train` for phones (TFLite) and servers (SavedModel): "
        "input and output a float32 RGB picture in 0..255 of shape [1, H, W, 3], any H and W. A network of several "
        "styles also takes style_weights [1, h, w, styles]: 1 x 1 one mixture, or H x W a mixture per pixel.",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="NAME|MODEL.keras",
        help="a trained network, or a network's name (`neural-style models`; magenta-arbitrary: its transformer, "
        "the style vector as style_weights)",
    )
    parser.add_argument("--tflite", metavar="OUT.tflite", help="the TFLite file to write")
    parser.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        help="with --tflite, its weights: none (float32, the default), "
        "float16 (half the size) or dynamic (int8, a quarter)",
    )
    parser.add_argument("--saved-model", metavar="DIR", help="a SavedModel folder to write (must not exist)")
    parser.add_argument("--quiet", action="store_true", help="no summary line")
    return parser


def main(argv):
    """
    Runs the export command.

    Arguments:
    argv -- command-line arguments (without `neural-style export`)

    Returns:
    code -- exit code
    """
    args = build_parser().parse_args(argv)
    from ..checks import OptionError

    if not args.tflite and not args.saved_model:
        raise OptionError("export needs --tflite OUT.tflite, --saved-model DIR or both", "tflite", "saved_model")
    # A SavedModel keeps the float32 network as trained: a quantisation asked for without a TFLite file would
    # otherwise be dropped without a word.
    if args.quantize is not None and not args.tflite:
        raise OptionError(
            f"--quantize {args.quantize} applies to the TFLite file only; add --tflite OUT.tflite or drop --quantize",
            "quantize",
        )
    quantize = args.quantize or "none"
    if args.tflite:
        common.check_output_file(args.tflite, [args.model], "--tflite", extensions=(".tflite",))
    if args.saved_model and os.path.exists(args.saved_model):
        raise OptionError(f"saved_model {args.saved_model} exists; choose a new folder", "saved_model")
    from ..fast import bundled
    from ..fast.export import export_saved_model, export_tflite

    # A named network exports its transformer; the arbitrary-style one takes the style vector as its second input.
    model, _ = networks.load(*bundled.resolve_model(args.model))
    if args.tflite:
        size = export_tflite(model, args.tflite, quantize)
        if not args.quiet:
            print(f"wrote {args.tflite} ({size / 1e6:.1f} MB, quantize {quantize})", file=sys.stderr)
    if args.saved_model:
        export_saved_model(model, args.saved_model)
        if not args.quiet:
            print(f"wrote the SavedModel {args.saved_model}", file=sys.stderr)
    return 0
