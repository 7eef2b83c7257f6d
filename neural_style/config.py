"""The assignment's configuration: image size, mean pixel, file locations and layer choices.

These are the course's names and values (``nst_utils.CONFIG`` and the notebook's ``STYLE_LAYERS``); everything
else in the library takes its defaults from here.
"""

import numpy as np


class CONFIG:
    """The course's ``nst_utils.CONFIG``: image size, noise ratio, mean pixel and paths."""

    IMAGE_WIDTH: int = 400
    IMAGE_HEIGHT: int = 300
    COLOR_CHANNELS: int = 3
    NOISE_RATIO: float = 0.6
    # The ImageNet mean pixel in RGB order, hard-coded as the course does (not read from the weight file).
    MEANS: np.ndarray = np.array([123.68, 116.779, 103.939]).reshape((1, 1, 1, 3))
    VGG_MODEL: str = "pretrained-model/imagenet-vgg-verydeep-19.mat"
    OUTPUT_DIR: str = "output/"


# Layers whose Gram matrices make the style, with their weights lambda[l] (they sum to 1).
STYLE_LAYERS: list[tuple[str, float]] = [
    ("conv1_1", 0.2),
    ("conv2_1", 0.2),
    ("conv3_1", 0.2),
    ("conv4_1", 0.2),
    ("conv5_1", 0.2),
]

# The layer whose activation is the content of an image.
CONTENT_LAYER: str = "conv4_2"

# The article's optimisation settings: J = ALPHA * J_content + BETA * J_style, Adam(LEARNING_RATE).
ALPHA: float = 10
BETA: float = 40
LEARNING_RATE: float = 2.0
NUM_ITERATIONS: int = 200
PRINT_EVERY: int = 20

# Named sets of settings (`--preset`, StyleOptions(preset=...)). A setting left as None takes the preset's value, and
# one the preset does not name takes the article's; a setting given explicitly always wins.
PRESETS: dict[str, dict[str, object]] = {
    # The article (the TF1 course): everything above.
    "article": {
        "content_layer": CONTENT_LAYER,
        "style_layers": STYLE_LAYERS,
        "alpha": ALPHA,
        "beta": BETA,
        "learning_rate": LEARNING_RATE,
        "optimizer": "adam",
        "init": "noise",
        "pooling": "avg",
        "image_range": "mean",
        "content_cost": "course",
        "clip": False,
    },
    # The TF2 course: Keras VGG19's block5_conv4 as the content layer, max pooling as Keras has, Adam(0.01), images
    # in [0, 1] without mean subtraction, the content plus uniform(-0.25, 0.25) noise to start, clip_0_1 after each
    # step. Its alpha, beta and style layers are the article's.
    "course-tf2": {
        "content_layer": "conv5_4",
        "learning_rate": 0.01,
        "optimizer": "adam",
        "init": "noise",
        "pooling": "max",
        "image_range": "unit",
        "clip": True,
    },
    # Gatys, Ecker & Bethge (2015): L-BFGS from white noise, average pooling, content conv4_2 with the loss
    # 1/2 * sum((F - P) ** 2), style conv1_1 ... conv5_1 with w_l = 1/5 and E_l = sum((G - A) ** 2) / (4 N_l^2 M_l^2)
    # (the course's layer style cost), alpha / beta = 1e-3.
    "gatys": {
        "content_layer": "conv4_2",
        "style_layers": [(name, 1 / 5) for name, _ in STYLE_LAYERS],
        "alpha": 1.0,
        "beta": 1e3,
        "optimizer": "lbfgs",
        "init": "random",
        "pooling": "avg",
        "image_range": "mean",
        "content_cost": "gatys",
    },
}


def default_size() -> tuple[int, int]:
    """
    The article's image size, read from CONFIG when called (so a changed CONFIG.IMAGE_HEIGHT is honoured).

    Returns:
    size -- (height, width): (CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH), 300x400 as in the article
    """
    return CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH


def default_size_text() -> str:
    """
    The article's image size as the command lines print it.

    Returns:
    text -- e.g. '300x400' (height x width)
    """
    return "{}x{}".format(*default_size())


# The names of the settings' choices, which the options check before anything is built (what they choose is in
# images.py, costs.py and lbfgs.py).

# How pixels are handed to the network: the article's 0..255 minus the mean pixel, or the TF2 course's [0, 1].
IMAGE_RANGES = ("mean", "unit")

# --scales auto: the coarse-to-fine sizes follow from the output's size (large.auto_sizes).
AUTO = "auto"

# The content costs (costs.CONTENT_COSTS): the course's normalised one, and the paper's 1/2 * sum((F - P) ** 2).
CONTENT_COST_NAMES = ("course", "gatys")

# L-BFGS-B's first line search tries a few step lengths; after it, one evaluation per iteration is the rule and two or
# three the exception. Twice the iterations plus this many leaves room for that without letting a run stall for ever.
LBFGS_EXTRA_EVALUATIONS = 20
