"""One call from two pictures to a stylised one: the article's pipeline, from the options to the picture.

``stylize(content, style, **options)`` loads the images and the weights, builds the cost once, runs the
optimisation and returns the picture with its cost history. ``StyleTransfer`` is the same as an object, for callers
that need the image while it is being made (the command line saves it on Ctrl-C). The options and their checks are
in ``options.py``; the starting image in ``start.py``, the masks in ``masks.py``, the scale schedule in ``large.py``.
"""

import collections
import dataclasses
import functools
import math
import os
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from . import large
from .checkpoint import (
    CheckpointError,
    RunState,
    damaged,
    load_run,
    restore_optimizer,
    save_run,
    settings_fingerprint,
)
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
from .large import scaled_size, split_iterations
from .large.tiles import TiledStyleTransferCost
from .lbfgs import LBFGS, compile_cost_and_gradient
from .limits import check_run_size, non_finite_reason, resolve_precision
from .masks import keep_content_outside, listed, load_guides, resize_guides
from .optimize import BestImage, IterateAverage, StyleTransferCost, compile_train_step
from .options import OptionError, StyleOptions
from .safety import SideWrites
from .start import start_image
from .vgg import VGGModel
from .weights import load_weights


class NonFiniteCostError(RuntimeError):
    """The cost became NaN or infinite; `image` holds the last image whose cost was finite (None: there was none)."""

    def __init__(self, message, image):
        super().__init__(message)
        self.image = image


# Options that change only a picture's inputs, targets or bookkeeping, never the compiled step's graph: pictures
# whose other options (and image size) are the same share one step (SharedSteps). A field not named here splits the
# steps, so a new option is safe by default.
PER_PICTURE_FIELDS = frozenset(
    {
        "weights",  # the model itself is part of the key
        "height",
        "width",
        "max_size",  # the image size is part of the key
        "iterations",
        "noise_ratio",
        "seed",
        "init",
        "save_every",
        "output_dir",
        "checkpoint_every",
        "resume",
        "scales",
        "min_size",
        "style_blend",
        "style_scale",
        "color_match",  # these three only change the targets (the blended Grams) or the pixels written
        "preserve_colors",
        "average",
        "bit_depth",
        "max_memory",
        "tile_size",  # only choose whether a size is tiled; a tiled cost is never shared
        "tensorboard",  # where the commands write the run's events: not part of the step
    }
)
# The most image sizes (with their settings) whose steps SharedSteps keeps: a batch of photos of many shapes keeps
# the steps of the last few, not one per shape.
SHARED_SIZES = 8


@dataclasses.dataclass
class SharedStep:
    """What the pictures of one image size (and one set of graph settings) share: the generated image, the cost with
    its targets in variables, the best image, the optimiser with its fresh state, and the compiled functions."""

    image: tf.Variable
    cost: object
    best: BestImage
    optimizer: object = None
    fresh_state: list | None = None
    step: object = None
    cost_and_gradient: object = None


class SharedSteps:
    """The network and the compiled steps that pictures made one after another in one process share (a batch's
    worker, a video's frames).

    One VGGModel per loaded weights (the filters held once), and per image size and settings that change the graph
    one SharedStep: its step is traced once, and each picture assigns its own targets (content activation, style
    Grams, a video frame's temporal target and mask) into the step's variables instead of baking them into a new
    trace. Building a new step per picture traced it again (about a second a picture) and, with a Keras optimiser in
    the step, kept every old trace alive with the filters it captured: memory grew by the filters' size per picture.
    The steps of the SHARED_SIZES most recent keys are kept.
    """

    def __init__(self, max_sizes=SHARED_SIZES):
        """
        Arguments:
        max_sizes -- how many steps (image size and settings) to keep, the least recently used dropped first
        """
        self.max_sizes = max_sizes
        self._models = {}
        self._steps = collections.OrderedDict()

    def model(self, weights, size, pooling, precision):
        """
        The network for loaded weights, built once.

        Arguments:
        weights -- a loaded VGGWeights (kept here, so that its identity names it)
        size -- (height, width) of the model's own input variable when it is first built
        pooling, precision -- as for VGGModel

        Returns:
        model -- a VGGModel
        """
        key = (id(weights), pooling, precision)
        if key not in self._models:
            self._models[key] = (weights, VGGModel(weights, *size, pooling=pooling, precision=precision))
        return self._models[key][1]

    def step(self, key, cost, image):
        """
        The shared step of `key`, made the given picture's: its targets assigned, its image, best image and
        optimiser started afresh (a new step takes `cost` itself, its targets put in variables).

        Arguments:
        key -- hashable: the image size and every setting that changes the graph (StyleTransfer._step_key)
        cost -- the picture's cost, built (its targets computed); its `targets()` is not None
        image -- the starting image, (1, H, W, 3) in the network's space

        Returns:
        shared -- a SharedStep
        """
        shared = self._steps.get(key)
        if shared is None:
            cost.hold_targets()
            variable = tf.Variable(tf.zeros(np.shape(image)), name="input")
            variable.assign(image)
            shared = SharedStep(variable, cost, BestImage(variable))
            self._steps[key] = shared
            while len(self._steps) > self.max_sizes:
                self._steps.popitem(last=False)
            return shared
        self._steps.move_to_end(key)
        shared.cost.assign_targets(cost)
        shared.image.assign(image)
        shared.best.reset(image)
        if shared.optimizer is not None:
            restore_optimizer(shared.optimizer, shared.fresh_state)
        return shared

    def __len__(self):
        return len(self._steps)


