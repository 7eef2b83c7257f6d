"""Parsing the weight files into checked VGGWeights, in the process that calls it: MatConvNet's .mat with scipy, Keras's
.h5 with h5py. The files may be hostile, so the readers (read.py) run this in a child process (container.py).
"""

import re
import zlib

import h5py
import numpy as np
import scipy.io

from .filters import VGGWeights, WeightsError, check_conv, fail_keras, fail_mat, short_reason
from .published import CONV_LAYERS, MAT_LAYER_NAMES, WEIGHTS_HELP

# The largest convolution's element count (3 x 3 x 512 x 512): no kernel or bias of VGG-19 declares more.
_LARGEST_CONV = 3 * 3 * 512 * 512


def _layer_field(path, index, layer, field):
    try:
        return layer[field]
    except (KeyError, TypeError, IndexError):
        fail_mat(path, f"layer {index} has no field '{field}'")


def _load_mat(path):
    try:
        # Only the variable the network needs: the others (meta, classes, anything added) are skipped unread.
        # simplify_cells reads every struct as a dict, so fields are found by name whatever their order.
        return scipy.io.loadmat(path, variable_names=["layers"], simplify_cells=True)
    except (ValueError, TypeError, OSError, EOFError, IndexError, zlib.error, scipy.io.matlab.MatReadError) as error:
        raise WeightsError(f"{path}: not a readable MAT file ({short_reason(error)}); {WEIGHTS_HELP}") from None


def parse_mat(path):
    """
    Parses MatConvNet's imagenet-vgg-verydeep-19.mat (current and beta16 layouts) in this process, and checks the 16
    convolutions it holds. This is what the child process of container.read_contained runs: a file that may be
    hostile is read with read.read_mat_weights, not with this.

    Arguments:
    path -- the .mat file

    Returns:
    weights -- a VGGWeights with the 16 convolutions; kernels as stored ([H, W, C_in, C_out], RGB), biases flattened
    """
    data = _load_mat(path)
    if "layers" not in data:
        fail_mat(path, "no 'layers' variable")
    layers = data["layers"]
    if isinstance(layers, dict):
        layers = [layers]
    if len(layers) < 36:
        fail_mat(path, f"{len(layers)} layers, expected the 43 of VGG-19")
    convs, in_channels = {}, 3
    for index, expected in enumerate(MAT_LAYER_NAMES[:36]):
        layer = layers[index]
        name = _layer_field(path, index, layer, "name")
        if name != expected:
            fail_mat(path, f"layer {index} is named {name!r}, expected {expected!r}")
        if expected in CONV_LAYERS:
            pair = _layer_field(path, index, layer, "weights")
            if len(pair) != 2:
                fail_mat(path, f"{name} has {len(pair)} weight arrays, expected 2 (kernel, bias)")
            convs[name] = check_conv(path, name, pair[0], pair[1], in_channels)
            in_channels = convs[name][0].shape[3]
    return VGGWeights(layers=convs, source=str(path))


def keras_layer_name(name):
    """
    The Keras VGG19 layer name of a convolution: 'conv3_2' -> 'block3_conv2'.

    Arguments:
    name -- a convolution name as in CONV_LAYERS ('convN_M')

    Returns:
    keras_name -- 'blockN_convM'
    """
    block, index = name[len("conv") :].split("_")
    return f"block{block}_conv{index}"


def _strings(node, name):
    """A string-list attribute of an HDF5 group (Keras splits long ones into name0, name1, ...), decoded."""
    if name in node.attrs:
        chunks = [node.attrs[name]]
    else:
        chunks, index = [], 0
        while f"{name}{index}" in node.attrs:
            chunks.append(node.attrs[f"{name}{index}"])
            index += 1
    values = []
    for chunk in chunks:
        for value in np.atleast_1d(chunk):
            values.append(value.decode("utf8") if isinstance(value, bytes) else str(value))
    return values


