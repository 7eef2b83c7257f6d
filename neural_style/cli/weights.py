"""`neural-style weights download` and `neural-style weights verify`: get the VGG-19 weights and check them.

A thin layer over neural_style.weights.download (download_weights, verify_weights, format_report; importable from
neural_style.weights).
"""

import argparse
import os
import re
import sys

from .. import weights as W
from ..weights import download as D
from . import common

USAGE_NOTE = "see pretrained-model/README.md for what the file is and where it goes"


def _sha256(text):
    """argparse type: 64 hexadecimal digits, lower-cased."""
    value = text.strip().lower()
    if not re.fullmatch("[0-9a-f]{64}", value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a SHA-256 (expected 64 hexadecimal digits)")
    return value


def _url(text):
    """argparse type: an http(s) URL that ends in a file name."""
    try:
        D._url_filename(text)
    except W.DownloadError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _positive_bytes(text):
    """argparse type: a whole number of bytes > 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of bytes > 0")
    return value


def build_parser():
    """The parser of `neural-style weights`, with its two sub-commands."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} weights",
        description=f"Get or check the VGG-19 weights ({USAGE_NOTE}).",
    )
    commands = parser.add_subparsers(dest="command", metavar="{download,verify}", parser_class=common.ArgumentParser)
    commands.required = True
    download = commands.add_parser(
        "download",
        help="download imagenet-vgg-verydeep-19.mat and check its SHA-256",
        description="Download a weight file (by default MatConvNet's imagenet-vgg-verydeep-19.mat, about 510 MB) into "
        "a folder. An interrupted download resumes where it stopped; the file is moved into place only after its "
        "SHA-256 is checked. Exit code 1 if the download fails, 2 for a bad option.",
    )
    download.add_argument(
        "--to", default="pretrained-model", metavar="DIR", help="folder to put the file in (default: pretrained-model)"
    )
    download.add_argument("--url", type=_url, metavar="URL", help=f"where to get the file (default: {W.MAT_URL})")
    download.add_argument(
        "--sha256",
        type=_sha256,
        metavar="HEX",
        help="the file's expected SHA-256 (default: the published one for the default URL; "
        "with --url and no --sha256 the download is not checked)",
    )
    download.add_argument(
        "--max-bytes",
        type=_positive_bytes,
        metavar="N",
        help="stop (and delete the partial file) beyond N bytes (default: the published size for the published "
        f"files, else {W.DEFAULT_MAX_BYTES:,})",
    )
    download.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    verify = commands.add_parser(
        "verify",
        help="check a weight file's checksum and that it holds VGG-19",
        description="Check a .mat or Keras .h5 weight file: its SHA-256 (the given one, or the published one for a "
        "file named like a published file) and that it holds the 16 convolutions of VGG-19. Exit code 2 if it does "
        "not.",
    )
    verify.add_argument("path", metavar="PATH", help="the weight file")
    verify.add_argument("--sha256", type=_sha256, metavar="HEX", help="the file's expected SHA-256")
    return parser


def download(args):
    """
    Runs `neural-style weights download`.

    Arguments:
    args -- parsed arguments: to, url, sha256, quiet

    Returns:
    code -- 0 when the file is in place, 1 when the download failed
    """
    url = args.url or W.MAT_URL
    sha256 = args.sha256
    if sha256 is None and args.url is None:
        sha256 = W.MAT_SHA256
    elif sha256 is None and not args.quiet:
        print(
            f"{common.PROG}: note: no --sha256 given for --url, so the download is not checked; "
            f"`{common.PROG} weights verify PATH` prints its SHA-256",
            file=sys.stderr,
        )
    common.check_writable_folder(args.to, "--to")
    try:
        limit = {} if args.max_bytes is None else {"max_bytes": args.max_bytes}
        path = W.download_weights(url, to=args.to, sha256=sha256, progress=not args.quiet, **limit)
    except W.DownloadError as error:
        # A failed download (network, server, or a checksum that does not match) is a run-time failure, not a bad
        # option, even when the checksum error is also a WeightsError.
        common.fail(common.one_line(error))
        return common.EXIT_FAILURE
    if not args.quiet:
        checked = "SHA-256 checked" if sha256 else "SHA-256 not checked"
        print(f"{path} ({os.path.getsize(path):,} bytes, {checked})")
    return 0


def verify(args):
    """
    Runs `neural-style weights verify`: prints the report of verify_weights.

    Arguments:
    args -- parsed arguments: path, sha256

    Returns:
    code -- 0 when the file passes (a failing file raises, and becomes exit code 2 with one line)
    """
    report = W.verify_weights(args.path, sha256=args.sha256, progress=sys.stderr.isatty())
    print(W.format_report(report))
    return 0


def main(argv):
    """
    Entry point of `neural-style weights ...`.

    Arguments:
    argv -- the arguments after `weights`

    Returns:
    code -- exit code: 0 success, 1 a failed download, 2 bad input (a bad option, a missing or failing file)
    """
    args = build_parser().parse_args(argv)
    return download(args) if args.command == "download" else verify(args)
