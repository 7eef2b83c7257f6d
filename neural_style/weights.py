"""VGG-19 weight files: what they hold, how to read them, and random weights for a machine without them.

The network (``neural_style.vgg``) is built from a :class:`VGGWeights`, whatever file it came from:

- ``imagenet-vgg-verydeep-19.mat`` (MatConvNet), in both published layouts, read with ``scipy.io.loadmat``;
- ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (Keras, the TF2 course's file), Keras 2 and Keras 3 layouts,
  read with ``h5py``; its filters expect BGR input;
- ``random``: He-initialised filters from a fixed seed, so everything runs without a download.

It also downloads the .mat file (resuming an interrupted download, checking its SHA-256) and verifies weight files.
"""

import contextlib
import dataclasses
import hashlib
import http.client
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

import h5py
import numpy as np
import scipy.io
from tqdm import tqdm

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

_CHUNK = 1 << 20
# A download stops beyond this many bytes (--max-bytes): the published files' sizes (the MatConvNet file is about
# 510 MiB, the Keras one about 76 MiB; a small margin, as the exact byte counts are not recorded here), else 1 GiB.
DEFAULT_MAX_BYTES = 1024**3
PUBLISHED_MAX_BYTES = {MAT_URL: 520 * 1024**2, MAT_BETA16_URL: 520 * 1024**2, KERAS_URL: 80 * 1024**2}

# Trained VGG-19 filters and biases are far below this in magnitude; a file beyond it is damaged or not weights.
MAX_WEIGHT = 1e4
# The largest convolution's element count (3 x 3 x 512 x 512): no kernel or bias of VGG-19 declares more.
_LARGEST_CONV = 3 * 3 * 512 * 512
# The largest 'layers' variable a .mat holding VGG-19 can declare: the real one (the classifier included) is about
# 575 MB as float32; twice that leaves room for a float64 copy, and refuses zlib bombs and absurd declared sizes.
MAX_MAT_VARIABLE_BYTES = 1200 * 1024**2
# The child process that parses a weight file may use this much address space beyond twice the file's size.
_CHILD_MEMORY_BYTES = 3 * 1024**3
_CHILD_TIMEOUT_S = 600
_RETRY_WAIT_S = 1.0  # seconds before resuming an interrupted download (tests set it to 0)


class WeightsError(ValueError):
    """A weight file exists but does not hold VGG-19 weights in a known layout."""


class DownloadError(OSError):
    """A download failed: the URL cannot be reached, the server answered an error, or the transfer was cut."""


class ChecksumError(DownloadError, WeightsError):
    """A file's SHA-256 (or MD5) is not the expected one: the file is corrupt, incomplete or a different file."""


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


