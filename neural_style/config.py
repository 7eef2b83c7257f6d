"""The assignment's configuration: image size, mean pixel, file locations and layer choices.

These are the course's names and values (``nst_utils.CONFIG`` and the notebook's ``STYLE_LAYERS``); everything
else in the library takes its defaults from here.
"""

import numpy as np


class CONFIG:
    """The course's ``nst_utils.CONFIG``: image size, noise ratio, mean pixel and paths."""

    IMAGE_WIDTH = 400
    IMAGE_HEIGHT = 300
    COLOR_CHANNELS = 3
    NOISE_RATIO = 0.6
    # The ImageNet mean pixel in RGB order, hard-coded as the course does (not read from the weight file).
    MEANS = np.array([123.68, 116.779, 103.939]).reshape((1, 1, 1, 3))
    VGG_MODEL = "pretrained-model/imagenet-vgg-verydeep-19.mat"
    OUTPUT_DIR = "output/"


# Layers whose Gram matrices make the style, with their weights lambda[l] (they sum to 1).
STYLE_LAYERS = [
    ("conv1_1", 0.2),
    ("conv2_1", 0.2),
    ("conv3_1", 0.2),
    ("conv4_1", 0.2),
    ("conv5_1", 0.2),
]

# The layer whose activation is the content of an image.
CONTENT_LAYER = "conv4_2"

# The article's optimisation settings: J = ALPHA * J_content + BETA * J_style, Adam(LEARNING_RATE).
ALPHA = 10
BETA = 40
LEARNING_RATE = 2.0
NUM_ITERATIONS = 200
PRINT_EVERY = 20
