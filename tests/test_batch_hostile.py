"""neural-style batch against careless or hostile input: where it may write, what it may overwrite, how its names are
made, how its manifest and results.jsonl are read, and how it stops.

Every refusal is checked to be one line, exit code 2, before any work (no --output-dir made, no file changed). The few
tests that run jobs use the small fixture .mat at 16x16 for 1 or 2 iterations; the signal tests start
`python -m neural_style batch --workers 2` in a subprocess and are marked slow.
"""

import json
import os
import signal
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style import safety
from neural_style.batch import (
    DONE,
    append_row,
    cpu_count,
    escape_label,
    grid_jobs,
    manifest_jobs,
    output_name,
    picture_labels,
    read_results,
    worker_count,
)
from neural_style.batch.manifest import read_manifest
from neural_style.cli import main
from neural_style.options import OptionError, StyleOptions
from tests.fixtures import checkout_environment, child_processes, has_a_line, png_names, running, wait_until

SIZE = 16


@pytest.fixture
def pics(tmp_path):
    """photo.png, starry.png and precious.png (in victim/), 16x16 random pixels, in a fresh folder."""
    rng = np.random.default_rng(5)
    for name in ("photo.png", "starry.png", "victim/precious.png", "mask.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        iio.imwrite(tmp_path / name, rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
    return tmp_path


def tiny(*extra):
    """The options of a tiny run (random filters: nothing runs in the refusal tests, so no weights are read)."""
    return ["--weights", "random", "--height", str(SIZE), "--width", str(SIZE), "--iterations", "1", "--quiet", *extra]


def refused(capsys, argv, *expected):
    """Runs the command; asserts exit code 2 and one error line holding every expected text; returns the line."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and err.startswith("neural-style: error: "), err
    for text in expected:
        assert text in err, err
    return err


def snapshot(folder):
    """Every file under folder with its bytes: what a refused run must leave as it was."""
    return {
        os.path.relpath(os.path.join(root, name), folder): open(os.path.join(root, name), "rb").read()
        for root, _, names in os.walk(folder)
        for name in names
    }


# ---------------------------------------------------------------------------------------------------------------------
# Where a batch writes


@pytest.mark.parametrize(
    "output",
    [
        "../victim/precious.png",
        "{root}/victim/precious.png",
        "~/precious.png",
        "a/../../victim/precious.png",
        "./x.png",
    ],
)
def test_a_manifest_output_outside_the_output_dir_is_refused(pics, capsys, output):
    output = output.format(root=pics)
    (pics / "jobs.csv").write_text(f"content,style,output\nphoto.png,starry.png,{output}\n")
    before = snapshot(pics)
    argv = ["batch", "--manifest", str(pics / "jobs.csv"), "--output-dir", str(pics / "out"), *tiny()]
    refused(capsys, argv, f"{pics / 'jobs.csv'} row 2, column output: ", "not a plain relative name")
    assert snapshot(pics) == before and not (pics / "out").exists()


@pytest.mark.parametrize("output", [5, ["a.png"], {"a": 1}, "a\u0000.png", "a\nb.png"])
def test_a_manifest_output_that_is_not_a_name_is_one_line(pics, capsys, output):
    row = {"content": "photo.png", "style": "starry.png", "output": output}
    (pics / "jobs.jsonl").write_text(json.dumps(row) + "\n")
    argv = ["batch", "--manifest", str(pics / "jobs.jsonl"), "--output-dir", str(pics / "out"), *tiny()]
    refused(capsys, argv, f"{pics / 'jobs.jsonl'} row 1, column output: ")
    assert not (pics / "out").exists()


def test_a_manifest_output_through_a_symlink_out_of_the_folder_is_refused(pics, capsys):
    (pics / "out").mkdir()
    (pics / "out" / "link").symlink_to(pics / "victim")
    (pics / "jobs.csv").write_text("content,style,output\nphoto.png,starry.png,link/precious.png\n")
    before = snapshot(pics / "victim")
    argv = ["batch", "--manifest", str(pics / "jobs.csv"), "--output-dir", str(pics / "out"), *tiny()]
    refused(capsys, argv, "picture ", "lies outside --output-dir", str(pics / "victim" / "precious.png"))
    assert snapshot(pics / "victim") == before


def test_an_init_image_among_the_outputs_is_refused(pics, capsys):
    (pics / "out").mkdir()
    init = pics / "out" / "photo__starry.png"
    init.write_bytes((pics / "starry.png").read_bytes())
    before = snapshot(pics)
    argv = ["batch", "--contents", str(pics / "photo.png"), "--styles", str(pics / "starry.png")]
    argv += ["--init", str(init), "--output-dir", str(pics / "out"), *tiny("--format", "png")]
    refused(capsys, argv, f"picture {init} is also an input (init {init})")
    assert snapshot(pics) == before


def test_a_manifest_mask_among_the_outputs_is_refused_and_relative_to_the_manifest(pics, capsys, monkeypatch):
    (pics / "out").mkdir()
    (pics / "out" / "mine.png").write_bytes((pics / "mask.png").read_bytes())
    # The mask cell is relative to the manifest's folder, as content and style are (not to the working folder).
    (pics / "jobs.csv").write_text("content,style,output,content_mask\nphoto.png,starry.png,mine.png,out/mine.png\n")
    monkeypatch.chdir(pics / "victim")
    before = snapshot(pics)
    argv = ["batch", "--manifest", str(pics / "jobs.csv"), "--output-dir", str(pics / "out"), *tiny()]
    refused(capsys, argv, f"picture {pics / 'out' / 'mine.png'} is also an input (content_mask ")
    assert snapshot(pics) == before


def test_manifest_init_and_mask_paths_are_relative_to_the_manifest(pics, monkeypatch):
    (pics / "sub").mkdir()
    (pics / "sub" / "jobs.jsonl").write_text(
        json.dumps({"content": "../photo.png", "style": "../starry.png", "init": "../mask.png"})
        + "\n"
        + json.dumps(
            {"content": "../photo.png", "style": "../starry.png", "init": "content", "content_mask": "../mask.png"}
        )
        + "\n"
    )
    monkeypatch.chdir(pics / "victim")  # a working folder where none of these names exist
    jobs = manifest_jobs(pics / "sub" / "jobs.jsonl", pics / "out", StyleOptions(weights="random"), "png")
    mask = os.path.join(pics / "sub", "../mask.png")
    assert jobs[0].options == {"init": mask}
    assert jobs[1].options == {"init": "content", "content_mask": mask}
    assert [os.path.basename(job.output) for job in jobs] == ["photo__starry.png", "photo__starry__2.png"]


def test_a_contents_folder_as_output_dir_is_refused(pics, capsys):
    (pics / "in").mkdir()
    for name in ("photo.png", "photo__starry.png"):
        (pics / "in" / name).write_bytes((pics / "photo.png").read_bytes())
    before = snapshot(pics)
    argv = ["batch", "--contents", str(pics / "in"), "--styles", str(pics / "starry.png")]
    argv += ["--output-dir", str(pics / "in"), *tiny("--format", "png")]
    refused(capsys, argv, f"--contents {pics / 'in'} is also --output-dir")
    assert snapshot(pics) == before


def test_an_input_that_is_also_an_output_name_is_refused(pics, capsys):
    (pics / "in").mkdir()
    for name in ("photo.png", "photo__starry.png"):
        (pics / "in" / name).write_bytes((pics / "photo.png").read_bytes())
    before = snapshot(pics)
    argv = ["batch", "--contents", str(pics / "in" / "photo.png"), str(pics / "in" / "photo__starry.png")]
    argv += ["--styles", str(pics / "starry.png"), "--output-dir", str(pics / "in"), *tiny("--format", "png")]
    refused(capsys, argv, f"picture {pics / 'in' / 'photo__starry.png'} is also an input (content ")
    assert snapshot(pics) == before


def test_sixteen_bits_into_jpg_is_refused_before_any_work(pics, capsys):
    argv = ["batch", "--contents", str(pics / "photo.png"), "--styles", str(pics / "starry.png")]
    argv += ["--output-dir", str(pics / "out"), *tiny("--bit-depth", "16")]
    refused(capsys, argv, "--bit-depth 16: ", "photo__starry.jpg is a .jpg file")
    assert not (pics / "out").exists()


def test_a_second_batch_into_a_held_folder_is_refused(pics, capsys):
    argv = ["batch", "--contents", str(pics / "photo.png"), "--styles", str(pics / "starry.png")]
    argv += ["--output-dir", str(pics / "out"), *tiny("--format", "png")]
    with safety.hold_folder(str(pics / "out")):  # what a running batch (or main command) holds
        refused(capsys, argv, f"--output-dir {pics / 'out'} is in use by another neural-style run (pid {os.getpid()})")
    assert os.listdir(pics / "out") == []


# ---------------------------------------------------------------------------------------------------------------------
# Names unique by construction


def test_the_colliding_grid_makes_four_different_names(tmp_path):
    for name in ("x", "x__y", "z", "y__z"):
        (tmp_path / f"{name}.png").write_bytes(b"")
    jobs = grid_jobs([tmp_path / "x.png", tmp_path / "x__y.png"], [tmp_path / "z.png", tmp_path / "y__z.png"], "out")
    names = [os.path.basename(job.output) for job in jobs]
    assert names == ["x__z.jpg", "x__y%5F%5Fz.jpg", "x%5F%5Fy__z.jpg", "x%5F%5Fy__y%5F%5Fz.jpg"]


def unescape(text):
    return text.replace("%5F", "_").replace("%2B", "+").replace("%25", "%")


@pytest.mark.parametrize(
    "content, styles",
    [("x", ["y__z"]), ("x__y", ["z"]), ("a_", ["b"]), ("a", ["_b"]), ("a+b", ["c"]), ("a", ["b+c"]), ("a", ["b", "c"])],
)
def test_an_output_name_splits_back_into_its_labels(content, styles):
    stem = os.path.splitext(output_name(content, styles, ".png"))[0]
    first, second = stem.split("__")  # exactly one separator: the labels are escaped
    assert unescape(first) == content and [unescape(part) for part in second.split("+")] == styles


def test_escaping_leaves_ordinary_names_alone():
    assert [escape_label(name) for name in ("starry_night", "photo-1", "a_b_c")] == ["starry_night", "photo-1", "a_b_c"]
    assert escape_label("%_x_") == "%25_x%5F"  # the first "_" is inside the escaped label, not at its start


def test_labels_from_folders_never_meet_another_inputs_stem():
    labels = picture_labels(["a/photo.png", "b/photo.png", "x/a-photo.png"])
    assert labels == {"a/photo.png": "a-photo", "b/photo.png": "b-photo", "x/a-photo.png": "a-photo-2"}


def test_two_manifest_rows_naming_one_file_are_refused(pics):
    (pics / "jobs.csv").write_text(
        "content,style,output\nphoto.png,starry.png,photo__starry.png\nphoto.png,starry.png,\n"
    )
    with pytest.raises(OptionError, match=r"row 3, column output: .*photo__starry.png is also row 2's"):
        manifest_jobs(pics / "jobs.csv", pics / "out", StyleOptions(weights="random"), "png")


# ---------------------------------------------------------------------------------------------------------------------
# The manifest reader


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("jobs.csv", b"\x00\x01\xff\xfe\x89PNG", "not UTF-8 text"),
        ("jobs.csv", b"content,style\n\x00photo.png,starry.png\n", "holds NUL bytes"),
        ("jobs.jsonl", '{"content": "photo.png"}\n'.encode("utf-16"), "not UTF-8 text"),
        ("jobs.csv", b"", "no jobs in it"),
        ("jobs.csv", b"content,style,output\n", "no jobs in it"),
        ("jobs.jsonl", b"\n\n", "no jobs in it"),
        ("jobs.csv", b"content,style,iterations\nphoto.png,starry.png,1e30\n", "'1e30' is not a whole number"),
        ("jobs.jsonl", b'{"content":"photo.png","style":"starry.png","iterations":1e30}\n', "iterations: must be"),
        ("jobs.csv", b"content,style\nphoto.png,starry.png,extra.png\n", "row 2: 3 cells but the header names 2"),
        ("jobs.csv", b"content,style,iterations,iterations\nphoto.png,starry.png,1,2\n", "iterations repeats"),
        ("jobs.csv", b"content,style,style-blend,style_blend\nphoto.png,starry.png,1,1\n", "repeats column"),
        ("jobs.jsonl", b'{"content":"photo.png","style":"starry.png","style":"photo.png"}\n', "appears twice"),
        ("jobs.jsonl", b'{"content":"photo.png","style":"starry.png","styles":"photo.png"}\n', "are one column"),
        ("jobs.jsonl", b"[" * 100_000 + b"\n", "row 1: "),
        ("jobs.jsonl", b'{"content":"photo.png","style":5}\n', "column style: "),
        ("jobs.jsonl", b'{"content":"photo.png","style":"starry.png","height":[1]}\n', "column height: "),
    ],
)
def test_a_hostile_manifest_is_one_line_and_exit_2(pics, capsys, name, data, expected):
    (pics / name).write_bytes(data)
    argv = ["batch", "--manifest", str(pics / name), "--output-dir", str(pics / "out"), *tiny()]
    refused(capsys, argv, expected)
    assert not (pics / "out").exists()


def test_a_byte_order_mark_and_a_trailing_empty_cell_are_read(pics):
    (pics / "jobs.csv").write_bytes("\ufeffcontent,style,iterations\nphoto.png,starry.png,3,\n".encode())
    assert read_manifest(pics / "jobs.csv") == [(2, {"content": "photo.png", "style": "starry.png", "iterations": "3"})]
    jobs = manifest_jobs(pics / "jobs.csv", pics / "out", StyleOptions(weights="random"), "png")
    assert jobs[0].options == {"iterations": 3} and jobs[0].content == str(pics / "photo.png")


# ---------------------------------------------------------------------------------------------------------------------
# results.jsonl


def test_a_damaged_results_file_is_read_with_its_damaged_lines_named(tmp_path):
    path = tmp_path / "results.jsonl"
    good = {"output": "a.png", "status": DONE, "fingerprint": "sha256:1"}
    path.write_bytes(
        b"\xff\xfe not utf-8\n"
        + json.dumps(good).encode()
        + b'\n[1, 2]\n{"output": 5}\n{"output": "b.png", "fingerprint": [1]}\n{"output": "c.png", "sta'
    )
    damaged = []
    assert read_results(path, damaged) == {"a.png": good}
    assert damaged == [1, 3, 4, 5, 6]


def test_a_record_after_a_cut_line_is_its_own_line(tmp_path):
    path = tmp_path / "results.jsonl"
    first = {"output": "a.png", "status": DONE, "fingerprint": "sha256:1"}
    second = {"output": "b.png", "status": DONE, "fingerprint": "sha256:2"}
    path.write_text(json.dumps(first) + "\n" + json.dumps(second)[:17])  # a crash cut the second record short
    append_row(path, second)
    lines = path.read_bytes().split(b"\n")
    assert lines == [json.dumps(first).encode(), json.dumps(second)[:17].encode(), json.dumps(second).encode(), b""]
    damaged = []
    assert read_results(path, damaged) == {"a.png": first, "b.png": second} and damaged == [2]


def test_a_batch_goes_on_over_a_damaged_results_file(pics, mat_file, capsys):
    out = pics / "out"
    out.mkdir()
    (out / "results.jsonl").write_bytes(b'\x80\x81 garbage\n{"output": "photo__starry.png", "st')
    argv = ["batch", "--contents", str(pics / "photo.png"), "--styles", str(pics / "starry.png")]
    argv += ["--output-dir", str(out), "--weights", str(mat_file[0]), "--height", str(SIZE), "--width", str(SIZE)]
    argv += ["--iterations", "1", "--format", "png", "--quiet"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"neural-style: warning: {out / 'results.jsonl'}: skipped 2 damaged lines (1, 2)" in err
    assert "Traceback" not in err
    rows = read_results(out / "results.jsonl")
    assert rows["photo__starry.png"]["status"] == DONE and (out / "photo__starry.png").is_file()


# ---------------------------------------------------------------------------------------------------------------------
# Workers


def test_workers_are_at_most_one_per_cpu_and_per_job():
    assert worker_count(1000, 50, cpus=2) == 2
    assert worker_count(4, 3, cpus=16) == 3
    assert worker_count(2, 10, cpus=16) == 2
    assert worker_count(3, 0, cpus=16) == 1


def test_a_thousand_workers_is_a_note_and_one_process(pics, mat_file, capsys):
    out = pics / "out"
    argv = ["batch", "--contents", str(pics / "photo.png"), "--styles", str(pics / "starry.png")]
    argv += ["--output-dir", str(out), "--weights", str(mat_file[0]), "--height", str(SIZE), "--width", str(SIZE)]
    argv += ["--iterations", "1", "--format", "png", "--workers", "1000"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "neural-style: note: --workers 1000: using 1 (one per CPU here and one per job" in err
    (row,) = read_results(out / "results.jsonl").values()
    assert row["worker"].endswith(f":{os.getpid()}")  # one job: run in this process, no worker started


@pytest.mark.slow  # two worker processes each load TensorFlow: about a minute on 2 shared cores
@pytest.mark.skipif(cpu_count() < 2, reason="two workers need two CPUs (worker_count)")
@pytest.mark.parametrize("stop, code", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_signal_ends_every_worker_and_keeps_finished_pictures(pics, mat_file, stop, code):
    out = pics / "out"
    for name in ("dog.png", "tree.png"):
        (pics / name).write_bytes((pics / "photo.png").read_bytes())
    argv = ["batch", "--contents", *(str(pics / n) for n in ("photo.png", "dog.png", "tree.png"))]
    argv += ["--styles", str(pics / "starry.png"), "--output-dir", str(out), "--weights", str(mat_file[0])]
    # Jobs of a second or more (16x16 iterations take about a millisecond): the signal lands while both work.
    argv += ["--height", str(SIZE), "--width", str(SIZE), "--iterations", "1000", "--format", "png", "--quiet"]
    command = [sys.executable, "-m", "neural_style", *argv, "--workers", "2"]
    # Its own session: Ctrl-C is sent to the whole process group, as a terminal does.
    options = dict(stderr=subprocess.PIPE, text=True, env=checkout_environment(), start_new_session=True)
    with running(command, **options) as process:
        wait_until(process, lambda: has_a_line(out / "results.jsonl"), 240, "no job finished")
        workers = {pid for pid, line in child_processes(process.pid).items() if "spawn_main" in line}
        assert len(workers) == 2
        if stop == "SIGINT":
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(getattr(signal, stop))
        _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neural-style: error: interrupted"), err
    assert (stop == "SIGINT") or f"by {stop}" in lines[0]
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]  # every worker ended (none a zombie left)
    finished = [row["output"] for row in read_results(out / "results.jsonl").values() if row["status"] == DONE]
    assert finished and png_names(out) == sorted(finished)


def test_a_lock_file_planted_as_a_symlink_is_never_written_through(pics, capsys):
    (pics / "out").mkdir()
    (pics / "out" / safety.LOCK_FILE).symlink_to(pics / "victim" / "precious.png")
    before = snapshot(pics / "victim")
    argv = ["batch", "--contents", str(pics / "photo.png"), "--styles", str(pics / "starry.png")]
    argv += ["--output-dir", str(pics / "out"), *tiny("--format", "png")]
    refused(capsys, argv, f"cannot take its lock file {pics / 'out' / safety.LOCK_FILE}")
    assert snapshot(pics / "victim") == before
