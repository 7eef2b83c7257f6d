"""Stylising a clip frame by frame with Ruder et al.'s temporal consistency, resumably.

Frame 0 is an ordinary style transfer. Every later frame i:
- the flow between input frames i-1 and i, both ways (computed once, cached in the work folder);
- the target: the previous stylised frame warped into frame i by the backward flow, and the reliability mask c;
- starts from that target (video_init 'warped'), and minimises J + temporal_weight * J_temporal with
  J_temporal = (1 / D) * sum c * (x - target)^2 (Ruder et al.'s short-term consistency).
Finished frames are written into the work folder as PNG (atomically); a second run with the same settings reads them
back and goes on from the first missing one.
"""

import dataclasses
import hashlib
import json
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from ..checkpoint import _jsonable, differences, digest, settings_fingerprint
from ..files import TEMPORARY_PREFIX, atomic_write
from ..images import ImageError, load_image, load_pixels, normalize_image, target_size, write_image
from ..options import OptionError, StyleOptions, VideoOptions
from ..safety import LOCK_FILE
from ..stylize import SharedSteps, StyleTransfer, _style_list
from ..weights import load_weights
from .frames import FRAME_NAME, open_clip
from .motion import flow_pair, reliability_mask, temporal_cost, warp_image

# Without a size option a clip keeps its own size, its longest side at most this (the article's 400 pixels).
DEFAULT_MAX_SIZE = 400
SETTINGS_FILE = "settings.json"
INDEX_FILE = "index.json"
# The mark in settings.json of a folder that a video run made: a folder without it is never used as a work folder.
WORK_MARK, WORK_KIND = "work folder of", "neural-style video"
VIDEO_FIELDS = tuple(field.name for field in dataclasses.fields(VideoOptions))


class TemporalCost:
    """A frame's cost with Ruder et al.'s temporal term: J + temporal_weight * J_temporal, the interface of
    StyleTransferCost (`terms`, and calling it gives J, J_content, J_style)."""

    def __init__(self, cost, target, mask, temporal_weight):
        """
        Arguments:
        cost -- the frame's StyleTransferCost
        target -- the previous stylised frame warped into this one, (1, H, W, 3) in the network's space
        mask -- per-pixel weights c, (H, W): reliability_mask
        temporal_weight -- the weight of J_temporal
        """
        self.cost = cost
        self.target = tf.constant(target, tf.float32)
        self.mask = tf.constant(mask, tf.float32)
        self.temporal_weight = float(temporal_weight)

    def targets(self):
        """
        The fixed targets: the frame cost's (StyleTransferCost.targets), then the temporal target and mask.

        Returns:
        targets -- list of tensors, or None where the frame cost's cannot be swapped
        """
        inner = self.cost.targets() if hasattr(self.cost, "targets") else None
        return None if inner is None else [*inner, self.target, self.mask]

    def hold_targets(self):
        """Puts every target in tf.Variables (StyleTransferCost.hold_targets): one step serves every frame."""
        self.cost.hold_targets()
        self.target = tf.Variable(self.target, trainable=False, name="temporal_target")
        self.mask = tf.Variable(self.mask, trainable=False, name="temporal_mask")

    def assign_targets(self, other):
        """
        Takes another frame's targets into the held ones (hold_targets).

        Arguments:
        other -- the TemporalCost of another frame of the same size and settings
        """
        self.cost.assign_targets(other.cost)
        self.target.assign(other.target)
        self.mask.assign(other.mask)

    def terms(self, generated_image):
        """
        Every term of the cost of a generated frame.

        Arguments:
        generated_image -- tensor (1, H, W, 3), as the network sees it

        Returns:
        costs -- CostTerms: the frame cost's terms, J_temporal, and J including temporal_weight * J_temporal
        """
        costs = self.cost.terms(generated_image)
        J_temporal = temporal_cost(generated_image, self.target, self.mask)
        return costs._replace(J=costs.J + self.temporal_weight * J_temporal, J_temporal=J_temporal)

    def __call__(self, generated_image):
        """
        Computes the costs of a generated frame.

        Arguments:
        generated_image -- tensor (1, H, W, 3)

        Returns:
        J, J_content, J_style -- scalar tensors (J includes the temporal term)
        """
        return self.terms(generated_image).course()


class FrameStyleTransfer(StyleTransfer):
    """StyleTransfer of one frame, with the temporal term in its cost at every scale when `temporal` is given."""

    def __init__(self, content, style, options=None, temporal=None, *, steps=None, **overrides):
        """
        Arguments:
        content, style, options, steps, overrides -- as for StyleTransfer
        temporal -- None, or (target, mask, temporal_weight): the warped previous stylised frame as uint8 or
                    float pixels (H, W, 3) in [0, 255], the reliability mask (H, W), and the weight
        """
        self.temporal = temporal
        super().__init__(content, style, options, steps=steps, **overrides)

    def _step_key(self, size):
        # The temporal term is part of the graph (with its weight): the first frame's step is not the others'.
        weight = None if self.temporal is None else float(self.temporal[2])
        return (*super()._step_key(size), ("temporal_weight", weight))

    def _make_cost(self, size):
        cost = super()._make_cost(size)
        if self.temporal is None:
            return cost
        target, mask, weight = self.temporal
        target = normalize_image(load_pixels(target, size, what="temporal target"), self.options.image_range)
        if tuple(np.shape(mask)) != tuple(size):
            mask = tf.image.resize(np.asarray(mask, np.float32)[..., None], size).numpy()[..., 0]
        return TemporalCost(cost, target, mask, weight)


