"""`neural-style sheet --content PHOTO --output SHEET.jpg [--model NAME] [--tile 256] [--columns 7]`: every style
of a network of fixed styles (default the bundled magenta-26) painted on one photo, side by side: the photo first
("original"), then each style, labelled with the index `apply --style-index K` takes."""

import math
import sys

from . import common, networks

LABEL_HEIGHT = 14
LABEL_MARGIN = 2
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
# The smallest tile whose label still fits under it.
MIN_TILE = 16


def build_parser():
    """The sheet command's parser."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} sheet",
        description="Paint one photo in every style of a network (default magenta-26) and write them side by side, "
        "each labelled with its --style-index, the photo first. Inputs are never overwritten.",
    )
    parser.add_argument("--content", required=True, metavar="PHOTO", help="the photo")
    parser.add_argument("--output", required=True, metavar="SHEET", help="the sheet (.jpg, .png, ...)")
    parser.add_argument(
        "--model",
        default=None,
        metavar="NAME|MODEL.keras",
        help="a network of fixed styles (`neural-style models`; default magenta-26)",
    )
    parser.add_argument("--tile", type=int, default=256, metavar="PIXELS", help="each tile's longer side (default 256)")
    parser.add_argument("--columns", type=int, default=7, metavar="N", help="tiles per row (default 7)")
    parser.add_argument("--quiet", action="store_true", help="no line saying what was written")
    return parser


def resize_photo(pixels, tile):
    """
    The photo resized so that its longer side is `tile` (Pillow's Lanczos, on its 8-bit pixels).

    Arguments:
    pixels -- float32 (H, W, 3) RGB in 0..255
    tile -- the longer side

    Returns:
    resized -- float32 (h, w, 3) RGB in 0..255, whole grey levels
    """
    from ..images import resize_lanczos

    height, width = pixels.shape[:2]
    scale = tile / max(height, width)
    return resize_lanczos(pixels, max(1, round(width * scale)), max(1, round(height * scale)))


def paint_styles(model, photo):
    """
    The photo in each of the network's styles.

    Arguments:
    model -- a TransformNet
    photo -- float32 (h, w, 3) RGB in 0..255

    Returns:
    pictures -- list of uint8 (h, w, 3), style 0 first
    """
    import numpy as np

    from ..fast.apply import stylize_picture

    pictures = []
    for index in range(model.styles):
        weights = np.eye(model.styles, dtype=np.float32)[index]
        painted = stylize_picture(model, photo, style_weights=weights)
        pictures.append(np.round(painted).astype(np.uint8))
    return pictures


def compose(pictures, labels, columns):
    """
    Tiles of one size on a white sheet, `columns` a row, each with its label in a strip under it.

    Arguments:
    pictures -- list of uint8 (h, w, 3), all of one shape
    labels -- one text per picture
    columns -- tiles per row

    Returns:
    sheet -- uint8 (rows x (h + LABEL_HEIGHT), min(columns, count) x w, 3)
    """
    import numpy as np
    from PIL import Image, ImageDraw

    height, width = pictures[0].shape[:2]
    across = min(columns, len(pictures))
    rows = math.ceil(len(pictures) / columns)
    cell = height + LABEL_HEIGHT
    sheet = Image.new("RGB", (across * width, rows * cell), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for index, (picture, label) in enumerate(zip(pictures, labels)):
        left, top = (index % columns) * width, (index // columns) * cell
        sheet.paste(Image.fromarray(picture), (left, top))
        draw.text((left + LABEL_MARGIN, top + height + 1), label, fill=INK)
    return np.asarray(sheet)


def main(argv):
    """
    Runs the sheet command.

    Arguments:
    argv -- command-line arguments (without `neural-style sheet`)

    Returns:
    code -- 0 when the sheet was written; 2 for bad input (nothing written)
    """
    args = build_parser().parse_args(argv)
    from ..checks import OptionError
    from ..fast import bundled
    from ..image_files import check_image_file, write_image
    from ..images import load_image

    if args.tile < MIN_TILE:
        raise OptionError(f"--tile must be a whole number >= {MIN_TILE} (pixels), got {args.tile}")
    if args.columns < 1:
        raise OptionError(f"--columns must be a whole number >= 1, got {args.columns}")
    name = args.model or bundled.STYLES26
    kind, target = bundled.resolve_model(name)
    check_image_file(args.content, "content")
    common.check_output_file(args.output, [args.content] + ([target] if kind != "bundled" else []))
    # The network's kind from its description, before the seconds it takes to build it.
    if kind != "file":
        meta = bundled.bundled_meta(target) if kind == "bundled" else bundled.network_meta(target)
        if meta.get("kind") == "arbitrary":
            raise OptionError(
                f"{name} paints any painting, so it has no fixed styles to show; use neural-style apply --model "
                f"{name} --style-image PAINTING"
            )
    model, _ = networks.load(kind, target)
    photo = resize_photo(load_image(args.content), args.tile)
    pictures = [photo.astype("uint8")] + paint_styles(model, photo)
    labels = ["original"] + [str(index) for index in range(len(pictures) - 1)]
    write_image(args.output, compose(pictures, labels, args.columns))
    if not args.quiet:
        print(f"wrote {args.output} ({len(pictures) - 1} styles of {name})", file=sys.stderr)
    return 0
