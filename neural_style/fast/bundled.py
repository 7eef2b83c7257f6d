"""The published networks the package carries, stored as their files store them, and the user's own, by name.

Each bundled network is one .npz file in networks/ (numpy's zip of arrays, read with allow_pickle=False: nothing in
it is executed): its parts ("transform", and "predictor" for the arbitrary-style network), each part's weights by
their Keras path, an int8 weight as its integers ("PATH:values") and scales ("PATH:scale", shaped to broadcast
along the Keras layout's output-channel axis) as the published file holds them, a float weight as float32, and a
JSON member "meta" with the parts' configs, the network's name, kind, styles, licence and the sources' sha256.
tools/bundle_networks.py writes them, reproducibly, from the published files; networks/NOTICE and
networks/LICENSE carry the licence.
"""

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from ..checks import OptionError
from ..files import atomic_write
from .onnx_files import Quantized

FOLDER = Path(__file__).with_name("networks")
ARBITRARY = "magenta-arbitrary"
STYLES26 = "magenta-26"
BUNDLED = {ARBITRARY: "magenta_arbitrary.npz", STYLES26: "magenta_26.npz"}
# Where `neural-style import-model` puts a user's networks and `neural-style models` lists them.
MODELS_VARIABLE = "NEURAL_STYLE_MODELS"


@dataclasses.dataclass
class Network:
    """A network ready to paint: its transformer, its style predictor (arbitrary-style only) and its description."""

    name: str
    transform: object
    predictor: object
    meta: dict


def save_network(path, parts, meta):
    """
    Writes a network's parts compactly (atomically), as load_network reads them.

    Arguments:
    path -- the .npz file
    parts -- {part name: (config, arrays)}: arrays {Keras weight path: onnx_files.Quantized or float32 array}
    meta -- JSON-able description: name, kind, styles, licence, sources

    Returns:
    None
    """
    members = {}
    configs = {}
    for part, (config, arrays) in parts.items():
        configs[part] = config
        for name, array in sorted(arrays.items()):
            key = f"{part}/{name}"
            if isinstance(array, Quantized):
                if np.any(np.asarray(array.zero_point)):
                    raise ValueError(f"{key}: a weight's zero point must be 0 (symmetric int8, as TFLite writes)")
                scale = np.asarray(array.scale, np.float32)
                if scale.ndim:
                    shape = [1] * array.values.ndim
                    shape[array.axis] = -1
                    scale = scale.reshape(shape)
                members[f"{key}:values"] = array.values
                members[f"{key}:scale"] = scale
            else:
                members[key] = np.asarray(array, np.float32)
    text = json.dumps({**meta, "parts": configs}, sort_keys=True)
    members["meta"] = np.frombuffer(text.encode(), np.uint8)
    with atomic_write(path, ".npz") as temporary:
        np.savez_compressed(temporary, **members)


def read_network(path, integers=False):
    """
    A network file's description and parts, the int8 weights dequantised as their file's runtime does.

    Arguments:
    path -- the .npz file
    integers -- keep each int8 weight as its integers and scales (onnx_files.Quantized, which the builders
                dequantise alike), for a network that computes on them (the style predictor)

    Returns:
    meta -- dict (with "parts": {part: config})
    weights -- {part: {Keras weight path: float32 array, or Quantized}}; OptionError (one line) for a file that is
               not one
    """
    from .quantize import dequantize  # TensorFlow's import: only where the weights are read

    meta = network_meta(path)
    try:
        with np.load(path, allow_pickle=False) as members:
            weights = {part: {} for part in meta["parts"]}
            for key in members.files:
                if key == "meta" or key.endswith(":scale"):
                    continue
                part, name = key.split("/", 1)
                if name.endswith(":values"):
                    name = name.removesuffix(":values")
                    # As the file's runtime reads it: the integers times their scale (shaped to broadcast).
                    values, scale = members[key], members[f"{part}/{name}:scale"]
                    weights[part][name] = (
                        Quantized(values, scale, np.zeros((), np.int8), None)
                        if integers
                        else (dequantize(values, scale))
                    )
                else:
                    weights[part][name] = members[key]
    except (OSError, ValueError, KeyError) as error:
        raise OptionError(f"model {path}: not a network file of this package ({error})", "model") from None
    return meta, weights


