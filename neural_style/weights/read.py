"""Reading VGG-19 weights: the reader chosen by what the path names, the file's header checked in this process, then
parsed in a child process (container.py), or He-initialised filters for 'random'.

The network (neural_style.vgg) is built from the VGGWeights these return, whatever file they came from:

- ``imagenet-vgg-verydeep-19.mat`` (MatConvNet), in both published layouts, read with ``scipy.io.loadmat``;
- ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (Keras, the TF2 course's file), Keras 2 and Keras 3 layouts,
  read with ``h5py``; its filters expect BGR input;
- ``random``: He-initialised filters from a fixed seed, so everything runs without a download.
"""

import os

from .container import check_mat_header, has_hdf5_signature, read_contained
from .filters import fail_keras
from .published import RANDOM, WEIGHTS_HELP
from .random_filters import random_vgg_weights


def read_mat_weights(path):
    """
    Reads the convolution filters of MatConvNet's imagenet-vgg-verydeep-19.mat (current and beta16 layouts).

    The file's header and variable sizes are checked first (check_mat_header); scipy then parses it in a child
    process (container.read_contained), so a damaged file that crashes the parser is one WeightsError, not a
    dead process.

    Arguments:
    path -- path to the .mat file

    Returns:
    weights -- a VGGWeights with the 16 convolutions; kernels as stored ([H, W, C_in, C_out], RGB), biases flattened
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG-19 weights not found: {path} ({WEIGHTS_HELP})")
    check_mat_header(path)
    return read_contained(path, "mat")


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
    if not has_hdf5_signature(path):
        fail_keras(path, "not an HDF5 file")
    return read_contained(path, "keras")


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
