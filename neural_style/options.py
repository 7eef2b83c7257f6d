"""Every setting of a style transfer, checked in one place: ``StyleOptions.validate``.

The article's defaults come from ``config``; a preset (``config.PRESETS``) fills the settings left unset; a value
that cannot work raises ``OptionError`` with one line naming the option and what to do. The command line and the
Python API (``stylize``, ``StyleTransfer``) both go through here.
"""

import dataclasses
import os

import numpy as np

from . import config, large, style_losses
from .checkpoint import CHECKPOINT_FILE, checkpoint_path
from .checks import (
    OptionError,
    check_choice,
    check_count,
    check_layers,
    check_number,
    check_positive_int,
    choice_message,
    is_int,
    is_number,
)
from .config import CONTENT_COST_NAMES, IMAGE_RANGES, LBFGS_EXTRA_EVALUATIONS, default_size_text
from .large.layout import minimum_tile_size
from .layers import POOLINGS, PRECISIONS, canonical_layer_name, layer_names
from .option_fields import MAY_CHANGE, cli_fields, flag_of, option
from .option_parsers import (
    INITS,
    blend_weights,
    check_init,
    check_mask_file,
    check_tensorboard_folder,
    parse_numbers,  # noqa: F401 (re-exported)
    parse_scales,
    parse_style_blend,
    parse_style_layer_weights,
    parse_style_layers,
    style_layer_weights,
)
from .weights import VGGWeights

WEIGHTS_ENV = "NEURAL_STYLE_WEIGHTS"
OPTIMIZERS = ("adam", "lbfgs")


def default_weights() -> str:
    """The weights used when none are named: $NEURAL_STYLE_WEIGHTS, else CONFIG.VGG_MODEL."""
    return os.environ.get(WEIGHTS_ENV) or config.CONFIG.VGG_MODEL


_ARTICLE_SIZE = f"{default_size_text()}, the article's"


