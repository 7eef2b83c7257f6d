"""The forms StyleOptions' settings take, parsed and checked: style layers as 'conv1_1:0.2,...', numbers as
'0.25,0.5,1' (scales, style_blend), the style layer weights' rule ('equal', 'decay R'), the starting image and the
masks by name, path or array, the TensorBoard folder of any command; each raises OptionError with one line naming the
option.

``neural_style.options`` re-exports every name here.
"""

import os

import numpy as np

from .checks import OptionError, check_file, check_no_broken_link
from .config import AUTO

# Starting images by name; anything else given as --init is an image file.
INITS = ("noise", "content", "random")


def parse_style_layers(text: str) -> list[tuple[str, float]]:
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
            raise OptionError(f"style_layers: {item!r} is not name:weight (e.g. conv1_1:0.2)", "style_layers") from None
    return layers


def parse_numbers(text: str, option: str, example: str) -> tuple[float, ...]:
    """
    Parses comma-separated numbers such as '0.25,0.5,1' (scales) or '0.7,0.3' (style_blend).

    Arguments:
    text -- the option's value
    option -- the option's parameter name, for the message
    example -- a valid value, for the message

    Returns:
    numbers -- tuple of floats
    """
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise OptionError(f"{option}: {text!r} is not a list of numbers; e.g. {example}", option) from None


def parse_style_layer_weights(spec):
    """
    Parses style_layer_weights: 'equal', or 'decay R' (also ['decay', 'R'], ('decay', R) or 'decay:R'), R a number > 0.

    Arguments:
    spec -- the option's value: a string, or a list or tuple (kind, ratio) (the command line gives a list of words)

    Returns:
    spec -- ('equal', None) or ('decay', R) with R a float
    """
    parts = (
        spec.replace(":", " ").split()
        if isinstance(spec, str)
        else list(spec)
        if isinstance(spec, (tuple, list))
        else []
    )
    kind = parts[0] if parts else None
    if kind == "equal" and len(parts) == 1:
        return ("equal", None)
    if kind == "decay" and len(parts) == 2:
        try:
            ratio = float(parts[1])
        except (TypeError, ValueError):
            ratio = np.nan
        if np.isfinite(ratio) and ratio > 0:
            return ("decay", ratio)
    raise OptionError(
        f"style_layer_weights must be 'equal' or 'decay R' with R a number > 0 (e.g. decay 4), got {spec!r}",
        "style_layer_weights",
    )


def style_layer_weights(style_layers, spec):
    """
    The style layers with weights given by a rule instead of one by one, normalised to sum to 1.

    'equal': 1/L each. 'decay R': the i-th of the L layers (in the order given, the article's shallowest first) gets
    R ** (L - 1 - i) / sum_j R ** j, so R = 4 over conv1_1 ... conv5_1 gives 256:64:16:4:1 (crowsonkb's weights): the
    shallowest layer weighs most. Deeper layers have more channels and larger activations, so their statistics
    (means, covariances, W2) are larger; decaying weights keep them from drowning the fine texture of the shallow ones.
    R < 1 weighs the deep layers most instead.

    Arguments:
    style_layers -- list of (name, weight) pairs; their names and order are kept
    spec -- parse_style_layer_weights' form, or None to keep the weights as they are

    Returns:
    style_layers -- list of (name, weight) tuples
    """
    if spec is None:
        return list(style_layers)
    kind, ratio = parse_style_layer_weights(spec)
    count = len(style_layers)
    raw = [1.0] * count if kind == "equal" else [ratio ** (count - 1 - i) for i in range(count)]
    return [(name, w / sum(raw)) for (name, _), w in zip(style_layers, raw)]


def parse_style_blend(blend, style_count):
    """
    Checks style_blend: the weights of several style images, '0.7,0.3' or a sequence of numbers.

    Arguments:
    blend -- the option's value: comma-separated numbers, or a sequence of numbers
    style_count -- the number of style images (None: not checked)

    Returns:
    weights -- tuple of floats >= 0, not all 0, as given (optimize.blend_weights normalises them)
    """
    text = blend if isinstance(blend, str) else ",".join(map(str, np.ravel(blend)))
    try:
        if isinstance(blend, str):
            weights = parse_numbers(blend, "style_blend", "0.7,0.3")
        else:
            weights = tuple(float(w) for w in np.ravel(blend))
    except (TypeError, ValueError):
        raise OptionError(f"style_blend must be numbers such as 0.7,0.3, got {text}", "style_blend") from None
    if any(not np.isfinite(w) or w < 0 for w in weights):
        raise OptionError(f"style_blend weights must be finite numbers >= 0, got {text}", "style_blend")
    if sum(weights) <= 0:
        raise OptionError(f"style_blend needs a weight > 0, got {text}", "style_blend")
    if style_count is not None and len(weights) != style_count:
        raise OptionError(
            f"style_blend has {len(weights)} weights for {style_count} style image"
            f"{'s' if style_count != 1 else ''}; give one weight per style image",
            "style_blend",
        )
    return weights


