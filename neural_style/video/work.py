"""A video run's work folder, the run's own: the settings with the mark of the video job, the finished frames, the
flow cache and the index of what the run wrote, so that running the same command again goes on from the first
missing frame and never takes a file it did not make as finished work. Pure file handling, without TensorFlow: the
command checks a work folder before the network is loaded."""

import json
import os

import numpy as np

from ..checkpoint import differences
from ..files import TEMPORARY_PREFIX, atomic_write, file_digest
from ..image_files import ImageError, read_image, write_image
from ..limits import max_image_pixels
from ..options import OptionError
from ..safety import WORK_MARK, check_marked_folder
from .frames import FRAME_NAME
from .motion import flow_pair

SETTINGS_FILE = "settings.json"
INDEX_FILE = "index.json"
# The mark in settings.json of a folder that a video run made: a folder without it is never used as a work folder.
WORK_KIND = "neural-style video"


class WorkFolder:
    """A video run's work folder, the run's own: its settings with the mark of the video job (settings.json), the
    finished frames (frames/00000.png, ...), the flow cache (flow/00001.npz: the flows between frames 0 and 1, ...),
    and the index of what this run wrote (index.json: each file's sha256).

    A file is taken as finished work only when the index names it with the digest of its bytes: frames copied in,
    left by another program or damaged are computed again (and replaced). Temporary files of a write that was killed
    (.tmp-...) are removed when the folder is opened; a work folder serves one run at a time (the command holds its
    lock, safety.hold_folder), so none of them can be another run's write in progress."""

    def __init__(self, path, settings):
        """
        Arguments:
        path -- the folder (created if missing); an existing folder must be empty or a work folder (check_work_folder)
        settings -- dict of JSON values; a folder made with other settings is refused (OptionError)
        """
        self.path = os.fspath(path)
        settings = {WORK_MARK: WORK_KIND, **json.loads(json.dumps(settings))}
        saved = check_work_folder(self.path)
        if saved is not None:
            changed = differences(saved, settings)
            if changed:
                raise OptionError(
                    f"work_dir {self.path} holds frames of another run ({'; '.join(changed)}); use that run's "
                    "settings, another work folder, or delete it to start afresh",
                    "work_dir",
                )
        remove_temporary_files(self.path)
        self.index = _read_index(os.path.join(self.path, INDEX_FILE))
        if saved is None:
            with atomic_write(os.path.join(self.path, SETTINGS_FILE)) as temporary, open(temporary, "w") as file:
                json.dump(settings, file, indent=1)

    def frame_path(self, index):
        """The file of stylised frame `index`."""
        return os.path.join(self.path, "frames", FRAME_NAME.format(index))

    def _own(self, path):
        """Whether the index names `path` with the digest of its bytes: a file this work folder's runs wrote."""
        key = os.path.relpath(path, self.path)
        return key in self.index and os.path.isfile(path) and _file_digest(path) == self.index[key]

    def _record(self, path):
        self.index[os.path.relpath(path, self.path)] = _file_digest(path)
        with atomic_write(os.path.join(self.path, INDEX_FILE)) as temporary, open(temporary, "w") as file:
            json.dump(self.index, file)

    def finished(self, index):
        """The stylised frame `index` if a run with these settings finished it here, else None."""
        path = self.frame_path(index)
        if not self._own(path):
            return None
        try:
            return _pixels_uint8(read_image(path, max_image_pixels()))
        except ImageError:
            return None

    def save_frame(self, index, frame):
        """Writes stylised frame `index` (atomically) and records it as finished."""
        self._record(write_image(self.frame_path(index), frame))

    def flows(self, index, previous, current, method):
        """
        The flows between input frames index-1 and index, both ways: from the cache, or computed and cached.

        Returns:
        forward, backward -- as flow_pair
        """
        path = os.path.join(self.path, "flow", f"{index:05d}.npz")
        shape = np.shape(current)[:2] + (2,)
        if self._own(path):
            try:
                with np.load(path) as saved:
                    forward, backward = saved["forward"], saved["backward"]
                if forward.shape == backward.shape == shape:
                    return forward, backward
            except (OSError, ValueError, KeyError):
                pass  # damaged after it was recorded: computed again
        forward, backward = flow_pair(previous, current, method)
        with atomic_write(path) as temporary:
            np.savez(temporary, forward=forward, backward=backward)
        self._record(path)
        return forward, backward


def _file_digest(path):
    """The index's entry for a file: its sha256, prefixed with the algorithm."""
    return "sha256:" + file_digest(path)


def _read_index(path):
    """The index of a work folder: {relative path: digest}; a missing or damaged one is empty (all computed again)."""
    try:
        with open(path, "rb") as file:
            index = json.loads(file.read().decode("utf8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(index, dict):
        return {}
    return {key: value for key, value in index.items() if isinstance(value, str)}


def check_work_folder(path):
    """
    Checks that a folder can be a video run's work folder, before any work: missing, empty, or made by a video run.

    Arguments:
    path -- the folder (--work-dir)

    Returns:
    settings -- the settings of the run that made it (dict), or None for a missing or empty folder; OptionError with
                one line for a file, a folder of other files, or a damaged settings file
    """
    return check_marked_folder(path, WORK_KIND, "a video run", lambda settings: _read_settings(path, settings))


def _read_settings(folder, path):
    """A video work folder's settings.json as JSON; OptionError (one line) for a damaged one."""
    try:
        with open(path, "rb") as file:
            return json.loads(file.read().decode("utf8"))
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise OptionError(
            f"work_dir {folder}: {SETTINGS_FILE} is damaged ({reason}); delete the folder to start afresh, or give "
            "another work folder",
            "work_dir",
        ) from None


def remove_temporary_files(path):
    """
    Removes the temporary files (.tmp-...) that killed writes left in a work folder and its frames/ and flow/.

    Arguments:
    path -- the work folder

    Returns:
    removed -- the number of files removed
    """
    removed = 0
    for folder in (path, os.path.join(path, "frames"), os.path.join(path, "flow")):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if name.startswith(TEMPORARY_PREFIX) and os.path.isfile(os.path.join(folder, name)):
                os.remove(os.path.join(folder, name))
                removed += 1
    return removed


def finished_frames(work_dir, count):
    """
    The first `count` stylised frames of a work folder, in order, read one by one (to write the output).

    Arguments:
    work_dir -- the work folder of a run that finished them
    count -- how many

    Returns:
    frames -- generator of uint8 arrays (H, W, 3)
    """
    for index in range(count):
        yield _pixels_uint8(read_image(os.path.join(work_dir, "frames", FRAME_NAME.format(index)), max_image_pixels()))


class NoWorkFolder:
    """Keeps nothing: the frames and flows of a run without a work folder live only in memory (WorkFolder's
    interface)."""

    def finished(self, index):
        """None: no frame is ever finished before the run makes it."""
        return None

    def save_frame(self, index, frame):
        """Keeps nothing."""

    def flows(self, index, previous, current, method):
        """The flows between input frames index-1 and index, both ways, computed (flow_pair)."""
        return flow_pair(previous, current, method)


def _pixels_uint8(image):
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
