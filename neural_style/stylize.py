"""One call from two pictures to a stylised one: the article's pipeline with every option checked in one place.

``stylize(content, style, **options)`` loads the images and the weights, builds the cost once, runs the
optimisation and returns the picture with its cost history. ``StyleTransfer`` is the same as an object, for callers
that need the image while it is being made (the command line saves it on Ctrl-C).
"""

import dataclasses
import math
import os
import time

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from . import config
from .images import (
    generate_noise_image,
    image_to_uint8,
    load_image,
    pixel_bounds,
    reshape_and_normalize_image,
    save_image,
    target_size,
)
from .optimize import StyleTransferCost
from .vgg import POOLINGS, VGGModel, layer_names
from .weights import RANDOM, load_weights

WEIGHTS_ENV = "NEURAL_STYLE_WEIGHTS"


class OptionError(ValueError):
    """An option with a value that cannot work; the message names the option and what to do."""


class NonFiniteCostError(RuntimeError):
    """The cost became NaN or infinite; `image` holds the last image whose cost was finite."""

    def __init__(self, message, image):
        super().__init__(message)
        self.image = image


def default_weights():
    """The weights used when none are named: $NEURAL_STYLE_WEIGHTS, else CONFIG.VGG_MODEL."""
    return os.environ.get(WEIGHTS_ENV) or config.CONFIG.VGG_MODEL


def parse_style_layers(text):
    """
    Parses 'conv1_1:0.2,conv2_1:0.2,...' into STYLE_LAYERS form.

    Arguments:
    text -- comma-separated name:weight pairs (a name alone gets weight 1)

    Returns:
    style_layers -- list of (name, weight) tuples
    """
    layers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition(":")
        try:
            layers.append((name.strip(), float(weight) if weight else 1.0))
        except ValueError:
            raise OptionError(f"--style-layers: {item!r} is not name:weight (e.g. conv1_1:0.2)") from None
    return layers


