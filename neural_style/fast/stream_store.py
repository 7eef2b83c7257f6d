"""Where the streamed pass (stream.py) keeps each convolution's output until its statistics are known: in memory as
the strips TensorFlow computed (no copy), or, where the memory budget has no room for it, at its place in one work file
(place: the space of the arrays that died reused), written by a thread of its own while the next strips compute and
read back into 64-byte aligned buffers that TensorFlow takes without a copy (DLPack).

Which arrays stay in memory is decided from the budget before the pass starts (in_memory): the earliest-born first,
each kept when the arrays in memory at every moment of its life still fit.
"""

import concurrent.futures
import errno
import math
import os

import numpy as np
import tensorflow as tf

# Writes the writer thread may hold before the pass waits for it (each holds one strip's output alive).
PENDING_WRITES = 2


def in_memory(shapes, lives, room):
    """
    The stored arrays the streamed pass keeps in memory within `room` bytes; the others go to files.

    Arguments:
    shapes -- {key: (rows, cols, channels)} (stream.plan_stream's)
    lives -- {key: (the convolution that writes it, the last that reads it)}
    room -- bytes the arrays in memory may take at once (0 or less: none)

    Returns:
    keys -- set of the keys kept in memory: taken in the order they are written, each while the arrays in memory
            at every moment of its life, with it, take at most `room` bytes
    """
    moments = 1 + max((last for _, last in lives.values()), default=0)
    used = np.zeros(moments)
    kept = set()
    for key in sorted(lives, key=lambda key: (lives[key], key)):
        born, last = lives[key]
        size = 4 * math.prod(shapes[key])
        if used[born : last + 1].max() + size <= room:
            used[born : last + 1] += size
            kept.add(key)
    return kept


def disk_need(shapes, lives, keys):
    """
    The largest total of the files alive at once (float32), for the stored arrays `keys`.

    Arguments:
    shapes, lives -- as for in_memory
    keys -- the keys that go to files

    Returns:
    bytes -- int (0 when there are none)
    """
    moments = 1 + max((last for _, last in lives.values()), default=0)
    return max(
        (sum(4 * math.prod(shapes[k]) for k in keys if lives[k][0] <= i <= lives[k][1]) for i in range(moments)),
        default=0,
    )


def aligned_empty(shape):
    """A new float32 array of `shape` whose data starts on a 64-byte boundary (what TensorFlow's tensors need)."""
    count = math.prod(shape)
    buffer = np.empty(count + 16, np.float32)
    start = (-buffer.ctypes.data % 64) // 4
    return buffer[start : start + count].reshape(shape)


def as_tensor(array):
    """A 64-byte aligned float32 array as a tensor sharing its memory (DLPack: no copy)."""
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())


def place(shapes, lives, keys):
    """
    Where each stored array lives in the work file: the largest first, each at the lowest offset that no array alive
    at the same moment already takes, so that the file's space is reused as arrays die (a file written over again
    costs a copy, where new files and their removal cost the file system's allocations and discards).

    Arguments:
    shapes, lives -- as for in_memory
    keys -- the keys that go to the file

    Returns:
    offsets -- {key: byte offset}, each a multiple of 64
    size -- bytes: the file's size (at least disk_need of the same keys)
    """
    offsets, size = {}, 0
    for key in sorted(keys, key=lambda key: (-math.prod(shapes[key]), lives[key], key)):
        born, last = lives[key]
        length = -(-4 * math.prod(shapes[key]) // 64) * 64
        taken = sorted(
            (offsets[other], offsets[other] + -(-4 * math.prod(shapes[other]) // 64) * 64)
            for other in offsets
            if lives[other][0] <= last and born <= lives[other][1]
        )
        offset = 0
        for first, end in taken:
            if offset + length <= first:
                break
            offset = max(offset, end)
        offsets[key] = offset
        size = max(size, offset + length)
    return offsets, size


class Levels:
    """The stored arrays of one streamed pass: each in memory (its strips' tensors) or at its place in one work file
    of `folder`, made its full size at the start (posix_fallocate where the file system has it)."""

    def __init__(self, folder, shapes, lives, memory_keys):
        self.shapes, self.memory_keys = shapes, set(memory_keys)
        self.offsets, size = place(shapes, lives, set(shapes) - self.memory_keys)
        self.path = os.path.join(folder, "stored.bin")
        self.strips, self.fd, self.pending = {}, None, []
        self.writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stream-writer")
        if size:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.posix_fallocate(self.fd, 0, size)
            except (AttributeError, OSError) as error:
                if getattr(error, "errno", None) == errno.ENOSPC:
                    raise
                os.ftruncate(self.fd, size)  # a file system without fallocate: sparse, allocated as written

    def create(self, key):
        """A new stored array: an empty list of strips where it stays in memory (its place in the file is planned)."""
        if key in self.memory_keys:
            self.strips[key] = []

    def _at(self, key, start):
        """The byte offset of a stored array's row `start` in the work file."""
        return self.offsets[key] + start * 4 * math.prod(self.shapes[key][1:])

    def write(self, key, start, values):
        """values, a tensor (1, rows, cols, C), as the stored array's rows from `start` (a file's in the writer
        thread: the tensor is held until it is written)."""
        if key in self.strips:
            self.strips[key].append((start, start + int(values.shape[1]), values))
            return
        while len(self.pending) >= PENDING_WRITES:
            self.pending.pop(0).result()
        self.pending.append(self.writer.submit(_write_all, self.fd, np.asarray(values), self._at(key, start)))

    def flush(self):
        """Waits for every write (their errors raised here)."""
        while self.pending:
            self.pending.pop(0).result()

    def read(self, key, start, stop):
        """Rows start..stop of a stored array, a tensor (1, rows, cols, C) (written before this call and flushed)."""
        if key in self.strips:
            pieces = [
                values[:, max(start, first) - first : min(stop, last) - first]
                for first, last, values in self.strips[key]
                if first < stop and last > start
            ]
            return pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=1)
        array = aligned_empty((1, stop - start, *self.shapes[key][1:]))
        view = memoryview(array.reshape(-1)).cast("B")
        done, offset = 0, self._at(key, start)
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got <= 0:
                raise OSError(f"{self.path}: short read at byte {offset + done}")
            done += got
        return as_tensor(array)

    def remove(self, key):
        """Forgets a stored array (its strips; its place in the file goes to the arrays born later)."""
        self.strips.pop(key, None)

    def close(self):
        """Ends the writer thread and closes the work file (the caller removes the folder)."""
        try:
            self.flush()
        finally:
            self.writer.shutdown(wait=True)
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            self.strips.clear()


def _write_all(fd, values, offset):
    """All of values' bytes at offset of the file fd (pwrite may write part of a large buffer)."""
    view = memoryview(np.ascontiguousarray(values)).cast("B")
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


__all__ = ["PENDING_WRITES", "Levels", "aligned_empty", "as_tensor", "disk_need", "in_memory", "place"]
