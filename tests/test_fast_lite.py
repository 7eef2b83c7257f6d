"""The LiteRT route (fast/lite.py, the bundled networks' .tflite files and the apply command's choice of route):
the same pictures as the Keras network within one grey level where the route is taken, the Keras route where its
files do not give them, and no TensorFlow imported by an apply that LiteRT paints."""

import json
import os
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from neural_style.checks import OptionError
from neural_style.cli import networks
from neural_style.fast import arbitrary, bundled, lite
from neural_style.fast.apply import stylize_picture
from neural_style.fast.export import convert_bundled
from neural_style.image_files import read_image

DEMO = Path(__file__).resolve().parent.parent / "neural_style" / "demo"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A models folder holding the bundled networks' converted files (converted once for the module)."""
    folder = tmp_path_factory.mktemp("models")
    checks = {name: convert_bundled(name, folder) for name in bundled.BUNDLED}
    return folder, checks


@pytest.fixture(scope="module")
def photo():
    return read_image(DEMO / "tubingen.jpg", 10**8)


def _uint8(pixels):
    return np.rint(np.clip(pixels, 0, 255)).astype(np.int32)


@pytest.mark.parametrize("height, width", [(3, 5), (37, 53), (120, 160), (300, 400)])
@pytest.mark.parametrize("choice", ["index", "mixture"])
def test_26_styles_equal_keras_within_one_grey_level(models, photo, height, width, choice):
    folder, checks = models
    assert checks[bundled.STYLES26]["exact"]
    network = bundled.load_bundled(bundled.STYLES26)
    pixels = photo[:height, :width]
    eye = np.eye(26, dtype=np.float32)
    weights = eye[7] if choice == "index" else (0.5 * eye[2] + 0.3 * eye[11] + 0.2 * eye[24])
    keras_result = stylize_picture(network.transform, pixels, style_weights=weights)
    path = bundled.lite_files(bundled.STYLES26, folder)["transform"]
    lite_result = lite.run_transform(path, pixels, weights, network.transform.layout.min_side)
    assert lite_result.shape == (height, width, 3)
    # The same float32 arithmetic in TFLite's kernels, summed in another order: far below one grey level.
    assert np.abs(_uint8(lite_result) - _uint8(keras_result)).max() <= 1


def _paintings():
    """The paintings the arbitrary network's tests use: the demo's, a photograph as a painting, a synthetic one."""
    from tests.fixtures import smooth_photo

    return {
        "starry_night": read_image(DEMO / "starry_night.jpg", 10**8),
        "tubingen": read_image(DEMO / "tubingen.jpg", 10**8)[::-1],
        "smooth": np.rint(smooth_photo(180, 240, seed=11)),
    }


@pytest.fixture(scope="module")
def arbitrary_network():
    return bundled.load_bundled(bundled.ARBITRARY)


def test_the_check_finds_the_arbitrary_network_exact(models):
    """Its .tflite files give the Keras network's pictures bit for bit at the check's sizes (fractional pixels)."""
    _, checks = models
    check = checks[bundled.ARBITRARY]
    assert check["exact"] and check["max_difference"] == 0
    network = bundled.load_bundled(bundled.ARBITRARY)
    assert check["rounding"] == {point: network.transform.quantization[point] for point in ("input", "style")}


@pytest.mark.parametrize(
    "height, width, resized, painting",
    [
        (33, 47, False, "starry_night"),
        (37, 53, True, "smooth"),
        (61, 83, True, "tubingen"),
        (150, 200, True, "starry_night"),
        (300, 400, False, "smooth"),
        (301, 399, True, "starry_night"),
    ],
)
def test_arbitrary_network_equals_keras(models, photo, arbitrary_network, height, width, resized, painting):
    """The whole route (the .tflite predictor's style vector, then the .tflite transformer) against the Keras network,
    odd and even sizes, crops (whole grey levels) and resized pictures (fractional ones, ties included): the same
    integer arithmetic, so the same pixels (measured: identical), within one grey level as the route promises."""
    import tensorflow as tf

    folder, checks = models
    files = bundled.lite_files(bundled.ARBITRARY, folder)
    style = _paintings()[painting]
    pixels = tf.image.resize(photo, (height, width), antialias=True).numpy() if resized else photo[:height, :width]
    keras_vector = arbitrary.style_vector(arbitrary_network.predictor, style)
    lite_vector = lite.run_predictor(files["predictor"], style)
    np.testing.assert_array_equal(lite_vector, keras_vector)
    keras_result = stylize_picture(arbitrary_network.transform, pixels, style_weights=keras_vector)
    min_side = arbitrary_network.transform.layout.min_side
    rounding = checks[bundled.ARBITRARY]["rounding"]
    lite_result = lite.run_transform(files["transform"], pixels, lite_vector, min_side, rounding)
    assert lite_result.shape == (height, width, 3)
    assert np.abs(_uint8(lite_result) - _uint8(keras_result)).max() <= 1


