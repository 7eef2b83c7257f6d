"""visualize/projection.py: one activation projected back to pixels."""

import numpy as np
import pytest
import tensorflow as tf

from neural_style import load_vgg_model, reshape_and_normalize_image
from neural_style import visualize as V
from tests import reference
from tests.reference import forward_rounding
from tests.visualize_helpers import influence_box, random_pixels


def test_projection_relus_follow_their_rules():
    x = tf.constant([-2.0, -1.0, 1.0, 2.0])
    upstream = tf.constant([1.0, -1.0, 1.0, -1.0])
    for rule, expected in [("guided", [0, 0, 1, 0]), ("deconvnet", [1, 0, 1, 0])]:
        relu = V.projection_relu(rule)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = relu(x)
            objective = tf.reduce_sum(upstream * y)
        np.testing.assert_array_equal(y.numpy(), np.maximum(x.numpy(), 0))
        np.testing.assert_array_equal(tape.gradient(objective, x).numpy(), expected)


@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
def test_projection_is_zero_outside_the_receptive_field(small_model, weights, rule):
    height, width = 56, 64
    pixels = random_pixels(height, width, seed=3)
    activations = reference.forward(reshape_and_normalize_image(pixels), weights)["conv3_1"][0]
    channel = int(np.argmax(activations.reshape(-1, activations.shape[-1]).max(0)))  # one that is on (some are off)
    activation = activations[..., channel]
    p = V.project(small_model, pixels, "conv3_1", channel, rule, height=height, width=width)
    assert p.position == np.unravel_index(np.argmax(activation), activation.shape)
    np.testing.assert_allclose(p.activation, activation.max(), rtol=forward_rounding(weights, "conv3_1"))
    assert p.projection.shape == (height, width, 3) and p.image.shape == (height, width, 3)
    box, support = influence_box(weights, "conv3_1", p.position, height, width)
    assert p.box == box
    assert (p.projection[~support] == 0).all()  # exactly zero where the image cannot influence the unit
    assert np.abs(p.projection[support]).max() > 0
    picture = V.projection_to_image(p.projection)
    assert picture.dtype == np.uint8 and picture.min() >= 0 and (picture[~support] == 128).all()


def test_guided_projection_of_a_linear_region_is_the_gradient(mat_file, weights):
    # Where every ReLU on the way is on and the backward signal is positive, guided backprop is the plain gradient:
    # check it against tf's own gradient of the ordinary model for conv1_1 (one ReLU, the unit's own).
    model = load_vgg_model(str(mat_file[0]))
    pixels = random_pixels(12, 12, seed=4)
    p = V.project(model, pixels, "conv1_1", 2, "guided", height=12, width=12)
    image = tf.constant(reshape_and_normalize_image(pixels))
    with tf.GradientTape() as tape:
        tape.watch(image)
        unit = model(image, ["conv1_1"])[0][0, p.position[0], p.position[1], 2]
    np.testing.assert_allclose(p.projection, tape.gradient(unit, image).numpy()[0], rtol=1e-6)
