"""Small style transfers that the stylize, checkpoint and optimisation tests share: 24x32 pictures, the .mat fixture."""

import numpy as np

from neural_style.stylize import StyleTransfer

HEIGHT, WIDTH = 24, 32


def pictures(seed=0):
    """Smooth content, busy style, as RGB arrays in [0, 255]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    content = np.stack([x * 8, y * 10, (x + y) * 4], -1).clip(0, 255).astype(np.float32)
    style = rng.integers(0, 256, (HEIGHT, WIDTH, 3)).astype(np.float32)
    return content, style


def transfer(weights, **options):
    """A StyleTransfer of pictures() at HEIGHT x WIDTH, seed 1, without XLA; options override those."""
    content, style = pictures()
    options = {"height": HEIGHT, "width": WIDTH, "seed": 1, "jit_compile": False, **options}
    return StyleTransfer(content, style, weights=weights, **options)
