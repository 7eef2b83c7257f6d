"""Checkpoints of a run in progress: saving and resuming, and the settings fingerprint that a resume must match.

A checkpoint is one file, ``checkpoint.npz`` in the output folder: the arrays that a run cannot recompute (the
generated image, the best image and its cost, the optimiser's state) and, as a JSON string, the iteration, the history
so far and the settings of the run. ``checkpoint.png`` beside it shows the best image so far.

The settings are every option of the run (its ``StyleOptions``) except those whose field is marked
``metadata={"resume": "may_change"}`` (``option_fields.may_change_on_resume``), with the output size and digests of
the weights and of the content and style pixels. A run resumes a checkpoint only when its settings are the same
(``load_run``).
"""

import dataclasses
import hashlib
import json
import math
import os
import zipfile

import numpy as np

from .files import atomic_write
from .image_files import write_image
from .large import run_pixel_limit
from .option_fields import may_change_on_resume

CHECKPOINT_FILE = "checkpoint.npz"
IMAGE_FILE = "checkpoint.png"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, is damaged, or belongs to another run; the message says which."""


@dataclasses.dataclass
class RunState:
    """What a checkpoint holds of a run: what the run cannot recompute, where it stands, and its settings."""

    image: np.ndarray  # the generated image now, (1, n_H, n_W, 3) in the network's space
    best_image: np.ndarray  # the lowest-cost image so far at this scale
    best_cost: np.ndarray  # its cost, a float32 scalar (inf before the first step)
    optimizer_variables: list[str]  # the paths of Adam's variables (its iteration count and moments); [] if none
    optimizer_state: list[np.ndarray]  # their values, in the same order
    scale_index: int  # the scale of a coarse-to-fine run it is at
    evaluations: int  # L-BFGS cost evaluations so far
    history: list[dict]  # one entry per iteration done
    settings: dict  # settings_fingerprint of the run
    # Option average (optimize.IterateAverage): its running total at this scale and the iterates in it; None if none.
    average_total: np.ndarray | None = None
    average_count: int = 0

    @property
    def iteration(self) -> int:
        """The iterations done: the next iteration's number."""
        return len(self.history)


def digest(arrays: np.ndarray | list[np.ndarray]) -> str:
    """
    'sha256:...' of an array's (or a list of arrays') dtypes, shapes and bytes: the same pixels, the same digest.

    Arguments:
    arrays -- a numpy array, or a list of them

    Returns:
    digest -- str
    """
    hasher = hashlib.sha256()
    if isinstance(arrays, np.ndarray):
        arrays = [arrays]
    for array in arrays:
        array = np.ascontiguousarray(array)
        hasher.update(f"{array.dtype}{array.shape}".encode())
        hasher.update(array.tobytes())
    return "sha256:" + hasher.hexdigest()


# The attribute of a VGGWeights that holds its filters' digest once computed (weights_digest).
_WEIGHTS_DIGEST = "_digest"


def weights_digest(weights) -> str:
    """
    'sha256:...' of the network's filters (every layer's arrays, layers sorted by name), computed once per VGGWeights.

    Hashing VGG-19's 80 MB of filters takes tenths of a second (docs/performance.md); a batch's jobs share one
    VGGWeights per worker, so the digest is kept on the object (its filters are never changed once loaded) and later
    calls return it.

    Arguments:
    weights -- the network's VGGWeights (their `layers`: name -> arrays)

    Returns:
    digest -- str, the same as digest() of the arrays in that order
    """
    known = vars(weights).get(_WEIGHTS_DIGEST)
    if known is None:
        layers = weights.layers
        known = digest([array for name in sorted(layers) for array in layers[name]])
        # VGGWeights is a frozen dataclass: the memo is set past its __setattr__ (it is no field, so equality,
        # dataclasses.replace and the fields themselves are unaffected).
        object.__setattr__(weights, _WEIGHTS_DIGEST, known)
    return known


