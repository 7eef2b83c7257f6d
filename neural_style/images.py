"""Images in and out: reading, resizing, mean subtraction, the noisy starting image, and saving.

The network sees a batch of one RGB image with the mean pixel subtracted (``reshape_and_normalize_image``);
``save_image`` undoes that. ``clip_0_1`` and ``tensor_to_image`` are the TF2 course's helpers for images in [0, 1].
"""

import os
import tempfile
import warnings

import imageio.v3 as iio
import numpy as np
import tensorflow as tf

from .config import CONFIG


class ImageError(ValueError):
    """A file that cannot be read as an image."""


def _to_rgb_uint8_range(image):
    """Any decoded image (grey, grey+alpha, RGB, RGBA; 8/16-bit, float, bool) as float32 RGB in [0, 255]."""
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
        # Transparent pixels carry arbitrary colours; show them over white, as viewers do.
        image = image * alpha + 255 * (1 - alpha)
    return image


def load_image(path, height=None, width=None, max_size=None):
    """
    Reads an image file as an RGB float32 array in [0, 255], resized if asked.

    Grayscale, RGBA (composited over white), palette and 16-bit images are converted to 8-bit-range RGB; only the
    first frame of an animation is read.

    Arguments:
    path -- path of an image file (anything imageio reads: JPEG, PNG, GIF, BMP, TIFF, WebP ...)
    height, width -- size to resize to (tf.image.resize, bilinear with antialiasing); None keeps the file's size
                     or, when only one is given, the aspect ratio
    max_size -- if given instead, the longest side becomes max_size and the aspect ratio is kept

    Returns:
    image -- numpy array of shape (height, width, 3), float32 in [0, 255]
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with warnings.catch_warnings():
            # imageio tries every plugin on an unknown file; their deprecation notices are noise to a user.
            warnings.simplefilter("ignore")
            image = iio.imread(path, index=0)
    except Exception as error:  # imageio raises many kinds (OSError, ValueError, PIL errors) for a bad file
        raise ImageError(f"{path}: not a readable image ({type(error).__name__}: {error})") from None
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ImageError(f"{path}: not a 2-D image (array of shape {image.shape})")
    image = _to_rgb_uint8_range(image)
    size = target_size(image.shape[0], image.shape[1], height, width, max_size)
    if size != image.shape[:2]:
        image = tf.image.resize(image, size, method="bilinear", antialias=True).numpy()
    return np.clip(image, 0, 255)


def target_size(image_height, image_width, height=None, width=None, max_size=None):
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


def reshape_and_normalize_image(image):
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


def pixel_bounds():
    """
    The range of valid pixels in the network's (mean-subtracted) space, per channel.

    Returns:
    low, high -- float32 arrays of shape (1, 1, 1, 3): 0 - MEANS and 255 - MEANS
    """
    return (0 - CONFIG.MEANS).astype(np.float32), (255 - CONFIG.MEANS).astype(np.float32)


def generate_noise_image(content_image, noise_ratio=CONFIG.NOISE_RATIO, seed=None):
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


def image_to_uint8(image):
    """
    Undoes reshape_and_normalize_image: adds the mean pixel back and clips to 8-bit RGB.

    Arguments:
    image -- array or tensor of shape (1, n_H, n_W, 3) or (n_H, n_W, 3), mean-subtracted

    Returns:
    image -- uint8 array of shape (n_H, n_W, 3)
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 4:
        image = image[0]
    return np.clip(np.rint(image + CONFIG.MEANS[0, 0]), 0, 255).astype(np.uint8)


def write_image(path, pixels):
    """
    Writes 8-bit RGB pixels atomically: into a temporary file beside `path`, then renamed over it.

    A crash or Ctrl-C while writing never leaves half an image; missing folders are created.

    Arguments:
    path -- destination; its extension picks the format (.jpg, .png, ...)
    pixels -- uint8 array of shape (n_H, n_W, 3)

    Returns:
    path -- the path written
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    extension = os.path.splitext(path)[1] or ".png"
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=extension, dir=folder)
    os.close(handle)
    try:
        iio.imwrite(temporary, pixels, extension=extension)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def save_image(path, image):
    """
    Saves a generated image: adds the mean pixel back, clips to [0, 255], converts to uint8 and writes image[0].

    Arguments:
    path -- destination file (folders are created; written atomically)
    image -- array or tensor of shape (1, n_H, n_W, 3), mean-subtracted as the network sees it

    Returns:
    path -- the path written
    """
    return write_image(path, image_to_uint8(image))


def clip_0_1(image):
    """
    Truncate all the pixels in the tensor to be between 0 and 1 (the TF2 course's helper).

    Arguments:
    image -- Tensor

    Returns:
    Tensor
    """
    return tf.clip_by_value(image, clip_value_min=0.0, clip_value_max=1.0)


def tensor_to_image(tensor):
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
