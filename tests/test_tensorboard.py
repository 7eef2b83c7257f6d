"""Tests of watching a run in TensorBoard (neural_style/tensorboard.py and the main job's --tensorboard DIR).

The event files are read back with TensorFlow's own reader (tf.compat.v1.train.summary_iterator), independently of
the writer: the scalars must be the --history file's values exactly (both are the run's float32 costs), the pictures
the saved PNGs' pixels exactly (PNG is lossless), the text the run's settings. One slow test opens TensorBoard itself
in headless Chromium and finds the run's picture in a screenshot of its images dashboard.
"""

import datetime
import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from neural_style import tensorboard
from neural_style.cli import main

cli_stylize = importlib.import_module("neural_style.cli.stylize")
HEIGHT, WIDTH = 24, 32


def read_events(folder):
    """
    Every summary value in a run folder's event files.

    Returns:
    events -- dict from tag to list of (step, plugin name, value as a numpy array), in the order written
    """
    events = {}
    for name in sorted(os.listdir(folder)):
        assert name.startswith("events.out.tfevents."), name
        for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor)
                events.setdefault(value.tag, []).append((event.step, value.metadata.plugin_data.plugin_name, array))
    return events


def decoded_images(events):
    """The pictures of the 'image' tag: {step: uint8 (H, W, 3)}; each value is [width, height, PNG bytes]."""
    images = {}
    for step, plugin, value in events[tensorboard.IMAGE_TAG]:
        assert plugin == "images"
        width, height, png = value
        image = iio.imread(png, extension=".png")
        assert image.shape == (int(height), int(width), 3)
        images[step] = image
    return images


def settings_table(events):
    """The 'settings' text: {name: value}, the values parsed back from JSON where they are JSON."""
    ((step, plugin, rows),) = events[tensorboard.SETTINGS_TAG]
    assert (step, plugin) == (0, "text")
    table = {}
    for name, text in rows:
        text = text.decode()
        try:
            table[name.decode()] = json.loads(text)
        except json.JSONDecodeError:
            table[name.decode()] = text
    return table


def only_run(logdir):
    (name,) = os.listdir(logdir)
    return os.path.join(logdir, name)


# ---------------------------------------------------------------------------------------------------------------------
# The pure parts


def test_cost_terms_are_J_and_every_numeric_J_key():
    entry = {
        "iteration": 3,
        "seconds": 1.5,
        "J": 10.0,
        "J_content": 1.0,
        "J_style": 2.0,
        "J_tv": 0.5,
        "J_temporal": 4,
        "scale": 0.5,
        "evaluations": 7,
        "J_note": "not a number",
        "J_flag": True,
    }
    assert tensorboard.cost_terms(entry) == {"J": 10.0, "J_content": 1.0, "J_style": 2.0, "J_tv": 0.5, "J_temporal": 4}


def test_run_names_sort_by_time_and_folders_are_never_shared(tmp_path):
    now = 1_700_000_000.0
    stamp = datetime.datetime.fromtimestamp(now).strftime("%Y%m%d-%H%M%S")  # local time, as the name uses
    assert tensorboard.run_name("out/tubingen.jpg", now) == f"tubingen-{stamp}"
    logdir = tmp_path / "runs"  # made when missing
    first = tensorboard.make_run_folder(logdir, "a")
    second = tensorboard.make_run_folder(logdir, "a")
    assert (first, second) == (str(logdir / "a"), str(logdir / "a-2"))
    assert sorted(os.listdir(logdir)) == ["a", "a-2"]


def test_settings_rows_are_json_where_they_can_be():
    rows = tensorboard.settings_rows(
        {"iterations": 5, "style": ["a.jpg", "b.jpg"], "init": np.zeros((2, 3), np.uint8), "odd": {1, 2}, "x": None}
    )
    assert rows == [
        ["iterations", "5"],
        ["style", '["a.jpg", "b.jpg"]'],
        ["init", "array (2, 3) uint8"],
        ["odd", "{1, 2}"],
        ["x", "null"],
    ]


