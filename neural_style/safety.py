"""What a run writes, checked before it starts; the folder it writes into, held; how it stops; side writes that fail.

- ``planned_writes`` lists every file a run will write (output, history, intermediate images, checkpoint files) and
  ``check_planned_writes`` refuses any that is an input (symlinks and hard links resolved) or another planned file.
- ``hold_folder`` takes a lock file in --output-dir (fcntl.flock), so a second run into the same folder is refused;
  ``hold_file`` does the same for one file (a training's model).
- ``signals_as_interrupts`` turns SIGTERM and SIGHUP into ``Stopped``, a KeyboardInterrupt, so that they end a run
  as Ctrl-C does: the best image saved, one line, exit code 128 + the signal's number, no temporary file left.
- ``SideWrites`` runs a write that is not the result (history, checkpoint, intermediate image): when it fails, one
  line says so and the run goes on, so --output is still written.
"""

import contextlib
import dataclasses
import fcntl
import os
import re
import signal

from .checkpoint import CHECKPOINT_FILE, IMAGE_FILE
from .checks import OptionError, warn
from .files import TEMPORARY_PREFIX

LOCK_FILE = ".neural-style.lock"
# The key in a work folder's settings whose value names the command that made it (check_marked_folder).
WORK_MARK = "work folder of"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclasses.dataclass(frozen=True)
class PlannedWrites:
    """The files a run will write.

    Attributes:
    files -- list of (option, path): the files named by an option (--output, --history)
    folder -- the folder of the intermediate images and checkpoints, or None when the run writes none there
    iterations -- the run's iterations; intermediate images are i.png for i in range(0, iterations, save_every)
    save_every -- 0: no intermediate images
    checkpoint -- whether checkpoint.npz and checkpoint.png are written into folder
    """

    files: list
    folder: str = None
    iterations: int = 0
    save_every: int = 0
    checkpoint: bool = False

    def writes_name(self, name):
        """Whether the run writes a file of this name into `folder`."""
        if self.checkpoint and name in (CHECKPOINT_FILE, IMAGE_FILE):
            return True
        match = re.fullmatch(r"(0|[1-9]\d*)\.png", name)
        return bool(self.save_every and match and int(match.group(1)) < self.iterations) and (
            int(match.group(1)) % self.save_every == 0
        )

    def option_of(self, name):
        return "--checkpoint-every" if name in (CHECKPOINT_FILE, IMAGE_FILE) else "--save-every"


def planned_writes(
    output, history=None, output_dir=None, iterations=0, save_every=0, checkpoint_every=0, tensorboard=None
):
    """
    Every file a run will write.

    Arguments:
    output -- the result (--output)
    history -- the history file (--history), or None
    output_dir -- the folder of intermediate images and checkpoints (--output-dir), or None
    iterations -- the run's total iterations
    save_every -- an intermediate image every N iterations (0 = never)
    checkpoint_every -- a checkpoint every N iterations (0 = never)
    tensorboard -- the TensorBoard folder (--tensorboard), or None: checked like a file, so that it is never an input
                   or another planned file (the run's events go into a new folder inside it)

    Returns:
    plan -- a PlannedWrites
    """
    files = [("--output", os.fspath(output))] + ([("--history", os.fspath(history))] if history else [])
    files += [("--tensorboard", os.fspath(tensorboard))] if tensorboard else []
    into_folder = bool(output_dir) and bool(save_every or checkpoint_every)
    return PlannedWrites(
        files=files,
        folder=os.fspath(output_dir) if into_folder else None,
        iterations=iterations,
        save_every=save_every or 0,
        checkpoint=bool(checkpoint_every) and into_folder,
    )


def same_file(a, b):
    """
    Whether two paths name one file: the same inode when both exist (symlinks and hard links resolved), else the
    same resolved path.

    Arguments:
    a, b -- paths

    Returns:
    same -- bool
    """
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def file_key(path):
    """
    A key that two paths share exactly when same_file says they name one file: the device and inode of a file that
    exists, else the resolved path. It lets a check compare thousands of paths in one pass.

    Arguments:
    path -- a path

    Returns:
    key -- a hashable tuple
    """
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return ("path", os.path.realpath(path))
    return ("file", status.st_dev, status.st_ino)


