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


def test_the_check_reports_the_arbitrary_network_as_it_is(models, photo, monkeypatch):
    """The check's verdict for the arbitrary-style network matches a comparison made here, at another size."""
    folder, checks = models
    network = bundled.load_bundled(bundled.ARBITRARY)
    files = bundled.lite_files(bundled.ARBITRARY, folder)
    painting = read_image(DEMO / "starry_night.jpg", 10**8)
    vector = arbitrary.style_vector(network.predictor, painting)
    pixels = photo[:150, :200]
    keras_result = stylize_picture(network.transform, pixels, style_weights=vector)
    try:
        lite_result = lite.run_transform(files["transform"], pixels, vector, network.transform.layout.min_side)
        difference = np.abs(_uint8(lite_result) - _uint8(keras_result)).max()
    except lite.NonFiniteOutputError:  # the apply command then paints by the Keras route
        difference = None
    if checks[bundled.ARBITRARY]["exact"]:
        assert difference is not None and difference <= 1
    # The route is taken only where the check says exact.
    args = _args(style_image=[str(DEMO / "starry_night.jpg")], content=str(DEMO / "tubingen.jpg"))
    monkeypatch.setenv(bundled.MODELS_VARIABLE, str(folder))
    route = networks.lite_route(args, "bundled", bundled.ARBITRARY)
    assert (route is not None) == checks[bundled.ARBITRARY]["exact"]


def test_predictor_within_two_steps_of_keras(models):
    """The predictor's .tflite gives Keras' style vector within two of its output's 8-bit steps (float32
    convolutions summed in another order move a value across a level now and then, as onnxruntime's do)."""
    folder, _ = models
    network = bundled.load_bundled(bundled.ARBITRARY)
    painting = read_image(DEMO / "starry_night.jpg", 10**8)
    step = network.predictor.quantization["output"][0]
    for size in (256, 320):
        ours = arbitrary.style_vector(network.predictor, painting, size)
        theirs = lite.run_predictor(bundled.lite_files(bundled.ARBITRARY, folder)["predictor"], painting, size)
        assert theirs.shape == (100,)
        assert np.abs(ours - theirs).max() <= 2 * step + 1e-6


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
