"""The fast stylisation's training settings, checked in one place: ``TrainOptions.validate``.

The costs' settings default to the article's (config: the content layer, the style layers and their weights,
alpha and beta); the network's (size, batch, learning rate) to Johnson et al.'s. Reading them imports no TensorFlow,
so the command line answers --help and bad options at once.
"""

import dataclasses
import os

from .. import config, style_losses
from ..checks import OptionError, check_choice, check_count, check_number, check_positive_int
from ..option_fields import MAY_CHANGE, cli_fields, flag_of, may_change_on_resume, option
from .style_choice import CHOICES

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
# Watching a training in TensorBoard (fast/watch.py): without --preview-images, the first PREVIEW_COUNT pictures of
# --images in the pipeline's sorted order; a --preview-images folder may hold at most PREVIEW_LIMIT (each is a forward
# pass per style every --save-every steps, and a card in TensorBoard's images tab).
PREVIEW_COUNT = 4
PREVIEW_LIMIT = 16
# Seconds a task of a cluster (TF_CONFIG) waits for the others to answer before it gives up (--cluster-timeout); like
# the watch fields, not a setting of the training (it may change on resume).
CLUSTER_TIMEOUT = 600
# The transformation network's bytes a pixel in training: what its forward pass holds (tiles.PER_PIXEL_BYTES, 1300),
# twice, for the values its backward pass keeps.
TRANSFORM_TRAINING_BYTES = 2600
# The training's architectures (--architecture): each names a layout preset of network.py (its LAYOUTS), where the
# layouts themselves are declared once. Names, not the Layouts, because network.py imports TensorFlow and this module
# must not (the command line answers --help and bad options at once); train.py looks the preset up.
# johnson: Johnson et al.'s 32/64/128 encoder, 5 residual blocks of 128, decoder 64/32, affine output (1,677,635
# weights). small: Dumoulin et al.'s 26-style layout, 32/32/32, 6 residual blocks of 32, decoder 8/4, a normalised
# convolution to RGB and a sigmoid scaled to 0..255 (141,354 weights).
ARCHITECTURES = {"johnson": "johnson", "small": "magenta-26"}
# Settings added after trainings were first recorded: left out of settings() at their defaults (TrainOptions.settings).
LATER_SETTINGS = ("architecture", "style_loss")
DEFAULT_ARCHITECTURE = "johnson"
# The other flags of the fast network's commands (train's files, apply's, export's and video --model's), for the
# command line's suggestions (cli/common.FLAGS).
COMMAND_FLAGS = ("images", "style", "content", "output", "model", "work_dir", "tflite", "quantize", "saved_model")


