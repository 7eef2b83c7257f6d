"""A stylise request: its form fields checked in one place (stylize_settings), the uploads decoded as the command
line decodes files (image_files' hostile-safe reading, the pixel limit), the library's calls (the arbitrary-style
network's vectors, style_choice, fast.apply.stylize_picture) and the equivalent `neural-style apply` line."""

import dataclasses
import hashlib
import os
import shlex
import threading
from collections import OrderedDict

import numpy as np

from ..checks import OptionError, check_number
from ..image_files import IMAGE_EXTENSIONS, ImageError

# The upload fields that are pictures, and the word each has in the command line the server shows.
PICTURE_FIELDS = {"content": "PHOTO", "style": "PAINTING", "style2": "PAINTING2", "region": "MASK", "init": "INIT"}
# How many pictures' style vectors are kept (a slider moved re-sends the same painting and photo).
VECTOR_CACHE = 16


@dataclasses.dataclass
class Settings:
    """A stylise request's settings, checked: the network, the style choice and the painting options."""

    model: str
    style_index: int | None = None
    two_paintings: bool = False
    mix: float = 0.5
    region: bool = False
    strength: float = 1.0
    style_size: int = 256
    preserve_colors: bool = False


def text_field(fields, name):
    """
    A form field's text.

    Arguments:
    fields -- the form's text fields (name -> str)
    name -- the field

    Returns:
    text -- its text without surrounding spaces, or None when it is absent or empty
    """
    value = fields.get(name)
    if value is None or not isinstance(value, str) or value.strip() == "":
        return None
    return value.strip()


def number_field(fields, name, default, kind=float):
    """
    A form field as a number.

    Arguments:
    fields -- the form's text fields (name -> str)
    name -- the field
    default -- its value when absent
    kind -- float or int

    Returns:
    value -- the number; OptionError (one line naming the field) when it is not one
    """
    text = text_field(fields, name)
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise OptionError(f"{name} must be {what}, got {text[:40]!r}", name) from None


def stylize_settings(fields, files, networks):
    """
    A stylise request's fields, checked in one place, before any picture is decoded.

    Arguments:
    fields -- the form's text fields (name -> str)
    files -- the names of the file fields sent (content, style, style2, region)
    networks -- the server's networks.Networks (which names it knows, and their kinds)

    Returns:
    settings -- Settings; OptionError (one line: what, which field, what to do) otherwise
    """
    from ..fast import arbitrary, bundled

    if "content" not in files:
        raise OptionError("content: no photo sent; send the photo as the file field content", "content")
    model = text_field(fields, "model")
    if "style" in files and model not in (None, bundled.ARBITRARY):
        raise OptionError(f"give either style (a painting) or model ({model}), not both", "style", "model")
    if model is None:
        if "style" not in files:
            raise OptionError("give a painting as the file field style, or a network's name as model", "style")
        model = bundled.ARBITRARY
    entry = networks.entries.get(model)
    if entry is None:
        known = ", ".join(networks.entries)
        raise OptionError(f"model {model!r} is not one of this server's networks ({known}); see /api/models", "model")
    strength = arbitrary.check_strength(number_field(fields, "strength", 1.0))
    style_size = arbitrary.check_style_size(number_field(fields, "style_size", arbitrary.STYLE_SIZE, int))
    mix = check_number(number_field(fields, "mix", 0.5), "mix", minimum=0, maximum=1, what="a number", parameter="mix")
    preserve = text_field(fields, "preserve_colors") or "false"
    if preserve.lower() not in ("true", "false"):
        raise OptionError(f"preserve_colors must be true or false, got {preserve[:20]!r}", "preserve_colors")
    style_index = number_field(fields, "style_index", None, int)
    two = "style2" in files
    if entry.kind == "arbitrary":
        if "style" not in files:
            raise OptionError(f"{model} paints any painting: send it as the file field style", "style")
        if style_index is not None:
            raise OptionError("style_index chooses a network's own style; with a painting leave it out", "style_index")
    else:
        for given, value in (("style2", two), ("region", "region" in files), ("mix", "mix" in fields)):
            if value:
                raise OptionError(f"{given} is for paintings (the arbitrary-style network); leave it out", given)
        if strength != 1 or style_size != arbitrary.STYLE_SIZE:
            given = "strength" if strength != 1 else "style_size"
            raise OptionError(f"{given} is for paintings (the arbitrary-style network); leave it out", given)
    if "region" in files and not two:
        raise OptionError("region says where the second painting goes: send style2 with it", "region")
    return Settings(model, style_index, two, mix, "region" in files, strength, style_size, preserve.lower() == "true")


