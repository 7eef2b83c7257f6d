"""The fast stylisation's training settings, checked in one place: ``TrainOptions.validate``.

The costs' settings default to the article's (config: the content layer, the style layers and their weights,
alpha and beta); the network's (size, batch, learning rate) to Johnson et al.'s. Reading them imports no TensorFlow,
so the command line answers --help and bad options at once.
"""

import dataclasses
import os

from .. import config
from ..checks import OptionError, check_choice, check_count, check_number, check_positive_int

# Johnson et al.'s recipe: 256x256 crops, batches of 4, Adam(1e-3), two epochs of COCO (40,000 steps).
SIZE = 256
BATCH_SIZE = 4
EPOCHS = 2
LEARNING_RATE = 1e-3
# The total variation cost (costs.total_variation_cost) sums squared neighbour differences in the 0..255 range: about
# 1e7 to 1e8 for a 256x256 photograph, so 1e-6 makes it a term of 10 to 100 beside alpha * J_content and
# beta * J_style. Not tuned: with random filters the looks it should smooth cannot be judged (docs/fast.md).
TV_WEIGHT = 1e-6
# A checkpoint every N steps (the Keras "epochs" that BackupAndRestore saves after).
CHECKPOINT_EVERY = 100
QUANTIZATIONS = ("none", "float16", "dynamic")
# The ways to choose a several-style network's styles (style_weights); at most one is given.
CHOICES = ("style_index", "mix", "style_masks")
# Watching a training in TensorBoard (fast/watch.py): without --preview-images, the first PREVIEW_COUNT pictures of
# --images in the pipeline's sorted order; a --preview-images folder may hold at most PREVIEW_LIMIT (each is a forward
# pass per style every --save-every steps, and a card in TensorBoard's images tab).
PREVIEW_COUNT = 4
PREVIEW_LIMIT = 16
# Seconds a task of a cluster (TF_CONFIG) waits for the others to answer before it gives up (--cluster-timeout); like
# the watch fields, not a setting of the training (in WATCH_FIELDS).
CLUSTER_TIMEOUT = 600
# Where the training is written and watched, not how it trains: left out of settings(), so that a resumed training may
# change them and the model file does not carry them.
# The transformation network's bytes a pixel in training: what its forward pass holds (apply.PER_PIXEL_BYTES, 1300),
# twice, for the values its backward pass keeps.
TRANSFORM_TRAINING_BYTES = 2600
WATCH_FIELDS = ("tensorboard", "save_every", "preview_images", "cluster_timeout")


@dataclasses.dataclass
class TrainOptions:
    """Every setting of a training; `validate` checks them all and fills in the style layers' default."""

    size: int = SIZE
    batch_size: int = BATCH_SIZE
    epochs: int = EPOCHS
    steps: int | None = None  # None: epochs x (pictures // batch_size)
    content_weight: float = config.ALPHA
    style_weight: float = config.BETA
    tv_weight: float = TV_WEIGHT
    style_size: int | None = None  # None: --size
    learning_rate: float = LEARNING_RATE
    seed: int = 0
    content_layer: str = config.CONTENT_LAYER
    style_layers: list | str | None = None  # None: config.STYLE_LAYERS
    checkpoint_every: int = CHECKPOINT_EVERY
    tensorboard: str | os.PathLike | None = None  # costs every step, settings, previews
    save_every: int = 0  # the previews every N steps (0: at the start and the end only); needs tensorboard
    preview_images: str | os.PathLike | None = None  # None: the first PREVIEW_COUNT of images
    cluster_timeout: float = CLUSTER_TIMEOUT  # seconds to wait for a cluster's other tasks (TF_CONFIG)

    @classmethod
    def flags(cls) -> dict[str, str]:
        """Each field's command-line flag by parameter name: {'batch_size': '--batch-size', ...}."""
        names = [field.name for field in dataclasses.fields(cls)]
        names += ["images", "style", "content", "output", "model", "work_dir", "tflite", "quantize", "saved_model"]
        names += [*CHOICES, "temporal_blend"]
        return {name: "--" + name.replace("_", "-") for name in names}

    def validate(self) -> "TrainOptions":
        """
        Checks every setting.

        Returns:
        self -- with style_layers as a list of (name, weight); raises OptionError naming the first bad setting
        """
        from ..option_parsers import parse_style_layers
        from ..options import check_tensorboard_folder
        from ..vgg import layer_names

        check_positive_int(self.size, "size", "pixels")
        if self.size < 16:
            raise OptionError(f"size must be at least 16 pixels (VGG-19 pools 4 times), got {self.size}", "size")
        from ..limits import max_image_pixels

        if self.size**2 > max_image_pixels():
            raise OptionError(
                f"size {self.size} makes {self.size**2:,}-pixel crops, more than the {max_image_pixels():,} pixels a "
                "picture may have; Johnson et al. train on 256",
                "size",
            )
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.epochs, "epochs")
        if self.steps is not None:
            check_positive_int(self.steps, "steps")
        for name in ("content_weight", "style_weight", "tv_weight"):
            check_number(getattr(self, name), name, minimum=0, float32=True)
        if self.style_size is not None:
            check_positive_int(self.style_size, "style_size", "pixels")
        check_number(self.learning_rate, "learning_rate", above=0, float32=True)
        check_count(self.seed, "seed", zero=None)
        check_positive_int(self.checkpoint_every, "checkpoint_every")
        check_choice(self.content_layer, layer_names("avg"), "content_layer")
        layers = config.STYLE_LAYERS if self.style_layers is None else self.style_layers
        self.style_layers = parse_style_layers(layers) if isinstance(layers, str) else [tuple(p) for p in layers]
        for name, weight in self.style_layers:
            check_choice(name, layer_names("avg"), "style_layers")
            check_number(weight, f"style_layers weight of {name}", minimum=0, parameter="style_layers")
        # The TensorBoard folder is checked as the other commands' is (options.check_tensorboard_folder).
        check_tensorboard_folder(self.tensorboard)
        check_count(self.save_every, "save_every", zero="previews at the start and the end only")
        check_number(self.cluster_timeout, "cluster_timeout", above=0, note=" seconds")
        if self.preview_images is not None and (
            not isinstance(self.preview_images, (str, os.PathLike)) or not os.path.isdir(self.preview_images)
        ):
            raise OptionError(
                f"preview_images {self.preview_images} is not a folder; give a folder of held-out photographs",
                "preview_images",
            )
        for name in ("save_every", "preview_images"):
            if getattr(self, name) and not self.tensorboard:
                raise OptionError(
                    f"{name} needs tensorboard, the folder the previews are written into", name, "tensorboard"
                )
        return self

    def settings(self) -> dict:
        """The settings as JSON-ready values (kept in the model file and the checkpoint), WATCH_FIELDS left out."""
        values = {name: value for name, value in dataclasses.asdict(self).items() if name not in WATCH_FIELDS}
        values["style_layers"] = [[name, float(weight)] for name, weight in self.style_layers]
        return values


