"""Writes small Keras VGG19 weight files (HDF5) in Keras's exact layouts, for the tests.

The real vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (80 MB) cannot be shipped or downloaded here. These files
have its layer names, attributes and dataset names, with channel counts divided by a factor.

- Keras 2 layout (the published file, written by Keras 1/2): root attributes 'layer_names' (bytes, every layer in
  model order: input_1, block1_conv1, block1_conv2, block1_pool, ...), 'backend', 'keras_version'; one group per layer
  with attribute 'weight_names' (empty for the input and the pools) and one dataset per name, kernel then bias.
  The published file names them 'block1_conv1_W_1:0' and 'block1_conv1_b_1:0'; later Keras 2 files nest them as
  'block1_conv1/kernel:0' and 'block1_conv1/bias:0' (style='keras2').
- Keras 3 '.weights.h5' layout: layers/<conv2d, conv2d_1, ...>/vars with attribute 'name' (the layer name) and
  datasets '0' (kernel) and '1' (bias); the pools are layers/max_pooling2d... with empty vars.
"""

import h5py
import numpy as np

from neural_style.weights import CONV_LAYERS

# Every layer of Keras's VGG19 without top, in model order.
KERAS_LAYER_ORDER = (
    "input_1",
    "block1_conv1",
    "block1_conv2",
    "block1_pool",
    "block2_conv1",
    "block2_conv2",
    "block2_pool",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block3_conv4",
    "block3_pool",
    "block4_conv1",
    "block4_conv2",
    "block4_conv3",
    "block4_conv4",
    "block4_pool",
    "block5_conv1",
    "block5_conv2",
    "block5_conv3",
    "block5_conv4",
    "block5_pool",
)


def small_vgg_layers(width_divisor=16, seed=0):
    """
    Random VGG-19 convolutions with non-zero biases, keyed by the Keras layer names.

    Arguments:
    width_divisor -- every channel count divided by this (1 gives the real VGG-19 shapes)
    seed -- seed of the generator

    Returns:
    layers -- dict from 'block1_conv1' ... 'block5_conv4' to [kernel float32 [3, 3, C_in, C_out], bias float32 (C_out,)]
    """
    rng = np.random.default_rng(seed)
    layers = {}
    for name, (c_in, c_out) in CONV_LAYERS.items():
        c_in = 3 if name == "conv1_1" else c_in // width_divisor
        c_out //= width_divisor
        block, index = name[len("conv") :].split("_")
        kernel = rng.standard_normal((3, 3, c_in, c_out)).astype(np.float32)
        bias = rng.standard_normal(c_out).astype(np.float32)
        layers[f"block{block}_conv{index}"] = [kernel, bias]
    return layers


def _weight_names(layer, count, style):
    if style == "keras1":
        return [f"{layer}_W_1:0", f"{layer}_b_1:0", f"{layer}_extra_1:0"][:count]
    return [f"{layer}/kernel:0", f"{layer}/bias:0", f"{layer}/extra:0"][:count]


def write_keras2_h5(path, layers, style="keras1", layer_order=KERAS_LAYER_ORDER, root="/"):
    """
    Writes weights in the Keras 2 HDF5 layout of vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5.

    Arguments:
    path -- destination
    layers -- dict from Keras layer name to its list of arrays (kernel, bias); layers not in it get no weights
    style -- 'keras1' (the published file's dataset names, block1_conv1_W_1:0) or 'keras2' (block1_conv1/kernel:0)
    layer_order -- the names written to the 'layer_names' attribute
    root -- '/' for a weights file, 'model_weights' for a Keras 2 whole-model file

    Returns:
    path -- the path written
    """
    with h5py.File(path, "w") as file:
        group = file if root == "/" else file.create_group(root)
        group.attrs["layer_names"] = np.array([name.encode("utf8") for name in layer_order])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.0.8"
        for name in layer_order:
            layer = group.create_group(name)
            arrays = layers.get(name, [])
            names = _weight_names(name, len(arrays), style)
            layer.attrs["weight_names"] = np.array([n.encode("utf8") for n in names], dtype="S")
            for weight_name, array in zip(names, arrays):
                layer.create_dataset(weight_name, data=array)
    return path


def write_keras3_h5(path, layers, record_names=True):
    """
    Writes weights in the Keras 3 '.weights.h5' layout (what `model.save_weights('x.weights.h5')` writes for VGG19).

    Arguments:
    path -- destination
    layers -- dict from Keras layer name ('block1_conv1' ...) to [kernel, bias], in model order
    record_names -- write each layer's name as the 'name' attribute of its vars group (newer Keras 3 versions do)

    Returns:
    path -- the path written
    """
    with h5py.File(path, "w") as file:
        group = file.create_group("layers")
        for index, (name, arrays) in enumerate(layers.items()):
            variables = group.create_group("conv2d" + (f"_{index}" if index else "")).create_group("vars")
            if record_names:
                variables.attrs["name"] = name
            for i, array in enumerate(arrays):
                variables.create_dataset(str(i), data=array)
        for index in range(5):
            variables = group.create_group("max_pooling2d" + (f"_{index}" if index else "")).create_group("vars")
            if record_names:
                variables.attrs["name"] = f"block{index + 1}_pool"
        file.create_group("vars")
    return path
