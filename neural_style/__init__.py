"""neural_style: the course's neural style transfer (Gatys, Ecker & Bethge 2015) in TensorFlow 2.

Every function of the assignment is here under its course name::

    from neural_style import load_vgg_model, compute_content_cost, gram_matrix, compute_layer_style_cost, \
        compute_style_cost, total_cost, reshape_and_normalize_image, generate_noise_image, save_image, model_nn, \
        CONFIG, STYLE_LAYERS

The names are loaded when first used (PEP 562), so that `import neural_style` and the command line's answers to
--help, --version and bad input do not wait for TensorFlow; using any of them loads it, once, with its native
start-up log lines kept off the terminal.
"""

import os as _os
import sys as _sys
import types as _types

from . import _keras_hook, _lazy, _native_logs

__version__ = "0.1.0"

# TensorFlow's C++ start-up chatter (oneDNN, CPU features, CUDA probing) says nothing a user can act on.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_native_logs.quiet_tensorflow_import()
# keras.models.load_model reads the fast network's .keras files once Keras is imported, in either order with this
# package, and `import neural_style` still loads no Keras (the classes are registered when Keras arrives).
_keras_hook.install()

# The public names by the module that defines them.
_EXPORTS = {
    "batch": (
        "Job",
        "grid_jobs",
        "manifest_jobs",
        "stylize_many",
    ),
    "config": (
        "ALPHA",
        "BETA",
        "CONFIG",
        "CONTENT_LAYER",
        "LEARNING_RATE",
        "NUM_ITERATIONS",
        "STYLE_LAYERS",
    ),
    "costs": (
        "compute_content_cost",
        "compute_layer_mean_cov_cost",
        "compute_layer_style_cost",
        "compute_layer_w2_cost",
        "compute_style_cost",
        "feature_moments",
        "gram_matrix",
        "layer_gram",
        "layer_style_cost_from_gram",
        "mean_cov_distance",
        "sqrtm_psd",
        "total_cost",
        "total_variation_cost",
        "trace_sqrtm_psd",
        "w2_distance",
    ),
    "images": (
        "ImageError",
        "clip_0_1",
        "generate_noise_image",
        "image_to_uint8",
        "load_image",
        "reshape_and_normalize_image",
        "save_image",
        "tensor_to_image",
    ),
    "lbfgs": (
        "LBFGS",
        "compile_cost_and_gradient",
    ),
    "optimize": (
        "StyleTransferCost",
        "compile_train_step",
        "model_nn",
        "train_step",
    ),
    "options": (
        "OptionError",
        "StyleOptions",
    ),
    "stylize": (
        "NonFiniteCostError",
        "StyleTransfer",
        "stylize",
    ),
    "vgg": (
        "VGGModel",
        "load_vgg_model",
    ),
    "weights": (
        "VGGWeights",
        "WeightsError",
        "download_weights",
        "load_weights",
        "random_vgg_weights",
        "read_keras_weights",
        "read_mat_weights",
        "verify_weights",
    ),
}
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
    # style losses beyond the Gram matrix (--style-loss mean-cov | w2)
    "compute_layer_mean_cov_cost",
    "compute_layer_w2_cost",
    "feature_moments",
    "mean_cov_distance",
    "w2_distance",
    "sqrtm_psd",
    "trace_sqrtm_psd",
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
    # many pictures (neural-style batch)
    "stylize_many",
    "Job",
    "grid_jobs",
    "manifest_jobs",
]


__getattr__, __dir__ = _lazy.lazy_exports(__name__, _EXPORTS)


class _Package(_types.ModuleType):
    """The package's module type: importing the submodule `stylize` must not hide the function `stylize` (the
    import system sets a package's attribute to each submodule it loads; the submodule stays in sys.modules)."""

    def __setattr__(self, name, value):
        if name == "stylize" and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
