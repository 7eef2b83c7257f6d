"""`neural-style serve [--host 127.0.0.1] [--port 8000] [--models DIR] [--token TOKEN] [--weights PATH|random]`: a
thin layer over neural_style.serve: a local web page that stylises a photo with any painting or network, and refines
it with the article's optimisation. It listens on 127.0.0.1 unless told otherwise, and prints one line once ready."""

from ..options import default_weights
from ..serve.safety import MAX_PIXELS
from . import common


def build_parser():
    """The serve command's parser."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} serve",
        description="A local web page: drop a photo, choose a painting or a network's style, move the sliders, "
        "refine with the article's optimisation. Prints `Serving on http://HOST:PORT/` once ready; stops cleanly on "
        "Ctrl-C or SIGTERM.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1: this "
        "machine only; any other needs --token, or one is made and printed)",
    )
    parser.add_argument("--port", type=int, default=8000, help="the port (default 8000; 0: a free one)")
    parser.add_argument("--models", metavar="DIR", help="a folder of .keras networks (neural-style train's) to offer")
    parser.add_argument("--token", help="a secret every request must carry (?token= or Authorization: Bearer)")
    parser.add_argument(
        "--weights",
        metavar="PATH|random",
        default=None,
        help="VGG-19 weights for Refine (default: as the main command's, $NEURAL_STYLE_WEIGHTS else "
        "pretrained-model/imagenet-vgg-verydeep-19.mat); without them Refine is unavailable",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=MAX_PIXELS,
        metavar="N",
        help=f"the largest picture an upload may hold, width x height (default {MAX_PIXELS:,}: a 24-megapixel "
        "photo; larger ones are refused from their header)",
    )
    return parser


def main(argv):
    """
    Runs the serve command.

    Arguments:
    argv -- command-line arguments (without `neural-style serve`)

    Returns:
    code -- 0 after a clean stop (SIGTERM, Ctrl-C); 2 for bad input
    """
    args = build_parser().parse_args(argv)
    from ..serve.server import check_options, serve

    # Before the networks are built: a bad value costs nothing.
    check_options(args.host, args.port, args.token, args.models, args.max_pixels)
    return serve(args.host, args.port, args.token, args.weights or default_weights(), args.models, args.max_pixels)