def _dataset(path, group, key, label):
    """The array stored at group[key], or a WeightsError naming what is missing."""
    try:
        node = group[key]
    except (KeyError, ValueError):
        fail_keras(path, f"{label} has no dataset {key!r}")
    if not isinstance(node, h5py.Dataset):
        fail_keras(path, f"{label}: {key!r} is not a dataset")
    # Declared shape and type first: a dataset declaring gigabytes is refused before a byte of it is read.
    if node.dtype.kind != "f" or node.dtype.itemsize > 8:
        fail_keras(path, f"{label}: {key!r} holds {node.dtype}, expected floating point")
    if node.ndim not in (1, 4) or node.size > _LARGEST_CONV:
        fail_keras(path, f"{label}: {key!r} declares shape {node.shape}, larger than any VGG-19 filter or bias")
    try:
        return node[()]
    except OSError as error:
        fail_keras(path, f"{label}: cannot read {key!r} ({error}), the file may be truncated: download it again")


def _keras2_arrays(path, group):
    """(kernel, bias) per convolution from the Keras 2 layout: attr layer_names, one group per layer, weight_names."""
    layer_names = set(_strings(group, "layer_names"))
    arrays = {}
    for name in CONV_LAYERS:
        keras_name = keras_layer_name(name)
        if keras_name not in layer_names or not isinstance(group.get(keras_name), h5py.Group):
            fail_keras(path, f"no layer '{keras_name}' (VGG-19's {name})")
        layer = group[keras_name]
        weight_names = _strings(layer, "weight_names")
        if len(weight_names) != 2:
            fail_keras(path, f"layer '{keras_name}' has {len(weight_names)} weight arrays, expected 2 (kernel, bias)")
        arrays[name] = tuple(_dataset(path, layer, key, f"layer '{keras_name}'") for key in weight_names)
    return arrays


def _keras3_arrays(path, layers):
    """(kernel, bias) per convolution from the Keras 3 ``.weights.h5`` layout: layers/<key>/vars/0 and vars/1."""
    by_name, unnamed = {}, {}
    for key, layer in layers.items():
        variables = layer.get("vars") if isinstance(layer, h5py.Group) else None
        if not isinstance(variables, h5py.Group):
            continue
        name = variables.attrs.get("name")
        if name is not None:
            by_name[name.decode("utf8") if isinstance(name, bytes) else str(name)] = variables
        match = re.fullmatch(r"conv2d(?:_(\d+))?", key)
        if match:
            unnamed[int(match.group(1) or 0)] = variables
    if not by_name and len(unnamed) == len(CONV_LAYERS):
        # Keras versions that do not record layer names: the convolutions are conv2d, conv2d_1, ... in model order.
        by_name = {keras_layer_name(name): unnamed[i] for i, name in enumerate(CONV_LAYERS) if i in unnamed}
    arrays = {}
    for name in CONV_LAYERS:
        keras_name = keras_layer_name(name)
        if keras_name not in by_name:
            fail_keras(path, f"no layer '{keras_name}' (VGG-19's {name}) in the Keras 3 'layers' group")
        variables = by_name[keras_name]
        if len(variables) != 2:
            fail_keras(path, f"layer '{keras_name}' has {len(variables)} weight arrays, expected 2 (kernel, bias)")
        arrays[name] = tuple(_dataset(path, variables, key, f"layer '{keras_name}'") for key in ("0", "1"))
    return arrays


def parse_keras(path):
    """
    Parses Keras's VGG19 weights (Keras 2 weights or whole-model file, Keras 3 '.weights.h5') in this process, and
    checks the 16 convolutions they hold. This is what the child process of container.read_contained runs: a file that
    may be hostile is read with read.read_keras_weights, not with this.

    Arguments:
    path -- the .h5 file

    Returns:
    weights -- a VGGWeights with the 16 convolutions and channel_order 'BGR'
    """
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        fail_keras(path, f"not a readable HDF5 file ({' '.join(str(error).split())})")
    with file:
        if _strings(file, "layer_names"):
            arrays = _keras2_arrays(path, file)
        elif isinstance(file.get("model_weights"), h5py.Group):
            arrays = _keras2_arrays(path, file["model_weights"])
        elif isinstance(file.get("layers"), h5py.Group):
            arrays = _keras3_arrays(path, file["layers"])
        else:
            fail_keras(path, "no Keras 'layer_names' attribute and no Keras 3 'layers' group")
    convs, in_channels = {}, 3
    for name, (kernel, bias) in arrays.items():
        label = f"layer '{keras_layer_name(name)}'"
        convs[name] = check_conv(path, label, kernel, bias, in_channels, fail=fail_keras)
        in_channels = convs[name][0].shape[3]
    return VGGWeights(layers=convs, source=str(path), channel_order="BGR")
