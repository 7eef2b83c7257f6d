"""A .keras file checked before Keras reads it: only what `neural-style train` writes, in sizes its network can have.

A .keras file is a zip of config.json (the model's class and arguments), metadata.json (Keras' version and the date)
and model.weights.h5 (the weights, HDF5). Keras reads config.json whole into memory, builds the model the config
asks for (a TransformNet of `styles` styles allocates its weights at once), reads the weights member whole when
memory allows, and extracts every other member to a temporary folder; its own guards against zip bombs start at
256 MiB on disk and 4 GiB in memory. So a small file could cost gigabytes before any refusal. Here each member's
declared size is held to what such a file holds, config.json is read with a bounded read (a zip can lie about
sizes), `styles` is bounded, and the weights' shapes (read with h5py from the bounded bytes) must be the network's
for that many styles, before Keras sees the file.
"""

import collections
import io
import json
import math
import os
import zipfile
import zlib

import h5py

from ..checks import OptionError
from .network import JOHNSON, LAYOUTS, Layout, convolutions

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
# The members a model written by `neural-style train` (TransformNet.save) has: no assets folder, no other files.
MEMBERS = (CONFIG, METADATA, WEIGHTS)
REQUIRED = (CONFIG, WEIGHTS)
# config.json and metadata.json of the project's models are a few hundred bytes (the training's settings and the
# styles' sha256 digests); a megabyte leaves room for any settings and a thousand digests.
TEXT_MEMBER_BYTES = 1 << 20
# The most styles one network may hold: each adds 2 x 1,600 scales and shifts (12.8 KB), so a thousand is 13 MB.
MAX_STYLES = 1000
# HDF5's own bytes around the weights: 0.12 MB measured (Keras 3.15's groups and dataset headers); 2 MiB is generous.
H5_OVERHEAD_BYTES = 2 << 20
# The zip's own headers and directory around three members: a few hundred bytes.
ZIP_OVERHEAD_BYTES = 1 << 16
_ENCRYPTED = 0x1
# Errors zipfile, zlib and h5py raise for a damaged archive or member (zipfile raises NotImplementedError and
# RuntimeError for compression methods and flags it cannot follow; a JSON nested too deep is a RecursionError).
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


def norm_channels():
    """
    The channels of each instance normalisation of Johnson et al.'s layout, in the network's order.

    Returns:
    channels -- list of ints (32, 64, 128, 128 x 10, 64, 32)
    """
    return [filters for filters, _, _ in convolutions()]


def weight_shapes(styles, layout=JOHNSON):
    """
    The shapes of a TransformNet's weights, as model.weights.h5 holds them (without names: Keras names the groups).

    Arguments:
    styles -- how many styles the normalisations have a scale and a shift for
    layout -- the network's Layout

    Returns:
    shapes -- collections.Counter of shape tuples: each convolution's kernel (and bias, where not normalised), each
              normalisation's gamma and beta (styles, C) (and their offsets (C,) for "vector" conditioning), the
              affine output convolution's kernel and bias
    """
    shapes, channels = collections.Counter(), 3
    for filters, kernel, _, normalised in layout.convolutions():
        shapes[(kernel, kernel, channels, filters)] += 1
        if normalised:
            shapes[(styles, filters)] += 2
            if layout.conditioning == "vector":
                shapes[(filters,)] += 2
        else:
            shapes[(filters,)] += 1
        channels = filters
    if layout.output == "affine":
        shapes[(layout.output_kernel, layout.output_kernel, channels, 3)] += 1
        shapes[(3,)] += 1
    return shapes


def parameter_count(styles, layout=JOHNSON):
    """
    How many numbers a TransformNet of `styles` styles holds.

    Arguments:
    styles -- how many styles
    layout -- the network's Layout

    Returns:
    count -- int (1,677,635 for one style of Johnson et al.'s layout; 3,200 more for each further style)
    """
    return sum(math.prod(shape) * n for shape, n in weight_shapes(styles, layout).items())


