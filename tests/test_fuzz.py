"""A bounded fuzzing suite (hypothesis). The readers of weight files (.mat, .h5), checkpoints and images, and
the option parser, get mutated inputs: truncations, flipped bytes, random bodies behind valid headers, absurd declared
sizes. The one contract: a result, or one of the package's own errors with a one-line message; never another
exception, never a crash (the weight parsers run in a child process), never more than a bounded amount of memory.

Each test keeps max_examples small so the file runs in well under a minute on a 2-core machine.
"""

import io
import json
import os
import struct

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from neural_style.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from neural_style.cli.stylize import build_parser, options_from_args
from neural_style.images import ImageError, load_image
from neural_style.options import OptionError, StyleOptions
from neural_style.weights import WeightsError, load_weights
from tests.fixtures import write_vgg_mat
from tests.h5_fixtures import small_vgg_layers, write_keras2_h5
from tests.hostile import png_declaring

OWN_ERRORS = (WeightsError, ImageError, CheckpointError, OptionError, FileNotFoundError)
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)


def mutations(data):
    """A strategy of mutated copies of `data`: cut, flipped bytes, a random body after the header, an absurd size."""
    size = len(data)
    cut = st.integers(0, size - 1).map(lambda n: data[:n])
    flips = st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 255)), min_size=1, max_size=8).map(
        lambda changes: _flip(data, changes)
    )
    body = st.tuples(st.integers(0, min(size, 600)), st.binary(min_size=0, max_size=2048)).map(
        lambda args: data[: args[0]] + args[1]
    )
    absurd = st.tuples(st.integers(0, size - 4), st.sampled_from([2**31 - 1, 2**32 - 1, 2**30, 0x7FFF0000])).map(
        lambda args: data[: args[0]] + struct.pack("<I", args[1]) + data[args[0] + 4 :]
    )
    return st.one_of(cut, flips, body, absurd)


def _flip(data, changes):
    mutated = bytearray(data)
    for position, mask in changes:
        mutated[position] ^= mask
    return bytes(mutated)


def honours_contract(read, path):
    """Calls read(path): a result, or one of the package's errors in one line; anything else fails the test."""
    try:
        return read(path)
    except OWN_ERRORS as error:
        message = str(error)
        assert message and "\n" not in message, repr(message)
        return None


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    write_vgg_mat(folder / "w.mat", width_divisor=32)
    write_keras2_h5(folder / "w.h5", small_vgg_layers(width_divisor=32))
    rng = np.random.default_rng(0)
    image = np.zeros((1, 4, 5, 3), np.float32)
    state = {"iteration": 1, "scale_index": 0, "evaluations": 0, "optimizer_variables": ["i", "m"], "settings": {}}
    state["history"] = [{"iteration": 0, "seconds": 0.1, "J": 1.0, "J_content": 0.5, "J_style": 0.5}]
    arrays = {"image": image, "best_image": image, "best_cost": np.float32(1), "optimizer_0": np.int64(1)}
    save_checkpoint(folder, state, {**arrays, "optimizer_1": image})
    pictures = {}
    pixels = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    for extension in (".png", ".jpg", ".gif", ".bmp", ".tif", ".webp"):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=Image.registered_extensions()[extension])
        pictures[extension] = buffer.getvalue()
    return {
        "mat": (folder / "w.mat").read_bytes(),
        "h5": (folder / "w.h5").read_bytes(),
        "checkpoint": (folder / "checkpoint.npz").read_bytes(),
        "pictures": pictures,
    }


def _written(tmp_path_factory, name, data):
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    return str(path)


def test_fuzz_mat_reader(samples, tmp_path_factory, peak):
    @settings(FUZZ, max_examples=6)
    @given(data=mutations(samples["mat"]))
    def check(data):
        weights = honours_contract(load_weights, _written(tmp_path_factory, "w.mat", data))
        assert weights is None or len(weights.layers) == 16

    check()


def test_fuzz_mat_header_only(samples, tmp_path_factory, peak):
    """Mutations of the header's last bytes (version, byte order) and the first variable's tag."""

    @settings(FUZZ, max_examples=8)
    @given(data=mutations(samples["mat"][112:144]))
    def check(data):
        mat = samples["mat"]
        honours_contract(load_weights, _written(tmp_path_factory, "w.mat", mat[:112] + data + mat[144:]))

    check()


def test_fuzz_h5_reader(samples, tmp_path_factory, peak):
    @settings(FUZZ, max_examples=5)
    @given(data=mutations(samples["h5"]))
    def check(data):
        weights = honours_contract(load_weights, _written(tmp_path_factory, "w.h5", data))
        assert weights is None or len(weights.layers) == 16

    check()


def test_fuzz_checkpoint_reader(samples, tmp_path_factory, peak):
    @settings(FUZZ, max_examples=60)
    @given(data=mutations(samples["checkpoint"]))
    def check(data):
        result = honours_contract(load_checkpoint, _written(tmp_path_factory, "checkpoint.npz", data))
        assert result is None or isinstance(result[0], dict)

    check()


@pytest.mark.parametrize("extension", [".png", ".jpg", ".gif", ".bmp", ".tif", ".webp"])
def test_fuzz_image_reader(samples, tmp_path_factory, peak, extension):
    @settings(FUZZ, max_examples=15)
    @given(data=mutations(samples["pictures"][extension]))
    def check(data):
        image = honours_contract(
            lambda path: load_image(path, max_pixels=10**6), _written(tmp_path_factory, "i" + extension, data)
        )
        if image is not None:
            assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3
            assert np.all(np.isfinite(image)) and image.min() >= 0 and image.max() <= 255

    check()


