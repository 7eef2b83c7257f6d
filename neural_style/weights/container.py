"""Reading weight files that may be hostile: the .mat header and declared sizes checked in plain Python before any
parser sees the file, and the parsers (parse.py: scipy, h5py) run in a child process, so that a crash or a runaway
allocation is one WeightsError naming the file, never the end of this process.
"""

import contextlib
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

from .filters import VGGWeights, WeightsError, fail_mat, short_reason
from .parse import parse_keras, parse_mat
from .published import CONV_LAYERS, WEIGHTS_HELP

# The largest 'layers' variable a .mat holding VGG-19 can declare: the real one (the classifier included) is about
# 575 MB as float32; twice that leaves room for a float64 copy, and refuses zlib bombs and absurd declared sizes.
MAX_MAT_VARIABLE_BYTES = 1200 * 1024**2
# The child process that parses a weight file may use this much address space beyond twice the file's size.
_CHILD_MEMORY_BYTES = 3 * 1024**3
_CHILD_TIMEOUT_S = 600


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
            fail_mat(path, "a MATLAB v7.3 (HDF5) file, which cannot be read here; save it with MATLAB's -v7")
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
                fail_mat(path, f"its 'layers' variable declares {inner:,} bytes, more than VGG-19 can need")
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


def has_hdf5_signature(path):
    """Whether the HDF5 signature is where the format puts it (byte 0, 512, 1024, 2048 ...), read in plain Python so
    that no C parser touches the file in this process."""
    size, offset = os.path.getsize(path), 0
    with open(path, "rb") as file:
        while offset + len(_HDF5_SIGNATURE) <= size:
            if _at(file, offset, len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


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
    weights -- a VGGWeights, as parse.parse_mat or parse.parse_keras would return it
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
# Imports this module by its path, without running the packages' __init__: the child needs the parsers, not
# TensorFlow or the download side.
_CHILD_BOOT = (
    "import os, sys, types\n"
    "for name in ('neural_style', 'neural_style.weights'):\n"
    "    sys.modules[name] = types.ModuleType(name)\n"
    "    sys.modules[name].__path__ = [os.path.join(sys.argv[1], *name.split('.')[1:])]\n"
    "from neural_style.weights import container\n"
    "sys.exit(container._child_main(*sys.argv[2:]))"
)


def _child_main(kind, path, result, memory):
    """The child of read_contained: parse, check, write the filters to `result`; the exit code says how it went."""
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    try:
        read = parse_mat(path) if kind == "mat" else parse_keras(path)
        with open(result, "wb") as file:
            np.save(file, np.array(read.channel_order))
            for name in CONV_LAYERS:
                np.save(file, read.layers[name][0])
                np.save(file, read.layers[name][1])
    except WeightsError as error:
        print(" ".join(str(error).split()), file=sys.stderr)
        return _CHILD_REFUSED
    except MemoryError:
        return _CHILD_OUT_OF_MEMORY
    except Exception as error:  # whatever a damaged file makes the parser raise: reported, one line, by the parent
        print(f"{type(error).__name__}: {short_reason(error)}", file=sys.stderr)
        return _CHILD_FAILED
    return 0
