"""Helpers shared by the visualisation tests: random pictures, the receptive field found by autodiff, history files."""

import json

import numpy as np
import tensorflow as tf

from neural_style import load_vgg_model
from neural_style.weights import VGGWeights


def random_pixels(height, width, seed=0, low=0, high=255):
    """A float32 RGB picture of uniform noise in [low, high)."""
    return np.random.default_rng(seed).uniform(low, high, (height, width, 3)).astype(np.float32)


def influence_box(weights, layer, position, height, width):
    """The receptive field found by autodiff, independently of visualize.receptive_field.

    With every filter weight positive and positive biases, no ReLU is ever off, so a pixel influences the unit exactly
    when a path of non-zero weights joins them: the non-zero support of the gradient is the receptive field.
    """
    positive = VGGWeights(
        {name: (np.abs(k) + 1e-3, np.abs(b) + 0.1) for name, (k, b) in weights.layers.items()}, "test"
    )
    net = load_vgg_model(positive, height=height, width=width)
    image = tf.constant(np.full((1, height, width, 3), 10.0, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(image)
        unit = net(image, [layer])[0][0, position[0], position[1], 0]
    support = np.abs(tape.gradient(unit, image).numpy()[0]).sum(-1) > 0
    rows, cols = np.nonzero(support)
    box = (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)
    assert support[box[0] : box[2], box[1] : box[3]].all()  # a full rectangle
    return tuple(int(v) for v in box), support


def write_history(path, entries):
    """Writes a --history file: one JSON object per line."""
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    return path