@pytest.mark.parametrize("height, width", [(96, 128), (150, 200), (5, 7)])
def test_a_channel_of_zero_variance_agrees_with_keras(models, photo, arbitrary_network, height, width):
    """Crops with a channel of zero variance: XNNPACK's rsqrt of 0 is NaN (these crops' pictures are then not finite)
    where TensorFlow's is infinity, which the network's next rounding clips to its top level; given the file,
    run_transform then runs LiteRT's own kernels, whose rsqrt is infinity too: the Keras picture."""
    folder, checks = models
    files = bundled.lite_files(bundled.ARBITRARY, folder)
    vector = arbitrary.style_vector(arbitrary_network.predictor, _paintings()["starry_night"])
    pixels = photo[:height, :width]
    keras_result = stylize_picture(arbitrary_network.transform, pixels, style_weights=vector)
    assert np.all(np.isfinite(keras_result))
    rounding, min_side = checks[bundled.ARBITRARY]["rounding"], arbitrary_network.transform.layout.min_side
    for model in (lite.interpreter(files["transform"]), files["transform"]):
        try:
            lite_result = lite.run_transform(model, pixels, vector, min_side, rounding)
        except lite.NonFiniteOutputError:
            assert not isinstance(model, Path), "LiteRT's own kernels gave NaN too"
            continue
        assert np.abs(_uint8(lite_result) - _uint8(keras_result)).max() <= 1


def test_predictor_equals_keras_bit_for_bit(models, arbitrary_network):
    """The predictor's .tflite gives Keras' style vector exactly: its convolutions sum the file's integers (exact in
    float32), its mean is the levels' exact sum, and each quotient by a constant is the product TFLite makes of it."""
    folder, _ = models
    path = bundled.lite_files(bundled.ARBITRARY, folder)["predictor"]
    for painting in _paintings().values():
        for size in (256, 320, 77):
            ours = arbitrary.style_vector(arbitrary_network.predictor, painting, size)
            theirs = lite.run_predictor(path, painting, size)
            assert theirs.shape == (100,)
            np.testing.assert_array_equal(theirs, ours)


def test_keras_rounding_is_the_networks():
    """lite.keras_rounding gives the values the Keras network rounds its inputs to (quantize.fake_quantize of the
    pixels / 255, true quotients), at ties too, and whole levels that any product form rounds alike."""
    import tensorflow as tf

    from neural_style.fast.quantize import fake_quantize

    rng = np.random.default_rng(4)
    # Fractional pixels, with the ties a resize makes (x.5) and the ends.
    pixels = np.concatenate([rng.uniform(0, 255, 5000), np.arange(0, 255, 0.5), [0, 255]]).astype(np.float32)
    point = (0.003921568859368563, -128)
    keras_values = fake_quantize(tf.constant(pixels) / 255.0, *point).numpy()
    np.testing.assert_array_equal(lite.keras_rounding(pixels / np.float32(255), point), keras_values)
    np.testing.assert_array_equal(lite.keras_rounding(pixels, point, 255), keras_values * np.float32(255))
    levels = lite.keras_rounding(pixels, point, 255) * np.float32(1 / (255 * point[0]))
    # Whole levels, so a product with another rounding of the reciprocal gives them too.
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
    style = rng.normal(0, 2, 100).astype(np.float32)
    style_point = (0.022740744054317474, -3)
    np.testing.assert_array_equal(lite.keras_rounding(style, style_point), fake_quantize(style, *style_point).numpy())


def test_square_as_the_arbitrary_module(photo):
    # lite's square is Pillow's Lanczos without TensorFlow's image module: the same pixels.
    np.testing.assert_array_equal(lite.square(photo, 64), arbitrary.square(photo, 64))


def _args(**given):
    values = dict(
        content=str(DEMO / "tubingen.jpg"),
        output="out.jpg",
        model=None,
        style_image=None,
        strength=1.0,
        style_size=256,
        style_index=None,
        mix=None,
        style_masks=None,
        preserve_colors=False,
        tile_size=0,
        max_memory=None,
        quiet=False,
        json=False,
    )
    values.update(given)
    return Namespace(**values)


