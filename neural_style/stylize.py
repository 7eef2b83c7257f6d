"""One call from two pictures to a stylised one: the article's pipeline, from the options to the picture.

``stylize(content, style, **options)`` loads the images and the weights, builds the cost once, runs the
optimisation and returns the picture with its cost history. ``StyleTransfer`` is the same as an object, for callers
that need the image while it is being made (the command line saves it on Ctrl-C). The options and their checks are
in ``options.py``; the starting image in ``start.py``, the masks in ``masks.py``, the scale schedule in ``large.py``,
the compiled steps (and those that pictures share) in ``shared_steps.py``, a run's checkpoints in ``run_checkpoint.py``.
"""

import dataclasses
import functools
import math
import os
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from . import large
from .checkpoint import load_run, restore_optimizer, save_run
from .cost_settings import CostSettings
from .costs import total_variation_cost
from .images import (
    image_shape,
    load_pixels,
    match_color,
    network_to_pixels,
    normalize_image,
    pixel_bounds,
    preserve_colors,
    write_image,
)
from .large import check_run_size, scaled_size
from .large.tiles import TiledStyleTransferCost
from .lbfgs import LBFGS
from .limits import non_finite_reason, resolve_precision
from .masks import keep_content_outside, load_guides, resize_guides
from .optimize import IterateAverage, StyleTransferCost
from .options import StyleOptions
from .run_checkpoint import capture_run, restore_run, resume_errors, run_settings
from .safety import SideWrites
from .shared_steps import lone_step, step_key
from .start import start_image
from .vgg import VGGModel
from .weights import load_weights


class NonFiniteCostError(RuntimeError):
    """The cost became NaN or infinite; `image` holds the last image whose cost was finite (None: there was none)."""

    def __init__(self, message, image):
        super().__init__(message)
        self.image = image


def style_list(style):
    """
    The style images as a list, however they were given.

    Arguments:
    style -- one style image (a path or an array), or a list or tuple of them

    Returns:
    styles -- list of the style images
    """
    if (
        isinstance(style, (list, tuple))
        and style
        and all(isinstance(item, (str, os.PathLike, np.ndarray)) or tf.is_tensor(item) for item in style)
    ):
        return list(style)
    return [style]


