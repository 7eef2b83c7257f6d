"""VGG-19 weight files: what they hold, how to read them, and random weights for a machine without them.

The network (``neural_style.vgg``) is built from a :class:`VGGWeights`, whatever file it came from:

- ``imagenet-vgg-verydeep-19.mat`` (MatConvNet), in both published layouts, read with ``scipy.io.loadmat``;
- ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (Keras, the TF2 course's file), Keras 2 and Keras 3 layouts,
  read with ``h5py``; its filters expect BGR input;
- ``random``: He-initialised filters from a fixed seed, so everything runs without a download.

A weight file is read as untrusted input: its header checked and its parser run in a child process
(``weights_container``). Downloading and verifying the files is ``neural_style.download``; its names are importable from
here too.
"""

import dataclasses
import os
import re
import zlib

import h5py
import numpy as np
import scipy.io

from . import container as weights_container

# The 43 layers of MatConvNet's imagenet-vgg-verydeep-19, in file order.
MAT_LAYER_NAMES = (
    "conv1_1",
    "relu1_1",
    "conv1_2",
    "relu1_2",
    "pool1",
    "conv2_1",
    "relu2_1",
    "conv2_2",
    "relu2_2",
    "pool2",
    "conv3_1",
    "relu3_1",
    "conv3_2",
    "relu3_2",
    "conv3_3",
    "relu3_3",
    "conv3_4",
    "relu3_4",
    "pool3",
    "conv4_1",
    "relu4_1",
    "conv4_2",
    "relu4_2",
    "conv4_3",
    "relu4_3",
    "conv4_4",
    "relu4_4",
    "pool4",
    "conv5_1",
    "relu5_1",
    "conv5_2",
    "relu5_2",
    "conv5_3",
    "relu5_3",
    "conv5_4",
    "relu5_4",
    "pool5",
    "fc6",
    "relu6",
    "fc7",
    "relu7",
    "fc8",
    "prob",
)

# The 16 convolutions of VGG-19 with their (input, output) channel counts.
CONV_LAYERS = {
    "conv1_1": (3, 64),
    "conv1_2": (64, 64),
    "conv2_1": (64, 128),
    "conv2_2": (128, 128),
    "conv3_1": (128, 256),
    "conv3_2": (256, 256),
    "conv3_3": (256, 256),
    "conv3_4": (256, 256),
    "conv4_1": (256, 512),
    "conv4_2": (512, 512),
    "conv4_3": (512, 512),
    "conv4_4": (512, 512),
    "conv5_1": (512, 512),
    "conv5_2": (512, 512),
    "conv5_3": (512, 512),
    "conv5_4": (512, 512),
}

WEIGHTS_HELP = "see pretrained-model/README.md, run `neural-style weights download`, or use --weights random for a demo"
RANDOM = "random"

# MatConvNet's imagenet-vgg-verydeep-19.mat (about 510 MB): the current file, and the older beta16 one.
MAT_FILENAME = "imagenet-vgg-verydeep-19.mat"
MAT_URL = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"
MAT_SHA256 = "abdb57167f82a2a1fbab1e1c16ad9373411883f262a1a37ee5db2e6fb0044695"
MAT_MD5 = "106118b7cf60435e6d8e04f6a6dc3657"
MAT_BETA16_URL = "https://www.vlfeat.org/matconvnet/models/beta16/imagenet-vgg-verydeep-19.mat"
MAT_BETA16_MD5 = "8ee3263992981a1d26e73b3ca028a123"

# Keras's VGG19 weights without the classifier (about 80 MB), as the TF2 course loads them; Keras publishes the MD5.
KERAS_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + KERAS_FILENAME
KERAS_MD5 = "253f8cb515780f3b799900260a226db6"

# Trained VGG-19 filters and biases are far below this in magnitude; a file beyond it is damaged or not weights.
MAX_WEIGHT = 1e4
# The largest convolution's element count (3 x 3 x 512 x 512): no kernel or bias of VGG-19 declares more.
_LARGEST_CONV = 3 * 3 * 512 * 512


class WeightsError(ValueError):
    """A weight file exists but does not hold VGG-19 weights in a known layout."""


@dataclasses.dataclass(frozen=True)
class VGGWeights:
    """The convolution filters of VGG-19, as the network needs them.

    Attributes:
    layers -- dict from 'conv1_1' ... 'conv5_4' to (kernel, bias): kernel float32 [3, 3, C_in, C_out],
              bias float32 (C_out,)
    source -- the file they were read from, or 'random'
    channel_order -- 'RGB' or 'BGR': the colour order the first layer expects
    """

    layers: dict
    source: str
    channel_order: str = "RGB"

    def channels(self, name):
        """Number of output channels of the convolution `name`."""
        return self.layers[name][0].shape[-1]


def _fail(path, problem):
    raise WeightsError(f"{path}: {problem}; expected MatConvNet's imagenet-vgg-verydeep-19.mat ({WEIGHTS_HELP})")


