"""A training's work folder is the run's own (fast/resume.py), and a training holds against hostile and careless input:
a user's folder given as --work-dir is refused and left as it was, the files of a damaged work folder are one line
each, two trainings to one model are refused, a full disk keeps the last checkpoint in one line, a training refused
before its first checkpoint leaves nothing that would refuse the corrected command, and pictures that cannot be
decoded (cut, deleted, FIFOs) are skipped or said in one line instead of a wait that only SIGKILL ends.

Runs that could hang if the code regressed are separate processes with a deadline, killed if they pass it."""

import json
import os
import shutil
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neural_style.checks import OptionError
from neural_style.cli import main
from neural_style.fast import data, resume
from neural_style.fast.options import TrainOptions, check_training_memory, training_memory
from neural_style.fast.train import summary_line, train_fast_model
from neural_style.safety import hold_file, hold_folder
from tests.fixtures import write_photo_folder, write_stripes
from tests.test_fast_train import TOY, WEIGHTS, InterruptAfter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI_TOY = ["--weights", "random", "--size", "32", "--batch-size", "2", "--quiet"]
# Seconds for a toy training in a separate process (about 15 s alone on 2 cores; several times that under load).
DEADLINE = 300


@pytest.fixture
def photos(tmp_path):
    return write_photo_folder(tmp_path / "photos")


@pytest.fixture
def style(tmp_path):
    return write_stripes(tmp_path / "style.png")


def _tree(folder):
    """Every file under a folder with its bytes: what a refusal must leave unchanged."""
    return {
        os.path.relpath(os.path.join(root, name), folder): open(os.path.join(root, name), "rb").read()
        for root, _, names in os.walk(folder)
        for name in names
    }


def _one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _train_argv(style, photos, output, *more):
    return ["train", "--style", str(style), "--images", str(photos), "--output", str(output), *CLI_TOY, *more]


# --- the work folder is the run's own ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["pictures", "current"])
def test_a_users_folder_as_work_dir_is_refused_and_left_as_it_was(tmp_path, photos, style, capsys, monkeypatch, which):
    if which == "pictures":
        folder = photos
    else:  # `--work-dir .` in a folder of the user's
        folder = tmp_path / "desk"
        folder.mkdir()
        (folder / "notes.txt").write_text("mine")
        (folder / "draft.keras").write_bytes(b"not yours")
        monkeypatch.chdir(folder)
    before = _tree(folder)
    work_dir = str(photos) if which == "pictures" else "."
    code = main(_train_argv(style, photos, tmp_path / "m.keras", "--steps", "2", "--work-dir", work_dir))
    assert code == 2
    err = _one_line(capsys)
    assert f"--work-dir {work_dir} is not a work folder of `neural-style train`" in err
    assert "nothing in it is used, changed or removed" in err
    assert _tree(folder) == before  # not a file added (not even a lock), changed or removed
    assert not (tmp_path / "m.keras").exists()


def test_a_work_dir_that_is_a_file_names_the_option(tmp_path, photos, style, capsys):
    (tmp_path / "work").write_text("a file")
    assert main(_train_argv(style, photos, tmp_path / "m.keras", "--steps", "2", "--work-dir", str(tmp_path / "work")))
    err = _one_line(capsys)
    assert f"--work-dir {tmp_path / 'work'} is a file, not a folder" in err
    assert (tmp_path / "work").read_text() == "a file"


def test_a_finished_training_removes_only_what_it_wrote(tmp_path, photos, style):
    work = tmp_path / "work"

    class Drop(InterruptAfter):  # a file of someone else's appears in the work folder while the training runs
        def on_train_batch_end(self, batch, logs=None):
            (work / "theirs.txt").write_text("keep me")

    train_fast_model(style, photos, tmp_path / "m.keras", weights=WEIGHTS, steps=2, work_dir=work, **TOY)
    assert not work.exists()  # all of it was the training's
    train_fast_model(
        style, photos, tmp_path / "n.keras", weights=WEIGHTS, steps=2, work_dir=work, callbacks=[Drop(99)], **TOY
    )
    assert sorted(os.listdir(work)) == ["theirs.txt"] and (work / "theirs.txt").read_text() == "keep me"


