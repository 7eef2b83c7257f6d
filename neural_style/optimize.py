"""Solving the optimisation problem: update the pixels of the generated image to lower J(G).

The article builds J once (content activations and style activations fixed), then runs Adam(2.0) on the input
variable for 200 iterations, printing the costs and saving an image every 20. Here the same loop runs eagerly with a
``tf.GradientTape``; the step is compiled with ``tf.function`` (XLA on CPU), and everything that does not change from
step to step (the content activation and the style Gram matrices) is computed once, before the loop.
"""

import os

import numpy as np
import tensorflow as tf

from .config import ALPHA, BETA, CONFIG, CONTENT_LAYER, LEARNING_RATE, NUM_ITERATIONS, PRINT_EVERY, STYLE_LAYERS
from .costs import compute_content_cost, layer_gram, layer_style_cost_from_gram, total_cost
from .images import save_image


class StyleTransferCost:
    """The article's cost J(G) = alpha * J_content(C, G) + beta * J_style(S, G), with C and S fixed.

    Building it runs the network once on the content image (a_C) and once on the style image (the Gram matrices
    GS of every style layer); calling it on a generated image runs one forward pass that yields every layer the costs
    need, and stops at the deepest of them.
    """

    def __init__(self, model, content_image, style_image, content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS,
                 alpha=ALPHA, beta=BETA):
        self.model = model
        self.content_layer = content_layer
        self.style_layers = list(style_layers)
        self.alpha, self.beta = alpha, beta
        style_names = [name for name, _ in self.style_layers]
        # One forward pass for the generated image serves both costs; a layer used by both is computed once.
        self.layers = list(dict.fromkeys(style_names + [content_layer]))
        self.a_C = model(content_image, [content_layer])[0]
        self.GS = [layer_gram(a_S) for a_S in model(style_image, style_names)]

    def __call__(self, generated_image):
        """
        Computes the costs of a generated image.

        Arguments:
        generated_image -- tensor of shape (1, n_H, n_W, 3), mean-subtracted

        Returns:
        J, J_content, J_style -- scalar tensors
        """
        activations = dict(zip(self.layers, self.model(generated_image, self.layers)))
        J_content = compute_content_cost(self.a_C, activations[self.content_layer])
        J_style = 0.0
        for (name, coeff), GS in zip(self.style_layers, self.GS):
            J_style += coeff * layer_style_cost_from_gram(GS, activations[name])
        J = total_cost(J_content, J_style, self.alpha, self.beta)
        return J, J_content, J_style


def train_step(generated_image, optimizer, cost, clip=None):
    """
    One step of the optimisation: the costs and their gradient with respect to the pixels, then one update.

    Arguments:
    generated_image -- tf.Variable of shape (1, n_H, n_W, 3), e.g. model['input']; updated in place
    optimizer -- a tf.keras optimizer, e.g. tf.keras.optimizers.Adam(learning_rate=2.0)
    cost -- callable returning (J, J_content, J_style) for an image, e.g. a StyleTransferCost
    clip -- None, or (low, high) to clip the pixels after the update (the TF2 course's clip_0_1 is (0, 1))

    Returns:
    J, J_content, J_style -- the costs of the image before the update
    """
    with tf.GradientTape() as tape:
        J, J_content, J_style = cost(generated_image)
    grad = tape.gradient(J, generated_image)
    optimizer.apply_gradients([(grad, generated_image)])
    if clip is not None:
        generated_image.assign(tf.clip_by_value(generated_image, clip[0], clip[1]))
    return J, J_content, J_style


def compile_train_step(generated_image, optimizer, cost, clip=None, jit_compile=True):
    """
    train_step bound to its arguments and compiled once with tf.function.

    Arguments:
    generated_image, optimizer, cost, clip -- as for train_step
    jit_compile -- compile with XLA (faster on CPU and GPU for this network)

    Returns:
    step -- a function of no arguments that runs one step and returns (J, J_content, J_style)
    """

    def step():
        return train_step(generated_image, optimizer, cost, clip)

    return tf.function(step, jit_compile=jit_compile)


def print_costs(i, J, J_content, J_style):
    """Prints the costs as the article does every 20 iterations."""
    print("Iteration " + str(i) + " :")
    print("total cost = " + str(J))
    print("content cost = " + str(J_content))
    print("style cost = " + str(J_style))


def model_nn(model, input_image, num_iterations=NUM_ITERATIONS, *, content_image, style_image,
             content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS, alpha=ALPHA, beta=BETA,
             learning_rate=LEARNING_RATE, output_dir=CONFIG.OUTPUT_DIR, print_every=PRINT_EVERY, callback=None,
             history=None, jit_compile=True):
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
    content_layer, style_layers, alpha, beta, learning_rate -- the article's choices (conv4_2, STYLE_LAYERS, 10, 40, 2.0)
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