def weights_bound(styles, layout=JOHNSON):
    """
    The most bytes model.weights.h5 of a network of `styles` styles may declare: its float32 weights and HDF5's own.

    Arguments:
    styles -- how many styles
    layout -- the network's Layout

    Returns:
    bytes -- 4 x parameter_count(styles, layout) + H5_OVERHEAD_BYTES
    """
    return 4 * parameter_count(styles, layout) + H5_OVERHEAD_BYTES


def check_model_file(path):
    """
    Checks a .keras file as a model written by `neural-style train`, from its zip headers, a bounded read of
    config.json and the shapes in model.weights.h5, before Keras reads it.

    Arguments:
    path -- the .keras file (it exists)

    Returns:
    styles -- how many styles its network holds; OptionError (one line naming the file and what to do) for a file
              that is not a zip, a member train never writes, a size no such model has, or weights whose shapes are
              not the network's for the config's styles
    """
    # The whole file first: zipfile reads every entry of the central directory before any can be checked.
    largest = weights_bound(MAX_STYLES) + 2 * TEXT_MEMBER_BYTES + ZIP_OVERHEAD_BYTES
    size = os.path.getsize(path)
    if size > largest:
        _refuse(path, f"it is {size:,} bytes, more than the {largest:,} a network of {MAX_STYLES} styles takes")
    try:
        with zipfile.ZipFile(path) as archive:
            members = _check_members(path, archive)
            styles, layout = _read_styles(path, _bounded_read(path, archive, members[CONFIG], TEXT_MEMBER_BYTES))
            bound = weights_bound(styles, layout)
            if members[WEIGHTS].file_size > bound:
                _refuse(
                    path,
                    f"{WEIGHTS} declares {members[WEIGHTS].file_size:,} bytes, more than the {bound:,} of a network "
                    f"of {styles} style{'s' * (styles != 1)}",
                )
            weights = _bounded_read(path, archive, members[WEIGHTS], bound)
    except OptionError:
        raise
    except _UNREADABLE as error:
        raise _unreadable(path, error) from None
    _check_weight_shapes(path, weights, styles, layout)
    return styles


def read_arguments(path):
    """
    A .keras network's arguments from its config.json alone, checked as check_model_file checks them (its weights
    are neither read nor loaded): what `neural-style models` lists.

    Arguments:
    path -- the .keras file

    Returns:
    arguments -- dict of the TransformNet's arguments (styles, source, ...); OptionError (one line) for a file that is
                 not such a network
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = _check_members(path, archive)
            config = _bounded_read(path, archive, members[CONFIG], TEXT_MEMBER_BYTES)
    except OptionError:
        raise
    except _UNREADABLE as error:
        raise _unreadable(path, error) from None
    _read_styles(path, config)
    return json.loads(config)["config"]


def _unreadable(path, error):
    """OptionError for a file zipfile, zlib or h5py could not read."""
    reason = " ".join(f"{type(error).__name__}: {error}".split())[:160]
    return OptionError(
        f"model {path}: not a .keras model file, or a damaged one ({reason}); give the .keras file "
        "neural-style train writes",
        "model",
    )


def _refuse(path, problem):
    """OptionError: the model file and what is wrong with it, and what to give instead."""
    raise OptionError(
        f"model {path}: {problem}; the file is damaged or not written by neural-style train (give such a .keras file)",
        "model",
    )


def _check_members(path, archive):
    """The archive's members by name, each a member train writes, stored as Keras stores it, of a bounded size."""
    members = {}
    for info in archive.infolist():
        name = info.filename
        if name not in MEMBERS:
            _refuse(path, f"it holds {name!r}, which a model written by neural-style train never has")
        if name in members:
            _refuse(path, f"it holds {name!r} twice")
        if info.flag_bits & _ENCRYPTED or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            _refuse(path, f"{name!r} is encrypted or compressed in a way Keras never writes")
        if name != WEIGHTS and info.file_size > TEXT_MEMBER_BYTES:
            _refuse(path, f"{name!r} declares {info.file_size:,} bytes, more than the {TEXT_MEMBER_BYTES:,} allowed")
        members[name] = info
    missing = [name for name in REQUIRED if name not in members]
    if missing:
        _refuse(path, f"it has no {' and no '.join(missing)}")
    return members


