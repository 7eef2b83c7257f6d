"""Run by tests/test_fast_distributed.py in a process of its own (logical devices must be set before TensorFlow
starts): trains the same toy network on one device and under MirroredStrategy over two logical CPUs, with the same
global batch and data order, and writes the weights of each run to the .npz file named by argv[1].
tests/multiworker_run.py runs the same comparison (`compare_runs`) across two worker processes."""

import sys

import keras
import numpy as np
import tensorflow as tf

from neural_style.fast.loss import FastStyleTrainer
from neural_style.fast.network import build_transform_net
from neural_style.fast.options import TrainOptions
from neural_style.vgg import load_vgg_model
from neural_style.weights import random_vgg_weights

SIZE, BATCH, STEPS, STYLES = 32, 4, 3, 2
ADAM_LEARNING_RATE = 1e-3


def crops_dataset(context=None):
    """STEPS batches of BATCH random crops with the styles in turn; per replica under a strategy (`context`)."""
    rng = np.random.default_rng(0)
    crops = rng.uniform(0, 255, (STEPS * BATCH, SIZE, SIZE, 3)).astype(np.float32)
    styles = np.repeat(np.arange(STEPS) % STYLES, BATCH).astype(np.int32)
    batch = BATCH if context is None else context.get_per_replica_batch_size(BATCH)
    assert context is None or context.num_input_pipelines == 1  # one process: the replicas take the parts in turn
    return tf.data.Dataset.from_tensor_slices((crops, styles)).batch(batch, drop_remainder=True)


def run(strategy, optimizer, dataset_fn=crops_dataset):
    """Weights before and after STEPS steps of model.fit on dataset_fn's batches (global batch BATCH), under
    `strategy` (its distribute_datasets_from_function gives each replica its part)."""
    options = TrainOptions(size=SIZE, batch_size=BATCH).validate()
    rng = np.random.default_rng(1)
    with strategy.scope():
        vgg = load_vgg_model(random_vgg_weights(seed=0, width_divisor=16), SIZE, SIZE)
        grams = [
            {name: tf.constant(rng.uniform(0, 1e3, (n, n)).astype(np.float32)) for name, n in channels(vgg, options)}
            for _ in range(STYLES)
        ]
        net = build_transform_net(seed=1, styles=STYLES)
        trainer = FastStyleTrainer(net, vgg, grams, options)
        trainer.compile(optimizer=optimizer())
        trainer.build((None, SIZE, SIZE, 3))  # as train_fast_model does: built before fit
        trainer.optimizer.build(net.trainable_variables)
    initial = [w.numpy() for w in net.weights]
    dataset = strategy.distribute_datasets_from_function(dataset_fn)
    trainer.fit(dataset, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
    return initial, [w.numpy() for w in net.weights]


def channels(vgg, options):
    names = [name for name, _ in options.style_layers]
    return [(name, a.shape[-1]) for name, a in zip(names, vgg(tf.zeros((1, SIZE, SIZE, 3)), names))]


def compare_runs(strategy, dataset_fn=crops_dataset, one_device=True):
    """
    SGD and Adam, each trained on one device and under `strategy` from the same weights on the same batches.

    Arguments:
    strategy -- the several-device tf.distribute strategy
    dataset_fn -- function(tf.distribute.InputContext or None) -> the batches (per replica under a strategy)
    one_device -- False on a cluster's other workers: only the several-device runs (the chief compares)

    Returns:
    results -- dict for tests/distributed_check.assert_same_training
    """
    results = {"steps": STEPS, "adam_learning_rate": ADAM_LEARNING_RATE}
    for name, optimizer in (
        ("sgd", lambda: keras.optimizers.SGD(1e-12)),
        ("adam", lambda: keras.optimizers.Adam(ADAM_LEARNING_RATE)),
    ):
        # Several devices first: a cluster's workers meet in these runs; the one-device runs need nobody.
        start_two, two = run(strategy, optimizer, dataset_fn)
        if not one_device:
            continue
        start, one = run(tf.distribute.get_strategy(), optimizer, lambda context: dataset_fn(None))
        results[f"{name}_same_start"] = all(np.array_equal(a, b) for a, b in zip(start, start_two))
        for i, (s, a, b) in enumerate(zip(start, one, two)):
            results[f"{name}_start_{i}"], results[f"{name}_one_{i}"], results[f"{name}_two_{i}"] = s, a, b
    return results


def from_chief(strategy, chief):
    """
    The weights and Adam's state that FromChief leaves on a worker with two replicas (a machine with two GPUs): the
    chief's own values when it is the chief, zeros elsewhere (what the other workers' sum gets from them).
    """
    from neural_style.fast.distribute import FromChief

    with strategy.scope():
        net = build_transform_net(seed=3, styles=1)
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(net.trainable_variables)
    optimizer.iterations.assign(7)
    net.optimizer, net._initial_epoch = optimizer, 5
    before = [np.array(v.numpy()) for v in list(net.weights) + list(optimizer.variables)]
    callback = FromChief(strategy, chief)
    callback.set_model(net)
    callback.on_train_begin()
    after = [np.array(v.numpy()) for v in list(net.weights) + list(optimizer.variables)]
    return before, after, net._initial_epoch


def main(path):
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    results = compare_runs(mirrored)
    for chief in (True, False):
        before, after, epoch = from_chief(mirrored, chief)
        results[f"from_chief_{chief}_epoch"] = epoch
        for i, (b, a) in enumerate(zip(before, after)):
            results[f"from_chief_{chief}_before_{i}"], results[f"from_chief_{chief}_after_{i}"] = b, a
    np.savez(path, **results)


if __name__ == "__main__":
    main(sys.argv[1])