def test_a_training_refused_before_any_step_leaves_nothing_in_the_way(tmp_path, photos, style, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    assert main(_train_argv(broken, photos, tmp_path / "m.keras", "--steps", "2")) == 2
    assert "broken.png" in _one_line(capsys)
    assert not (tmp_path / "m.train").exists()
    # The corrected command, with other settings too, trains.
    assert main(_train_argv(style, photos, tmp_path / "m.keras", "--steps", "2", "--learning-rate", "0.002")) == 0
    assert (tmp_path / "m.keras").is_file() and not (tmp_path / "m.train").exists()


def test_two_trainings_at_once_the_second_is_refused(tmp_path, photos, style, capsys):
    model = tmp_path / "m.keras"
    with hold_folder(str(tmp_path / "m.train"), "--work-dir"):  # as a first training holds it
        assert main(_train_argv(style, photos, model, "--steps", "2")) == 2
    assert f"--work-dir {tmp_path / 'm.train'} is in use by another neural-style run (pid {os.getpid()})" in (
        _one_line(capsys)
    )
    # Another work folder, the same model file: refused as well (the first would be overwritten at its end).
    with hold_file(str(model), "--output"):
        code = main(_train_argv(style, photos, model, "--steps", "2", "--work-dir", str(tmp_path / "other")))
    assert code == 2
    assert f"--output {model} is in use by another neural-style run (pid {os.getpid()})" in _one_line(capsys)
    assert not model.exists() and not (tmp_path / "other").exists()


# --- the work folder's files, read as hostile input ---------------------------------------------------------------


def _interrupted(style, photos, output, steps=4):
    """A training stopped after step 3 of `steps`: its work folder holds the checkpoint of step 2."""
    with pytest.raises(KeyboardInterrupt):
        train_fast_model(style, photos, output, weights=WEIGHTS, steps=steps, callbacks=[InterruptAfter(3)], **TOY)
    return output.parent / (output.stem + ".train")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("settings.json", "[1, 2]", "settings.json has no mark of a training"),
        ("settings.json", "{not json", "settings.json is damaged"),
        ("settings.json", "\udcff", "settings.json is damaged"),
        ("bad_pictures.json", "{oops", "bad_pictures.json is damaged"),
        ("bad_pictures.json", '{"a": 1}', "bad_pictures.json is damaged (not a list of paths)"),
        ("training_metadata.json", '{"epoch": 1e300, "batch": 0}', "names the step 1e+300"),
        ("training_metadata.json", '{"epoch": 99, "batch": 0}', "names the step 99, not one of"),
        ("training_metadata.json", '{"epoch": true}', "names the step True"),
        ("training_metadata.json", "[]", "names the step None"),
        ("training_metadata.json", "{", "training_metadata.json is damaged"),
    ],
)
def test_a_damaged_work_folder_is_one_line(tmp_path, photos, style, name, content, message):
    work = _interrupted(style, photos, tmp_path / "m.keras")
    (work / name).write_bytes(content.encode("utf8", "surrogateescape"))
    with pytest.raises(OptionError) as error:
        train_fast_model(style, photos, tmp_path / "m.keras", weights=WEIGHTS, steps=4, **TOY)
    assert str(error.value).startswith(f"work_dir {work}") and message in str(error.value), str(error.value)
    assert "\n" not in str(error.value) and error.value.parameters == ("work_dir",)
    assert (work / name).read_bytes() == content.encode("utf8", "surrogateescape")  # left for the user to see
    assert not (tmp_path / "m.keras").exists()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["settings.json", "bad_pictures.json", "training_metadata.json"]),
    content=st.one_of(
        st.binary(max_size=64),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children),
            max_leaves=8,
        ).map(lambda value: json.dumps(value).encode()),
    ),
)
def test_fuzz_the_work_folders_readers_answer_or_say_one_line(tmp_path_factory, name, content):
    work = tmp_path_factory.mktemp("work")
    (work / "settings.json").write_text(json.dumps({resume.WORK_MARK: resume.WORK_KIND, "size": 32}))
    (work / name).write_bytes(content)
    backup = resume.AtomicBackupAndRestore(str(work), 5)
    for read in (resume.check_work_folder, resume.read_skipped, lambda _: backup.read_step()):
        try:
            value = read(str(work))
        except OptionError as error:
            assert "\n" not in str(error) and str(work) in str(error)
        else:
            assert value is None or isinstance(value, (dict, list, int))


# --- limits before work -------------------------------------------------------------------------------------------


