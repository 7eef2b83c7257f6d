"""The article's costs of the image-transformation network's training: FastStyleTrainer, the network with its loss
network, whose train_step (Keras' own model.fit runs it, train.py) stylises a batch of crops and descends
J = alpha J_content + beta J_style + tv J_tv, and style_targets, what it compares the style layers against: the style
pictures' Gram matrices (style_grams), or the targets of another style loss (--style-loss, style_losses).

The loss network is the project's VGG-19 (vgg.load_vgg_model); the costs are the project's functions:
compute_content_cost, layer_style_cost_from_gram against the style's Gram matrices (computed once, rescaled to the
crops' size by style_gram_for_size), total_variation_cost, combined by total_cost. Several styles: each picture's style
cost is against its own style's Gram matrices. Another style loss: its cost of each picture's activations against the
style's target (the loss's own functions, style_losses), as the optimisation computes it. Several devices: each
replica's cost is its share of the global batch's mean, so that the gradients Keras sums over the replicas are the
one-device gradient of the same global batch.
"""

import keras
import numpy as np
import tensorflow as tf

from ..config import CONFIG
from ..costs import (
    compute_content_cost,
    layer_style_cost_from_gram,
    style_gram_for_size,
    total_cost,
    total_variation_cost,
)
from ..images import load_pixels
from ..masks import style_statistics
from ..style_losses import lookup


class FastStyleTrainer(keras.Model):
    """The transformation network with its loss: VGG-19 features of the crops and of their stylised versions."""

    def __init__(self, net, vgg, style_grams, options, **kwargs):
        """
        Arguments:
        net -- the TransformNet being trained
        vgg -- a VGGModel (the loss network; its filters are constants, never trained)
        style_grams -- dict layer -> the style's target (style_targets: for the article's loss its Gram matrix, rescaled
                       to the crops' size; else a tuple, the loss's target); or a list of such dicts, one per style,
                       in the order of the network's style weights
        options -- validated TrainOptions
        """
        super().__init__(**kwargs)
        self.net = net
        targets = [style_grams] if isinstance(style_grams, dict) else list(style_grams)
        targets = [
            {name: value if isinstance(value, tuple) else (value,) for name, value in t.items()} for t in targets
        ]
        # Each part of each layer's target stacked over the styles, (styles, ...): a picture's style picks its own.
        stacked = {
            name: tuple(tf.stack([tf.convert_to_tensor(t[name][j]) for t in targets]) for j in range(len(part)))
            for name, part in targets[0].items()
        }
        loss = lookup(options.style_loss)
        # The article's loss compares Gram matrices rescaled to the crops' size (costs.layer_style_cost_from_gram);
        # another loss computes its own cost from the activations.
        layer_cost = (
            (lambda target, a_G: layer_style_cost_from_gram(target[0], a_G)) if loss.articles_grams else loss.cost
        )
        # Kept out of Keras' tracking: the loss network is no part of the trained (or saved) state.
        object.__setattr__(self, "_vgg", vgg)
        object.__setattr__(self, "_targets", stacked)
        object.__setattr__(self, "_layer_cost", layer_cost)
        self.options = options
        self.mean = tf.constant(CONFIG.MEANS, tf.float32)

    def call(self, inputs, training=False):
        return self.net(inputs, training=training)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (3.x, TensorFlow) builds a model under a strategy from a first batch it draws and averages over the
        # replicas, which MultiWorkerMirroredStrategy cannot do for a pair (pictures, styles); train_fast_model
        # builds the trainer and its optimizer before fit, so there is nothing to build.
        if not (self.built and self.optimizer is not None and self.optimizer.built):
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def costs(self, pictures, generated, styles=None):
        """
        The article's costs of a batch, each the mean over its pictures.

        Arguments:
        pictures -- (batch, H, W, 3) the crops in 0..255
        generated -- (batch, H, W, 3) the network's output for them
        styles -- None (the first style for all), or int (batch,) each picture's style

        Returns:
        J, J_content, J_style, J_tv -- scalar tensors: J = total_cost(J_content, J_style, alpha, beta) + tv * J_tv
        """
        options = self.options
        names = [name for name, _ in options.style_layers]
        content_layer = options.content_layer
        (a_C,) = self._vgg(pictures - self.mean, [content_layer])
        features = self._vgg(generated - self.mean, names + [content_layer])
        batch = tf.cast(tf.shape(pictures)[0], tf.float32)
        # compute_content_cost sums over the batch what it normalises per picture: divided by the batch, the mean.
        J_content = compute_content_cost(tf.stop_gradient(a_C), features[-1]) / batch
        J_style = 0.0
        for (name, weight), a_G in zip(options.style_layers, features[:-1]):
            per_picture = [
                self._layer_cost(
                    tuple(part[0 if styles is None else styles[i]] for part in self._targets[name]), a_G[i : i + 1]
                )
                for i in range(a_G.shape[0])
            ]
            J_style += weight * tf.add_n(per_picture) / batch
        J_tv = total_variation_cost(generated) / batch
        J = total_cost(J_content, J_style, options.content_weight, options.style_weight) + options.tv_weight * J_tv
        return J, J_content, J_style, J_tv

    def train_step(self, data):
        pictures, styles = data if isinstance(data, tuple) else (data, None)
        # Keras sums the replicas' gradients: each replica's cost, a mean over its share of the global batch, is
        # divided by their count, so that the sum is the gradient of the global batch's mean (1 on one device).
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if pictures.shape[0] is None:  # several workers' input leaves the batch unknown: the style cost needs it
            pictures = tf.ensure_shape(pictures, (self.options.batch_size // replicas, *pictures.shape[1:]))
        if styles is None:
            styles = tf.zeros(tf.shape(pictures)[:1], tf.int32)
        # The style weights scale every normalisation per picture: with a batch of unknown size they would leave the
        # stylised batch's size unknown too (a replica's batch of one broadcasts to it), which the style cost needs.
        styles = tf.ensure_shape(styles, pictures.shape[:1])
        weights = tf.one_hot(styles, self.net.styles)
        with tf.GradientTape() as tape:
            generated = self.net((pictures, weights), training=True)
            J, J_content, J_style, J_tv = self.costs(pictures, generated, styles)
            share = J / replicas
        variables = self.net.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(share, variables), variables))
        # Keras reports the mean of the replicas' values: the global batch's costs.
        logs = {"loss": J, "content": J_content, "style": J_style, "tv": J_tv}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras averages a cluster's values along a first axis (strategy.reduce("MEAN", axis=0)): one row each.
            logs = {key: tf.reshape(value, (1,)) for key, value in logs.items()}
        return logs