def split_options(options):
    """
    Separates the video's own options from the frames' (StyleOptions fields), checking the video's.

    Arguments:
    options -- dict of keyword options of stylize_video

    Returns:
    video -- a validated VideoOptions
    style -- a StyleOptions with the rest (validated per frame)
    """
    unknown = set(options) - set(VIDEO_FIELDS) - {field.name for field in dataclasses.fields(StyleOptions)}
    if unknown:
        raise TypeError(f"stylize_video() got unknown options: {', '.join(sorted(unknown))}")
    video = VideoOptions(**{name: options[name] for name in VIDEO_FIELDS if name in options}).validate()
    style = StyleOptions(**{name: value for name, value in options.items() if name not in VIDEO_FIELDS})
    for name in ("resume", "checkpoint_every"):
        if getattr(style, name):
            raise OptionError(
                f"{name} does not apply to videos: a video run resumes by itself, frame by frame, from its work folder",
                name,
            )
    if style.bit_depth != 8:
        raise OptionError(
            f"bit_depth {style.bit_depth}: video frames are kept and written with 8 bits per channel; leave bit_depth "
            "out",
            "bit_depth",
        )
    return video, style


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
            return _pixels_uint8(load_image(path))
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
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            hasher.update(block)
    return "sha256:" + hasher.hexdigest()


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
    path = os.fspath(path)
    if not os.path.exists(path):
        return None
    if not os.path.isdir(path):
        raise OptionError(f"work_dir {path} is a file, not a folder; give a new or empty folder", "work_dir")
    saved_path = os.path.join(path, SETTINGS_FILE)
    names = [name for name in os.listdir(path) if not _is_scratch(name)]
    if not names:
        return None
    refuse = (
        f"work_dir {path} is not a work folder of `neural-style video` ({{}}); nothing in it is used or changed: "
        "give a new or empty folder"
    )
    if SETTINGS_FILE not in names:
        raise OptionError(refuse.format(f"it holds {len(names)} other files and no {SETTINGS_FILE}"), "work_dir")
    try:
        with open(saved_path, "rb") as file:
            saved = json.loads(file.read().decode("utf8"))
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise OptionError(
            f"work_dir {path}: {SETTINGS_FILE} is damaged ({reason}); delete the folder to start afresh, or give "
            "another work folder",
            "work_dir",
        ) from None
    if not isinstance(saved, dict) or saved.get(WORK_MARK) != WORK_KIND:
        raise OptionError(refuse.format(f"its {SETTINGS_FILE} has no mark of a video run"), "work_dir")
    return saved


def _is_scratch(name):
    """The lock file and the temporary files of killed writes: not content of a folder."""
    return name == LOCK_FILE or name.startswith(TEMPORARY_PREFIX)


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
        yield _pixels_uint8(load_image(os.path.join(work_dir, "frames", FRAME_NAME.format(index))))


class _NoWorkFolder:
    """Keeps nothing: the frames and flows of a run without a work folder live only in memory."""

    def finished(self, index):
        return None

    def save_frame(self, index, frame):
        pass

    def flows(self, index, previous, current, method):
        return flow_pair(previous, current, method)


def _style_pixels(image):
    """A style image (path or array) at its own size, as float32 RGB in [0, 255]; each frame resizes it."""
    if isinstance(image, (str, os.PathLike)):
        try:
            return load_image(image)
        except (FileNotFoundError, ImageError) as error:
            raise type(error)(f"style: {error}") from None
    pixels = np.asarray(image, np.float32)
    return load_pixels(pixels, pixels.shape[-3:-1], what="style")


def _pixels_uint8(image):
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _frame_size(clip, style):
    """The stylised frames' size: the size options applied to the clip's, else the clip's with the longest side
    at most DEFAULT_MAX_SIZE."""
    height, width = clip.size
    if style.height is None and style.width is None and style.max_size is None:
        return target_size(height, width, max_size=min(DEFAULT_MAX_SIZE, max(height, width)))
    return target_size(height, width, style.height, style.width, style.max_size)


def _source_identity(clip):
    """What says that a work folder's frames came from this clip: the file's or the frames' names, sizes, times."""
    if clip.arrays is not None:
        return digest([np.asarray(frame) for frame in clip.arrays])
    paths = clip.paths or [clip.source]
    return [[os.path.abspath(path), os.path.getsize(path), os.path.getmtime(path)] for path in paths]


