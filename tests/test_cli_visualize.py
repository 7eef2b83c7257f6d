"""neural_style/cli/visualize.py: `neural-style visualize KIND ...`."""

import os

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style import config
from neural_style import visualize as V
from neural_style.cli import main as cli_main
from neural_style.cli.visualize import build_parser
from tests.visualize_helpers import random_pixels, write_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(capsys, *argv):
    code = cli_main(["visualize", *map(str, argv)])
    return code, capsys.readouterr().err


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = iio.imread(path)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert min(pixels.shape[:2]) > 200
    assert not [name for name in os.listdir(path.parent) if name.startswith(".tmp-")]
    return pixels


@pytest.fixture()
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        iio.imwrite(folder / f"img{i}.png", random_pixels(20, 28, seed=i).astype(np.uint8))
    history = write_history(
        tmp_path / "history.jsonl",
        [
            {"iteration": i, "seconds": i * 0.1, "J": 50.0 - i, "J_content": 5.0 - i / 2, "J_style": 1.0 / (i + 1)}
            for i in range(5)
        ],
    )
    return folder, history


@pytest.mark.slow
def test_every_kind_writes_its_png(tmp_path, capsys, mat_file, inputs):
    folder, history = inputs
    image = folder / "img0.png"
    common = ["--weights", mat_file[0], "--height", 20, "--width", 28, "--seed", 1]
    commands = {
        "maps": ["maps", image, "--layer", "conv2_1", *common],
        "top": ["top", folder, "--layer", "conv3_1", "--channel", 4, "--k", 2, *common],
        "project": ["project", image, "--layer", "conv3_1", "--channel", 4, "--rule", "deconvnet", *common],
        "maximize": ["maximize", "--layer", "conv2_1", "--channel", 3, "--iterations", 3, *common],
        "sweep": [
            "sweep",
            "--content",
            image,
            "--style",
            folder / "img1.png",
            "--iterations",
            2,
            "--content-layers",
            "conv2_1",
            "--style-sets",
            "conv1_1,conv2_1",
            *common,
        ],
        "curves": ["curves", history],
    }
    for kind, argv in commands.items():
        output = tmp_path / "out" / f"{kind}.png"
        code, err = run_cli(capsys, *argv, "--output", output)
        assert code == 0, err
        pixels = assert_png(output)
        assert f"wrote {output} ({pixels.shape[1]}x{pixels.shape[0]})" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["maps", "{image}", "--layer", "conv9_1"],
            "unknown layer conv9_1; valid layers: conv1_1, conv1_2, avgpool1, conv2_1",
        ),
        (["project", "{image}", "--layer", "conv4_1", "--channel", "40"], "conv4_1 has 32 channels, numbered 0 to 31"),
        (["maximize", "--layer", "conv1_1", "--channel", "4", "--iterations", "0"], "--iterations must be a positive"),
        (["top", "{empty}", "--layer", "conv1_1", "--channel", "0"], "no images in this folder"),
        (["top", "{image}", "--layer", "conv1_1", "--channel", "0"], "is not a folder"),
        (["maps", "{missing}", "--layer", "conv1_1"], "image not found"),
        (["curves", "{missing}"], "history file not found"),
        (["sweep", "--iterations", "1"], "give --content PHOTO, --style PAINTING or both"),
        (["maps", "{image}", "--layer", "conv1_1", "--height", "-3"], "--height must be a positive"),
        (["top", "{folder}", "--layer", "conv1_1"], "the following arguments are required: --channel"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(tmp_path, capsys, mat_file, inputs, argv, message):
    folder, _ = inputs
    (tmp_path / "empty").mkdir()
    names = {
        "image": folder / "img0.png",
        "empty": tmp_path / "empty",
        "missing": tmp_path / "missing.png",
        "folder": folder,
    }
    argv = [part.format(**names) for part in argv]
    output = tmp_path / "out.png"
    extra = [] if argv[0] == "curves" else ["--weights", str(mat_file[0])]
    code, err = run_cli(capsys, *argv, *extra, "--output", output)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1, err
    assert not output.exists()


def test_the_output_never_overwrites_an_input(capsys, mat_file, inputs):
    folder, _ = inputs
    image = folder / "img0.png"
    before = image.read_bytes()
    code, err = run_cli(capsys, "maps", image, "--layer", "conv1_1", "--weights", mat_file[0], "--output", image)
    assert code == 2 and "is also an input" in err
    assert image.read_bytes() == before


def parsed(*argv):
    return vars(build_parser().parse_args([*argv, "--output", "out.png"]))


def test_the_defaults_are_the_library_functions_own():
    image = "photo.jpg"
    assert parsed("maps", image, "--layer", "conv1_1")["top"] == 8  # maps_figure's
    assert parsed("top", "folder", "--layer", "conv1_1", "--channel", "0")["k"] == 9  # top_images'
    project = parsed("project", image, "--layer", "conv1_1", "--channel", "0")
    assert project["rule"] == "guided" and project["pooling"] == "avg"
    maximize = parsed("maximize", "--layer", "conv1_1", "--channel", "0")
    expected = {
        "iterations": 200,
        "step_size": 4.0,
        "decay": 0.01,
        "blur_every": 4,
        "blur_sigma": 1.0,
        "norm_percentile": 10.0,
        "objective": "center",
    }
    assert {name: maximize[name] for name in expected} == expected
    sweep = parsed("sweep", "--content", image)
    assert (sweep["iterations"], sweep["learning_rate"]) == (config.NUM_ITERATIONS, config.LEARNING_RATE) == (200, 2.0)
    assert sweep["content_layers"] == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    assert sweep["style_sets"][-1] == sweep["content_layers"] and len(sweep["style_sets"]) == 5


def test_help_shows_the_defaults_and_every_enumerated_flag_has_choices(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # no help line wrapped inside a default
    kinds = {"maximize": ["--objective", "--pooling"], "project": ["--rule", "--pooling"], "sweep": ["--pooling"]}
    for kind, flags in kinds.items():
        with pytest.raises(SystemExit):
            build_parser().parse_args([kind, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for flag in flags:
            assert f"{flag} {{" in text, (kind, flag)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["maximize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "L2 decay per step (default 0.01)" in text and "blur every N steps (4; 0 = never)" in text
    assert "ascent steps (default 200)" in text and "(default: 300x400, the article's)" in text
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {','.join(V.SWEEP_CONTENT_LAYERS)})" in text
    assert "(default conv1_1; conv1_1,conv2_1; conv1_1,conv2_1,conv3_1; " in text
    assert "Adam's (default 2.0)" in text
