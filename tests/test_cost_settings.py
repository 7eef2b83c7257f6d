"""One CostSettings (neural_style/cost_settings.py) builds the whole-image cost and the tiled one alike."""

import dataclasses
import inspect

import numpy as np
import pytest
import tensorflow as tf

from neural_style.cost_settings import CostSettings
from neural_style.large.tiles import TiledStyleTransferCost
from neural_style.masks import Guides
from neural_style.optimize import StyleTransferCost
from neural_style.vgg import VGGModel
from tests.transfers import weights_with_biases

HEIGHT, WIDTH = 40, 56


@pytest.fixture(scope="module")
def vgg():
    return VGGModel(weights_with_biases(), 16, 16)


def image(seed, spread=120.0):
    noise = np.random.default_rng(seed).uniform(-spread, spread, (1, HEIGHT, WIDTH, 3))
    return tf.constant(noise.astype(np.float32))


@pytest.mark.parametrize("cost_class", [StyleTransferCost, TiledStyleTransferCost])
def test_the_settings_are_the_constructors_keyword_arguments_with_their_defaults(cost_class):
    parameters = inspect.signature(cost_class).parameters
    for field in dataclasses.fields(CostSettings):
        default = field.default_factory() if field.default is dataclasses.MISSING else field.default
        assert parameters[field.name].default is default or parameters[field.name].default == default, field.name
    assert set(CostSettings().keywords()) == {field.name for field in dataclasses.fields(CostSettings)}


def costs_and_gradient(cost, generated):
    with tf.GradientTape() as tape:
        tape.watch(generated)
        terms = cost.terms(generated)
    return [float(value) for value in terms if value is not None], tape.gradient(terms.J, generated).numpy()


@pytest.mark.parametrize(
    "style_loss, masked",
    [("gram", False), ("w2", False), ("mean-cov", True)],
)
def test_from_settings_builds_the_cost_its_keywords_build(vgg, style_loss, masked):
    content, generated = image(1), image(2)
    styles = [image(3, spread=40.0), image(4, spread=60.0)]
    left = np.zeros((HEIGHT, WIDTH), np.float32)
    left[:, : WIDTH // 2] = 1
    guides = Guides(content=np.maximum(left, 0.5)) if masked else None
    keywords = dict(
        content_layer="block4_conv2",  # the Keras name: the costs keep the article's
        style_layers=[("conv1_1", 0.5), ("block2_conv1", 0.3), ("conv3_1", 0.2)],
        alpha=5.0,
        beta=30.0,
        style_blend=(3, 1),
        tv_weight=0.01,
        content_cost="gatys",
        style_loss=style_loss,
        guides=guides,
    )
    settings = CostSettings(**keywords)
    for cost_class, extra in ((StyleTransferCost, {}), (TiledStyleTransferCost, {"tile_size": 40})):
        built = cost_class.from_settings(vgg, content, styles, settings, **extra)
        assert type(built) is cost_class
        assert built.content_layer == "conv4_2" and [name for name, _ in built.style_layers] == [
            "conv1_1",
            "conv2_1",
            "conv3_1",
        ]
        assert built.layers == ["conv1_1", "conv2_1", "conv3_1", "conv4_2"]
        assert built.style_blend == [0.75, 0.25]
        assert built.settings == dataclasses.replace(settings, content_layer="conv4_2", style_layers=built.style_layers)
        expected = costs_and_gradient(cost_class(vgg, content, styles, **keywords, **extra), generated)
        costs, gradient = costs_and_gradient(built, generated)
        assert costs == expected[0]
        np.testing.assert_array_equal(gradient, expected[1])


def test_both_costs_refuse_an_unknown_style_loss_with_one_line(vgg):
    settings = CostSettings(style_loss="gramm")
    for cost_class, extra in ((StyleTransferCost, {}), (TiledStyleTransferCost, {"tile_size": 80})):
        with pytest.raises(ValueError, match=r"^unknown style loss 'gramm'; use one of gram, mean-cov, w2$"):
            cost_class.from_settings(vgg, image(1), image(2), settings, **extra)
