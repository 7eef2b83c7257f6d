"""Hostile model files for apply, export and video --model: bombs refused from their headers before Keras reads them,
broken networks refused before they write a black picture, one line for a folder or a damaged file, a full disk
during export, a folder apply that skips an unreadable picture, tiles too small to be worth their margin, and
keras.models.load_model after `import neural_style`."""

import collections
import io
import json
import os
import shutil
import subprocess
import sys
import warnings
import zipfile

import h5py
import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from neural_style.checks import OptionError
from neural_style.cli import main
from neural_style.fast import export as fast_export
from neural_style.fast.apply import NonFiniteOutputError, apply_model, load_fast_model, stylize_picture
from neural_style.fast.model_file import MAX_STYLES, parameter_count, weight_shapes
from neural_style.fast.network import JOHNSON, build_transform_net
from neural_style.fast.tiles import transform_minimum_tile_size

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A one-style network's .keras file, and its members' bytes as `net.save` wrote them."""
    path = tmp_path_factory.mktemp("model") / "style.keras"
    build_transform_net(seed=3).save(path)
    with zipfile.ZipFile(path) as archive:
        return path, {name: archive.read(name) for name in archive.namelist()}


def write_keras(path, members, compression=zipfile.ZIP_STORED):
    """A .keras file (a zip) of {name: bytes or list of chunks}, written chunk by chunk (bombs are never whole)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name" warning, for the file that holds one twice
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in members.items() if isinstance(members, dict) else members:
                with archive.open(name, "w", force_zip64=True) as stream:
                    for chunk in data if isinstance(data, list) else [data]:
                        stream.write(chunk)
    return path


def config_with(members, **arguments):
    """The members with the TransformNet's config.json arguments changed."""
    config = json.loads(members["config.json"])
    config["config"].update(arguments)
    return {**members, "config.json": json.dumps(config).encode()}


