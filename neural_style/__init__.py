"""neural_style: the course's neural style transfer (Gatys, Ecker & Bethge 2015) in TensorFlow 2.

Every function of the assignment is here under its course name::

    from neural_style import load_vgg_model, compute_content_cost, gram_matrix, compute_layer_style_cost, \
        compute_style_cost, total_cost, reshape_and_normalize_image, generate_noise_image, save_image, model_nn, \
        CONFIG, STYLE_LAYERS
"""

import os as _os

from . import _native_logs

# TensorFlow's C++ start-up chatter (oneDNN, CPU features, CUDA probing) says nothing a user can act on.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with _native_logs.silenced():
    import tensorflow as _tf

    _tf.config.list_physical_devices()

from .config import ALPHA, BETA, CONFIG, CONTENT_LAYER, LEARNING_RATE, NUM_ITERATIONS, STYLE_LAYERS  # noqa: E402
from .costs import (  # noqa: E402
    compute_content_cost,
    compute_layer_style_cost,
    compute_style_cost,
    gram_matrix,
    layer_gram,
    layer_style_cost_from_gram,
    total_cost,
    total_variation_cost,
)
from .images import (  # noqa: E402
    ImageError,
    clip_0_1,
    generate_noise_image,
    image_to_uint8,
    load_image,
    reshape_and_normalize_image,
    save_image,
    tensor_to_image,
)
from .lbfgs import LBFGS, compile_cost_and_gradient  # noqa: E402
from .optimize import (  # noqa: E402
    StyleTransferCost,
    compile_train_step,
    model_nn,
    train_step,
)
from .options import OptionError, StyleOptions  # noqa: E402
from .stylize import NonFiniteCostError, StyleTransfer, stylize  # noqa: E402
from .vgg import VGGModel, load_vgg_model  # noqa: E402
from .weights import (  # noqa: E402
    VGGWeights,
    WeightsError,
    download_weights,
    load_weights,
    random_vgg_weights,
    read_keras_weights,
    read_mat_weights,
    verify_weights,
)

__all__ = [
    # the course's names
    "CONFIG",
    "STYLE_LAYERS",
    "CONTENT_LAYER",
    "ALPHA",
    "BETA",
    "LEARNING_RATE",
    "NUM_ITERATIONS",
    "load_vgg_model",
    "compute_content_cost",
    "gram_matrix",
    "compute_layer_style_cost",
    "compute_style_cost",
    "total_cost",
    "reshape_and_normalize_image",
    "generate_noise_image",
    "save_image",
    "model_nn",
    "train_step",
    "clip_0_1",
    "tensor_to_image",
    # the library around them
    "VGGModel",
    "VGGWeights",
    "load_weights",
    "read_mat_weights",
    "read_keras_weights",
    "random_vgg_weights",
    "download_weights",
    "verify_weights",
    "WeightsError",
    "layer_gram",
    "layer_style_cost_from_gram",
    "total_variation_cost",
    "load_image",
    "image_to_uint8",
    "ImageError",
    "StyleTransferCost",
    "compile_train_step",
    "compile_cost_and_gradient",
    "LBFGS",
    "StyleOptions",
    "StyleTransfer",
    "stylize",
    "OptionError",
    "NonFiniteCostError",
]

__version__ = "0.1.0"