def _jsonable(value):
    """A setting as a JSON value: arrays by their digest, tuples as lists, anything unknown by its repr."""
    if isinstance(value, np.ndarray):
        return digest([value])
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def settings_fingerprint(
    options, size: tuple[int, int], weights, content_pixels, style_pixels, masks=None, *, kept=()
) -> dict:
    """
    The settings that a checkpoint must share with the run that resumes it.

    Arguments:
    options -- the run's StyleOptions, validated
    size -- the output size (height, width)
    weights -- the network's VGGWeights (their `layers`: name -> arrays)
    content_pixels -- the content image as the run loaded it, (H, W, 3); for a video's frames, the clip's: its
                      frames (a list of arrays, digested together) or what names its files (a JSON value)
    style_pixels -- the style images as the run loaded them, a list of (h, w, 3) arrays
    masks -- None, or the region masks as the run loaded them (masks.load_mask), a list of arrays
    kept -- names of options that a resume may change but that these settings keep (a video's frames all start
            from them), listed after the digests

    Returns:
    settings -- dict of JSON values: every option that a resume may not change (keyed by its flag's name, e.g.
                'learning-rate'), the output size, and digests of the weights, of the content and style pixels and
                of the masks' pixels if any (an edited mask file is another run)
    """
    may_change = may_change_on_resume(options)
    settings = {
        field.name.replace("_", "-"): _jsonable(getattr(options, field.name))
        for field in dataclasses.fields(options)
        if field.name not in may_change
    }
    settings["size"] = "{}x{}".format(*size)
    settings["weights"] = weights_digest(weights)
    settings["content image"] = _content_identity(content_pixels)
    settings["style image"] = digest(list(style_pixels))
    if masks is not None:
        settings["masks"] = digest(list(masks))
    for name in kept:
        settings[name.replace("_", "-")] = _jsonable(getattr(options, name))
    return json.loads(json.dumps(settings))


def _content_identity(content):
    """What names the content in the settings: the digest of its pixels (one image, or a clip's frames together),
    else the JSON value given (a clip's files: their names, sizes and times)."""
    if isinstance(content, np.ndarray):
        return digest([content])
    if isinstance(content, list) and all(isinstance(frame, np.ndarray) for frame in content):
        return digest(content)
    return _jsonable(content)


def checkpoint_path(location):
    """
    The checkpoint file of a folder (or the file itself, if `location` names one).

    Arguments:
    location -- a folder holding checkpoint.npz, or the path of a checkpoint file

    Returns:
    path -- str
    """
    location = os.fspath(location)
    return os.path.join(location, CHECKPOINT_FILE) if os.path.isdir(location) else location


