"""The filters VGG-19 is built from (VGGWeights), the error for a file that does not hold them (WeightsError), and the
checks every reader applies to what it read: shapes, floating point, finite values of a trained network's magnitude.
"""

import dataclasses

import numpy as np

from .published import KERAS_FILENAME, WEIGHTS_HELP

# Trained VGG-19 filters and biases are far below this in magnitude; a file beyond it is damaged or not weights.
MAX_WEIGHT = 1e4


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


def fail_mat(path, problem):
    """
    Refuses a file that should be MatConvNet's weights.

    Arguments:
    path -- the file
    problem -- what is wrong with it

    Returns:
    never: raises WeightsError, one line naming the file, the problem, the file expected and where to get it
    """
    raise WeightsError(f"{path}: {problem}; expected MatConvNet's imagenet-vgg-verydeep-19.mat ({WEIGHTS_HELP})")


def fail_keras(path, problem):
    """
    Refuses a file that should be Keras's VGG19 weights.

    Arguments:
    path -- the file
    problem -- what is wrong with it

    Returns:
    never: raises WeightsError, one line naming the file, the problem, the file expected and where to get it
    """
    raise WeightsError(f"{path}: {problem}; expected Keras VGG19 weights such as {KERAS_FILENAME} ({WEIGHTS_HELP})")


def short_reason(error):
    """
    An exception's message on one line of at most 120 characters, for a message that quotes it.

    Arguments:
    error -- the exception

    Returns:
    text -- its message with the white space collapsed (its type's name if it has none), cut to 120 characters
    """
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def check_conv(path, name, kernel, bias, in_channels, fail=fail_mat):
    """
    Checks one convolution's arrays as read from a file: shapes, floating point, finite and of a trained network's
    magnitude (|w| <= MAX_WEIGHT).

    Arguments:
    path -- the file they came from, for the message
    name -- the convolution's name in the message ('conv1_1', or the file's own name for it)
    kernel -- array [3, 3, in_channels, C_out]
    bias -- array of C_out values (any shape that flattens to them)
    in_channels -- the channels the convolution takes (3, or the previous one's output channels)
    fail -- fail_mat or fail_keras: how to refuse the file

    Returns:
    kernel, bias -- float32 arrays [3, 3, in_channels, C_out] and (C_out,)
    """
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