def _fail_keras(path, problem):
    raise WeightsError(f"{path}: {problem}; expected Keras VGG19 weights such as {KERAS_FILENAME} ({WEIGHTS_HELP})")


def _layer_field(path, index, layer, field):
    try:
        return layer[field]
    except (KeyError, TypeError, IndexError):
        _fail(path, f"layer {index} has no field '{field}'")


def _check_conv(path, name, kernel, bias, in_channels, fail=_fail):
    """Checks one convolution's arrays (shapes, dtype, finite and sane values); returns them as float32."""
    kernel = np.asarray(kernel)
    bias = np.asarray(bias).reshape(-1)
    if kernel.ndim != 4 or kernel.shape[:2] != (3, 3) or kernel.shape[2] != in_channels:
        fail(path, f"{name} has a kernel of shape {kernel.shape}, expected [3, 3, {in_channels}, C_out]")
    if bias.shape != (kernel.shape[3],):
        fail(path, f"{name} has a bias of shape {bias.shape}, expected ({kernel.shape[3]},)")
    if not (np.issubdtype(kernel.dtype, np.floating) and np.issubdtype(bias.dtype, np.floating)):
        fail(path, f"{name} holds {kernel.dtype}/{bias.dtype} arrays, expected floating point")
    kernel, bias = kernel.astype(np.float32), bias.astype(np.float32)
    for what, array in (("kernel", kernel), ("bias", bias)):
        if not np.all(np.isfinite(array)):
            fail(path, f"{name}'s {what} holds NaN or infinite values (the file is damaged)")
        largest = float(np.max(np.abs(array), initial=0.0))
        if largest > MAX_WEIGHT:
            fail(path, f"{name}'s {what} holds {largest:.3g}, beyond any trained network's (|w| <= {MAX_WEIGHT:g})")
    return kernel, bias


def _load_mat(path):
    try:
        # Only the variable the network needs: the others (meta, classes, anything added) are skipped unread.
        # simplify_cells reads every struct as a dict, so fields are found by name whatever their order.
        return scipy.io.loadmat(path, variable_names=["layers"], simplify_cells=True)
    except (ValueError, TypeError, OSError, EOFError, IndexError, zlib.error, scipy.io.matlab.MatReadError) as error:
        raise WeightsError(f"{path}: not a readable MAT file ({_short_reason(error)}); {WEIGHTS_HELP}") from None


def _short_reason(error):
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def read_mat_weights(path):
    """
    Reads the convolution filters of MatConvNet's imagenet-vgg-verydeep-19.mat (current and beta16 layouts).

    The file's header and variable sizes are checked first (check_mat_header); scipy then parses it in a child
    process (weights_container.read_contained), so a damaged file that crashes the parser is one WeightsError, not a
    dead process.

    Arguments:
    path -- path to the .mat file

    Returns:
    weights -- a VGGWeights with the 16 convolutions; kernels as stored ([H, W, C_in, C_out], RGB), biases flattened
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG-19 weights not found: {path} ({WEIGHTS_HELP})")
    weights_container.check_mat_header(path)
    return weights_container.read_contained(path, "mat")


def _read_mat_here(path):
    """read_mat_weights' parsing, in this process (the child of read_contained)."""
    data = _load_mat(path)
    if "layers" not in data:
        _fail(path, "no 'layers' variable")
    layers = data["layers"]
    if isinstance(layers, dict):
        layers = [layers]
    if len(layers) < 36:
        _fail(path, f"{len(layers)} layers, expected the 43 of VGG-19")
    convs, in_channels = {}, 3
    for index, expected in enumerate(MAT_LAYER_NAMES[:36]):
        layer = layers[index]
        name = _layer_field(path, index, layer, "name")
        if name != expected:
            _fail(path, f"layer {index} is named {name!r}, expected {expected!r}")
        if expected in CONV_LAYERS:
            pair = _layer_field(path, index, layer, "weights")
            if len(pair) != 2:
                _fail(path, f"{name} has {len(pair)} weight arrays, expected 2 (kernel, bias)")
            convs[name] = _check_conv(path, name, pair[0], pair[1], in_channels)
            in_channels = convs[name][0].shape[3]
    return VGGWeights(layers=convs, source=str(path))


