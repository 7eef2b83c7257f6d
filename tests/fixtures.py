"""Writes small imagenet-vgg-verydeep-19.mat files in MatConvNet's exact layouts, for the tests.

The real file (510 MB) cannot be shipped or downloaded here. These files have the real 43 layers, names, struct
fields (in each layout's order), array orientations and variable names, with channel counts divided by a factor so
that the tests run in seconds.

- layout 'current': variables 'layers' and 'meta'; conv structs name, type, weights, size, pad, stride, precious;
  biases (C_out, 1); meta.normalization.averageImage is the 3-value mean pixel.
- layout 'beta16': variables 'layers', 'classes' and 'normalization'; conv structs weights, pad, type, name, stride;
  biases (1, C_out); normalization.averageImage is an image whose channel means are the mean pixel.

Beside them, what the command-line and batch tests share: reading back a run's lines and a batch's pictures, the one
error line of a refused command, and starting, watching and stopping a run in a child process.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import imageio.v3 as iio
import numpy as np
import scipy.io

from neural_style.weights import MAT_LAYER_NAMES, random_vgg_weights

MEAN_PIXEL = np.array([123.68, 116.779, 103.939])


def _struct(fields):
    """A 1x1 MATLAB struct whose fields keep the given order."""
    record = np.empty((1, 1), dtype=[(name, object) for name in fields])
    for name, value in fields.items():
        record[0, 0][name] = value
    return record


def _cell(*items):
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _conv_fields(name, kernel, bias, layout, stride=1, pad=1):
    size = np.array(kernel.shape, dtype=np.float64).reshape(1, 4)
    pad_array = np.full((1, 4), float(pad))
    stride_array = np.full((1, 2), float(stride))
    if layout == "current":
        return {
            "name": name,
            "type": "conv",
            "weights": _cell(kernel, bias.reshape(-1, 1)),
            "size": size,
            "pad": pad_array,
            "stride": stride_array,
            "precious": 0.0,
        }
    return {
        "weights": _cell(kernel, bias.reshape(1, -1)),
        "pad": pad_array,
        "type": "conv",
        "name": name,
        "stride": stride_array,
    }


def _other_fields(name, layout):
    kind = "relu" if name.startswith("relu") else "pool" if name.startswith("pool") else "softmax"
    fields = {"name": name, "type": kind}
    if kind == "pool":
        fields.update(
            {"method": "max", "pool": np.array([[2.0, 2.0]]), "stride": np.array([[2.0, 2.0]]), "pad": np.zeros((1, 4))}
        )
    if kind == "relu" and layout == "current":
        fields["leak"] = 0.0
    if layout == "current":
        fields["precious"] = 0.0
    return fields


def vgg_mat_layers(weights, layout="current", fc_units=8, classes=10, seed=1):
    """The 43 layer structs' fields (one dict each, in file order) for the given conv weights."""
    rng = np.random.default_rng(seed)
    channels = weights.channels("conv5_4")
    fc_shapes = {"fc6": (7, 7, channels, fc_units), "fc7": (1, 1, fc_units, fc_units), "fc8": (1, 1, fc_units, classes)}
    layers = []
    for name in MAT_LAYER_NAMES:
        if name in weights.layers:
            kernel, bias = weights.layers[name]
            layers.append(_conv_fields(name, kernel, bias, layout))
        elif name in fc_shapes:
            kernel = rng.standard_normal(fc_shapes[name]).astype(np.float32)
            bias = rng.standard_normal(fc_shapes[name][-1]).astype(np.float32)
            layers.append(_conv_fields(name, kernel, bias, layout, pad=0))
        else:
            layers.append(_other_fields(name, layout))
    return layers


def save_mat(path, layers, layout="current", include_layers=True):
    """Writes layer field dicts as a MatConvNet file of the given layout."""
    data = {}
    if include_layers:
        data["layers"] = _cell(*[_struct(fields) for fields in layers])
    if layout == "current":
        normalization = _struct(
            {"averageImage": MEAN_PIXEL.reshape(3, 1), "keepAspect": 1.0, "imageSize": np.array([[224.0, 224.0, 3.0]])}
        )
        classes = _struct({"name": _cell("n01440764", "n01443537"), "description": _cell("tench", "goldfish")})
        data["meta"] = _struct(
            {"inputs": _struct({"name": "input"}), "classes": classes, "normalization": normalization}
        )
    else:
        image = np.broadcast_to(MEAN_PIXEL, (8, 8, 3)).astype(np.float32)
        data["normalization"] = _struct({"averageImage": image, "keepAspect": 1.0})
        data["classes"] = _struct({"name": _cell("n01440764"), "description": _cell("tench")})
    scipy.io.savemat(path, data)
    return path