def style_grams(vgg, style, options):
    """
    The style picture's Gram matrices at the style layers, computed once, as the crops' size would give them.

    Arguments:
    vgg -- a VGGModel
    style -- path of the style picture, or an (H, W, 3) array in 0..255
    options -- validated TrainOptions (style_size: the style's longest side, default the crop size)

    Returns:
    grams -- dict layer -> (n_C, n_C) tensor: style_gram_for_size of the style's activation, for a size x size crop
    """
    pixels = load_pixels(style, max_size=options.style_size or options.size, what="style")
    names = [name for name, _ in options.style_layers]
    activations = vgg(pixels[None] - CONFIG.MEANS.astype(np.float32), names)
    crop_positions = {
        name: tuple(a.shape[1:3]) for name, a in zip(names, vgg(tf.zeros((1, options.size, options.size, 3)), names))
    }
    return {
        name: style_gram_for_size(a, crop_positions[name][0] * crop_positions[name][1])
        for name, a in zip(names, activations)
    }


def style_targets(vgg, style, options):
    """
    What the crops' style layers are compared with, computed once from the style picture: the article's Gram
    matrices (style_grams), or the target of the style loss chosen (options.style_loss, style_losses).

    Arguments:
    vgg -- a VGGModel
    style -- path of the style picture, or an (H, W, 3) array in 0..255
    options -- validated TrainOptions (style_loss, style_size)

    Returns:
    targets -- dict layer -> for the article's loss the Gram matrix of style_grams; else a tuple of float32 tensors,
               the loss's target from the style's per-position statistics (masks.style_statistics)
    """
    loss = lookup(options.style_loss)
    if loss.articles_grams:
        return style_grams(vgg, style, options)
    pixels = load_pixels(style, max_size=options.style_size or options.size, what="style")
    names = [name for name, _ in options.style_layers]
    activations = vgg(pixels[None] - CONFIG.MEANS.astype(np.float32), names)
    return {
        name: tuple(tf.cast(part, tf.float32) for part in loss.target(*style_statistics(a)))
        for name, a in zip(names, activations)
    }


__all__ = [
    "FastStyleTrainer",
    "style_grams",
    "style_targets",
]
