"""sweep: Gatys et al.'s fig. 1, reconstructions from white noise with the content cost of one layer or the style cost
of a set of layers, using the article's StyleTransferCost and Adam loop."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from ..images import generate_noise_image, image_to_uint8, reshape_and_normalize_image
from ..optimize import StyleTransferCost, compile_train_step
from ..options import OptionError
from .options import SWEEP_CONTENT_LAYERS, SWEEP_ITERATIONS, SWEEP_LEARNING_RATE, SWEEP_STYLE_SETS, check_options
from .shared import (
    ImageLike,
    ModelLike,
    as_model,
    check_layer,
    load_pixels,
    matplotlib_classes,
    weights_note,
    wrapped_suptitle,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Gatys et al. fig. 1: content reconstructions from each of these layers, style reconstructions from growing sets.


@dataclasses.dataclass
class SweepPanel:
    """One reconstruction from white noise.

    Attributes:
    kind -- 'content' (only the content cost of one layer) or 'style' (only the style cost of a set of layers)
    layers -- the layers of the cost
    image -- uint8 (H, W, 3)
    cost -- the cost of the final image (J_content or J_style, unweighted)
    history -- the cost before every step
    """

    kind: str
    layers: tuple[str, ...]
    image: np.ndarray
    cost: float
    history: list[float]


@dataclasses.dataclass
class Sweep:
    """Gatys et al. fig. 1: the panels, and the images they were made from.

    Attributes:
    panels -- list of SweepPanel: the content layers first, then the style sets, in the order asked for
    content, style -- uint8 (H, W, 3) inputs, or None when not used
    iterations, learning_rate -- the optimisation's settings (the article's Adam)
    """

    panels: list[SweepPanel]
    content: np.ndarray | None
    style: np.ndarray | None
    iterations: int
    learning_rate: float
    weights_note: str = ""


def sweep(
    model: ModelLike,
    content: ImageLike | None = None,
    style: ImageLike | None = None,
    content_layers: Sequence[str] = SWEEP_CONTENT_LAYERS,
    style_sets: Sequence[Sequence[str]] = SWEEP_STYLE_SETS,
    iterations: int = SWEEP_ITERATIONS,
    learning_rate: float = SWEEP_LEARNING_RATE,
    height: int | None = None,
    width: int | None = None,
    max_size: int | None = None,
    seed: int | None = None,
    jit_compile: bool = True,
    progress: bool = False,
) -> Sweep:
    """
    Reconstructs images from white noise with one term of the article's cost at a time (Gatys et al. fig. 1).

    Content panels minimise only J_content at one layer (alpha 1, beta 0); style panels minimise only J_style over a
    set of layers with equal weights 1/N (alpha 0, beta 1). Every panel starts from the same noise and runs the
    article's loop (Adam on the pixels).

    Arguments:
    model -- a VGGModel (or weights path / 'random')
    content -- path or RGB array of the photo, or None for no content panels
    style -- path or RGB array of the painting, or None for no style panels
    content_layers -- one content panel per layer
    style_sets -- one style panel per set of layers
    iterations, learning_rate -- Adam steps per panel and its learning rate
    height, width, max_size -- size of the panels (default the article's 300x400; the style is resized to the
                               content's size)
    seed -- seed of the starting noise
    jit_compile -- compile each panel's step with XLA
    progress -- show a progress bar

    Returns:
    sweep -- a Sweep, with one panel per content layer and per style set
    """
    model = as_model(model)
    if content is None and style is None:
        raise OptionError("give --content, --style or both")
    check_options(height, width, max_size, iterations)
    if not math.isfinite(learning_rate) or learning_rate <= 0:
        raise OptionError(f"--learning-rate must be > 0, got {learning_rate}")
    content_layers = list(content_layers) if content is not None else []
    style_sets = [tuple(layers) for layers in style_sets] if style is not None else []
    for layer in content_layers + [name for layers in style_sets for name in layers]:
        check_layer(model, layer)
    if content is not None and not content_layers:
        raise OptionError("--content-layers names no layer; e.g. conv1_1,conv4_2")
    if style is not None and (not style_sets or any(not layers for layers in style_sets)):
        raise OptionError("--style-sets has an empty set; e.g. conv1_1;conv1_1,conv2_1")
    content_pixels = style_pixels = None
    if content is not None:
        content_pixels = load_pixels(content, height, width, max_size)
        height, width, max_size = *content_pixels.shape[:2], None
    if style is not None:
        style_pixels = load_pixels(style, height, width, max_size)
    size = (content_pixels if content is not None else style_pixels).shape[:2]
    noise = generate_noise_image(np.zeros((1, *size, 3), np.float32), 1.0, seed=seed)
    jobs = [("content", (layer,)) for layer in content_layers] + [("style", layers) for layers in style_sets]
    targets = {"content": content_pixels, "style": style_pixels}
    panels = []
    bar = tqdm(total=len(jobs) * iterations, disable=not progress, unit="it", dynamic_ncols=True)
    with bar, _quiet_tf_warnings():
        for kind, layers in jobs:
            bar.set_description(f"{kind} {'+'.join(layers)}")
            cost = _single_term_cost(model, kind, layers, targets[kind])
            panels.append(_reconstruct(cost, kind, layers, noise, iterations, learning_rate, jit_compile, bar))
    return Sweep(
        panels, _as_uint8(content_pixels), _as_uint8(style_pixels), iterations, learning_rate, weights_note(model)
    )


@contextlib.contextmanager
def _quiet_tf_warnings():
    """Each sweep panel compiles a step for its own cost, on purpose: TF's warning about frequent retracing is noise."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def _as_uint8(pixels):
    return None if pixels is None else pixels.round().astype(np.uint8)


def _single_term_cost(model, kind, layers, pixels):
    """The article's StyleTransferCost with one term switched off by its weight, the forward pass cut at `layers`."""
    target = reshape_and_normalize_image(pixels)
    if kind == "content":
        # beta = 0; the style term names the same layer, so the forward pass goes no deeper than the content layer.
        return StyleTransferCost(model, target, target, layers[0], [(layers[0], 0.0)], alpha=1.0, beta=0.0)
    deepest = max(layers, key=model.layer_names.index)
    return StyleTransferCost(
        model, target, target, deepest, [(name, 1.0 / len(layers)) for name in layers], alpha=0.0, beta=1.0
    )


def _reconstruct(cost, kind, layers, noise, iterations, learning_rate, jit_compile, bar):
    """Runs Adam from the noise on one single-term cost; returns its SweepPanel."""
    image = tf.Variable(noise)
    step = compile_train_step(
        image, tf.keras.optimizers.Adam(learning_rate=learning_rate), cost.terms, jit_compile=jit_compile
    )
    term = "J_content" if kind == "content" else "J_style"
    history = []
    for _ in range(iterations):
        history.append(float(getattr(step(), term)))
        bar.update()
    final = float(getattr(cost.terms(image), term))
    return SweepPanel(kind, tuple(layers), image_to_uint8(image.numpy()), final, history)


def _layer_set_label(layers):
    if len(layers) == 1:
        return layers[0]
    return "\n".join(textwrap.wrap(", ".join(layers), 26))


def sweep_figure(result: Sweep) -> Figure:
    """
    The figure of a Sweep: a row of content reconstructions and a row of style reconstructions, inputs on the left.

    Arguments:
    result -- a Sweep

    Returns:
    figure -- a matplotlib Figure
    """
    (Figure,) = matplotlib_classes("Figure")
    sources = [("content", result.content), ("style", result.style)]
    rows = [
        (kind, [p for p in result.panels if p.kind == kind], source) for kind, source in sources if source is not None
    ]
    columns = 1 + max(len(panels) for _, panels, _ in rows)
    height, width = result.panels[0].image.shape[:2] if result.panels else (3, 4)
    tile = 2.6
    figure = Figure(
        figsize=(tile * columns, tile * height / width * len(rows) + 1.0 + 0.7 * len(rows)), layout="constrained"
    )
    axes = np.array(figure.subplots(len(rows), columns)).reshape(len(rows), columns)
    for r, (kind, panels, source) in enumerate(rows):
        axes[r, 0].imshow(source)
        axes[r, 0].set_title(f"{kind} image", fontsize=9)
        term = "J_content" if kind == "content" else "J_style"
        for c, panel in enumerate(panels, 1):
            axes[r, c].imshow(panel.image)
            axes[r, c].set_title(f"{kind} of {_layer_set_label(panel.layers)}\n{term} {panel.cost:.3g}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    wrapped_suptitle(
        figure,
        "Reconstructions from white noise (Gatys et al. fig. 1): each panel minimises only the content "
        "cost of one layer or only the style cost of a set of layers\n"
        f"{result.iterations} Adam steps (learning rate {result.learning_rate:g}) from the same noise; "
        f"costs are those of the final image\n{result.weights_note}",
    )
    return figure
