"""Hostile files for the hostile-input tests: MAT v5 elements written byte by byte, zlib bombs, HDF5 files declaring
absurd sizes. Built from the MAT-file format's published layout, independently of the reader under test.
"""

import struct
import zlib

import numpy as np

MI_INT8, MI_INT32, MI_UINT32, MI_DOUBLE, MI_MATRIX, MI_COMPRESSED = 1, 5, 6, 9, 14, 15
MX_DOUBLE_CLASS = 6


def _element(kind, data):
    """One tagged data element, padded to 8 bytes."""
    return struct.pack("<II", kind, len(data)) + data + b"\0" * (-len(data) % 8)


def matrix_head(name, count, declared_data_bytes=None):
    """The start of a miMATRIX holding a 1 x count double array: tag, flags, dims, name, and the data's tag."""
    data_bytes = count * 8 if declared_data_bytes is None else declared_data_bytes
    body = (
        _element(MI_UINT32, struct.pack("<II", MX_DOUBLE_CLASS, 0))
        + _element(MI_INT32, struct.pack("<ii", 1, count))
        + _element(MI_INT8, name.encode())
        + struct.pack("<II", MI_DOUBLE, data_bytes)
    )
    return struct.pack("<II", MI_MATRIX, len(body) + data_bytes + (-data_bytes % 8)) + body


def compressed_zeros_variable(name, zero_bytes, declared_count=None):
    """A miCOMPRESSED variable whose zlib stream inflates to a matrix head and `zero_bytes` zero bytes (a bomb)."""
    count = zero_bytes // 8 if declared_count is None else declared_count
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(matrix_head(name, count))]
    chunk = bytes(1 << 24)
    for start in range(0, zero_bytes, len(chunk)):
        parts.append(deflate.compress(chunk[: min(len(chunk), zero_bytes - start)]))
    parts.append(deflate.flush())
    stream = b"".join(parts)
    return struct.pack("<II", MI_COMPRESSED, len(stream)) + stream


def mat_header(text=b"MATLAB 5.0 MAT-file, written by the tests"):
    """The 128-byte MAT v5 header: text, subsystem offset, version 0x0100, 'IM' (little-endian)."""
    return text.ljust(116, b" ")[:116] + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"


def with_nan(array, index=0, value=np.nan):
    """A copy of a float array with one element replaced."""
    array = np.array(array, copy=True)
    array.reshape(-1)[index] = value
    return array


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width, height, rows=1):
    """A tiny PNG whose header declares width x height 8-bit grey pixels; only the first `rows` rows hold data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + bytes(width) for _ in range(rows)) or b"\0", 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")
