"""Image files, without TensorFlow: which files are images, decoding files that may be hostile (the pixel count
refused from the header before decoding, Pillow's bomb check at our limit; the EXIF orientation applied; CMYK and
other modes converted to RGB as Pillow does) and writing pixels atomically (8 or 16 bits per channel).

images.py builds the course's arrays on top of these; the command line checks its paths with them before it loads
TensorFlow."""

import os
import threading
import warnings

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .files import atomic_write
from .limits import MAX_IMAGE_PIXELS_ENV

# The image files the library reads and writes (by extension).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")


class ImageError(ValueError):
    """A file that cannot be read as an image."""


class TooManyPixelsError(ImageError):
    """An image that declares more pixels than the limit; `size` is its (width, height) when known (None when Pillow
    refused it as a bomb before saying), `limit` the limit it broke."""

    def __init__(self, path, size, limit):
        declared = f" is {size[0]}x{size[1]} ({size[0] * size[1]:,} pixels)" if size else ""
        super().__init__(
            f"{path}{declared}: more than the {limit:,} pixels an input image may have; shrink it first, "
            f"or raise ${MAX_IMAGE_PIXELS_ENV}"
        )
        self.path, self.size, self.limit = path, size, limit

    def __reduce__(self):
        # Rebuilt from its parts where it crosses to another process (a batch's workers).
        return type(self), (self.path, self.size, self.limit)


# Pillow modes whose pixels _to_rgb_uint8_range takes as they are; any other mode is converted to RGB(A) first.
_DIRECT_MODES = ("1", "L", "LA", "RGB", "RGBA", "I;16", "I;16L", "I;16B", "I;16N", "F")


def check_image_file(path: str | os.PathLike, what: str | None = None) -> str | os.PathLike:
    """
    Checks that an image file exists, before anything is decoded (or TensorFlow loaded).

    Arguments:
    path -- the image file
    what -- which image it is ('content', 'style'), said first in the message; None: not said

    Returns:
    path -- unchanged; raises FileNotFoundError ('content: image not found: PATH') otherwise
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what + ': ' if what else ''}image not found: {os.fspath(path)}")
    return path


def decode_image(path: str, limit: int) -> np.ndarray:
    """
    Decodes the first frame of an image file, oriented as its EXIF says, refusing too many pixels before decoding.

    Arguments:
    path -- the image file
    limit -- the largest width x height it may declare

    Returns:
    pixels -- numpy array (H, W) or (H, W, C) as decoded (uint8, uint16, float or bool); ImageError when too large
    """
    try:
        try:
            picture, bomb = _open(path, limit)
        except UnidentifiedImageError:
            return _decode_with_imageio(path, limit)
        with picture:
            _check_pixels(path, picture.size, 0 if bomb else limit, limit)
            picture = ImageOps.exif_transpose(picture)
            if picture.mode == "I":
                return np.clip(np.asarray(picture), 0, 65535).astype(np.uint16)  # 16-bit greys, as PNG holds them
            if picture.mode not in _DIRECT_MODES:
                # CMYK (K is not alpha), palettes, YCbCr, LAB ...: Pillow's conversion to RGB, alpha kept if any.
                picture = picture.convert("RGBA" if "A" in picture.getbands() or picture.mode == "P" else "RGB")
            return np.asarray(picture)
    except Image.DecompressionBombError:
        raise TooManyPixelsError(path, _header_size(path), limit) from None


def _header_size(path):
    """The (width, height) an image's header declares, read again without Pillow's bomb check (nothing is decoded),
    for the message; None if it cannot be read."""
    try:
        picture, _ = _open(path, None)
        with picture:
            return picture.size
    except Exception:  # only the message's detail is lost
        return None


# Pillow reads its bomb limit from a global (Image.MAX_IMAGE_PIXELS) when a file is opened. It is set to ours and put
# back around the opening only (the header is read there; decoding needs no limit), under a lock: threads that decode
# in parallel (a tf.data pipeline) would otherwise put back each other's value and leave the global changed.
_PILLOW_LIMIT = threading.Lock()


def _open(path, limit):
    """
    Image.open with Pillow's own bomb check at `limit` (None: no check).

    Returns:
    picture -- the opened PIL image (not yet decoded)
    bomb -- whether Pillow warned that it declares more than `limit` pixels (past twice the limit it raises
            DecompressionBombError instead)
    """
    with _PILLOW_LIMIT, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, limit
        try:
            picture = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    return picture, any(issubclass(item.category, Image.DecompressionBombWarning) for item in caught)


def declared_size(path: str, limit: int) -> tuple[int, int]:
    """
    The size an image file declares in its header, refused past the pixel limit; nothing is decoded.

    Arguments:
    path -- the image file
    limit -- the largest width x height it may declare

    Returns:
    size -- (width, height); ImageError when too large or not an image Pillow can open
    """
    try:
        picture, _ = _open(path, None)  # the check below is ours, at our limit
        with picture:
            size = picture.size
    except OSError as error:  # UnidentifiedImageError is one, as is a file cut inside its header
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ImageError(f"{path}: not a readable image ({reason})") from None
    _check_pixels(path, size, limit)
    return size


def _decode_with_imageio(path, limit):
    """What Pillow cannot open (e.g. float RGB TIFF), through imageio's other readers: size first, then pixels."""
    with warnings.catch_warnings():
        # imageio tries every plugin on an unknown file; their deprecation notices are noise to a user.
        warnings.simplefilter("ignore", DeprecationWarning)
        shape = iio.improps(path, index=0).shape
        if len(shape) >= 2:
            _check_pixels(path, (shape[1], shape[0]), limit)
        return iio.imread(path, index=0)


