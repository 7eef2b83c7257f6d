"""Seeing inside the network: what the layers of VGG-19 respond to (the article's first section).

The article explains with CNN visualisation (the DeepVis toolbox of Yosinski et al., Zeiler & Fergus 2013) why
shallow layers carry colour and texture and deep layers carry the arrangement of object parts, and Gatys et al.'s
figure 1 shows what survives when an image is rebuilt from one layer. Each kind is a module with a function returning
arrays, and a ``*_figure`` function that lays the result out as a labelled matplotlib figure:

- ``maps``: ``feature_maps`` / ``maps_figure``, every channel of one layer for one image, the strongest marked;
- ``top``: ``top_images`` / ``top_figure``, the k images of a folder that activate one channel most, cropped to the
  receptive field of the strongest position;
- ``projection``: ``project`` / ``project_figure``, the strongest activation of a channel projected back to pixels
  (deconvnet or guided backpropagation, through a ReLU whose gradient is replaced with ``tf.custom_gradient``);
- ``maximization``: ``maximize`` / ``maximize_figure``, regularised activation maximisation from noise (L2 decay,
  periodic blur, clipping);
- ``sweeps``: ``sweep`` / ``sweep_figure``, reconstructions from white noise with the content cost of one layer, or
  the style cost of a growing set of layers (Gatys et al. fig. 1), using the article's StyleTransferCost and Adam loop;
- ``curves``: ``read_history`` / ``curves_figure``, the cost curves of a run's ``--history`` file;
- ``shared``: the model, image loading, layer and channel checks, receptive fields and the figure helpers.

(The modules of ``project``, ``maximize`` and ``sweep`` are named ``projection``, ``maximization`` and ``sweeps`` so
that ``neural_style.visualize.project`` and the others stay the functions.) ``save_figure`` writes any of the figures
atomically. Every name is importable from ``neural_style.visualize`` itself.
"""

from .._lazy import lazy_exports, public_names

# The public names by the module that defines them, loaded when first used (the command line builds its --help from
# `options` without loading TensorFlow).
_EXPORTS = {
    "curves": ("CURVE_TITLES", "HISTORY_KEYS", "HistoryError", "curves_figure", "history_series", "read_history"),
    "options": (
        "OBJECTIVES",
        "PROJECTION_RULES",
        "SWEEP_CONTENT_LAYERS",
        "SWEEP_STYLE_SETS",
        "check_options",
        "image_files",
    ),
    "maps": ("FeatureMaps", "feature_maps", "maps_figure", "maps_grid", "strongest_channels"),
    "maximization": ("Maximization", "maximize", "maximize_figure"),
    "projection": ("Projection", "project", "project_figure", "projection_relu", "projection_to_image"),
    "shared": (
        "as_model",
        "check_channel",
        "check_layer",
        "figure_to_array",
        "layer_channels",
        "load_pixels",
        "receptive_field",
        "receptive_field_size",
        "save_figure",
    ),
    "sweeps": ("Sweep", "SweepPanel", "sweep", "sweep_figure"),
    "top": ("TopHit", "TopImages", "top_figure", "top_images"),
}

__all__ = public_names(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