def check_planned_writes(plan, inputs):
    """
    Refuses a run that would write over one of its inputs, or write two of its files to one path, before any work.

    Arguments:
    plan -- a PlannedWrites
    inputs -- list of (option, path) of every file the run reads (content, styles, init image, masks); None skipped

    Returns:
    None; raises OptionError with one line naming both
    """
    inputs = [(option, os.fspath(path)) for option, path in inputs if isinstance(path, (str, os.PathLike))]
    sources = {}
    for source_option, source in inputs:
        sources.setdefault(file_key(source), (source_option, source))
    written = {}
    for option, path in plan.files:
        key = file_key(path)
        if key in sources:
            source_option, source = sources[key]
            _refuse(f"{option} {path} is also an input ({source_option} {source})")
        if key in written:
            _refuse(f"{written[key][0]} {written[key][1]} and {option} {path} are one file")
        written[key] = (option, path)
        if plan.folder and _in_folder(path, plan.folder) and plan.writes_name(os.path.basename(path)):
            _refuse(f"{option} {path} is also written by {plan.option_of(os.path.basename(path))} into {plan.folder}")
    if not plan.folder:
        return
    for source_option, source in inputs:
        name = os.path.basename(source)
        if _in_folder(source, plan.folder) and plan.writes_name(name):
            _refuse(f"{source_option} {source} would be overwritten by {plan.option_of(name)} in {plan.folder}")
    if os.path.isdir(plan.folder):
        # A planned name that is a symlink or hard link to an input elsewhere.
        for name in filter(plan.writes_name, os.listdir(plan.folder)):
            for source_option, source in inputs:
                if same_file(os.path.join(plan.folder, name), source):
                    _refuse(
                        f"{source_option} {source} is the same file as {os.path.join(plan.folder, name)}, which "
                        f"{plan.option_of(name)} writes"
                    )


def check_inside(path, folder, option, folder_option):
    """
    Refuses a path that, resolved (symlinks, '..'), does not lie inside `folder`: a run writes only where it was told.

    Arguments:
    path -- a file the run will write
    folder -- the folder it must lie in
    option -- what names the path, for the message
    folder_option -- what names the folder, for the message ('--output-dir')

    Returns:
    path -- unchanged; raises OptionError with one line otherwise
    """
    real, inside = os.path.realpath(path), os.path.realpath(folder)
    if real == inside or os.path.commonpath([real, inside]) != inside:
        raise OptionError(
            f"{option} {path} lies outside {folder_option} {folder} (resolved: {real}); a run writes only inside "
            f"its {folder_option}"
        )
    return path


def _in_folder(path, folder):
    parent = os.path.dirname(os.path.abspath(path))
    return same_file(parent, folder)


def _refuse(problem):
    raise OptionError(f"{problem}; choose another path (inputs are never overwritten)")


def check_marked_folder(path, command, run, read, files=None, settings_file="settings.json"):
    """
    Checks that a folder can be a run's own work folder, before anything is written into it: missing, empty (but for
    lock and temporary files), or made by `command`: its settings file carries the mark {WORK_MARK: command}, and it
    holds only the names `files` allows.

    Arguments:
    path -- the folder (--work-dir)
    command -- the command whose work folders carry the mark ('neural-style video')
    run -- what made such a folder, for the messages ('a video run')
    read -- function(path of the settings file) -> its JSON, raising OptionError (one line) for a damaged file
    files -- the names such a folder may hold, or None for any
    settings_file -- the name of the settings file

    Returns:
    settings -- the saved settings (dict, the mark included), or None for a missing or empty folder; OptionError (one
                line naming work_dir) for a file, another kind of folder or an unmarked settings file
    """
    path = os.fspath(path)
    if not os.path.lexists(path):
        return None
    if not os.path.isdir(path):
        raise OptionError(f"work_dir {path} is a file, not a folder; give a new or empty folder", "work_dir")
    names = [name for name in os.listdir(path) if not is_scratch(name)]
    if not names:
        return None
    refuse = (
        f"work_dir {path} is not a work folder of `{command}` ({{}}); nothing in it is used, changed or removed: "
        "give a new or empty folder"
    )
    others = sorted(set(names) - set(files)) if files is not None else []
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise OptionError(refuse.format(f"it holds {len(others)} other files: {shown}"), "work_dir")
    if settings_file not in names:
        raise OptionError(refuse.format(f"it holds {len(names)} other files and no {settings_file}"), "work_dir")
    saved = read(os.path.join(path, settings_file))
    if not isinstance(saved, dict) or saved.get(WORK_MARK) != command:
        raise OptionError(refuse.format(f"its {settings_file} has no mark of {run}"), "work_dir")
    return saved


def is_scratch(name):
    """Whether a name in a work folder is the lock file or a killed write's temporary file: not content of it."""
    return name == LOCK_FILE or name.startswith(TEMPORARY_PREFIX)