def training_memory(size, batch_size, layers):
    """
    The estimated peak memory of a training step: TensorFlow and VGG-19's filters, plus for every pixel of the batch
    the loss network's activations kept for the backward pass (the main job's fitted factor, large.ACTIVATION_FACTOR,
    for the stylised crops, once more for the photographs' and the gradients) and the transformation network's
    (twice what its forward pass holds, apply.PER_PIXEL_BYTES, for the backward pass).

    Arguments:
    size -- the crops' side
    batch_size -- crops a step
    layers -- the layer names the costs use (the content layer and the style layers)

    Returns:
    bytes -- int
    """
    from .. import large

    per_pixel = 2 * large.ACTIVATION_FACTOR * large.activation_bytes_per_pixel(layers) + TRANSFORM_TRAINING_BYTES
    return int(large.BASE_BYTES + per_pixel * batch_size * size**2)


def check_training_memory(options, budget=None):
    """
    Refuses a training whose step would not fit in memory, before any work (one line naming --size and --batch-size).

    Arguments:
    options -- validated TrainOptions
    budget -- bytes the training may use (None: the memory available now; nothing is refused where it is unknown)

    Returns:
    need -- the estimated bytes (training_memory)
    """
    from ..large import available_memory

    layers = [options.content_layer] + [name for name, _ in options.style_layers]
    need = training_memory(options.size, options.batch_size, layers)
    budget = available_memory() if budget is None else budget
    if budget is not None and need > budget:
        raise OptionError(
            f"size {options.size} with batch_size {options.batch_size} needs about {need / 1e9:.1f} GB a step, more "
            f"than the {budget / 1e9:.1f} GB available; lower size or batch_size (Johnson et al.: 256 and 4)",
            "size",
            "batch_size",
        )
    return need


def style_weights(styles, style_index=None, mix=None, style_masks=None):
    """
    The weights of a network's styles that --style-index, --mix or --style-masks asks for: the one place where the
    three are checked, for `apply` and `video --model` alike.

    Arguments:
    styles -- how many styles the network was trained for
    style_index -- None, or the style to use: 0 .. styles - 1, in the order of the training's --style
    mix -- None, or convex weights, one per style: a text "0.7,0.3,0" or a sequence of numbers
    style_masks -- None, or one mask picture per style (apply.load_style_masks): a style per region

    Returns:
    weights -- list of `styles` floats, >= 0, summing to 1 (one-hot for an index; the first style when none is
               given), or for style_masks float32 (h, w, styles) at the masks' size, each pixel's weights summing to
               1 (resized to each picture by the apply); OptionError (one line) naming the option for anything else
    """
    given = [name for name, value in zip(CHOICES, (style_index, mix, style_masks)) if value is not None]
    if len(given) > 1:
        raise OptionError(f"give only one of {', '.join(given)}: each chooses the styles on its own", *given)
    if styles == 1 and (mix is not None or style_masks is not None):
        name = given[0]
        raise OptionError(f"{name} is for a model of several styles; this model has one, so leave it out", name)
    if style_masks is not None:
        from .apply import load_style_masks  # reads pictures (TensorFlow's resize): only when masks are given

        return load_style_masks(style_masks, styles)
    if mix is None:
        index = 0 if style_index is None else check_count(style_index, "style_index", zero=None)
        if index >= styles:
            choose = "give 0" if styles == 1 else f"give 0 to {styles - 1}"
            raise OptionError(
                f"style_index {index} is not one of the model's {styles} style{'s' * (styles > 1)}; {choose}",
                "style_index",
            )
        return [float(i == index) for i in range(styles)]
    parts = mix.split(",") if isinstance(mix, str) else list(mix)
    try:
        weights = [float(part) for part in parts]
    except (TypeError, ValueError):
        raise OptionError(
            f"mix must be {styles} numbers separated by commas, e.g. 0.5,0.5, got {mix!r}", "mix"
        ) from None
    if len(weights) != styles:
        raise OptionError(f"mix has {len(weights)} weights but the model has {styles} styles; give {styles}", "mix")
    for weight in weights:
        check_number(weight, "mix weights", minimum=0, what="finite numbers", parameter="mix")
    # Typed decimals (0.1 + 0.2 + 0.7) sum to 1 within a few float64 ulps; 1e-6 allows 6 typed decimals' rounding.
    if abs(sum(weights) - 1) > 1e-6:
        raise OptionError(f"mix weights must sum to 1 (a convex mixture), got {sum(weights):g}", "mix")
    return weights
