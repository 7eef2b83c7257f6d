"""The registry of style losses (neural_style/style_losses/): each loss's target and costs against numpy float64, the
lookup's error, the discovery of a new loss module, and what the options build from it."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from neural_style import style_losses
from neural_style.large.tiled_style import tiled_style
from neural_style.options import StyleOptions
from tests import reference

# float32 features of a few hundred positions: a loss's sums are within a few 1e-6 of float64 (relative).
FLOAT32_ROUNDING = 1e-4


def features(shape, seed, scale=1.0):
    # ReLU-like: non-negative, correlated channels, as a layer's activations are.
    rng = np.random.default_rng(seed)
    mix = rng.uniform(0, 1, (shape[-1], shape[-1]))
    return scale * np.maximum(rng.standard_normal(shape) @ mix + 0.5, 0)


def soft_guide(shape, seed):
    """A mask at a layer's resolution: soft values, some positions 0."""
    guide = np.random.default_rng(seed).uniform(0, 1, shape)
    guide[: shape[0] // 3] = 0
    return guide


def guided_moments(a, guide):
    """The guided mean and second moment of an activation's features, in float64 (weights: the guide squared)."""
    F = np.float64(a).reshape(-1, a.shape[-1])
    w = np.ones((len(F), 1)) if guide is None else np.float64(guide).reshape(-1, 1) ** 2
    return (w * F).sum(axis=0) / w.sum(), (w * F).T @ F / w.sum()


def expected_target(name, mu, second):
    """What the previous masks.style_target gave, in float64: (GS,), (mu, C) or (mu, C, C^(1/2))."""
    C = second - np.outer(mu, mu)
    return {"gram": (second,), "mean-cov": (mu, C), "w2": (mu, C, scipy.linalg.sqrtm(C).real)}[name]


def expected_cost(name, mu_S, second_S, mu_G, second_G):
    """What the previous masks.layer_cost and layer_cost_of_moments gave, in float64, from both sides' moments."""
    if name == "gram":
        return np.sum((second_S - second_G) ** 2) / (4 * len(mu_G) ** 2)
    C_S, C_G = second_S - np.outer(mu_S, mu_S), second_G - np.outer(mu_G, mu_G)
    if name == "mean-cov":
        return np.sum((mu_S - mu_G) ** 2) + np.sum((C_S - C_G) ** 2)
    return reference.w2_of_moments(mu_S, C_S, mu_G, C_G)


def style_and_generated(with_guide):
    """A style's float64 moments (as masks.style_statistics gives them) and a float32 generated activation."""
    a_S = features((1, 12, 10, 5), 1)
    a_G = np.float32(features((1, 9, 11, 5), 2, scale=1.5))
    guide = np.float32(soft_guide((9, 11), 3)) if with_guide else None
    return guided_moments(a_S, soft_guide((12, 10), 4)), a_G, guide


def test_the_registry_has_the_three_losses_in_order_and_the_options_offer_them():
    assert style_losses.NAMES == ("gram", "mean-cov", "w2")
    field = {f.name: f for f in dataclasses.fields(StyleOptions)}["style_loss"]
    assert field.metadata["choices"] == style_losses.NAMES
    assert style_losses.TILED_NAMES == style_losses.NAMES
    assert [style_losses.lookup(name).articles_grams for name in style_losses.NAMES] == [True, False, False]


@pytest.mark.parametrize("name", ["gram", "mean-cov", "w2"])
def test_target_equals_numpy_float64(name):
    (mu, second), _, _ = style_and_generated(False)
    target = style_losses.lookup(name).target(tf.constant(mu), tf.constant(second))
    expected = expected_target(name, mu, second)
    assert len(target) == len(expected)
    for value, reference_value in zip(target, expected):
        assert value.dtype == tf.float64  # in the statistics' precision: masks.style_regions casts
        np.testing.assert_allclose(value.numpy(), reference_value, rtol=1e-9, atol=1e-12 * np.abs(second).max())


@pytest.mark.parametrize("with_guide", [False, True])
@pytest.mark.parametrize("name", ["gram", "mean-cov", "w2"])
def test_costs_from_activations_and_from_moments_equal_numpy_float64(name, with_guide):
    (mu_S, second_S), a_G, guide = style_and_generated(with_guide)
    loss = style_losses.lookup(name)
    # As the costs use it: the target computed in float64, then cast to the activations' float32.
    target = tuple(tf.cast(value, tf.float32) for value in loss.target(tf.constant(mu_S), tf.constant(second_S)))
    mu_G, second_G = guided_moments(a_G, guide)
    expected = expected_cost(name, mu_S, second_S, mu_G, second_G)
    cost = loss.cost(target, tf.constant(a_G), None if guide is None else tf.constant(guide))
    assert cost.dtype == tf.float32
    np.testing.assert_allclose(float(cost), expected, rtol=FLOAT32_ROUNDING)
    of_moments = loss.cost_of_moments(target, tf.constant(np.float32(mu_G)), tf.constant(np.float32(second_G)))
    np.testing.assert_allclose(float(of_moments), expected, rtol=FLOAT32_ROUNDING)


def test_an_unknown_name_is_one_line_naming_the_choices():
    for name in ("gramm", "", None, ["gram"]):
        with pytest.raises(ValueError) as error:
            style_losses.lookup(name)
        assert str(error.value) == f"unknown style loss {name!r}; use one of gram, mean-cov, w2"


def test_the_costs_refuse_an_unknown_name_with_the_same_line():
    with pytest.raises(ValueError, match=r"^unknown style loss 'gramm'; use one of gram, mean-cov, w2$"):
        tiled_style(None, [], [], [1.0], (8, 8), 8, "gramm")


TINY_LOSS = """
class TinyLoss:
    name = "tiny"
    help = "a loss of one file"
    articles_grams = False
    moments_on_tiles = False

LOSS = TinyLoss()
"""


@pytest.fixture
def extra_folder(tmp_path, monkeypatch):
    """A second folder of the registry's package: a loss module written there is one of its modules."""
    monkeypatch.setattr(style_losses, "__path__", [*style_losses.__path__, str(tmp_path)])
    for module in ("tiny", "another_gram"):
        monkeypatch.delitem(sys.modules, f"{style_losses.__name__}.{module}", raising=False)
    yield tmp_path
    for module in ("tiny", "another_gram"):
        sys.modules.pop(f"{style_losses.__name__}.{module}", None)


def test_a_new_loss_is_one_new_module(extra_folder, monkeypatch):
    (extra_folder / "tiny.py").write_text(TINY_LOSS)
    losses = style_losses.discover()
    assert list(losses) == ["gram", "mean-cov", "tiny", "w2"]  # by the modules' file names
    assert losses["tiny"].help == "a loss of one file"
    # The option's help is built from the losses' own: the new one is in it.
    monkeypatch.setattr(style_losses, "LOSSES", losses)
    assert style_losses.help_text().endswith(
        "mean-cov (squared distance of the features' means and covariances), tiny (a loss of one file) or "
        "w2 (Wasserstein-2 distance of their Gaussians; default {default})"
    )
    assert style_losses.lookup("tiny") is losses["tiny"]


def test_two_modules_may_not_name_one_loss(extra_folder):
    (extra_folder / "another_gram.py").write_text(TINY_LOSS.replace('"tiny"', '"gram"'))
    with pytest.raises(ValueError, match="two style loss modules name their loss 'gram'"):
        style_losses.discover()


def test_the_help_is_the_options_text():
    assert style_losses.help_text() == (
        "how a layer's style is matched: gram (the article's Gram matrices), mean-cov (squared distance of the "
        "features' means and covariances) or w2 (Wasserstein-2 distance of their Gaussians; default {default})"
    )


def test_the_registry_loads_without_tensorflow():
    script = (
        "import sys, neural_style.style_losses as registry; "
        "print('tensorflow' in sys.modules, ','.join(registry.NAMES), len(registry.help_text()) > 0)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "gram,mean-cov,w2", "True"], result.stderr
