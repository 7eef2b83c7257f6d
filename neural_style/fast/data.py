"""The training pictures as a tf.data pipeline: a folder searched recursively, decoded and cropped in parallel,
prefetched, in an order that depends only on the seed, so that a resumed training sees the batches an uninterrupted
one would.

Pictures are read by the project's reader (images.load_image: grey, CMYK, palette and alpha pictures as RGB, the EXIF
orientation applied, decompression bombs refused), each resized so that its shorter side is --size (small pictures
are resized up) and cropped to size x size at a place drawn from (seed, the picture's position in the stream).
A file that is not a picture is skipped with one warning naming it, and counted.
"""

import itertools
import json
import os
import stat
import threading

import numpy as np
import tensorflow as tf
from PIL import Image

from .. import checks
from ..checks import OptionError
from ..files import atomic_write
from ..image_files import IMAGE_EXTENSIONS
from ..images import load_image
from ..large import available_memory
from ..limits import max_image_pixels

BAD_FILE = "bad_pictures.json"
# A picture's decode peaks at about 45 bytes a pixel: the 8-bit pixels, their float32 RGB copy and clipped copy, and
# the resize's work (two 81 MP PNGs decoded at once peaked at 7.2 GB).
DECODE_BYTES_PER_PIXEL = 45
FALLBACK_DECODE_MEMORY = 4e9  # where the available memory cannot be read


