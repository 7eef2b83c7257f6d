"""The published networks' ONNX files read as their tensors: each weight with its integers and scales, each
quantised activation with its scale and zero point, keyed by the names the network had in TensorFlow.

The files are read with the `onnx` package's protobuf reader only: nothing in them is executed. A file converted from
an int8 TensorFlow Lite network (tf2onnx) holds each weight as an int8 or int32 initialiser that a DequantizeLinear
reads with its scales, and each activation as a QuantizeLinear (the activation's TensorFlow name, with `_int8` added
when the converter renamed it) followed by DequantizeLinears. A float file holds float32 initialisers.
"""

import dataclasses
import os

import numpy as np

from ..checks import OptionError

# A published network is a few MB; a file far beyond that is not one of them (and is not read into memory).
MAX_FILE_BYTES = 64_000_000


@dataclasses.dataclass
class Quantized:
    """A weight as its file stores it: integers, and a scale and zero point (per index of `axis`, or one)."""

    values: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None

    def dequantize(self):
        """The float32 weight, (values - zero_point) * scale, as the file's runtime computes it."""
        from .quantize import dequantize

        return dequantize(self.values, self.scale, self.zero_point, self.axis if self.scale.ndim else None)


@dataclasses.dataclass
class NetworkTensors:
    """What a published file holds: its weights, its activations' quantisation, its inputs and outputs."""

    weights: dict  # name -> Quantized, or float32 array
    activations: dict  # TensorFlow name -> (scale, zero point)
    inputs: dict  # name -> shape (a dimension None when the file leaves it free)
    outputs: dict
    constants: dict  # name -> array: the graph's other constants (pads, shapes)


def read_onnx(path):
    """
    A published ONNX file's tensors.

    Arguments:
    path -- the .onnx file

    Returns:
    tensors -- NetworkTensors; OptionError (one line naming the file) for a file that is not a readable ONNX model
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise OptionError(f"{path}: reading ONNX files needs the onnx package: pip install onnx", "model") from None
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise OptionError(f"{path}: {size / 1e6:.0f} MB, larger than any published style network", "model")
    try:
        model = onnx.load(path)
    except Exception as error:  # protobuf raises several kinds for a file that is not an ONNX model
        raise OptionError(f"{path}: not an ONNX model ({str(error).splitlines()[0][:120]})", "model") from None
    graph = model.graph
    initialisers = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].type == onnx.AttributeProto.TENSOR:
            initialisers[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    weights, activations, used = {}, {}, set()
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in initialisers:
            values = initialisers[node.input[0]]
            scale = np.asarray(initialisers[node.input[1]], np.float32)
            zero_point = np.asarray(initialisers[node.input[2]]) if len(node.input) > 2 else np.zeros((), np.int8)
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            axis = axis % values.ndim if values.ndim and scale.ndim else None
            weights[node.input[0]] = Quantized(values, scale, zero_point, axis)
            used.update(node.input)
        elif node.op_type == "QuantizeLinear" and node.input[0] not in initialisers:
            name = node.output[0].removesuffix("_int8")
            scale = float(initialisers[node.input[1]])
            zero_point = int(initialisers[node.input[2]]) if len(node.input) > 2 else 0
            activations[name] = (scale, zero_point)
    for name, values in initialisers.items():
        if name not in used and np.issubdtype(values.dtype, np.floating) and values.ndim >= 1:
            weights.setdefault(name, values.astype(np.float32))
    constants = {name: values for name, values in initialisers.items() if name not in weights and name not in used}

    def shapes(values):
        return {
            v.name: tuple(d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim)
            for v in values
        }

    return NetworkTensors(weights, activations, shapes(graph.input), shapes(graph.output), constants)
