"""Any painting as the style, in one pass (Ghiasi et al. 2017): the style predictor turns the painting into a
100-number style vector, and the transformer's normalisations take their scales and shifts from it.

Everything the project's networks do works here unchanged, on the vectors: a mixture of paintings is the mixture of
their vectors, a painting per region is a vector per pixel (masks), and --strength interpolates the painting's vector
with the photo's own, as Magenta does. The photo is painted at its own size, with the whole picture's normalisation
statistics (exact tiles when it does not fit), never at the predictor's size and upscaled.
"""

import os

import numpy as np

from ..checks import OptionError, check_number

# The painting's side at the predictor: 256, as Magenta trained and published it; larger gives finer strokes.
STYLE_SIZE = 256
# The predictor's MobileNetV2 halves the picture five times; below 32 pixels its last levels have no positions.
MIN_STYLE_SIZE = 32
MAX_STYLE_SIZE = 2048


def check_strength(strength):
    """
    --strength, checked: how much of the painting's style, 0 (the photo's own style) to 1 (the painting's).

    Arguments:
    strength -- a number

    Returns:
    strength -- float in 0..1; OptionError (one line naming strength) otherwise
    """
    return check_number(strength, "strength", minimum=0, maximum=1, what="a number", parameter="strength")


def check_style_size(style_size):
    """
    --style-size, checked: the painting's side at the predictor, in pixels.

    Arguments:
    style_size -- an int

    Returns:
    style_size -- int in MIN_STYLE_SIZE..MAX_STYLE_SIZE; OptionError (one line naming style_size) otherwise
    """
    if isinstance(style_size, bool) or not isinstance(style_size, (int, np.integer)):
        raise OptionError(f"style_size must be a whole number of pixels, got {style_size!r}", "style_size")
    if not MIN_STYLE_SIZE <= style_size <= MAX_STYLE_SIZE:
        raise OptionError(
            f"style_size must be {MIN_STYLE_SIZE} to {MAX_STYLE_SIZE} pixels (the painting's side at the predictor; "
            f"{STYLE_SIZE} as published), got {style_size}",
            "style_size",
        )
    return int(style_size)


def square(pixels, side):
    """
    A picture's centred square, resized to side x side (Lanczos), as the published predictor's users feed it.

    Arguments:
    pixels -- float32 (H, W, 3) RGB in 0..255
    side -- the square's side

    Returns:
    square -- float32 (side, side, 3) in 0..255
    """
    height, width = pixels.shape[:2]
    edge = min(height, width)
    top, left = (height - edge) // 2, (width - edge) // 2
    from ..images import resize_lanczos  # images loads TensorFlow: the checks above answer without it

    return resize_lanczos(pixels[top : top + edge, left : left + edge], side, side)


def style_vector(predictor, picture, style_size=STYLE_SIZE):
    """
    A picture's style vector.

    Arguments:
    predictor -- a StylePredictor
    picture -- a path, or float32 (H, W, 3) RGB in 0..255
    style_size -- the picture's side at the predictor

    Returns:
    vector -- float32 (100,)
    """
    from ..images import load_image

    pixels = load_image(picture) if isinstance(picture, (str, os.PathLike)) else np.asarray(picture, np.float32)
    return predictor(square(pixels, style_size)[None]).numpy()[0]


def style_vectors(predictor, paintings, style_size=STYLE_SIZE):
    """
    Each painting's style vector.

    Arguments:
    predictor -- a StylePredictor
    paintings -- paths (or arrays) of the paintings
    style_size -- their side at the predictor

    Returns:
    vectors -- float32 (len(paintings), 100)
    """
    return np.stack([style_vector(predictor, painting, style_size) for painting in paintings])


def blend(vectors, weights, strength=1.0, own=None):
    """
    The style the transformer takes: the paintings' vectors mixed by their weights, moved towards the photo's own.

    Arguments:
    vectors -- float32 (k, 100), one per painting
    weights -- the paintings' convex weights (k,), or (h, w, k) per pixel (masks), as style_choice.style_weights gives
    strength -- 0..1: strength x the paintings' + (1 - strength) x the photo's own
    own -- the photo's own vector (100,), needed when strength < 1

    Returns:
    style -- float32 (100,), or (h, w, 100) per pixel
    """
    style = np.asarray(weights, np.float32) @ np.asarray(vectors, np.float32)
    if strength < 1:
        style = strength * style + (1 - strength) * np.asarray(own, np.float32)
    return style.astype(np.float32)
