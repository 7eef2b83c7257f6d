"""VGG-19's layers by name, without building the network: the article's names (conv1_1 ... conv5_4, avgpool1 ...),
the Keras names that alias them, and the poolings and precisions the network can be built with.

vgg.py builds the network from these; the options and the tiles' geometry check and place layers with them, so that
the command line can check a layer name before TensorFlow is loaded.
"""

import re

from .checks import check_choice
from .weights import CONV_LAYERS

POOLINGS = ("avg", "max")
# Mixed precision: the convolutions in bfloat16 (float32's range, so real weights cannot overflow it); the image and
# every activation handed out stay float32, so the costs (Gram matrices, sums of squares) keep float32's precision.
PRECISIONS = ("float32", "bfloat16")


def layer_names(pooling: str = "avg") -> list[str]:
    """
    The model's layer names in forward order, as the article names them.

    Arguments:
    pooling -- 'avg' (pools named avgpool1 ... avgpool5, the article's) or 'max' (maxpool1 ... maxpool5)

    Returns:
    names -- list of names: 'conv1_1', 'conv1_2', 'avgpool1', 'conv2_1', ... 'conv5_4', 'avgpool5'
    """
    check_choice(pooling, POOLINGS, "pooling")
    names = []
    for block in range(1, 6):
        names += [name for name in CONV_LAYERS if name.startswith(f"conv{block}_")]
        names.append(f"{pooling}pool{block}")
    return names


_KERAS_NAME = re.compile(r"block([1-5])_(conv([1-4])|pool)")


def canonical_layer_name(name: str, pooling: str = "avg") -> str:
    """
    The article's name of a layer given by its Keras VGG19 name (the one place the two namings meet).

    Arguments:
    name -- 'blockN_convM' or 'blockN_pool' (Keras, the TF2 course), or any other name, returned unchanged
    pooling -- 'avg' or 'max': which pool 'blockN_pool' is

    Returns:
    name -- 'convN_M', '{pooling}poolN', or `name` itself
    """
    match = _KERAS_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        return name
    block, _, conv = match.groups()
    return f"conv{block}_{conv}" if conv else f"{pooling}pool{block}"