@dataclasses.dataclass
class StyleOptions:
    """Every setting of a style transfer, with the article's defaults; `validate` checks them all."""

    weights: object = dataclasses.field(default_factory=default_weights)
    height: int = None
    width: int = None
    max_size: int = None
    iterations: int = config.NUM_ITERATIONS
    content_layer: str = config.CONTENT_LAYER
    style_layers: list = dataclasses.field(default_factory=lambda: list(config.STYLE_LAYERS))
    alpha: float = config.ALPHA
    beta: float = config.BETA
    learning_rate: float = config.LEARNING_RATE
    noise_ratio: float = config.CONFIG.NOISE_RATIO
    pooling: str = "avg"
    seed: int = None
    save_every: int = 0
    output_dir: str = None
    jit_compile: bool = True

    def validate(self):
        """Raises OptionError naming the first option whose value cannot work; returns self."""
        for name in ("height", "width", "max_size"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value <= 0):
                raise OptionError(f"--{name.replace('_', '-')} must be a positive whole number of pixels, got {value}")
        if not _is_int(self.iterations) or self.iterations <= 0:
            raise OptionError(f"--iterations must be a positive whole number, got {self.iterations}")
        if self.pooling not in POOLINGS:
            raise OptionError(f"--pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        valid = layer_names(self.pooling)
        unknown = [name for name in [self.content_layer] + [n for n, _ in self.style_layers] if name not in valid]
        if unknown:
            raise OptionError(f"unknown layer {', '.join(unknown)}; valid layers: {', '.join(valid)}")
        if not self.style_layers:
            raise OptionError("--style-layers names no layer; e.g. conv1_1:0.2,conv2_1:0.2")
        for name, value in [("alpha", self.alpha), ("beta", self.beta), ("learning-rate", self.learning_rate)] + [
            (f"style layer {n} weight", w) for n, w in self.style_layers
        ]:
            if not math.isfinite(value) or value < 0:
                raise OptionError(f"--{name} must be a finite number >= 0, got {value}")
        if self.learning_rate <= 0:
            raise OptionError(f"--learning-rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.noise_ratio <= 1:
            raise OptionError(f"--noise-ratio must be between 0 and 1, got {self.noise_ratio}")
        if not _is_int(self.save_every) or self.save_every < 0:
            raise OptionError(f"--save-every must be a whole number >= 0 (0 = never), got {self.save_every}")
        return self


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _as_pixels(image, what, size=None):
    """An image path or array as float32 RGB in [0, 255], resized to `size` (height, width) if given."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, *(size or (None, None)))
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 4 and pixels.shape[0] == 1:
        pixels = pixels[0]
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise OptionError(f"{what} must be an image path or an (H, W, 3) RGB array, got shape {pixels.shape}")
    if size is not None and pixels.shape[:2] != tuple(size):
        pixels = tf.image.resize(pixels, size, antialias=True).numpy()
    return pixels


class StyleTransfer:
    """A style transfer being made: the network, the fixed targets, the generated image and its history.

    Building it loads and checks everything (images, weights, options); `run` optimises. The image with the lowest
    cost seen so far is kept, and is what `result` returns.
    """

    def __init__(self, content, style, options=None, **overrides):
        self.options = options = dataclasses.replace(options or StyleOptions(), **overrides).validate()
        if options.height is None and options.width is None and options.max_size is None:
            size = (config.CONFIG.IMAGE_HEIGHT, config.CONFIG.IMAGE_WIDTH)
        else:
            size = None
        content_pixels = _as_pixels(content, "content", size)
        if size is None:
            size = target_size(*content_pixels.shape[:2], options.height, options.width, options.max_size)
            content_pixels = _as_pixels(content_pixels, "content", size)
        self.size = size
        self.content_pixels = content_pixels
        style_pixels = _as_pixels(style, "style", size)
        weights = options.weights if hasattr(options.weights, "layers") else load_weights(options.weights)
        self.random_weights = weights.source == RANDOM
        self.model = VGGModel(weights, *size, pooling=options.pooling)
        self.content_image = reshape_and_normalize_image(content_pixels)
        self.cost = StyleTransferCost(
            self.model, self.content_image, reshape_and_normalize_image(style_pixels),
            options.content_layer, options.style_layers, options.alpha, options.beta,
        )  # fmt: skip
        # Valid pixels in the network's space: box constraints for L-BFGS, clipping where a preset asks for it.
        self.bounds = pixel_bounds()
        self.image = self.model.input
        self.image.assign(generate_noise_image(self.content_image, options.noise_ratio, seed=options.seed))
        self.best_image = tf.Variable(self.image)
        self.best_cost = tf.Variable(np.inf, dtype=tf.float32)
        self.history = []
        self._step = None

    def _compile(self):
        optimizer = tf.keras.optimizers.Adam(learning_rate=self.options.learning_rate)

        def step():
            with tf.GradientTape() as tape:
                J, J_content, J_style = self.cost(self.image)
            grad = tape.gradient(J, self.image)
            # The cost belongs to the image before the update: keep that image if it is the best so far.
            better = J < self.best_cost
            self.best_image.assign(tf.where(better, self.image, self.best_image))
            self.best_cost.assign(tf.where(better, J, self.best_cost))
            optimizer.apply_gradients([(grad, self.image)])
            return J, J_content, J_style

        return tf.function(step, jit_compile=self.options.jit_compile)

    def run(self, progress=False, callback=None):
        """
        Runs the optimisation.

        Arguments:
        progress -- show a tqdm progress bar with the iteration, ETA and costs
        callback -- None, or callback(entry) after every iteration, with the history entry (a dict)

        Returns:
        image, history -- the lowest-cost image as uint8 (H, W, 3), and one dict per iteration:
                          iteration, seconds, J, J_content, J_style
        """
        options = self.options
        if self._step is None:
            self._step = self._compile()
        start = time.perf_counter()
        with tqdm(total=options.iterations, disable=not progress, unit="it", dynamic_ncols=True) as bar:
            for i in range(options.iterations):
                J, J_content, J_style = (float(value) for value in self._step())
                if not math.isfinite(J):
                    self.image.assign(self.best_image)
                    raise NonFiniteCostError(
                        f"the cost became {J} at iteration {i}; try a lower --learning-rate "
                        f"(now {options.learning_rate})", self.result(),
                    )  # fmt: skip
                entry = {"iteration": i, "seconds": time.perf_counter() - start, "J": J,
                         "J_content": J_content, "J_style": J_style}  # fmt: skip
                self.history.append(entry)
                bar.set_postfix(total=f"{J:.4g}", content=f"{J_content:.4g}", style=f"{J_style:.4g}", refresh=False)
                bar.update()
                if options.save_every and options.output_dir and i % options.save_every == 0:
                    save_image(os.path.join(options.output_dir, f"{i}.png"), self.image)
                if callback is not None:
                    callback(entry)
        self._consider_final_image()
        return self.result(), self.history

    def _consider_final_image(self):
        """The last update's image has no cost yet: one forward pass decides whether it is the best."""
        J = float(self.cost(self.image)[0])
        if math.isfinite(J) and J < float(self.best_cost):
            self.best_cost.assign(J)
            self.best_image.assign(self.image)

    def result(self):
        """
        The lowest-cost image seen so far (the current one before any step).

        Returns:
        image -- uint8 array (H, W, 3)
        """
        best = self.best_image if math.isfinite(float(self.best_cost)) else self.image
        return image_to_uint8(best.numpy())


def stylize(content, style, progress=False, callback=None, **options):
    """
    Makes a picture with the content of one image and the style of another (the article's method).

    Arguments:
    content -- path of the content image, or an RGB array (H, W, 3) in [0, 255]
    style -- path of the style image, or an RGB array
    progress -- show a progress bar
    callback -- None, or callback(entry) after every iteration
    options -- any field of StyleOptions: weights, height, width, max_size, iterations, content_layer,
               style_layers, alpha, beta, learning_rate, noise_ratio, pooling, seed, save_every, output_dir

    Returns:
    image -- uint8 array (H, W, 3): the lowest-cost image seen
    history -- list of dicts, one per iteration: iteration, seconds, J, J_content, J_style
    """
    return StyleTransfer(content, style, **options).run(progress=progress, callback=callback)