def refused(path, match):
    """load_fast_model refuses the file with one line naming it."""
    with pytest.raises(OptionError, match=match) as error:
        load_fast_model(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message, message
    return message


# -- 1. bombs and members train never writes, refused from the headers --------------------------------------------


def test_a_config_that_inflates_is_refused_from_its_declared_size(saved, tmp_path):
    # Valid JSON (whitespace after the object): Keras read all 64 MiB of it, parsed it and loaded the model.
    _, members = saved
    padding = [b" " * (16 * MIB)] * 4
    path = write_keras(
        tmp_path / "bomb.keras", {**members, "config.json": [members["config.json"], *padding]}, zipfile.ZIP_DEFLATED
    )
    assert path.stat().st_size < 7 * MIB
    refused(path, r"'config.json' declares 67,109,\d{3} bytes, more than the 1,048,576 allowed")


def test_a_member_that_lies_about_its_size_is_read_no_further(saved, tmp_path):
    # The header says 300 bytes; the deflated stream holds 64 MiB. zipfile stops at the declared size (and then finds
    # the checksum wrong): the read is bounded either way, and the refusal one line.
    _, members = saved
    path = write_keras(
        tmp_path / "liar.keras",
        {**members, "config.json": [members["config.json"], *[b" " * (16 * MIB)] * 4]},
        zipfile.ZIP_DEFLATED,
    )
    data = bytearray(path.read_bytes())
    # The central directory's entry (signature, then 42 bytes, then the name) is what zipfile reads the size from:
    # its uncompressed size, 24 bytes into the entry, set to 300.
    entry = _central_entry(data, b"config.json")
    data[entry + 24 : entry + 28] = (300).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("config.json").file_size == 300
    refused(path, r"not a \.keras model file, or a damaged one \(BadZipFile")


def _central_entry(data, name):
    """The offset of a member's central directory entry in a zip's bytes."""
    start = data.find(name)
    while data[start - 46 : start - 42] != b"PK\x01\x02":
        start = data.find(name, start + 1)
    return start - 46


@pytest.mark.parametrize(
    "extra, match",
    [
        ({"assets/a.bin": b"\0" * 1000}, r"it holds 'assets/a\.bin', which a model written by neural-style train"),
        ({"../outside.txt": b"x"}, r"it holds '\.\./outside\.txt'"),
        ({"model.weights.npz": b"x"}, r"it holds 'model\.weights\.npz'"),
    ],
)
def test_members_train_never_writes_are_refused(saved, tmp_path, extra, match):
    # Keras extracted every member besides its three into a temporary folder, then loaded the model.
    _, members = saved
    refused(write_keras(tmp_path / "extra.keras", {**members, **extra}), match)


def test_a_member_twice_or_missing_is_refused(saved, tmp_path):
    _, members = saved
    twice = list(members.items()) + [("config.json", members["config.json"])]
    refused(write_keras(tmp_path / "twice.keras", twice), "it holds 'config.json' twice")
    without = {name: data for name, data in members.items() if name != "model.weights.h5"}
    refused(write_keras(tmp_path / "without.keras", without), "it has no model.weights.h5")


@pytest.mark.parametrize("styles", [100_000, MAX_STYLES + 1, 0, -1, "2", True, 2.5])
def test_styles_out_of_bounds_are_refused_before_keras_builds(saved, tmp_path, styles):
    # 100,000 styles: Keras built 2 x 100,000 x 1,600 scales and shifts (1.3 GB) before the weights did not fit.
    _, members = saved
    path = write_keras(tmp_path / "styles.keras", config_with(members, styles=styles))
    refused(path, rf"config\.json gives styles {styles}, not a whole number from 1 to 1000")


def test_styles_must_be_those_of_the_weights(saved, tmp_path):
    _, members = saved
    path = write_keras(tmp_path / "three.keras", config_with(members, styles=3))
    refused(path, r"config\.json gives 3 styles, its weights hold 1")


def test_a_weights_member_larger_than_the_network_is_refused(saved, tmp_path):
    # The network's 1,677,635 float32 weights and 2 MiB for HDF5: the real file is 0.12 MB over its weights.
    _, members = saved
    assert len(members["model.weights.h5"]) - 4 * parameter_count(1) < 200_000
    padded = [members["model.weights.h5"], bytes(3 * MIB)]
    path = write_keras(tmp_path / "big.keras", {**members, "model.weights.h5": padded}, zipfile.ZIP_DEFLATED)
    refused(path, r"model\.weights\.h5 declares [\d,]+ bytes, more than the 8,807,692 of a network of 1 style")
    assert 4 * 1_677_635 + 2 * MIB == 8_807_692


def test_a_file_larger_than_any_model_is_refused_before_its_directory_is_read(saved, tmp_path):
    # 1000 styles: 4 x (1,677,635 + 999 x 3,200) bytes of weights, 2 MiB for HDF5, 1 MiB for each text member, 64 KiB
    # for the zip's headers. One byte more (a sparse file: zeros, then a real model's bytes, which zipfile would find
    # at the end and whose central directory it would parse) is refused from its size alone.
    path, _ = saved
    largest = 4 * (1_677_635 + 999 * 3_200) + 2 * MIB + 2 * MIB + 64 * 1024
    big = tmp_path / "big.keras"
    with open(big, "wb") as file:
        file.truncate(largest + 1 - path.stat().st_size)
        file.seek(0, os.SEEK_END)
        file.write(path.read_bytes())
    assert big.stat().st_size == largest + 1
    refused(big, rf"it is {largest + 1:,} bytes, more than the {largest:,} a network of 1000 styles takes")


def _edited_weights(members, edit):
    """model.weights.h5's bytes changed by edit(h5py.File)."""
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as file:
        edit(file)
    return buffer.getvalue()


def _first_kernel(file):
    return next(name for name in _datasets(file) if file[name].shape == (9, 9, 3, 32))


def _datasets(file):
    names = []
    file.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    return names


def _add_dataset(file):
    file.create_dataset("layers/extra/vars/0", data=np.zeros(10, np.float32))


def _as_float64(file):
    name = _first_kernel(file)
    values = file[name][()]
    del file[name]
    file.create_dataset(name, data=values.astype(np.float64))


def _compressed(file):
    name = _first_kernel(file)
    values = file[name][()]
    del file[name]
    file.create_dataset(name, data=values, compression="gzip")


def _external_link(file):
    name = _first_kernel(file)
    del file[name]
    file[name] = h5py.ExternalLink("/elsewhere.h5", "/kernel")


@pytest.mark.parametrize(
    "edit, match",
    [
        (_add_dataset, r"its weights are 48 arrays of 1,677,645 numbers, not the network's 47 of 1,677,635"),
        (_as_float64, r"holds float64, not float32"),
        (_compressed, r"is stored in a way Keras never writes"),
        (_external_link, r"is a ExternalLink, which Keras never writes"),
    ],
)
def test_weights_that_are_not_the_networks_are_refused(saved, tmp_path, edit, match):
    # Keras ignored the extra array, cast the float64 one, decompressed the gzip one and followed the external link.
    _, members = saved
    path = write_keras(tmp_path / "edited.keras", {**members, "model.weights.h5": _edited_weights(members, edit)})
    refused(path, match)


def test_a_single_style_file_of_the_earlier_layout_still_loads(tmp_path):
    # Files written before the per-style scales hold gamma and beta as (C,), not (1, C): the same numbers.
    net = build_transform_net(seed=8)
    for norm in net.norms:
        norm.gamma.assign(np.random.default_rng(1).uniform(0.5, 2, norm.gamma.shape).astype(np.float32))
    net.save(tmp_path / "now.keras")
    with zipfile.ZipFile(tmp_path / "now.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}

    def flatten_norms(file):
        for name in _datasets(file):
            if len(file[name].shape) == 2:
                values = file[name][()]
                del file[name]
                file.create_dataset(name, data=values[0])

    weights = _edited_weights(members, flatten_norms)
    path = write_keras(tmp_path / "earlier.keras", {**members, "model.weights.h5": weights})
    with h5py.File(io.BytesIO(weights)) as file:
        assert sum(len(file[name].shape) == 2 for name in _datasets(file)) == 0
    picture = np.random.default_rng(2).uniform(0, 255, (1, 24, 24, 3)).astype(np.float32)
    np.testing.assert_array_equal(load_fast_model(path)(picture).numpy(), net(picture).numpy())


def test_another_keras_model_is_refused_before_it_is_built(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.save(tmp_path / "dense.keras")
    refused(tmp_path / "dense.keras", r"a Keras model, but not one neural-style train writes \(a TransformNet\)")


def test_the_expected_shapes_are_the_networks():
    # weight_shapes is written from the architecture's constants; the network built by Keras has exactly those.
    for styles in (1, 3):
        built = collections.Counter(tuple(w.shape) for w in build_transform_net(styles=styles).weights)
        assert built == weight_shapes(styles)
    assert parameter_count(1) == 1_677_635 and parameter_count(2) - parameter_count(1) == 2 * 1_600


MEASURE = """
import json, resource, sys
from neural_style.checks import OptionError
from neural_style.fast.apply import load_fast_model

def written():
    with open("/proc/self/io") as file:
        return int(next(line.split()[1] for line in file if line.startswith("wchar")))

before, wrote = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, written()
messages = []
for path in sys.argv[1:]:
    try:
        load_fast_model(path)
        messages.append("loaded")
    except OptionError as error:
        messages.append(str(error))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"kib": after - before, "written": written() - wrote, "messages": messages}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux's /proc/self/io to count bytes written")
def test_the_refusals_cost_little_memory_and_write_nothing(saved, tmp_path):
    # A fresh interpreter: this one's high-water mark would hide a new allocation. Keras alone took hundreds of MB
    # for these files (the config read and parsed, 100,000 styles built) and wrote the 64 MiB of assets to /tmp.
    _, members = saved
    bombs = [
        write_keras(
            tmp_path / "config.keras",
            {**members, "config.json": [members["config.json"], *[b" " * (16 * MIB)] * 4]},
            zipfile.ZIP_DEFLATED,
        ),
        write_keras(
            tmp_path / "assets.keras",
            {**members, **{f"assets/{i}.bin": [bytes(8 * MIB)] for i in range(8)}},
            zipfile.ZIP_DEFLATED,
        ),
        write_keras(tmp_path / "styles.keras", config_with(members, styles=100_000)),
    ]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *map(str, bombs)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(message.startswith(f"model {path}:") for message, path in zip(report["messages"], bombs)), report
    assert report["kib"] < 50_000, report  # less than 50 MB above what importing TensorFlow took
    assert report["written"] < MIB, report


# -- 2. networks that cannot give a picture -------------------------------------------------------------------------


def _broken(tmp_path, change, styles=1, name="broken.keras"):
    """A saved network with change(net) applied."""
    net = build_transform_net(seed=3, styles=styles)
    change(net)
    path = tmp_path / name
    net.save(path)
    return net, path


def test_a_nan_weight_is_refused_naming_the_model(tmp_path):
    def nan(net):
        kernel = net.convs[0].kernel.numpy()
        kernel[0, 0, 0, 0] = np.nan
        net.convs[0].kernel.assign(kernel)

    _, path = _broken(tmp_path, nan)
    refused(path, r"1 of the 7,776 weights of transform_net/conv0/kernel are NaN or infinite; the training diverged")


def test_weights_too_large_for_float32_are_refused_by_the_probe(tmp_path):
    # 3e38 is finite, but the first normalisation's output times the next kernels overflows float32.
    def huge(net):
        net.norms[0].gamma.assign(np.full(net.norms[0].gamma.shape, 3e38, np.float32))

    _, path = _broken(tmp_path, huge)
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as file:
        assert all(np.isfinite(file[name][()]).all() for name in _datasets(file))
    refused(path, r"its output for a 32x32 test picture is NaN or infinite .*train it again")


def test_one_broken_style_of_several_is_named(tmp_path):
    def second_style(net):
        gamma = net.norms[3].gamma.numpy()
        gamma[2] = 3e38
        net.norms[3].gamma.assign(gamma)

    net, path = _broken(tmp_path, second_style, styles=3)
    # Styles 0 and 1 give finite pictures; style 2 does not.
    picture = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    assert np.isfinite(net((picture, np.eye(3, dtype=np.float32)[[0, 1]])).numpy()).all()
    assert not np.isfinite(net((picture, np.eye(3, dtype=np.float32)[[2, 2]])).numpy()).any()
    refused(path, r"output for a 32x32 test picture with style 2 is NaN or infinite")


def test_a_non_finite_result_is_an_error_not_a_black_picture(tmp_path):
    # Before: NaN clipped to NaN, then numpy's "invalid value encountered in cast" and an all-black picture.
    net = build_transform_net(seed=3)
    net.output_conv.bias.assign([np.nan, 0, 0])
    photo = tmp_path / "photo.png"
    iio.imwrite(photo, np.full((61, 61, 3), 90, np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any numpy warning fails the test
        for tile_size in (0, 56):
            with pytest.raises(
                NonFiniteOutputError, match=rf"NaN or infinity for 3,721 of the 11,163 values of {photo}"
            ):
                stylize_picture(net, photo, tile_size=tile_size)
        with pytest.raises(NonFiniteOutputError, match=str(photo)):
            apply_model(net, photo, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_apply_and_export_of_a_broken_network_are_one_line_and_write_nothing(tmp_path, capsys):
    def nan(net):
        net.norms[5].beta.assign(np.full(net.norms[5].beta.shape, np.nan, np.float32))

    _, path = _broken(tmp_path, nan)
    photo = tmp_path / "photo.png"
    iio.imwrite(photo, np.full((20, 20, 3), 90, np.uint8))
    out, lite = tmp_path / "out.png", tmp_path / "m.tflite"
    assert main(["apply", "--model", str(path), "--content", str(photo), "--output", str(out), "--quiet"]) == 2
    assert main(["export", "--model", str(path), "--tflite", str(lite), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(f"model {path}: 128 of the 128 weights" in line for line in lines), lines
    assert not out.exists() and not lite.exists()


# -- 3. a folder or a damaged file --------------------------------------------------------------------------------


def test_a_folder_given_as_the_model_is_called_a_folder(saved, tmp_path, capsys):
    path, _ = saved
    folder = tmp_path / "models"
    folder.mkdir()
    assert "a folder" in refused(folder, r"is a folder, not a model; give the \.keras file neural-style train wrote")
    shutil.copy(path, folder / "starry.keras")
    refused(folder, rf"give the \.keras file in it, e.g. {folder / 'starry.keras'}")
    photo = tmp_path / "p.png"
    iio.imwrite(photo, np.zeros((8, 8, 3), np.uint8))
    assert main(["apply", "--model", str(folder), "--content", str(photo), "--output", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is a folder, not a model" in err and "no such file" not in err


def test_a_fifo_given_as_the_model_is_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.keras"
    os.mkfifo(fifo)  # opening it to read would wait for a writer for ever
    refused(fifo, r"is not a regular file; give the \.keras file neural-style train wrote")


@pytest.mark.parametrize("cut", [0, 100, 0.5, -1])
def test_a_damaged_file_is_called_damaged_not_missing(saved, tmp_path, cut):
    path, _ = saved
    data = path.read_bytes()
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(data[: int(cut * len(data)) if isinstance(cut, float) else cut])
    message = refused(damaged, r"not a \.keras model file, or a damaged one")
    assert "File not found" not in message


def test_a_model_under_another_name_is_refused(saved, tmp_path):
    path, _ = saved
    other = tmp_path / "style.h5"
    shutil.copy(path, other)
    refused(other, r"not a \.keras file")


# -- 4. a full disk during export --------------------------------------------------------------------------------


def _no_space(module, folder, signatures=None):
    os.makedirs(os.path.join(folder, "variables"))
    with open(os.path.join(folder, "variables", "part"), "wb") as file:
        file.write(b"half")
    raise tf.errors.ResourceExhaustedError(
        None,
        None,
        f"{{{{function_node __wrapped__SaveV2}}}} {folder}/variables/part; No space left on device [Op:SaveV2]",
    )


def test_export_on_a_full_disk_is_one_line_exit_1_and_leaves_nothing(saved, tmp_path, monkeypatch, capsys):
    # The error TensorFlow raised on a full tmpfs, as a monkeypatched write (before: its traceback).
    path, _ = saved
    monkeypatch.setattr(fast_export.tf.saved_model, "save", _no_space)
    target = tmp_path / "out" / "saved"
    assert main(["export", "--model", str(path), "--saved-model", str(target), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert f"saved_model {target}: could not be written (No space left on device [Op:SaveV2]); the disk is full" in err
    assert os.listdir(tmp_path / "out") == []


def test_export_to_a_real_full_filesystem(saved, tmp_path, capsys):
    path, _ = saved
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"a 4 MB tmpfs cannot be mounted here ({mounted.stderr.decode().strip() or 'mount failed'})")
    try:
        # The network's 6.7 MB of weights do not fit in 4 MB.
        assert main(["export", "--model", str(path), "--saved-model", str(disk / "saved"), "--quiet"]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "No space left on device" in err and "the disk is full" in err, err
        assert os.listdir(disk) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# -- 5. a folder apply goes on past an unreadable picture ---------------------------------------------------------


def test_a_folder_apply_skips_an_unreadable_picture_and_exits_1(saved, tmp_path, capsys):
    path, _ = saved
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a_bad.png").write_bytes(b"not a picture")  # first in the folder's order
    for name, seed in (("b.png", 1), ("c.png", 2)):
        iio.imwrite(photos / name, np.random.default_rng(seed).integers(0, 256, (12, 14, 3), dtype=np.uint8))
    out = tmp_path / "out"
    assert main(["apply", "--model", str(path), "--content", str(photos), "--output", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    warnings_ = [line for line in lines if "warning" in line]
    assert len(warnings_) == 1 and warnings_[0].startswith(f"neural-style: warning: skipping {photos / 'a_bad.png'}: ")
    assert lines[-1].startswith("stylised 2 of 3 pictures in ") and lines[-1].endswith(
        "; skipped 1 unreadable (named above)"
    )
    assert sorted(os.listdir(out)) == ["b.png", "c.png"]
    expected = np.rint(stylize_picture(load_fast_model(path), photos / "c.png")).astype(np.uint8)
    np.testing.assert_array_equal(iio.imread(out / "c.png"), expected)
    # All readable: exit 0. One unreadable picture on its own: one line, exit 2.
    (photos / "a_bad.png").unlink()
    assert main(["apply", "--model", str(path), "--content", str(photos), "--output", str(out), "--quiet"]) == 0
    (photos / "a_bad.png").write_bytes(b"not a picture")
    one = tmp_path / "one.png"
    assert main(["apply", "--model", str(path), "--content", str(photos / "a_bad.png"), "--output", str(one)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "a_bad.png" in err and not one.exists()


# -- 6. tiles too small to be worth their margin ------------------------------------------------------------------


def test_the_smallest_tile_is_the_networks_margin():
    # docs/fast.md: the network's stride 4 and margin 56 pixels.
    assert JOHNSON.reach() == (4, 56) and transform_minimum_tile_size() == 56


@pytest.mark.parametrize("command", ["apply", "video"])
@pytest.mark.parametrize("tile_size", [1, 55])
def test_a_tile_below_the_margin_is_one_line(saved, tmp_path, capsys, command, tile_size):
    path, _ = saved
    frames = tmp_path / "frames"
    frames.mkdir()
    iio.imwrite(frames / "0000.png", np.zeros((8, 8, 3), np.uint8))
    content = frames if command == "video" else frames / "0000.png"
    out = tmp_path / ("out" if command == "video" else "out.png")
    argv = [command, "--model", str(path), "--content", str(content), "--output", str(out), "--quiet"]
    assert main([*argv, "--tile-size", str(tile_size)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "--tile-size must be 0 (tiles only when needed) or at least 56 pixels" in err and f"got {tile_size}" in err
    assert not out.exists()
    assert main([*argv, "--tile-size", "56"]) == 0 and out.exists()


# -- 7. keras.models.load_model after import neural_style ---------------------------------------------------------

LOAD = """
import sys
{imports}
model = keras.models.load_model(sys.argv[1])
loader = keras.__spec__.loader
print(type(model).__name__, model.styles, "exec_module" in vars(loader),
      any(type(f).__name__ == "KerasRegistration" for f in sys.meta_path))
"""


@pytest.mark.parametrize("imports", ["import neural_style\nimport keras", "import keras\nimport neural_style"])
def test_keras_loads_the_file_after_import_neural_style(tmp_path, imports):
    # Before: "Could not locate class 'TransformNet'" (the package's imports are lazy).
    path = tmp_path / "two.keras"
    build_transform_net(seed=1, styles=2).save(path)
    result = subprocess.run(
        [sys.executable, "-c", LOAD.format(imports=imports), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    # The TransformNet of 2 styles; keras' loader is its own again and the finder has left sys.meta_path.
    assert result.stdout.split() == ["TransformNet", "2", "False", "False"], result.stderr[-2000:]


def test_import_neural_style_still_loads_no_keras():
    script = "import sys, neural_style; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.stdout.split() == ["False", "False"], result.stderr
