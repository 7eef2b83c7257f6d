"""A training's work folder, the run's own, and the checkpoint in it that lets the same command continue.

The folder (--work-dir, default MODEL.train beside MODEL.keras) holds the settings with the mark of a training
(settings.json), Keras' BackupAndRestore checkpoint (latest.weights.h5: the weights and Adam's state;
training_metadata.json: the checkpoint's "epoch", here a count of checkpoint intervals), the pictures found
unreadable (data.BAD_FILE) and the TensorBoard run's name (watch.RUN_FILE). A folder is used only when it is missing,
empty, or marked as a training's; it is never removed whole: when the training ends, the files above are removed one by
one, then the folder if nothing else is left in it. One training at a time holds it (safety.hold_folder).

Every file of the folder is read as hostile: a damaged settings file, list of pictures or checkpoint step is one line
that names the file and what to do, never a traceback, and a checkpoint is written only where the disk has room for it
(h5py crashes the process when the disk fills in the middle of a write), so the last checkpoint is kept.
"""

import contextlib
import json
import os
import shutil

import keras
import numpy as np

from ..checkpoint import differences
from ..checks import OptionError
from ..files import TEMPORARY_PREFIX, atomic_write
from ..safety import WORK_MARK, check_marked_folder, deferred_signals
from .data import BAD_FILE
from .watch import RUN_FILE

SETTINGS_FILE = "settings.json"
WEIGHTS_FILE = "latest.weights.h5"  # BackupAndRestore's
METADATA_FILE = "training_metadata.json"  # BackupAndRestore's
# The mark in settings.json of a folder a training made: a folder without it is never used, written into or removed.
WORK_KIND = "neural-style train"
# Every file a training writes into its work folder: the only ones it ever removes.
WORK_FILES = (SETTINGS_FILE, WEIGHTS_FILE, METADATA_FILE, BAD_FILE, RUN_FILE)
# The folder's JSON files are a few kilobytes; anything far larger was not written by a training.
MAX_JSON_BYTES = 1 << 20
MAX_LIST_BYTES = 64 << 20  # the skipped pictures' list: a path each, far more than any folder's worth
START_AGAIN = "remove the folder to start the training again, or give another --work-dir"
# A checkpoint is written only where the disk has this much room beyond its estimated size (HDF5's own records).
DISK_MARGIN_BYTES = 1 << 20


def default_work_dir(output):
    """
    Where a training's checkpoint is kept by default.

    Arguments:
    output -- the model file (MODEL.keras)

    Returns:
    work_dir -- MODEL.train, beside it
    """
    return os.path.splitext(os.path.normpath(os.fspath(output)))[0] + ".train"


