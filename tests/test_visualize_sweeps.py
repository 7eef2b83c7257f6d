"""visualize/sweeps.py: Gatys et al. fig. 1, reconstructions from white noise."""

import numpy as np
import pytest

from neural_style import reshape_and_normalize_image
from neural_style import visualize as V
from neural_style.images import generate_noise_image
from neural_style.options import OptionError
from neural_style.vgg import UnknownLayerError
from tests import reference
from tests.visualize_helpers import random_pixels


@pytest.mark.slow
def test_sweep_has_one_panel_per_layer_and_layer_set(small_model, weights):
    content, style = random_pixels(24, 32, seed=6), random_pixels(24, 32, seed=7)
    result = V.sweep(small_model, content, style, iterations=4, height=24, width=32, seed=8, jit_compile=False)
    assert [(p.kind, p.layers) for p in result.panels] == (
        [("content", (name,)) for name in V.SWEEP_CONTENT_LAYERS] + [("style", s) for s in V.SWEEP_STYLE_SETS]
    )
    noise = generate_noise_image(np.zeros((1, 24, 32, 3), np.float32), 1.0, seed=8)
    for panel in result.panels:
        assert panel.image.shape == (24, 32, 3) and panel.image.dtype == np.uint8 and len(panel.history) == 4
        target = reshape_and_normalize_image(content if panel.kind == "content" else style)
        J_content, J_style = reference.numpy_costs(weights, target, noise, panel.layers)
        np.testing.assert_allclose(panel.history[0], J_content if panel.kind == "content" else J_style, rtol=1e-3)
        assert panel.cost < panel.history[0]


def test_sweep_with_only_a_style_and_chosen_sets(small_model):
    result = V.sweep(
        small_model,
        style=random_pixels(20, 20),
        style_sets=[("conv1_1",), ("conv2_1", "conv1_1")],
        iterations=1,
        max_size=16,
        jit_compile=False,
    )
    assert [p.layers for p in result.panels] == [("conv1_1",), ("conv2_1", "conv1_1")]
    assert result.content is None and result.style.shape == (16, 16, 3)
    with pytest.raises(UnknownLayerError):
        V.sweep(small_model, random_pixels(8, 8), content_layers=["conv9_9"], iterations=1, max_size=8)
    with pytest.raises(OptionError):
        V.sweep(small_model, iterations=1)