def command_line(settings):
    """
    The `neural-style apply` line with the same settings, files named PHOTO, PAINTING, PAINTING2 and MASK.

    Arguments:
    settings -- Settings

    Returns:
    line -- str
    """
    from ..fast import arbitrary, bundled

    parts = ["neural-style", "apply", "--content", "PHOTO", "--output", "STYLISED.png"]
    if settings.model == bundled.ARBITRARY:
        parts += ["--style-image", "PAINTING"] + (["PAINTING2"] if settings.two_paintings else [])
        if settings.two_paintings:
            if settings.region:
                # --style-masks takes a mask per painting: the first painting's is MASK's negative.
                parts += ["--style-masks", "MASK_INVERTED", "MASK"]
            else:
                parts += ["--mix", f"{1 - settings.mix:.6g},{settings.mix:.6g}"]
        if settings.strength != 1:
            parts += ["--strength", f"{settings.strength:.6g}"]
        if settings.style_size != arbitrary.STYLE_SIZE:
            parts += ["--style-size", str(settings.style_size)]
    else:
        parts += ["--model", settings.model]
        if settings.style_index is not None:
            parts += ["--style-index", str(settings.style_index)]
    if settings.preserve_colors:
        parts.append("--preserve-colors")
    return " ".join(shlex.quote(part) for part in parts)


def decode_upload(scratch, field, data, filename=None, background=255):
    """
    An uploaded picture decoded as the command line decodes a file: from a file of the server's own folder (a name
    it chose), the server's pixel limit (scratch.max_pixels) refused from the header, Pillow's bomb check, corrupt
    files refused in one line.

    Arguments:
    scratch -- the server's safety.Scratch
    field -- the form field, named in the messages
    data -- the upload's bytes
    filename -- the name the client gave (only its extension is used, and only a picture's)
    background -- the grey level transparent pixels are composited over (0 for a mask)

    Returns:
    pixels -- float32 (H, W, 3) in 0..255; ImageError (one line naming the field) otherwise
    """
    from ..image_files import TooManyPixelsError, read_image

    if not data:
        raise ImageError(f"{field}: the file is empty; send a JPEG, PNG, BMP, GIF, TIFF or WebP picture")
    suffix = os.path.splitext(filename or "")[1].lower()
    path = scratch.write(data, suffix if suffix in IMAGE_EXTENSIONS else "")
    try:
        return read_image(path, scratch.max_pixels, background)
    except TooManyPixelsError as error:
        declared = (
            f" is {error.size[0]}x{error.size[1]} ({error.size[0] * error.size[1]:,} pixels)" if error.size else ""
        )
        raise ImageError(
            f"{field}{declared}: more than the {error.limit:,} pixels this server takes; shrink it first "
            "(or start neural-style serve with a larger --max-pixels)"
        ) from None
    except (ImageError, OSError) as error:
        raise ImageError(" ".join(str(error).replace(path, field).split())) from None
    finally:
        os.remove(path)


def region_weights(scratch, data, shape):
    """
    The region mask (white = the second painting there) as the two paintings' weights at the photo's size.

    Arguments:
    scratch -- the server's safety.Scratch
    data -- the mask's bytes (a PNG; transparent pixels count as black, as the main command's masks)
    shape -- the photo's (height, width)

    Returns:
    weights -- float32 (height, width, 2): 1 - mask and mask, resized to the photo (fast.apply.fit_style_weights)
    """
    from ..fast.apply import fit_style_weights

    mask = decode_upload(scratch, "region", data, "region.png", background=0).mean(axis=-1) / 255
    return fit_style_weights(np.stack([1 - mask, mask], axis=-1), *shape)


def style_vector(predictor, lite, pixels, style_size):
    """
    A picture's style vector: through the .tflite predictor (LiteRT) where the server has it, else Keras's (the
    same vector: bundled.lite_check holds the files to the Keras network's pictures).

    Arguments:
    predictor -- the Keras StylePredictor
    lite -- networks.Networks.lite's dict, or None
    pixels -- float32 (H, W, 3) in 0..255
    style_size -- its side at the predictor

    Returns:
    vector -- float32 (100,)
    """
    from ..fast import arbitrary

    if lite is None or lite["predictor"] is None:
        return arbitrary.style_vector(predictor, pixels, style_size)
    from ..fast import lite as runtime

    with lite["lock"]:
        return runtime.run_predictor(lite["predictor"], pixels, style_size)