@pytest.mark.parametrize(
    "given",
    [
        {"tile_size": 128},
        {"preserve_colors": True},
        {"style_masks": ["a.png"] * 26},
        {"max_memory": 0.2},  # below what the whole picture takes in LiteRT
        {"content": str(DEMO)},  # a folder
    ],
)
def test_keras_route_where_litert_cannot_paint(models, given, monkeypatch):
    folder, _ = models
    monkeypatch.setenv(bundled.MODELS_VARIABLE, str(folder))
    assert networks.lite_route(_args(**given), "bundled", bundled.STYLES26) is None
    assert networks.lite_route(_args(), "file", "x.keras") is None
    assert networks.lite_route(_args(), "bundled", bundled.STYLES26) is not None


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"strength": 0.5},
        {"style_size": 320},
        {"style_image": [str(DEMO / "starry_night.jpg"), str(DEMO / "tubingen.jpg")], "mix": "0.7,0.3"},
    ],
)
def test_any_painting_takes_the_litert_route(models, given, monkeypatch):
    folder, _ = models
    monkeypatch.setenv(bundled.MODELS_VARIABLE, str(folder))
    args = _args(**{"style_image": [str(DEMO / "starry_night.jpg")], **given})
    route = networks.lite_route(args, "bundled", bundled.ARBITRARY)
    assert route is not None and "predictor" in route["files"]
    assert route["choice"]["strength"] == given.get("strength", 1.0)
    assert route["choice"]["style_size"] == given.get("style_size", 256)
    # Masks and kept colours stay with Keras, as for every network.
    for keras_only in ({"style_masks": ["a.png", "b.png"], "mix": None}, {"preserve_colors": True}):
        assert networks.lite_route(_args(**{**vars(args), **keras_only}), "bundled", bundled.ARBITRARY) is None


PROBE = """
import json, sys
from neural_style.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules}), file=sys.stderr)
"""


def _apply(folder, *argv):
    environment = {**os.environ, bundled.MODELS_VARIABLE: str(folder)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "apply", *map(str, argv)], capture_output=True, text=True, env=environment
    )
    return json.loads(result.stderr.strip().splitlines()[-1]), result.stderr


def test_apply_by_litert_does_not_import_tensorflow(models, photo, tmp_path):
    folder, _ = models
    output = tmp_path / "out.png"
    report, _ = _apply(
        folder, "--content", DEMO / "tubingen.jpg", "--model", bundled.STYLES26, "--style-index", 7, "--output", output
    )
    assert report == {"code": 0, "tensorflow": False}
    written = np.asarray(read_image(output, 10**8))
    network = bundled.load_bundled(bundled.STYLES26)
    keras_result = stylize_picture(network.transform, photo, style_weights=np.eye(26, dtype=np.float32)[7])
    assert np.abs(_uint8(written) - _uint8(keras_result)).max() <= 1
    # Bad input on the LiteRT route is one line, exit 2, and nothing is overwritten.
    report, stderr = _apply(folder, "--content", output, "--model", bundled.STYLES26, "--output", output)
    assert report["code"] == 2 and "is also an input" in stderr
    report, stderr = _apply(
        folder, "--content", output, "--model", bundled.STYLES26, "--style-index", 26, "--output", tmp_path / "x.png"
    )
    assert report["code"] == 2 and "--style-index 26 is not one of" in stderr and not (tmp_path / "x.png").exists()


def test_apply_a_painting_by_litert_does_not_import_tensorflow(models, photo, arbitrary_network, tmp_path):
    """`apply --style-image A B --mix --strength` through LiteRT: no TensorFlow, and the Keras network's picture (its
    style vectors blended as the Keras route blends them) within one grey level."""
    folder, _ = models
    paintings = [DEMO / "starry_night.jpg", DEMO / "tubingen.jpg"]
    output = tmp_path / "out.png"
    report, _ = _apply(
        folder,
        "--content",
        DEMO / "tubingen.jpg",
        "--style-image",
        *paintings,
        "--mix",
        "0.7,0.3",
        "--strength",
        0.6,
        "--output",
        output,
    )
    assert report == {"code": 0, "tensorflow": False}
    predictor = arbitrary_network.predictor
    vectors = arbitrary.style_vectors(predictor, [read_image(path, 10**8) for path in paintings])
    style = arbitrary.blend(vectors, [0.7, 0.3], 0.6, arbitrary.style_vector(predictor, photo))
    keras_result = stylize_picture(arbitrary_network.transform, photo, style_weights=style)
    assert np.abs(_uint8(read_image(output, 10**8)) - _uint8(keras_result)).max() <= 1


def test_apply_a_picture_with_a_channel_of_zero_variance_stays_on_litert(models, photo, arbitrary_network, tmp_path):
    """The 96x128 crop, whose picture XNNPACK makes NaN: the command paints it by LiteRT's own kernels, without
    TensorFlow or a warning, and gives the Keras picture."""
    from PIL import Image

    folder, _ = models
    content, output = tmp_path / "crop.png", tmp_path / "out.png"
    Image.fromarray(photo[:96, :128].astype(np.uint8)).save(content)
    painting = DEMO / "starry_night.jpg"
    report, stderr = _apply(folder, "--content", content, "--style-image", painting, "--output", output)
    assert report == {"code": 0, "tensorflow": False} and "Keras route" not in stderr
    vector = arbitrary.style_vector(arbitrary_network.predictor, read_image(painting, 10**8))
    keras_result = stylize_picture(arbitrary_network.transform, photo[:96, :128], style_weights=vector)
    assert np.abs(_uint8(read_image(output, 10**8)) - _uint8(keras_result)).max() <= 1


