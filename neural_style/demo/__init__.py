"""The demo's two pictures, shipped inside the package so that the main job runs on a fresh machine with nothing else:
a photograph of the Neckarfront in Tübingen by Andreas Praefcke (CC BY 3.0; the content image of Gatys et al. 2015,
fig. 2) and Vincent van Gogh's The Starry Night (1889, public domain), 512 pixels on the longest side. SOURCES.md
beside them gives the credits.

``neural-style demo OUT`` runs the main job on them (neural_style/cli/demo.py); from Python::

    from neural_style import stylize
    from neural_style.demo import PHOTO, PAINTING
    image, history = stylize(PHOTO, PAINTING, weights="random", max_size=200, iterations=150)
"""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))

PHOTO = os.path.join(_HERE, "tubingen.jpg")
PAINTING = os.path.join(_HERE, "starry_night.jpg")
CREDITS = {
    PHOTO: "the Neckarfront in Tübingen, photograph by Andreas Praefcke (CC BY 3.0)",
    PAINTING: "The Starry Night, Vincent van Gogh, 1889 (public domain)",
}

# The demo's size and length: the article's settings otherwise, finishing in about a minute on 2 CPU cores.
MAX_SIZE = 200
ITERATIONS = 150
