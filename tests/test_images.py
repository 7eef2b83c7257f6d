import os
import re

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from neural_style import (
    CONFIG,
    ImageError,
    clip_0_1,
    config,
    generate_noise_image,
    images,
    load_image,
    reshape_and_normalize_image,
    save_image,
    tensor_to_image,
)
from neural_style.images import target_size
from neural_style.options import OptionError
from tests import reference

MEANS = np.array([123.68, 116.779, 103.939])


def rgb(height=6, width=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_config_is_the_courses():
    assert (CONFIG.IMAGE_WIDTH, CONFIG.IMAGE_HEIGHT, CONFIG.COLOR_CHANNELS, CONFIG.NOISE_RATIO) == (400, 300, 3, 0.6)
    assert CONFIG.MEANS.shape == (1, 1, 1, 3)
    np.testing.assert_array_equal(CONFIG.MEANS.ravel(), MEANS)
    assert CONFIG.VGG_MODEL == "pretrained-model/imagenet-vgg-verydeep-19.mat"
    assert CONFIG.OUTPUT_DIR == "output/"


def test_reshape_and_normalize_image():
    image = rgb()
    normalized = reshape_and_normalize_image(image)
    assert normalized.shape == (1, 6, 8, 3) and normalized.dtype == np.float32
    np.testing.assert_allclose(normalized[0], image - MEANS, rtol=1e-6)


def test_generate_noise_image_is_the_articles_mixture():
    content = reshape_and_normalize_image(rgb(seed=1))
    noisy = generate_noise_image(content, noise_ratio=0.6, seed=7)
    noise = np.random.default_rng(7).uniform(-20, 20, content.shape).astype(np.float32)
    np.testing.assert_allclose(noisy, noise * 0.6 + content * 0.4, rtol=1e-5, atol=1e-4)
    assert noisy.dtype == np.float32
    np.testing.assert_array_equal(noisy, generate_noise_image(content, seed=7))  # same seed, same image
    assert not np.array_equal(noisy, generate_noise_image(content, seed=8))
    # Without a seed it draws from numpy's global generator, as the course does.
    np.random.seed(0)
    first = generate_noise_image(content)
    np.random.seed(0)
    np.testing.assert_array_equal(first, generate_noise_image(content))
    np.testing.assert_allclose(np.abs(generate_noise_image(content, noise_ratio=1.0)).max(), 20, rtol=0.05)


def test_save_image_round_trip_png(tmp_path):
    image = rgb(seed=2)
    path = tmp_path / "out" / "nested" / "0.png"  # folders are created
    save_image(str(path), reshape_and_normalize_image(image))
    np.testing.assert_array_equal(iio.imread(path), image)
    assert os.listdir(path.parent) == ["0.png"]  # no temporary file left


def test_save_image_clips(tmp_path):
    image = np.zeros((1, 2, 2, 3), np.float32)
    image[0, 0, 0] = 500
    image[0, 1, 1] = -500
    save_image(tmp_path / "c.png", image)
    written = iio.imread(tmp_path / "c.png")
    np.testing.assert_array_equal(written[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(written[1, 1], [0, 0, 0])
    np.testing.assert_array_equal(written[0, 1], np.rint(MEANS).astype(np.uint8))


def test_save_image_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    iio.imwrite(path, rgb(seed=3))
    before = path.read_bytes()

    def broken_write(uri, *args, **kwargs):
        with open(uri, "wb") as f:
            f.write(b"half an ima")
        raise OSError("disk full")

    monkeypatch.setattr(iio, "imwrite", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save_image(path, reshape_and_normalize_image(rgb(seed=4)))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.png"]


def test_save_image_jpeg(tmp_path):
    image = np.full((8, 8, 3), 128, np.uint8)
    save_image(tmp_path / "generated_image.jpg", reshape_and_normalize_image(image))
    assert np.abs(iio.imread(tmp_path / "generated_image.jpg").astype(int) - 128).max() <= 2


def test_load_image_rgb_exact_without_resize(tmp_path):
    image = rgb(seed=5)
    iio.imwrite(tmp_path / "a.png", image)
    loaded = load_image(tmp_path / "a.png")
    assert loaded.dtype == np.float32 and loaded.shape == (6, 8, 3)
    np.testing.assert_array_equal(loaded, image)


def test_load_image_converts_grey_rgba_palette_and_16_bit(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8)
    iio.imwrite(tmp_path / "grey.png", grey)
    np.testing.assert_array_equal(load_image(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, -1))

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = [10, 20, 30, 255]  # opaque
    rgba[1, 1] = [10, 20, 30, 0]  # transparent: white
    iio.imwrite(tmp_path / "rgba.png", rgba)
    loaded = load_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(loaded[0, 0], [10, 20, 30])
    np.testing.assert_array_equal(loaded[1, 1], [255, 255, 255])

    palette = Image.new("P", (3, 2))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((1, 1), 1)
    palette.save(tmp_path / "palette.gif")
    loaded = load_image(tmp_path / "palette.gif")
    np.testing.assert_array_equal(loaded[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(loaded[1, 1], [0, 0, 255])

    deep = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_allclose(load_image(tmp_path / "deep.png")[..., 0], deep / 257, rtol=1e-5)


def test_load_image_resizes(tmp_path):
    iio.imwrite(tmp_path / "big.png", rgb(60, 80, seed=6))
    assert load_image(tmp_path / "big.png", 30, 40).shape == (30, 40, 3)
    assert load_image(tmp_path / "big.png", max_size=20).shape == (15, 20, 3)
    assert load_image(tmp_path / "big.png", height=12).shape == (12, 16, 3)
    # A uniform image stays uniform through resizing.
    iio.imwrite(tmp_path / "flat.png", np.full((60, 80, 3), 77, np.uint8))
    np.testing.assert_allclose(load_image(tmp_path / "flat.png", 300, 400), 77, atol=1e-3)


def test_target_size():
    assert target_size(300, 400) == (300, 400)
    assert target_size(300, 400, max_size=512) == (384, 512)
    assert target_size(1000, 500, max_size=100) == (100, 50)
    assert target_size(300, 400, width=200) == (150, 200)
    assert target_size(300, 400, 10, 20) == (10, 20)


def test_load_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image not found: .*missing.jpg"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "text.jpg").write_text("not a picture")
    with pytest.raises(ImageError, match="text.jpg: not a readable image"):
        load_image(tmp_path / "text.jpg")


def test_clip_0_1_and_tensor_to_image():
    tensor = tf.constant([[[[-0.5, 0.25, 1.5]]]])
    np.testing.assert_array_equal(clip_0_1(tensor).numpy(), [[[[0.0, 0.25, 1.0]]]])
    image = tensor_to_image(clip_0_1(tf.fill((1, 2, 3, 3), 0.5)))
    assert isinstance(image, Image.Image) and image.size == (3, 2)
    np.testing.assert_array_equal(np.asarray(image), np.full((2, 3, 3), 127))


# --- beyond the course: the [0, 1] image range, colour preservation and colour matching


def test_unit_range_round_trip_and_bounds():
    from neural_style.images import image_to_uint8, normalize_image, pixel_bounds

    image = rgb(5, 7, seed=3)
    unit = normalize_image(image, "unit")
    assert unit.shape == (1, 5, 7, 3) and unit.dtype == np.float32
    np.testing.assert_allclose(unit[0], image / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(image_to_uint8(unit, "unit"), image)
    np.testing.assert_allclose(normalize_image(image, "mean"), reshape_and_normalize_image(image))
    np.testing.assert_array_equal(image_to_uint8(normalize_image(image, "mean")), image)
    low, high = pixel_bounds("unit")
    assert low.shape == high.shape == (1, 1, 1, 3) and low.max() == 0 and high.min() == 1
    low, high = pixel_bounds()
    np.testing.assert_allclose(low.ravel(), -MEANS, rtol=1e-6)
    np.testing.assert_allclose(high.ravel(), 255 - MEANS, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown image range"):
        pixel_bounds("0-255")


def test_generate_unit_noise_image_is_the_tf2_courses():
    from neural_style.images import generate_unit_noise_image

    content = np.random.default_rng(0).uniform(0, 1, (1, 30, 40, 3)).astype(np.float32)
    image = generate_unit_noise_image(content, seed=5)
    assert image.dtype == np.float32 and image.min() >= 0 and image.max() <= 1
    expected = np.clip(content + np.random.default_rng(5).uniform(-0.25, 0.25, content.shape), 0, 1)
    np.testing.assert_allclose(image, expected, atol=1e-6)
    inside = (expected > 0) & (expected < 1)
    assert np.abs(image - content)[inside].max() > 0.2  # the noise spans most of +-0.25


def test_preserve_colors_keeps_the_contents_chrominance():
    from neural_style.images import preserve_colors

    rng = np.random.default_rng(1)
    # Mid-range images with modest colour, so that nothing is clipped when recombined.
    content = 128 + rng.uniform(-30, 30, (12, 16, 1)) + rng.uniform(-15, 15, (12, 16, 3))
    generated = 128 + rng.uniform(-50, 50, (12, 16, 1)) + rng.uniform(-20, 20, (12, 16, 3))
    result = preserve_colors(generated, content)
    assert result.shape == content.shape and result.dtype == np.float32
    assert 0 < result.min() and result.max() < 255
    np.testing.assert_allclose(
        reference.yiq(result)[..., 1:], reference.yiq(content)[..., 1:], atol=0.3
    )  # the content's I and Q
    np.testing.assert_allclose(
        reference.yiq(result)[..., 0], reference.yiq(generated)[..., 0], atol=0.3
    )  # the generated Y
    assert (
        np.abs(reference.yiq(generated)[..., 1:] - reference.yiq(content)[..., 1:]).max() > 10
    )  # which differed before
    # A grey generated image takes on the photo's colours.
    grey = np.repeat(generated[..., :1], 3, axis=-1)
    assert np.abs(np.diff(preserve_colors(grey, content), axis=-1)).max() > 5


def test_match_color_gives_the_style_the_contents_mean_and_covariance():
    from neural_style.images import match_color

    rng = np.random.default_rng(2)
    # A bluish, low-contrast style and a reddish, contrasted content with correlated channels.
    noise = rng.random((3, 20, 24))
    style = np.stack([40 + 20 * noise[0], 60 + 30 * noise[1], 150 + 40 * noise[2]], -1)
    base = rng.random((16, 18, 1))
    content = np.concatenate([100 + 120 * base, 60 + 80 * base, 40 + 30 * rng.random((16, 18, 1))], -1)
    matched = match_color(style, content, clip=False)
    assert matched.shape == style.shape
    flat = lambda image: np.float64(image).reshape(-1, 3)  # noqa: E731
    np.testing.assert_allclose(flat(matched).mean(0), flat(content).mean(0), atol=1e-3)
    np.testing.assert_allclose(
        np.cov(flat(matched), rowvar=False, bias=True),
        np.cov(flat(content), rowvar=False, bias=True),
        rtol=1e-4,
        atol=1e-2,
    )
    # An affine map of each pixel's colour (the style's texture kept): a least-squares affine fit leaves nothing.
    design = np.hstack([flat(style), np.ones((flat(style).shape[0], 1))])
    _, residual, _, _ = np.linalg.lstsq(design, flat(matched), rcond=None)
    assert residual.max() < 1e-3 * len(design)
    clipped = match_color(style, content)
    assert clipped.min() >= 0 and clipped.max() <= 255


def test_written_images_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        save_image(tmp_path / "shared.png", reshape_and_normalize_image(rgb(seed=9)))
    finally:
        os.umask(mask)
    assert (tmp_path / "shared.png").stat().st_mode & 0o777 == 0o644


def test_default_size_is_the_articles_and_follows_config(monkeypatch):
    assert config.default_size() == (300, 400) and config.default_size_text() == "300x400"
    monkeypatch.setattr(CONFIG, "IMAGE_HEIGHT", 30)
    assert config.default_size() == (30, 400)
    assert images.load_pixels(np.zeros((8, 8, 3))).shape == (30, 400, 3)


def test_load_pixels_reads_a_path_as_load_image_does(tmp_path):
    pixels = rgb(12, 16)
    iio.imwrite(tmp_path / "a.png", pixels)
    default = images.load_pixels(tmp_path / "a.png")
    assert default.shape == (300, 400, 3) and default.dtype == np.float32
    # A size, a height alone (aspect ratio kept) and a longest side give load_image's own numbers.
    np.testing.assert_array_equal(images.load_pixels(tmp_path / "a.png", (6, 8)), load_image(tmp_path / "a.png", 6, 8))
    np.testing.assert_array_equal(
        images.load_pixels(str(tmp_path / "a.png"), height=6), load_image(tmp_path / "a.png", 6)
    )
    assert images.load_pixels(tmp_path / "a.png", max_size=8).shape == (6, 8, 3)
    # At its own size the file comes back exactly.
    np.testing.assert_array_equal(images.load_pixels(tmp_path / "a.png", (12, 16)), pixels)


def test_load_pixels_takes_arrays_and_clips_them():
    pixels = rgb(6, 8).astype(np.float64)
    same = images.load_pixels(pixels[None], (6, 8))  # a batch of one is taken as its image
    assert same.dtype == np.float32
    np.testing.assert_array_equal(same, pixels)
    flat = images.load_pixels(np.full((6, 8, 3), 70.0), width=4)  # a constant image stays constant when resized
    assert flat.shape == (3, 4, 3)
    np.testing.assert_allclose(flat, 70.0, rtol=1e-6)
    np.testing.assert_array_equal(images.load_pixels(np.array([[[-5.0, 100.0, 300.0]]]), (1, 1)), [[[0, 100, 255]]])


def test_load_pixels_names_the_image_in_its_errors(tmp_path):
    with pytest.raises(
        OptionError, match=r"^style must be an image path or an \(H, W, 3\) RGB array, got shape \(4, 4\)$"
    ):
        images.load_pixels(np.zeros((4, 4)), what="style")
    with pytest.raises(OptionError, match=r"^an image must be"):
        images.load_pixels(np.zeros((4, 4, 4)))
    missing = tmp_path / "absent.jpg"
    with pytest.raises(FileNotFoundError, match=f"^content: image not found: {re.escape(str(missing))}$"):
        images.load_pixels(missing, what="content")
    with pytest.raises(FileNotFoundError, match=f"^image not found: {re.escape(str(missing))}$"):
        images.load_pixels(missing)
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(ImageError, match="^--init image: .*text.jpg: not a readable image"):
        images.load_pixels(tmp_path / "text.jpg", what="--init image")