def test_writer_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    # float32 values spread over many binades, as costs are: each must come back bit for bit.
    values = (rng.random((4, 4)) * 10.0 ** rng.integers(-6, 9, (4, 4))).astype(np.float32)
    entries = [
        {
            "iteration": i,
            "seconds": 0.1 * i,
            "J": float(j),
            "J_content": float(c),
            "J_style": float(s),
            "J_tv": float(t),
        }
        for i, (j, c, s, t) in enumerate(values)
    ]
    pictures = {0: rng.integers(0, 256, (5, 7, 3), dtype=np.uint8), 2: rng.integers(0, 256, (5, 7, 3), np.uint8)}
    with tensorboard.RunWriter(tmp_path, {"iterations": 4, "content": "c.png"}) as writer:
        for entry in entries:
            writer.write_costs(entry)
            if entry["iteration"] in pictures:
                writer.write_image(entry["iteration"], pictures[entry["iteration"]])
    events = read_events(tmp_path)
    assert set(events) == {"J", "J_content", "J_style", "J_tv", "image", "settings"}
    for column, tag in enumerate(("J", "J_content", "J_style", "J_tv")):
        steps = [step for step, _, _ in events[tag]]
        written = np.array([value for _, _, value in events[tag]])
        assert steps == [0, 1, 2, 3] and {plugin for _, plugin, _ in events[tag]} == {"scalars"}
        assert written.dtype == np.float32
        np.testing.assert_array_equal(written, values[:, column])  # exact: float32 in, float32 out
    images = decoded_images(events)
    assert sorted(images) == [0, 2]
    for step, picture in pictures.items():
        np.testing.assert_array_equal(images[step], picture)
    assert settings_table(events) == {"iterations": 4, "content": "c.png"}


def test_writer_refuses_pictures_that_are_not_8_bit(tmp_path):
    with tensorboard.RunWriter(tmp_path) as writer, pytest.raises(ValueError, match="uint8; got uint16"):
        writer.write_image(0, np.zeros((2, 2, 3), np.uint16))


# ---------------------------------------------------------------------------------------------------------------------
# The main job


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """A smooth content picture and a busy style picture, 24x32, as PNG (lossless)."""
    folder = tmp_path_factory.mktemp("pictures")
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    content = np.stack([x * 8, y * 10, 255 - ((x - 16) ** 2 + (y - 12) ** 2)], axis=-1).clip(0, 255)
    style = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3))
    paths = {"content": folder / "content.png", "style": folder / "style.png"}
    iio.imwrite(paths["content"], content.astype(np.uint8))
    iio.imwrite(paths["style"], style.astype(np.uint8))
    return paths


@pytest.fixture
def run_job(pictures, mat_file, tmp_path, capfd, monkeypatch):
    """Runs the main job in-process on the fixture weights, without XLA (its compilation would take most of the
    time); returns (exit code, stderr lines)."""
    options_from_args = cli_stylize.options_from_args
    monkeypatch.setattr(
        cli_stylize, "options_from_args", lambda args: {**options_from_args(args), "jit_compile": False}
    )

    def run(*extra, content=None, output=None):
        argv = ["--content", str(content or pictures["content"]), "--style", str(pictures["style"])]
        argv += ["--output", str(output or tmp_path / "out.png"), "--weights", str(mat_file[0]), "--quiet"]
        code = main(argv + [str(item) for item in extra])
        return code, capfd.readouterr().err.splitlines()

    return run


def test_main_job_writes_the_history_the_saved_pictures_and_the_settings(run_job, pictures, tmp_path):
    logdir, steps, history = tmp_path / "runs", tmp_path / "steps", tmp_path / "costs.jsonl"
    code, err = run_job(
        *("--height", HEIGHT, "--width", WIDTH, "--iterations", 5, "--save-every", 2, "--tv-weight", 0.5),
        *("--output-dir", steps, "--history", history, "--tensorboard", logdir),
    )
    assert (code, err) == (0, [])
    run = only_run(logdir)
    assert os.path.basename(run).startswith("out-")  # named after --output
    events = read_events(run)
    entries = [json.loads(line) for line in history.read_text().splitlines()]
    assert [entry["iteration"] for entry in entries] == [0, 1, 2, 3, 4]
    assert set(events) == {"J", "J_content", "J_style", "J_tv", "image", "settings"}
    for tag in ("J", "J_content", "J_style", "J_tv"):
        assert [step for step, _, _ in events[tag]] == [0, 1, 2, 3, 4]
        written = [value.item() for _, _, value in events[tag]]
        # The history holds the run's float32 costs as Python floats: the same numbers, bit for bit.
        assert written == [float(np.float32(entry[tag])) for entry in entries] == [entry[tag] for entry in entries]
    images = decoded_images(events)
    assert sorted(images) == [0, 2, 4] and sorted(os.listdir(steps)) == ["0.png", "2.png", "4.png"]
    for step, image in images.items():
        np.testing.assert_array_equal(image, iio.imread(steps / f"{step}.png"))
    settings = settings_table(events)
    assert settings["content"] == str(pictures["content"]) and settings["style"] == [str(pictures["style"])]
    assert settings["output"] == str(tmp_path / "out.png")
    assert (settings["iterations"], settings["save_every"], settings["tv_weight"]) == (5, 2, 0.5)
    assert settings["style_layers"] == [["conv1_1", 0.2], ["conv2_1", 0.2], ["conv3_1", 0.2], ["conv4_1", 0.2],
                                        ["conv5_1", 0.2]]  # fmt: skip
    assert settings["tensorboard"] == str(logdir)


