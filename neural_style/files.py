"""Files the package writes, written atomically: every output appears whole or not at all.

Images, checkpoints, figures, histories and downloads all go through ``atomic_write``: the bytes go to a hidden
temporary file in the destination's folder, which is renamed over the destination only once it is complete. A crash,
Ctrl-C or a full disk while writing leaves the old file (if any) untouched and no temporary file behind.
"""

import contextlib
import hashlib
import os
import tempfile

TEMPORARY_PREFIX = ".tmp-"


def file_digest(path):
    """
    A file's sha256, read in blocks (a style picture's kept in a model, a published network's source, a work
    folder's entries).

    Arguments:
    path -- the file

    Returns:
    digest -- hex string
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path, suffix=None):
    """
    A temporary path to write to; on success it replaces `path`, on any error or interruption it is removed.

    Arguments:
    path -- the destination; missing folders are created
    suffix -- the temporary file's extension (default: the destination's, so writers that go by it still work)

    Returns:
    (context manager) temporary -- str, the path to write the whole file to inside the `with` block
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=suffix, dir=folder)
    os.close(handle)
    # mkstemp makes the file private (0600); a written file gets the usual permissions, as open() would give it.
    os.chmod(temporary, 0o666 & ~_umask())
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
