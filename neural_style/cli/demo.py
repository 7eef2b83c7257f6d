"""`neural-style demo OUT.jpg`: the main job on the two pictures shipped with the package, at a size that finishes in
about a minute on 2 CPU cores, with the real VGG-19 weights where they are installed and random filters elsewhere."""

import os
import sys

from .. import demo
from ..options import default_weights
from . import common, stylize

USAGE = f"{common.PROG} demo OUT [options of the main job]"


def build_parser():
    """The demo's own arguments: the output; every other option is the main job's, passed on."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} demo",
        usage=USAGE,
        description=(
            "Paint the bundled photo (Tübingen, Andreas Praefcke, CC BY 3.0) in the style of the bundled painting "
            f"(The Starry Night, van Gogh, public domain): the main job at --max-size {demo.MAX_SIZE}, "
            f"--iterations {demo.ITERATIONS}, about a minute on 2 CPU cores. Any option of the main job "
            f"(`{common.PROG} --help`) may follow and wins over the demo's, e.g. --style your_painting.jpg."
        ),
    )
    parser.add_argument("output", metavar="OUT", help="where to write the picture (.jpg, .png, ...)")
    return parser


def weights_for_demo():
    """The weights the demo uses: the real VGG-19 file where it is installed, else random filters."""
    path = default_weights()
    return path if os.path.isfile(path) else "random"


def main(argv):
    """
    Runs the demo.

    Arguments:
    argv -- command-line arguments (without the program name and `demo`)

    Returns:
    code -- exit code, as the main job's
    """
    args, options = build_parser().parse_known_args(argv)
    weights = weights_for_demo()
    settings = ["--max-size", str(demo.MAX_SIZE), "--iterations", str(demo.ITERATIONS), "--save-every", "0"]
    job = ["--content", demo.PHOTO, "--style", demo.PAINTING, "--output", args.output, "--weights", weights]
    # The demo's settings first: argparse keeps the last value of an option, so the user's own win.
    code = stylize.main(job + settings + options)
    if code == 0 and "--quiet" not in options:
        _say_what_next(args.output, weights)
    return code


def _say_what_next(output, weights):
    """What the demo did and what to try next, on stderr with the run's other notes."""
    lines = [
        f"demo: painted {demo.CREDITS[demo.PHOTO]} in the style of {demo.CREDITS[demo.PAINTING]}; see {output}",
        "next:",
        f"  your own pictures:  {common.PROG} --content photo.jpg --style painting.jpg --output out.jpg"
        + (" --weights random" if weights == "random" else ""),
        f"  the article's size: {common.PROG} demo {output} --height 300 --width 400 --iterations 200",
    ]
    if weights == "random":
        lines.append(f"  the real filters:   {common.PROG} weights download (510 MB), then this demo again")
    lines.append(f"  every option:       {common.PROG} --help")
    print("\n".join(lines), file=sys.stderr)
