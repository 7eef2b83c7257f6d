"""Run by tests/test_fast_distributed.py in a process of its own (logical devices must be set before TensorFlow
starts): trains the same toy network on one device and under MirroredStrategy over two logical CPUs, with the same
global batch and data order, and writes the weights of each run to the .npz file named by argv[1]."""

import sys

import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402

from neural_style.fast.network import build_transform_net  # noqa: E402
from neural_style.fast.options import TrainOptions  # noqa: E402
from neural_style.fast.train import FastStyleTrainer  # noqa: E402
from neural_style.vgg import load_vgg_model  # noqa: E402
from neural_style.weights import random_vgg_weights  # noqa: E402

SIZE, BATCH, STEPS, STYLES = 32, 4, 3, 2
ADAM_LEARNING_RATE = 1e-3


def run(strategy, optimizer):
    """Weights after STEPS steps of model.fit on the same batches (global batch BATCH), under `strategy`."""
    options = TrainOptions(size=SIZE, batch_size=BATCH).validate()
    rng = np.random.default_rng(0)
    crops = rng.uniform(0, 255, (STEPS * BATCH, SIZE, SIZE, 3)).astype(np.float32)
    styles = np.repeat(np.arange(STEPS) % STYLES, BATCH).astype(np.int32)
    with strategy.scope():
        vgg = load_vgg_model(random_vgg_weights(seed=0, width_divisor=16), SIZE, SIZE)
        grams = [
            {name: tf.constant(rng.uniform(0, 1e3, (n, n)).astype(np.float32)) for name, n in channels(vgg, options)}
            for _ in range(STYLES)
        ]
        net = build_transform_net(seed=1, styles=STYLES)
        trainer = FastStyleTrainer(net, vgg, grams, options)
        trainer.compile(optimizer=optimizer())
    initial = [w.numpy() for w in net.weights]
    dataset = tf.data.Dataset.from_tensor_slices((crops, styles)).batch(BATCH, drop_remainder=True)
    trainer.fit(dataset, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
    return initial, [w.numpy() for w in net.weights]


def channels(vgg, options):
    names = [name for name, _ in options.style_layers]
    return [(name, a.shape[-1]) for name, a in zip(names, vgg(tf.zeros((1, SIZE, SIZE, 3)), names))]


def main(path):
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    results = {"steps": STEPS, "adam_learning_rate": ADAM_LEARNING_RATE}
    for name, optimizer in (
        ("sgd", lambda: keras.optimizers.SGD(1e-12)),
        ("adam", lambda: keras.optimizers.Adam(ADAM_LEARNING_RATE)),
    ):
        start, one = run(tf.distribute.get_strategy(), optimizer)
        start_two, two = run(mirrored, optimizer)
        results[f"{name}_same_start"] = all(np.array_equal(a, b) for a, b in zip(start, start_two))
        for i, (s, a, b) in enumerate(zip(start, one, two)):
            results[f"{name}_start_{i}"], results[f"{name}_one_{i}"], results[f"{name}_two_{i}"] = s, a, b
    np.savez(path, **results)


if __name__ == "__main__":
    main(sys.argv[1])
