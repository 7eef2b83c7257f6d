"""Hostile weight files give one line naming the file, never a crash or gigabytes."""

import os
import signal

import h5py
import numpy as np
import pytest

from neural_style import weights as W
from neural_style.cli import main
from neural_style.weights import VGGWeights, WeightsError, check_mat_header, container, load_weights, read_keras_weights
from tests.fixtures import save_mat, vgg_mat_layers, write_vgg_mat
from tests.h5_fixtures import small_vgg_layers, write_keras2_h5
from tests.hostile import compressed_zeros_variable, mat_header, with_nan


@pytest.fixture(scope="module")
def mat_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("mat") / "imagenet-vgg-verydeep-19.mat"
    write_vgg_mat(path)
    return path.read_bytes()


def refused(path, match):
    """load_weights(path) raises WeightsError, one line naming the file and matching `match`."""
    with pytest.raises(WeightsError, match=match) as error:
        load_weights(str(path))
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("length", [0, 20, 60, 126, 127, 128, 135, 200])
def test_truncated_mat_is_one_line_not_an_index_error(mat_bytes, tmp_path, length):
    # Before: a file cut to 20..126 bytes raised IndexError inside scipy.
    path = tmp_path / "cut.mat"
    path.write_bytes(mat_bytes[:length])
    refused(path, "not a readable MAT file")


def test_truncated_body_is_reported_as_truncated(mat_bytes, tmp_path):
    path = tmp_path / "cut.mat"
    path.write_bytes(mat_bytes[: len(mat_bytes) // 2])
    refused(path, r"truncated: a variable declares [\d,]+ bytes, only [\d,]+ remain")


def test_v73_mat_file_names_the_file(tmp_path):
    # Before: scipy's NotImplementedError advice, exit 1, no file name.
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as file:
        file.create_dataset("layers", data=np.zeros(3))
    with open(path, "r+b") as file:
        file.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Fri Nov 27 10:00:00 2026 HDF5 schema 1.00 .")
    refused(path, r"MATLAB v7\.3 \(HDF5\) file")


def test_a_parser_crash_in_the_child_is_one_line(mat_bytes, tmp_path, monkeypatch):
    # A header byte flip once made scipy.io.loadmat segfault (exit 139): the child may die, this process may not.
    path = tmp_path / "crash.mat"
    path.write_bytes(mat_bytes)
    monkeypatch.setattr(container, "_CHILD_BOOT", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    message = refused(path, "scipy's MAT parser crashed reading it")
    assert signal.Signals.SIGSEGV.name in message


def test_child_out_of_memory_is_one_line(mat_bytes, tmp_path, monkeypatch):
    path = tmp_path / "big.mat"
    path.write_bytes(mat_bytes)
    # The limit becomes twice the file: below what parsing needs.
    monkeypatch.setattr(container, "_CHILD_MEMORY_BYTES", 0)
    refused(path, r"reading it needs more than [\d.]+ GiB, far more than VGG-19")


def test_zlib_bomb_in_an_extra_variable_is_never_inflated(mat_bytes, tmp_path):
    # 64 MiB of zeros in ~64 KB, declaring 4 GB: read, it would take gigabytes; only 'layers' is read.
    bomb = compressed_zeros_variable("junk", 64 * 1024**2, declared_count=500_000_000)
    assert len(bomb) < 200_000
    path = tmp_path / "bomb.mat"
    path.write_bytes(mat_bytes + bomb)
    assert check_mat_header(str(path))[-1] == "junk"
    weights = load_weights(str(path))
    assert set(weights.layers) == set(W.CONV_LAYERS)


def test_layers_variable_declaring_gigabytes_is_refused_before_parsing(tmp_path):
    path = tmp_path / "bomb.mat"
    path.write_bytes(mat_header() + compressed_zeros_variable("layers", 1024**2, declared_count=3 * 1024**3 // 8))
    refused(path, r"its 'layers' variable declares [\d,]+ bytes, more than VGG-19 can need")


def test_h5_dataset_declaring_gigabytes_is_refused_before_reading(tmp_path):
    # Before: an .h5 declaring an 8.6 GiB dataset was read in full (20 GB of memory) before any shape check.
    layers = small_vgg_layers()
    path = tmp_path / "huge.h5"
    write_keras2_h5(path, layers)
    with h5py.File(path, "r+") as file:
        group = file["block3_conv1"]
        del group["block3_conv1_W_1:0"]
        group.create_dataset("block3_conv1_W_1:0", shape=(3, 3, 256, 1_000_000), dtype="f4", chunks=(3, 3, 16, 64))
    assert os.path.getsize(path) < 2_000_000
    refused(path, r"'block3_conv1_W_1:0' declares shape \(3, 3, 256, 1000000\), larger than any VGG-19 filter")


@pytest.mark.parametrize("value, problem", [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (3e7, "3e\\+07")])
def test_non_finite_or_absurd_filters_are_refused_naming_the_layer(tmp_path, value, problem):
    weights = W.random_vgg_weights(width_divisor=16)
    kernel, bias = weights.layers["conv3_2"]
    layers = dict(weights.layers, conv3_2=(with_nan(kernel, 5, value), bias))
    path = tmp_path / "bad.mat"
    save_mat(path, vgg_mat_layers(VGGWeights(layers=layers, source="x")))
    message = refused(path, f"conv3_2's kernel holds .*{problem}")
    assert "conv3_2" in message


def test_non_finite_keras_bias_is_refused_naming_the_layer(tmp_path):
    layers = small_vgg_layers()
    layers["block4_conv2"][1] = with_nan(layers["block4_conv2"][1], 0, -np.inf)
    path = write_keras2_h5(tmp_path / "bad.h5", layers)
    with pytest.raises(WeightsError, match=r"layer 'block4_conv2''s bias holds NaN or infinite values"):
        read_keras_weights(str(path))


def test_weights_verify_fails_on_non_finite_filters(tmp_path, capfd):
    # Before: `weights verify` printed "ok" for a file with NaN filters.
    weights = W.random_vgg_weights(width_divisor=16)
    kernel, bias = weights.layers["conv1_1"]
    layers = dict(weights.layers, conv1_1=(kernel, with_nan(bias, 2)))
    path = tmp_path / "nan.mat"
    save_mat(path, vgg_mat_layers(VGGWeights(layers=layers, source="x")))
    code = main(["weights", "verify", str(path)])
    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "conv1_1's bias holds NaN or infinite values" in err and str(path) in err


def test_random_bytes_behind_a_valid_header_are_one_line(tmp_path):
    path = tmp_path / "noise.mat"
    path.write_bytes(mat_header() + np.random.default_rng(0).bytes(4096))
    refused(path, "not a readable MAT file|cannot be read")