def random_vgg_weights(seed=0, width_divisor=1):
    """
    He-initialised VGG-19 filters (normal, stddev sqrt(2 / fan_in)) with zero biases, from a fixed seed.

    Random filters still transfer texture (He, Wang & Hopcroft 2016), so the whole pipeline runs without a download;
    the results are demo quality.

    Arguments:
    seed -- seed of the generator; the same seed gives the same filters
    width_divisor -- divide every channel count by this (for small test networks)

    Returns:
    weights -- a VGGWeights with source 'random'
    """
    rng = np.random.default_rng(seed)
    layers = {}
    for name, (c_in, c_out) in CONV_LAYERS.items():
        c_in = 3 if name == "conv1_1" else c_in // width_divisor
        c_out = c_out // width_divisor
        std = np.sqrt(2.0 / (9 * c_in))
        kernel = rng.standard_normal((3, 3, c_in, c_out), dtype=np.float32) * np.float32(std)
        layers[name] = (kernel, np.zeros(c_out, np.float32))
    return VGGWeights(layers=layers, source=RANDOM)


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
        _fail_keras(path, f"{label} has no dataset {key!r}")
    if not isinstance(node, h5py.Dataset):
        _fail_keras(path, f"{label}: {key!r} is not a dataset")
    # Declared shape and type first: a dataset declaring gigabytes is refused before a byte of it is read.
    if node.dtype.kind != "f" or node.dtype.itemsize > 8:
        _fail_keras(path, f"{label}: {key!r} holds {node.dtype}, expected floating point")
    if node.ndim not in (1, 4) or node.size > _LARGEST_CONV:
        _fail_keras(path, f"{label}: {key!r} declares shape {node.shape}, larger than any VGG-19 filter or bias")
    try:
        return node[()]
    except OSError as error:
        _fail_keras(path, f"{label}: cannot read {key!r} ({error}), the file may be truncated: download it again")


def _keras2_arrays(path, group):
    """(kernel, bias) per convolution from the Keras 2 layout: attr layer_names, one group per layer, weight_names."""
    layer_names = set(_strings(group, "layer_names"))
    arrays = {}
    for name in CONV_LAYERS:
        keras_name = keras_layer_name(name)
        if keras_name not in layer_names or not isinstance(group.get(keras_name), h5py.Group):
            _fail_keras(path, f"no layer '{keras_name}' (VGG-19's {name})")
        layer = group[keras_name]
        weight_names = _strings(layer, "weight_names")
        if len(weight_names) != 2:
            _fail_keras(path, f"layer '{keras_name}' has {len(weight_names)} weight arrays, expected 2 (kernel, bias)")
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
            _fail_keras(path, f"no layer '{keras_name}' (VGG-19's {name}) in the Keras 3 'layers' group")
        variables = by_name[keras_name]
        if len(variables) != 2:
            _fail_keras(path, f"layer '{keras_name}' has {len(variables)} weight arrays, expected 2 (kernel, bias)")
        arrays[name] = tuple(_dataset(path, variables, key, f"layer '{keras_name}'") for key in ("0", "1"))
    return arrays


def read_keras_weights(path):
    """
    Reads the convolution filters of Keras's VGG19 weights (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5).

    Reads the Keras 2 weights layout (root attribute 'layer_names', one group per layer with attribute 'weight_names'),
    a Keras 2 whole-model file (the same under 'model_weights') and the Keras 3 '.weights.h5' layout. Layers
    blockN_convM become convN_M; other layers (pools, the classifier of the file with top) are ignored.

    Arguments:
    path -- path to the .h5 file

    Returns:
    weights -- a VGGWeights with the 16 convolutions ([3, 3, C_in, C_out] kernels, (C_out,) biases) and
               channel_order 'BGR' (these filters come from Caffe and expect BGR input minus the mean pixel)
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG-19 weights not found: {path} ({WEIGHTS_HELP})")
    if not weights_container.has_hdf5_signature(path):
        _fail_keras(path, "not an HDF5 file")
    return weights_container.read_contained(path, "keras")


def _read_keras_here(path):
    """read_keras_weights' parsing, in this process (the child of read_contained)."""
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        _fail_keras(path, f"not a readable HDF5 file ({' '.join(str(error).split())})")
    with file:
        if _strings(file, "layer_names"):
            arrays = _keras2_arrays(path, file)
        elif isinstance(file.get("model_weights"), h5py.Group):
            arrays = _keras2_arrays(path, file["model_weights"])
        elif isinstance(file.get("layers"), h5py.Group):
            arrays = _keras3_arrays(path, file["layers"])
        else:
            _fail_keras(path, "no Keras 'layer_names' attribute and no Keras 3 'layers' group")
    convs, in_channels = {}, 3
    for name, (kernel, bias) in arrays.items():
        label = f"layer '{keras_layer_name(name)}'"
        convs[name] = _check_conv(path, label, kernel, bias, in_channels, fail=_fail_keras)
        in_channels = convs[name][0].shape[3]
    return VGGWeights(layers=convs, source=str(path), channel_order="BGR")


def is_keras_path(path):
    """
    Whether a weights path names a Keras HDF5 file (by its suffix, .h5 or .hdf5).

    Arguments:
    path -- a path

    Returns:
    is_keras -- True for *.h5 and *.hdf5, in any case
    """
    return os.path.splitext(os.fspath(path))[1].lower() in (".h5", ".hdf5")


def load_weights(path):
    """
    Reads VGG-19 weights from a file, choosing the reader by what the path names.

    Arguments:
    path -- 'random' for He-initialised filters, a Keras .h5/.hdf5 file (BGR filters), or else a MatConvNet .mat file

    Returns:
    weights -- a VGGWeights
    """
    if os.fspath(path) == RANDOM:
        return random_vgg_weights()
    if is_keras_path(path):
        return read_keras_weights(path)
    return read_mat_weights(path)