def _check_pixels(path, size, allowed, limit=None):
    width, height = size
    if width * height > allowed:
        raise TooManyPixelsError(path, size, allowed if limit is None else limit)


def _to_rgb_uint8_range(image, background=255):
    """Any decoded image (grey, grey+alpha, RGB, RGBA; 8/16-bit, float, bool) as float32 RGB in [0, 255], its
    transparent pixels composited over the grey level `background`."""
    if image.dtype == np.bool_:
        image = image.astype(np.float32) * 255
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / 257
    elif np.issubdtype(image.dtype, np.floating):
        image = np.clip(image.astype(np.float32), 0, 1) * 255
    image = image.astype(np.float32)
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[-1]
    alpha = None
    if channels in (2, 4):
        image, alpha = image[..., :-1], image[..., -1:] / 255
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    if alpha is not None:
        # Transparent pixels carry arbitrary colours; show them over white, as viewers do (a mask: over black).
        image = image * alpha + background * (1 - alpha)
    return image


def read_image(path: str | os.PathLike, limit: int, background: float = 255) -> np.ndarray:
    """
    Reads an image file at its own size as an RGB float32 array in [0, 255] (images.load_image resizes it too).

    Arguments:
    path -- path of an image file
    limit -- the largest width x height it may declare (refused from the header, before decoding)
    background -- the grey level that transparent pixels are composited over (255: white, as viewers show them)

    Returns:
    image -- numpy array (height, width, 3), float32 in [0, 255]; FileNotFoundError or ImageError (one line) otherwise
    """
    path = os.fspath(check_image_file(path))
    try:
        image = decode_image(path, limit)
    except ImageError:
        raise
    except Exception as error:  # the decoders raise many kinds (OSError, ValueError, PIL errors) for a bad file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "Could not find a backend" in reason:
            # imageio's own advice (install pyav or opencv) is wrong for a file that is simply not an image.
            reason = "no image reader recognises its contents"
        message = f"{path}: not a readable image ({reason}); give a JPEG, PNG, BMP, GIF, TIFF or WebP file"
        raise ImageError(message) from None
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ImageError(f"{path}: not a 2-D image (array of shape {image.shape})")
    if np.issubdtype(image.dtype, np.floating) and not np.all(np.isfinite(image)):
        raise ImageError(f"{path}: holds NaN or infinite pixels; save it again without them (or as 8/16-bit)")
    return np.clip(_to_rgb_uint8_range(image, background), 0, 255)


def write_image(path: str | os.PathLike, pixels: np.ndarray) -> str | os.PathLike:
    """
    Writes 8-bit RGB pixels (or 16-bit, uint16, into .png or .tif) atomically: a temporary file, then a rename.

    A crash or Ctrl-C while writing never leaves half an image; missing folders are created.

    Arguments:
    path -- destination; its extension picks the format (.jpg, .png, ...)
    pixels -- uint8 array of shape (n_H, n_W, 3), or uint16 for a .png or .tif

    Returns:
    path -- the path written
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1] or ".png"
    with atomic_write(path, suffix=extension) as temporary:
        if np.asarray(pixels).dtype == np.uint16 and extension.lower() == ".png":
            _write_png16(temporary, pixels)
        else:
            iio.imwrite(temporary, pixels, extension=extension)
    return path


def _write_png16(path: str, pixels: np.ndarray) -> None:
    """A 16-bit RGB PNG (Pillow writes only 8-bit RGB PNGs; OpenCV writes 16, in BGR order), at `path` as given."""
    import cv2

    if not cv2.imwrite(path, np.ascontiguousarray(np.asarray(pixels)[..., ::-1])):
        raise ImageError(f"could not write {path} as a 16-bit PNG")