def test_batch_writes_one_run_per_job_ending_at_its_picture(pictures, mat_file, tmp_path, capfd):
    logdir, out = tmp_path / "runs", tmp_path / "gallery"
    argv = ["batch", "--contents", pictures["content"], "--styles", pictures["style"], "--output-dir", out]
    argv += ["--weights", mat_file[0], "--height", HEIGHT, "--width", WIDTH, "--iterations", 3, "--format", "png"]
    code = main([str(item) for item in [*argv, "--tensorboard", logdir, "--quiet"]])
    assert (code, capfd.readouterr().err) == (0, "")
    run = only_run(logdir)
    assert os.path.basename(run).startswith("content__style-")  # named after the job's picture
    events = read_events(run)
    assert [step for step, _, _ in events["J"]] == [0, 1, 2]
    (row,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    # results.jsonl records the last iteration's costs: the same float32 numbers as the last scalars.
    for tag in ("J", "J_content", "J_style"):
        assert events[tag][-1][2].item() == row[tag]
    # A batch saves no pictures on the way: its result is shown at the step after the last.
    images = decoded_images(events)
    assert sorted(images) == [3]
    np.testing.assert_array_equal(images[3], iio.imread(out / "content__style.png"))
    assert settings_table(events)["output"] == str(out / "content__style.png")


def test_video_writes_one_run_per_frame(pictures, mat_file, tmp_path, capfd):
    frames, logdir, out = tmp_path / "clip", tmp_path / "runs", tmp_path / "styled"
    frames.mkdir()
    for index in range(2):
        iio.imwrite(frames / f"{index + 1:04d}.png", np.roll(iio.imread(pictures["content"]), 2 * index, axis=1))
    argv = ["video", "--content", frames, "--style", pictures["style"], "--output", out, "--weights", mat_file[0]]
    argv += ["--height", HEIGHT, "--width", WIDTH, "--iterations", 2, "--first-iterations", 2]
    code = main([str(item) for item in [*argv, "--tensorboard", logdir, "--quiet"]])
    assert (code, capfd.readouterr().err) == (0, "")
    runs = sorted(os.listdir(logdir))
    assert runs == ["frame-00000", "frame-00001"]
    first, second = (read_events(logdir / run) for run in runs)
    assert [step for step, _, _ in first["J"]] == [step for step, _, _ in second["J"]] == [0, 1]
    assert "J_temporal" not in first and [step for step, _, _ in second["J_temporal"]] == [0, 1]
    for index, events in enumerate((first, second)):
        np.testing.assert_array_equal(decoded_images(events)[2], iio.imread(out / f"{index:05d}.png"))


def test_an_interrupted_run_keeps_its_events(run_job, tmp_path, monkeypatch):
    history_writer = cli_stylize._history_writer

    def stopping_writer(file, side_writes, path):
        write = history_writer(file, side_writes, path)

        def write_then_stop(entry):
            write(entry)
            if entry["iteration"] == 2:
                raise KeyboardInterrupt  # Ctrl-C during the run (SIGTERM and SIGHUP take the same path)

        return write_then_stop

    monkeypatch.setattr(cli_stylize, "_history_writer", stopping_writer)
    logdir, history = tmp_path / "runs", tmp_path / "costs.jsonl"
    code, err = run_job(
        *("--height", HEIGHT, "--width", WIDTH, "--iterations", 50, "--save-every", 0),
        *("--history", history, "--tensorboard", logdir),
    )
    assert code == 130 and len(err) == 1 and "interrupted after 3 iterations" in err[0]
    events = read_events(only_run(logdir))
    entries = [json.loads(line) for line in history.read_text().splitlines()]
    assert [value.item() for _, _, value in events["J"]] == [entry["J"] for entry in entries] and len(entries) == 3
    assert "image" not in events  # --save-every 0: no pictures


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda p, t: ["--tensorboard", p["content"]], "--tensorboard .*content.png is a file; give a folder"),
        (lambda p, t: ["--tensorboard", t / "out.png"], "--output .*out.png and --tensorboard .*out.png are one file"),
        (lambda p, t: ["--tensorboard", ""], "--tensorboard must be a folder's path, got ''"),
    ],
)
def test_bad_tensorboard_folders_get_one_line_before_any_work(run_job, pictures, tmp_path, make_args, message):
    code, err = run_job("--height", HEIGHT, "--width", WIDTH, "--iterations", 1, *make_args(pictures, tmp_path))
    assert code == 2 and len(err) == 1, err
    assert re.search(message, err[0]), err[0]
    assert not (tmp_path / "out.png").exists()