def list_pictures(folder):
    """
    The picture files under a folder, recursively, by extension, in a stable (sorted) order.

    Arguments:
    folder -- a folder

    Returns:
    paths -- sorted list of str; OptionError (one line) when `folder` is not a folder
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise OptionError(
            f"images {folder} is not a folder; give a folder of photographs (e.g. COCO train2014)", "images"
        )
    paths = []
    for root, folders, names in os.walk(folder):
        folders.sort()
        paths += [
            os.path.join(root, name) for name in sorted(names) if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
        ]
    return paths


def _header(path, limit, decode_limit):
    """
    A training picture's header, read before any pixel is decoded.

    Arguments:
    path -- the file
    limit -- the pixels an input may have (limits.max_image_pixels, the main command's limit)
    decode_limit -- the pixels one decode may have in the memory the training leaves free

    Returns:
    pixels -- width x height, or None when the file cannot be a training picture
    problem -- None, or why it is skipped: not a regular file (a FIFO would block the reader for ever, a device
               would never end), not a picture's header, or more pixels than the limits allow
    """
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError as error:
        return None, error.strerror or str(error)
    if not regular:
        return None, "not a regular file (a FIFO, socket or device), so not a picture"
    try:
        with Image.open(path) as picture:
            width, height = picture.size
    except Exception as error:  # Pillow raises many kinds for a file that is not a picture
        return None, str(error).splitlines()[0] if str(error) else type(error).__name__
    if width * height > limit:
        return None, f"{width}x{height} is more than the {limit:,} pixels an input may have"
    if width * height > decode_limit:
        return None, (
            f"{width}x{height} takes about {width * height * DECODE_BYTES_PER_PIXEL / 1e9:.1f} GB to decode, more than "
            "the memory the training leaves free; shrink it"
        )
    return width * height, None


class Pictures:
    """The usable pictures of a folder and the ones skipped, with one warning per skipped file."""

    def __init__(self, folder, warn=None, known_bad=(), memory=None):
        """
        Arguments:
        folder -- the folder of photographs (searched recursively)
        warn -- function(line) for each skipped file (default: a line on stderr)
        known_bad -- paths found unreadable by an earlier run of the same training (skipped, with a warning)
        memory -- bytes the decoding may use (default: the memory available now, large.available_memory); a picture
                  that one decode would not fit in is skipped, and training_dataset decodes only as many at once as
                  fit
        """
        self.folder = os.fspath(folder)
        self.warn = warn or checks.warn
        self.skipped = {}
        self._lock = threading.Lock()
        limit = max_image_pixels()
        self.memory = memory if memory is not None else (available_memory() or FALLBACK_DECODE_MEMORY)
        # Every file whose header is a picture's stays in `paths`, so that the order is the same in every run; those
        # an earlier run of the training could not decode are left out of the stream (training_dataset).
        self.paths = []
        self.largest = 0  # the most pixels of a usable picture: what one decode may need
        for path in list_pictures(folder):
            pixels, problem = _header(path, limit, self.memory // DECODE_BYTES_PER_PIXEL)
            if problem is not None:
                self.skip(path, problem)
            else:
                self.paths.append(path)
                self.largest = max(self.largest, pixels)
        for path in known_bad:
            if path in self.paths:
                self.skip(path, "unreadable (found so by the interrupted run)")
        if not self.paths:
            found = f"{len(self.skipped)} unreadable files" if self.skipped else "no picture files"
            raise OptionError(
                f"images {folder}: {found} and no usable picture ({', '.join(IMAGE_EXTENSIONS)}); give a folder of "
                "photographs",
                "images",
            )

    def skip(self, path, reason):
        """Counts a skipped file and warns once about it."""
        with self._lock:
            if path in self.skipped:
                return
            self.skipped[path] = reason
        self.warn(f"skipping {path}: {reason}")

    def decode(self, index):
        """The pixels of picture `index` (float32 (h, w, 3) in 0..255) and whether it could be read."""
        path = self.paths[int(index)]
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # replaced by a FIFO or device since the listing
                raise ValueError("not a regular file (a FIFO, socket or device), so not a picture")
            return load_image(path), True
        except Exception as error:  # a truncated, corrupt or deleted file: skipped, the training goes on
            self.skip(path, str(error).replace(f"{path}: ", ""))
            return np.zeros((1, 1, 3), np.float32), False

    def usable(self):
        """How many of the pictures have not been found unreadable."""
        with self._lock:
            return len(set(self.paths) - set(self.skipped))

    def no_usable_message(self):
        """The one line that says no picture of the folder can be decoded, and what to do."""
        return (
            f"images {self.folder}: none of its {len(self.paths)} pictures can be decoded ({len(self.skipped)} "
            "skipped: cut, damaged, deleted or replaced); give a folder of photographs"
        )

    def check_usable(self):
        """Raises OptionError (one line) when every picture has been found unreadable; else nothing."""
        if self.usable() == 0:
            raise OptionError(self.no_usable_message(), "images")

    def save_skipped(self, folder):
        """Writes the skipped files' list into `folder` (atomically), so that a resumed run skips the same ones."""
        with atomic_write(os.path.join(folder, BAD_FILE)) as temporary, open(temporary, "w") as file:
            json.dump(sorted(self.skipped), file)


def picture_order(count, seed, start=0, skip=lambda index: False):
    """
    The stream of (picture index, position): epoch after epoch, each a permutation drawn from (seed, epoch).

    Arguments:
    count -- how many pictures
    seed -- the seed of the order
    start -- how many usable entries to leave out at the start (a resumed training's pictures already seen)
    skip -- skip(index) -> True for pictures known to be unreadable (left out, not counted in `start`)

    Returns:
    stream -- an endless iterator of (index, position); position counts every entry, so that it names the same
              picture draw in every run
    """
    position = 0
    seen = 0
    for epoch in itertools.count():
        for index in np.random.default_rng([seed, epoch]).permutation(count):
            if not skip(index):
                if seen >= start:
                    yield int(index), position
                seen += 1
            position += 1


def crop_to_size(picture, size, seed, position):
    """
    A picture resized so that its shorter side is `size` (bilinear, antialiased), then cropped to size x size at a
    place drawn from (seed, position).

    Arguments:
    picture -- float32 tensor (h, w, 3)
    size -- the side of the crop
    seed, position -- ints: the crop's place is a stateless draw from them

    Returns:
    crop -- float32 tensor (size, size, 3) in 0..255
    """
    shape = tf.cast(tf.shape(picture)[:2], tf.float32)
    scale = size / tf.reduce_min(shape)
    target = tf.maximum(size, tf.cast(tf.round(shape * scale), tf.int32))
    resized = tf.image.resize(picture, target, method="bilinear", antialias=True)
    stateless_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(position, tf.int64)])
    crop = tf.image.stateless_random_crop(resized, [size, size, 3], seed=stateless_seed)
    return tf.clip_by_value(crop, 0.0, 255.0)