@dataclasses.dataclass
class TrainOptions:
    """Every setting of a training; `validate` checks them all and fills in the style layers' default.

    Each field's metadata declares its flag of `neural-style train` and its help (option_fields.option), and whether a
    resumed training may change it: resume=MAY_CHANGE on the settings of where the training is written and watched,
    not how it trains, which settings() leaves out (so the model file does not carry them either).
    """

    size: int = option(SIZE, "training crops' side (default {default})", parse=int)
    batch_size: int = option(BATCH_SIZE, "default {default}", parse=int)
    epochs: int = option(EPOCHS, "passes over the pictures (default {default})", parse=int, exclusive="length")
    # None: epochs x (pictures // batch_size)
    steps: int | None = option(help="steps instead of --epochs", parse=int, exclusive="length")
    content_weight: float = option(config.ALPHA, "alpha (default {default})", parse=float)
    style_weight: float = option(config.BETA, "beta (default {default})", parse=float)
    tv_weight: float = option(TV_WEIGHT, "default {default}", parse=float)
    style_size: int | None = option(help="the style picture's longest side (default: --size)", parse=int)
    learning_rate: float = option(LEARNING_RATE, "Adam's (default {default})", parse=float)
    seed: int = option(0, "the network's start, the pictures' order and crops (default {default})", parse=int)
    architecture: str = option(
        DEFAULT_ARCHITECTURE,
        "the network's layout: johnson (Johnson et al.'s, default) or small (Dumoulin et al.'s 26-style layout: "
        "32/32/32, 6 residual blocks, decoder 8/4, sigmoid output; a fraction of the weights and the time)",
        choices=tuple(ARCHITECTURES),
        metavar="|".join(ARCHITECTURES),
    )
    content_layer: str = option(config.CONTENT_LAYER, "default {default}")
    style_loss: str = option(
        "gram", style_losses.help_text(), choices=style_losses.NAMES, metavar="|".join(style_losses.NAMES)
    )
    # None: config.STYLE_LAYERS
    style_layers: list | str | None = option(
        help="default: the article's conv1_1 ... conv5_1, 0.2 each", metavar="NAME:W,..."
    )
    checkpoint_every: int = option(
        CHECKPOINT_EVERY,
        "write a checkpoint every N steps into --work-dir (default {default})",
        parse=int,
        metavar="N",
    )
    tensorboard: str | os.PathLike | None = option(
        help="write the training for TensorBoard into DIR/<model name>-<time>/: every cost term at every step, the "
        "settings, and previews of the network on held-out photographs; watch with `tensorboard --logdir DIR`",
        metavar="DIR",
        resume=MAY_CHANGE,
    )
    save_every: int = option(
        0,
        "with --tensorboard: the previews every N steps too (default {default}: at the start and the end only)",
        parse=int,
        metavar="N",
        resume=MAY_CHANGE,
    )
    preview_images: str | os.PathLike | None = option(
        help=f"with --tensorboard: the held-out photographs of the previews, at most {PREVIEW_LIMIT} (default: the "
        f"first {PREVIEW_COUNT} of --images), resized to --size",
        metavar="FOLDER",
        resume=MAY_CHANGE,
    )
    cluster_timeout: float = option(
        CLUSTER_TIMEOUT,
        "with TF_CONFIG naming a cluster: how long a task waits for the others to answer, and then to join, before it "
        "ends with one line (default {default})",
        parse=float,
        metavar="SECONDS",
        resume=MAY_CHANGE,
    )

    @classmethod
    def flags(cls) -> dict[str, str]:
        """Each field's command-line flag by parameter name: {'batch_size': '--batch-size', ...}."""
        flags = {field.name: flag_of(field) for field in cli_fields(cls)}
        names = [*COMMAND_FLAGS, *CHOICES, "temporal_blend"]
        return {**flags, **{name: "--" + name.replace("_", "-") for name in names}}

    def validate(self) -> "TrainOptions":
        """
        Checks every setting.

        Returns:
        self -- with style_layers as a list of (name, weight); raises OptionError naming the first bad setting
        """
        from ..option_parsers import check_tensorboard_folder, parse_style_layers
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
        check_choice(self.architecture, ARCHITECTURES, "architecture")
        check_choice(self.content_layer, layer_names("avg"), "content_layer")
        check_choice(self.style_loss, style_losses.NAMES, "style_loss")
        layers = config.STYLE_LAYERS if self.style_layers is None else self.style_layers
        self.style_layers = parse_style_layers(layers) if isinstance(layers, str) else [tuple(p) for p in layers]
        for name, weight in self.style_layers:
            check_choice(name, layer_names("avg"), "style_layers")
            check_number(weight, f"style_layers weight of {name}", minimum=0, parameter="style_layers")
        # The TensorBoard folder is checked as the other commands' is (option_parsers.check_tensorboard_folder).
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
        """
        The settings that a resumed training must share (kept in the model file and the checkpoint's work folder).

        Returns:
        values -- dict of JSON-ready values, the fields that may change on resume (option_fields.may_change_on_resume)
                  left out, and the LATER_SETTINGS at their defaults
        """
        may_change = may_change_on_resume(self)
        values = {name: value for name, value in dataclasses.asdict(self).items() if name not in may_change}
        values["style_layers"] = [[name, float(weight)] for name, weight in self.style_layers]
        # The article's training keeps the settings its work folders and model files have always had, so that a
        # training interrupted before these settings existed still resumes; any other value is recorded, and a
        # resume that changes it either way is refused (the saved settings differ).
        defaults = {field.name: field.default for field in dataclasses.fields(self)}
        for name in LATER_SETTINGS:
            if values[name] == defaults[name]:
                del values[name]
        return values


def training_memory(size, batch_size, layers):
    """
    The estimated peak memory of a training step: TensorFlow and VGG-19's filters, plus for every pixel of the batch
    the loss network's activations kept for the backward pass (the main job's fitted factor, large.ACTIVATION_FACTOR,
    for the stylised crops, once more for the photographs' and the gradients) and the transformation network's
    (twice what its forward pass holds, tiles.PER_PIXEL_BYTES, for the backward pass).

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