def _bounded_read(path, archive, info, limit):
    """A member's bytes, never more than `limit` of them whatever its headers say."""
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        _refuse(path, f"{info.filename!r} holds more than {limit:,} bytes")
    return data


def _read_styles(path, config_bytes):
    """
    The styles and layout of a TransformNet config.json; OptionError for another model, a count out of bounds, or a
    layout other than the project's (a stranger's widths could make Keras allocate anything).
    """
    try:
        config = json.loads(config_bytes)
    except (ValueError, RecursionError):
        _refuse(path, f"{CONFIG} is not JSON")
    if not isinstance(config, dict) or config.get("class_name") != "TransformNet":
        raise OptionError(
            f"model {path}: a Keras model, but not one neural-style train writes (a TransformNet); give such a file",
            "model",
        )
    if config.get("registered_name", "neural_style>TransformNet") != "neural_style>TransformNet":
        _refuse(path, f"its TransformNet is registered as {str(config.get('registered_name'))[:60]!r}")
    arguments = config.get("config")
    if not isinstance(arguments, dict):
        _refuse(path, f"{CONFIG} has no arguments for its TransformNet")
    styles = arguments.get("styles", 1)
    if isinstance(styles, bool) or not isinstance(styles, int) or not 1 <= styles <= MAX_STYLES:
        _refuse(path, f"{CONFIG} gives styles {str(styles)[:40]}, not a whole number from 1 to {MAX_STYLES}")
    layout = arguments.get("layout")
    if layout is None:
        return styles, JOHNSON
    try:
        layout = Layout.from_config(layout)
    except (TypeError, ValueError):
        _refuse(path, f"{CONFIG} gives a layout this package does not know")
    known = LAYOUTS.get(layout.name)
    if known is None or layout != Layout.from_config(known.get_config() | {"epsilon": layout.epsilon}):
        _refuse(path, f"{CONFIG} gives a layout other than the package's ({', '.join(LAYOUTS)})")
    return styles, layout


def _check_weight_shapes(path, weights, styles, layout=JOHNSON):
    """The datasets of model.weights.h5 are the network's weights for `styles` styles, stored as Keras stores them."""
    found, problems = collections.Counter(), []

    def link(name, value):
        if not isinstance(value, h5py.HardLink):
            problems.append(f"{name!r} is a {type(value).__name__}, which Keras never writes")

    def dataset(name, item):
        if not isinstance(item, h5py.Dataset):
            return
        if item.dtype.kind != "f" or item.dtype.itemsize != 4:
            problems.append(f"{name!r} holds {item.dtype}, not float32")
        elif item.is_virtual or item.external or item.chunks or item.compression:
            problems.append(f"{name!r} is stored in a way Keras never writes")
        found[item.shape] += 1

    try:
        with h5py.File(io.BytesIO(weights), "r") as file:
            file.visititems_links(link)
            if not problems:
                file.visititems(dataset)
    except _UNREADABLE as error:
        _refuse(path, f"its {WEIGHTS} is not readable HDF5 ({type(error).__name__}: {str(error)[:80]})")
    if problems:
        _refuse(path, f"its {WEIGHTS}: {problems[0]}")
    if found == weight_shapes(styles, layout) or (
        layout == JOHNSON and styles == 1 and found == _single_style_shapes()
    ):
        return
    held = {shape[0] for shape in found if len(shape) == 2}
    if len(held) == 1 and found == weight_shapes(*held, layout):
        _refuse(path, f"{CONFIG} gives {styles} style{'s' * (styles != 1)}, its weights hold {held.pop()}")
    count = sum(math.prod(shape) * n for shape, n in found.items())
    _refuse(
        path,
        f"its weights are {sum(found.values())} arrays of {count:,} numbers, not the network's "
        f"{sum(weight_shapes(styles, layout).values())} of {parameter_count(styles, layout):,} for {styles} "
        f"style{'s' * (styles != 1)}",
    )


def _single_style_shapes():
    """weight_shapes(1) as files written before the per-style scales hold them: gamma and beta (C,)."""
    shapes = weight_shapes(1)
    for channels in set(norm_channels()):
        shapes[(channels,)] += shapes.pop((1, channels))
    return shapes