def _settings(clip, size, video, style, styles, weights):
    """What a work folder's frames depend on: the frames' settings as a checkpoint's, the video's, and the clip."""
    settings = settings_fingerprint(style, size, weights, np.zeros((0, 0, 3)), styles)
    # A checkpoint may change these (they only make the first image); every frame of a video starts from them.
    for name in ("init", "noise_ratio", "seed", "iterations"):
        settings[name.replace("_", "-")] = _jsonable(getattr(style, name))
    settings.update({name.replace("_", "-"): getattr(video, name) for name in VIDEO_FIELDS if name != "fps"})
    settings["content image"] = _source_identity(clip)
    return settings


def stylize_video(frames_or_path, style, work_dir=None, progress=False, callback=None, **options):
    """
    Stylises a clip frame by frame, each frame after the first kept close to the previous one where the motion is
    reliable (Ruder, Dosovitskiy & Brox 2016).

    Arguments:
    frames_or_path -- a video file, a folder of numbered frames, a sequence of RGB arrays (H, W, 3) in [0, 255],
                      or a Clip (frames.open_clip)
    style -- the style image (path or array), or a list of them
    work_dir -- None, or a folder for the finished frames and the flow cache: a second call with the same settings
                and folder reuses what it wrote there (WorkFolder) and computes only the missing frames; it must be
                new, empty or made by a video run, and serve one run at a time
    progress -- show a progress bar over the frames and one over the current frame's iterations
    callback -- None, or callback(index, entry) after every iteration of frame `index`
    options -- VideoOptions fields (temporal_weight, video_init 'warped' | 'content' | 'noise', first_iterations,
               flow, fps) and StyleOptions fields, which apply to each frame (iterations: of the frames after the
               first; init and seed: of the first frame and of every frame with video_init 'noise', the seed + i
               for frame i); without a size option the frames keep the clip's size, the longest side at most 400

    Returns:
    frames -- generator of uint8 arrays (H, W, 3), the stylised frames in order
    """
    clip = open_clip(frames_or_path, options.get("fps"))
    video, frame_options = split_options(options)
    styles = [_style_pixels(image) for image in _style_list(style)]
    weights = frame_options.weights
    if not hasattr(weights, "layers"):
        weights = load_weights(weights)
    size = _frame_size(clip, frame_options)
    frame_options = dataclasses.replace(frame_options, weights=weights, height=size[0], width=size[1], max_size=None)
    frame_options.validate(style_count=len(styles))  # bad options fail here, before any work
    settings = _settings(clip, size, video, frame_options, styles, weights)
    work = _NoWorkFolder() if work_dir is None else WorkFolder(work_dir, settings)
    return _frames(clip, styles, size, video, frame_options, work, progress, callback)


def _frames(clip, styles, size, video, frame_options, work, progress, callback):
    previous_input = previous_output = None
    steps = SharedSteps()  # one network and one compiled step per kind of frame, for the whole clip
    first_iterations = video.first_iterations or frame_options.iterations
    with tqdm(total=clip.count, disable=not progress, unit="frame", dynamic_ncols=True, position=0) as frames_bar:
        for index, frame in enumerate(clip.frames()):
            pixels = load_pixels(frame, size, what="content")
            output = work.finished(index)
            if output is None:
                iterations = first_iterations if index == 0 else frame_options.iterations
                overrides = {"iterations": iterations}
                if frame_options.seed is not None:
                    overrides["seed"] = frame_options.seed + index
                if frame_options.save_every and frame_options.output_dir:
                    # Each frame's intermediate images in a folder of their own, not over the previous frame's.
                    overrides["output_dir"] = os.path.join(frame_options.output_dir, f"frame_{index:05d}")
                temporal = None
                if index > 0:
                    forward, backward = work.flows(index, previous_input, pixels, video.flow)
                    warped = warp_image(previous_output, backward)
                    if video.video_init != "noise":
                        overrides["init"] = warped if video.video_init == "warped" else "content"
                    if video.temporal_weight:
                        temporal = (warped, reliability_mask(forward, backward), video.temporal_weight)
                output = _stylize_frame(
                    pixels, styles, frame_options, temporal, overrides, index, progress, callback, steps
                )
                work.save_frame(index, output)
            frames_bar.update()
            yield output
            previous_input, previous_output = pixels, output


def _stylize_frame(pixels, styles, frame_options, temporal, overrides, index, progress, callback, steps=None):
    """One frame's style transfer, its iterations shown in a bar of their own below the frames' bar (`steps`: the
    clip's SharedSteps)."""
    transfer = FrameStyleTransfer(pixels, styles, frame_options, temporal=temporal, steps=steps, **overrides)
    with tqdm(
        total=overrides["iterations"],
        disable=not progress,
        unit="it",
        desc=f"frame {index}",
        leave=False,
        dynamic_ncols=True,
        position=1,
    ) as bar:

        def on_iteration(entry):
            bar.set_postfix(total=f"{entry['J']:.4g}", temporal=f"{entry.get('J_temporal', 0):.4g}", refresh=False)
            bar.update()
            if callback is not None:
                callback(index, entry)

        image, _ = transfer.run(progress=False, callback=on_iteration)
    return image
