"""The visualisations' options without TensorFlow: their defaults and choices (the library's functions take their
defaults from here, and `neural-style visualize` shows them in --help) and the checks made before the network is
loaded."""

import os

from .. import config
from ..checks import OptionError
from ..image_files import IMAGE_EXTENSIONS
from ..options import StyleOptions
from ..weights import RANDOM

# maps_figure: how many of the strongest channels are framed.
MAPS_TOP = 8
# top_images: how many images of the folder are shown (DeepVis shows 9).
TOP_K = 9
# project: guided backpropagation (Springenberg et al.) or the deconvnet rule (Zeiler & Fergus).
PROJECTION_RULES = ("guided", "deconvnet")
PROJECTION_RULE = "guided"
# maximize: the objective (the centre position of the channel, or its mean) and the regularisation (DeepVis's).
OBJECTIVES = ("center", "mean")
MAXIMIZE = {
    "iterations": 200,
    "step_size": 4.0,
    "decay": 0.01,
    "blur_every": 4,
    "blur_sigma": 1.0,
    "norm_percentile": 10.0,
    "objective": "center",
}
# sweep: Gatys et al. fig. 1, one content panel per layer and one style panel per growing set of layers.
SWEEP_CONTENT_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
SWEEP_STYLE_SETS = tuple(SWEEP_CONTENT_LAYERS[: i + 1] for i in range(len(SWEEP_CONTENT_LAYERS)))
SWEEP_ITERATIONS = config.NUM_ITERATIONS
SWEEP_LEARNING_RATE = config.LEARNING_RATE
# Every visualisation's network: the article's average pooling.
POOLING = "avg"


def check_options(
    height: int | None = None, width: int | None = None, max_size: int | None = None, iterations: int = 1
) -> None:
    """
    Checks sizes and an iteration count where the main job checks them (StyleOptions.validate).

    Arguments:
    height, width, max_size -- None or positive whole numbers
    iterations -- a positive whole number

    Returns:
    None; raises OptionError naming the first option that cannot work
    """
    StyleOptions(weights=RANDOM, height=height, width=width, max_size=max_size, iterations=iterations).validate()


def image_files(folder: str | os.PathLike) -> list[str]:
    """
    The image files of a folder (by extension, hidden files left out), sorted by name.

    Arguments:
    folder -- path of a folder

    Returns:
    paths -- list of paths
    """
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        raise FileNotFoundError(f"folder not found: {folder}")
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder} is not a folder; give a folder of images")
    paths = sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
    )
    if not paths:
        raise OptionError(f"{folder}: no images in this folder (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return paths