@dataclasses.dataclass
class StyleOptions:
    """Every setting of a style transfer, with the article's defaults; `validate` checks them all.

    Settings left as None take the preset's value (config.PRESETS[preset]), else the article's: `validate` fills them
    in, so a setting given explicitly always wins over the preset. Each field's metadata declares its command-line
    flag (see option_fields.option); `cli_fields` lists them.
    """

    weights: str | os.PathLike | VGGWeights = option(
        help="VGG-19 weights: imagenet-vgg-verydeep-19.mat, the Keras vgg19 ..._notop.h5, or 'random' "
        "(default: {default})",
        metavar="PATH|random",
        unset=f"${WEIGHTS_ENV}, else {config.CONFIG.VGG_MODEL}",
        resume=MAY_CHANGE,
        default_factory=default_weights,
    )
    height: int | None = option(
        help="output height in pixels (default: {default})", parse=int, unset=_ARTICLE_SIZE, resume=MAY_CHANGE
    )
    width: int | None = option(help="output width in pixels", parse=int, resume=MAY_CHANGE)
    max_size: int | None = option(
        help="longest side N, the content's aspect ratio kept", parse=int, metavar="N", resume=MAY_CHANGE
    )
    iterations: int = option(config.NUM_ITERATIONS, "number of steps (default {default})", parse=int)
    # None: the preset's value (config.PRESETS), else the article's; validate() fills them in.
    content_layer: str | None = option(help="default {default} (Keras names such as block4_conv2 work too)")
    style_layers: list[tuple[str, float]] | None = option(
        help="default {default}", parse=parse_style_layers, metavar="NAME:W,..."
    )
    alpha: float | None = option(help="content weight (default {default})", parse=float)
    beta: float | None = option(help="style weight (default {default})", parse=float)
    learning_rate: float | None = option(help="Adam's (default {default})", parse=float)
    noise_ratio: float = option(config.CONFIG.NOISE_RATIO, "default {default}", parse=float, resume=MAY_CHANGE)
    pooling: str | None = option(
        help="the network's pools: avg (the article's) or max (default {default})",
        choices=POOLINGS,
        metavar="|".join(POOLINGS),
    )
    seed: int | None = option(help="same seed, same machine: the same output pixels", parse=int, resume=MAY_CHANGE)
    save_every: int = option(
        0,
        "save the image every N iterations into --output-dir as N.png (default {default}, 0 = never)",
        parse=int,
        metavar="N",
        resume=MAY_CHANGE,
    )
    output_dir: str | None = option(
        help="folder for intermediate images (default {default})", metavar="DIR", resume=MAY_CHANGE
    )
    jit_compile: bool | None = option(resume=MAY_CHANGE)  # None: XLA only where a GPU is present
    precision: str = option(
        "float32",
        "float32 (the article's) or bfloat16: mixed precision, the convolutions in bfloat16 and the costs in float32 "
        "(see docs/performance.md; default {default})",
        choices=PRECISIONS,
        metavar="|".join(PRECISIONS),
    )
    optimizer: str | None = option(
        help="adam (the article's) or lbfgs (Gatys et al.'s: scipy's L-BFGS-B, pixels kept in range, at most "
        f"2 x iterations + {LBFGS_EXTRA_EVALUATIONS} cost evaluations; default {{default}})",
        choices=OPTIMIZERS,
        metavar="|".join(OPTIMIZERS),
    )
    # A name of INITS, an image path or an (H, W, 3) RGB array.
    init: str | os.PathLike | np.ndarray | None = option(
        help="starting image: noise (the article's, mixed with the content by --noise-ratio), content, random (the "
        "article's noise alone: white noise, as Gatys et al.) or an image file (default {default})",
        metavar="|".join(INITS) + "|PATH",
        resume=MAY_CHANGE,
    )
    checkpoint_every: int = option(
        0,
        "every N iterations write the image, the optimiser's state and the history into --output-dir "
        f"({CHECKPOINT_FILE}, checkpoint.png); 0 = never (default {{default}})",
        parse=int,
        metavar="N",
        resume=MAY_CHANGE,
    )
    resume: str | None = option(
        help="continue the run whose checkpoint is in DIR, with the same settings, up to the same total --iterations",
        metavar="DIR",
        resume=MAY_CHANGE,
    )
    # Fractions of the output size, coarse to fine, ending at 1; a string '0.25,0.5,1' is parsed by validate.
    scales: tuple[float, ...] | str = option(
        (1.0,),
        "coarse to fine, e.g. 0.25,0.5,1: optimise at each fraction of the output size in turn, the iterations split "
        "equally (remainder to the finest; default {default}); auto: from --min-size up to the output size in steps of "
        "sqrt(2)",
        metavar="S,S,...|auto",
    )
    preset: str = option(
        "article",
        "a set of settings that explicit options override (default {default}): article (the course's), course-tf2 "
        "(conv5_4, Adam 0.01, images in [0, 1], +-0.25 noise, clip after each step, max pooling) or gatys (L-BFGS from "
        "white noise, the paper's content loss, alpha/beta 1e-3)",
        choices=tuple(config.PRESETS),
        metavar="|".join(config.PRESETS),
    )
    image_range: str | None = option()
    content_cost: str | None = option()
    clip: bool | None = option()
    tv_weight: float = option(
        0.0,
        "weight of the total variation cost, sum of squared neighbour differences (default {default}, 0 = off)",
        parse=float,
        metavar="W",
    )
    # Weights of several style images (a string '0.7,0.3' is parsed by validate); None: equal.
    style_blend: tuple[float, ...] | str | None = option(
        help="weights of several --style images, normalised to sum to 1 (default: {default})",
        metavar="W,W,...",
        unset="equal",
    )
    style_scale: float = option(
        1.0,
        "resize each style image to S x the output size before its Grams are taken (default {default})",
        parse=float,
        metavar="S",
    )
    preserve_colors: bool = option(
        False, "keep the photo's colours: the result's luminance with the photo's chrominance (YIQ)", parse=bool
    )
    color_match: bool = option(
        False, "give the style images the photo's colour mean and covariance before the run", parse=bool
    )
    # Style losses beyond the Gram matrix, layer weights by rule, region masks (checked in _check_control).
    # None: the style_layers' own weights; else 'equal', 'decay R', or ('decay', R) (validate makes it a tuple).
    style_layer_weights: str | list[str] | tuple[str, float | None] | None = option(
        help="weights of the --style-layers by rule, normalised to sum to 1: 'equal', or 'decay R' (the first, "
        "shallowest layer R times the next ...: decay 4 over five layers is 256:64:16:4:1)",
        metavar="RULE",
        nargs="+",
    )
    # The losses and their help come from the registry: a new loss is one module in style_losses/.
    style_loss: str = option(
        "gram", style_losses.help_text(), choices=style_losses.NAMES, metavar="|".join(style_losses.NAMES)
    )
    # Masks: image paths or (H, W) arrays (masks.load_mask); a list of masks gives one per style image.
    content_mask: str | os.PathLike | np.ndarray | None = option(
        help="greyscale image, white where the style may act; elsewhere the picture stays the photo", metavar="MASK"
    )
    style_masks: list | None = option(
        help="one greyscale image per --style, white where in the picture that style goes (soft values allowed)",
        metavar="MASK",
        nargs="+",
    )
    style_source_masks: list | None = option(
        help="one per --style (with --style-masks): white where in that painting its style is taken from",
        metavar="MASK",
        nargs="+",
    )
    stretch_masks: bool = option(
        False,
        "stretch a mask whose aspect ratio is not its picture's to that picture (default: refused, one line)",
        parse=bool,
    )
    # Large pictures: exact tiles, a memory budget, the automatic coarse-to-fine schedule, averaging,
    # 16 bits. Tiles give the same cost and gradient as the whole image, and the bit depth is only how the result is
    # written, so a resumed run may change tile_size, max_memory and bit_depth.
    tile_size: int = option(
        0,
        "compute the cost and its gradient exactly, tile by tile, with tiles of N x N pixels (plus a margin): memory "
        "for one tile instead of the whole picture; 0 = only when the whole picture would not fit (default {default})",
        parse=int,
        metavar="N",
        resume=MAY_CHANGE,
    )
    max_memory: float | None = option(
        help="the memory the run may use: the largest tile that fits is picked (default: {default})",
        parse=float,
        metavar="GB",
        unset="the memory available",
        resume=MAY_CHANGE,
    )
    min_size: int | None = option(
        help="longest side of the first scale of --scales auto (default: {default})",
        parse=int,
        metavar="PIXELS",
        unset=str(large.MIN_SIZE),
    )
    average: float = option(
        0.0,
        "write the exponential moving average of the iterates (e.g. 0.99), restarted at each scale (default "
        "{default}, off: the lowest-cost iterate)",
        parse=float,
        metavar="DECAY",
    )
    bit_depth: int = option(
        8,
        "bits per channel of the output: 8 or 16 (.png and .tif only; default {default})",
        parse=int,
        choices=large.BIT_DEPTHS,
        metavar="|".join(map(str, large.BIT_DEPTHS)),
        resume=MAY_CHANGE,
    )
    # Watching the run: the commands write it with neural_style.tensorboard (RunWriter, watch_transfer) into a run
    # folder of their own naming under this one; StyleTransfer itself writes nothing there. Only where things are
    # written, so a resumed run may change it.
    tensorboard: str | os.PathLike | None = option(
        help="write the run for TensorBoard into DIR/<output name>-<time>/: every cost at every step, the picture "
        "every --save-every steps, the settings; watch with `tensorboard --logdir DIR`",
        metavar="DIR",
        resume=MAY_CHANGE,
    )

    @classmethod
    def cli_fields(cls) -> list[dataclasses.Field]:
        """The fields that the command line exposes as flags (those whose metadata has a help), in order."""
        return cli_fields(cls)

    @classmethod
    def flags(cls) -> dict[str, str]:
        """Each exposed field's command-line flag by parameter name: {'learning_rate': '--learning-rate', ...}."""
        return {field.name: flag_of(field) for field in cls.cli_fields()}

    def validate(self, style_count: int | None = None) -> "StyleOptions":
        """
        Fills the settings left as None from the preset, then checks every option.

        Arguments:
        style_count -- the number of style images, to check style_blend against (None: not checked)

        Returns:
        self -- with every setting filled in; raises OptionError naming the first option whose value cannot work
        """
        self._apply_preset()
        self._check_features(style_count)
        self._check_control(style_count)
        for name in ("height", "width", "max_size"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name, "pixels")
        check_positive_int(self.iterations, "iterations")
        check_choice(self.pooling, POOLINGS, "pooling")
        check_choice(self.precision, PRECISIONS, "precision")
        check_layers([self.content_layer] + [name for name, _ in self.style_layers], layer_names(self.pooling))
        if not self.style_layers:
            raise OptionError("style_layers names no layer; e.g. conv1_1:0.2,conv2_1:0.2", "style_layers")
        for name in ("alpha", "beta", "learning_rate"):
            check_number(getattr(self, name), name, minimum=0, float32=True)
        for layer, weight in self.style_layers:
            check_number(weight, f"style_layers weight of {layer}", minimum=0, parameter="style_layers", float32=True)
        check_number(self.learning_rate, "learning_rate", above=0, what="")
        self.learning_rate = float(self.learning_rate)  # Keras's Adam refuses an int (stylize(..., learning_rate=2))
        check_number(self.noise_ratio, "noise_ratio", minimum=0, maximum=1, what="")
        check_count(self.save_every, "save_every")
        check_choice(self.optimizer, OPTIMIZERS, "optimizer")
        check_init(self.init)
        check_count(self.checkpoint_every, "checkpoint_every")
        if self.checkpoint_every and self.output_dir is None:
            raise OptionError(
                "checkpoint_every needs output_dir, the folder the checkpoint is written into",
                "checkpoint_every",
                "output_dir",
            )
        if self.resume is not None and not os.path.isfile(checkpoint_path(self.resume)):
            raise OptionError(
                f"resume {self.resume}: no {CHECKPOINT_FILE} there; give the output_dir of a run made with "
                "checkpoint_every",
                "resume",
                "output_dir",
                "checkpoint_every",
            )
        self.scales = parse_scales(self.scales, self.iterations)
        check_tensorboard_folder(self.tensorboard)
        self._check_large()
        _check_limits(self)
        return self

    def _check_large(self):
        """The checks of the large-picture options; the size-dependent ones are in neural_style/large."""
        smallest = minimum_tile_size([self.content_layer] + [name for name, _ in self.style_layers], self.pooling)
        if not is_int(self.tile_size) or self.tile_size < 0 or 0 < self.tile_size < smallest:
            raise OptionError(
                f"tile_size must be 0 (off) or at least {smallest} pixels (the margin these layers need), "
                f"got {self.tile_size}",
                "tile_size",
            )
        if self.max_memory is not None:
            check_number(self.max_memory, "max_memory", above=0, what="a number of GB")
        if self.min_size is not None:
            check_positive_int(self.min_size, "min_size", "pixels")
            if self.scales != config.AUTO:
                raise OptionError(
                    "min_size sets the first scale of the automatic schedule: give scales auto too",
                    "min_size",
                    "scales",
                )
        if not is_number(self.average) or not 0 <= self.average < 1:
            raise OptionError(
                f"average must be a decay in [0, 1) such as 0.99 (0 = off), got {self.average}", "average"
            )
        if not is_int(self.bit_depth) or self.bit_depth not in large.BIT_DEPTHS:
            raise OptionError(choice_message("bit_depth", self.bit_depth, large.BIT_DEPTHS), "bit_depth")
        if (self.tile_size or self.max_memory) and self.jit_compile:
            raise OptionError(
                "tile_size and max_memory run the tiles one by one, outside XLA: drop jit_compile",
                "tile_size",
                "max_memory",
                "jit_compile",
            )

    def _apply_preset(self):
        """The one place presets resolve: an explicit setting, else the preset's, else the article's."""
        check_choice(self.preset, config.PRESETS, "preset")
        for name, article_value in config.PRESETS["article"].items():
            if getattr(self, name) is None:
                value = config.PRESETS[self.preset].get(name, article_value)
                setattr(self, name, list(value) if isinstance(value, list) else value)
        if isinstance(self.pooling, str) and self.pooling in POOLINGS:
            # Keras names (block5_conv4) are aliases of the article's (conv5_4); the network and the history use these.
            self.content_layer = canonical_layer_name(self.content_layer, self.pooling)
            self.style_layers = [(canonical_layer_name(name, self.pooling), w) for name, w in self.style_layers]

    def _check_features(self, style_count):
        """The checks of the options beyond the course (tv weight, style blend and scale, colours, presets' forms)."""
        check_choice(self.image_range, IMAGE_RANGES, "image_range")
        check_choice(self.content_cost, CONTENT_COST_NAMES, "content_cost")
        check_number(self.tv_weight, "tv_weight", minimum=0, note=" (0 = off)", float32=True)
        check_number(self.style_scale, "style_scale", above=0, what="a number", note=" (1 = the output size)")
        if self.style_blend is not None:
            weights = parse_style_blend(self.style_blend, style_count)
            self.style_blend = tuple(blend_weights(weights, len(weights)))
        for name in ("clip", "preserve_colors", "color_match"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise OptionError(f"{name} must be True or False, got {getattr(self, name)!r}", name)

    def _check_control(self, style_count):
        """The control options: style loss, layer weights by rule, masks (masks.load_mask checks their pixels)."""
        check_choice(self.style_loss, style_losses.NAMES, "style_loss")
        if not isinstance(self.stretch_masks, (bool, np.bool_)):
            raise OptionError(f"stretch_masks must be True or False, got {self.stretch_masks!r}", "stretch_masks")
        check_mask_file(self.content_mask, "content_mask")
        for name in ("style_masks", "style_source_masks"):
            masks = getattr(self, name)
            if masks is None:
                continue
            if isinstance(masks, (str, os.PathLike, np.ndarray)):
                masks = [masks]  # one style, one mask
            masks = list(masks)
            setattr(self, name, masks)
            if style_count is not None and len(masks) != style_count:
                raise OptionError(
                    f"{name} has {len(masks)} mask{'s' if len(masks) != 1 else ''} for {style_count} style "
                    f"image{'s' if style_count != 1 else ''}; give one mask per style image, in the same order",
                    name,
                )
            for mask in masks:
                check_mask_file(mask, name)
        if self.style_source_masks is not None and self.style_masks is None:
            raise OptionError(
                "style_source_masks needs style_masks: say where in the picture each style goes, then which part of "
                "each painting it comes from",
                "style_source_masks",
                "style_masks",
            )
        if self.style_layer_weights is not None:
            self.style_layer_weights = parse_style_layer_weights(self.style_layer_weights)
            if len({w for _, w in self.style_layers}) > 1:
                raise OptionError(
                    "style_layer_weights replaces the weights of style_layers; give NAME:W weights or a rule, not both",
                    "style_layer_weights",
                    "style_layers",
                )

    def weighted_style_layers(self):
        """
        The style layers the cost uses: style_layers, with their weights replaced by style_layer_weights' rule if set.

        Returns:
        style_layers -- list of (name, weight) tuples
        """
        return style_layer_weights(self.style_layers, self.style_layer_weights)


def _check_limits(options):
    """What else cannot work: a negative seed, a size beyond memory (float32 range: in check_number)."""
    if options.seed is not None:
        check_count(options.seed, "seed", zero=None)
    if options.height is not None and options.width is not None:
        large.check_run_size((options.height, options.width))


# ---------------------------------------------------------------------------------------------------------------------
# The video job's own settings; every StyleOptions field applies to each frame as well.

# How frames after the first start: the previous stylised frame warped by the flow (Ruder et al.), the content frame,
# or the main job's --init (the article's noise by default), as independent per-frame runs do.
VIDEO_INITS = ("warped", "content", "noise")
# OpenCV's dense flow methods (neural_style.video.motion maps them to OpenCV calls).
FLOW_METHODS = ("dis", "dis-fast", "dis-ultrafast", "farneback")
# The temporal cost's default weight: Ruder et al. weigh their temporal term (a mean over the pixel values) 200 times
# their content term (a mean over the layer's values, alpha = 1). The course's content term is alpha / 4 times such
# a mean, so the same balance here is 200 * alpha / 4 = 500 for the article's alpha = 10.
TEMPORAL_WEIGHT = 200 * config.ALPHA / 4
# The frame rates a written video may have. Below about 1e-4 frames per second ffmpeg (imageio-ffmpeg 0.8's, measured)
# writes an empty mp4 without an error; 1/1000 (a frame every 16 minutes) keeps a factor of 10 from that, and 1000
# is past any camera's or player's rate.
FPS_RANGE = (0.001, 1000.0)


@dataclasses.dataclass
class VideoOptions:
    """The settings of a video style transfer beyond those of each frame (StyleOptions); `validate` checks them."""

    temporal_weight: float = TEMPORAL_WEIGHT
    video_init: str = "warped"
    first_iterations: int = None  # None: the same as the later frames' iterations
    flow: str = "dis"
    fps: float = None  # a folder of frames has no rate of its own; None: 25

    @classmethod
    def flags(cls) -> dict[str, str]:
        """Each field's command-line flag by parameter name: {'temporal_weight': '--temporal-weight', ...}."""
        names = [field.name for field in dataclasses.fields(cls)] + ["work_dir"]  # stylize_video's own argument
        return {name: "--" + name.replace("_", "-") for name in names}

    def validate(self) -> "VideoOptions":
        """
        Checks every video option.

        Returns:
        self -- unchanged; raises OptionError naming the first option whose value cannot work
        """
        check_number(self.temporal_weight, "temporal_weight", minimum=0, note=" (0 = off)")
        check_choice(self.video_init, VIDEO_INITS, "video_init")
        if self.first_iterations is not None:
            check_positive_int(self.first_iterations, "first_iterations")
        check_choice(self.flow, FLOW_METHODS, "flow")
        if self.fps is not None:
            minimum, maximum = FPS_RANGE
            check_number(self.fps, "fps", minimum=minimum, maximum=maximum, what="a number of frames per second")
        return self
