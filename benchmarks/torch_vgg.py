"""The project's VGG-19 loss network in PyTorch, for the benchmarks that compare with it: bench.py,
bench_fast_torch.py (through torch_fast.py).

The filters are the project's He-initialised random ones (random_vgg_weights, seed 0), handed to child processes in
an .npz file so that the PyTorch children never import TensorFlow. The network is the project's (vgg.VGGModel with
its default average pooling): 3x3 convolutions with bias and ReLU, a 2x2 stride-2 average pool before each block
but the first (ceil_mode: the pool of an odd side covers its last row, as TensorFlow's "SAME" pool does, and divides
by the pixels it covers). Activations are NCHW, after their ReLU.

Nothing here imports torch or TensorFlow at import time: bench.py's parent process imports neither.
"""

import os

FILTERS_VARIABLE = "BENCH_FILTERS"


def write_filters(path):
    """
    Saves random_vgg_weights(seed=0), the filters every method of a benchmark uses, for its child processes.

    Arguments:
    path -- the .npz file to write; also set as $BENCH_FILTERS, which the children inherit

    Returns:
    path -- the same
    """
    import numpy as np

    from neural_style.weights import random_vgg_weights

    layers = random_vgg_weights(seed=0).layers
    arrays = {f"{name}/{part}": array for name, pair in layers.items() for part, array in zip(("kernel", "bias"), pair)}
    np.savez(path, **arrays)
    os.environ[FILTERS_VARIABLE] = path
    return path


def read_filters(path=None):
    """
    The filters write_filters saved.

    Arguments:
    path -- the .npz file (default: $BENCH_FILTERS)

    Returns:
    layers -- dict name -> (kernel (3, 3, C_in, C_out), bias (C_out,)) numpy arrays, in VGG-19's order conv1_1..conv5_4
    """
    import numpy as np

    with np.load(path or os.environ[FILTERS_VARIABLE]) as data:
        names = dict.fromkeys(key.split("/")[0] for key in data.files)  # in the order saved: conv1_1 ... conv5_4
        return {name: (data[name + "/kernel"], data[name + "/bias"]) for name in names}


def torch_filters(layers):
    """
    The filters as PyTorch's conv2d takes them.

    Arguments:
    layers -- dict name -> (kernel HWIO, bias) numpy arrays, as read_filters returns

    Returns:
    filters -- dict name -> (weight (C_out, C_in, 3, 3), bias (C_out,)) float32 torch tensors, in the same order
    """
    import torch

    return {
        name: (torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()), torch.from_numpy(bias))
        for name, (kernel, bias) in layers.items()
    }


def vgg_features(x, filters, names):
    """
    The activations of several layers, in one forward pass that stops at the deepest of them.

    Arguments:
    x -- tensor (batch, 3, H, W): a mean-subtracted RGB picture, as the project's VGGModel takes it (in NCHW)
    filters -- dict name -> (weight, bias) as torch_filters returns, in VGG-19's order
    names -- the layers wanted, e.g. ['conv1_1', 'conv4_2']

    Returns:
    features -- dict name -> activation (batch, C, H', W') after its ReLU, for each name asked for
    """
    import torch
    import torch.nn.functional as F

    order = list(filters)
    deepest = max(order.index(name) for name in names)
    features = {}
    for name in order[: deepest + 1]:
        if name.endswith("_1") and name != "conv1_1":
            x = F.avg_pool2d(x, 2, ceil_mode=True)
        x = torch.relu(F.conv2d(x, *filters[name], padding=1))
        if name in names:
            features[name] = x
    return features
