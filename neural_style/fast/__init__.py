"""Fast stylisation (Johnson, Alahi & Fei-Fei 2016): a feed-forward network trained once per style with the article's
costs, then one forward pass a picture. See docs/fast.md.

    from neural_style.fast import train_fast_model, load_fast_model, stylize_picture

The names are imported when first used, so that importing this package (the command line does) loads no TensorFlow.
"""

import importlib

_WHERE = {
    "train_fast_model": "train",
    "load_fast_model": "apply",
    "stylize_picture": "apply",
    "apply_model": "apply",
    "export_tflite": "export",
    "export_saved_model": "export",
    "stylize_frames": "video",
    "build_transform_net": "network",
    "TransformNet": "network",
    "TrainOptions": "options",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
