"""Training across machines: MultiWorkerMirroredStrategy when TF_CONFIG names a cluster (a malformed TF_CONFIG is one
line, before any work), each worker's input its part of every global batch, and two worker processes on 127.0.0.1
(tests/multiworker_run.py) that end with the one-device weights, where only the chief writes, and that continue after
a worker is killed when both are started again with the same command.

The command's start-up on a cluster never hangs: a bad own address (port, host, port in use) and a batch the workers
cannot split are one line, exit 2, before anything waits; a worker that never comes ends the wait with one line
within --cluster-timeout; SIGTERM and Ctrl-C end the wait at once (143, 130); an address that answers but is no task
of the training ends the task with one line (the watchdog of the strategy's own wait). Each is a `neural-style train`
process with TF_CONFIG on 127.0.0.1, since TensorFlow's own wait for a peer ignores signals and cannot be ended in
the test's process.

Every wait is bounded: each cluster run has a deadline after which its processes are killed and the test fails, and
every process started is ended."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import imageio.v3 as iio
import keras
import numpy as np
import pytest
import tensorflow as tf

from neural_style.checks import OptionError
from neural_style.cli import main
from neural_style.fast import data
from neural_style.fast import train as train_module
from neural_style.fast.distribute import tf_config_cluster
from neural_style.fast.network import build_transform_net
from tests.distributed_check import assert_same_training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 4  # two checkpoints of 2 steps (multiworker_run.TOY)
# Seconds for one cluster run: the longest (training, then the SGD and Adam comparison) took 225 s on this 2-core
# machine at a load average of 8; the killed and the restarted runs 95 and 130 s.
DEADLINE = 600


def _cluster(index, ports):
    return json.dumps(
        {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, None),
        ("", None),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}', None),  # one task: one machine
        (_cluster(1, [5000, 5001]), (2, "worker", 1)),
        ('{"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]}, "task": {"type": "chief"}}', (3, "chief", 0)),
    ],
)
def test_tf_config_names_the_cluster(text, expected):
    assert tf_config_cluster(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("{cluster", "is not JSON"),
        ("[1, 2]", 'no "cluster"'),
        ('{"cluster": {"worker": "a:1,b:2"}, "task": {"type": "worker", "index": 0}}', '"host:port" addresses'),
        ('{"cluster": {"worker": ["a:1", "b"]}, "task": {"type": "worker", "index": 0}}', '"host:port" addresses'),
        ('{"cluster": {"ps": ["a:1"], "worker": ["b:2"]}, "task": {"type": "worker", "index": 0}}', '"ps" task'),
        ('{"cluster": {"worker": ["a:1", "b:2"]}}', 'no "task"'),
        ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}', "task index 2"),
        ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "chief", "index": 0}}', 'no "task"'),
        ('{"cluster": {"chief": ["a:1", "b:2"]}, "task": {"type": "chief", "index": 0}}', "more than one chief"),
        ('{"cluster": {"worker": ["a:70000", "b:2"]}, "task": {"type": "worker", "index": 1}}', "a:70000 has a port"),
        ('{"cluster": {"worker": ["a:1", "b:0"]}, "task": {"type": "worker", "index": 0}}', "b:0 has a port outside"),
        ('{"cluster": {"chief": ["a:1"], "worker": ["a:1"]}, "task": {"type": "chief"}}', "a:1 for two tasks"),
    ],
)
def test_a_malformed_tf_config_is_one_line(text, message):
    with pytest.raises(OptionError, match="TF_CONFIG") as error:
        tf_config_cluster(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_command_refuses_a_malformed_tf_config_before_any_work(tmp_path, monkeypatch, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    iio.imwrite(photos / "p.png", np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 5}}')
    model = tmp_path / "m.keras"
    argv = ["train", "--style", str(photos / "p.png"), "--images", str(photos), "--output", str(model), "--quiet"]
    assert main([*argv, "--weights", "random", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "TF_CONFIG task index 5" in err and "\n" not in err
    assert sorted(os.listdir(tmp_path)) == ["photos"]  # no work folder, no model


def test_the_cluster_timeout_is_checked_and_kept_out_of_the_recorded_settings(tmp_path, capsys):
    from neural_style.fast.options import TrainOptions

    options = TrainOptions(cluster_timeout=2.5).validate()
    assert options.cluster_timeout == 2.5 and "cluster_timeout" not in options.settings()
    iio.imwrite(tmp_path / "p.png", np.zeros((8, 8, 3), np.uint8))
    picture, model = str(tmp_path / "p.png"), str(tmp_path / "m.keras")
    argv = ["train", "--style", picture, "--images", str(tmp_path), "--output", model, "--cluster-timeout", "0"]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "neural-style: error: --cluster-timeout must be a finite number > 0 seconds, got 0.0"
    )


def test_a_lost_task_is_one_line_that_says_how_to_continue(tmp_path, monkeypatch, capsys):
    # What a task's collective raises when another task stops (seen in the killed-worker test below).
    lost = tf.errors.UnavailableError(
        None,
        None,
        "{{function_node __wrapped__CollectiveReduceV2}} Collective ops is aborted by: Error reported from "
        "/job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats):\n/job:worker/task:1",
    )

    def train(*args, **kwargs):
        raise lost

    monkeypatch.setattr(train_module, "train_fast_model", train)
    iio.imwrite(tmp_path / "p.png", np.zeros((8, 8, 3), np.uint8))
    argv = [
        "train",
        "--style",
        str(tmp_path / "p.png"),
        "--images",
        str(tmp_path),
        "--output",
        str(tmp_path / "m.keras"),
    ]
    assert main([*argv, "--weights", "random", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "/job:worker/task:1: The following tasks are unhealthy" in err and "start every task again" in err


@pytest.mark.parametrize("pipelines, replicas", [(2, 2), (2, 4), (1, 2)])
def test_each_worker_takes_its_part_of_the_one_device_batches(tmp_path, pipelines, replicas):
    for i in range(5):
        iio.imwrite(tmp_path / f"p{i}.png", np.full((10 + i, 12, 3), 40 * i, np.uint8))
    pictures = data.Pictures(tmp_path)
    batch, steps, start = 4, 4, [1]  # a resumed training: from the second global batch
    one = list(data.training_dataset(pictures, 8, batch, 3, start, styles=3).take(steps))
    parts = [
        list(
            data.training_dataset(
                pictures, 8, batch, 3, start, styles=3, pipeline=tf.distribute.InputContext(pipelines, p, replicas)
            ).take(steps * replicas // pipelines)
        )
        for p in range(pipelines)
    ]
    per_worker = replicas // pipelines
    for step, (crops, styles) in enumerate(one):
        # Replica r of worker p takes worker p's (step * per_worker + r)-th element: the global batch in order.
        elements = [parts[p][step * per_worker + r] for p in range(pipelines) for r in range(per_worker)]
        np.testing.assert_array_equal(np.concatenate([e[0] for e in elements]), crops)  # the same crops, exactly
        np.testing.assert_array_equal(np.concatenate([e[1] for e in elements]), styles)
        assert set(styles.numpy()) == {(start[0] + step) % 3}  # the styles in turn, global batch after batch


def _free_ports(count):
    """Ports free on 127.0.0.1 now: each bound (port 0: the system's choice), all held until all are chosen."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start(tmp_path, ports, run, *args):
    """The two workers, each in its own folder (its machine's disk) with its own temporary folder."""
    processes = []
    for index in range(2):
        machine, temporary = tmp_path / f"machine{index}", tmp_path / f"tmp{index}"
        machine.mkdir(exist_ok=True)
        temporary.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "TF_CONFIG": _cluster(index, ports),
            "TMPDIR": str(temporary),
            "PYTHONPATH": ROOT,
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        log = open(tmp_path / f"{run}-{index}.log", "w")
        with log:
            processes.append(
                subprocess.Popen(
                    ["nice", "-n", "5", sys.executable, "-m", "tests.multiworker_run", *map(str, args)],
                    cwd=machine,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return processes


def _log(tmp_path, run):
    return "\n".join((tmp_path / f"{run}-{i}.log").read_text()[-1500:] for i in range(2))


def _finish(processes, tmp_path, run, deadline=DEADLINE):
    """Waits (bounded) for both workers to succeed; returns the chief's summary."""
    end = time.monotonic() + deadline
    for process in processes:
        try:
            process.wait(timeout=max(1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{run}: a worker did not finish in {deadline} s:\n{_log(tmp_path, run)}")
        assert process.returncode == 0, _log(tmp_path, run)
    lines = [(tmp_path / f"{run}-{i}.log").read_text() for i in range(2)]
    summaries = [json.loads(next(line for line in text.splitlines() if line.startswith("{"))) for text in lines]
    assert [s["chief"] for s in summaries] == [True, False]  # worker 0 is the chief (the cluster has no "chief")
    return summaries[0]


def _end(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _written(tmp_path):
    """The files in each machine's folder and each worker's temporary folder, after a run."""
    return [
        sorted(str(p.relative_to(tmp_path / folder)) for p in (tmp_path / folder).rglob("*"))
        for folder in ("machine0", "machine1", "tmp0", "tmp1")
    ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two workers on 127.0.0.1 train uninterrupted, then run the SGD and Adam comparison (tests/distributed_run)."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    rng = np.random.default_rng(0)
    (tmp_path / "photos").mkdir()
    for i in range(6):
        y, x = np.mgrid[0 : 40 + 3 * i, 0:48]
        picture = np.stack([x * 5 + i * 20, y * 6, (x + y) * 3], axis=-1) % 256 + rng.integers(
            0, 30, (40 + 3 * i, 48, 3)
        )
        iio.imwrite(tmp_path / "photos" / f"p{i}.png", picture.clip(0, 255).astype(np.uint8))
    iio.imwrite(tmp_path / "style.png", rng.integers(0, 256, (40, 40, 3)).astype(np.uint8))
    ports = _free_ports(2)
    common = (tmp_path / "style.png", tmp_path / "photos", STEPS)
    processes = _start(tmp_path, ports, "whole", *common, "--compare", tmp_path / "weights.npz")
    try:
        summary = _finish(processes, tmp_path, "whole")
    finally:
        _end(processes)
    return tmp_path, ports, common, summary


@pytest.mark.slow
def test_two_workers_end_with_the_one_device_weights_and_only_the_chief_writes(cluster):
    tmp_path, _, _, summary = cluster
    assert summary["steps"] == STEPS and summary["resumed_at"] is None
    # The SGD and Adam runs of the same two processes, each worker its part of the pictures' pipeline, against the
    # chief's one-device runs of the same global batches.
    assert_same_training(np.load(tmp_path / "weights.npz"))
    # Only the chief wrote: its model, its work folder removed at the end; the other worker wrote nothing where it
    # was told to write, and its own temporary work folder is gone.
    assert _written(tmp_path) == [["model.keras"], [], [], []]


@pytest.mark.slow
def test_a_killed_worker_restarted_with_the_same_command_continues_to_the_same_weights(cluster):
    tmp_path, ports, common, _ = cluster
    os.rename(tmp_path / "machine0" / "model.keras", tmp_path / "whole.keras")
    marker = tmp_path / "paused"
    processes = _start(tmp_path, ports, "killed", *common, "--pause", marker)
    try:
        # Worker 1 stops after the first checkpoint; the chief has written it and waits for worker 1 in step 3.
        checkpoint = tmp_path / "machine0" / "model.train" / "training_metadata.json"
        end = time.monotonic() + DEADLINE
        while not (marker.exists() and checkpoint.exists()):
            assert all(p.poll() is None for p in processes), _log(tmp_path, "killed")
            assert time.monotonic() < end, f"no checkpoint in {DEADLINE} s:\n{_log(tmp_path, 'killed')}"
            time.sleep(0.2)
        assert json.loads(checkpoint.read_text())["epoch"] == 1
        os.kill(processes[1].pid, signal.SIGKILL)
        processes[1].wait(timeout=30)
        # The chief cannot go on without it: it fails (the collective's peer is gone) or it waits; either way it is
        # stopped, as a cluster manager stops the other tasks of a failed job.
        try:
            processes[0].wait(timeout=60)
        except subprocess.TimeoutExpired:
            processes[0].kill()
    finally:
        _end(processes)
    assert not (tmp_path / "machine0" / "model.keras").exists()
    # A killed process leaves its temporary files (TensorFlow's autograph sources, the worker's notes): cleared, so
    # that what the restarted run writes is seen alone.
    for index in range(2):
        shutil.rmtree(tmp_path / f"tmp{index}")
    processes = _start(tmp_path, ports, "restarted", *common, "--pause", marker)  # the same commands again
    try:
        summary = _finish(processes, tmp_path, "restarted")
    finally:
        _end(processes)
    assert summary["resumed_at"] == 2
    written = _written(tmp_path)
    assert written[0] == ["model.keras"] and written[1:] == [[], [], []]
    # The same batches, the chief's restored weights and Adam moments sent to both: the same float32 arithmetic as
    # the uninterrupted run, so equal weights up to float32 rounding in a different thread schedule (a few ulps of
    # weights of order 0.1, as for the one-process resume in test_fast_train).
    whole = keras.models.load_model(tmp_path / "whole.keras")
    restarted = keras.models.load_model(tmp_path / "machine0" / "model.keras")
    for a, b in zip(whole.get_weights(), restarted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The steps did change the weights: the comparison is not of two untouched networks.
    untouched = build_transform_net(seed=7)  # multiworker_run.TOY's seed
    assert max(np.abs(a - b).max() for a, b in zip(whole.get_weights(), untouched.get_weights())) > 1e-4


# ---------------------------------------------------------------------------------------------------------------------
# `neural-style train` as a task of a cluster on 127.0.0.1: its start-up never hangs.

COMMAND_DEADLINE = 90  # seconds for one command (importing TensorFlow takes 3 to 10 s on this machine)


@pytest.fixture
def pictures(tmp_path):
    """A style and four photographs, small: the training commands below train 16x16 crops."""
    rng = np.random.default_rng(3)
    (tmp_path / "photos").mkdir()
    for i in range(4):
        iio.imwrite(tmp_path / "photos" / f"p{i}.png", rng.integers(0, 256, (20, 24, 3)).astype(np.uint8))
    iio.imwrite(tmp_path / "style.png", rng.integers(0, 256, (20, 20, 3)).astype(np.uint8))
    return tmp_path


def _train(tmp_path, index, addresses, *args):
    """`neural-style train` as task `index` of a cluster of workers at `addresses`, in its own folder (its machine's
    disk) and temporary folder, started (a Popen: stderr piped)."""
    machine, temporary = tmp_path / f"machine{index}", tmp_path / f"tmp{index}"
    machine.mkdir(exist_ok=True)
    temporary.mkdir(exist_ok=True)
    tf_config = json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})
    env = {**os.environ, "TF_CONFIG": tf_config, "TMPDIR": str(temporary), "PYTHONPATH": ROOT}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"  # TensorFlow's own log lines left out: stderr is the command's alone
    command = [sys.executable, "-m", "neural_style", "train", "--style", str(tmp_path / "style.png")]
    command += ["--images", str(tmp_path / "photos"), "--output", "m.keras", "--weights", "random", "--size", "16"]
    command += ["--steps", "2", "--checkpoint-every", "1", "--quiet", *args]
    return subprocess.Popen(command, cwd=machine, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _ended(process, deadline=COMMAND_DEADLINE):
    """(exit code, stderr) of a command that must end within the deadline: killed and failed otherwise."""
    try:
        _, err = process.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate(timeout=30)
        pytest.fail(f"the command did not end in {deadline} s; its stderr:\n{err[-3000:]}")
    return process.returncode, err


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    return lines[0]


def _answers(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@pytest.fixture
def held_port():
    """A port of 127.0.0.1 that another program listens on for the test's duration."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.mark.parametrize("problem", ["port 70000", "unresolvable host", "port in use"])
def test_a_bad_own_address_is_one_line_before_any_work(pictures, held_port, problem):
    free = _free_ports(2)
    addresses = {
        "port 70000": ["127.0.0.1:70000", f"127.0.0.1:{free[1]}"],
        "unresolvable host": [f"nonexistent.invalid:{free[0]}", f"127.0.0.1:{free[1]}"],
        "port in use": [f"127.0.0.1:{held_port}", f"127.0.0.1:{free[1]}"],
    }[problem]
    code, err = _ended(_train(pictures, 0, addresses))  # no other task started: nothing may wait for it
    line = _one_line(err)
    assert code == 2 and line.startswith("neural-style: error: TF_CONFIG"), line
    assert {
        "port 70000": "address 127.0.0.1:70000 has a port outside 1..65535",
        "unresolvable host": "the address nonexistent.invalid:",
        "port in use": f"the port {held_port}, which this machine cannot listen on (Address already in use)",
    }[problem] in line
    assert os.listdir(pictures / "machine0") == []  # no work folder, no model


def test_a_batch_the_workers_cannot_split_is_one_line_before_they_connect(pictures):
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    code, err = _ended(_train(pictures, 0, addresses, "--batch-size", "3"))  # worker 1 never started
    assert code == 2
    assert _one_line(err) == (
        "neural-style: error: --batch-size 3 is the global batch, split over the 2 tasks of TF_CONFIG's cluster: "
        "give a multiple of 2"
    )
    assert os.listdir(pictures / "machine0") == []


def test_a_worker_that_never_comes_ends_the_wait_with_one_line(pictures):
    ports = _free_ports(2)
    process = _train(pictures, 0, [f"127.0.0.1:{p}" for p in ports], "--batch-size", "2", "--cluster-timeout", "3")
    code, err = _ended(process)
    assert code == 1
    assert _one_line(err) == (
        f"neural-style: error: TF_CONFIG's task worker 1 (127.0.0.1:{ports[1]}) never answered in 3 s; start it "
        "with the same command, check TF_CONFIG's addresses, or raise --cluster-timeout"
    )
    assert os.listdir(pictures / "machine0") == []


@pytest.mark.parametrize("signum, code, name", [(signal.SIGTERM, 143, " by SIGTERM"), (signal.SIGINT, 130, "")])
def test_a_signal_while_waiting_for_a_worker_ends_the_command_at_once(pictures, signum, code, name):
    ports = _free_ports(2)
    process = _train(pictures, 0, [f"127.0.0.1:{p}" for p in ports], "--batch-size", "2")  # waits up to 600 s
    try:
        # Its own port answers once it waits for worker 1 (which is never started).
        end = time.monotonic() + COMMAND_DEADLINE
        while not _answers(ports[0]):
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < end, "worker 0 never listened"
            time.sleep(0.2)
        time.sleep(1)  # well inside the wait
        sent = time.monotonic()
        process.send_signal(signum)
        returncode, err = _ended(process, deadline=10)
        took = time.monotonic() - sent
    finally:
        _end([process])
    assert returncode == code and took < 5, (returncode, took)
    assert _one_line(err) == (
        f"neural-style: error: interrupted{name}; no checkpoint was written yet; run the same command again to continue"
    )
    assert os.listdir(pictures / "machine0") == []


def test_an_address_that_answers_but_is_no_task_ends_the_task_with_one_line(pictures, held_port):
    # Something else listens at worker 1's address: the wait sees it answer, and TensorFlow's own wait for worker 1
    # to join (no signal handled there) is ended by the watchdog.
    free = _free_ports(1)[0]
    process = _train(
        pictures, 0, [f"127.0.0.1:{free}", f"127.0.0.1:{held_port}"], "--batch-size", "2", "--cluster-timeout", "4"
    )
    start = time.monotonic()
    try:
        code, err = _ended(process)
    finally:
        _end([process])
    assert code == -signal.SIGKILL and time.monotonic() - start > 4
    assert _one_line(err) == (
        "neural-style: error: TF_CONFIG's tasks answered but did not all join the training in 4 s (is every address "
        "a task of this training?); start every task again with the same command, or raise --cluster-timeout"
    )


def test_two_workers_with_a_picture_each_train_to_the_end(pictures):
    # --batch-size 2 on two workers: each replica's batch of one reaches the costs without a static size.
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [_train(pictures, index, addresses, "--batch-size", "2") for index in range(2)]
    try:
        results = [_ended(process, deadline=DEADLINE) for process in processes]
    finally:
        _end(processes)
    assert results == [(0, ""), (0, "")]
    assert [sorted(os.listdir(pictures / f"machine{i}")) for i in range(2)] == [["m.keras"], []]
    assert len(keras.models.load_model(pictures / "machine0" / "m.keras").get_weights()) > 0


@pytest.mark.slow
def test_sigterm_during_a_cluster_training_stops_the_task(pictures):
    # TensorFlow's cluster sets its own SIGTERM handler (a preemption notice): without Python's handler given back,
    # the worker would train on.
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [_train(pictures, index, addresses, "--batch-size", "2", "--steps", "400") for index in range(2)]
    try:
        end = time.monotonic() + DEADLINE
        # Worker 1 makes its own work folder once the strategy is made, before its first step.
        while not list((pictures / "tmp1").glob("neural-style-worker-*")):
            assert all(p.poll() is None for p in processes), [p.communicate()[1][-2000:] for p in processes]
            assert time.monotonic() < end, "worker 1 never started training"
            time.sleep(0.2)
        sent = time.monotonic()
        processes[1].send_signal(signal.SIGTERM)
        code, err = _ended(processes[1], deadline=30)
        took = time.monotonic() - sent
        # The chief cannot go on without worker 1: it ends too (its collective aborted), with one line.
        chief_code, chief_err = _ended(processes[0], deadline=120)
    finally:
        _end(processes)
    assert code == 143 and took < 10, (code, took)
    assert _one_line(err).startswith("neural-style: error: interrupted by SIGTERM;")
    assert chief_code == 1 and "a task of the training's cluster (TF_CONFIG) was lost" in _one_line(chief_err)
