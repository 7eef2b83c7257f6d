"""Makes the masks figure: the photo, two paintings, the masks, and the pictures the main job makes with them.

Every picture is made by the `neural-style` command itself (run in-process; each command is printed), so the figure
shows what the README's commands do:

1. `--style A B --style-masks sky.png ground.png`: painting A in the sky, painting B on the ground;
2. the same with the masks swapped;
3. `--style A --content-mask right.png`: the left third stays the photo;
4. `--style A B --style-masks ... --style-loss w2`: the regions with the Wasserstein-2 style loss.

The masks are drawn here: a soft horizontal band (sky above, ground below, blended over a tenth of the height: soft
values are allowed) and a content mask that is white on the right two thirds. Everything is written into
docs/examples/masks/ (git-ignored: the pictures are made from images that are not ours to commit).

Usage: python docs/make_masks_figure.py [--images FOLDER] [--weights PATH|random] [--size N] [--iterations N]
  --images      holds tubingen.jpg, starry_night.jpg and the_scream.jpg (default ../shared/images, beside the
                repository)
  --weights     the VGG-19 weights (default random: He-initialised filters, demo quality; give the .mat for real)
  --size        longest side of the pictures in pixels (default 160)
  --iterations  steps per picture (default 100)
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import imageio.v3 as iio  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neural_style.cli import main  # noqa: E402
from neural_style.image_files import write_image  # noqa: E402
from neural_style.images import load_image, target_size  # noqa: E402
from neural_style.visualize import save_figure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "examples", "masks")
IMAGES = ("tubingen.jpg", "starry_night.jpg", "the_scream.jpg")


def draw_masks(size):
    """
    The figure's masks at the picture's size.

    Arguments:
    size -- (height, width)

    Returns:
    sky, ground, right -- uint8 arrays (height, width): the sky above 45% of the height (soft over a tenth of it),
                          the ground its complement, and white on the right two thirds
    """
    height, width = size
    rows = np.arange(height)[:, None] / height
    sky = np.clip((0.5 - rows) / 0.1, 0, 1) * np.ones((1, width))
    right = np.zeros(size)
    right[:, width // 3 :] = 1
    as_image = lambda mask: np.rint(255 * mask).astype(np.uint8)  # noqa: E731
    return as_image(sky), as_image(1 - sky), as_image(right)


def run(name, argv, common):
    """Runs one `neural-style` command into OUT/name.png, prints it, and returns the picture."""
    output = os.path.join(OUT, f"{name}.png")
    command = [*argv, *common, "--output", output]
    print("+ neural-style " + " ".join(command), file=sys.stderr)
    if main(command) != 0:
        raise SystemExit(f"make_masks_figure: `neural-style {' '.join(command)}` failed")
    return iio.imread(output)


def main_figure(images, weights, size, iterations):
    """Makes every picture and the figure; returns the figure's path."""
    photo, starry, scream = (os.path.join(images, name) for name in IMAGES)
    for path in (photo, starry, scream):
        if not os.path.isfile(path):
            raise SystemExit(f"make_masks_figure: {path} not found; give --images FOLDER")
    os.makedirs(OUT, exist_ok=True)
    photo_pixels = load_image(photo)
    picture_size = target_size(*photo_pixels.shape[:2], max_size=size)
    masks = dict(zip(("sky", "ground", "right"), draw_masks(picture_size)))
    paths = {name: os.path.join(OUT, f"{name}.png") for name in masks}
    for name, mask in masks.items():
        write_image(paths[name], np.repeat(mask[..., None], 3, axis=-1))
    common = ["--weights", weights, "--max-size", str(size), "--iterations", str(iterations)]
    common += ["--seed", "0", "--save-every", "0", "--quiet", "--init", "content"]
    two = ["--content", photo, "--style", starry, scream]
    results = {
        "regions": run("regions", [*two, "--style-masks", paths["sky"], paths["ground"]], common),
        "swapped": run("swapped", [*two, "--style-masks", paths["ground"], paths["sky"]], common),
        "content mask": run(
            "content_mask", ["--content", photo, "--style", starry, "--content-mask", paths["right"]], common
        ),
        "regions, w2": run(
            "regions_w2", [*two, "--style-masks", paths["sky"], paths["ground"], "--style-loss", "w2"], common
        ),
    }
    panels = [
        ("photo (A. Praefcke, CC BY 3.0)", load_image(photo, *picture_size)),
        ("A: The Starry Night", load_image(starry)),
        ("B: The Scream", load_image(scream)),
        ("--style-masks: sky (A)", masks["sky"]),
        ("ground (B)", masks["ground"]),
        ("--content-mask", masks["right"]),
        ("A in the sky, B on the ground", results["regions"]),
        ("masks swapped", results["swapped"]),
        ("A, left third kept", results["content mask"]),
        ("regions, --style-loss w2", results["regions, w2"]),
    ]
    figure, axes = plt.subplots(2, 5, figsize=(15, 5.6))
    for axis, (title, picture) in zip(axes.ravel(), panels):
        axis.imshow(np.asarray(picture, np.float64) / 255, cmap="gray", vmin=0, vmax=1)
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.suptitle(f"Region masks (guided Gram matrices), weights: {os.path.basename(weights)}, {iterations} steps")
    figure.tight_layout()
    return save_figure(figure, os.path.join(OUT, "masks_figure.png"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=os.path.join(HERE, "..", "..", "shared", "images"))
    parser.add_argument("--weights", default="random")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()
    print(main_figure(args.images, args.weights, args.size, args.iterations))
