"""The fast network's commands: train, apply and export end to end at toy size, bad input as one line (exit 2), and a
training stopped by SIGTERM exits 143 with its checkpoint, which the same command continues."""

import os
import signal
import subprocess
import sys
import time

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style.cli import main

TOY = ["--weights", "random", "--size", "32", "--batch-size", "2", "--quiet"]


def _pictures(folder, count=4):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        y, x = np.mgrid[0:36, 0 : 40 + i]
        iio.imwrite(folder / f"p{i}.png", np.stack([x * 6, y * 7, (x + y) * 3], -1).clip(0, 255).astype(np.uint8))
    return folder


@pytest.fixture
def setup(tmp_path):
    photos = _pictures(tmp_path / "photos")
    return tmp_path, photos, photos / "p0.png"


def test_train_apply_export(setup, capsys):
    tmp_path, photos, style = setup
    model = tmp_path / "style.keras"
    assert (
        main(["train", "--style", str(style), "--images", str(photos), "--output", str(model), "--steps", "2", *TOY])
        == 0
    )
    assert model.is_file()
    assert (
        main(["apply", "--model", str(model), "--content", str(photos), "--output", str(tmp_path / "out"), "--quiet"])
        == 0
    )
    assert sorted(os.listdir(tmp_path / "out")) == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert iio.imread(tmp_path / "out" / "p3.png").shape == (36, 43, 3)
    single = tmp_path / "one.jpg"
    assert main(["apply", "--model", str(model), "--content", str(style), "--output", str(single), "--quiet"]) == 0
    assert iio.imread(single).shape == (36, 40, 3)
    # --precision float32 is the default's picture exactly; bfloat16 runs (its error bound: test_fast_apply's).
    again, half = tmp_path / "again.jpg", tmp_path / "half.jpg"
    common = ["apply", "--model", str(model), "--content", str(style), "--quiet"]
    assert main([*common, "--output", str(again), "--precision", "float32"]) == 0
    np.testing.assert_array_equal(iio.imread(again), iio.imread(single))
    assert main([*common, "--output", str(half), "--precision", "bfloat16"]) == 0
    assert iio.imread(half).shape == (36, 40, 3)
    lite = tmp_path / "style.tflite"
    assert (
        main(["export", "--model", str(model), "--tflite", str(lite), "--saved-model", str(tmp_path / "sm"), "--quiet"])
        == 0
    )
    assert lite.stat().st_size > 6_000_000 and (tmp_path / "sm" / "saved_model.pb").is_file()
    assert capsys.readouterr().err.count("error") == 0


