"""maximize: an image made from noise to activate one channel, regularised as in the DeepVis toolbox (L2 decay,
periodic blur, norm clipping, clipping to the valid range)."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
import scipy.ndimage
import tensorflow as tf
from tqdm import tqdm

from ..config import default_size
from ..images import generate_noise_image, image_to_uint8, pixel_bounds
from ..optimize import resolve_jit_compile
from ..options import OptionError
from .options import MAXIMIZE, OBJECTIVES, check_options
from .shared import ModelLike, as_model, check_channel, matplotlib_classes, weights_note, wrapped_suptitle

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclasses.dataclass
class Maximization:
    """An image made to activate one channel, and how the activation rose.

    Attributes:
    layer, channel, objective -- the unit: the channel's centre position ('center') or its mean ('mean')
    image -- uint8 (H, W, 3)
    activations -- the channel's activation after the ReLU (at the centre, or its mean) before every step, then for
                   the final image
    settings -- the regularisation used: step_size, decay, blur_every, blur_sigma, norm_percentile, iterations
    """

    layer: str
    channel: int
    objective: str
    image: np.ndarray
    activations: list[float]
    settings: dict[str, float]
    weights_note: str = ""

    @property
    def start(self) -> float:
        """The activation for the starting noise."""
        return self.activations[0]

    @property
    def final(self) -> float:
        """The activation for the final image."""
        return self.activations[-1]


def maximize(
    model: ModelLike,
    layer: str,
    channel: int,
    height: int | None = None,
    width: int | None = None,
    max_size: int | None = None,
    iterations: int = MAXIMIZE["iterations"],
    step_size: float = MAXIMIZE["step_size"],
    decay: float = MAXIMIZE["decay"],
    blur_every: int = MAXIMIZE["blur_every"],
    blur_sigma: float = MAXIMIZE["blur_sigma"],
    norm_percentile: float = MAXIMIZE["norm_percentile"],
    objective: str = MAXIMIZE["objective"],
    seed: int | None = None,
    jit_compile: bool = False,
    progress: bool = False,
) -> Maximization:
    """
    Makes an image that activates one channel strongly: gradient ascent from noise, regularised as in the DeepVis
    toolbox (Yosinski et al. 2015).

    Each step moves the pixels along the gradient, normalised to a root-mean-square of 1 so that `step_size` is in
    pixel units whatever the weights; then decays them towards the mean pixel (L2 decay), blurs them every
    `blur_every` steps, sets to the mean pixel those whose colour is weaker than the `norm_percentile` percentile
    (norm clipping), and clips all to the valid range [0, 255]. The gradient is taken before the last ReLU, so that a
    unit that is off for the starting noise still learns; the activations reported are after it.

    Arguments:
    model -- a VGGModel (or weights path / 'random')
    layer -- e.g. 'conv4_1'
    channel -- channel index, from 0
    height, width, max_size -- image size (default the article's 300x400; max_size makes it square)
    iterations -- number of ascent steps
    step_size -- pixel change per step (RMS over the image)
    decay -- L2 decay: the pixels are multiplied by 1 - decay every step
    blur_every, blur_sigma -- Gaussian blur of width blur_sigma pixels every blur_every steps (0: never)
    norm_percentile -- percentile of pixel norms below which pixels are reset (0: never)
    objective -- 'center' (the channel's centre position, as DeepVis does) or 'mean' (the whole channel)
    seed -- seed of the starting noise
    jit_compile -- compile the step with XLA (off by default: XLA spends longer folding the constant filters and
                   one-hot gradient than the steps take on a CPU)
    progress -- show a progress bar

    Returns:
    result -- a Maximization
    """
    model = as_model(model)
    channel = check_channel(model, layer, channel)
    if objective not in OBJECTIVES:
        raise OptionError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    check_options(height, width, max_size, iterations)
    for name, value in [
        ("step-size", step_size),
        ("decay", decay),
        ("blur-sigma", blur_sigma),
        ("norm-percentile", norm_percentile),
    ]:
        if not math.isfinite(value) or value < 0:
            raise OptionError(f"--{name} must be a finite number >= 0, got {value}")
    if decay >= 1 or norm_percentile >= 100:
        raise OptionError(f"--decay must be < 1 and --norm-percentile < 100, got {decay} and {norm_percentile}")
    if not isinstance(blur_every, (int, np.integer)) or blur_every < 0:
        raise OptionError(f"--blur-every must be a whole number >= 0 (0 = never), got {blur_every}")
    if height is None and width is None:
        height, width = (max_size, max_size) if max_size else default_size()
    height, width = height or width, width or height
    low, high = pixel_bounds()
    image = tf.Variable(generate_noise_image(np.zeros((1, height, width, 3), np.float32), 1.0, seed=seed))

    def objective_and_activation(x):
        # Before the layer's ReLU (a pool's output has none): what the gradient follows. After it: what is reported.
        a = model(x, [layer], before_relu=True)[0][0, :, :, channel]
        if objective == "center":
            a = a[a.shape[0] // 2, a.shape[1] // 2]
            return a, tf.nn.relu(a)
        return tf.reduce_mean(a), tf.reduce_mean(tf.nn.relu(a))

    def ascend():
        with tf.GradientTape() as tape:
            value, activation = objective_and_activation(image)
        grad = tape.gradient(value, image)
        grad = grad / (tf.sqrt(tf.reduce_mean(tf.square(grad))) + 1e-12)
        image.assign((image + step_size * grad) * (1 - decay))
        return activation

    ascend = tf.function(ascend, jit_compile=resolve_jit_compile(jit_compile))
    activations = []
    for i in tqdm(range(iterations), disable=not progress, unit="step", dynamic_ncols=True):
        activations.append(float(ascend()))
        pixels = image.numpy()
        if blur_every and blur_sigma and (i + 1) % blur_every == 0:
            pixels = scipy.ndimage.gaussian_filter(pixels, sigma=(0, blur_sigma, blur_sigma, 0))
        if norm_percentile:
            norms = np.linalg.norm(pixels, axis=-1, keepdims=True)
            pixels = np.where(norms < np.percentile(norms, norm_percentile), 0, pixels)
        image.assign(np.clip(pixels, low, high))
    activations.append(float(objective_and_activation(image)[1]))
    settings = {
        "iterations": iterations,
        "step_size": step_size,
        "decay": decay,
        "blur_every": blur_every,
        "blur_sigma": blur_sigma,
        "norm_percentile": norm_percentile,
    }
    return Maximization(
        layer, channel, objective, image_to_uint8(image.numpy()), activations, settings, weights_note(model)
    )


def maximize_figure(result: Maximization) -> Figure:
    """
    The figure of a Maximization: the image, and the activation step by step.

    Arguments:
    result -- a Maximization

    Returns:
    figure -- a matplotlib Figure
    """
    (Figure,) = matplotlib_classes("Figure")
    figure = Figure(figsize=(13, 5.5), layout="constrained")
    image_axes, curve_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    image_axes.imshow(result.image)
    image_axes.axis("off")
    where = "its centre position" if result.objective == "center" else "its mean over all positions"
    image_axes.set_title(f"image that maximises {result.layer} channel {result.channel} ({where})", fontsize=10)
    curve_axes.plot(range(len(result.activations)), result.activations)
    curve_axes.set_xlabel("step")
    curve_axes.set_ylabel(f"{result.layer} channel {result.channel} activation")
    curve_axes.set_title(f"activation: {result.start:.3g} for the starting noise -> {result.final:.3g}", fontsize=10)
    curve_axes.grid(True, alpha=0.3)
    s = result.settings
    wrapped_suptitle(
        figure,
        f"Activation maximisation of {result.layer}, channel {result.channel}: {s['iterations']} "
        f"gradient ascent steps of {s['step_size']:g} px (RMS)\nregularised with L2 decay {s['decay']:g}, "
        f"a Gaussian blur (sigma {s['blur_sigma']:g} px) every {s['blur_every']} steps, pixels under the "
        f"{s['norm_percentile']:g}th norm percentile reset, clipping to [0, 255]\n{result.weights_note}",
    )
    return figure