def _style_list(style):
    """The style images as a list: one path or array, or a list/tuple of them."""
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
        styles = _style_list(style)
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
        self._shared = steps if steps is not None and hasattr(options.weights, "layers") else None
        if self._shared is not None:
            self.model = self._shared.model(weights, size, options.pooling, options.precision)
        else:
            self.model = VGGModel(weights, *size, pooling=options.pooling, precision=options.precision)
        del weights
        # Valid pixels in the network's space: box constraints for L-BFGS, clipping where a preset asks for it.
        self.bounds = pixel_bounds(options.image_range)
        # Coarse to fine: one size per scale, the last the output size; the iterations split equally across them.
        if options.scales == large.AUTO:
            self._plan_auto_scales(size)
        else:
            self.sizes = [scaled_size(size, scale) for scale in options.scales]
            self.scale_values = list(options.scales)
            self.scale_iterations = split_iterations(options.iterations, len(self.sizes))
        self._plan_memory()
        self.average = IterateAverage(options.average) if options.average else None
        self.history = []
        self.evaluations = 0
        self._settings = None
        self.side_writes = SideWrites()
        self._enter_scale(0, self._start_image(self.sizes[0]))
        if options.resume is not None:
            self._resume(options.resume)

    def _plan_auto_scales(self, size):
        """scales='auto': large.auto_sizes from min_size to the output, at most one scale per iteration."""
        self.sizes = large.auto_sizes(size, self.options.min_size)[-self.options.iterations :]
        self.scale_values = [round(max(n) / max(size), 4) for n in self.sizes]
        self.scale_iterations = large.auto_iterations(self.options.iterations, self.sizes)

    def _plan_memory(self):
        """The tile size of each scale: tile_size, else tiles only where the whole image would not fit."""
        options = self.options
        layers = [options.content_layer] + [name for name, _ in options.style_layers]
        gpu = bool(tf.config.list_physical_devices("GPU"))
        budget = options.max_memory * 1e9 if options.max_memory else large.available_memory(gpu)
        self.tile_sizes = []
        for height, width in self.sizes:
            if options.tile_size:
                tile_size = options.tile_size if max(height, width) > options.tile_size else 0
            elif budget is None:
                tile_size = 0  # nothing to go by
            else:
                try:
                    tile_size = large.choose_tile_size(height, width, budget, layers, options.pooling)
                except OptionError:
                    if options.max_memory:
                        raise
                    tile_size = 0  # not even a tile fits what is free now: try the whole picture, as before tiles
            self.tile_sizes.append(tile_size)
        if any(self.tile_sizes) and options.jit_compile is None:
            options.jit_compile = False  # the tiles run one by one, outside XLA

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
        arguments = (self.model, content, styles, options.content_layer, options.weighted_style_layers())
        settings = {
            "alpha": options.alpha,
            "beta": options.beta,
            "style_blend": options.style_blend,
            "tv_weight": options.tv_weight,
            "content_cost": options.content_cost,
        }
        settings["style_loss"] = options.style_loss
        settings["guides"] = resize_guides(self.masks, size, style_size)
        tile_size = self.tile_sizes[self.sizes.index(tuple(size))]
        if tile_size:
            return TiledStyleTransferCost(*arguments, tile_size=tile_size, **settings)
        return StyleTransferCost(*arguments, **settings)

    def _start_image(self, size):
        """The first image at `size`, in the options' image range (start.start_image)."""
        return start_image(self.options, self.content_pixels, size)

    def _step_key(self, size):
        """What a shared step must match: the image size, the model, and every option that changes the graph."""
        options = self.options
        fields = dataclasses.fields(options)
        graph = tuple((f.name, repr(getattr(options, f.name))) for f in fields if f.name not in PER_PICTURE_FIELDS)
        return (tuple(size), id(self.model), graph)

    def _enter_scale(self, index, image):
        """Makes scale `index` current: its cost, and a generated image of its size starting from `image`."""
        size = self.sizes[index]
        self.scale_index = index
        cost = self._make_cost(size)
        self._shared_step = None
        if self._shared is not None and getattr(cost, "targets", lambda: None)() is not None:
            self._shared_step = shared = self._shared.step(self._step_key(size), cost, image)
            self.cost, self.image, self.best = shared.cost, shared.image, shared.best
        else:
            self.cost = cost
            if tuple(self.model.input.shape[1:3]) != size:
                self.model.input = tf.Variable(tf.zeros((1, *size, 3)), name="input")
            self.image = self.model.input
            self.image.assign(image)
            self.best = BestImage(self.image)
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
        """The Adam step of the current scale: optimize.train_step, keeping the best image, compiled once (once for
        every picture of this size with a SharedSteps)."""
        shared = self._shared_step
        if shared is not None and shared.optimizer is not None:
            optimizer = shared.optimizer  # its fresh state was restored when this picture took the step
        else:
            optimizer = tf.keras.optimizers.Adam(learning_rate=self.options.learning_rate)
            optimizer.build([self.image])
            if shared is not None:
                shared.optimizer, shared.fresh_state = optimizer, [v.numpy() for v in optimizer.variables]
        self._optimizer = optimizer
        if self._optimizer_state is not None:
            restore_optimizer(optimizer, self._optimizer_state)
            self._optimizer_state = None
        if shared is not None and shared.step is not None:
            return shared.step
        # The TF2 course's clip_0_1 after each step (in general: back into the valid pixel range).
        clip = self.bounds if self.options.clip else None
        step = compile_train_step(
            self.image, optimizer, self.cost.terms, clip, self.options.jit_compile, best=self.best
        )
        if shared is not None:
            shared.step = step
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
        shared = self._shared_step
        if shared is not None and shared.cost_and_gradient is not None:
            cost_and_gradient = shared.cost_and_gradient
        else:
            cost_and_gradient = compile_cost_and_gradient(self.cost, self.image.shape, self.options.jit_compile)
            if shared is not None:
                shared.cost_and_gradient = cost_and_gradient
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
            masks = None
            if self.masks is not None:
                masks = [mask for group in self.masks if group is not None for mask in listed(group)]
            # Weights given loaded are shared by many runs (a batch's worker): their digest, memoised on them, is
            # computed once; the model's copy of the filters holds the same arrays (checkpoint.weights_digest).
            given = self.options.weights
            weights = given if hasattr(given, "layers") else self.model.weights
            self._settings = settings_fingerprint(
                self.options, self.size, weights, self.content_pixels, self.style_pixels, masks
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
        variables = [] if self._optimizer is None else self._optimizer.variables
        state = RunState(
            image=self.image.numpy(),
            best_image=self.best.image.numpy(),
            best_cost=self.best.cost.numpy(),
            optimizer_variables=[variable.path for variable in variables],
            optimizer_state=[variable.numpy() for variable in variables],
            scale_index=self.scale_index,
            evaluations=self.evaluations,
            history=self.history,
            settings=self.settings(),
        )
        if self.average is not None:
            state.average_total, state.average_count = self.average.total, self.average.count
        # checkpoint.png is 8 bits whatever bit_depth the result is written with.
        return save_run(folder, state, self._output_pixels(self._best(self.size)))

    def _resume(self, location):
        """Continues from a checkpoint of the same run; OptionError names what differs if it is another run's."""
        try:
            state = load_run(location, self.settings())
            if state.scale_index != self.scale_index:
                self._enter_scale(state.scale_index, state.image)
            self.image.assign(state.image)
            self.best.image.assign(state.best_image)
            self.best.cost.assign(state.best_cost)
        except CheckpointError as error:
            raise OptionError(f"--resume {location}: {error}") from None
        except (IndexError, ValueError, TypeError) as error:  # a scale, arrays of another shape or type than this run's
            raise OptionError(f"--resume {location}: {damaged(error)}") from None
        self._optimizer_state = state.optimizer_state or None
        self.history = list(state.history)
        self.evaluations = state.evaluations
        if self.average is not None and state.average_total is not None:
            self.average.total, self.average.count = state.average_total, state.average_count


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
