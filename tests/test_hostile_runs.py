"""Runs that meet hostile numbers, sizes, paths and signals: one line, the right exit code, nothing lost."""

import errno
import importlib
import math
import os
import signal
import subprocess
import time

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style import large, limits, safety
from neural_style import weights as W
from neural_style.cli import main
from neural_style.files import atomic_write
from neural_style.weights import VGGWeights
from tests.fixtures import endless_run, has_a_line, one_error_line, running, save_mat, vgg_mat_layers, wait_until

cli_stylize = importlib.import_module("neural_style.cli.stylize")
stylize_module = importlib.import_module("neural_style.stylize")
images_module = importlib.import_module("neural_style.images")
HEIGHT, WIDTH = 24, 32


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    paths = {"content": folder / "content.png", "style": folder / "style.png"}
    for path in paths.values():
        iio.imwrite(path, rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))
    return paths


@pytest.fixture
def cli(pictures, mat_file, capfd, monkeypatch):
    """Runs the main job in-process (plain tf.function, no XLA); returns (exit code, stdout, stderr lines)."""
    options_from_args = cli_stylize.options_from_args
    monkeypatch.setattr(
        cli_stylize, "options_from_args", lambda args: {**options_from_args(args), "jit_compile": False}
    )

    def run(*argv, content=None, style=None, weights=None, size_given=False):
        size = [] if size_given else ["--height", str(HEIGHT), "--width", str(WIDTH)]
        code = main(
            [
                "--content",
                str(content or pictures["content"]),
                "--style",
                str(style or pictures["style"]),
                "--weights",
                str(weights or mat_file[0]),
                *size,
                "--quiet",
                *map(str, argv),
            ]
        )
        out, err = capfd.readouterr()
        return code, out, err.splitlines()

    return run


# ---------------------------------------------------------------------------------------------------------------------
# Item 5: a run whose very first cost is not finite writes nothing; an existing --output is kept


def test_first_cost_not_finite_writes_nothing_and_blames_the_weights(cli, tmp_path):
    # Filters 1000 times too large (still below MAX_WEIGHT) make conv5_1's activations overflow float32.
    weights = W.random_vgg_weights(width_divisor=16)
    layers = {name: (kernel * 1000, bias) for name, (kernel, bias) in weights.layers.items()}
    assert max(float(np.abs(kernel).max()) for kernel, _ in layers.values()) < W.MAX_WEIGHT
    path = tmp_path / "loud.mat"
    save_mat(path, vgg_mat_layers(VGGWeights(layers=layers, source="x")))
    output = tmp_path / "out.png"
    output.write_bytes(b"an earlier result")
    line = one_error_line(*cli("--output", output, "--iterations", 3, "--save-every", 0, weights=path), expected_code=1)
    assert "the cost of the starting image is already not finite (J_content = inf, J_style = nan)" in line
    assert "check the weights" in line and line.endswith("nothing was written")
    assert "learning-rate" not in line
    assert output.read_bytes() == b"an earlier result"


# ---------------------------------------------------------------------------------------------------------------------
# Item 2: every path a run writes is checked against every input and against each other, before any work


def _picture(path):
    iio.imwrite(path, np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))
    return path.read_bytes()


@pytest.mark.parametrize("name, option", [("0.png", "--save-every"), ("40.png", "--save-every")])
def test_an_input_named_like_an_intermediate_image_is_never_overwritten(cli, tmp_path, name, option):
    # Before: a style image at output/0.png (or 20.png, ...) was replaced by the run's first intermediate image.
    folder = tmp_path / "output"
    folder.mkdir()
    style = folder / name
    original = _picture(style)
    line = one_error_line(
        *cli("--output", tmp_path / "out.png", "--output-dir", folder, "--save-every", 20, style=style)
    )
    assert f"--style {style} would be overwritten by {option} in {folder}" in line
    assert style.read_bytes() == original and not (tmp_path / "out.png").exists()


