"""Checkpoints of a run in progress, written atomically, and the check that a checkpoint belongs to the same run.

A checkpoint is one file, ``checkpoint.npz`` in the output folder: the arrays that a run cannot recompute (the
generated image, the best image and its cost, the optimiser's state) and, as a JSON string, the iteration, the history
so far and the settings of the run. ``checkpoint.png`` beside it shows the best image so far.
"""

import json
import os

import numpy as np

from .files import atomic_write
from .images import write_image

CHECKPOINT_FILE = "checkpoint.npz"
IMAGE_FILE = "checkpoint.png"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read."""


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
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        state = json.loads(str(arrays.pop("state")))
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path} is not a neural-style checkpoint ({type(error).__name__}: {error})") from None
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