class StyleTransfer:
    """A style transfer being made: the network, the fixed targets, the generated image and its history.

    Building it loads and checks everything (images, weights, options); `run` optimises, with Adam or L-BFGS. The
    image with the lowest cost seen so far is kept, and is what `result` returns. With several scales the image is
    optimised at each scale of the output size in turn (the cost's targets computed once per scale), the upsampled
    result starting the next. `save_checkpoint` and the `resume` option stop and continue a run.
    """

    def __init__(self, content, style, options=None, *, steps=None, **overrides):
        """
        Arguments:
        content -- path of the content image, or an RGB array (H, W, 3) in [0, 255]
        style -- path or array of the style image, or a list of them
        options -- a StyleOptions (defaults when None); `overrides` are StyleOptions fields that replace its own
        steps -- None, or a SharedSteps: with loaded weights, the network and the compiled steps are taken from it
                 and left there for the next picture (a batch's worker, a video's frames)
        """
        styles = style_list(style)
        options = dataclasses.replace(options or StyleOptions(), **overrides)
        self.options = options = options.validate(style_count=len(styles))
        content_pixels = load_pixels(
            content,
            height=options.height,
            width=options.width,
            max_size=options.max_size,
            what="content",
            check_size=check_run_size,  # before the resize, which would allocate it
        )
        self.size = size = content_pixels.shape[:2]
        self.content_pixels = content_pixels
        # Each style image at style_scale times the output size (1: the output size, as the article).
        style_size = scaled_size(size, options.style_scale)
        check_run_size(style_size, "the style images", scale=options.style_scale)
        self.style_pixels = [load_pixels(image, style_size, what="style") for image in styles]
        if options.color_match:
            self.style_pixels = [match_color(image, content_pixels) for image in self.style_pixels]
        # The masks' shapes are those of the pictures they guide, as given (a source mask: its painting's).
        shapes = (size, [image_shape(image) for image in styles]) if options.style_source_masks else None
        self.masks = load_guides(options, size, style_size, shapes)
        weights = options.weights if hasattr(options.weights, "layers") else load_weights(options.weights)
        # The model keeps its own copy of the filters (model.weights); the arrays just read are freed.
        # bfloat16 only where it is fast; elsewhere float32, with a note (limits.resolve_precision).
        options.precision = resolve_precision(options.precision, bool(tf.config.list_physical_devices("GPU")))
        # Shared only for weights given loaded: weights read from a file are a new object, hence a new model, per run.
        self._shared_steps = steps if steps is not None and hasattr(options.weights, "layers") else None
        if self._shared_steps is not None:
            self.model = self._shared_steps.model(weights, size, options.pooling, options.precision)
        else:
            self.model = VGGModel(weights, *size, pooling=options.pooling, precision=options.precision)
        del weights
        # Valid pixels in the network's space: box constraints for L-BFGS, clipping where a preset asks for it.
        self.bounds = pixel_bounds(options.image_range)
        # Coarse to fine: one size per scale, the last the output size; the iterations split equally across them.
        self.sizes, self.scale_values, self.scale_iterations = large.plan_scales(
            size, options.scales, options.iterations, options.min_size
        )
        # The tile size of each scale: tile_size, else tiles only where the whole image would not fit.
        layers = [options.content_layer] + [name for name, _ in options.style_layers]
        gpu = bool(tf.config.list_physical_devices("GPU"))
        self.tile_sizes = large.plan_tiles(
            self.sizes, layers, options.pooling, options.tile_size, options.max_memory, gpu
        )
        if any(self.tile_sizes) and options.jit_compile is None:
            options.jit_compile = False  # the tiles run one by one, outside XLA
        self.average = IterateAverage(options.average) if options.average else None
        self.history = []
        self.evaluations = 0
        self._settings = None
        self.side_writes = SideWrites()
        self._enter_scale(0, start_image(options, content_pixels, self.sizes[0]))
        if options.resume is not None:
            self._resume(options.resume)

    def _make_cost(self, size):
        """
        The cost at one image size; its targets (content activation, style Grams) are computed here, once.

        Arguments:
        size -- (height, width): the content and style images are resized to it

        Returns:
        cost -- a StyleTransferCost, or a TiledStyleTransferCost where this size is tiled (the same costs)
        """
        options = self.options
        content = normalize_image(load_pixels(self.content_pixels, size, what="content"), options.image_range)
        style_size = scaled_size(size, options.style_scale)
        styles = [
            normalize_image(load_pixels(image, style_size, what="style"), options.image_range)
            for image in self.style_pixels
        ]
        # The cost's own settings: its layers, the weights of its terms, how each term is measured, the masks here.
        settings = CostSettings(
            content_layer=options.content_layer,
            style_layers=options.weighted_style_layers(),
            alpha=options.alpha,
            beta=options.beta,
            style_blend=options.style_blend,
            tv_weight=options.tv_weight,
            content_cost=options.content_cost,
            style_loss=options.style_loss,
            guides=resize_guides(self.masks, size, style_size),
        )
        tile_size = self.tile_sizes[self.sizes.index(tuple(size))]
        if tile_size:
            return TiledStyleTransferCost.from_settings(self.model, content, styles, settings, tile_size=tile_size)
        return StyleTransferCost.from_settings(self.model, content, styles, settings)

    def _step_key(self, size):
        """What a shared step must match (shared_steps.step_key); a subclass adds what its cost adds to the graph."""
        return step_key(self.options, size, self.model)

    def _enter_scale(self, index, image):
        """Makes scale `index` current: its cost, and a generated image of its size starting from `image`."""
        size = self.sizes[index]
        self.scale_index = index
        cost = self._make_cost(size)
        if self._shared_steps is not None and getattr(cost, "targets", lambda: None)() is not None:
            self._scale_step = self._shared_steps.step(self._step_key(size), cost, image)
        else:
            self._scale_step = lone_step(self.model, cost, image)
        self.cost, self.image, self.best = self._scale_step.cost, self._scale_step.image, self._scale_step.best
        self._step = self._optimizer = self._optimizer_state = None
        if getattr(self, "average", None) is not None:
            self.average.reset()  # the average restarts at each scale

    @property
    def content_image(self):
        """The content image as the network sees it, (1, H, W, 3): made when asked for, not kept (a picture's size)."""
        return normalize_image(self.content_pixels, self.options.image_range)

    @property
    def best_image(self):
        """The lowest-cost image so far at the current scale, a tf.Variable in the network's space."""
        return self.best.image

    @property
    def best_cost(self):
        """Its cost, a scalar tf.Variable (inf before the first step)."""
        return self.best.cost

    def _compile(self):
        """The Adam step of the current scale (SharedStep.adam_step), Adam's state taken from a checkpoint once."""
        options = self.options
        # The TF2 course's clip_0_1 after each step (in general: back into the valid pixel range).
        clip = self.bounds if options.clip else None
        self._optimizer, step = self._scale_step.adam_step(options.learning_rate, clip, options.jit_compile)
        if self._optimizer_state is not None:
            restore_optimizer(self._optimizer, self._optimizer_state)
            self._optimizer_state = None
        return step

    def run(self, progress=False, callback=None):
        """
        Runs the optimisation (what is left of it, after resume).

        Arguments:
        progress -- show a tqdm progress bar with the iteration, ETA and costs
        callback -- None, or callback(entry) after every iteration, with the history entry (a dict)

        Returns:
        image, history -- the lowest-cost image as uint8 (H, W, 3), and one dict per iteration:
                          iteration, seconds, J, J_content, J_style (Adam: the costs of the image the step started
                          from, as the article prints them; L-BFGS: of the image the iteration ended at), with
                          L-BFGS also evaluations (cost evaluations so far), with several scales also scale
        """
        options = self.options
        start = time.perf_counter() - (self.history[-1]["seconds"] if self.history else 0.0)
        with tqdm(
            total=options.iterations, initial=len(self.history), disable=not progress, unit="it", dynamic_ncols=True
        ) as bar:
            record = functools.partial(self._record, start, bar, callback)
            while True:
                count = sum(self.scale_iterations[: self.scale_index + 1]) - len(self.history)
                if options.optimizer == "lbfgs":
                    self._run_lbfgs(count, record)
                else:
                    self._run_adam(count, record)
                if self.scale_index + 1 == len(self.sizes):
                    break
                self._enter_scale(self.scale_index + 1, self._best(self.sizes[self.scale_index + 1]))
        return self.result(), self.history

    def _run_adam(self, count, record):
        """`count` Adam steps at the current scale, then the cost of the last image."""
        if count > 0 and self._step is None:
            self._step = self._compile()
        for _ in range(count):
            costs = self._step().floats()
            J = costs["J"]
            if not math.isfinite(J):
                self.image.assign(self.best.image)
                iteration = len(self.history)
                raise NonFiniteCostError(
                    non_finite_reason(costs, iteration, self.options.learning_rate),
                    self.result() if iteration else None,  # no finite cost yet: no real result to write
                )
            record(costs)
        self._consider_final_image()

    def _run_lbfgs(self, count, record):
        """`count` L-BFGS iterations at the current scale, from the current image (a restart after resume)."""
        if count <= 0:
            return
        cost_and_gradient = self._scale_step.lbfgs_cost_and_gradient(self.options.jit_compile)
        lbfgs = LBFGS(cost_and_gradient, self.image.shape, self.bounds)
        evaluations = self.evaluations

        def on_iteration(entry, image):
            self.image.assign(image)
            self._keep_best(lbfgs)
            self.evaluations = evaluations + entry["evaluations"]
            costs = {"J": entry["J"], "J_content": entry["J_content"], "J_style": entry["J_style"]}
            if self.options.tv_weight:
                costs["J_tv"] = float(total_variation_cost(image))  # of the same iterate; no network pass
            record({**costs, "evaluations": self.evaluations})

        try:
            lbfgs.minimize(self.image.numpy(), count, callback=on_iteration)
        except FloatingPointError as error:
            image = self.result() if self.history else None  # no finite cost yet: no real result to write
            raise NonFiniteCostError(f"{error}; the image is the last one with a finite cost", image) from None
        self.evaluations = evaluations + lbfgs.evaluations
        self._keep_best(lbfgs)

    def _keep_best(self, lbfgs):
        if lbfgs.best_image is not None:
            self.best.offer(lbfgs.best_image, lbfgs.best_cost)

    def _record(self, start, bar, callback, costs):
        """Appends one iteration to the history, shows it, saves what is due, calls the callback."""
        options = self.options
        i = len(self.history)
        entry = {"iteration": i, "seconds": time.perf_counter() - start, **costs}
        if len(self.sizes) > 1:
            entry["scale"] = self.scale_values[self.scale_index]
        self.history.append(entry)
        bar.set_postfix(
            total=f"{costs['J']:.4g}",
            content=f"{costs['J_content']:.4g}",
            style=f"{costs['J_style']:.4g}",
            refresh=False,
        )
        bar.update()
        if self.average is not None:
            self.average.update(self.image.numpy())
        # Side writes: one that fails is reported once and the run goes on (the result is what matters).
        if options.save_every and options.output_dir and i % options.save_every == 0:
            path = os.path.join(options.output_dir, f"{i}.png")
            self.side_writes.attempt("intermediate image", path, write_image, path, self.current_pixels())
        if options.checkpoint_every and (i + 1) % options.checkpoint_every == 0:
            self.side_writes.attempt("checkpoint", options.output_dir, self.save_checkpoint, options.output_dir)
        if callback is not None:
            callback(entry)

    def _consider_final_image(self):
        """The last update's image has no cost yet: one forward pass decides whether it is the best."""
        self.best.offer(self.image, self.cost.terms(self.image).J)

    def _best(self, size):
        """The lowest-cost image at the current scale (the current one before any step), resized to `size`."""
        best = self.best.image if math.isfinite(float(self.best.cost)) else self.image
        if self.average is not None and self.average.value() is not None:
            best = tf.constant(self.average.value())  # average: the mean of the iterates, not the best one
        if tuple(best.shape[1:3]) == tuple(size):
            return best.numpy()
        return tf.image.resize(best, size, method="bilinear").numpy()

    def result(self):
        """
        The lowest-cost image seen so far at the current scale (the current one before any step), at the output size
        (upsampled when a coarse-to-fine run is stopped before its last scale).

        Returns:
        image -- uint8 array (H, W, 3); uint16 with bit_depth 16
        """
        return self._output_pixels(self._best(self.size), self.options.bit_depth)

    def current_pixels(self):
        """
        The current image as an intermediate save writes it (save_every): what a callback shows of the run so far.

        Returns:
        image -- uint8 array (H, W, 3) at the current scale's size
        """
        return self._output_pixels(self.image)

    def _output_pixels(self, image, bit_depth=8):
        """An image in the network's space as the picture written: range undone, colours preserved if asked."""
        pixels = np.clip(network_to_pixels(image, self.options.image_range), 0, 255)
        pixels = keep_content_outside(pixels, self.masks, self.content_pixels)
        if self.options.preserve_colors:
            pixels = preserve_colors(pixels, load_pixels(self.content_pixels, pixels.shape[:2], what="content"))
        return large.to_bit_depth(pixels, bit_depth)

    def settings(self):
        """
        The settings that a checkpoint must share with the run that resumes it (checkpoint.settings_fingerprint).

        Returns:
        settings -- dict of JSON values: every option that a resume may not change, the output size, and digests of
                    the weights and of the content and style pixels
        """
        if self._settings is None:
            self._settings = run_settings(
                self.options, self.size, self.model, self.content_pixels, self.style_pixels, self.masks
            )
        return self._settings

    def save_checkpoint(self, folder):
        """
        Writes the run's state into folder/checkpoint.npz (atomically) and the best image so far as checkpoint.png.

        The state: the current and the best image with its cost, Adam's iteration count and moments, the iteration,
        the scale, the history so far, the settings and, with average, the average of the iterates so far. L-BFGS's
        memory (its last updates) lives inside scipy and is not saved: a resumed L-BFGS run restarts from the saved
        image and counts on from the saved iteration.

        Arguments:
        folder -- where to write (created if missing)

        Returns:
        path -- the checkpoint file
        """
        state = capture_run(
            self.image,
            self.best,
            self._optimizer,
            self.scale_index,
            self.evaluations,
            self.history,
            self.settings(),
            self.average,
        )
        # checkpoint.png is 8 bits whatever bit_depth the result is written with.
        return save_run(folder, state, self._output_pixels(self._best(self.size)))

    def _resume(self, location):
        """Continues from a checkpoint of the same run; OptionError names what differs if it is another run's."""
        with resume_errors(location):
            state = load_run(location, self.settings())
            if state.scale_index != self.scale_index:
                self._enter_scale(state.scale_index, state.image)
            restore_run(state, self.image, self.best, self.average)
        self._optimizer_state = state.optimizer_state or None
        self.history = list(state.history)
        self.evaluations = state.evaluations