def test_a_huge_size_is_one_line_before_any_work(tmp_path, photos, style, capsys):
    assert main(_train_argv(style, photos, tmp_path / "m.keras", "--size", "100000")) == 2
    err = _one_line(capsys)
    assert "--size 100000 makes 10,000,000,000-pixel crops, more than the 100,000,000 pixels" in err
    assert sorted(os.listdir(tmp_path)) == ["photos", "style.png"]


def test_a_step_beyond_the_memory_is_one_line():
    options = TrainOptions(size=4000, batch_size=4).validate()
    layers = ["conv4_2", "conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    # The estimate from its parts: 1.27 GB, then per pixel of the batch twice the loss network's kept activations
    # (conv1_1 ... conv5_1 with their poolings, each layer's channels over 4 per pooling before it: 320 floats, x 2.97)
    # and the transformation network's 2,600 bytes.
    floats = 64 * 2 + 64 / 4 + 128 * 2 / 4 + 128 / 16 + 256 * 4 / 16 + 256 / 64 + 512 * 4 / 64 + 512 / 256 + 512 / 256
    assert floats == 320
    per_pixel = 2 * 2.97 * 4 * floats + 2600
    expected = 1.27e9 + per_pixel * 4 * 4000**2
    assert training_memory(4000, 4, layers) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(
        OptionError, match=r"size 4000 with batch_size 4 needs about \d+\.\d GB a step, more than the 24\.0"
    ):
        check_training_memory(options, budget=24e9)
    assert check_training_memory(TrainOptions(size=256).validate(), budget=24e9) < 24e9


def test_a_picture_that_would_not_fit_in_memory_to_decode_is_skipped(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    iio.imwrite(folder / "small.png", np.zeros((40, 40, 3), np.uint8))
    iio.imwrite(folder / "large.png", np.zeros((400, 500, 3), np.uint8))
    warnings = []
    # Room for 100,000 pixels' decode: the 40x40 picture, not the 400x500 one (45 bytes a pixel).
    pictures = data.Pictures(folder, warn=warnings.append, memory=100_000 * data.DECODE_BYTES_PER_PIXEL)
    assert pictures.paths == [str(folder / "small.png")] and pictures.largest == 1600
    assert warnings == [
        f"skipping {folder / 'large.png'}: 500x400 takes about 0.0 GB to decode, more than the memory "
        "the training leaves free; shrink it"
    ]


# --- writes on a full disk ----------------------------------------------------------------------------------------


def test_a_full_disk_at_a_checkpoint_keeps_the_last_one_and_the_same_call_continues(
    tmp_path, photos, style, monkeypatch
):
    work = tmp_path / "m.train"
    real = shutil.disk_usage
    saved = []

    def full_after_first(path):  # the disk fills up after the first checkpoint
        usage = real(path)
        if saved and os.path.realpath(path) == os.path.realpath(work):
            return usage._replace(free=1000)
        return usage

    class Count(InterruptAfter):
        def on_epoch_end(self, epoch, logs=None):
            saved.append(epoch)

    monkeypatch.setattr(shutil, "disk_usage", full_after_first)
    with pytest.raises(
        resume.DiskFull,
        match=r"cannot write the checkpoint into work_dir .* 0\.0 MB free; the last "
        "checkpoint is kept: free some space and run the same command again",
    ):
        train_fast_model(style, photos, tmp_path / "m.keras", weights=WEIGHTS, steps=6, callbacks=[Count(99)], **TOY)
    assert json.loads((work / "training_metadata.json").read_text())["epoch"] == 1
    assert not [name for name in os.listdir(work) if name.startswith(".tmp-")]
    monkeypatch.undo()
    _, summary = train_fast_model(style, photos, tmp_path / "m.keras", weights=WEIGHTS, steps=6, **TOY)
    assert summary["resumed_at"] == 2 and (tmp_path / "m.keras").is_file() and not work.exists()


def test_a_training_resumed_at_its_last_step_writes_the_model_and_its_costs(tmp_path, photos, style, monkeypatch):
    real = resume.check_disk_room

    def no_room_for_the_model(folder, size, what, keeping):
        if what.startswith("the model"):
            raise resume.DiskFull(f"cannot write {what}; {keeping}")
        return real(folder, size, what, keeping)

    monkeypatch.setattr(resume, "check_disk_room", no_room_for_the_model)
    with pytest.raises(resume.DiskFull):
        train_fast_model(style, photos, tmp_path / "m.keras", weights=WEIGHTS, steps=4, **TOY)
    metadata = json.loads((tmp_path / "m.train" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2 and np.isfinite(metadata["logs"]["loss"])
    monkeypatch.undo()
    _, summary = train_fast_model(style, photos, tmp_path / "m.keras", weights=WEIGHTS, steps=4, **TOY)
    assert summary["resumed_at"] == 4 and summary["loss"] == metadata["logs"]["loss"]
    assert "nan" not in summary_line(summary) and f"final cost {metadata['logs']['loss']:.4g}" in summary_line(summary)
    assert (tmp_path / "m.keras").is_file()


def _mount_tmpfs(folder, size):
    folder.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    except OSError as error:
        pytest.skip(f"no mount command ({error})")
    if done.returncode:
        pytest.skip(f"a tmpfs cannot be mounted here ({done.stderr.decode().strip()}): needs root")


@pytest.mark.slow
def test_a_4_mb_disk_is_one_line_not_a_crash(tmp_path, photos, style):
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "4m")
    try:
        argv = [sys.executable, "-m", "neural_style", *_train_argv(style, photos, disk / "m.keras", "--steps", "4")]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE)
        # The network and Adam's moments are about 20 MB: the first checkpoint cannot fit.
        assert done.returncode == 1, done.stderr
        err = done.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert f"cannot write the checkpoint into work_dir {disk / 'm.train'}: it needs about" in err
        assert "no checkpoint was written yet" in err
        assert os.listdir(disk) == []  # no temporary file, no half checkpoint, no work folder without a checkpoint
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# --- pictures that cannot be decoded: said, never waited for ------------------------------------------------------


def _run_bounded(argv, cwd=ROOT):
    """Runs a command in its own process, killed if it passes DEADLINE (a hang fails the test, not the suite)."""
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {DEADLINE} s: {' '.join(map(str, argv))}")


def test_pictures_whose_headers_are_fine_but_none_decodes_is_one_line(tmp_path, style):
    folder = tmp_path / "cut"
    folder.mkdir()
    for i in range(3):
        iio.imwrite(folder / f"p{i}.png", np.full((40, 48, 3), 60 * i, np.uint8))
        (folder / f"p{i}.png").write_bytes((folder / f"p{i}.png").read_bytes()[:60])  # the header, no pixels
    argv = [sys.executable, "-m", "neural_style", *_train_argv(style, folder, tmp_path / "m.keras", "--steps", "4")]
    done = _run_bounded(argv)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"neural-style: error: --images {folder}: none of its 3 pictures can be decoded"), last
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "m.keras").exists() and not (tmp_path / "m.train").exists()