@contextlib.contextmanager
def hold_folder(folder, option="--output-dir"):
    """
    Holds a lock file in `folder` for the duration, so a second run writing into it is refused with one line.

    Arguments:
    folder -- the folder (created if missing); None holds nothing
    option -- the option that named the folder, for the message

    Returns:
    (context manager) path -- the lock file, or None
    """
    if folder is None:
        yield None
        return
    os.makedirs(folder, exist_ok=True)
    with _hold(os.path.join(folder, LOCK_FILE), f"{option} {folder}", option) as path:
        yield path


@contextlib.contextmanager
def hold_file(path, option="--output"):
    """
    Holds a lock for one file a run writes (a hidden lock file beside it), so a second run writing the same file is
    refused with one line; the file itself is not touched.

    Arguments:
    path -- the file (its folder is created if missing)
    option -- the option that named it, for the message

    Returns:
    (context manager) path -- the lock file
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    with _hold(os.path.join(folder, f".{name}{LOCK_FILE}"), f"{option} {os.fspath(path)}", option) as lock:
        yield lock


@contextlib.contextmanager
def _hold(path, subject, option):
    """The lock file `path` held (fcntl.flock) for the duration; `subject` names what it guards in the messages."""
    while True:
        try:
            # Never through a symlink: a planted link would have the run truncate and write a file elsewhere.
            handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as error:
            raise OptionError(
                f"{subject}: cannot take its lock file {path} ({error.strerror}); remove it if it is a link or not a "
                f"file, or choose another {option}"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(handle, 32).decode(errors="replace").strip() or "another process"
            os.close(handle)
            raise OptionError(
                f"{subject} is in use by another neural-style run (pid {holder}); wait for it to end or choose "
                f"another {option}"
            ) from None
        # The previous holder may have removed the file between our open and our lock: lock the file that is there.
        with contextlib.suppress(FileNotFoundError):
            if os.fstat(handle).st_ino == os.stat(path).st_ino:
                break
        os.close(handle)
    try:
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)  # removed while still locked, so no other run can hold a file that is gone
        os.close(handle)


class Stopped(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM, SIGHUP): handled as Ctrl-C, exit code 128 + signum."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def signals_as_interrupts(signals=STOP_SIGNALS):
    """
    Within the block, SIGTERM and SIGHUP raise Stopped (a KeyboardInterrupt) in the main thread, once: a second
    signal while the run saves its image is ignored, so the save completes.

    Arguments:
    signals -- the signals to handle

    Returns:
    (context manager) None
    """
    stopping = []

    def handler(signum, frame):
        if not stopping:
            stopping.append(signum)
            raise Stopped(signum)

    previous = {}
    for signum in signals:
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or a signal this system lacks
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def exit_code(interrupt):
    """
    The exit code of a run ended by an interrupt: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM).

    Arguments:
    interrupt -- the KeyboardInterrupt (or Stopped) caught

    Returns:
    code -- int
    """
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


class SideWrites:
    """Writes that are not the result: a failure is reported in one line (once per kind) and the run goes on."""

    def __init__(self, report=None):
        """
        Arguments:
        report -- function(line) called once per kind of file that cannot be written (default: a line on stderr)
        """
        self.report = report or warn
        self.failed = {}

    def attempt(self, what, path, write, *args):
        """
        Calls write(*args); an OSError is reported (the first time for `what`) and swallowed.

        Arguments:
        what -- the kind of file ('intermediate image', 'checkpoint', 'history'), for the message
        path -- the file, for the message
        write -- the function that writes it
        args -- its arguments

        Returns:
        ok -- True when written
        """
        try:
            write(*args)
            return True
        except OSError as error:
            if what not in self.failed:
                reason = error.strerror or str(error)
                self.report(f"cannot write the {what} {path} ({reason}); the run goes on, --output will be written")
            self.failed[what] = self.failed.get(what, 0) + 1
            return False


@contextlib.contextmanager
def deferred_signals(signals=(signal.SIGINT, *STOP_SIGNALS)):
    """
    Within the block, Ctrl-C, SIGTERM and SIGHUP are only noted; when it ends, the first one noted is delivered again,
    so that it stops the run then (as signals_as_interrupts or Python's Ctrl-C would) and never inside a write that
    has to complete, such as a checkpoint's (an exception inside a library's write can leave its locks held).

    Arguments:
    signals -- the signals to defer

    Returns:
    (context manager) None
    """
    received = []
    previous = {}
    for signum in signals:
        with contextlib.suppress(ValueError, OSError):  # not the main thread: nothing to defer there
            previous[signum] = signal.signal(signum, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        if received:
            os.kill(os.getpid(), received[0])