def build_transform(config, weights, path="the network"):
    """
    A TransformNet from its config and weights.

    Arguments:
    config -- TransformNet's arguments (styles, layout, quantization, source)
    weights -- {Keras weight path: float32 array, or Quantized}
    path -- the network's file, for messages

    Returns:
    model -- a built TransformNet
    """
    from .network import TransformNet, assign_weights

    model = TransformNet(**config, name="transform_net")
    model.build((None, None, None, 3))
    return assign_weights(model, weights, f"model {path}")


def build_predictor(config, weights, path="the network"):
    """
    A StylePredictor from its config and weights.

    Arguments:
    config -- StylePredictor's arguments
    weights -- {Keras weight path: float32 array, or Quantized (its convolutions then computed on the integers)}
    path -- the network's file, for messages

    Returns:
    model -- a built StylePredictor
    """
    from .predictor import build_predictor as build

    return build(config, weights)


def load_network(path):
    """
    A network from its .npz file.

    Arguments:
    path -- the file

    Returns:
    network -- Network; OptionError (one line) for a file that is not one
    """
    meta, weights = read_network(path, integers=True)
    parts = meta["parts"]
    transform = build_transform(parts["transform"], weights["transform"], path)
    predictor = build_predictor(parts["predictor"], weights["predictor"], path) if "predictor" in parts else None
    return Network(meta.get("name", Path(path).stem), transform, predictor, meta)


_LOADED = {}


def load_bundled(name):
    """
    One of the networks the package carries, read once per process.

    Arguments:
    name -- a key of BUNDLED

    Returns:
    network -- Network
    """
    if name not in _LOADED:
        _LOADED[name] = load_network(FOLDER / BUNDLED[name])
    return _LOADED[name]


def bundled_meta(name):
    """A bundled network's description, without building it."""
    return network_meta(FOLDER / BUNDLED[name])


