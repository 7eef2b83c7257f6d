"""Every setting of a style transfer, checked in one place: ``StyleOptions.validate``.

The article's defaults come from ``config``; a preset (``config.PRESETS``) fills the settings left unset; a value
that cannot work raises ``OptionError`` with one line naming the option and what to do. The command line and the
Python API (``stylize``, ``StyleTransfer``) both go through here.
"""

import dataclasses
import math
import os

import numpy as np

from . import config
from .checkpoint import CHECKPOINT_FILE, checkpoint_path
from .costs import CONTENT_COSTS
from .images import IMAGE_RANGES
from .limits import check_float32, check_run_size
from .optimize import blend_weights
from .vgg import POOLINGS, PRECISIONS, canonical_layer_name, layer_names

WEIGHTS_ENV = "NEURAL_STYLE_WEIGHTS"
OPTIMIZERS = ("adam", "lbfgs")
# Starting images by name; anything else given as --init is an image file.
INITS = ("noise", "content", "random")


class OptionError(ValueError):
    """An option with a value that cannot work; the message names the option and what to do."""


def default_weights():
    """The weights used when none are named: $NEURAL_STYLE_WEIGHTS, else CONFIG.VGG_MODEL."""
    return os.environ.get(WEIGHTS_ENV) or config.CONFIG.VGG_MODEL


def parse_style_layers(text):
    """
    Parses 'conv1_1:0.2,conv2_1:0.2,...' into STYLE_LAYERS form.

    Arguments:
    text -- comma-separated name:weight pairs (a name alone gets weight 1)

    Returns:
    style_layers -- list of (name, weight) tuples
    """
    layers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition(":")
        try:
            layers.append((name.strip(), float(weight) if weight else 1.0))
        except ValueError:
            raise OptionError(f"--style-layers: {item!r} is not name:weight (e.g. conv1_1:0.2)") from None
    return layers


def parse_numbers(text, option, example):
    """
    Parses comma-separated numbers such as '0.25,0.5,1' (--scales) or '0.7,0.3' (--style-blend).

    Arguments:
    text -- the option's value
    option -- the option's name, for the message
    example -- a valid value, for the message

    Returns:
    numbers -- tuple of floats
    """
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise OptionError(f"{option}: {text!r} is not a list of numbers; e.g. {example}") from None


