"""The compiled steps of a style transfer, and the SharedSteps that keep them between pictures.

A ``SharedStep`` holds what one image size's optimisation runs on: the generated image, the cost, the best image, and
the compiled functions (Adam's train step, L-BFGS's cost and gradient), made the first time they are asked for. A
picture made alone has a step of its own (``lone_step``); the pictures that a batch's worker or a video makes one
after another take theirs from a ``SharedSteps``, which traces each step once and gives it each picture's targets.
"""

import collections
import dataclasses

import numpy as np
import tensorflow as tf

from .checkpoint import restore_optimizer
from .lbfgs import compile_cost_and_gradient
from .optimize import BestImage, compile_train_step
from .vgg import VGGModel

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
    its targets in variables, the best image, the optimiser with its fresh state, and the compiled functions.

    A picture made alone has one of its own (lone_step), not `shared`: nothing keeps its optimiser's fresh state."""

    image: tf.Variable
    cost: object
    best: BestImage
    optimizer: object = None
    fresh_state: list | None = None
    step: object = None
    cost_and_gradient: object = None
    shared: bool = True

    def adam_step(self, learning_rate, clip, jit_compile):
        """
        The Adam optimiser and its compiled step (optimize.compile_train_step, keeping the best image), made the first
        time they are asked for and the same ones after.

        Arguments:
        learning_rate -- Adam's learning rate
        clip -- None, or (low, high): the pixel range the image is clipped back into after each step
        jit_compile -- as for compile_train_step

        Returns:
        optimizer -- the tf.keras Adam optimiser, built for the image
        step -- a function of no arguments that runs one step and returns the costs (CostTerms)
        """
        if self.optimizer is None:
            self.optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
            self.optimizer.build([self.image])
            if self.shared:
                self.fresh_state = [variable.numpy() for variable in self.optimizer.variables]
        if self.step is None:
            self.step = compile_train_step(self.image, self.optimizer, self.cost.terms, clip, jit_compile, self.best)
        return self.optimizer, self.step

    def lbfgs_cost_and_gradient(self, jit_compile):
        """
        L-BFGS's compiled cost and gradient (lbfgs.compile_cost_and_gradient), made the first time it is asked for.

        Arguments:
        jit_compile -- as for compile_cost_and_gradient

        Returns:
        cost_and_gradient -- as compile_cost_and_gradient returns it
        """
        if self.cost_and_gradient is None:
            self.cost_and_gradient = compile_cost_and_gradient(self.cost, self.image.shape, jit_compile)
        return self.cost_and_gradient


def lone_step(model, cost, image):
    """
    The step of a picture that shares nothing: on the model's own input variable (made anew at another size).

    Arguments:
    model -- the picture's VGGModel
    cost -- the picture's cost at this size
    image -- the starting image, (1, H, W, 3) in the network's space

    Returns:
    step -- a SharedStep that no other picture takes
    """
    size = tuple(np.shape(image)[1:3])
    if tuple(model.input.shape[1:3]) != size:
        model.input = tf.Variable(tf.zeros((1, *size, 3)), name="input")
    model.input.assign(image)
    return SharedStep(model.input, cost, BestImage(model.input), shared=False)


def step_key(options, size, model):
    """
    What a shared step must match: the image size, the model, and every option that changes the graph.

    Arguments:
    options -- the picture's validated StyleOptions
    size -- (height, width) of the step's image
    model -- the picture's VGGModel

    Returns:
    key -- hashable: the options not in PER_PICTURE_FIELDS by their repr
    """
    fields = dataclasses.fields(options)
    graph = tuple((f.name, repr(getattr(options, f.name))) for f in fields if f.name not in PER_PICTURE_FIELDS)
    return (tuple(size), id(model), graph)


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
        key -- hashable: the image size and every setting that changes the graph (step_key)
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
