"""Run by tests/test_fast_multiworker.py as one worker of a cluster of processes on 127.0.0.1 (TF_CONFIG in the
environment), in the folder that stands for its machine's disk:

    python -m tests.multiworker_run STYLE PICTURES STEPS [--compare OUT.npz] [--pause MARKER]

trains with train_fast_model into model.keras (as `neural-style train --output model.keras` does) under the strategy
TF_CONFIG names, and prints its summary as JSON. --compare: then the same worker processes run
tests/distributed_run.compare_runs on the pictures' own pipeline (data.training_dataset, each worker its part), the
chief also on one device, and the chief writes the weights to OUT.npz. --pause: the worker of index 1 stops after the
first checkpoint (writes MARKER, then sleeps for the test to kill it), once: a run that finds MARKER trains on.
"""

import argparse
import json
import os
import time

import keras
import numpy as np

from neural_style.fast import data
from neural_style.fast.distribute import choose_strategy
from neural_style.fast.train import train_fast_model
from neural_style.weights import random_vgg_weights
from tests import distributed_run

TOY = {"size": 32, "batch_size": 4, "checkpoint_every": 2, "seed": 7}


class _PauseOnce(keras.callbacks.Callback):
    """Stops after the first epoch's end (after the checkpoint) until the test kills the process."""

    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0 and not os.path.exists(self.marker):
            with open(self.marker, "w") as file:
                file.write(str(os.getpid()))
            time.sleep(300)  # bounded; the test kills it within seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("style")
    parser.add_argument("pictures")
    parser.add_argument("steps", type=int)
    parser.add_argument("--compare")
    parser.add_argument("--pause")
    args = parser.parse_args()
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    # MultiWorkerMirroredStrategy, before anything starts TensorFlow's runtime; a worker that never comes ends this
    # one with one line within the test's deadline.
    strategy = choose_strategy(batch_size=TOY["batch_size"], cluster_timeout=300)
    pause = [_PauseOnce(args.pause)] if args.pause and index == 1 else []
    weights = random_vgg_weights(seed=0, width_divisor=16)
    _, summary = train_fast_model(
        args.style,
        args.pictures,
        "model.keras",
        weights=weights,
        steps=args.steps,
        callbacks=pause,
        strategy=strategy,
        **TOY,
    )
    print(json.dumps({key: summary[key] for key in ("steps", "resumed_at", "chief")}), flush=True)
    if args.compare:
        pictures = data.Pictures(args.pictures)
        settings = (distributed_run.SIZE, distributed_run.BATCH, TOY["seed"], 0, distributed_run.STYLES)
        results = distributed_run.compare_runs(
            strategy,
            lambda pipeline: data.training_dataset(pictures, *settings, pipeline=pipeline),
            one_device=summary["chief"],
        )
        if summary["chief"]:
            np.savez(args.compare, **results)


if __name__ == "__main__":
    main()