def save_checkpoint(folder, state, arrays, image=None):
    """
    Writes a checkpoint atomically: into a temporary file beside it, then renamed over the old one.

    Arguments:
    folder -- where to write checkpoint.npz (created if missing)
    state -- dict of JSON values: iteration, history, settings ...
    arrays -- dict name -> numpy array (names are Python identifiers)
    image -- None, or uint8 (H, W, 3) pixels to write as checkpoint.png beside it

    Returns:
    path -- the checkpoint file written
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, CHECKPOINT_FILE)
    with atomic_write(path) as temporary, open(temporary, "wb") as file:
        np.savez(file, state=np.array(json.dumps(state)), **arrays)
    if image is not None:
        write_image(os.path.join(folder, IMAGE_FILE), image)
    return path


def load_checkpoint(location):
    """
    Reads a checkpoint written by save_checkpoint.

    Arguments:
    location -- a folder holding checkpoint.npz, or the file

    Returns:
    state -- dict (as saved)
    arrays -- dict name -> numpy array
    """
    path = checkpoint_path(location)
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}; give the --output-dir of a run made with --checkpoint-every")
    try:
        check_members(path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        state = json.loads(str(arrays.pop("state")))
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as error:
        # zipfile raises NotImplementedError and RuntimeError for flags it cannot follow (found by tests/test_fuzz.py)
        reason = " ".join(f"{type(error).__name__}: {error}".split())[:160]
        raise CheckpointError(f"{path} is not a neural-style checkpoint ({reason})") from None
    check_contents(path, state, arrays)
    return state, arrays


def differences(saved, current):
    """
    The settings that differ between a checkpoint and the run that wants to resume it.

    Arguments:
    saved -- the checkpoint's settings (dict of JSON values)
    current -- the settings now, in the same form

    Returns:
    lines -- list of 'name: A there, B here' strings, empty when the run is the same
    """
    lines = []
    for name in sorted(set(saved) | set(current)):
        there, here = saved.get(name, "unset"), current.get(name, "unset")
        if there != here:
            if isinstance(there, str) and there.startswith("sha256:"):
                lines.append(f"{name}: different")
            else:
                lines.append(f"{name}: {_short(there)} there, {_short(here)} here")
    return lines


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def save_run(folder, state: RunState, image: np.ndarray | None = None) -> str:
    """
    Writes a run's checkpoint (save_checkpoint) into a folder.

    Arguments:
    folder -- where to write checkpoint.npz (created if missing)
    state -- the run's RunState
    image -- None, or uint8 (H, W, 3) pixels to write as checkpoint.png (the best image so far)

    Returns:
    path -- the checkpoint file written
    """
    arrays = {"image": state.image, "best_image": state.best_image, "best_cost": state.best_cost}
    for k, value in enumerate(state.optimizer_state):
        arrays[f"optimizer_{k}"] = value
    saved = {
        "iteration": state.iteration,
        "scale_index": state.scale_index,
        "evaluations": state.evaluations,
        "optimizer_variables": state.optimizer_variables,
        "history": state.history,
        "settings": state.settings,
    }
    if state.average_total is not None:
        arrays["average"], saved["average_count"] = state.average_total, state.average_count
    return save_checkpoint(folder, saved, arrays, image)


def load_run(location, settings: dict) -> RunState:
    """
    Reads a run's checkpoint, if it belongs to a run with these settings.

    Arguments:
    location -- a folder holding checkpoint.npz, or the file
    settings -- the settings of the run that resumes it (settings_fingerprint)

    Returns:
    state -- the checkpoint's RunState; CheckpointError when it cannot be read, is damaged, or names the settings
             that differ when it is another run's
    """
    saved, arrays = load_checkpoint(location)
    changed = differences(saved.get("settings", {}), settings)
    if changed:
        raise CheckpointError(
            f"the checkpoint is from a different run ({'; '.join(changed)}); "
            "use that run's settings, or start afresh without --resume"
        )
    try:
        names = list(saved["optimizer_variables"])
        return RunState(
            image=arrays["image"],
            best_image=arrays["best_image"],
            best_cost=arrays["best_cost"],
            optimizer_variables=names,
            optimizer_state=[arrays[f"optimizer_{k}"] for k in range(len(names))],
            scale_index=saved["scale_index"],
            evaluations=saved["evaluations"],
            history=list(saved["history"]),
            settings=saved["settings"],
            average_total=arrays.get("average"),
            average_count=saved.get("average_count", 0),
        )
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise damaged(error) from None


def damaged(error: Exception) -> CheckpointError:
    """
    The error for a checkpoint whose content does not fit the run (a missing entry, an array of the wrong shape).

    Arguments:
    error -- what went wrong reading or restoring it

    Returns:
    error -- CheckpointError naming it
    """
    return CheckpointError(f"a damaged checkpoint ({type(error).__name__}: {error})")


def restore_optimizer(optimizer, values: list[np.ndarray]) -> None:
    """
    Sets a built optimizer's variables (Adam: its iteration count and moments) to a checkpoint's values.

    Arguments:
    optimizer -- a tf.keras optimizer, built for the generated image
    values -- RunState.optimizer_state, in the optimizer's order of variables
    """
    for variable, value in zip(optimizer.variables, values, strict=True):
        variable.assign(value)


# ---------------------------------------------------------------------------------------------------------------------
# What a checkpoint may hold, checked before and after its arrays are read (a damaged or hostile file is one line)

# The most bytes one member may declare, and all of them together: a checkpoint holds two images, Adam's two moments
# and an iterate average at the output size (float32 RGB: 12 bytes a pixel each), and a JSON history. Outputs up to
# 4 MP always pass; larger ones as far as the largest picture this machine can run (large.run_pixel_limit).
MAX_MEMBER_BYTES = 256 * 1024**2
MAX_HISTORY_BYTES = 256 * 1024**2


def _member_limits():
    """The most bytes one member, and all members together, may declare: (member, total)."""
    member = max(MAX_MEMBER_BYTES, 12 * run_pixel_limit())
    return member, 5 * member + MAX_HISTORY_BYTES


_IMAGE_ARRAYS = ("image", "best_image")
_ENCRYPTED = 0x1
_READ_HEADER = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def check_members(path):
    """
    Checks a checkpoint's zip members from their headers, before any is read: names, declared sizes, array headers.

    Arguments:
    path -- the checkpoint.npz

    Returns:
    headers -- dict member name (without .npy) -> (shape, dtype); raises CheckpointError naming what is wrong
    """
    headers, total = {}, 0
    max_member, max_total = _member_limits()
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            name = member.filename
            if not name.endswith(".npy") or "/" in name or name.startswith("."):
                raise CheckpointError(f"{path}: member {name!r} is not an array of a neural-style checkpoint")
            if member.flag_bits & _ENCRYPTED or member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise CheckpointError(f"{path}: member {name!r} is encrypted or compressed in a way numpy never writes")
            total += member.file_size
            if member.file_size > max_member or total > max_total:
                raise CheckpointError(
                    f"{path}: member {name!r} declares {member.file_size:,} bytes, more than a checkpoint holds "
                    f"(at most {max_member:,} each, {max_total:,} in all); the file is damaged"
                )
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                if version not in _READ_HEADER:
                    raise CheckpointError(f"{path}: member {name!r} is a .npy of version {version}, not 1.0 or 2.0")
                shape, _, dtype = _READ_HEADER[version](stream, max_header_size=10_000)
            if dtype.hasobject or dtype.kind not in "biufU":
                raise CheckpointError(f"{path}: member {name!r} holds {dtype}, not numbers or text")
            if math.prod(shape) * dtype.itemsize > member.file_size:
                raise CheckpointError(
                    f"{path}: member {name!r} declares shape {shape} of {dtype}, more than its {member.file_size:,} "
                    "bytes; the file is truncated or damaged"
                )
            headers[name[: -len(".npy")]] = (shape, dtype)
    if "state" not in headers or headers["state"][1].kind != "U" or headers["state"][0] != ():
        raise CheckpointError(f"{path}: no 'state' text; not a neural-style checkpoint")
    return headers


def check_contents(path, state, arrays):
    """
    Checks a checkpoint's state (JSON types) and arrays (shapes, types) as StyleTransfer._resume will use them.

    Arguments:
    path -- the checkpoint, for the message
    state -- the decoded JSON state
    arrays -- dict name -> numpy array (without 'state')

    Returns:
    None; raises CheckpointError naming the first thing that is wrong
    """

    def fail(problem):
        raise CheckpointError(f"{path}: {problem}; the checkpoint is damaged: start afresh without --resume")

    if not isinstance(state, dict):
        fail(f"its state is a {type(state).__name__}, not an object")
    for key in ("iteration", "scale_index", "evaluations"):
        if not (isinstance(state.get(key), int) and not isinstance(state.get(key), bool) and state[key] >= 0):
            fail(f"state {key!r} is {state.get(key)!r}, not a whole number >= 0")
    names = state.get("optimizer_variables")
    if not (isinstance(names, list) and all(isinstance(name, str) for name in names)):
        fail("state 'optimizer_variables' is not a list of names")
    if not isinstance(state.get("settings", {}), dict):
        fail("state 'settings' is not an object")
    history = state.get("history")
    if not isinstance(history, list) or len(history) != state["iteration"]:
        fail(f"state 'history' is not a list of {state['iteration']} iterations")
    for entry in history:
        values = entry.values() if isinstance(entry, dict) else [None]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) or "J" not in entry:
            fail(f"history entry {str(entry)[:40]!r} is not an object of costs")
        if not isinstance(entry.get("seconds", 0), (int, float)):
            fail("a history entry has no time")
    for name in _IMAGE_ARRAYS:
        array = arrays.get(name)
        if array is None or array.dtype.kind != "f" or array.ndim != 4 or array.shape[0] != 1 or array.shape[3] != 3:
            fail(f"{name!r} is not a (1, H, W, 3) float image")
    if arrays["image"].shape != arrays["best_image"].shape:
        fail(f"'image' {arrays['image'].shape} and 'best_image' {arrays['best_image'].shape} differ in shape")
    if "best_cost" not in arrays or arrays["best_cost"].shape != () or arrays["best_cost"].dtype.kind != "f":
        fail("'best_cost' is not one number")
    if "average" in arrays and arrays["average"].shape != arrays["image"].shape:
        fail(f"'average' {arrays['average'].shape} and 'image' {arrays['image'].shape} differ in shape")
    expected = {f"optimizer_{k}" for k in range(len(names))}
    found = set(arrays) - {*_IMAGE_ARRAYS, "best_cost", "average"}
    if found != expected:
        fail(f"its optimizer arrays {sorted(found)} do not match its {len(names)} optimizer variables")
    for name in sorted(expected):
        if arrays[name].shape not in ((), arrays["image"].shape) or arrays[name].dtype.kind not in "fiu":
            fail(f"{name!r} has shape {arrays[name].shape}, neither a number nor the image's {arrays['image'].shape}")
