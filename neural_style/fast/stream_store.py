"""Where the streamed pass (stream.py) keeps each convolution's output until its statistics are known: in memory as
the strips TensorFlow computed (no copy), or, where the memory budget has no room for it, in a .npy file of the work
folder, written by a thread of its own while the next strips compute and read back into 64-byte aligned buffers that
TensorFlow takes without a copy (DLPack).

Which arrays stay in memory is decided from the budget before the pass starts (in_memory): the earliest-born first,
each kept when the arrays in memory at every moment of its life still fit.
"""

import concurrent.futures
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


class Levels:
    """The stored arrays of one streamed pass: each in memory (its strips' tensors) or in a file of `folder`."""

    def __init__(self, folder, shapes, memory_keys):
        self.folder, self.shapes, self.memory_keys = folder, shapes, set(memory_keys)
        self.strips, self.files = {}, {}
        self.writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stream-writer")
        self.pending = []

    def path(self, key):
        """The file of a stored array (whether or not it is in memory)."""
        return os.path.join(self.folder, f"{key[0]}{key[1]}.npy")

    def create(self, key):
        """A new stored array: an empty list of strips, or its .npy file (the header; the data sparse until written)."""
        if key in self.memory_keys:
            self.strips[key] = []
            return
        array = np.lib.format.open_memmap(self.path(key), mode="w+", dtype=np.float32, shape=self.shapes[key])
        offset, row = array.offset, 4 * math.prod(self.shapes[key][1:])
        del array
        self.files[key] = (os.open(self.path(key), os.O_RDWR), offset, row)

    def write(self, key, start, values):
        """values, a tensor (1, rows, cols, C), as the stored array's rows from `start` (a file's in the writer
        thread: the tensor is held until it is written)."""
        if key in self.strips:
            self.strips[key].append((start, start + int(values.shape[1]), values))
            return
        while len(self.pending) >= PENDING_WRITES:
            self.pending.pop(0).result()
        fd, offset, row = self.files[key]
        self.pending.append(self.writer.submit(_write_all, fd, np.asarray(values), offset + start * row))

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
        fd, offset, row = self.files[key]
        array = aligned_empty((1, stop - start, *self.shapes[key][1:]))
        view = memoryview(array.reshape(-1)).cast("B")
        done = 0
        while done < len(view):
            got = os.preadv(fd, [view[done:]], offset + start * row + done)
            if got <= 0:
                raise OSError(f"{self.path(key)}: short read at row {start}")
            done += got
        return as_tensor(array)

    def remove(self, key):
        """Forgets a stored array: its strips, or its file."""
        self.strips.pop(key, None)
        if key in self.files:
            os.close(self.files.pop(key)[0])
            os.remove(self.path(key))

    def close(self):
        """Ends the writer thread and closes the files (the caller removes the folder)."""
        try:
            self.flush()
        finally:
            self.writer.shutdown(wait=True)
            for fd, _, _ in self.files.values():
                os.close(fd)
            self.files.clear()
            self.strips.clear()


def _write_all(fd, values, offset):
    """All of values' bytes at offset of the file fd (pwrite may write part of a large buffer)."""
    view = memoryview(np.ascontiguousarray(values)).cast("B")
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


__all__ = ["PENDING_WRITES", "Levels", "aligned_empty", "as_tensor", "disk_need", "in_memory"]