def run_lite(lite, photo, weights):
    """
    A picture through a bundled network's .tflite transformer (LiteRT), where it fits in memory whole.

    Arguments:
    lite -- networks.Networks.lite's dict
    photo -- float32 (H, W, 3) in 0..255
    weights -- the style's weights or vector, (styles,) or per pixel (H, W, styles) at the photo's size

    Returns:
    stylised -- float32 (H, W, 3) in 0..255, or None where the Keras route must paint it (a picture too large to
                go whole, or LiteRT's NaN for it)
    """
    from ..fast import lite as runtime
    from ..large import available_memory

    if not runtime.fits(*photo.shape[:2], available_memory() or 4e9):
        return None  # the Keras route paints it in exact tiles
    check = lite["check"]
    try:
        with lite["lock"]:
            return runtime.run_transform(
                lite["transform"], photo, weights, int(check["min_side"]), check.get("rounding")
            )
    except runtime.NonFiniteOutputError:
        return None  # XNNPACK's NaN for some int8 pictures: the Keras route paints it


class Painter:
    """
    The library's calls behind /api/stylize, with the paintings' style vectors kept (the same painting, re-sent as
    a slider moves, is not run through the predictor again).
    """

    def __init__(self, networks, scratch):
        """
        Arguments:
        networks -- the server's networks.Networks
        scratch -- its safety.Scratch
        """
        self.networks, self.scratch = networks, scratch
        self._vectors = OrderedDict()
        self._lock = threading.Lock()  # the pool may run several requests at once

    def stylize(self, settings, uploads):
        """
        A stylise request's picture.

        Arguments:
        settings -- stylize_settings'
        uploads -- {field: (bytes, filename)} for content, style, style2, region

        Returns:
        pixels -- float32 (H, W, 3) in 0..255 at the photo's size; ImageError or OptionError (one line) otherwise
        """
        from ..fast import arbitrary
        from ..fast.apply import stylize_picture
        from ..fast.style_choice import style_weights

        photo = decode_upload(self.scratch, "content", *uploads["content"])
        transform, predictor = self.networks.build(settings.model)
        lite = self.networks.lite(settings.model)
        if predictor is None:
            weights = style_weights(transform.styles, settings.style_index)
        else:
            fields = ["style", "style2"] if settings.two_paintings else ["style"]
            size = settings.style_size

            def predict(pixels, side):
                return style_vector(predictor, lite, pixels, side)

            vectors = np.stack([self._painting_vector(predict, field, uploads, size) for field in fields])
            if not settings.two_paintings:
                chosen = np.ones(1, np.float32)
            elif settings.region:
                chosen = region_weights(self.scratch, uploads["region"][0], photo.shape[:2])
            else:
                chosen = np.asarray([1 - settings.mix, settings.mix], np.float32)
            # The photo's own vector, kept as the paintings' are: a strength slider moved re-sends the same photo.
            own = self._vector(predict, uploads["content"][0], size, lambda: photo) if settings.strength < 1 else None
            weights = arbitrary.blend(vectors, chosen, settings.strength, own)
        stylised = None if lite is None else run_lite(lite, photo, weights)
        if stylised is None:
            stylised = stylize_picture(transform, photo, style_weights=weights)
        if settings.preserve_colors:
            from ..images import preserve_colors

            stylised = preserve_colors(stylised, photo)
        return stylised

    def _painting_vector(self, predict, field, uploads, style_size):
        """A painting's style vector (_vector), its upload decoded only when the vector is not kept."""
        data, filename = uploads[field]
        return self._vector(predict, data, style_size, lambda: decode_upload(self.scratch, field, data, filename))

    def _vector(self, predict, data, style_size, pixels):
        """
        A picture's style vector, from the cache when the same bytes came before at this size.

        Arguments:
        predict -- function(pixels, style_size) -> the vector (style_vector)
        data -- the picture's bytes as sent (the cache's key, with style_size)
        style_size -- its side at the predictor
        pixels -- function() -> its pixels, called only when the vector is not kept

        Returns:
        vector -- float32 (100,)
        """
        key = (hashlib.sha256(data).hexdigest(), style_size)
        with self._lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        vector = predict(pixels(), style_size)
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > VECTOR_CACHE:
                self._vectors.popitem(last=False)
        return vector