def write_vgg_mat(path, layout="current", width_divisor=16, seed=0):
    """
    Writes a small VGG-19 .mat file.

    Arguments:
    path -- destination
    layout -- 'current' or 'beta16'
    width_divisor -- every channel count divided by this (1 gives the real VGG-19 shapes)
    seed -- seed of the random filters

    Returns:
    weights -- the VGGWeights written (kernels [3, 3, C_in, C_out], biases (C_out,)), to compare with what is read
    """
    weights = random_vgg_weights(seed=seed, width_divisor=width_divisor)
    # Non-zero biases, so that a reader that drops or misorders them is caught.
    rng = np.random.default_rng(seed + 100)
    layers = {
        name: (kernel, rng.standard_normal(kernel.shape[-1]).astype(np.float32) * 0.1)
        for name, (kernel, _) in weights.layers.items()
    }
    weights = type(weights)(layers=layers, source=str(path))
    save_mat(path, vgg_mat_layers(weights, layout), layout)
    return weights


# ---------------------------------------------------------------------------------------------------------------------
# Runs and batches: what the command-line tests read back from a run, and how they start, watch and stop one

# The checkout's root: a child `python -m neural_style` given it on PYTHONPATH runs this checkout's package.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def checkout_environment():
    """
    The environment for a child process that must run this checkout's package, whatever the venv has installed.

    Returns:
    environment -- os.environ with ROOT put first on PYTHONPATH
    """
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def read_jsonl(path):
    """
    The JSON objects of a file of one object a line: a run's --history, a batch's results.jsonl.

    Arguments:
    path -- the file

    Returns:
    rows -- list of dicts, in the file's order
    """
    with open(path) as file:
        return [json.loads(line) for line in file]


def results_rows(folder):
    """
    Every row of a batch's results file, in the order written.

    Arguments:
    folder -- the batch's --output-dir

    Returns:
    rows -- list of dicts, one a line of folder/results.jsonl
    """
    return read_jsonl(os.path.join(folder, "results.jsonl"))


def png_names(folder):
    """
    The PNG pictures in a folder.

    Arguments:
    folder -- the folder (not its subfolders)

    Returns:
    names -- sorted list of the file names ending in .png
    """
    return sorted(name for name in os.listdir(folder) if name.endswith(".png"))


def one_error_line(code, out, err, expected_code=2):
    """
    Asserts that a command failed as the package fails: the exit code, nothing on stdout, one error line on stderr.

    Arguments:
    code -- the command's exit code
    out -- its stdout
    err -- its stderr, as a list of lines
    expected_code -- the exit code it must have

    Returns:
    line -- the error line, 'neural-style: error: ...'
    """
    assert (code, out, len(err)) == (expected_code, "", 1), err
    assert err[0].startswith("neural-style: error: ") and "Traceback" not in err[0]
    return err[0]