# MAT-file v5 layout (MathWorks, "MAT-File Format"): a 128-byte header, then one tagged data element per variable.
_MAT_HEADER_BYTES = 128
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_mat_header(path):
    """
    Checks a .mat file's header and its variables' declared sizes, reading only tags (and the first bytes of each
    compressed variable), before any parser reads the file.

    Refuses: a file too short for the header; a MATLAB v7.3 (HDF5) file; a header that is not MAT v5; a variable
    declaring more bytes than the file holds (truncated); a 'layers' variable declaring more than
    MAX_MAT_VARIABLE_BYTES (absurd, or a zlib bomb).

    Arguments:
    path -- the .mat file

    Returns:
    names -- list of the variable names found, in file order
    """
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        header = file.read(_MAT_HEADER_BYTES)
        if header.startswith(b"MATLAB 7.3") or _at(file, 512, len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
            _fail(path, "a MATLAB v7.3 (HDF5) file, which cannot be read here; save it with MATLAB's -v7 option")
        if size < _MAT_HEADER_BYTES + 8:
            _unreadable(path, f"{size} bytes, too short to be a MAT file")
        if header[126:128] not in (b"IM", b"MI"):
            _unreadable(path, "no MATLAB 5 header")
        order = "<" if header[126:128] == b"IM" else ">"
        names, position = [], _MAT_HEADER_BYTES
        while position < size:
            tag = _at(file, position, 8)
            if len(tag) < 8:
                _unreadable(path, f"truncated: {size - position} stray bytes after the last variable")
            kind, declared = struct.unpack(order + "II", tag)
            if kind not in (_MI_MATRIX, _MI_COMPRESSED):
                _unreadable(
                    path, f"a data element of type {kind} at byte {position}, expected a variable (type 14 or 15)"
                )
            if declared > size - position - 8:
                _unreadable(
                    path, f"truncated: a variable declares {declared:,} bytes, only {size - position - 8:,} remain"
                )
            name, inner = _mat_variable_head(path, file, position + 8, declared, kind, order)
            if name == "layers" and inner > MAX_MAT_VARIABLE_BYTES:
                _fail(path, f"its 'layers' variable declares {inner:,} bytes, more than VGG-19 can need")
            names.append(name)
            position += 8 + declared + (-declared % 8 if kind == _MI_MATRIX else 0)
    return names


def _unreadable(path, reason):
    raise WeightsError(f"{path}: not a readable MAT file ({reason}); {WEIGHTS_HELP}")


def _at(file, position, count):
    file.seek(position)
    return file.read(count)


def _mat_variable_head(path, file, start, declared, kind, order):
    """(name, declared bytes of the miMATRIX) of one variable; a compressed one's first bytes only are inflated."""
    if kind == _MI_COMPRESSED:
        inflate = zlib.decompressobj()
        try:
            # The matrix tag, array flags, dimensions and name fit in the first few hundred bytes.
            head = inflate.decompress(_at(file, start, min(declared, 4096)), 512)
        except zlib.error as error:
            _unreadable(path, f"a compressed variable at byte {start - 8} is damaged ({error})")
        if len(head) < 8 or struct.unpack(order + "I", head[:4])[0] != _MI_MATRIX:
            _unreadable(path, f"the compressed variable at byte {start - 8} does not hold a matrix")
        inner = struct.unpack(order + "I", head[4:8])[0]
        body = head[8:]
    else:
        inner, body = declared, _at(file, start, 512)
    return _matrix_name(body, order), inner


def _matrix_name(body, order):
    """The name of a miMATRIX from its first bytes (flags, dimensions, name sub-elements); '' if unreadable."""
    position = 0
    for index in range(3):
        if len(body) < position + 8:
            return ""
        word = struct.unpack(order + "I", body[position : position + 4])[0]
        if word >> 16:  # a small data element: type and size in the first 4 bytes, data in the next 4
            count, data = word >> 16, body[position + 4 : position + 4 + (word >> 16)]
            position += 8
        else:
            count = struct.unpack(order + "I", body[position + 4 : position + 8])[0]
            data = body[position + 8 : position + 8 + count]
            position += 8 + count + (-count % 8)
        if index == 2:
            return data[:count].decode("latin-1")
    return ""


def read_contained(path, kind):
    """
    Parses a weight file in a child process, so that a parser crash or a runaway allocation on a hostile file is one
    WeightsError naming the file, never the end of this process.

    The child is a fresh interpreter that imports this module without the package (so without TensorFlow), parses the
    file with scipy or h5py under an address-space limit, checks every filter, and hands the 16 convolutions back
    through a temporary file of .npy arrays. docs/performance.md gives what this costs on a file of the real size.

    Arguments:
    path -- the weight file
    kind -- 'mat' (MatConvNet, scipy.io.loadmat) or 'keras' (h5py)

    Returns:
    weights -- a VGGWeights, as _read_mat_here or _read_keras_here would return it
    """
    package = os.path.dirname(os.path.abspath(__file__))
    memory = _CHILD_MEMORY_BYTES + 2 * os.path.getsize(path)
    with tempfile.TemporaryDirectory(prefix="neural-style-weights-") as folder:
        result = os.path.join(folder, "weights.npy")
        # One thread for the child's BLAS: its per-thread buffers would eat the address-space limit for nothing.
        environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        try:
            child = subprocess.run(
                [sys.executable, "-c", _CHILD_BOOT, package, kind, os.fspath(path), result, str(memory)],
                capture_output=True,
                text=True,
                errors="replace",
                env=environment,
                timeout=_CHILD_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise WeightsError(f"{path}: reading it took over {_CHILD_TIMEOUT_S} s; {WEIGHTS_HELP}") from None
        lines = child.stderr.strip().splitlines()
        if child.returncode == 0:
            # The channel order, then each convolution's kernel and bias, as .npy arrays one after the other.
            with open(result, "rb") as file:
                order = str(np.load(file, allow_pickle=False))
                layers = {name: (_next_array(file), _next_array(file)) for name in CONV_LAYERS}
            return VGGWeights(layers=layers, source=str(path), channel_order=order)
    if child.returncode == _CHILD_REFUSED and lines:
        raise WeightsError(lines[-1])
    if child.returncode == _CHILD_OUT_OF_MEMORY:
        raise WeightsError(
            f"{path}: reading it needs more than {memory / 1024**3:.1f} GiB, far more than VGG-19's weights "
            f"(the file is damaged or hostile); {WEIGHTS_HELP}"
        )
    if child.returncode < 0:
        reason = f"signal {-child.returncode}"
        with contextlib.suppress(ValueError):
            reason = signal.Signals(-child.returncode).name
        parser = "scipy's MAT parser" if kind == "mat" else "h5py"
        raise WeightsError(f"{path}: {parser} crashed reading it ({reason}); the file is damaged: {WEIGHTS_HELP}")
    reason = lines[-1] if lines else f"exit code {child.returncode}"
    raise WeightsError(f"{path}: cannot be read ({reason}); {WEIGHTS_HELP}")


def _next_array(file):
    return np.load(file, allow_pickle=False)


_CHILD_REFUSED, _CHILD_OUT_OF_MEMORY, _CHILD_FAILED = 3, 4, 5
# Imports neural_style.weights without running the package's __init__ (which imports TensorFlow).
_CHILD_BOOT = (
    "import sys, types; package = types.ModuleType('neural_style'); package.__path__ = [sys.argv[1]]; "
    "sys.modules['neural_style'] = package; from neural_style import weights; "
    "sys.exit(weights._child_main(*sys.argv[2:]))"
)


def _child_main(kind, path, result, memory):
    """The child of read_contained: parse, check, write the filters to `result`; the exit code says how it went."""
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    try:
        weights = _read_mat_here(path) if kind == "mat" else _read_keras_here(path)
        with open(result, "wb") as file:
            np.save(file, np.array(weights.channel_order))
            for name in CONV_LAYERS:
                np.save(file, weights.layers[name][0])
                np.save(file, weights.layers[name][1])
    except WeightsError as error:
        print(" ".join(str(error).split()), file=sys.stderr)
        return _CHILD_REFUSED
    except MemoryError:
        return _CHILD_OUT_OF_MEMORY
    except Exception as error:  # whatever a damaged file makes the parser raise: reported, one line, by the parent
        print(f"{type(error).__name__}: {_short_reason(error)}", file=sys.stderr)
        return _CHILD_FAILED
    return 0


def read_mat_weights(path):
    """
    Reads the convolution filters of MatConvNet's imagenet-vgg-verydeep-19.mat (current and beta16 layouts).

    The file's header and variable sizes are checked first (check_mat_header); scipy then parses it in a child
    process (read_contained), so a damaged file that crashes the parser is one WeightsError, not a dead process.

    Arguments:
    path -- path to the .mat file

    Returns:
    weights -- a VGGWeights with the 16 convolutions; kernels as stored ([H, W, C_in, C_out], RGB), biases flattened
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG-19 weights not found: {path} ({WEIGHTS_HELP})")
    check_mat_header(path)
    return read_contained(path, "mat")


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
    if not _has_hdf5_signature(path):
        _fail_keras(path, "not an HDF5 file")
    return read_contained(path, "keras")


def _has_hdf5_signature(path):
    """Whether the HDF5 signature is where the format puts it (byte 0, 512, 1024, 2048 ...), read in plain Python so
    that no C parser touches the file in this process."""
    size, offset = os.path.getsize(path), 0
    with open(path, "rb") as file:
        while offset + len(_HDF5_SIGNATURE) <= size:
            if _at(file, offset, len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


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


# ---------------------------------------------------------------------------------------------------------------------
# Download and verification


class _Interrupted(Exception):
    """The transfer stopped before the end; what arrived is kept in the .part file."""


def _check_hex(value, digits, what):
    if value is None:
        return None
    value = str(value).strip().lower()
    if not re.fullmatch(f"[0-9a-f]{{{digits}}}", value):
        raise ValueError(f"{value!r} is not a {what}: expected {digits} hexadecimal digits")
    return value


def _progress_bar(total, initial, description, progress):
    """A tqdm bar in bytes on stderr (disabled when progress is false)."""
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=description,
        disable=not progress,
    )


def _hash_file(path, progress=False):
    """The SHA-256 and MD5 of a file, read once."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    bar = _progress_bar(os.path.getsize(path), 0, f"hashing {os.path.basename(path)}", progress)
    with open(path, "rb") as file, bar:
        while chunk := file.read(_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            bar.update(len(chunk))
    return sha256.hexdigest(), md5.hexdigest()


def _url_filename(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DownloadError(f"{url}: only http:// and https:// URLs can be downloaded")
    name = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
    if not name:
        raise DownloadError(f"{url}: the URL does not end in a file name; give one with filename=")
    return plain_file_name(name, url)


def plain_file_name(name, source):
    """
    Checks that a name to save a download under is a plain file name, so the file lands inside the target folder.

    Arguments:
    name -- the name (already percent-decoded)
    source -- the URL or option it came from, for the message

    Returns:
    name -- unchanged; raises DownloadError for '.', '..', a path separator, an absolute path or a control character
    """
    unsafe = (
        name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or os.path.isabs(name)
        or any(ord(character) < 32 or ord(character) == 127 for character in name)
    )
    if unsafe:
        raise DownloadError(
            f"{source}: {name!r} is not a plain file name (no folders, '..' or control characters), so the file "
            "would not land inside the --to folder; give a URL ending in a plain name"
        )
    return name


class _WebRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http and https only (urllib would follow one to ftp)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise DownloadError(f"{req.full_url}: redirected to {newurl}; only http and https are followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _range_header_values(content_range):
    """(start, total) from 'bytes START-END/TOTAL' or 'bytes */TOTAL'; None for what is absent or unreadable."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", content_range or "")
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _fetch(url, part, progress, timeout, max_bytes=DEFAULT_MAX_BYTES):
    """
    Downloads url into part, appending to what part holds with a Range request; raises _Interrupted on a short transfer,
    DownloadError when the server goes silent for `timeout` seconds or sends more than `max_bytes` in all.
    """
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"User-Agent": "neural-style (python urllib)"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.build_opener(_WebRedirectsOnly).open(request, timeout=timeout)
    except DownloadError:
        raise
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and offset:
            # The partial file is as long as the file (complete) or longer (stale): keep it or start again.
            _, total = _range_header_values(error.headers.get("Content-Range"))
            if total == offset:
                return
            os.remove(part)
            raise _Interrupted("the server has no bytes after the partial file; starting again") from None
        kept = f"; the partial file {part} is kept" if offset else ""
        raise DownloadError(
            f"{url}: HTTP error {error.code} {error.reason}{kept}; check the URL, "
            f"or download the file by hand (see pretrained-model/README.md)"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise DownloadError(
            f"{url}: cannot connect ({reason}); check the URL and the network, "
            f"or download the file by hand (see pretrained-model/README.md)"
        ) from None
    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if offset and response.status == 206:
            start, total = _range_header_values(response.headers.get("Content-Range"))
            if start is not None and start != offset:
                os.remove(part)
                raise _Interrupted(f"the server sent bytes from {start} instead of {offset}; starting again")
            mode = "ab"
            total = total if total is not None else (offset + length if length is not None else None)
        else:
            # A fresh download, or a server that ignored Range and sent the whole file: start from zero.
            mode, offset, total = "wb", 0, length
        if total is not None and total > max_bytes:
            _discard(part)
            raise DownloadError(
                f"{url}: the server announces {total:,} bytes, more than the {max_bytes:,} allowed; "
                "pass --max-bytes if you mean it"
            )
        received = 0
        bar = _progress_bar(total, offset, os.path.basename(part)[: -len(".part")], progress)
        with open(part, mode) as out, bar:
            while True:
                try:
                    # read1: what has arrived (up to a chunk), so a server that stalls leaves every byte it sent.
                    chunk = response.read1(_CHUNK)
                except TimeoutError:
                    out.close()
                    raise DownloadError(
                        f"{url}: the server sent nothing for {timeout:g} s; {offset + received:,} bytes kept in "
                        f"{part}, run the same command again to resume"
                    ) from None
                except (http.client.HTTPException, OSError) as error:
                    raise _Interrupted(f"{type(error).__name__}: {error}") from None
                if not chunk:
                    break
                if offset + received + len(chunk) > max_bytes:
                    out.close()
                    _discard(part)  # not a prefix of any file we would accept: nothing to resume
                    raise DownloadError(
                        f"{url}: the server sent more than {max_bytes:,} bytes, the most allowed; the partial file "
                        "was deleted; pass --max-bytes if the file really is that large"
                    )
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if length is not None and received < length:
        raise _Interrupted(f"the connection closed after {offset + received} of {offset + length} bytes")


def _discard(part):
    with contextlib.suppress(FileNotFoundError):
        os.remove(part)


def download_weights(
    url=MAT_URL,
    to="pretrained-model",
    sha256=MAT_SHA256,
    progress=True,
    *,
    filename=None,
    retries=3,
    timeout=60,
    max_bytes=None,
):
    """
    Downloads a weight file (by default MatConvNet's imagenet-vgg-verydeep-19.mat) and checks its SHA-256.

    The bytes go to '<file>.part' first; an interrupted download is resumed with an HTTP Range request (here, up to
    `retries` times, and by calling again later), from zero if the server ignores Range. Only a file whose SHA-256 is
    right is moved into place; a wrong one is deleted. A file already in place with the right SHA-256 is not
    downloaded again.

    Arguments:
    url -- http(s) URL of the file
    to -- directory to put it in (created if needed)
    sha256 -- expected SHA-256 (hex); None skips the check (for a URL whose hash you do not know)
    progress -- show a progress bar on stderr
    filename -- name of the file in `to`; by default the last part of the URL
    retries -- how many times to resume automatically after the connection breaks
    timeout -- seconds to wait for the server to connect or send data; a server silent that long fails the download
    max_bytes -- the most bytes to accept (None: the published size for a published URL, else DEFAULT_MAX_BYTES);
                 beyond it the download fails and the partial file is deleted

    Returns:
    path -- path of the downloaded (or already present) file
    """
    sha256 = _check_hex(sha256, 64, "SHA-256")
    name = plain_file_name(filename, "filename") if filename is not None else _url_filename(url)
    if max_bytes is None:
        max_bytes = PUBLISHED_MAX_BYTES.get(url, DEFAULT_MAX_BYTES)
    if os.path.exists(to) and not os.path.isdir(to):
        raise DownloadError(f"{to}: not a directory; give the folder to download into")
    os.makedirs(to, exist_ok=True)
    final = os.path.join(to, name)
    part = final + ".part"
    if os.path.exists(final):
        if sha256 is None:
            return final
        found, _ = _hash_file(final, progress)
        if found == sha256:
            return final
        raise ChecksumError(
            f"{final} already exists but its SHA-256 is {found}, not {sha256}; move or delete it and run again"
        )
    attempt = 0
    while True:
        try:
            _fetch(url, part, progress, timeout, max_bytes)
            break
        except _Interrupted as error:
            if attempt >= retries:
                kept = os.path.getsize(part) if os.path.exists(part) else 0
                raise DownloadError(
                    f"{url}: download interrupted ({error}); {kept} bytes kept in {part}, "
                    "run the same command again to resume"
                ) from None
            attempt += 1
            time.sleep(_RETRY_WAIT_S * attempt)
    if sha256 is not None:
        found, _ = _hash_file(part, progress)
        if found != sha256:
            os.remove(part)
            raise ChecksumError(
                f"{url}: downloaded file has SHA-256 {found}, expected {sha256}; the partial file "
                f"{part} was deleted: run again, or check the URL and the SHA-256"
            )
    os.replace(part, final)
    return final


def _known_files():
    """(description, algorithm, digest, file name) of the published weight files."""
    return (
        ("MatConvNet imagenet-vgg-verydeep-19.mat (current)", "sha256", MAT_SHA256, MAT_FILENAME),
        ("MatConvNet imagenet-vgg-verydeep-19.mat (beta16)", "md5", MAT_BETA16_MD5, MAT_FILENAME),
        (f"Keras {KERAS_FILENAME}", "md5", KERAS_MD5, KERAS_FILENAME),
    )


def verify_weights(path, sha256=None, progress=False):
    """
    Checks a weight file: its checksum, and that it holds the 16 convolutions of VGG-19.

    The checksum is checked against `sha256` when given; otherwise a file named like a published one
    (imagenet-vgg-verydeep-19.mat, vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5) must match one of the published
    hashes; any other file's hashes are only reported.

    Arguments:
    path -- the .mat or .h5 file
    sha256 -- expected SHA-256 (hex), or None
    progress -- show a progress bar while hashing

    Returns:
    report -- dict: path, format ('mat' or 'keras-h5'), size (bytes), sha256, md5, known (the published file it is,
              or None), checksum ('matches the given SHA-256', 'matches <known file>' or 'not checked'),
              channel_order, layers ({conv name: [3, 3, C_in, C_out]}), full_size (the real VGG-19 channel counts),
              parameters (number of weights in the 16 convolutions)
    """
    sha256 = _check_hex(sha256, 64, "SHA-256")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG-19 weights not found: {path} ({WEIGHTS_HELP})")
    found_sha256, found_md5 = _hash_file(path, progress)
    found = {"sha256": found_sha256, "md5": found_md5}
    known = next(
        (description for description, algorithm, digest, _ in _known_files() if found[algorithm] == digest), None
    )
    if sha256 is not None:
        if found_sha256 != sha256:
            raise ChecksumError(
                f"{path}: SHA-256 is {found_sha256}, expected {sha256}; the file is corrupt or a "
                "different file: download it again"
            )
        checksum = "matches the given SHA-256"
    elif known is not None:
        checksum = f"matches {known}"
    else:
        expected = [
            f"{algorithm.upper()} {digest}"
            for _, algorithm, digest, name in _known_files()
            if name == os.path.basename(path)
        ]
        if expected:
            raise ChecksumError(
                f"{path}: SHA-256 {found_sha256} (MD5 {found_md5}) matches no published file "
                f"(expected {' or '.join(expected)}); download it again, "
                "or pass its SHA-256 if you trust it"
            )
        checksum = "not checked"
    weights = load_weights(path)
    shapes = {name: list(kernel.shape) for name, (kernel, _) in weights.layers.items()}
    return {
        "path": path,
        "format": "keras-h5" if is_keras_path(path) else "mat",
        "size": os.path.getsize(path),
        "sha256": found_sha256,
        "md5": found_md5,
        "known": known,
        "checksum": checksum,
        "channel_order": weights.channel_order,
        "layers": shapes,
        "full_size": all(shape[2:] == list(CONV_LAYERS[name]) for name, shape in shapes.items()),
        "parameters": int(sum(kernel.size + bias.size for kernel, bias in weights.layers.values())),
    }


def format_report(report):
    """
    The report of verify_weights as a few lines of text, for the command line.

    Arguments:
    report -- dict returned by verify_weights

    Returns:
    text -- one 'key: value' line per entry, the layers summarised
    """
    size = "real VGG-19 channel counts" if report["full_size"] else "NOT the real VGG-19 channel counts"
    return "\n".join(
        [
            f"path: {report['path']}",
            f"format: {report['format']} ({len(report['layers'])} convolutions, "
            f"{report['parameters']:,} weights, {size})",
            f"size: {report['size']:,} bytes",
            f"sha256: {report['sha256']}",
            f"md5: {report['md5']}",
            f"checksum: {report['checksum']}",
            f"channel order: {report['channel_order']}",
            "ok",
        ]
    )
