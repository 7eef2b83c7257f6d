"""Damaged or hostile checkpoint.npz files are one line (CheckpointError; exit 2 from --resume)."""

import io
import json
import resource
import struct
import zipfile

import numpy as np
import pytest

from neural_style import checkpoint
from neural_style.checkpoint import MAX_MEMBER_BYTES, CheckpointError, load_checkpoint, save_checkpoint

SHAPE = (1, 6, 8, 3)


def valid(folder, **changes):
    """A checkpoint as StyleTransfer.save_checkpoint writes it (Adam: iteration count and two moments)."""
    rng = np.random.default_rng(0)
    history = [{"iteration": i, "seconds": 0.1 * i, "J": 10.0 - i, "J_content": 1.0, "J_style": 2.0} for i in range(3)]
    state = {
        "iteration": 3,
        "scale_index": 0,
        "evaluations": 0,
        "optimizer_variables": ["iteration", "m", "v"],
        "history": history,
        "settings": {"size": "6x8"},
    }
    arrays = {
        "image": rng.standard_normal(SHAPE).astype(np.float32),
        "best_image": rng.standard_normal(SHAPE).astype(np.float32),
        "best_cost": np.float32(7.0),
        "optimizer_0": np.int64(3),
        "optimizer_1": np.zeros(SHAPE, np.float32),
        "optimizer_2": np.zeros(SHAPE, np.float32),
    }
    for key, value in changes.items():
        (state if key in state else arrays)[key] = value
    return save_checkpoint(folder, state, arrays), state, arrays


def refused(path, match):
    with pytest.raises(CheckpointError, match=match) as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_a_valid_checkpoint_reads_back(tmp_path):
    path, state, arrays = valid(tmp_path)
    read_state, read_arrays = load_checkpoint(tmp_path)
    assert read_state == state
    for name, array in arrays.items():
        np.testing.assert_array_equal(read_arrays[name], array)


def test_empty_and_truncated_checkpoints(tmp_path):
    path, _, _ = valid(tmp_path)
    data = path.read_bytes() if hasattr(path, "read_bytes") else open(path, "rb").read()
    for length in (0, 10, 100, len(data) // 2, len(data) - 10):
        with open(path, "wb") as file:
            file.write(data[:length])
        refused(path, "is not a neural-style checkpoint|is damaged|truncated")


@pytest.mark.parametrize(
    "change, match",
    [
        ({"optimizer_1": np.zeros((1, 3, 3, 3), np.float32)}, r"'optimizer_1' has shape \(1, 3, 3, 3\), neither"),
        ({"history": "not a list"}, "state 'history' is not a list of 3 iterations"),
        ({"history": [1, 2, 3]}, "history entry '1' is not an object of costs"),
        ({"iteration": -1}, "state 'iteration' is -1"),
        ({"optimizer_variables": "m"}, "'optimizer_variables' is not a list of names"),
        ({"best_cost": np.zeros(3)}, "'best_cost' is not one number"),
        ({"image": np.zeros((6, 8, 3), np.float32)}, r"'image' is not a \(1, H, W, 3\) float image"),
        ({"best_image": np.zeros((1, 6, 9, 3), np.float32)}, "differ in shape"),
    ],
)
def test_malformed_contents_are_named(tmp_path, change, match):
    path, _, _ = valid(tmp_path, **change)
    refused(path, match)


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            with archive.open(name, "w", force_zip64=True) as stream:
                for chunk in data if isinstance(data, list) else [data]:
                    stream.write(chunk)
    return path


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _state():
    return _npy(np.array(json.dumps({"iteration": 0})))


def test_a_member_declaring_37_gib_is_refused_before_reading(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (1, 100_000, 100_000, 1)}
    )
    path = _write_zip(tmp_path / "checkpoint.npz", {"state.npy": _state(), "image.npy": header.getvalue() + bytes(64)})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(path, r"member 'image.npy' declares shape \(1, 100000, 100000, 1\) of float32, more than its")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


def test_a_zip_bomb_member_is_refused_from_its_declared_size(tmp_path, monkeypatch):
    # The cap grows with the largest picture this machine can run; pin it at its 4 MP floor, MAX_MEMBER_BYTES.
    monkeypatch.setattr(checkpoint, "run_pixel_limit", lambda: 0)
    bomb = [bytes(1 << 24)] * (MAX_MEMBER_BYTES // (1 << 24) + 1)
    path = _write_zip(tmp_path / "checkpoint.npz", {"state.npy": _state(), "image.npy": bomb}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2_000_000
    refused(path, r"member 'image.npy' declares [\d,]+ bytes, more than a checkpoint holds")


def test_an_object_array_or_a_stranger_member_is_refused(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    path = _write_zip(tmp_path / "checkpoint.npz", {"state.npy": _state(), "image.npy": header.getvalue() + bytes(8)})
    refused(path, "member 'image.npy' holds object, not numbers or text")
    path = _write_zip(tmp_path / "checkpoint.npz", {"state.npy": _state(), "../evil.npy": _npy(np.zeros(2))})
    refused(path, "member '../evil.npy' is not an array of a neural-style checkpoint")


@pytest.mark.parametrize("flag_bits, compress_type", [(0x1, zipfile.ZIP_STORED), (0x20, zipfile.ZIP_STORED), (0, 99)])
def test_members_zipfile_cannot_follow_are_one_line(tmp_path, flag_bits, compress_type):
    # Found by tests/test_fuzz.py: zipfile raised RuntimeError (encrypted) and NotImplementedError (patched data).
    path = tmp_path / "checkpoint.npz"
    _write_zip(path, {"state.npy": _state()})
    data = bytearray(path.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.index(signature)
        data[start + flags_at : start + flags_at + 4] = struct.pack("<HH", flag_bits, compress_type)
    path.write_bytes(bytes(data))
    refused(path, "is not a neural-style checkpoint|encrypted or compressed in a way numpy never writes")
