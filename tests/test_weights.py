"""Tests of the weight files: the Keras HDF5 reader, download (against a local HTTP server) and verification.

Nothing here leaves 127.0.0.1: the server is started by the tests, in a thread.
"""

import hashlib
import os
import re
import socket

import h5py
import numpy as np
import pytest

from neural_style import weights as W
from neural_style.weights import (
    CONV_LAYERS,
    ChecksumError,
    DownloadError,
    WeightsError,
    download_weights,
    format_report,
    keras_layer_name,
    load_weights,
    read_keras_weights,
    verify_weights,
)
from neural_style.weights import download as D
from tests.h5_fixtures import KERAS_LAYER_ORDER, small_vgg_layers, write_keras2_h5, write_keras3_h5

# Downloads retry at once here (the `server` fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("no_retry_wait")

# ---------------------------------------------------------------------------------------------------------------------
# Keras HDF5 reader


def assert_same_layers(read, written):
    """Every convolution read equals the arrays written under its Keras name, exactly and as float32."""
    assert list(read.layers) == list(CONV_LAYERS)
    for name, (kernel, bias) in read.layers.items():
        expected_kernel, expected_bias = written[keras_layer_name(name)]
        assert kernel.dtype == np.float32 and bias.dtype == np.float32
        np.testing.assert_array_equal(kernel, expected_kernel)
        np.testing.assert_array_equal(bias, expected_bias)


def test_keras_layer_names_map_to_conv_names():
    assert keras_layer_name("conv1_1") == "block1_conv1"
    assert keras_layer_name("conv4_3") == "block4_conv3"
    assert [keras_layer_name(n) for n in CONV_LAYERS] == [n for n in KERAS_LAYER_ORDER if "conv" in n]


@pytest.mark.parametrize("style", ["keras1", "keras2"])
def test_keras2_layout_round_trips_exactly(tmp_path, style):
    written = small_vgg_layers()
    path = write_keras2_h5(tmp_path / "vgg19.h5", written, style=style)
    read = read_keras_weights(str(path))
    assert_same_layers(read, written)
    assert read.channel_order == "BGR"
    assert read.source == str(path)
    assert read.channels("conv5_4") == 512 // 16


def test_keras2_whole_model_file_is_read_from_model_weights(tmp_path):
    written = small_vgg_layers(seed=3)
    path = write_keras2_h5(tmp_path / "model.h5", written, style="keras2", root="model_weights")
    assert_same_layers(read_keras_weights(str(path)), written)


def test_file_with_classifier_layers_reads_the_convolutions(tmp_path):
    written = small_vgg_layers(seed=4)
    extra = {"fc1": [np.ones((8, 4), np.float32), np.zeros(4, np.float32)]}
    order = KERAS_LAYER_ORDER + ("flatten", "fc1")
    path = write_keras2_h5(tmp_path / "top.h5", {**written, **extra}, layer_order=order)
    assert_same_layers(read_keras_weights(str(path)), written)


@pytest.mark.parametrize("record_names", [True, False])
def test_keras3_weights_layout_round_trips_exactly(tmp_path, record_names):
    written = small_vgg_layers(seed=5)
    path = write_keras3_h5(tmp_path / "vgg19.weights.h5", written, record_names=record_names)
    read = read_keras_weights(str(path))
    assert_same_layers(read, written)
    assert read.channel_order == "BGR"


def test_long_layer_names_attribute_split_in_chunks_is_read(tmp_path):
    # Keras splits an attribute too big for an HDF5 header into layer_names0, layer_names1, ...
    written = small_vgg_layers(seed=6)
    path = write_keras2_h5(tmp_path / "chunked.h5", written)
    with h5py.File(path, "a") as file:
        names = file.attrs["layer_names"]
        del file.attrs["layer_names"]
        file.attrs["layer_names0"], file.attrs["layer_names1"] = names[:10], names[10:]
    assert_same_layers(read_keras_weights(str(path)), written)


def test_load_weights_dispatches_on_the_suffix(tmp_path):
    written = small_vgg_layers(seed=7)
    for name in ("a.h5", "b.HDF5"):
        path = write_keras2_h5(tmp_path / name, written)
        assert_same_layers(load_weights(str(path)), written)
        assert load_weights(path).channel_order == "BGR"  # a pathlib.Path works too
    random = load_weights("random")
    assert random.source == "random" and random.channel_order == "RGB"
    # Anything else goes to the MatConvNet reader.
    not_mat = tmp_path / "weights.bin"
    not_mat.write_bytes(b"\x00" * 300)
    with pytest.raises(WeightsError, match=r"weights\.bin: not a readable MAT file"):
        load_weights(str(not_mat))


