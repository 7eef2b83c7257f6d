"""A trained network applied to pictures: one forward pass each, whole or in tiles with the whole picture's statistics.

Reading a model (load_fast_model, checked before and after Keras reads it), a picture through it (stylize_picture),
the files of an apply (output_pairs, apply_model) and the style weights or masks of a network of several styles. The
tiles, and the memory that decides whether to tile, are tiles.py's: their cores equal the whole picture's result.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from ..checks import OptionError, check_choice, warn
from ..image_files import IMAGE_EXTENSIONS, ImageError, write_image
from ..images import load_image, preserve_colors
from ..layers import PRECISIONS
from ..limits import resolve_precision
from ..safety import same_file
from .data import list_pictures
from .model_file import check_model_file
from .network import JOHNSON, TransformNet
from .tiles import network_inputs, stylize_in_tiles, transform_minimum_tile_size, transform_tile_size


class NonFiniteOutputError(RuntimeError):
    """The network gave NaN or infinity for a picture: its weights are broken (a training that diverged)."""


# The probe picture's side: small (a forward pass of a few milliseconds), yet every level of the network has 8 x 8
# positions; styles go through it this many at a time.
PROBE_SIDE = 32
PROBE_STYLES = 8


def load_fast_model(path):
    """
    Reads a model written by train_fast_model (a .keras file), checked before Keras reads it (model_file: only the
    members train writes, in the sizes its network has) and after (finite weights, a finite picture from each style).

    Arguments:
    path -- the .keras file

    Returns:
    model -- a TransformNet, callable on (batch, H, W, 3) pictures in 0..255; OptionError (one line) for a missing
             file, a folder, a file that is not such a model, or a network whose weights or output are not finite
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OptionError(f"model {path} is a folder, not a model; give the .keras file{_in_folder(path)}", "model")
    if not os.path.exists(path):
        raise OptionError(f"model {path}: no such file; give a .keras file written by neural-style train", "model")
    if not os.path.isfile(path):
        raise OptionError(f"model {path} is not a regular file; give the .keras file neural-style train wrote", "model")
    if not path.endswith(".keras"):
        raise OptionError(f"model {path}: not a .keras file; give the .keras file neural-style train writes", "model")
    check_model_file(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file that is not a model
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise OptionError(
            f"model {path}: not a model neural-style train writes ({reason[:160]}); give such a .keras file", "model"
        ) from None
    if not isinstance(model, TransformNet):
        raise OptionError(f"model {path}: a Keras model, but not one neural-style train writes", "model")
    check_finite_network(model, path)
    return model


def _in_folder(folder):
    """' in it, e.g. FOLDER/NAME.keras' when the folder holds a .keras file, else ' neural-style train wrote'."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".keras") and entry.is_file():
                    return f" in it, e.g. {os.path.join(folder, entry.name)}"
    except OSError:  # a folder that cannot be listed still gets its one line
        pass
    return " neural-style train wrote"


def check_finite_network(model, name="the model"):
    """
    Refuses a network that cannot give a picture: a weight that is NaN or infinite, or an output that is not finite
    on probe_picture for any of its styles (weights so large that the forward pass overflows float32).

    Arguments:
    model -- a TransformNet
    name -- the model's file, for the message

    Returns:
    None; OptionError (one line naming the model and saying to train it again) for a broken network
    """
    advice = "the training diverged or the file was altered: train it again (a lower --learning-rate helps)"
    for weight in model.weights:
        values = np.asarray(weight.numpy())
        bad = values.size - int(np.count_nonzero(np.isfinite(values)))
        if bad:
            raise OptionError(
                f"model {name}: {bad:,} of the {values.size:,} weights of {weight.path} are NaN or infinite; {advice}",
                "model",
            )
    probe = probe_picture()[None]
    for first in range(0, model.styles, PROBE_STYLES):
        chosen = np.arange(first, min(first + PROBE_STYLES, model.styles))
        pictures = np.repeat(probe, len(chosen), axis=0)
        if model.styles == 1:
            output = model(pictures).numpy()
        else:
            output = model((pictures, np.eye(model.styles, dtype=np.float32)[chosen])).numpy()
        finite = np.isfinite(output).reshape(len(chosen), -1).all(axis=1)
        if not finite.all():
            style = "" if model.styles == 1 else f" with style {chosen[np.argmin(finite)]}"
            raise OptionError(
                f"model {name}: its output for a {PROBE_SIDE}x{PROBE_SIDE} test picture{style} is NaN or infinite "
                f"(weights too large for float32); {advice}",
                "model",
            )


def probe_picture():
    """
    The picture check_finite_network runs: mid-grey with gentle waves, so that every normalisation has something to
    normalise (a flat grey picture is zero after the first one, whatever its scales).

    Returns:
    picture -- float32 (PROBE_SIDE, PROBE_SIDE, 3) in 67.5..187.5
    """
    y, x = np.mgrid[0:PROBE_SIDE, 0:PROBE_SIDE]
    waves = [np.sin(x / 3 + channel) * np.cos(y / 4 - channel) for channel in range(3)]
    return (127.5 + 60 * np.stack(waves, axis=-1)).astype(np.float32)


def check_tile_size(tile_size, layout=JOHNSON):
    """
    Refuses a tile smaller than the network's margin: each tile's window is its core plus the margin on every side,
    so a smaller core would be mostly margin (a 1-pixel core costs hundreds of times the whole picture's pass).

    Arguments:
    tile_size -- 0 (tiles only when needed) or the tiles' core side
    layout -- the network's Layout

    Returns:
    tile_size -- unchanged; OptionError (one line naming tile_size and the smallest allowed) when 0 < it < the margin
    """
    smallest = transform_minimum_tile_size(layout)
    if 0 < tile_size < smallest:
        raise OptionError(
            f"tile_size must be 0 (tiles only when needed) or at least {smallest} pixels (the network reads "
            f"{smallest} pixels of context on each side of a tile), got {tile_size}",
            "tile_size",
        )
    return tile_size


def pad_to_min_side(pixels, min_side=JOHNSON.min_side):
    """
    A picture smaller than min_side padded by repeating its edge (the reflection pads need min_side); the caller crops
    the result back to the picture's size.

    Arguments:
    pixels -- array (H, W, C): a picture, or its per-pixel style weights
    min_side -- the network's smallest side (Layout.min_side; Johnson et al.'s by default)

    Returns:
    pixels -- the same array when both sides are at least min_side, else (max(H, min_side), max(W, min_side), C)
    """
    height, width = pixels.shape[:2]
    pad = [(0, max(0, min_side - height)), (0, max(0, min_side - width)), (0, 0)]
    return np.pad(pixels, pad, mode="edge") if pad[0][1] or pad[1][1] else pixels


def load_style_masks(paths, styles):
    """
    The --style-masks: a style per region, as each pixel's convex weights of the styles.

    Arguments:
    paths -- one mask picture per style, in the model's order (white: the style applies; grey: in part)
    styles -- how many styles the model has

    Returns:
    weights -- float32 (h, w, styles) at the first mask's size, each pixel's weights >= 0 summing to 1 (soft masks
               share a pixel in proportion); OptionError (one line) for a wrong count or pixels no mask covers
    """
    from ..masks import load_mask

    if len(paths) != styles:
        masks = f"{len(paths)} mask{'s' * (len(paths) != 1)}"
        raise OptionError(f"style_masks: {masks} for a model of {styles} styles; give one for each", "style_masks")
    first = load_mask(paths[0], what="--style-masks")
    hint = "give every mask the first one's shape, the pictures' aspect ratio (they are resized to each picture)"
    stack = np.stack([first] + [load_mask(p, first.shape, "--style-masks", hint=hint) for p in paths[1:]], axis=-1)
    total = stack.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise OptionError(
            f"style_masks: {int(np.sum(total <= 0))} pixels are black in every mask; each pixel needs a style",
            "style_masks",
        )
    return stack / total


def fit_style_weights(style_weights, height, width):
    """
    Style weights as a picture of height x width takes them: convex weights as they are, masks resized to it.

    Arguments:
    style_weights -- convex weights of the styles (styles,), or load_style_masks' (h, w, styles)
    height, width -- the picture's size

    Returns:
    weights -- float32 (styles,), or (height, width, styles) with each pixel's weights >= 0 summing to 1
    """
    weights = np.asarray(style_weights, np.float32)
    if weights.ndim == 3 and weights.shape[:2] != (height, width):
        # Bilinear with antialiasing: positive weights stay positive; renormalised to sum 1 again.
        weights = tf.image.resize(weights, (height, width), method="bilinear", antialias=True).numpy()
        weights = np.clip(weights, 0, None)
        weights /= weights.sum(axis=-1, keepdims=True)
    return weights


def check_precision(precision):
    """
    The precision an apply really runs in: 'float32' or 'bfloat16' as asked, bfloat16 only where it is fast (a GPU,
    or a CPU with AMX or AVX512-BF16: limits.resolve_precision, which says so in one line when it falls back).

    Arguments:
    precision -- 'float32' or 'bfloat16'

    Returns:
    precision -- 'float32' or 'bfloat16'; OptionError (one line naming precision) for anything else
    """
    check_choice(precision, PRECISIONS, "precision")
    return resolve_precision(precision, bool(tf.config.list_physical_devices("GPU")))


def forward_pass(model, precision="float32", style_weights_rank=None):
    """
    The model's whole-picture forward pass as one compiled function, kept on the model (one per precision and kind of
    style weights): a TensorFlow graph lets grappler and oneDNN fuse and schedule the layers, where an eager call runs
    them one by one. It takes one picture at a time, its height and width left open (None), so pictures of every
    size share one trace.

    Arguments:
    model -- a TransformNet
    precision -- 'float32', or 'bfloat16' (TransformNet.call's: the convolutions in bfloat16)
    style_weights_rank -- None: the function takes the picture alone, (1, H, W, 3); 2 or 4: the pair (picture, style
                          weights (1, styles) or (1, H, W, styles))

    Returns:
    function(inputs) -> outputs, inputs as TransformNet.call takes them
    """
    passes = model.__dict__.setdefault("_forward_passes", {})
    key = (precision, style_weights_rank)
    if key not in passes:
        # One picture a call (the fused normalisation needs the batch's size), of any height and width.
        pictures = tf.TensorSpec((1, None, None, 3), tf.float32)
        if style_weights_rank is None:
            passes[key] = tf.function(lambda x: model(x, precision=precision), input_signature=[pictures])
        else:
            weights = tf.TensorSpec((1,) + (None,) * (style_weights_rank - 1), tf.float32)
            passes[key] = tf.function(
                lambda inputs: model(inputs, precision=precision), input_signature=[(pictures, weights)]
            )
    return passes[key]


def stylize_picture(model, picture, tile_size=0, max_memory=None, style_weights=None, precision="float32"):
    """
    A picture through the network, whole or in tiles (the same result within float32 rounding).

    Arguments:
    model -- a TransformNet
    picture -- path of a picture, or an array (H, W, 3) RGB in 0..255
    tile_size -- 0: tiles only when the whole picture would not fit in max_memory; N: tiles of N x N pixels (plus
                 the network's margin)
    max_memory -- GB the apply may use (None: the memory available)
    style_weights -- None (the first style), convex weights of the model's styles (style_choice.style_weights), or
                     load_style_masks' (h, w, styles), resized to the picture
    precision -- 'float32' (exact), or 'bfloat16': the whole picture's convolutions in bfloat16 (check_precision;
                 the tiled pass stays float32), within a few grey levels of float32 and faster where the CPU has it

    Returns:
    stylised -- float32 array (H, W, 3), clipped to 0..255; NonFiniteOutputError (one line) when the network gives
                NaN or infinity for it (a broken network), before anything could be written from it
    """
    what = picture if isinstance(picture, (str, os.PathLike)) else "a picture"
    precision = check_precision(precision)
    return _stylize_finite(model, _read(picture), what, tile_size, max_memory, style_weights, precision)


def _stylize_finite(model, pixels, what, tile_size, max_memory, style_weights, precision="float32"):
    """_stylize's result clipped to 0..255, or NonFiniteOutputError naming `what` when any of it is not finite."""
    # A broken network's infinities would make numpy warn in the tiles' statistics; they are refused below instead.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        result = _stylize(model, pixels, tile_size, max_memory, style_weights, precision)
    bad = result.size - int(np.count_nonzero(np.isfinite(result)))
    if bad:
        raise NonFiniteOutputError(
            f"the network gave NaN or infinity for {bad:,} of the {result.size:,} values of {what}: its weights are "
            "broken (a training that diverged); train it again"
        )
    # In place where the result is the pass's own array (a picture's worth of memory less at the peak).
    return np.clip(result, 0, 255, out=result if result.flags.writeable else None)


def _stylize(model, pixels, tile_size, max_memory, style_weights, precision="float32"):
    """stylize_picture's work on the pixels: the network's output (H, W, 3), not clipped."""
    height, width = pixels.shape[:2]
    layout = model.layout
    padded = pad_to_min_side(pixels, layout.min_side)
    weights = None
    if style_weights is not None:
        weights = fit_style_weights(style_weights, height, width)
        weights = tf.constant(weights[None] if weights.ndim == 1 else pad_to_min_side(weights, layout.min_side)[None])
    if not tile_size:
        tile_size = transform_tile_size(*padded.shape[:2], max_memory, model)
    if tile_size:
        # The streamed tiles read the picture a strip at a time: no whole copy of it as a tensor.
        return stylize_in_tiles(model, padded[None], tile_size, weights, max_memory=max_memory)[:height, :width]
    image = tf.constant(padded[None])
    if model.quantization:
        # A network that rounds as its int8 file does runs eagerly: a graph's optimisers (oneDNN's and grappler's
        # rewrites) compute its integer convolutions otherwise, and one level flipped early moves whole channels.
        result = model(network_inputs(image, weights)).numpy()[0]
    else:
        rank = None if weights is None else len(weights.shape)
        result = forward_pass(model, precision, rank)(network_inputs(image, weights)).numpy()[0]
    return result[:height, :width]


def output_pairs(content, output, others=()):
    """
    The (input, output) files of an apply: a picture to a file, or a folder to a folder (names and subfolders kept).

    Arguments:
    content -- a picture, or a folder of pictures (searched recursively)
    output -- a file (for a picture) or a folder (for a folder)
    others -- the other files the apply reads (the model, the style masks), which no output may be either

    Returns:
    pairs -- list of (input path, output path); OptionError (one line) when an output would overwrite an input or the
             kinds do not match
    """
    content, output = os.fspath(content), os.fspath(output)
    if os.path.isdir(content):
        if os.path.isfile(output):
            raise OptionError(f"output {output} is a file; a folder of pictures goes to a folder", "output")
        if same_file(content, output):
            raise OptionError(
                f"output {output} is the content folder; choose another (inputs are never overwritten)", "output"
            )
        pictures = list_pictures(content)
        if not pictures:
            raise OptionError(
                f"content {content}: no pictures ({', '.join(IMAGE_EXTENSIONS)}) in this folder", "content"
            )
        pairs = [(path, os.path.join(output, os.path.relpath(path, content))) for path in pictures]
    else:
        if not os.path.isfile(content):
            raise OptionError(f"content {content}: no such picture or folder", "content")
        if os.path.splitext(output)[1].lower() not in IMAGE_EXTENSIONS:
            raise OptionError(
                f"output {output}: unknown image type; use one of {', '.join(IMAGE_EXTENSIONS)}", "output"
            )
        pairs = [(content, output)]
    inputs = [path for path, _ in pairs] + [os.fspath(path) for path in others if os.path.exists(path)]
    for _, target in pairs:
        if any(same_file(target, path) for path in inputs if os.path.exists(target)):
            raise OptionError(
                f"output {target} is also an input; choose another output (inputs are never overwritten)", "output"
            )
    return pairs


def apply_model(
    model,
    content,
    output,
    tile_size=0,
    max_memory=None,
    report=None,
    style_weights=None,
    skip=None,
    keep_colors=False,
    precision="float32",
):
    """
    Stylises a picture into a file, or every picture of a folder into a folder (names kept), each written atomically.
    A picture of a folder that cannot be read is skipped (as the training skips one), the others still done; a
    single picture that cannot be read is an error.

    Arguments:
    model -- a TransformNet, or the path of its .keras file
    content -- a picture or a folder
    output -- a file or a folder
    tile_size, max_memory -- as for stylize_picture
    report -- function(input, output) called after each picture is written, or None
    style_weights -- as for stylize_picture, or a function(pixels) giving them for each picture (the arbitrary-style
                     network's vectors, which may depend on the photo)
    skip -- function(input, reason) called for each picture of a folder skipped as unreadable (None: a warning line
            `neural-style: warning: skipping PATH: reason` on stderr)
    keep_colors -- True: the result's luminance with the photo's colours (images.preserve_colors)
    precision -- as for stylize_picture (checked before any picture is read)

    Returns:
    written -- list of the output paths (the skipped pictures' are not in it)
    """
    pairs = output_pairs(content, output)
    precision = check_precision(precision)
    if not isinstance(model, TransformNet):
        model = load_fast_model(model)
    if skip is None:
        skip = warn_skipped
    folder = os.path.isdir(os.fspath(content))
    written = []
    for source, target in pairs:
        try:
            pixels = _read(source)
        except (ImageError, OSError) as error:
            if not folder:
                raise
            skip(source, " ".join(str(error).split()))
            continue
        weights = style_weights(pixels) if callable(style_weights) else style_weights
        stylised = _stylize_finite(model, pixels, source, tile_size, max_memory, weights, precision)
        if keep_colors:
            stylised = preserve_colors(stylised, pixels)
        write_image(target, np.rint(stylised).astype(np.uint8))
        written.append(target)
        if report:
            report(source, target)
    return written


def warn_skipped(source, reason):
    """
    The line that says a picture was skipped, on stderr (as the training says it of its pictures).

    Arguments:
    source -- the picture
    reason -- why it was skipped (one line)

    Returns:
    None
    """
    warn(f"skipping {source}: {reason}")


def _read(picture):
    """A picture at its own size as float32 RGB in 0..255: a path through images.load_image, or an array."""
    if isinstance(picture, (str, os.PathLike)):
        return load_image(picture)
    pixels = np.asarray(picture, np.float32)
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise OptionError(
            f"content must be a picture's path or an (H, W, 3) RGB array, got shape {pixels.shape}", "content"
        )
    return pixels