def test_an_input_named_checkpoint_png_is_never_overwritten(cli, tmp_path):
    style = tmp_path / "checkpoint.png"
    original = _picture(style)
    argv = ("--output", tmp_path / "out.png", "--output-dir", tmp_path, "--save-every", 0, "--checkpoint-every", 1)
    line = one_error_line(*cli(*argv, content=style))
    assert f"--content {style} would be overwritten by --checkpoint-every in {tmp_path}" in line
    assert style.read_bytes() == original


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_planned_name_linked_to_an_input_is_refused(cli, pictures, tmp_path, link):
    folder = tmp_path / "output"
    folder.mkdir()
    (os.symlink if link == "symlink" else os.link)(pictures["content"], folder / "20.png")
    original = pictures["content"].read_bytes()
    line = one_error_line(*cli("--output", tmp_path / "out.png", "--output-dir", folder, "--iterations", 30))
    assert f"--content {pictures['content']} is the same file as {folder / '20.png'}, which --save-every writes" in line
    assert pictures["content"].read_bytes() == original


def test_history_and_output_on_one_file_is_refused(cli, tmp_path):
    # Before: --history out.png --output out.png wrote one over the other.
    output = tmp_path / "out.png"
    line = one_error_line(*cli("--output", output, "--history", output, "--save-every", 0))
    assert f"--output {output} and --history {output} are one file" in line
    assert not output.exists()


def test_output_that_an_intermediate_image_would_replace_is_refused(cli, tmp_path):
    output = tmp_path / "20.png"
    line = one_error_line(*cli("--output", output, "--output-dir", tmp_path, "--iterations", 21, "--save-every", 20))
    assert f"--output {output} is also written by --save-every into {tmp_path}" in line


def test_planned_names_follow_the_run():
    plan = safety.planned_writes("out.png", None, "dir", iterations=45, save_every=20, checkpoint_every=5)
    assert [
        name for name in ("0.png", "20.png", "40.png", "60.png", "10.png", "020.png") if plan.writes_name(name)
    ] == [
        "0.png",
        "20.png",
        "40.png",
    ]
    assert plan.writes_name("checkpoint.npz") and plan.writes_name("checkpoint.png")
    assert safety.planned_writes("out.png", None, "dir", 45, 0, 0).folder is None


# ---------------------------------------------------------------------------------------------------------------------
# Item 4: a side write that fails is one line, and the run still writes --output


def test_a_history_that_cannot_be_written_does_not_lose_the_result(cli, tmp_path):
    # /dev/full: every write fails with ENOSPC, as on a full disk.
    output = tmp_path / "out.png"
    code, out, err = cli("--output", output, "--history", "/dev/full", "--iterations", 3, "--save-every", 0)
    assert (code, out) == (0, "")
    assert err == [
        "neural-style: warning: cannot write the history /dev/full (No space left on device); the run goes on, "
        "--output will be written"
    ]
    assert iio.imread(output).shape == (HEIGHT, WIDTH, 3)


def test_intermediate_images_that_cannot_be_written_do_not_lose_the_result(cli, tmp_path, monkeypatch):
    written = []

    def full_disk(path, pixels):
        if os.path.basename(os.fspath(path)) != "out.png":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(path)
        return images_module.write_image(path, pixels)

    monkeypatch.setattr(stylize_module, "write_image", full_disk)
    output, folder = tmp_path / "out.png", tmp_path / "frames"
    code, out, err = cli("--output", output, "--output-dir", folder, "--iterations", 3, "--save-every", 1)
    assert (code, out) == (0, "")
    assert err == [
        f"neural-style: warning: cannot write the intermediate image {folder / '0.png'} (No space left on device); "
        "the run goes on, --output will be written"
    ]
    assert iio.imread(output).shape == (HEIGHT, WIDTH, 3)


# ---------------------------------------------------------------------------------------------------------------------
# Item 3: SIGTERM and SIGHUP end a run as Ctrl-C does; no temporary file is left when a signal lands mid-write