def test_fuzz_absurd_declared_image_sizes(tmp_path_factory, peak):
    @settings(FUZZ, max_examples=30)
    @given(width=st.integers(1, 2**31 - 1), height=st.integers(1, 2**31 - 1))
    def check(width, height):
        data = png_declaring(width, height, rows=1 if width <= 4096 else 0)
        image = honours_contract(
            lambda path: load_image(path, max_pixels=10**6), _written(tmp_path_factory, "i.png", data)
        )
        assert image is None or image.shape[0] * image.shape[1] <= 10**6

    check()


FLAGS = [
    "--height",
    "--width",
    "--max-size",
    "--iterations",
    "--alpha",
    "--beta",
    "--learning-rate",
    "--seed",
    "--noise-ratio",
    "--save-every",
    "--checkpoint-every",
    "--scales",
    "--style-blend",
    "--style-scale",
    "--tv-weight",
    "--style-layers",
    "--content-layer",
    "--pooling",
    "--precision",
    "--optimizer",
    "--init",
    "--preset",
    "--output-dir",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "1",
            "nan",
            "inf",
            "-inf",
            "1e300",
            "1e39",
            "3.4e38",
            "",
            ",",
            "conv1_1:x",
            "0.5,1",
            "99999999999999999999",
            "random",
            "content",
            "avg",
            "max",
            "bfloat16",
            "lbfgs",
            "gatys",
        ]
    ),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(2**70), 2**70).map(str),
)


VIDEO_SETTINGS = {"size": "4x5", "iterations": 1, "content image": [["/clip.mp4", 10, 1.5]]}
VIDEO_FRAME = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)


def _made_work_folder(tmp_path_factory):
    """A work folder as a video run leaves it: settings.json with its mark, frame 0 finished, index.json."""
    from neural_style.video.work import WorkFolder

    path = tmp_path_factory.mktemp("work") / "work"
    WorkFolder(path, VIDEO_SETTINGS).save_frame(0, VIDEO_FRAME)
    return path


def test_fuzz_video_work_folder_settings(tmp_path_factory, peak):
    """Mutated settings.json: the folder opens (the same settings) or is refused in one line, never a traceback."""
    from neural_style.video.work import SETTINGS_FILE, WorkFolder

    sample = (_made_work_folder(tmp_path_factory) / SETTINGS_FILE).read_bytes()

    @settings(FUZZ, max_examples=20)
    @given(data=mutations(sample))
    def check(data):
        path = _made_work_folder(tmp_path_factory)
        (path / SETTINGS_FILE).write_bytes(data)
        folder = honours_contract(lambda where: WorkFolder(where, VIDEO_SETTINGS), path)
        if folder is not None:
            # Opened: the settings read back are the run's, and its frame is still its own.
            assert json.loads(data.decode("utf8"))["size"] == VIDEO_SETTINGS["size"]
            np.testing.assert_array_equal(folder.finished(0), VIDEO_FRAME)

    check()


FOREIGN_NAMES = st.sampled_from(
    ["00000.png", "00001.png", "00002.png", ".tmp-abc1.png", ".tmp-00001.png", "frame_3.png", "x.txt", "00001.jpg"]
)


def test_fuzz_video_work_folder_files(tmp_path_factory, peak):
    """Files the run did not make (any name, any bytes) and a mutated index: never taken as finished frames; the
    temporary files of killed writes are gone once the folder is opened."""
    from neural_style.video.work import INDEX_FILE, WorkFolder

    sample = (_made_work_folder(tmp_path_factory) / INDEX_FILE).read_bytes()
    png = io.BytesIO()
    Image.fromarray(255 - VIDEO_FRAME).save(png, format="PNG")
    bodies = st.one_of(st.binary(max_size=200), st.just(png.getvalue()))

    @settings(FUZZ, max_examples=20)
    @given(files=st.lists(st.tuples(FOREIGN_NAMES, bodies), max_size=4), index=mutations(sample))
    def check(files, index):
        path = _made_work_folder(tmp_path_factory)
        (path / INDEX_FILE).write_bytes(index)
        for name, body in files:
            (path / "frames" / name).write_bytes(body)
        folder = WorkFolder(path, VIDEO_SETTINGS)
        assert not [name for name in os.listdir(path / "frames") if name.startswith(".tmp-")]
        first = folder.finished(0)
        assert first is None or np.array_equal(first, VIDEO_FRAME)
        if "00000.png" not in {name for name, _ in files} and index == sample:
            np.testing.assert_array_equal(first, VIDEO_FRAME)  # untouched: still the run's own
        for number in (1, 2):
            assert folder.finished(number) is None  # the run never wrote them

    check()


def test_fuzz_option_parser(tmp_path_factory, peak):
    folder = tmp_path_factory.mktemp("options")
    picture = str(folder / "p.png")
    iio.imwrite(picture, np.zeros((4, 4, 3), np.uint8))
    parser = build_parser()

    @settings(FUZZ, max_examples=50)
    @given(pairs=st.lists(st.tuples(st.sampled_from(FLAGS), VALUES), max_size=5))
    def check(pairs):
        argv = [
            "--content",
            picture,
            "--style",
            picture,
            "--output",
            os.path.join(folder, "o.png"),
            "--weights",
            "random",
        ]
        for flag, value in pairs:
            argv += [f"{flag}={value}"]
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:
            assert exit_.code == 2
            return
        honours_contract(lambda _: StyleOptions(**options_from_args(args)).validate(style_count=1), None)

    check()