def plan(pictures, options):
    """
    The length of a training and its checkpoint interval.

    Arguments:
    pictures -- the training's data.Pictures
    options -- validated TrainOptions (steps or epochs, batch_size, checkpoint_every)

    Returns:
    total -- the training's steps
    chunk -- steps between checkpoints: the largest divisor of total that is at most checkpoint_every (a Keras epoch)
    """
    total = options.steps or options.epochs * max(1, len(pictures.paths) // options.batch_size)
    chunk = max(d for d in range(1, min(options.checkpoint_every, total) + 1) if total % d == 0)
    return total, chunk


def read_json(path, what, check=None, advice=START_AGAIN, limit=MAX_JSON_BYTES):
    """
    A JSON file of the work folder, read as hostile input.

    Arguments:
    path -- the file
    what -- which folder it belongs to, for the message ('work_dir DIR')
    check -- None, or function(value) raising ValueError (its message the reason) for a value of the wrong form
    advice -- what to do about a damaged file, for the message
    limit -- the most bytes the file may have

    Returns:
    value -- the parsed JSON; OptionError (one line naming the file and what to do) for a file that is too large,
             not UTF-8, not JSON or not of the form `check` wants
    """
    try:
        with open(path, "rb") as file:
            text = file.read(limit + 1)
        if len(text) > limit:
            raise ValueError(f"more than {limit:,} bytes")
        value = json.loads(text.decode("utf8"))
        if check is not None:
            check(value)
        return value
    except (OSError, ValueError, RecursionError) as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise OptionError(f"{what}: {os.path.basename(path)} is damaged ({reason}); {advice}", "work_dir") from None


def _paths(value):
    if not isinstance(value, list) or not all(isinstance(path, str) for path in value):
        raise ValueError("not a list of paths")


def read_skipped(folder):
    """
    The pictures an earlier run of the training found unreadable (data.Pictures.save_skipped's list), hostile-safe.

    Arguments:
    folder -- the work folder

    Returns:
    paths -- list of str (empty when there is no list); OptionError (one line naming the file and what to do) for a
             list that is damaged
    """
    path = os.path.join(folder, BAD_FILE)
    if not os.path.isfile(path):
        return []
    advice = "delete that file to continue (its pictures are tried again), or the folder to start the training again"
    return read_json(path, f"work_dir {folder}", _paths, advice, MAX_LIST_BYTES)


def check_work_folder(path):
    """
    Checks that a folder can be a training's work folder, before any work: missing, empty, or made by a training.

    Arguments:
    path -- the folder (--work-dir)

    Returns:
    settings -- the settings recorded by the training that made it (dict, without the mark), or None for a missing
                or empty folder; OptionError (one line) for a file, a folder holding anything a training does not
                write, or a settings file that is damaged or has no mark of a training
    """
    saved = check_marked_folder(
        path, WORK_KIND, "a training", lambda settings: read_json(settings, f"work_dir {path}"), WORK_FILES
    )
    return None if saved is None else {key: value for key, value in saved.items() if key != WORK_MARK}


def has_checkpoint(path):
    """Whether a work folder holds a checkpoint (its weights or its step)."""
    return any(os.path.isfile(os.path.join(path, name)) for name in (WEIGHTS_FILE, METADATA_FILE))


def open_work_folder(path, settings):
    """
    Makes or takes a training's work folder, before any work: refuses a checkpoint of other settings.

    Arguments:
    path -- the folder (--work-dir), checked by check_work_folder; created if missing
    settings -- dict of JSON values: the training's settings (TrainOptions.settings(), weights, style digests)

    Returns:
    resumed -- True when the folder holds a checkpoint of these settings to continue; OptionError (one line) for one
               of other settings. A folder without a checkpoint (a training refused or stopped before its first one)
               takes the new settings.
    """
    path = os.fspath(path)
    saved = check_work_folder(path)
    if saved is not None and has_checkpoint(path):
        changed = differences(saved, settings)
        if changed:
            raise OptionError(
                f"work_dir {path} holds a training with other settings ({'; '.join(changed)}); run it with the same "
                "settings to continue it, or remove the folder to start again",
                "work_dir",
            )
        return True
    os.makedirs(path, exist_ok=True)
    with atomic_write(os.path.join(path, SETTINGS_FILE)) as temporary, open(temporary, "w") as file:
        json.dump({WORK_MARK: WORK_KIND, **settings}, file, indent=1)
    return False


def remove_work_folder(path):
    """
    Removes what a training wrote into its work folder, then the folder if nothing else is left: never anything else.

    Arguments:
    path -- a work folder that check_work_folder accepted

    Returns:
    removed -- whether the folder itself is gone
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        return not os.path.lexists(path)
    for name in os.listdir(path):
        if name in WORK_FILES or name.startswith(TEMPORARY_PREFIX):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(path, name))
    try:
        os.rmdir(path)  # only empty: the lock file is removed by its holder, and files of others stay
    except OSError:
        return False
    return True


def variables_bytes(variables):
    """
    The bytes a file of these variables holds: each one's values in its dtype.

    Arguments:
    variables -- Keras variables (a model's weights, an optimizer's state)

    Returns:
    size -- bytes (an HDF5 or .keras file adds a few kilobytes of records, which DISK_MARGIN_BYTES covers)
    """
    return sum(int(np.prod(v.shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize for v in variables)


def check_disk_room(folder, size, what, keeping):
    """
    Refuses a write that the disk has no room for, before it starts (an OSError, one line).

    Arguments:
    folder -- where the file goes (the nearest existing folder is asked)
    size -- bytes the write needs
    what -- the file, for the message
    keeping -- what is kept instead, for the message

    Returns:
    None; OSError (errno ENOSPC) with one line: what needs how much, what is free, what is kept, what to do
    """
    existing = os.path.abspath(folder)
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    free = shutil.disk_usage(existing).free
    if free < size + DISK_MARGIN_BYTES:
        raise DiskFull(
            f"cannot write {what}: it needs about {(size + DISK_MARGIN_BYTES) / 1e6:.1f} MB and {existing} has "
            f"{free / 1e6:.1f} MB free; {keeping}: free some space and run the same command again"
        )


class DiskFull(OSError):
    """A write refused before it started because the disk has no room for it: the message is one whole line."""

    def __str__(self):
        return self.args[0]


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore, with each checkpoint written whole or not at all: the weights (with Adam's moments)
    and the step they belong to go to temporary files renamed into place, only where the disk has room for them, and a
    Ctrl-C or SIGTERM that arrives while they are written is deferred until both are (safety.deferred_signals): the
    checkpoint left behind is always one the training wrote whole. The step is read back as hostile input, and the
    last costs are kept beside it, so that a training resumed at its end still reports them."""

    def __init__(self, backup_dir, epochs, pictures=None, **kwargs):
        """
        Arguments:
        backup_dir -- the work folder
        epochs -- the training's count of checkpoint intervals (a checkpoint's step is at most this)
        pictures -- the training's data.Pictures: once none is usable, the data has ended inside an interval, and
                    no checkpoint is written for it
        kwargs -- keras.callbacks.BackupAndRestore's
        """
        super().__init__(backup_dir, **kwargs)
        self.epochs = epochs
        self.pictures = pictures
        self.last_logs = {}

    def on_epoch_end(self, epoch, logs=None):
        self.last_logs = {key: float(value) for key, value in (logs or {}).items()}
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        if self.model.stop_training or (self.pictures is not None and self.pictures.usable() == 0):
            # Stopped inside the interval (the pictures ran out, the cost became NaN): the interval is not whole, and
            # its weights are not worth continuing from.
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        check_disk_room(
            self.backup_dir,
            variables_bytes([*self.model.weights, *self.model.optimizer.variables]),
            f"the checkpoint into work_dir {self.backup_dir}",
            "the last checkpoint is kept" if has_checkpoint(self.backup_dir) else "no checkpoint was written yet",
        )
        with deferred_signals():
            with atomic_write(self._weights_path, suffix=".weights.h5") as temporary:
                self.model.save_weights(temporary, overwrite=True)
            with atomic_write(self._training_metadata_path) as temporary, open(temporary, "w") as file:
                metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen, "logs": self.last_logs}
                json.dump(metadata, file)

    def read_step(self):
        """
        The checkpoint's step, checked before Keras reads it.

        Returns:
        epoch -- the checkpoint intervals it holds (0 without a checkpoint); OptionError (one line) for a step file
                 that is damaged or names a step outside the training
        """
        if not os.path.isfile(self._training_metadata_path):
            return 0
        where = f"work_dir {self.backup_dir}"
        metadata = read_json(self._training_metadata_path, where)
        epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= self.epochs:
            raise OptionError(
                f"{where}: {METADATA_FILE} names the step {epoch!r}, not one of this training's checkpoints (0 to "
                f"{self.epochs}); remove the folder to start the training again",
                "work_dir",
            )
        logs = metadata.get("logs")
        if isinstance(logs, dict):
            self.last_logs = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
        return epoch

    def on_train_begin(self, logs=None):
        self.read_step()
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError) as error:
            reason = str(error).splitlines()[0][:160]
            raise OptionError(
                f"work_dir {self.backup_dir}: its checkpoint cannot be read ({reason}); remove the folder to start "
                "the training again",
                "work_dir",
            ) from None


class Resume(keras.callbacks.Callback):
    """After BackupAndRestore has restored a checkpoint: starts the data after the batches it had trained on; keeps
    the list of unreadable pictures beside the checkpoint, so a resumed run leaves out the same ones."""

    def __init__(self, start, steps_per_checkpoint, pictures, work_dir):
        """
        Arguments:
        start -- a one-item list: the batches already trained on, set when the training begins
        steps_per_checkpoint -- steps a Keras epoch
        pictures -- the training's data.Pictures
        work_dir -- the work folder
        """
        super().__init__()
        self.start, self.chunk, self.pictures, self.work_dir = start, steps_per_checkpoint, pictures, work_dir

    def on_train_begin(self, logs=None):
        self.start[0] = (self.model._initial_epoch or 0) * self.chunk

    def on_epoch_end(self, epoch, logs=None):
        if self.pictures.skipped:
            self.pictures.save_skipped(self.work_dir)


__all__ = [
    "AtomicBackupAndRestore",
    "DiskFull",
    "Resume",
    "check_disk_room",
    "check_work_folder",
    "default_work_dir",
    "open_work_folder",
    "plan",
    "read_skipped",
    "remove_work_folder",
]