def test_a_signal_mid_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.png"
    # Whatever handler was there before (SIG_DFL, or one an earlier test's library installed, e.g. Ray's) comes back.
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(safety.Stopped) as stopped, safety.signals_as_interrupts():
        with atomic_write(target) as temporary:
            with open(temporary, "wb") as file:
                file.write(b"half an image")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the signal lands before this ends
    assert stopped.value.signum == signal.SIGTERM and safety.exit_code(stopped.value) == 143
    assert os.listdir(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_save_the_best_image(pictures, tmp_path, signum):
    # Before: SIGTERM (timeout, docker stop, batch schedulers) and SIGHUP killed the run with nothing written.
    history, output = tmp_path / "costs.jsonl", tmp_path / "out.png"
    command = endless_run(pictures["content"], pictures["style"], output, history, HEIGHT, WIDTH)
    with running(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path) as process:
        wait_until(process, lambda: has_a_line(history), 120, "no iteration reported")
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    name = signal.Signals(signum).name
    assert last.startswith(f"neural-style: error: interrupted by {name} after ") and last.endswith(f"to {output}")
    assert iio.imread(output).shape == (HEIGHT, WIDTH, 3)
    assert sorted(os.listdir(tmp_path)) == ["costs.jsonl", "out.png"]  # no hidden temporary file


# ---------------------------------------------------------------------------------------------------------------------
# Item 11: two runs into one --output-dir


def test_a_second_run_into_a_held_output_dir_is_refused(cli, tmp_path):
    folder = tmp_path / "output"
    with safety.hold_folder(str(folder)) as lock:
        assert open(lock).read() == str(os.getpid())
        line = one_error_line(*cli("--output", tmp_path / "out.png", "--output-dir", folder, "--save-every", 1))
    assert f"--output-dir {folder} is in use by another neural-style run (pid {os.getpid()})" in line
    assert os.listdir(folder) == []  # the lock file goes with its holder
    code, _, _ = cli("--output", tmp_path / "out.png", "--output-dir", folder, "--save-every", 1, "--iterations", 2)
    assert code == 0 and sorted(os.listdir(folder)) == ["0.png", "1.png"]


# ---------------------------------------------------------------------------------------------------------------------
# Items 9 and 11: sizes and numbers that cannot work are one line before any work


# The run size limit follows the available memory (large.run_pixel_limit); the message tests pin it.
MAX_RUN_PIXELS = 4_000_000


@pytest.fixture
def pinned_limit(monkeypatch):
    monkeypatch.setattr(large, "run_pixel_limit", lambda budget=None: MAX_RUN_PIXELS)


def _fits(height, width, limit=MAX_RUN_PIXELS):
    shrink = math.sqrt(limit / (height * width))
    return int(width * shrink), int(height * shrink)


def test_a_size_beyond_memory_says_the_largest_that_fits(cli, tmp_path, pinned_limit):
    # Before: --max-size 100000 ended in a TensorFlow out-of-memory traceback.
    width, height = _fits(75000, 100000)
    code, out, err = main_with_size(cli, tmp_path, "--max-size", 100000)
    line = one_error_line(code, out, err)
    assert (
        f"the output would be 100000x75000 (7,500,000,000 pixels), more than the {MAX_RUN_PIXELS:,} a run can hold "
        f"in memory; the largest of that shape that fits is {width}x{height} (e.g. --max-size {width})" in line
    )


def main_with_size(cli, tmp_path, *size):
    """The cli fixture passes --height/--width; these runs give their own size, so they call main directly."""
    return cli("--output", tmp_path / "out.png", *size, size_given=True)


def test_a_style_scale_beyond_memory_says_which_fits(cli, tmp_path, pinned_limit):
    line = one_error_line(*cli("--output", tmp_path / "out.png", "--style-scale", 1000))
    shrink = math.sqrt(MAX_RUN_PIXELS / (24000 * 32000))
    assert "the style images would be 32000x24000 (768,000,000 pixels)" in line
    assert f"(e.g. --style-scale {1000 * shrink:.3g})" in line


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seed", "-1"], "--seed must be a whole number >= 0, got -1"),
        (["--beta", "1e300"], "--beta must be within float32's range (at most 3.4e+38), got 1e+300"),
        (["--tv-weight", "1e300"], "--tv-weight must be within float32's range (at most 3.4e+38), got 1e+300"),
        (["--style-layers", "conv1_1:1e39"], "--style-layers weight of conv1_1 must be within float32's range"),
    ],
)
def test_numbers_that_cannot_work_are_refused_up_front(cli, tmp_path, argv, message):
    # Before: --seed -1 gave a traceback after the model was built; --beta 1e300 was blamed on the learning rate.
    line = one_error_line(*cli("--output", tmp_path / "out.png", *argv))
    assert message in line
    assert not (tmp_path / "out.png").exists()