def test_a_fifo_among_the_pictures_is_skipped_by_type(tmp_path, photos, style):
    os.mkfifo(photos / "pipe.jpg")  # opening it to read would wait for a writer for ever
    argv = [sys.executable, "-m", "neural_style", *_train_argv(style, photos, tmp_path / "m.keras", "--steps", "2")]
    done = _run_bounded(argv)
    assert done.returncode == 0, done.stderr
    assert f"skipping {photos / 'pipe.jpg'}: not a regular file (a FIFO, socket or device)" in done.stderr
    assert (tmp_path / "m.keras").is_file()


DELETE_MID_RUN = """
import os, shutil, sys, keras
from neural_style.checks import OptionError
from neural_style.fast.train import train_fast_model
from tests.test_fast_train import TOY, WEIGHTS

style, photos, output = sys.argv[1:]

class DeleteThePictures(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        shutil.rmtree(photos, ignore_errors=True)

try:
    train_fast_model(style, photos, output, weights=WEIGHTS, steps=400, callbacks=[DeleteThePictures()],
                     warn=lambda line: None, **{**TOY, "checkpoint_every": 400})
except OptionError as error:
    print(error)
"""


def test_pictures_deleted_mid_run_end_it_in_one_line(tmp_path, photos, style):
    done = _run_bounded([sys.executable, "-c", DELETE_MID_RUN, str(style), str(photos), str(tmp_path / "m.keras")])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"images {photos}: none of its 5 pictures can be decoded"), done.stdout
    assert not (tmp_path / "m.keras").exists()