def test_missing_h5_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.h5.*weights download"):
        load_weights(str(tmp_path / "nothere.h5"))


def test_not_an_hdf5_file_is_a_weights_error(tmp_path):
    path = tmp_path / "fake.h5"
    path.write_bytes(b"this is not HDF5" * 100)
    with pytest.raises(WeightsError, match=r"fake\.h5: not an HDF5 file; expected Keras VGG19 weights"):
        read_keras_weights(str(path))


def test_truncated_hdf5_file_is_a_weights_error(tmp_path):
    path = write_keras2_h5(tmp_path / "cut.h5", small_vgg_layers())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match=r"cut\.h5: .*expected Keras VGG19 weights"):
        read_keras_weights(str(path))


def test_hdf5_file_without_keras_layout_is_a_weights_error(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("x", data=np.arange(3))
    with pytest.raises(WeightsError, match=r"other\.h5: no Keras 'layer_names' attribute"):
        read_keras_weights(str(path))


def test_missing_layer_is_named(tmp_path):
    written = small_vgg_layers()
    order = tuple(name for name in KERAS_LAYER_ORDER if name != "block4_conv3")
    path = write_keras2_h5(tmp_path / "vgg16ish.h5", written, layer_order=order)
    with pytest.raises(WeightsError, match=r"vgg16ish\.h5: no layer 'block4_conv3' \(VGG-19's conv4_3\)"):
        read_keras_weights(str(path))


def test_wrong_kernel_shape_is_named(tmp_path):
    written = small_vgg_layers()
    written["block3_conv1"][0] = written["block3_conv1"][0][:, :, :5, :]  # C_in 5 instead of 128 / 16 = 8
    path = write_keras2_h5(tmp_path / "shapes.h5", written)
    expected = r"'block3_conv1' has a kernel of shape \(3, 3, 5, 16\), expected \[3, 3, 8, C_out\]"
    with pytest.raises(WeightsError, match=expected):
        read_keras_weights(str(path))


def test_wrong_bias_shape_is_named(tmp_path):
    written = small_vgg_layers()
    written["block2_conv2"][1] = written["block2_conv2"][1][:3]
    path = write_keras2_h5(tmp_path / "bias.h5", written)
    with pytest.raises(WeightsError, match=r"'block2_conv2' has a bias of shape \(3,\), expected \(8,\)"):
        read_keras_weights(str(path))


def test_wrong_number_of_weight_arrays_is_named(tmp_path):
    written = small_vgg_layers()
    written["block5_conv1"] = written["block5_conv1"][:1]
    path = write_keras2_h5(tmp_path / "one.h5", written)
    with pytest.raises(WeightsError, match=r"'block5_conv1' has 1 weight arrays, expected 2 \(kernel, bias\)"):
        read_keras_weights(str(path))


def test_listed_weight_without_dataset_is_named(tmp_path):
    written = small_vgg_layers()
    path = write_keras2_h5(tmp_path / "gone.h5", written)
    with h5py.File(path, "a") as file:
        del file["block1_conv2"]["block1_conv2_b_1:0"]
    with pytest.raises(WeightsError, match=r"layer 'block1_conv2' has no dataset 'block1_conv2_b_1:0'"):
        read_keras_weights(str(path))


def test_keras3_missing_layer_is_named(tmp_path):
    written = small_vgg_layers()
    del written["block5_conv4"]
    path = write_keras3_h5(tmp_path / "short.weights.h5", written)
    with pytest.raises(WeightsError, match=r"no layer 'block5_conv4' \(VGG-19's conv5_4\) in the Keras 3"):
        read_keras_weights(str(path))


@pytest.mark.slow
def test_reader_agrees_with_keras_own_files(tmp_path):
    """Keras loads our Keras 2 fixture into its VGG19, and we read what Keras itself saves (needs TensorFlow)."""
    keras = pytest.importorskip("keras")
    written = small_vgg_layers(width_divisor=1, seed=11)
    fixture = write_keras2_h5(tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", written)
    model = keras.applications.VGG19(include_top=False, weights=str(fixture))
    for name, (kernel, bias) in written.items():
        np.testing.assert_array_equal(model.get_layer(name).get_weights()[0], kernel)
        np.testing.assert_array_equal(model.get_layer(name).get_weights()[1], bias)
    saved = tmp_path / "own.weights.h5"
    model.save_weights(str(saved))
    assert_same_layers(read_keras_weights(str(saved)), written)
    whole = tmp_path / "own_model.h5"
    model.save(str(whole))
    assert_same_layers(read_keras_weights(str(whole)), written)


def sha256_of(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# download_weights


def test_full_download(server, tmp_path):
    path = download_weights(server.url, to=str(tmp_path / "models"), sha256=server.sha256, progress=False)
    assert path == str(tmp_path / "models" / "weights.mat")
    assert sha256_of(path) == hashlib.sha256(server.payload).hexdigest()
    assert not os.path.exists(path + ".part")
    assert server.log == [{"path": "/weights.mat", "range": None}]


def test_download_with_progress_bar_reports_on_stderr(server, tmp_path, capfd):
    path = download_weights(server.url, to=str(tmp_path), sha256=server.sha256, progress=True)
    assert sha256_of(path) == server.sha256
    err = capfd.readouterr().err
    assert "weights.mat" in err and "293k" in err  # 300,000 bytes = 293 KiB


def test_interrupted_download_resumes_with_range(server, tmp_path):
    server.cuts = [100_000]
    expected = r"weights\.mat: download interrupted .*; 100000 bytes kept in .*part, run the same command again"
    with pytest.raises(DownloadError, match=expected):
        download_weights(server.url, to=str(tmp_path), sha256=server.sha256, progress=False, retries=0)
    part = tmp_path / "weights.mat.part"
    assert part.read_bytes() == server.payload[:100_000]
    assert not (tmp_path / "weights.mat").exists()

    path = download_weights(server.url, to=str(tmp_path), sha256=server.sha256, progress=False)
    assert [entry["range"] for entry in server.log] == [None, "bytes=100000-"]
    assert sha256_of(path) == hashlib.sha256(server.payload).hexdigest()
    assert not part.exists()


def test_cut_connection_is_resumed_within_one_call(server, tmp_path):
    server.cuts = [70_000, 50_000]
    path = download_weights(server.url, to=str(tmp_path), sha256=server.sha256, progress=False, retries=2)
    assert [entry["range"] for entry in server.log] == [None, "bytes=70000-", "bytes=120000-"]
    assert sha256_of(path) == hashlib.sha256(server.payload).hexdigest()


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.honour_range = False
    part = tmp_path / "weights.mat.part"
    part.write_bytes(b"stale bytes that must not stay at the front" * 10)
    path = download_weights(server.url, to=str(tmp_path), sha256=server.sha256, progress=False)
    assert server.log[0]["range"] == f"bytes={len(b'stale bytes that must not stay at the front') * 10}-"
    assert sha256_of(path) == hashlib.sha256(server.payload).hexdigest()
    assert os.path.getsize(path) == len(server.payload)


def test_complete_partial_file_is_finished_on_416(server, tmp_path):
    (tmp_path / "weights.mat.part").write_bytes(server.payload)
    path = download_weights(server.url, to=str(tmp_path), sha256=server.sha256, progress=False)
    assert server.log == [{"path": "/weights.mat", "range": f"bytes={len(server.payload)}-"}]
    assert sha256_of(path) == hashlib.sha256(server.payload).hexdigest()


def test_bad_checksum_deletes_the_partial_file(server, tmp_path):
    wrong = hashlib.sha256(b"another file").hexdigest()
    with pytest.raises(ChecksumError) as raised:
        download_weights(server.url, to=str(tmp_path), sha256=wrong, progress=False)
    message = str(raised.value)
    assert hashlib.sha256(server.payload).hexdigest() in message and wrong in message
    assert "was deleted" in message and server.url in message
    assert "\n" not in message
    assert not (tmp_path / "weights.mat.part").exists()
    assert not (tmp_path / "weights.mat").exists()
    assert isinstance(raised.value, DownloadError)  # the CLI can catch every download failure as one type


def test_unreachable_url_is_a_clear_error(tmp_path):
    with socket.socket() as probe:  # a port that was free a moment ago, now closed: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/imagenet-vgg-verydeep-19.mat"
    with pytest.raises(DownloadError, match=rf"^{re.escape(url)}: cannot connect \(.*\); check the URL") as raised:
        download_weights(url, to=str(tmp_path), progress=False, timeout=5)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "imagenet-vgg-verydeep-19.mat.part").exists()


def test_http_error_names_the_url_and_status(server, tmp_path):
    url = server.url.replace("weights.mat", "missing.mat")
    with pytest.raises(DownloadError, match=rf"^{re.escape(url)}: HTTP error 404 Not Found; check the URL"):
        download_weights(url, to=str(tmp_path), progress=False)


def test_existing_file_with_the_right_hash_is_not_downloaded_again(server, tmp_path):
    (tmp_path / "weights.mat").write_bytes(server.payload)
    path = download_weights(server.url, to=str(tmp_path), sha256=server.sha256, progress=False)
    assert path == str(tmp_path / "weights.mat")
    assert server.log == []


def test_existing_file_with_another_hash_is_left_alone(server, tmp_path):
    (tmp_path / "weights.mat").write_bytes(b"my own file")
    with pytest.raises(ChecksumError, match=r"weights\.mat already exists but its SHA-256 is [0-9a-f]{64}, not"):
        download_weights(server.url, to=str(tmp_path), sha256=server.sha256, progress=False)
    assert (tmp_path / "weights.mat").read_bytes() == b"my own file"
    assert server.log == []


def test_no_sha256_downloads_without_a_check(server, tmp_path):
    path = download_weights(server.url, to=str(tmp_path), sha256=None, progress=False, filename="x.mat")
    assert path == str(tmp_path / "x.mat")
    assert sha256_of(path) == hashlib.sha256(server.payload).hexdigest()


def test_bad_arguments_fail_before_any_request(server, tmp_path):
    with pytest.raises(ValueError, match=r"^'abc' is not a SHA-256: expected 64 hexadecimal digits$"):
        download_weights(server.url, to=str(tmp_path), sha256="abc", progress=False)
    with pytest.raises(DownloadError, match=r"ftp://example\.org/w\.mat: only http:// and https://"):
        download_weights("ftp://example.org/w.mat", to=str(tmp_path), progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DownloadError, match=r"file: not a directory"):
        download_weights(server.url, to=str(tmp_path / "file"), progress=False)
    assert server.log == []


def test_defaults_name_the_published_mat_file():
    assert W.MAT_URL == "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"
    assert W.MAT_SHA256 == "abdb57167f82a2a1fbab1e1c16ad9373411883f262a1a37ee5db2e6fb0044695"
    defaults = download_weights.__defaults__
    assert defaults == (W.MAT_URL, "pretrained-model", W.MAT_SHA256, True)


# ---------------------------------------------------------------------------------------------------------------------
# verify_weights


def test_verify_reports_hashes_and_structure(tmp_path):
    written = small_vgg_layers()
    path = write_keras2_h5(tmp_path / "mine.h5", written)
    data = path.read_bytes()
    report = verify_weights(str(path))
    assert report["sha256"] == hashlib.sha256(data).hexdigest()
    assert report["md5"] == hashlib.md5(data).hexdigest()
    assert report["size"] == len(data)
    assert report["format"] == "keras-h5" and report["channel_order"] == "BGR"
    assert report["checksum"] == "not checked" and report["known"] is None
    assert report["layers"]["conv3_1"] == [3, 3, 8, 16]
    assert report["full_size"] is False
    assert report["parameters"] == sum(k.size + b.size for k, b in written.values())
    text = format_report(report)
    assert f"sha256: {hashlib.sha256(data).hexdigest()}" in text and "NOT the real VGG-19" in text


def test_verify_with_the_right_and_a_wrong_sha256(tmp_path):
    path = write_keras2_h5(tmp_path / "mine.h5", small_vgg_layers())
    right = hashlib.sha256(path.read_bytes()).hexdigest()
    assert verify_weights(str(path), sha256=right.upper())["checksum"] == "matches the given SHA-256"
    wrong = "0" * 64
    with pytest.raises(ChecksumError, match=rf"mine\.h5: SHA-256 is {right}, expected {wrong}; .*download it again"):
        verify_weights(str(path), sha256=wrong)


def test_verify_checks_a_file_named_like_the_published_one(tmp_path, monkeypatch):
    path = write_keras2_h5(tmp_path / W.KERAS_FILENAME, small_vgg_layers())
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(ChecksumError, match=rf"matches no published file \(expected MD5 {W.KERAS_MD5}\)"):
        verify_weights(str(path))
    # The published list with this file's MD5 as Keras's.
    published = tuple((*entry[:2], md5, entry[3]) if entry[2] == W.KERAS_MD5 else entry for entry in D.PUBLISHED_FILES)
    monkeypatch.setattr(D, "PUBLISHED_FILES", published)
    report = verify_weights(str(path))
    assert report["known"] == f"Keras {W.KERAS_FILENAME}"
    assert report["checksum"] == f"matches Keras {W.KERAS_FILENAME}"


def test_verify_reports_a_broken_structure(tmp_path):
    written = small_vgg_layers()
    del written["block2_conv1"]
    path = write_keras2_h5(tmp_path / "broken.h5", written)
    with pytest.raises(WeightsError, match=r"broken\.h5: layer 'block2_conv1' has 0 weight arrays"):
        verify_weights(str(path))
    with pytest.raises(FileNotFoundError, match=r"absent\.mat"):
        verify_weights(str(tmp_path / "absent.mat"))
