"""neural-style batch and stylize_many: planning, results, resuming, failures, and the same pictures as the main job.

Jobs run on the small fixture .mat (tests/fixtures.py) at 16x16 for 2 iterations, so a 3 x 2 grid takes seconds.
The Ctrl-C test runs `python -m neural_style batch` in a subprocess; the Ray test starts a two-node local cluster.
"""

import importlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style.batch import (
    DONE,
    FAILED,
    SKIPPED,
    Job,
    Worker,
    grid_jobs,
    manifest_jobs,
    option_value,
    picture_labels,
    read_results,
    stylize_many,
)
from neural_style.cli import main
from neural_style.options import OptionError, StyleOptions
from tests.fixtures import (
    checkout_environment,
    child_processes,
    has_a_line,
    png_names,
    results_rows,
    running,
    wait_until,
)

SIZE = 16


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Three content and two style pictures of random pixels, 16x16."""
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(13)
    for folder, names in (("contents", ("photo", "dog", "tree")), ("styles", ("starry_night", "scream"))):
        (root / folder).mkdir()
        for name in names:
            iio.imwrite(root / folder / f"{name}.png", rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
    return root


@pytest.fixture(scope="module")
def batch_args(mat_file, folders):
    """The command line of a batch: by default the 3 x 2 grid of `folders`; contents, styles: file names instead."""

    def args(output_dir, *extra, contents=None, styles=None):
        return [
            "batch",
            "--contents",
            *([str(folders / "contents" / name) for name in contents] if contents else [str(folders / "contents")]),
            "--styles",
            *([str(folders / "styles" / name) for name in styles] if styles else [str(folders / "styles")]),
            "--output-dir",
            str(output_dir),
            "--weights",
            str(mat_file[0]),
            "--height",
            str(SIZE),
            "--width",
            str(SIZE),
            "--iterations",
            "2",
            "--seed",
            "3",
            "--format",
            "png",
            "--quiet",
            *extra,
        ]

    return args


@pytest.fixture(scope="module")
def grid(batch_args, tmp_path_factory):
    """One run of the 3 x 2 grid (several tests read it; those that change it work on a copy)."""
    folder = tmp_path_factory.mktemp("grid")
    code = main(batch_args(folder))
    return folder, code


GRID = sorted(f"{c}__{s}.png" for c in ("photo", "dog", "tree") for s in ("starry_night", "scream"))
# A 2 x 1 grid, where two jobs prove as much as six.
PAIR = ("photo.png", "dog.png"), ("scream.png",)
PAIR_GRID = ["dog__scream.png", "photo__scream.png"]


# ---------------------------------------------------------------------------------------------------------------------
# Planning


def test_labels_are_stems_made_unique_by_folder_then_extension():
    paths = ["a/photo.jpg", "b/photo.jpg", "a/dog.jpg", "c/cat.png", "c/cat.jpg"]
    assert picture_labels(paths) == {
        "a/photo.jpg": "a-photo",
        "b/photo.jpg": "b-photo",
        "a/dog.jpg": "dog",
        "c/cat.png": "cat-png",
        "c/cat.jpg": "cat-jpg",
    }


def test_grid_names_every_pair(folders, tmp_path):
    jobs = grid_jobs([folders / "contents"], [folders / "styles" / "scream.png"], tmp_path, "jpg")
    names = [os.path.basename(job.output) for job in jobs]
    assert names == ["dog__scream.jpg", "photo__scream.jpg", "tree__scream.jpg"]
    assert [os.path.basename(job.content) for job in jobs] == ["dog.png", "photo.png", "tree.png"]
    assert all(job.styles == (str(folders / "styles" / "scream.png"),) for job in jobs)


def test_grid_refuses_a_missing_input_and_an_empty_folder(folders, tmp_path):
    with pytest.raises(OptionError, match="--contents .*nothing.png: no such file or folder"):
        grid_jobs([folders / "nothing.png"], [folders / "styles"], tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(OptionError, match="--styles .*empty: no image files"):
        grid_jobs([folders / "contents"], [tmp_path / "empty"], tmp_path)


@pytest.mark.parametrize(
    "name, text, value",
    [("iterations", "5", 5), ("alpha", "1e3", 1000.0), ("preserve_colors", "yes", True), ("preset", "gatys", "gatys")],
)
def test_manifest_cells_become_option_values(name, text, value):
    converted = option_value(name, text)
    assert converted == value and type(converted) is type(value)


def write_manifest(folder, text, name="jobs.csv"):
    path = folder / name
    path.write_text(text)
    return path


def test_manifest_rows_become_jobs(folders, tmp_path):
    (tmp_path / "contents").symlink_to(folders / "contents")
    (tmp_path / "styles").symlink_to(folders / "styles")
    path = write_manifest(
        tmp_path,
        "content,style,output,iterations,style_blend\n"
        "contents/photo.png,styles/scream.png,,3,\n"
        'contents/dog.png,styles/scream.png;styles/starry_night.png,blend.png,,"0.7,0.3"\n',
    )
    jobs = manifest_jobs(path, tmp_path / "out", StyleOptions(weights="random"), "png")
    assert [os.path.basename(job.output) for job in jobs] == ["photo__scream.png", "blend.png"]
    assert jobs[0].options == {"iterations": 3}
    assert jobs[1].options == {"style_blend": "0.7,0.3"}
    assert [os.path.basename(style) for style in jobs[1].styles] == ["scream.png", "starry_night.png"]


@pytest.mark.parametrize(
    "row, column, problem",
    [
        ("contents/photo.png,styles/scream.png,0", "iterations", "must be a positive whole number, got 0"),
        ("contents/photo.png,styles/scream.png,x", "iterations", "'x' is not a number"),
        ("contents/missing.png,styles/scream.png,2", "content", "contents/missing.png: no such file"),
        (",styles/scream.png,2", "content", "empty; give an image file"),
    ],
)
def test_a_bad_manifest_row_names_its_row_and_column(folders, tmp_path, row, column, problem):
    (tmp_path / "contents").symlink_to(folders / "contents")
    (tmp_path / "styles").symlink_to(folders / "styles")
    path = write_manifest(tmp_path, f"content,style,iterations\ncontents/dog.png,styles/scream.png,2\n{row}\n")
    with pytest.raises(OptionError) as raised:
        manifest_jobs(path, tmp_path / "out", StyleOptions(weights="random"))
    assert str(raised.value) == f"{path} row 3, column {column}: {problem}"


def test_a_bad_manifest_row_is_one_line_and_exit_2(folders, tmp_path, capsys):
    path = write_manifest(
        tmp_path,
        json.dumps({"content": str(folders / "contents/dog.png"), "style": [str(folders / "styles/scream.png")]})
        + "\n"
        + json.dumps({"content": str(folders / "contents/dog.png"), "style": "x.png", "style_blend": [1, 2]})
        + "\n",
        "jobs.jsonl",
    )
    code = main(["batch", "--manifest", str(path), "--output-dir", str(tmp_path / "out"), "--weights", "random"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith(f"neural-style: error: {path} row 2, column style: x.png: no such file")
    assert not (tmp_path / "out").exists()


def test_missing_weights_are_one_line_and_exit_2(batch_args, tmp_path, capsys):
    args = batch_args(tmp_path)
    args[args.index("--weights") + 1] = str(tmp_path / "missing.mat")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("neural-style: error: ") and "missing.mat" in err
    assert not (tmp_path / "results.jsonl").exists()


def test_options_that_cannot_work_for_a_job_stop_the_batch_before_it_runs(batch_args, tmp_path, capsys):
    assert main(batch_args(tmp_path, "--style-blend", "0.7,0.3")) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "dog__scream.png: " in err and "has 2 weights for 1 style image" in err
    assert not (tmp_path / "results.jsonl").exists()


def test_the_batch_takes_every_option_of_the_main_job_from_the_main_parser():
    from neural_style.cli import batch as batch_command
    from neural_style.cli import stylize

    def options(parser):
        return {action.option_strings[-1]: action for action in parser._actions if action.option_strings}

    main_options, batch_options = options(stylize.build_parser()), options(batch_command.build_parser())
    owned = set(batch_command.ONE_PICTURE) | {"--output-dir"}  # one picture's files; the batch names its own
    shared = set(StyleOptions.flags().values()) - owned
    assert len(shared) > 20 and shared <= set(batch_options)
    for flag in sorted(shared):
        ours, theirs = batch_options[flag], main_options[flag]
        described = [
            (a.dest, a.default, a.choices, a.nargs, a.help, getattr(a.type, "__name__", a.type)) for a in (ours, theirs)
        ]
        assert described[0] == described[1], flag


@pytest.mark.parametrize("flag", ["--content", "--output", "--resume", "--history"])
def test_one_picture_options_are_refused(flag, tmp_path, capsys):
    code = main(["batch", flag, "x", "--output-dir", str(tmp_path)])
    assert code == 2 and f"{flag} is for one picture" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------------
# Running


@pytest.mark.slow  # the grid fixture: six jobs, about 20 s on 2 shared cores
def test_a_3_x_2_grid_writes_6_pictures_and_6_rows(grid):
    tmp_path, code = grid
    assert code == 0
    assert png_names(tmp_path) == GRID
    rows = results_rows(tmp_path)
    assert sorted(row["output"] for row in rows) == GRID
    for row in rows:
        assert row["status"] == DONE and row["error"] is None and row["iterations"] == 2
        assert row["fingerprint"].startswith("sha256:") and row["seconds"] > 0 and ":" in row["worker"]
        assert np.isfinite([row["J"], row["J_content"], row["J_style"]]).all()
        assert iio.imread(tmp_path / row["output"]).shape == (SIZE, SIZE, 3)
    assert len({row["fingerprint"] for row in rows}) == 6


@pytest.mark.slow  # the grid fixture: six jobs, about 20 s on 2 shared cores
def test_each_picture_is_the_main_jobs_picture(grid, batch_args, folders, tmp_path):
    args = batch_args(tmp_path)
    shared = args[args.index("--weights") : args.index("--format")]  # weights, size, iterations, seed
    # One pair (the grid's last): the main job's picture for it, run on its own, is the batch's.
    content, style, output = (
        folders / "contents" / "tree.png",
        folders / "styles" / "starry_night.png",
        tmp_path / "o.png",
    )
    pair = ["--content", str(content), "--style", str(style), "--output", str(output)]
    assert main([*pair, *shared, "--save-every", "0", "--quiet"]) == 0
    np.testing.assert_array_equal(iio.imread(grid[0] / "tree__starry_night.png"), iio.imread(output))


def test_an_unreadable_content_fails_its_jobs_and_the_rest_are_done(batch_args, folders, tmp_path, capsys):
    contents = tmp_path / "contents"
    contents.mkdir()
    for name in ("photo",):
        (contents / f"{name}.png").write_bytes((folders / "contents" / f"{name}.png").read_bytes())
    (contents / "broken.png").write_bytes(b"not a picture at all")
    args = batch_args(tmp_path / "out")
    args[args.index("--contents") + 1] = str(contents)
    assert main(args) == 1
    rows = {row["output"]: row for row in results_rows(tmp_path / "out")}
    assert sorted(rows) == [f"{c}__{s}.png" for c in ("broken", "photo") for s in ("scream", "starry_night")]
    for name, row in rows.items():
        if name.startswith("broken__"):
            assert row["status"] == FAILED and "broken.png: not a readable image" in row["error"]
            assert "\n" not in row["error"] and row["fingerprint"] is None
        else:
            assert row["status"] == DONE
    assert png_names(tmp_path / "out") == sorted(name for name in rows if not name.startswith("broken__"))
    assert "broken__scream.png: " in capsys.readouterr().err


@pytest.mark.slow  # the grid fixture: six jobs, about 20 s on 2 shared cores
def test_a_second_run_skips_finished_jobs_and_redoes_a_deleted_one(grid, batch_args, tmp_path):
    tmp_path = tmp_path / "copy"
    shutil.copytree(grid[0], tmp_path)
    stamps = {name: (os.stat(tmp_path / name).st_ino, os.stat(tmp_path / name).st_mtime_ns) for name in GRID}
    deleted = GRID[2]
    os.remove(tmp_path / deleted)
    assert main(batch_args(tmp_path)) == 0
    second = results_rows(tmp_path)[6:]
    assert sorted((row["output"], row["status"]) for row in second) == sorted(
        (name, DONE if name == deleted else SKIPPED) for name in GRID
    )
    for name in GRID:
        if name != deleted:
            assert (os.stat(tmp_path / name).st_ino, os.stat(tmp_path / name).st_mtime_ns) == stamps[name]
    assert png_names(tmp_path) == GRID
    latest = read_results(tmp_path / "results.jsonl")
    assert {row["fingerprint"] for row in latest.values()} == {row["fingerprint"] for row in results_rows(tmp_path)[:6]}


def test_other_settings_or_force_run_the_jobs_again(batch_args, folders, tmp_path):
    args = batch_args(tmp_path)
    args[args.index("--contents") + 1] = str(folders / "contents" / "dog.png")
    args[args.index("--styles") + 1] = str(folders / "styles" / "scream.png")
    assert main(args) == 0
    assert main(args + ["--force"]) == 0
    args[args.index("--seed") + 1] = "4"
    assert main(args) == 0
    assert main(args) == 0
    rows = results_rows(tmp_path)
    assert [row["status"] for row in rows] == [DONE, DONE, DONE, SKIPPED]
    assert rows[0]["fingerprint"] == rows[1]["fingerprint"] != rows[2]["fingerprint"] == rows[3]["fingerprint"]


def test_stylize_many_yields_results_as_they_finish(folders, mat_file, tmp_path):
    jobs = grid_jobs([folders / "contents" / "dog.png"], [folders / "styles"], tmp_path, "png")
    dog, scream = str(folders / "contents" / "dog.png"), str(folders / "styles" / "scream.png")
    jobs.append(Job(dog, (str(folders / "missing.png"),), str(tmp_path / "m.png")))
    jobs.append(Job(dog, (scream,), str(tmp_path / "nan.png"), {"learning_rate": 1e30, "iterations": 20}))
    results = list(
        stylize_many(jobs, tmp_path / "results.jsonl", weights=str(mat_file[0]), height=SIZE, width=SIZE, iterations=2)
    )
    assert [result.status for result in results] == [DONE, DONE, FAILED, FAILED]
    assert results[2].error == f"style: image not found: {folders / 'missing.png'}"
    assert results[3].error.startswith("the cost became ") and "learning" in results[3].error
    assert all(result.pixels is None for result in results)  # written, then dropped
    assert sorted(png_names(tmp_path)) == ["dog__scream.png", "dog__starry_night.png"]


def test_ctrl_c_inside_a_job_stops_the_batch_rather_than_failing_the_job(weights, monkeypatch):
    stylize_module = importlib.import_module("neural_style.stylize")  # where Worker.run takes StyleTransfer from

    def interrupted_while_tracing(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            # What TensorFlow's tf_stack does when Ctrl-C lands inside its context manager (the interrupt its context).
            raise AssertionError("Concurrent access?")

    monkeypatch.setattr(stylize_module, "StyleTransfer", interrupted_while_tracing)
    worker = Worker(StyleOptions(weights=weights))
    with pytest.raises(KeyboardInterrupt):
        worker.run(Job("photo.png", ("painting.png",), "out.png"))
    monkeypatch.setattr(stylize_module, "StyleTransfer", lambda *args, **kwargs: 1 / 0)
    assert worker.run(Job("photo.png", ("painting.png",), "out.png")).error == "ZeroDivisionError: division by zero"


def test_ctrl_c_while_a_picture_is_written_waits_for_the_picture_and_its_row(folders, mat_file, tmp_path, monkeypatch):
    batch_module = importlib.import_module("neural_style.batch")  # where stylize_many takes write_image from
    write_image = batch_module.write_image

    def interrupted_while_writing(path, pixels):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the write begins
        time.sleep(0.05)  # Python runs a handler between instructions: time for it to have run, were it to raise
        return write_image(path, pixels)

    monkeypatch.setattr(batch_module, "write_image", interrupted_while_writing)
    jobs = grid_jobs([folders / "contents" / "dog.png"], [folders / "styles"], tmp_path, "png")
    runs = stylize_many(jobs, tmp_path / "results.jsonl", weights=str(mat_file[0]), height=SIZE, width=SIZE)
    seen = []
    with pytest.raises(KeyboardInterrupt):
        for result in runs:
            seen.append(result)
    assert [result.status for result in seen] == [DONE]  # the first job, counted; the second never started
    name = os.path.basename(seen[0].job.output)
    assert [row["output"] for row in results_rows(tmp_path)] == [name] and png_names(tmp_path) == [name]
    np.testing.assert_array_equal(iio.imread(seen[0].job.output).shape, (SIZE, SIZE, 3))


@pytest.mark.slow
def test_ctrl_c_keeps_finished_pictures_and_the_next_run_completes(batch_args, tmp_path):
    args = batch_args(tmp_path / "out", contents=PAIR[0], styles=PAIR[1])
    # Each job a second or more even on a fast CPU (16x16 iterations take about a millisecond): the signal sent when
    # the first row appears lands in the second job, not after the batch (Python then dies of it, silently).
    args[args.index("--iterations") + 1] = "1000"
    command = [sys.executable, "-m", "neural_style", *args]
    results = tmp_path / "out" / "results.jsonl"
    with running(command, stderr=subprocess.PIPE, text=True, env=checkout_environment()) as process:
        wait_until(process, lambda: has_a_line(results), 120, "no job finished")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted: " in err
    finished = [row["output"] for row in results_rows(tmp_path / "out")]
    assert len(finished) == 1 and png_names(tmp_path / "out") == finished
    assert main(args) == 0
    second = results_rows(tmp_path / "out")[len(finished) :]
    assert sorted(row["output"] for row in second if row["status"] == SKIPPED) == sorted(finished)
    assert sorted(row["output"] for row in second if row["status"] == DONE) == sorted(set(PAIR_GRID) - set(finished))
    assert png_names(tmp_path / "out") == PAIR_GRID


@pytest.mark.slow
def test_two_local_workers_make_the_same_pictures_when_one_dies(grid, folders, mat_file, tmp_path):
    contents, styles = (
        [folders / "contents" / name for name in PAIR[0]],
        [folders / "styles" / name for name in PAIR[1]],
    )
    jobs = grid_jobs(contents, styles, tmp_path, "png")
    options = {"weights": str(mat_file[0]), "height": SIZE, "width": SIZE, "iterations": 2, "seed": 3}  # the grid's
    results, killed = [], []
    for result in stylize_many(jobs, tmp_path / "results.jsonl", workers=2, **options):
        results.append(result)
        if not killed:
            # The other worker is in the middle of its job (or just done): killed, its job is run again.
            other = [p for p in multiprocessing.active_children() if str(p.pid) != result.worker.split(":")[1]]
            os.kill(other[0].pid, signal.SIGKILL)
            killed.append(other[0].pid)
    assert {result.status for result in results} == {DONE} and len(results) == 2
    assert all(result.worker.split(":")[1] != str(os.getpid()) for result in results)
    assert png_names(tmp_path) == PAIR_GRID
    for name in png_names(tmp_path):
        np.testing.assert_array_equal(iio.imread(tmp_path / name), iio.imread(grid[0] / name))
    assert not multiprocessing.active_children()


# ---------------------------------------------------------------------------------------------------------------------
# Ray: a two-node cluster on this machine, every process on 127.0.0.1


@pytest.fixture
def ray_cluster(monkeypatch):
    """A head node and a worker node as separate processes, one CPU each, on loopback; ended after the test."""
    # Read when ray is imported: keep every Ray process on 127.0.0.1 rather than the machine's interface address.
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        worker_node = cluster.add_node(num_cpus=1)
        yield cluster, worker_node
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow
def test_a_ray_cluster_makes_the_same_pictures_when_a_worker_dies(ray_cluster, grid, batch_args, tmp_path):
    import ray

    cluster, worker_node = ray_cluster
    handler = signal.getsignal(signal.SIGTERM)
    ray.init(address=cluster.address, log_to_driver=False)
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"} and len(ray.nodes()) == 2
    ray.shutdown()
    signal.signal(signal.SIGTERM, handler)  # Ray's driver leaves its own; the batch's driver is started by main
    raylet = worker_node.all_processes["raylet"][0].process.pid
    killed = []

    def kill_a_running_job():
        # The worker node's process running a job (Ray names it after the task), killed in the middle of the job.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            for pid, command in child_processes(raylet).items():
                if command.startswith("ray::_ray_job"):
                    time.sleep(0.5)
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.1)

    killer = threading.Thread(target=kill_a_running_job)
    killer.start()
    try:
        code = main(batch_args(tmp_path, "--ray", cluster.address))
    finally:
        killer.join()
    assert killed, "no job was seen running on the worker node"
    assert signal.getsignal(signal.SIGTERM) is handler  # the batch put back what Ray's driver replaced
    rows = {row["output"]: row for row in results_rows(tmp_path)}
    assert sorted(rows) == GRID
    # Ray retries a task whose worker died: every job done (a job whose worker kept dying would be a failed row).
    assert code == 0 and {row["status"] for row in rows.values()} == {DONE}
    expected = {row["output"]: row for row in results_rows(grid[0])}
    for name, row in rows.items():
        assert row["fingerprint"] == expected[name]["fingerprint"]
        np.testing.assert_array_equal(iio.imread(tmp_path / name), iio.imread(grid[0] / name))