def stylize(content, style, progress=False, callback=None, **options):
    """
    Makes a picture with the content of one image and the style of another (the article's method).

    Arguments:
    content -- path of the content image, or an RGB array (H, W, 3) in [0, 255]
    style -- path of the style image, or an RGB array, or a list of them (their Grams blended by style_blend)
    progress -- show a progress bar
    callback -- None, or callback(entry) after every iteration
    options -- any field of StyleOptions: weights, height, width, max_size, iterations, content_layer,
               style_layers, alpha, beta, learning_rate, noise_ratio, pooling, seed, save_every, output_dir,
               optimizer ('adam' | 'lbfgs'), init ('noise' | 'content' | 'random' | image path or array),
               checkpoint_every (N, into output_dir), resume (a checkpoint folder), scales (e.g. (0.25, 0.5, 1)),
               preset ('article' | 'course-tf2' | 'gatys'; explicit options win), tv_weight, style_blend (one
               weight per style image), style_scale, preserve_colors, color_match, image_range ('mean' | 'unit'),
               content_cost ('course' | 'gatys'), clip (clip to the pixel range after each Adam step),
               style_layer_weights ('equal' | 'decay R'), style_loss ('gram' | 'mean-cov' | 'w2'),
               content_mask, style_masks, style_source_masks (image paths or (H, W) arrays; masks.load_mask),
               tile_size (exact tiled cost, pixels of a tile's core; 0: only when the picture would not fit),
               max_memory (GB), scales='auto' with min_size, average (EMA decay of the iterates), bit_depth (8 | 16)

    Returns:
    image -- uint8 array (H, W, 3) (uint16 with bit_depth 16): the lowest-cost image seen (the average with average)
    history -- list of dicts, one per iteration: iteration, seconds, J, J_content, J_style (and J_tv when
               tv_weight is on)
    """
    return StyleTransfer(content, style, **options).run(progress=progress, callback=callback)
