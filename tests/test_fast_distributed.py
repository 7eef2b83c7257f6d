"""Training under tf.distribute: MirroredStrategy over two logical CPU devices ends with the weights of a one-device
run with the same global batch and data order (tests/distributed_run.py, in a process of its own because logical
devices must be set before TensorFlow starts; the comparison is tests/distributed_check.py's)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.distributed_check import assert_same_training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_mirrored_over_two_devices_equals_one_device(tmp_path):
    path = tmp_path / "weights.npz"
    run = subprocess.run(
        [sys.executable, "-m", "tests.distributed_run", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert_same_training(np.load(path))
