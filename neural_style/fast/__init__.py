"""Fast stylisation (Johnson, Alahi & Fei-Fei 2016): a feed-forward network trained once per style with the article's
costs, then one forward pass a picture. See docs/fast.md.

    from neural_style.fast import train_fast_model, load_fast_model, stylize_picture

The names are loaded when first used (the package's lazy exports, neural_style/_lazy.py), so that importing this
package (the command line does) loads no TensorFlow.
"""

from .._lazy import lazy_exports, public_names

# The public names by the module that defines them.
_EXPORTS = {
    "apply": ("apply_model", "load_fast_model", "stylize_picture"),
    "export": ("export_saved_model", "export_tflite"),
    "network": ("TransformNet", "build_transform_net"),
    "options": ("TrainOptions",),
    "train": ("train_fast_model",),
    "video": ("stylize_frames",),
}

__all__ = public_names(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