def test_first_use_converts_once_then_reuses(tmp_path, monkeypatch):
    """An empty models folder: the first route converts (and checks) the files, the second reads them as they are."""
    args = _args()
    monkeypatch.setenv(bundled.MODELS_VARIABLE, str(tmp_path))
    first = networks.lite_route(args, "bundled", bundled.STYLES26)
    files = bundled.lite_files(bundled.STYLES26)
    stamps = {part: path.stat().st_mtime_ns for part, path in files.items()}
    second = networks.lite_route(args, "bundled", bundled.STYLES26)
    assert first is not None and second is not None and first["check"] == second["check"]
    assert {part: path.stat().st_mtime_ns for part, path in files.items()} == stamps
    # Nothing but the files themselves is left in the folder (written atomically: no temporaries).
    assert sorted(p.name for p in (tmp_path / bundled.LITE_FOLDER).iterdir()) == sorted(p.name for p in files.values())


def test_an_altered_check_is_converted_again(models, tmp_path):
    source, _ = models
    shutil.copytree(source / bundled.LITE_FOLDER, tmp_path / bundled.LITE_FOLDER)
    check = bundled.lite_files(bundled.STYLES26, tmp_path)["check"]
    check.write_text('{"exact": true}')
    assert bundled.lite_check(bundled.STYLES26, tmp_path) is None
    check.write_text("not json")
    assert bundled.lite_check(bundled.STYLES26, tmp_path) is None


def test_an_unwritable_models_folder_takes_the_keras_route(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(bundled.MODELS_VARIABLE, str(blocker))  # a file: no folder can be made in it
    assert networks.lite_route(_args(), "bundled", bundled.STYLES26) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "converting it for LiteRT, once" in err[0] and "the Keras route paints instead" in err[1]


@pytest.mark.parametrize(
    "given, named",
    [
        ({"model": bundled.STYLES26, "style_index": 26}, "style_index"),
        ({"model": bundled.STYLES26, "mix": "1,0"}, "mix"),
        ({"model": bundled.STYLES26, "style_image": ["p.jpg"]}, "style_image"),
        ({"model": bundled.STYLES26, "strength": 0.5}, "strength"),
        ({"model": bundled.STYLES26, "style_size": 8}, "style_size"),
        ({"model": bundled.STYLES26, "output": "out.txt"}, "output"),
    ],
)
def test_bad_input_is_refused_before_any_conversion(tmp_path, monkeypatch, given, named):
    """The Keras route's lines for the same mistakes, and an empty models folder left empty."""

    monkeypatch.setenv(bundled.MODELS_VARIABLE, str(tmp_path))
    with pytest.raises(OptionError) as refused:
        networks.lite_route(_args(**given), "bundled", bundled.STYLES26)
    assert named in refused.value.parameters
    assert not (tmp_path / bundled.LITE_FOLDER).exists()


def test_an_exported_tflite_file_is_run_by_litert(models, photo, tmp_path, capsys):
    """`--model FILE.tflite` (what `neural-style export --tflite` writes): LiteRT paints it, the Keras network's
    picture within one grey level; what only the Keras route does is refused in one line."""
    from neural_style.cli import main

    folder, _ = models
    exported = tmp_path / "styles.tflite"
    shutil.copy(bundled.lite_files(bundled.STYLES26, folder)["transform"], exported)
    content = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(photo[:60, :90].astype(np.uint8)).save(content)
    output = tmp_path / "out.png"
    argv = ["apply", "--content", str(content), "--model", str(exported), "--mix", "0.5,0.5" + ",0" * 24]
    assert main([*argv, "--output", str(output)]) == 0
    network = bundled.load_bundled(bundled.STYLES26)
    mixture = np.zeros(26, np.float32)
    mixture[:2] = 0.5
    keras_result = stylize_picture(network.transform, photo[:60, :90], style_weights=mixture)
    assert np.abs(_uint8(read_image(output, 10**8)) - _uint8(keras_result)).max() <= 1
    capsys.readouterr()
    for extra in (["--tile-size", "64"], ["--preserve-colors"]):
        assert main([*argv, "--output", str(tmp_path / "x.png"), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ".keras file it was exported from" in err[0]
    broken = tmp_path / "broken.tflite"
    broken.write_text("not a model")
    assert main(["apply", "--content", str(content), "--model", str(broken), "--output", str(tmp_path / "y.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a TFLite model" in err[0]
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()