def training_dataset(pictures, size, batch_size, seed, start_batch=0, styles=None, pipeline=None):
    """
    Batches of training crops: decoded in parallel, in the seed's order, prefetched so that decoding overlaps training.
    With `styles`, each crop comes with the style it is trained for: the styles in turn, batch after batch (batch b
    is style b mod styles), so that every style has the same share of the steps and a resumed training gives each
    batch the style an uninterrupted one would.

    Under a tf.distribute strategy (strategy.distribute_datasets_from_function gives `pipeline`), each input pipeline
    (one per worker) decodes only its share of every global batch: its consecutive slice, batched per replica, which
    its replicas take in turn. Every worker follows the whole order (indices only, no decoding) and keeps its slice,
    so that the global batch is the one-device batch, in the same order, with the same crops and styles.

    Arguments:
    pictures -- a Pictures
    size -- crop side in pixels
    batch_size -- pictures per batch
    seed -- the order's and the crops' seed
    start_batch -- batches already trained on (a resumed training starts after them): an int, or a one-item list
                   read when the data starts to flow (after Keras' callbacks have restored a checkpoint)
    styles -- None, or the count of styles
    pipeline -- None (the whole batches), or a tf.distribute.InputContext: this pipeline's share, batched per replica

    Returns:
    dataset -- endless tf.data.Dataset of float32 (batch_size, size, size, 3) in 0..255 (per replica: batch_size
               divided by the replicas); with `styles`, of pairs (those crops, int32 the style of each)
    """
    known_bad = set(pictures.skipped)
    paths = pictures.paths
    batch, share, part = batch_size, batch_size, 0
    if pipeline is not None:
        batch = pipeline.get_per_replica_batch_size(batch_size)  # a ValueError unless it divides evenly
        share = batch_size // pipeline.num_input_pipelines
        part = pipeline.input_pipeline_id

    def stream():
        start = (start_batch[0] if isinstance(start_batch, list) else start_batch) * batch_size
        order = picture_order(len(paths), seed, start, lambda index: paths[index] in known_bad)
        # The style of the entry's global batch, counted over the usable entries (the ones `start` counts).
        for seen, (index, position) in enumerate(order, start):
            # Once every picture has failed to decode (cut, deleted while the training runs), the stream ends: the
            # batch would otherwise wait for ever for a picture, deaf to signals. The training then says so.
            if pictures.usable() == 0:
                return
            if (seen % batch_size) // share == part:
                yield index, position, (seen // batch_size) % (styles or 1)

    signature = (tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.int64), tf.TensorSpec((), tf.int32))
    dataset = tf.data.Dataset.from_generator(stream, output_signature=signature)

    def decode(index, position, style):
        picture, ok = tf.numpy_function(pictures.decode, [index], (tf.float32, tf.bool), stateful=True)
        picture.set_shape((None, None, 3))
        return picture, ok, position, style

    def crop(picture, ok, position, style):
        cropped = crop_to_size(picture, size, seed, position)
        return (cropped, style) if styles else cropped

    # As many decodes at once as the memory holds for the largest picture (the order stays the seed's either way).
    parallel = max(1, min(os.cpu_count() or 1, pictures.memory // max(1, pictures.largest * DECODE_BYTES_PER_PIXEL)))
    dataset = dataset.map(decode, num_parallel_calls=parallel, deterministic=True)
    dataset = dataset.filter(lambda picture, ok, position, style: ok)
    dataset = dataset.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
