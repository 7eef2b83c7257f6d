"""Watching a training in TensorBoard (`neural-style train ... --tensorboard DIR`): a Keras callback that writes the
run with the project's neural_style.tensorboard (open_run, RunWriter, close_run), as the main job, batch and video do.

What a training's run holds (a folder DIR/<model name>-<time>/, so that trainings can be compared):

- every cost term at every step, under the main job's tags: J (Keras' 'loss'), J_content, J_style, J_tv, each the
  float32 value train_step returned for that step's batch (the values Keras' History and CSVLogger record);
- the settings as text: the inputs (styles, images, output, weights, work_dir, the preview photographs), then every
  TrainOptions field;
- previews under the tags preview/NN-<photo name>: for each held-out photograph, one picture made of the photograph
  and, to its right, the network's output for it with each style in turn (one-hot style weights, in the order of
  --style), all at the same size. Written at step 0 (the untrained network), every --save-every steps, and at the last
  step. The photographs are those of --preview-images (every picture in the folder, at most PREVIEW_LIMIT), else the
  first PREVIEW_COUNT pictures of --images in the pipeline's sorted order (these the network trains on: give
  --preview-images for photographs it has never seen); each is resized so that its longest side is --size
  (images.load_pixels), and goes through the network whole in one compiled pass, edge-padded when narrower than the
  network allows, clipped and rounded as apply does: a preview is what `neural-style apply` gives for that picture at
  that size with the weights of that step (within float32 rounding: a grey level where a value is within rounding of
  a half).

The step is the global training step, the optimizer's iteration count: step s holds the costs of the s-th batch and
the previews of the network after s updates. A resumed training (the same command after an interruption) continues
the same run folder, recorded in the work_dir: its event file goes beside the interrupted one's, starting at the
checkpoint's step, and TensorBoard replaces the steps the interrupted run wrote after its checkpoint by the resumed
ones (it drops a series' points at or after a step written again).

Why not keras.callbacks.TensorBoard: it would be a second writer beside the project's one way of opening a run
(other tags, train/ and validation/ sub-folders, epoch-averaged scalars, no settings table and no pictures of a
network's output), so a training could not be compared with the other commands' runs nor checked the same way.

Only the chief writes: under tf.distribute, the strategy's extended.should_save_summary (False on every worker of a
MultiWorkerMirroredStrategy cluster but the chief; True for one machine's strategies).
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from ..checks import OptionError
from ..files import atomic_write
from ..image_files import IMAGE_EXTENSIONS, ImageError
from ..images import load_pixels
from ..safety import SideWrites
from ..tensorboard import close_run, open_run, run_name
from . import data
from .apply import pad_to_min_side
from .options import PREVIEW_COUNT, PREVIEW_LIMIT

PREVIEW_TAG = "preview"
# In the work_dir: the run folder of this training, so that a resumed training continues it.
RUN_FILE = "tensorboard_run.json"


def is_chief(strategy):
    """
    Whether this process writes the training's TensorBoard run.

    Arguments:
    strategy -- the tf.distribute strategy the training runs under (None: one process)

    Returns:
    chief -- strategy.extended.should_save_summary: True on one machine, on a cluster only for the chief (or worker 0
             when the cluster names no chief)
    """
    return strategy is None or bool(getattr(strategy.extended, "should_save_summary", True))


def _inside(path, folder):
    """Whether `path` is `folder` or inside it (both resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_paths(options, output, work_dir):
    """
    Refuses a TensorBoard folder that the training's own files would clash with, before any work.

    Arguments:
    options -- validated TrainOptions
    output -- the model file
    work_dir -- the checkpoint's folder (removed when the training ends)

    Returns:
    None; raises OptionError (one line) for a folder that is the model file, or inside the work_dir
    """
    folder = options.tensorboard
    if not folder:
        return
    if os.path.realpath(output) == os.path.realpath(folder):
        raise OptionError(
            f"tensorboard {folder} and output {output} are one path; give the TensorBoard folder another name",
            "tensorboard",
            "output",
        )
    if _inside(folder, work_dir):
        raise OptionError(
            f"tensorboard {folder} is inside work_dir {work_dir}, which is removed when the training ends; give a "
            "folder elsewhere",
            "tensorboard",
            "work_dir",
        )


def preview_photos(options, pictures):
    """
    The held-out photographs the previews show, read once before the training.

    Arguments:
    options -- validated TrainOptions (preview_images, size)
    pictures -- the training's data.Pictures (the default previews are its first usable ones)

    Returns:
    photos -- list of (path, float32 (h, w, 3) in 0..255 with longest side options.size); a bad --preview-images
              picture, an empty folder or one of more than PREVIEW_LIMIT pictures is an OptionError or ImageError
              (one line)
    """
    if options.preview_images is None:
        photos = []
        for path in pictures.paths:
            if len(photos) == PREVIEW_COUNT:
                break
            if path in pictures.skipped:
                continue
            try:
                photos.append((path, load_pixels(path, max_size=options.size)))
            except Exception:  # unreadable: the training skips it too (and warns when it reaches it)
                continue
        return photos
    folder = options.preview_images
    paths = data.list_pictures(folder)
    if not paths:
        raise OptionError(
            f"preview_images {folder}: no picture files ({', '.join(IMAGE_EXTENSIONS)}); give a folder of held-out "
            "photographs",
            "preview_images",
        )
    if len(paths) > PREVIEW_LIMIT:
        raise OptionError(
            f"preview_images {folder} holds {len(paths)} pictures; give a folder of at most {PREVIEW_LIMIT}",
            "preview_images",
        )
    photos = []
    for path in paths:
        try:
            photos.append((path, load_pixels(path, max_size=options.size)))
        except (FileNotFoundError, ImageError) as error:
            raise OptionError(
                f"preview_images {folder}: {error}; give photographs that can be read", "preview_images"
            ) from None
    return photos


def preview_tags(photos):
    """Each photograph's tag: preview/NN-<file name without extension>, NN its place in the list."""
    names = [os.path.splitext(os.path.basename(path))[0] for path, _ in photos]
    return [f"{PREVIEW_TAG}/{index:02d}-{name}" for index, name in enumerate(names)]


def preview_strip(net, pixels, styles):
    """
    One preview: the photograph, then the network's output for it with each style, side by side.

    Arguments:
    net -- the network, called as net((pictures, style_weights)): a TransformNet, or compiled_forward's function
    pixels -- float32 (h, w, 3) in 0..255, the photograph
    styles -- how many styles the network has

    Returns:
    strip -- uint8 (h, w * (1 + styles), 3): the whole picture through the network in one pass (edge-padded when
             narrower than it allows, as apply does), clipped and rounded as `neural-style apply` writes its pictures
    """
    height, width = pixels.shape[:2]
    padded = pad_to_min_side(pixels)
    # Every style at once: the photograph repeated, each copy with its one-hot style weights.
    pictures = np.repeat(padded[np.newaxis], styles, axis=0)
    outputs = np.asarray(net((pictures, np.eye(styles, dtype=np.float32))))[:, :height, :width]
    strip = np.concatenate([pixels, *outputs], axis=1)
    return np.rint(np.clip(strip, 0, 255)).astype(np.uint8)


def compiled_forward(net):
    """
    The network's forward pass as one compiled TensorFlow function: an eager call of the network's 47 layers costs far
    more than their arithmetic at preview sizes (docs/performance.md); reduce_retracing lets the photographs' different
    sizes share one trace.

    Arguments:
    net -- a TransformNet

    Returns:
    forward -- function((pictures, style_weights)) -> the outputs as a tensor
    """
    return tf.function(lambda inputs: net(inputs, training=False), reduce_retracing=True)


def cost_tag(key):
    """
    The tag a training's cost is written under: the main job's (tensorboard.cost_terms), so that both read alike.

    Arguments:
    key -- the name train_step logs it under ('loss' for J, 'content', 'style', 'tv', or a new term's)

    Returns:
    tag -- 'J' for the loss, else 'J_' + key ('J_content', ...)
    """
    return "J" if key == "loss" else f"J_{key}"


class TrainingBoard(keras.callbacks.Callback):
    """The Keras callback that writes a training's TensorBoard run (this module's docstring says what)."""

    def __init__(self, options, photos, styles, inputs, output, work_dir, side_writes=None):
        """
        Arguments:
        options -- validated TrainOptions with tensorboard set (open_run reads options and side_writes from here)
        photos -- preview_photos' list
        styles -- the network's count of styles
        inputs -- dict of what the training reads and writes, written before the options in the settings
        output -- the model file (names the run)
        work_dir -- the checkpoint's folder (where the run's folder is recorded for a resumed training)
        side_writes -- a safety.SideWrites: a write that fails is reported once and the training goes on
        """
        super().__init__()
        self.options = options
        self.side_writes = side_writes or SideWrites()
        self.photos, self.tags, self.styles = photos, preview_tags(photos), styles
        self.inputs, self.output, self.work_dir = inputs, os.fspath(output), os.fspath(work_dir)
        self.writer = None
        self.previewed = None
        self._forward = None
        self.step = 0

    def _step(self):
        """The global step: the optimizer's count of updates (restored from the checkpoint when resumed)."""
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _attempt(self, write, *args):
        self.side_writes.attempt("TensorBoard events", self.writer.folder, write, *args)

    def _continued_folder(self):
        """The run folder an interrupted run of this training recorded, if it is still there under --tensorboard."""
        try:
            with open(os.path.join(self.work_dir, RUN_FILE)) as file:
                folder = json.load(file)["folder"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if isinstance(folder, str) and os.path.isdir(folder) and _inside(folder, self.options.tensorboard):
            return folder
        return None

    def _record_folder(self):
        def write():
            with atomic_write(os.path.join(self.work_dir, RUN_FILE)) as temporary, open(temporary, "w") as file:
                json.dump({"folder": os.path.abspath(self.writer.folder)}, file)

        self.side_writes.attempt("TensorBoard run's name", os.path.join(self.work_dir, RUN_FILE), write)

    def preview(self, step):
        """Writes the previews of the network as it is now, at `step`."""
        if self._forward is None:
            self._forward = compiled_forward(self.model.net)
        pictures = {
            tag: preview_strip(self._forward, pixels, self.styles) for tag, (_, pixels) in zip(self.tags, self.photos)
        }
        if pictures:
            self._attempt(self.writer.write_images, step, pictures)
        self.previewed = step

    def on_train_begin(self, logs=None):
        if not is_chief(getattr(self.model, "distribute_strategy", None)):
            return
        step = self.step = self._step()
        folder = self._continued_folder()
        inputs = {**self.inputs, "resumed_at": step if step else None}
        self.writer = open_run(self, run_name(self.output), inputs, folder=folder, step=step)
        if self.writer is None:
            return
        self._record_folder()
        if step == 0:
            self.preview(0)

    def on_train_batch_end(self, batch, logs=None):
        if self.writer is None:
            return
        # One call per step (model.fit's default steps_per_execution of 1): counted here rather than read from the
        # optimizer, which would be one more TensorFlow call a step.
        self.step += 1
        step = self.step
        costs = {cost_tag(key): value for key, value in (logs or {}).items()}
        self._attempt(self.writer.write_costs, {"iteration": step, **costs})
        if self.options.save_every and step % self.options.save_every == 0:
            self.preview(step)

    def on_epoch_end(self, epoch, logs=None):
        # A Keras epoch is a checkpoint interval: what the checkpoint covers is on disk with it.
        if self.writer is not None:
            self._attempt(self.writer.flush)

    def on_train_end(self, logs=None):
        if self.writer is None:
            return
        step = self.step
        if self.previewed != step:
            self.preview(step)
        self.close()

    def close(self):
        """Flushes and closes the run (also after an interruption: what was written is kept)."""
        writer, self.writer = self.writer, None
        close_run(writer, self)


def training_board(options, styles, images, output, weights, work_dir, pictures, warn=None):
    """
    The TensorBoard callback of a training, its preview photographs read (and checked) before any work.

    Arguments:
    options -- validated TrainOptions
    styles -- the style pictures' paths
    images -- the training pictures' folder
    output -- the model file
    weights -- the loss network's weights (a path, 'random', or a loaded object)
    work_dir -- the checkpoint's folder
    pictures -- the training's data.Pictures
    warn -- function(line) for a TensorBoard write that fails (default: a line on stderr)

    Returns:
    board -- a TrainingBoard, or None without options.tensorboard
    """
    if not options.tensorboard:
        return None
    photos = preview_photos(options, pictures)
    inputs = {
        "style": [os.fspath(path) for path in styles],
        "images": os.fspath(images),
        "output": os.fspath(output),
        "weights": os.fspath(weights) if isinstance(weights, (str, os.PathLike)) else "given",
        "work_dir": os.fspath(work_dir),
        "previews": [path for path, _ in photos],
    }
    return TrainingBoard(options, photos, len(styles), inputs, output, work_dir, SideWrites(warn))


def close(board):
    """Closes a training's board, if any (after the training, or when it is interrupted)."""
    if board is not None:
        board.close()


__all__ = [
    "cost_tag",
    "RUN_FILE",
    "TrainingBoard",
    "check_paths",
    "close",
    "is_chief",
    "preview_photos",
    "preview_strip",
    "preview_tags",
    "training_board",
]