def test_a_tensorboard_folder_inside_a_file_is_refused(run_job, pictures, tmp_path):
    (tmp_path / "plain").write_text("a file")
    code, err = run_job("--iterations", 1, "--tensorboard", tmp_path / "plain" / "runs")
    assert code == 2 and err == [f"neural-style: error: --tensorboard: {tmp_path / 'plain'} is a file, so the folder "
                                 f"{tmp_path / 'plain' / 'runs'} cannot be made"]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------------
# TensorBoard itself, in a headless browser


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url, accept, seconds):
    """Polls `url` until accept(body) or `seconds` pass; returns the last body (None: never answered)."""
    deadline, body = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode()
            if accept(body):
                return body
        except OSError:
            pass
        time.sleep(0.5)
    return body


def _best_match(screenshot, picture):
    """
    Where the picture appears in the screenshot at any display width: TensorBoard scales it to its card.

    Returns:
    score, width -- the best normalised correlation (1: identical up to brightness and contrast) and its width
    """
    import cv2

    grey = cv2.cvtColor(screenshot, cv2.COLOR_RGB2GRAY).astype(np.float32)
    best = (-1.0, 0)
    for width in range(WIDTH * 4, min(grey.shape[1], 900), 4):
        height = round(width * picture.shape[0] / picture.shape[1])
        if height >= grey.shape[0]:
            break
        template = cv2.cvtColor(
            cv2.resize(picture, (width, height), interpolation=cv2.INTER_LINEAR), cv2.COLOR_RGB2GRAY
        )
        score = float(cv2.matchTemplate(grey, template.astype(np.float32), cv2.TM_CCOEFF_NORMED).max())
        best = max(best, (score, width))
    return best


@pytest.mark.slow
def test_tensorboard_shows_the_runs_picture_in_a_browser(run_job, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium binary: install the browser (Debian: apt-get install -y chromium) for this check")
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (pip install tensorboard)")
    logdir, steps = tmp_path / "runs", tmp_path / "steps"
    code, _ = run_job(
        *("--height", HEIGHT, "--width", WIDTH, "--iterations", 3, "--save-every", 2),
        *("--output-dir", steps, "--tensorboard", logdir),
    )
    assert code == 0
    run = os.path.basename(only_run(logdir))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        tags = _wait_for(f"http://127.0.0.1:{port}/data/plugin/images/tags", lambda body: run in body, 120)
        assert tags is not None and run in tags, f"TensorBoard did not list the run's pictures: {tags}"
        screenshot = tmp_path / "images.png"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900",
             "--virtual-time-budget=15000", f"--screenshot={screenshot}", f"http://127.0.0.1:{port}/#images"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=True,
        )  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
    shown = iio.imread(screenshot)[..., :3]
    if os.environ.get("NEURAL_STYLE_KEEP_SCREENSHOT"):  # for a person to look at
        shutil.copy(screenshot, os.environ["NEURAL_STYLE_KEEP_SCREENSHOT"])
    last = iio.imread(steps / "2.png")  # the dashboard shows the last step's picture
    score, width = _best_match(shown, last)
    # The browser's smoothing of a 10x upscale differs from OpenCV's bilinear one by a little: near 1 when shown.
    assert score > 0.9, (score, width)
    # Against a picture that is not the run's (the same pixels upside down), the best match is far lower.
    assert _best_match(shown, last[::-1].copy())[0] < score - 0.1