def test_curves_of_a_file_that_is_not_utf8_is_one_line(tmp_path, capfd):
    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"iteration": 0, "J": 1}\n\xff\xfe\x00garbage\n')
    code = main(["visualize", "curves", str(path), "--output", str(tmp_path / "curves.png")])
    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err == f"neural-style: error: {path}: not UTF-8 text; give the file a run wrote with --history PATH\n"


def test_resume_from_a_damaged_checkpoint_is_one_line(cli, tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"")
    line = one_error_line(*cli("--output", tmp_path / "out.png", "--resume", tmp_path))
    assert f"--resume {tmp_path}: {tmp_path / 'checkpoint.npz'} is not a neural-style checkpoint" in line


# ---------------------------------------------------------------------------------------------------------------------
# Item 12: --precision bfloat16 on a CPU that only emulates it falls back to float32, with a note


def test_cpu_bfloat16_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n")
    assert limits.cpu_has_native_bfloat16(str(cpuinfo)) is False
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert limits.cpu_has_native_bfloat16(str(cpuinfo)) is True
    assert limits.cpu_has_native_bfloat16(str(tmp_path / "absent")) is None


def test_bfloat16_falls_back_only_on_a_cpu_without_it(monkeypatch):
    notes = []
    assert limits.resolve_precision("bfloat16", has_gpu=False, native_bfloat16=False, report=notes.append) == "float32"
    assert len(notes) == 1 and "no native bfloat16 (no AMX or AVX512-BF16)" in notes[0]
    assert limits.resolve_precision("bfloat16", has_gpu=False, native_bfloat16=True, report=notes.append) == "bfloat16"
    assert limits.resolve_precision("bfloat16", has_gpu=True, native_bfloat16=False, report=notes.append) == "bfloat16"
    assert limits.resolve_precision("float32", has_gpu=False, native_bfloat16=False, report=notes.append) == "float32"
    monkeypatch.setenv(limits.FORCE_BFLOAT16_ENV, "1")
    assert limits.resolve_precision("bfloat16", has_gpu=False, native_bfloat16=False, report=notes.append) == "bfloat16"
    assert len(notes) == 1


def test_a_run_asking_bfloat16_on_such_a_cpu_says_so_and_runs_float32(cli, pictures, mat_file, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "cpu_has_native_bfloat16", lambda: False)
    monkeypatch.setattr(stylize_module.tf.config, "list_physical_devices", lambda kind=None: [])
    code, out, err = cli(
        "--output", tmp_path / "out.png", "--precision", "bfloat16", "--iterations", 1, "--save-every", 0
    )
    assert (code, out, len(err)) == (0, "", 1)
    assert err[0].startswith("neural-style: note: this CPU has no native bfloat16") and "using float32" in err[0]
    transfer = stylize_module.StyleTransfer(
        str(pictures["content"]), str(pictures["style"]), weights=str(mat_file[0]), precision="bfloat16", iterations=1
    )
    assert transfer.options.precision == "float32" and transfer.model.precision == "float32"


def test_a_checkpoint_that_cannot_be_written_does_not_lose_the_result(cli, tmp_path, monkeypatch):
    def full_disk(folder, state, image=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(stylize_module, "save_run", full_disk)
    output, folder = tmp_path / "out.png", tmp_path / "run"
    argv = ("--output", output, "--output-dir", folder, "--iterations", 3, "--save-every", 0, "--checkpoint-every", 1)
    code, out, err = cli(*argv)
    assert (code, out) == (0, "")
    assert err == [
        f"neural-style: warning: cannot write the checkpoint {folder} (No space left on device); the run goes on, "
        "--output will be written"
    ]
    assert iio.imread(output).shape == (HEIGHT, WIDTH, 3)


def test_the_run_size_limit_is_what_fits_with_the_smallest_tile():
    budget = 4e9
    limit = large.run_pixel_limit(budget)
    smallest = large.minimum_tile_size(["conv5_1"])
    side = int(limit**0.5)
    # At the limit a run fits the budget with the smallest tile; 2% more pixels do not.
    assert large.estimate_peak_memory(side, side, smallest, ["conv5_1"]) <= budget
    bigger = int((1.02 * limit) ** 0.5) + 1
    assert large.estimate_peak_memory(bigger, bigger, smallest, ["conv5_1"]) > budget