def test_train_architecture_small_apply_export(setup, capsys):
    tmp_path, photos, style = setup
    model = tmp_path / "small.keras"
    argv = ["train", "--style", str(style), "--images", str(photos), "--output", str(model), "--steps", "2"]
    assert main([*argv, "--architecture", "small", *TOY]) == 0
    from neural_style.fast.apply import load_fast_model
    from neural_style.fast.model_file import parameter_count
    from neural_style.fast.network import MAGENTA_26

    loaded = load_fast_model(model)
    assert loaded.layout == MAGENTA_26 and loaded.settings["architecture"] == "small"
    out = tmp_path / "one.png"
    assert main(["apply", "--model", str(model), "--content", str(style), "--output", str(out), "--quiet"]) == 0
    assert iio.imread(out).shape == (36, 40, 3)
    lite = tmp_path / "small.tflite"
    assert main(["export", "--model", str(model), "--tflite", str(lite), "--quiet"]) == 0
    # Its float32 weights, 4 bytes each (141,354 of them), where Johnson's file holds 1,677,635.
    assert 4 * parameter_count(1, MAGENTA_26) < lite.stat().st_size < 1_000_000
    assert capsys.readouterr().err.count("error") == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["train", "--images", "{photos}", "--output", "{tmp}/m.keras", "--steps", "1", "--batch-size", "0"],
            "--batch-size must be",
        ),
        (["train", "--images", "{tmp}/nothing", "--output", "{tmp}/m.keras", "--steps", "1"], "--images"),
        (["train", "--images", "{photos}", "--output", "{tmp}/m.h5", "--steps", "1"], "--output"),
        (
            ["train", "--images", "{photos}", "--output", "{tmp}/m.keras", "--epochs", "1", "--steps", "1"],
            "not allowed with",
        ),
        (["apply", "--model", "{tmp}/missing.keras", "--content", "{photos}", "--output", "{tmp}/o"], "--model"),
        (
            ["apply", "--model", "{tmp}/missing.keras", "--content", "{photos}", "--output", "{photos}"],
            "content folder",
        ),
        (
            [
                "apply",
                "--model",
                "{tmp}/m.keras",
                "--content",
                "{photos}",
                "--output",
                "{tmp}/o",
                "--precision",
                "half",
            ],
            "--precision must be",
        ),
        (["export", "--model", "{tmp}/missing.keras"], "export needs --tflite"),
        (
            ["export", "--model", "{tmp}/m.keras", "--tflite", "{tmp}/m.tflite", "--quantize", "int4"],
            "--quantize must be",
        ),
        (
            ["export", "--model", "{tmp}/m.keras", "--saved-model", "{tmp}/sm", "--quantize", "dynamic"],
            "--quantize dynamic applies to the TFLite file only",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(setup, capsys, argv, message):
    tmp_path, photos, style = setup
    argv = [part.format(photos=photos, tmp=tmp_path) for part in argv]
    if argv[0] == "train":
        argv += ["--style", str(style), "--weights", "random", "--size", "32", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "m.keras").exists()


TRAIN = ["train", "--style", "{style}", "--images", "{photos}", "--weights", "random", "--size", "32", "--quiet"]
APPLY = ["apply", "--model", "{tmp}/m.keras", "--content", "{photos}", "--output", "{tmp}/o"]
VIDEO = ["video", "--model", "{tmp}/m.keras", "--content", "{tmp}/c.mp4", "--output", "{tmp}/o.mp4"]
STYLES_FIXED = (
    "with --model the network's styles are fixed at training: choose among them with --style-index, --mix or "
    "--style-masks; --style is for the optimisation without --model (neural-style, neural-style video) and for train"
)


@pytest.mark.parametrize(
    "argv, line",
    [
        # The option's own requirement, where "unknown image type" spoke of pictures.
        (
            [*TRAIN, "--output", "{tmp}/x.png"],
            "neural-style: error: --output {tmp}/x.png: must end in .keras, e.g. --output {tmp}/x.keras",
        ),
        (
            ["export", "--model", "{tmp}/m.keras", "--tflite", "{tmp}/x.png"],
            "neural-style: error: --tflite {tmp}/x.png: must end in .tflite, e.g. --tflite {tmp}/x.tflite",
        ),
        # A negative number after the option, where argparse answered "expected one argument".
        (
            [*TRAIN, "--output", "{tmp}/m.keras", "--learning-rate", "-1e-3"],
            "neural-style: error: --learning-rate must be a finite number > 0, got -0.001",
        ),
        # Another command's option, where argparse answered "ambiguous option: --style could match ...".
        ([*APPLY, "--style", "{style}"], f"neural-style apply: error: {STYLES_FIXED} (see neural-style apply --help)"),
        (
            [*VIDEO, "--style", "{style}"],
            f"neural-style video --model: error: {STYLES_FIXED} (see neural-style video --model --help)",
        ),
        (
            [*TRAIN, "--output", "{tmp}/m.keras", "--content", "{style}"],
            "neural-style train: error: --content is not an option of this command; only --content-weight, "
            "--content-layer begin so (see neural-style train --help)",
        ),
        (
            [*VIDEO, "--temporal-weight", "5"],
            "neural-style video --model: error: --temporal-weight is for video without --model, where each frame is "
            "optimised; with --model the trained network stylises each frame in one pass (see neural-style video "
            "--model --help)",
        ),
        (
            ["video", "--content", "{tmp}/c.mp4", "--style", "{style}", "--output", "{tmp}/o.mp4", "--mix", "1,0"],
            "neural-style video: error: --mix is for video --model MODEL.keras, a network trained by `neural-style "
            "train`; without --model each frame is optimised against --style (see neural-style video --help)",
        ),
        # The same setting's name in the optimisation: not "did you mean --tv-weight?".
        (
            [*TRAIN, "--output", "{tmp}/m.keras", "--beta", "5"],
            "neural-style train: error: unrecognized arguments: --beta; did you mean --style-weight? (see "
            "neural-style train --help)",
        ),
        (
            [*TRAIN, "--output", "{tmp}/m.keras", "--model", "{tmp}/m.keras"],
            "neural-style train: error: unrecognized arguments: --model (see neural-style train --help)",
        ),
        # A link to nothing, which os.path.exists calls missing: refused before the training, not when it writes.
        (
            [*TRAIN, "--output", "{tmp}/m.keras", "--tensorboard", "{tmp}/runs"],
            "neural-style: error: --tensorboard {tmp}/runs is a symbolic link to {tmp}/gone, which does not exist; "
            "make that folder, or give another path",
        ),
    ],
)
def test_misleading_answers_are_one_line_naming_the_option(setup, capsys, argv, line):
    tmp_path, photos, style = setup
    os.symlink(tmp_path / "gone", tmp_path / "runs")
    values = {"photos": photos, "tmp": tmp_path, "style": style}
    assert main([part.format(**values) for part in argv]) == 2
    assert capsys.readouterr().err.splitlines() == [line.format(**values)]
    assert not (tmp_path / "m.keras").exists() and not (tmp_path / "gone").exists()


@pytest.mark.slow
def test_sigterm_keeps_the_checkpoint_and_the_same_command_continues(setup):
    tmp_path, photos, style = setup
    model = tmp_path / "style.keras"
    argv = [
        sys.executable,
        "-m",
        "neural_style",
        "train",
        "--style",
        str(style),
        "--images",
        str(photos),
        "--output",
        str(model),
        "--steps",
        "40",
        "--checkpoint-every",
        "2",
        *TOY,
    ]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    process = subprocess.Popen(argv, cwd=root, stderr=subprocess.PIPE, text=True)
    try:
        checkpoint = tmp_path / "style.train" / "latest.weights.h5"
        deadline = time.monotonic() + 180
        while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
        assert checkpoint.exists()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 143
    assert "interrupted by SIGTERM; the last checkpoint is kept" in err
    assert checkpoint.exists() and not model.exists()
    # The same command continues from the checkpoint and writes the model.
    rerun = subprocess.run(argv[: -len(TOY)] + TOY, cwd=root, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert model.is_file() and not checkpoint.exists()
