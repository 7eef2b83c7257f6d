"""Solving the optimisation problem: update the pixels of the generated image to lower J(G).

The article builds J once (content activations and style activations fixed), then runs Adam(2.0) on the input
variable for 200 iterations, printing the costs and saving an image every 20. Here the same loop runs eagerly with a
``tf.GradientTape``; the step is compiled with ``tf.function`` (with XLA where a GPU is present), and everything that
does not change from step to step (the content activation and the style Gram matrices) is computed once, before the
loop.

Gatys et al. optimised with L-BFGS instead: that is ``lbfgs.py``, on the same cost.
"""

import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from . import style_losses
from .config import ALPHA, BETA, CONFIG, CONTENT_LAYER, LEARNING_RATE, NUM_ITERATIONS, PRINT_EVERY, STYLE_LAYERS
from .cost_settings import CostSettings, SettingsCost
from .costs import (
    CONTENT_COSTS,
    layer_style_cost_from_gram,
    style_gram_for_size,
    total_cost,
    total_variation_cost,
)
from .images import save_image
from .masks import GuidedStyleCost


class CostTerms(NamedTuple):
    """The terms of the cost of one generated image, by name.

    J is the total: alpha * J_content + beta * J_style, plus tv_weight * J_tv when the total variation term is on
    (J_tv is None when it is off). The course's cost is the tuple (J, J_content, J_style): `of` reads it, `course`
    gives it back, so `J, J_content, J_style = cost(image)` keeps working while no term is picked by its position.
    """

    J: tf.Tensor
    J_content: tf.Tensor
    J_style: tf.Tensor
    J_tv: tf.Tensor | None = None
    J_temporal: tf.Tensor | None = None  # a video frame's temporal term (neural_style.video.TemporalCost)

    @classmethod
    def of(cls, costs: "CostTerms | tuple") -> "CostTerms":
        """
        The terms of a cost's result: CostTerms as they are, or the course's tuple read by name.

        Arguments:
        costs -- CostTerms, or the course's (J, J_content, J_style)

        Returns:
        terms -- CostTerms
        """
        if isinstance(costs, cls):
            return costs
        J, J_content, J_style = costs
        return cls(J, J_content, J_style)

    def course(self) -> tuple:
        """The course's (J, J_content, J_style); J includes tv_weight * J_tv."""
        return self.J, self.J_content, self.J_style

    def floats(self) -> dict[str, float]:
        """The terms that are on, as Python floats by name (J_tv only when the cost has it): a history entry."""
        return {name: float(value) for name, value in self._asdict().items() if value is not None}