def parse_scales(scales, iterations):
    """
    Checks scales: the coarse-to-fine fractions of the output size, '0.25,0.5,1', a sequence of numbers, or 'auto'.

    Arguments:
    scales -- the option's value: comma-separated numbers, a sequence of numbers, or AUTO
    iterations -- the run's iterations, at least one per scale

    Returns:
    scales -- tuple of floats increasing to 1, or AUTO
    """
    if isinstance(scales, str) and scales.strip() == AUTO:
        return AUTO  # the sizes depend on the output size: large.auto_sizes
    text = scales if isinstance(scales, str) else ",".join(map(str, np.ravel(scales)))
    if isinstance(scales, str):
        scales = parse_numbers(scales, "scales", "0.25,0.5,1")
    try:
        scales = tuple(float(scale) for scale in scales)
    except (TypeError, ValueError):
        raise OptionError(f"scales must be numbers such as 0.25,0.5,1, got {text}", "scales") from None
    if not scales or any(not np.isfinite(scale) or scale <= 0 for scale in scales):
        raise OptionError(f"scales must be fractions of the output size > 0, got {text}", "scales")
    if list(scales) != sorted(set(scales)) or scales[-1] != 1:
        raise OptionError(f"scales must increase and end at 1 (the output size), e.g. 0.25,0.5,1; got {text}", "scales")
    if len(scales) > iterations:
        raise OptionError(
            f"scales: {len(scales)} of them need iterations >= {len(scales)}, got {iterations}", "scales", "iterations"
        )
    return scales


def check_init(init):
    """
    Checks init: a name of INITS, an image file, or an (H, W, 3) RGB array (a batch of one allowed).

    Arguments:
    init -- the option's value
    """
    if isinstance(init, str) and init in INITS:
        return
    if isinstance(init, (str, os.PathLike)):
        check_file(init, "init", f"neither {', '.join(INITS)} nor an image file")
        return
    shape = np.shape(init)
    if len(shape) not in (3, 4) or shape[-1] != 3 or (len(shape) == 4 and shape[0] != 1):
        raise OptionError(
            f"init must be {', '.join(INITS)}, an image path or an (H, W, 3) RGB array, got {init!r:.60}", "init"
        )


def check_mask_file(mask, name):
    """
    Checks that a mask given as a path is a readable file (masks.load_mask checks that it is an image, not all black).

    Arguments:
    mask -- a path, or an array (not checked here)
    name -- the option's parameter name, for the message
    """
    if isinstance(mask, (str, os.PathLike)):
        check_file(mask, name, "no such file; give a greyscale image (white = where it applies)")


def blend_weights(style_blend, count):
    """
    The weights of the style images in the blend of their Gram matrices, normalised to sum to 1.

    Arguments:
    style_blend -- None (equal weights) or a sequence of `count` numbers >= 0, not all 0
    count -- the number of style images

    Returns:
    weights -- list of `count` floats summing to 1
    """
    if style_blend is None:
        return [1.0 / count] * count
    weights = [float(w) for w in style_blend]
    if len(weights) != count or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"style_blend needs {count} weights >= 0, not all 0; got {list(style_blend)}")
    total = sum(weights)
    return [w / total for w in weights]


def check_tensorboard_folder(folder):
    """
    The TensorBoard folder of any command (the main job's, batch's, video's, train's): a path that is not a file nor
    a symbolic link to nothing, nor under one (it is created if missing; its writability is checked with the run's
    other writes).

    Arguments:
    folder -- None (no TensorBoard), or the --tensorboard path

    Returns:
    None; raises OptionError (parameter 'tensorboard') otherwise
    """
    if folder is None:
        return
    if not isinstance(folder, (str, os.PathLike)) or not os.fspath(folder):
        raise OptionError(f"tensorboard must be a folder's path, got {folder!r}", "tensorboard")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OptionError(
            f"tensorboard {os.fspath(folder)} is a file; give a folder (it is created if missing)", "tensorboard"
        )
    # A link to nothing is not "existing" to os.path.exists, yet its name is taken: making the folder would fail.
    check_no_broken_link(folder, "tensorboard")
