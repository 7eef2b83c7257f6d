"""Images are refused from their header when too large, CMYK and EXIF orientation are honoured,
non-finite float pixels are one line."""

import resource

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from neural_style.images import ImageError, load_image
from neural_style.limits import MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_ENV
from tests.hostile import png_declaring


def test_a_huge_declared_image_is_refused_before_decoding(tmp_path):
    # Before: a 12000x12000 PNG of a few hundred KB was decoded in full (5.5 GB) for a 64-px output.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(12000, 12000))
    assert path.stat().st_size < 20_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError, match=f"more than the {MAX_IMAGE_PIXELS:,} pixels an input image may have") as error:
        load_image(path, max_size=64)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing near 144 MB decoded


def test_the_limit_is_settable_by_parameter_and_environment(tmp_path, monkeypatch):
    path = tmp_path / "small.png"
    iio.imwrite(path, np.full((30, 40, 3), 9, np.uint8))
    with pytest.raises(ImageError, match=r"small.png is 40x30 \(1,200 pixels\): more than the 1,000 pixels"):
        load_image(path, max_pixels=1000)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "1199")
    with pytest.raises(ImageError, match="more than the 1,199 pixels"):
        load_image(path)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "1200")
    np.testing.assert_array_equal(load_image(path), np.full((30, 40, 3), 9.0))


def test_pillow_bomb_warning_becomes_our_error_not_silence(tmp_path):
    # Declared 10000x10000 against a limit of 40 million: past twice the limit, Pillow's own check fires at open.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(10000, 10000))
    with pytest.raises(ImageError, match="more than the 40,000,000 pixels"):
        load_image(path, max_pixels=40_000_000)
    assert Image.MAX_IMAGE_PIXELS == 89478485  # Pillow's own default is left as it was


def test_threads_decoding_at_once_leave_pillows_limit_as_it_was(tmp_path):
    # Pillow's bomb limit is a global that each decode sets to its own limit and puts back: threads that decode at
    # once (a tf.data pipeline) once left it at one of their values, which a later check in the process then used.
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "small.png"
    iio.imwrite(path, np.zeros((8, 8, 3), np.uint8))
    before = Image.MAX_IMAGE_PIXELS
    with ThreadPoolExecutor(8) as pool:
        shapes = list(pool.map(lambda limit: load_image(path, max_pixels=limit).shape, range(1000, 5000)))
    assert shapes == [(8, 8, 3)] * 4000
    assert Image.MAX_IMAGE_PIXELS == before


def test_cmyk_jpeg_is_converted_not_read_as_alpha(tmp_path):
    # Before: a CMYK JPEG loaded all white (K read as alpha). C=0, M=255, Y=255, K=0 is red.
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(path, quality=100)
    np.testing.assert_allclose(load_image(path), np.broadcast_to([255.0, 0.0, 0.0], (8, 16, 3)), atol=3)


@pytest.mark.parametrize("orientation, rotate", [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation_is_applied(tmp_path, orientation, rotate):
    # Before: portrait photos came out sideways. 6: rotate 90 clockwise to view; 8: 90 anticlockwise; 3: 180.
    pixels = np.random.default_rng(orientation).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    picture = Image.fromarray(pixels)
    exif = picture.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    picture.save(path, exif=exif)
    np.testing.assert_array_equal(load_image(path), np.rot90(pixels, k=rotate).astype(np.float32))


def test_nan_pixels_in_a_float_tiff_are_one_line(tmp_path):
    pixels = np.full((4, 5, 3), 0.5, np.float32)
    pixels[1, 2, 0] = np.nan
    path = tmp_path / "nan.tif"
    iio.imwrite(path, pixels)
    with pytest.raises(ImageError, match=r"nan.tif: holds NaN or infinite pixels"):
        load_image(path)
    pixels[1, 2, 0] = 0.25
    iio.imwrite(path, pixels)
    assert load_image(path)[1, 2, 0] == pytest.approx(0.25 * 255)


def test_a_truncated_png_is_one_line(tmp_path):
    path = tmp_path / "cut.png"
    iio.imwrite(path, np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ImageError, match="cut.png: not a readable image"):
        load_image(path)


@pytest.mark.parametrize("width, height", [(30, 20), (300, 200)])  # over the limit; over twice it (Pillow's own error)
def test_too_many_pixels_names_the_declared_size_and_pickles(tmp_path, width, height):
    import pickle

    from neural_style.image_files import TooManyPixelsError, read_image

    path = tmp_path / "big.png"
    path.write_bytes(png_declaring(width, height))
    with pytest.raises(TooManyPixelsError) as caught:
        read_image(path, 500)
    assert (caught.value.size, caught.value.limit) == ((width, height), 500)
    assert f"is {width}x{height} ({width * height:,} pixels): more than the 500 pixels" in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (str(again), again.size, again.limit) == (str(caught.value), (width, height), 500)