class StyleTransferCost(SettingsCost):
    """The article's cost J(G) = alpha * J_content(C, G) + beta * J_style(S, G), with C and S fixed.

    Building it runs the network once on the content image (a_C) and once on each style image (the Gram matrices
    GS of every style layer); calling it on a generated image runs one forward pass that yields every layer the costs
    need, and stops at the deepest of them.

    Beyond the course: several style images, whose Grams are blended per layer (GS = sum_k w_k * GS_k, computed
    once); style images of another size than the generated one (their Grams rescaled by costs.style_gram_for_size);
    a total variation term, J = alpha * J_content + beta * J_style + tv_weight * J_tv; and the paper's content cost.
    """

    def __init__(
        self,
        model,
        content_image,
        style_image,
        content_layer=CONTENT_LAYER,
        style_layers=STYLE_LAYERS,
        alpha=ALPHA,
        beta=BETA,
        *,
        style_blend=None,
        tv_weight=0.0,
        content_cost="course",
        style_loss="gram",
        guides=None,
    ):
        """
        Arguments:
        model -- a VGGModel
        content_image -- the content image as the network sees it, shape (1, n_H, n_W, 3)
        style_image -- one style image (1, h, w, 3), or a list of them (any sizes)
        content_layer, style_layers, alpha, beta, style_blend, tv_weight, content_cost, style_loss -- as for
        CostSettings (from_settings builds the cost from one)
        guides -- None, or masks.Guides: where the styles act (the cost's style part is then a masks.GuidedStyleCost)
        """
        settings = CostSettings(
            content_layer=content_layer,
            style_layers=style_layers,
            alpha=alpha,
            beta=beta,
            style_blend=style_blend,
            tv_weight=tv_weight,
            content_cost=content_cost,
            style_loss=style_loss,
            guides=guides,
        )
        style_images = self.set_up(model, style_image, settings)
        self._content_cost = CONTENT_COSTS[content_cost]
        # The content image has the generated image's size: its pass also gives each style layer's number of positions.
        content_activations = dict(zip(self.layers, model(content_image, self.layers)))
        self.a_C = content_activations[self.content_layer]
        positions = {name: a.shape[1] * a.shape[2] for name, a in content_activations.items()}
        self.content_image = content_image
        # Masks or a loss other than the article's Grams make the style part a GuidedStyleCost.
        self._guided, self.GS = None, None
        if not style_losses.lookup(style_loss).articles_grams or guides is not None:
            shapes = {name: tuple(a.shape[1:3]) for name, a in content_activations.items()}
            self._guided = GuidedStyleCost(
                model, style_images, self.style_layers, shapes, self.style_blend, style_loss, guides
            )
        else:
            style_names = [name for name, _ in self.style_layers]
            self.GS = [0.0] * len(style_names)
            for weight, image in zip(self.style_blend, style_images):
                for i, (name, a_S) in enumerate(zip(style_names, model(image, style_names))):
                    self.GS[i] += weight * style_gram_for_size(a_S, positions[name])

    def targets(self) -> list | None:
        """
        The fixed targets the cost compares a generated image with: a_C, then the blended Gram of each style layer.

        Returns:
        targets -- list of tensors (tf.Variables after hold_targets), or None where the cost has targets that
                   cannot be swapped for another picture's (guides, or a style loss other than the Grams)
        """
        if self._guided is not None:
            return None
        return [self.a_C, *self.GS]

    def hold_targets(self) -> None:
        """
        Puts the targets in tf.Variables, so that one compiled step serves every picture of this size: a step that
        read them as constants would bake one picture's targets into its trace (a new trace, and its memory, for
        each job of a batch and each frame of a video). The values, hence the arithmetic, are the same.
        """
        if self.targets() is None:
            raise ValueError("this cost's targets cannot be held in variables (guides or another style loss)")
        self.a_C = tf.Variable(self.a_C, trainable=False, name="a_C")
        self.GS = [tf.Variable(GS, trainable=False, name=f"GS_{i}") for i, GS in enumerate(self.GS)]

    def assign_targets(self, other: "StyleTransferCost") -> None:
        """
        Takes another picture's targets into the held ones (hold_targets): this cost is then that picture's.

        Arguments:
        other -- a StyleTransferCost of the same image size and settings, built for the other picture
        """
        for held, value in zip(self.targets(), other.targets(), strict=True):
            held.assign(value)
        self.content_image = other.content_image

    def terms(self, generated_image: tf.Tensor) -> CostTerms:
        """
        Every term of the cost of a generated image, by name.

        Arguments:
        generated_image -- tensor of shape (1, n_H, n_W, 3), as the network sees it

        Returns:
        terms -- CostTerms of scalar tensors: J, J_content, J_style, and J_tv (None when tv_weight is 0)
        """
        if self._guided is not None:
            # Outside a content mask the image is the photo (masks.GuidedStyleCost.masked_image).
            generated_image = self._guided.masked_image(generated_image, self.content_image)
        activations = dict(zip(self.layers, self.model(generated_image, self.layers)))
        J_content = self._content_cost(self.a_C, activations[self.content_layer])
        if self._guided is None:
            J_style = 0.0
            for (name, coeff), GS in zip(self.style_layers, self.GS):
                J_style += coeff * layer_style_cost_from_gram(GS, activations[name])
        else:
            J_style = self._guided(activations)
        J = total_cost(J_content, J_style, self.alpha, self.beta)
        J_tv = None
        if self.tv_weight:
            J_tv = total_variation_cost(generated_image)
            J = J + self.tv_weight * J_tv
        return CostTerms(J, J_content, J_style, J_tv)


class BestImage:
    """The lowest-cost image seen so far and its cost, held in two tf.Variables so that a compiled step can keep them.

    An image replaces the best one only when its cost is lower; a NaN cost never does. The cost starts at +inf.
    """

    def __init__(self, image: tf.Tensor | np.ndarray):
        """
        Arguments:
        image -- an image of the shape to keep, (1, n_H, n_W, 3); held until an image with a cost is offered
        """
        self.image = tf.Variable(image, trainable=False)
        self.cost = tf.Variable(np.inf, dtype=tf.float32, trainable=False)

    def offer(self, image: tf.Tensor | np.ndarray, J: tf.Tensor | float) -> None:
        """
        Keeps `image` if its cost is lower than the best so far; runs eagerly and inside tf.function alike.

        Arguments:
        image -- an image of the kept shape
        J -- its total cost
        """
        J = tf.cast(J, tf.float32)

        def keep():
            self.image.assign(image)
            self.cost.assign(J)
            return tf.constant(True)

        # tf.cond, not tf.where over the image: the image is copied only when it is kept.
        tf.cond(J < self.cost, keep, lambda: tf.constant(False))

    def reset(self, image: tf.Tensor | np.ndarray) -> None:
        """
        Starts again from `image` with no cost (+inf), as a new BestImage would: a compiled step that keeps this
        one then serves the next picture of the same size.

        Arguments:
        image -- an image of the kept shape
        """
        self.image.assign(image)
        self.cost.assign(np.inf)