@dataclasses.dataclass
class StyleOptions:
    """Every setting of a style transfer, with the article's defaults; `validate` checks them all.

    Settings left as None take the preset's value (config.PRESETS[preset]), else the article's: `validate` fills them
    in, so a setting given explicitly always wins over the preset.
    """

    weights: object = dataclasses.field(default_factory=default_weights)
    height: int = None
    width: int = None
    max_size: int = None
    iterations: int = config.NUM_ITERATIONS
    # None: the preset's value (config.PRESETS), else the article's; validate() fills them in.
    content_layer: str = None
    style_layers: list = None
    alpha: float = None
    beta: float = None
    learning_rate: float = None
    noise_ratio: float = config.CONFIG.NOISE_RATIO
    pooling: str = None
    seed: int = None
    save_every: int = 0
    output_dir: str = None
    jit_compile: bool = None  # None: XLA only where a GPU is present (optimize.resolve_jit_compile)
    precision: str = "float32"
    optimizer: str = None
    init: object = None
    checkpoint_every: int = 0
    resume: str = None
    scales: tuple = (1.0,)
    preset: str = "article"
    image_range: str = None
    content_cost: str = None
    clip: bool = None
    tv_weight: float = 0.0
    style_blend: tuple = None
    style_scale: float = 1.0
    preserve_colors: bool = False
    color_match: bool = False

    def validate(self, style_count=None):
        """
        Fills the settings left as None from the preset, then checks every option.

        Arguments:
        style_count -- the number of style images, to check --style-blend against (None: not checked)

        Returns:
        self -- with every setting filled in; raises OptionError naming the first option whose value cannot work
        """
        self._apply_preset()
        self._check_features(style_count)
        for name in ("height", "width", "max_size"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value <= 0):
                raise OptionError(f"--{name.replace('_', '-')} must be a positive whole number of pixels, got {value}")
        if not _is_int(self.iterations) or self.iterations <= 0:
            raise OptionError(f"--iterations must be a positive whole number, got {self.iterations}")
        if self.pooling not in POOLINGS:
            raise OptionError(f"--pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.precision not in PRECISIONS:
            raise OptionError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        valid = layer_names(self.pooling)
        unknown = [name for name in [self.content_layer] + [n for n, _ in self.style_layers] if name not in valid]
        if unknown:
            raise OptionError(f"unknown layer {', '.join(unknown)}; valid layers: {', '.join(valid)}")
        if not self.style_layers:
            raise OptionError("--style-layers names no layer; e.g. conv1_1:0.2,conv2_1:0.2")
        for name, value in [("alpha", self.alpha), ("beta", self.beta), ("learning-rate", self.learning_rate)] + [
            (f"style layer {n} weight", w) for n, w in self.style_layers
        ]:
            if not math.isfinite(value) or value < 0:
                raise OptionError(f"--{name} must be a finite number >= 0, got {value}")
        if self.learning_rate <= 0:
            raise OptionError(f"--learning-rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.noise_ratio <= 1:
            raise OptionError(f"--noise-ratio must be between 0 and 1, got {self.noise_ratio}")
        if not _is_int(self.save_every) or self.save_every < 0:
            raise OptionError(f"--save-every must be a whole number >= 0 (0 = never), got {self.save_every}")
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        _check_init(self.init)
        if not _is_int(self.checkpoint_every) or self.checkpoint_every < 0:
            raise OptionError(
                f"--checkpoint-every must be a whole number >= 0 (0 = never), got {self.checkpoint_every}"
            )
        if self.checkpoint_every and self.output_dir is None:
            raise OptionError("--checkpoint-every needs --output-dir, the folder the checkpoint is written into")
        if self.resume is not None and not os.path.isfile(checkpoint_path(self.resume)):
            raise OptionError(
                f"--resume {self.resume}: no {CHECKPOINT_FILE} there; give the --output-dir of a run "
                "made with --checkpoint-every"
            )
        self.scales = _checked_scales(self.scales, self.iterations)
        _check_limits(self)
        return self

    def _apply_preset(self):
        """The one place presets resolve: an explicit setting, else the preset's, else the article's."""
        if not isinstance(self.preset, str) or self.preset not in config.PRESETS:
            raise OptionError(f"--preset must be one of {', '.join(config.PRESETS)}, got {self.preset!r}")
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
        if self.image_range not in IMAGE_RANGES:
            raise OptionError(f"image_range must be one of {', '.join(IMAGE_RANGES)}, got {self.image_range!r}")
        if self.content_cost not in CONTENT_COSTS:
            raise OptionError(f"content_cost must be one of {', '.join(CONTENT_COSTS)}, got {self.content_cost!r}")
        if not _is_number(self.tv_weight) or not math.isfinite(self.tv_weight) or self.tv_weight < 0:
            raise OptionError(f"--tv-weight must be a finite number >= 0 (0 = off), got {self.tv_weight}")
        if not _is_number(self.style_scale) or not math.isfinite(self.style_scale) or self.style_scale <= 0:
            raise OptionError(f"--style-scale must be a number > 0 (1 = the output size), got {self.style_scale}")
        if self.style_blend is not None:
            self.style_blend = _checked_blend(self.style_blend, style_count)
        for name in ("clip", "preserve_colors", "color_match"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise OptionError(f"{name} must be True or False, got {getattr(self, name)!r}")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _checked_blend(blend, style_count):
    """The style blend as weights summing to 1, or OptionError."""
    text = blend if isinstance(blend, str) else ",".join(map(str, np.ravel(blend)))
    try:
        if isinstance(blend, str):
            weights = parse_numbers(blend, "--style-blend", "0.7,0.3")
        else:
            weights = tuple(float(w) for w in np.ravel(blend))
    except (TypeError, ValueError):
        raise OptionError(f"--style-blend must be numbers such as 0.7,0.3, got {text}") from None
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise OptionError(f"--style-blend weights must be finite numbers >= 0, got {text}")
    if sum(weights) <= 0:
        raise OptionError(f"--style-blend needs a weight > 0, got {text}")
    if style_count is not None and len(weights) != style_count:
        raise OptionError(
            f"--style-blend has {len(weights)} weights for {style_count} style image"
            f"{'s' if style_count != 1 else ''}; give one weight per --style image"
        )
    return tuple(blend_weights(weights, len(weights)))


def _check_init(init):
    if isinstance(init, str) and init in INITS:
        return
    if isinstance(init, (str, os.PathLike)):
        if not os.path.isfile(init):
            raise OptionError(f"--init {init}: neither {', '.join(INITS)} nor an image file")
        return
    shape = np.shape(init)
    if len(shape) not in (3, 4) or shape[-1] != 3 or (len(shape) == 4 and shape[0] != 1):
        raise OptionError(
            f"--init must be {', '.join(INITS)}, an image path or an (H, W, 3) RGB array, got {init!r:.60}"
        )


def _checked_scales(scales, iterations):
    text = scales if isinstance(scales, str) else ",".join(map(str, np.ravel(scales)))
    if isinstance(scales, str):
        scales = parse_numbers(scales, "--scales", "0.25,0.5,1")
    try:
        scales = tuple(float(scale) for scale in scales)
    except (TypeError, ValueError):
        raise OptionError(f"--scales must be numbers such as 0.25,0.5,1, got {text}") from None
    if not scales or any(not math.isfinite(scale) or scale <= 0 for scale in scales):
        raise OptionError(f"--scales must be fractions of the output size > 0, got {text}")
    if list(scales) != sorted(set(scales)) or scales[-1] != 1:
        raise OptionError(f"--scales must increase and end at 1 (the output size), e.g. 0.25,0.5,1; got {text}")
    if len(scales) > iterations:
        raise OptionError(
            f"--scales: {len(scales)} scales need at least {len(scales)} iterations, got --iterations {iterations}"
        )
    return scales


def _check_limits(options):
    """What else cannot work (issue 10): a negative seed, weights infinite in float32, a size beyond memory."""
    if options.seed is not None and (not _is_int(options.seed) or options.seed < 0):
        raise OptionError(f"--seed must be a whole number >= 0, got {options.seed}")
    for name, value in [
        ("--alpha", options.alpha),
        ("--beta", options.beta),
        ("--learning-rate", options.learning_rate),
        ("--tv-weight", options.tv_weight),
    ] + [(f"--style-layers {n}", w) for n, w in options.style_layers]:
        check_float32(value, name)
    if options.height is not None and options.width is not None:
        check_run_size((options.height, options.width))
