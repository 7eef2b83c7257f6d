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
    results = np.load(path)
    assert_same_training(results)
    # A worker of two replicas taking the chief's state: the chief's values exactly, once (not once per replica);
    # nothing from a worker that is not the chief (its share of the cluster's sum is zeros).
    count = len([key for key in results if key.startswith("from_chief_True_before_")])
    assert count > 50  # every weight and Adam's moments and step
    assert int(results["from_chief_True_epoch"]) == 5 and int(results["from_chief_False_epoch"]) == 0
    for i in range(count):
        np.testing.assert_array_equal(results[f"from_chief_True_after_{i}"], results[f"from_chief_True_before_{i}"])
        assert not np.any(results[f"from_chief_False_after_{i}"])