class IterateAverage:
    """The exponential moving average of the iterates, bias-corrected (as Adam's moments): what option average writes.

    BestImage keeps the lowest-cost iterate, this their weighted mean; StyleTransfer's loop adds each iterate after
    the step (Adam or L-BFGS) that made it. avg_t = decay * avg_(t-1) + (1 - decay) * x_t, avg_0 = 0; the value is
    avg_t / (1 - decay ** t), the weighted mean of the iterates so far. `reset` starts it again (at each scale of a
    coarse-to-fine run).
    """

    def __init__(self, decay: float):
        """
        Arguments:
        decay -- in (0, 1), e.g. 0.99 (about the last 100 iterates)
        """
        self.decay = decay
        self.reset()

    def reset(self) -> None:
        """Forgets every iterate."""
        self.total = None
        self.count = 0

    def update(self, image: tf.Tensor | np.ndarray) -> None:
        """
        Adds an iterate.

        Arguments:
        image -- array of the image's shape
        """
        image = np.asarray(image, np.float64)
        self.total = (
            (1 - self.decay) * image if self.total is None else self.decay * self.total + (1 - self.decay) * image
        )
        self.count += 1

    def value(self) -> np.ndarray | None:
        """
        The bias-corrected average.

        Returns:
        image -- float32 array, or None before the first iterate
        """
        if self.total is None:
            return None
        return (self.total / (1 - self.decay**self.count)).astype(np.float32)


def train_step(
    generated_image: tf.Variable,
    optimizer: tf.keras.optimizers.Optimizer,
    cost: Callable[[tf.Tensor], tuple | CostTerms],
    clip: tuple | None = None,
    best: BestImage | None = None,
) -> tuple | CostTerms:
    """
    One step of the optimisation: the costs and their gradient with respect to the pixels, then one update.

    The one place the pixels are updated: model_nn, StyleTransfer and visualize's sweep all take this step.

    Arguments:
    generated_image -- tf.Variable of shape (1, n_H, n_W, 3), e.g. model['input']; updated in place
    optimizer -- a tf.keras optimizer, e.g. tf.keras.optimizers.Adam(learning_rate=2.0)
    cost -- callable of an image returning the course's (J, J_content, J_style), e.g. a StyleTransferCost, or
            CostTerms, e.g. a StyleTransferCost's `terms`
    clip -- None, or (low, high) to clip the pixels after the update (the TF2 course's clip_0_1 is (0, 1))
    best -- None, or a BestImage offered the image before the update, with its cost

    Returns:
    costs -- what `cost` returned for the image before the update: J, J_content, J_style (or CostTerms)
    """
    with tf.GradientTape() as tape:
        costs = cost(generated_image)
    J = CostTerms.of(costs).J
    grad = tape.gradient(J, generated_image)
    if best is not None:
        # The cost belongs to the image before the update, so that is the image offered.
        best.offer(generated_image, J)
    optimizer.apply_gradients([(grad, generated_image)])
    if clip is not None:
        low, high = clip
        generated_image.assign(tf.clip_by_value(generated_image, low, high))
    return costs


JIT_COMPILE_ENV = "NEURAL_STYLE_JIT_COMPILE"


def resolve_jit_compile(jit_compile: bool | None = None) -> bool:
    """
    Whether to compile the step with XLA: as asked, or by default only where a GPU is present.

    On the CPUs we measured, XLA's step was no faster than TensorFlow's own oneDNN kernels but took more memory, and
    XLA's CPU convolutions do not use oneDNN's bfloat16/AMX kernels (the figures: docs/performance.md).
    $NEURAL_STYLE_JIT_COMPILE overrides the default: '0' never compiles with XLA, even when asked (a switch for a
    platform where XLA misbehaves, and for running the tests without it); '1' compiles with XLA unless asked not to.

    Arguments:
    jit_compile -- True, False, or None for the default

    Returns:
    jit_compile -- a bool
    """
    setting = os.environ.get(JIT_COMPILE_ENV, "").strip()
    if setting == "0":
        return False
    if jit_compile is None:
        return setting == "1" or bool(tf.config.list_physical_devices("GPU"))
    return bool(jit_compile)


