"""The VGG-19 network that extracts the features of an image: the article's ``load_vgg_model``.

The model keeps the article's interface, ``model['input']`` a variable and ``model['conv4_2']`` an activation, in
eager TensorFlow 2. It can also be called on any image for several layers at once, in one forward pass that stops at
the deepest layer asked for; the optimisation loop uses that form.
"""

import collections.abc
import dataclasses
import os

import tensorflow as tf

from .checks import UnknownLayerError, check_choice, check_layers  # noqa: F401 (UnknownLayerError: re-exported)
from .config import CONFIG
from .layers import POOLINGS, PRECISIONS, canonical_layer_name, layer_names
from .weights import VGGWeights, load_weights


class VGGModel(tf.Module, collections.abc.Mapping):
    """VGG-19 convolutions (conv + bias + ReLU) and 2x2 stride-2 pools, with the article's dict interface.

    ``model['input']`` is a float32 tf.Variable of shape (1, height, width, 3) holding a mean-subtracted RGB image;
    ``model[name]`` is the activation of layer `name` for the variable's current value, computed when asked for.
    ``model(image, names)`` returns the activations of several layers for any image in one forward pass.
    """

    def __init__(
        self,
        weights: VGGWeights,
        height: int = CONFIG.IMAGE_HEIGHT,
        width: int = CONFIG.IMAGE_WIDTH,
        pooling: str = "avg",
        precision: str = "float32",
    ):
        super().__init__(name="vgg19")
        check_choice(precision, PRECISIONS, "precision")
        self.pooling = pooling
        self.precision = precision
        self.layer_names = layer_names(pooling)
        self.input = tf.Variable(tf.zeros((1, height, width, 3)), name="input")
        # Constants, not variables: the filters never change, and XLA can fold them into the compiled step.
        self._filters = {
            name: (tf.constant(kernel, precision), tf.constant(bias, precision))
            for name, (kernel, bias) in weights.layers.items()
        }
        if precision == "float32":
            # numpy views of the constants' own memory: the filters are held once, and the arrays they were read
            # into can be freed (80 MB of peak memory for VGG-19).
            views = {name: (kernel.numpy(), bias.numpy()) for name, (kernel, bias) in self._filters.items()}
            weights = dataclasses.replace(weights, layers=views)
        self.weights = weights
        # Keras' converted-from-Caffe filters expect BGR; callers always pass RGB, as the article does.
        self._flip_channels = weights.channel_order == "BGR"

    def __getitem__(self, name):
        if name == "input":
            return self.input
        return self(self.input, [name])[0]

    def __iter__(self):
        return iter(["input"] + self.layer_names)

    def __len__(self):
        return 1 + len(self.layer_names)

    def __contains__(self, name):
        return name == "input" or canonical_layer_name(name, self.pooling) in self.layer_names

    # A Mapping compares by value, which would run the network: compare models by identity instead.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def _layer(self, name, x):
        """One layer: a convolution plus bias (before its ReLU, which __call__ applies), or a pool."""
        if name in self._filters:
            kernel, bias = self._filters[name]
            return tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + bias
        pool = tf.nn.avg_pool2d if self.pooling == "avg" else tf.nn.max_pool2d
        return pool(x, ksize=2, strides=2, padding="SAME")

    def __call__(
        self, image: tf.Tensor, names: list[str], relu=tf.nn.relu, before_relu: bool = False
    ) -> list[tf.Tensor]:
        """
        Activations of several layers for one image, in one forward pass that stops at the deepest of them.

        Arguments:
        image -- tensor of shape (1, n_H, n_W, 3), a mean-subtracted RGB image (any size)
        names -- list of layer names, e.g. ['conv1_1', 'conv4_2'] (Keras names such as 'block4_conv2' work too)
        relu -- the rectifier after each convolution (the visualisations swap in guided / deconvnet ReLUs)
        before_relu -- hand out the convolutions' values before their ReLU (pools are unaffected)

        Returns:
        activations -- list of float32 tensors, one per name, in the order asked for
        """
        # Keras names (block4_conv2) are accepted as aliases of the article's (conv4_2).
        names = [canonical_layer_name(name, self.pooling) for name in names]
        check_layers(names, self.layer_names)
        wanted = set(names)
        deepest = max(self.layer_names.index(name) for name in names)
        x = tf.cast(tf.convert_to_tensor(image, dtype=tf.float32), self.precision)
        if self._flip_channels:
            x = x[..., ::-1]
        found = {}
        for name in self.layer_names[: deepest + 1]:
            value = self._layer(name, x)
            x = relu(value) if name in self._filters else value
            if name in wanted:
                found[name] = tf.cast(value if before_relu else x, tf.float32)
        return [found[name] for name in names]


def load_vgg_model(
    path: str | os.PathLike | VGGWeights = CONFIG.VGG_MODEL,
    height: int = CONFIG.IMAGE_HEIGHT,
    width: int = CONFIG.IMAGE_WIDTH,
    pooling: str = "avg",
    precision: str = "float32",
) -> VGGModel:
    """
    Builds the VGG-19 feature extractor of the article from a weight file.

    Arguments:
    path -- imagenet-vgg-verydeep-19.mat (either MatConvNet layout), or 'random' for He-initialised filters
    height -- height of model['input']
    width -- width of model['input']
    pooling -- 'avg' (the article's, after Gatys et al.) or 'max'
    precision -- 'float32' (the article's), or 'bfloat16' for the convolutions only (mixed precision, activations
                 handed out in float32; its speed is measured in docs/performance.md)

    Returns:
    model -- a VGGModel: model['input'] is a tf.Variable (1, height, width, 3), model['conv4_2'] etc. activations
    """
    check_choice(pooling, POOLINGS, "pooling")
    weights = path if hasattr(path, "layers") else load_weights(path)
    return VGGModel(weights, height=height, width=width, pooling=pooling, precision=precision)