def child_processes(pid):
    """
    The processes whose parent is `pid`, with their command lines (read from /proc).

    Arguments:
    pid -- the parent's process id

    Returns:
    children -- dict pid -> command line (its arguments joined by spaces)
    """
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as file:
                parent = int(file.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline") as file:
                command = file.read().replace("\0", " ").strip()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found[int(entry)] = command
    return found


def has_a_line(path):
    """
    Whether a file a run appends to (its --history, a batch's results.jsonl) holds at least one whole line yet.

    Arguments:
    path -- the file (a pathlib.Path)

    Returns:
    ready -- True once the file exists and holds a newline
    """
    return path.exists() and path.read_text().count("\n") >= 1


def endless_run(content, style, output, history, height, width):
    """
    The command line of a run in a child process that goes on until a signal stops it.

    Arguments:
    content, style -- the pictures
    output -- where the run writes its result
    history -- the run's --history: a line an iteration, what a test waits for before it sends its signal
    height, width -- the run's size

    Returns:
    command -- `python -m neural_style` with random filters, 100000 iterations and no intermediate images
    """
    command = [sys.executable, "-m", "neural_style", "--content", str(content), "--style", str(style)]
    command += ["--output", str(output), "--weights", "random", "--height", str(height), "--width", str(width)]
    return command + ["--iterations", "100000", "--save-every", "0", "--history", str(history)]


@contextlib.contextmanager
def running(command, **options):
    """
    A child process, killed on the way out if it is still running (with its process group where it was started in a
    session of its own), so that a failing test leaves no run behind.

    Arguments:
    command -- the command line
    options -- subprocess.Popen's keyword arguments

    Returns:
    process -- the subprocess.Popen, as the context's value
    """
    process = subprocess.Popen(command, **options)
    try:
        yield process
    finally:
        if process.poll() is None:
            if options.get("start_new_session"):
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            process.communicate()


def first_line(stream, seconds):
    """
    The first line of a child's output, waiting at most `seconds` (a thread reads it, so that a silent child cannot
    hang the test).

    Arguments:
    stream -- the child's stdout or stderr, a text pipe
    seconds -- how long to wait

    Returns:
    line -- the line as read (with its newline), or None when none came in time
    """
    lines = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    return lines[0] if lines else None


def wait_until(process, ready, seconds, failure):
    """
    Waits until ready() is true while the process runs; fails the test if the process ends first or time runs out.

    Arguments:
    process -- the subprocess.Popen watched
    ready -- function of no arguments, polled every 50 ms
    seconds -- how long to wait at most
    failure -- what the test says when time runs out, e.g. 'no job finished' (' within N s' is added)
    """
    deadline = time.monotonic() + seconds
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{failure} within {seconds} s"
        time.sleep(0.05)


def write_photo_folder(folder, count=5):
    """`count` smooth, slightly noisy photographs of 40+3i x 48 pixels in folder/nested, for the trainings' tests."""
    rng = np.random.default_rng(0)
    os.makedirs(folder / "nested", exist_ok=True)
    for i in range(count):
        y, x = np.mgrid[0 : 40 + 3 * i, 0:48]
        picture = np.stack([x * 5 + i * 20, y * 6, (x + y) * 3], axis=-1) % 256
        picture = (picture + rng.integers(0, 30, picture.shape)).clip(0, 255).astype(np.uint8)
        iio.imwrite(folder / "nested" / f"photo{i}.png", picture)
    return folder


def write_stripes(path):
    """A 40x40 style picture of diagonal stripes, written to path."""
    y, x = np.mgrid[0:40, 0:40]
    stripes = 255 * ((x + 2 * y) // 5 % 2)
    iio.imwrite(path, np.stack([stripes, 255 - stripes, (x * 7) % 256], axis=-1).astype(np.uint8))
    return path


def smooth_photo(height, width, seed=0):
    """A photograph-like float32 picture (height, width, 3) in 0..255: smooth gradients and a wave, with noise."""
    y, x = np.mgrid[0:height, 0:width]
    smooth = np.stack([x * 255 / width, y * 255 / height, 128 + 100 * np.sin((x + y) / 9)], axis=-1)
    noise = np.random.default_rng(seed).normal(0, 12, smooth.shape)
    return np.clip(smooth + noise, 0, 255).astype(np.float32)


def trained_like(model, seed=2, spread_outputs=True):
    """
    Gives a fast network's normalisations gammas and betas away from 1 and 0, as a trained network's are (different
    for every style), so that the whole picture's statistics matter.

    Arguments:
    model -- a TransformNet, changed in place
    seed -- the random generator's seed, or a numpy Generator to draw from (the caller's draws then go on from it)
    spread_outputs -- also make the last convolution's kernel 20 times larger, so that the outputs cover the grey
                      levels

    Returns:
    model -- the same model
    """
    rng = np.random.default_rng(seed)
    for norm in model.norms:
        norm.gamma.assign(rng.uniform(0.5, 2.0, norm.gamma.shape).astype(np.float32))
        norm.beta.assign(rng.uniform(-1, 1, norm.beta.shape).astype(np.float32))
    if spread_outputs:
        model.output_conv.kernel.assign(model.output_conv.kernel * 20)
    return model