def compile_train_step(
    generated_image: tf.Variable,
    optimizer: tf.keras.optimizers.Optimizer,
    cost: Callable[[tf.Tensor], tuple | CostTerms],
    clip: tuple | None = None,
    jit_compile: bool | None = None,
    best: BestImage | None = None,
) -> Callable[[], tuple | CostTerms]:
    """
    train_step bound to its arguments and compiled once with tf.function.

    Arguments:
    generated_image, optimizer, cost, clip, best -- as for train_step
    jit_compile -- compile with XLA; None: only where a GPU is present (see resolve_jit_compile)

    Returns:
    step -- a function of no arguments that runs one step and returns what train_step does: (J, J_content,
            J_style), or CostTerms when `cost` gives them
    """

    def step():
        return train_step(generated_image, optimizer, cost, clip, best)

    return tf.function(step, jit_compile=resolve_jit_compile(jit_compile))


def print_costs(i, J, J_content, J_style):
    """Prints the costs as the article does every 20 iterations."""
    print("Iteration " + str(i) + " :")
    print("total cost = " + str(J))
    print("content cost = " + str(J_content))
    print("style cost = " + str(J_style))


def model_nn(
    model,
    input_image,
    num_iterations=NUM_ITERATIONS,
    *,
    content_image,
    style_image,
    content_layer=CONTENT_LAYER,
    style_layers=STYLE_LAYERS,
    alpha=ALPHA,
    beta=BETA,
    learning_rate=LEARNING_RATE,
    output_dir=CONFIG.OUTPUT_DIR,
    print_every=PRINT_EVERY,
    callback=None,
    history=None,
    jit_compile=None,
):
    """
    The article's optimisation loop: Adam on the pixels of model['input'], starting from input_image.

    The TF1 version took a session in which J had been built; here J is built from the content and style images
    (their activations computed once) and the step runs eagerly under a tf.GradientTape, compiled with tf.function.
    Every `print_every` iterations it prints the costs and saves output_dir/i.png; at the end it saves
    output_dir/generated_image.jpg. The costs reported for iteration i are those of the image the step started from.

    Arguments:
    model -- a VGGModel from load_vgg_model; its input variable holds the generated image
    input_image -- the starting image, shape (1, n_H, n_W, 3), mean-subtracted (e.g. generate_noise_image(...))
    num_iterations -- number of Adam steps
    content_image, style_image -- mean-subtracted images (1, n_H, n_W, 3), from reshape_and_normalize_image
    content_layer, style_layers, alpha, beta, learning_rate -- the article's choices: conv4_2, STYLE_LAYERS, 10, 40,
                                                              2.0
    output_dir -- where images are saved; None saves nothing
    print_every -- interval of printing and saving; 0 never prints or saves intermediate images
    callback -- None, or a function callback(i, generated_image, costs) called after every step, costs a dict
    history -- None, or a list to which one dict per iteration is appended: iteration, J, J_content, J_style

    Returns:
    generated_image -- numpy array of shape (1, n_H, n_W, 3), mean-subtracted like its input
    """
    if model["input"].shape != np.shape(input_image):
        model.input = tf.Variable(tf.zeros(np.shape(input_image)), name="input")
    generated_image = model["input"]
    cost = StyleTransferCost(model, content_image, style_image, content_layer, style_layers, alpha, beta)
    optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
    step = compile_train_step(generated_image, optimizer, cost, jit_compile=jit_compile)
    generated_image.assign(input_image)
    for i in range(num_iterations):
        J, J_content, J_style = (float(value) for value in step())
        costs = {"iteration": i, "J": J, "J_content": J_content, "J_style": J_style}
        if history is not None:
            history.append(costs)
        if callback is not None:
            callback(i, generated_image, costs)
        if print_every and i % print_every == 0:
            print_costs(i, J, J_content, J_style)
            if output_dir is not None:
                save_image(os.path.join(output_dir, str(i) + ".png"), generated_image)
    result = generated_image.numpy()
    if output_dir is not None:
        save_image(os.path.join(output_dir, "generated_image.jpg"), result)
    return result
