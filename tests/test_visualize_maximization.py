"""visualize/maximization.py: regularised activation maximisation."""

import numpy as np
import pytest

from neural_style import reshape_and_normalize_image
from neural_style import visualize as V
from neural_style.images import generate_noise_image
from tests import reference


@pytest.mark.parametrize("objective", ["center", "mean"])
def test_maximize_raises_the_channel_above_the_starting_noise(small_model, weights, objective):
    layer, channel, size = "conv3_1", 3, 32
    result = V.maximize(
        small_model,
        layer,
        channel,
        height=size,
        width=size,
        iterations=12,
        seed=5,
        objective=objective,
        jit_compile=False,
    )
    assert result.image.shape == (size, size, 3) and result.image.dtype == np.uint8
    assert len(result.activations) == 13

    def measured(image):
        a = reference.forward(image, weights)[layer][0, ..., channel]
        return a[a.shape[0] // 2, a.shape[1] // 2] if objective == "center" else a.mean()

    noise = generate_noise_image(np.zeros((1, size, size, 3), np.float32), 1.0, seed=5)
    np.testing.assert_allclose(result.start, measured(noise), rtol=1e-4, atol=1e-4)
    final = measured(reshape_and_normalize_image(result.image.astype(np.float32)))
    np.testing.assert_allclose(result.final, final, rtol=0.02, atol=0.02)  # the saved image is rounded to uint8
    assert final > result.start + 1