def network_meta(path):
    """
    A network file's description, without reading its weights or building it.

    Arguments:
    path -- the .npz file

    Returns:
    meta -- dict (name, kind, styles, licence, origin, sources, parts); OptionError (one line) for a file that is
            not a network file of this package
    """
    try:
        with np.load(path, allow_pickle=False) as members:
            meta = json.loads(members["meta"].tobytes().decode())
    except (OSError, ValueError, KeyError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise OptionError(f"model {path}: not a network file of this package ({error})", "model") from None
    if not isinstance(meta, dict):
        raise OptionError(f"model {path}: not a network file of this package (its meta is not a JSON object)", "model")
    return meta


def models_folder():
    """
    Where the user's imported networks are: $NEURAL_STYLE_MODELS, else $XDG_DATA_HOME/neural-style/models
    (~/.local/share/neural-style/models).

    Returns:
    folder -- Path (it may not exist)
    """
    if os.environ.get(MODELS_VARIABLE):
        return Path(os.environ[MODELS_VARIABLE])
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "neural-style" / "models"


def resolve_model(name):
    """
    What --model NAME names: a bundled network, a file, or a network in models_folder().

    Arguments:
    name -- a bundled network's name, a path, or the name of a file in models_folder() (with or without .npz,
            .keras or .tflite)

    Returns:
    kind -- "bundled", "network" (a .npz file of this package: load_network reads it), "tflite" (a .tflite file
            `neural-style export --tflite` wrote: LiteRT runs it) or "file" (a .keras file)
    target -- the bundled name, or the file's path; OptionError (one line listing the names) when nothing matches
    """
    if name in BUNDLED:
        return "bundled", name
    if os.path.exists(name):
        return _file_kind(name), name
    folder = models_folder()
    for candidate in (folder / name, folder / f"{name}.npz", folder / f"{name}.keras", folder / f"{name}.tflite"):
        if candidate.is_file():
            return _file_kind(candidate), str(candidate)
    names = ", ".join(BUNDLED)
    raise OptionError(
        f"model {name}: no such file, and not a network's name (bundled: {names}; `neural-style models` lists all)",
        "model",
    )


def _file_kind(path):
    """ "network" for a .npz file (this package's format), "tflite" for a .tflite file, else "file" (a .keras file,
    checked when it is read)."""
    suffix = Path(path).suffix.lower()
    return {".npz": "network", ".tflite": "tflite"}.get(suffix, "file")


# The .tflite files of the bundled networks, converted once on first use into the user's models folder (a folder of
# its own there: `neural-style models` lists .npz and .keras files only), named by LITE_VERSION, the package's version
# and the network file's sha256, so that a new network or conversion makes new files.
LITE_FOLDER = "tflite"
LITE_VERSION = 3  # 2: the int8 network's integer arithmetic (predictor and statistics), its inputs' rounding
# 3: the float normalisations' statistics summed by rows, then across rows (layers.instance_statistics)


def lite_key(name):
    """
    The name the .tflite files of a bundled network take in the models folder.

    Arguments:
    name -- a key of BUNDLED

    Returns:
    key -- 'magenta-26-<16 hex digits>': the network's name and a digest of its .npz, the package's version and
           LITE_VERSION
    """
    import hashlib

    from .. import __version__

    digest = hashlib.sha256(f"{LITE_VERSION} {__version__} ".encode())
    digest.update((FOLDER / BUNDLED[name]).read_bytes())
    return f"{name}-{digest.hexdigest()[:16]}"


def lite_files(name, folder=None):
    """
    Where a bundled network's .tflite files and their check are (they may not exist yet).

    Arguments:
    name -- a key of BUNDLED
    folder -- the models folder (default: models_folder())

    Returns:
    files -- {"transform": Path, "predictor": Path (the arbitrary-style network only), "check": Path (JSON: whether
             the files give the Keras network's pictures)}
    """
    base = (models_folder() if folder is None else Path(folder)) / LITE_FOLDER
    key = lite_key(name)
    files = {"transform": base / f"{key}.transform.tflite", "check": base / f"{key}.check.json"}
    if name == ARBITRARY:
        files["predictor"] = base / f"{key}.predictor.tflite"
    return files


def lite_check(name, folder=None):
    """
    The check of a bundled network's .tflite files, written when they were converted.

    Arguments:
    name -- a key of BUNDLED
    folder -- the models folder (default: models_folder())

    Returns:
    check -- dict ("exact": whether they gave the Keras network's pictures within one grey level, "max_difference",
             "styles", "min_side"), or None when they are not there yet (or any is missing, unreadable or altered)
    """
    files = lite_files(name, folder)
    if not all(path.is_file() for path in files.values()):
        return None
    try:
        check = json.loads(files["check"].read_text())
    except (OSError, ValueError):
        return None
    # A check from another conversion, or altered: converted again.
    fields = isinstance(check, dict) and isinstance(check.get("exact"), bool)
    sizes = fields and all(isinstance(check.get(key), int) and check[key] > 0 for key in ("styles", "min_side"))
    return check if sizes and _rounding_readable(check.get("rounding")) else None


def _rounding_readable(rounding):
    """Whether a check's rounding is None or {"input"/"style": [scale > 0, zero point]}."""
    if rounding is None:
        return True
    if not isinstance(rounding, dict) or not set(rounding) <= {"input", "style"}:
        return False
    return all(
        isinstance(point, list)
        and len(point) == 2
        and isinstance(point[0], float)
        and point[0] > 0
        and isinstance(point[1], int)
        and not isinstance(point[1], bool)
        for point in rounding.values()
    )
