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
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from ..checkpoint import settings_fingerprint
from ..images import ImageError, load_image, load_pixels, normalize_image, target_size
from ..options import OptionError, StyleOptions, VideoOptions
from ..shared_steps import SharedSteps
from ..stylize import StyleTransfer, style_list
from ..tensorboard import close_run, open_run, watch_transfer
from ..weights import load_weights
from .frames import open_clip
from .motion import reliability_mask, warp_image
from .work import NoWorkFolder, WorkFolder

# Without a size option a clip keeps its own size, its longest side at most this (the article's 400 pixels).
DEFAULT_MAX_SIZE = 400
VIDEO_FIELDS = tuple(field.name for field in dataclasses.fields(VideoOptions))
# The options that make a run's first image, which a resume may change (a checkpoint's image replaces it): every frame
# of a video starts from them, so a work folder's settings keep them.
FRAME_START_FIELDS = ("init", "noise_ratio", "seed", "iterations")


def temporal_cost(generated_image, target, mask):
    """
    Ruder et al.'s short-term temporal cost: J_temporal = (1 / D) * sum_k c_k * (x_k - w_k)^2, D = H * W * C.

    Arguments:
    generated_image -- tensor (1, H, W, C): the frame being made, x
    target -- tensor or array (1, H, W, C) in the same space: the previous stylised frame warped into this one, w
    mask -- tensor or array (H, W) (or broadcastable to the image): the per-pixel weights c, e.g. reliability_mask

    Returns:
    J_temporal -- scalar tensor
    """
    mask = tf.cast(mask, generated_image.dtype)
    if mask.shape.rank == 2:
        mask = mask[None, :, :, None]
    difference = generated_image - tf.cast(target, generated_image.dtype)
    return tf.reduce_mean(mask * tf.square(difference))


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


def _style_pixels(image):
    """A style image (path or array) at its own size, as float32 RGB in [0, 255]; each frame resizes it."""
    if isinstance(image, (str, os.PathLike)):
        try:
            return load_image(image)
        except (FileNotFoundError, ImageError) as error:
            raise type(error)(f"style: {error}") from None
    pixels = np.asarray(image, np.float32)
    return load_pixels(pixels, pixels.shape[-3:-1], what="style")


def _frame_size(clip, style):
    """The stylised frames' size: the size options applied to the clip's, else the clip's with the longest side
    at most DEFAULT_MAX_SIZE."""
    height, width = clip.size
    if style.height is None and style.width is None and style.max_size is None:
        return target_size(height, width, max_size=min(DEFAULT_MAX_SIZE, max(height, width)))
    return target_size(height, width, style.height, style.width, style.max_size)


def _source_identity(clip):
    """What says that a work folder's frames came from this clip: the frames given as arrays (their digest in the
    settings), or the file's or the frames' names, sizes, times."""
    if clip.arrays is not None:
        return [np.asarray(frame) for frame in clip.arrays]
    paths = clip.paths or [clip.source]
    return [[os.path.abspath(path), os.path.getsize(path), os.path.getmtime(path)] for path in paths]


def _settings(clip, size, video, style, styles, weights):
    """What a work folder's frames depend on: the frames' settings as a checkpoint's (with the options that start
    every frame) for the clip, and the video's."""
    settings = settings_fingerprint(style, size, weights, _source_identity(clip), styles, kept=FRAME_START_FIELDS)
    settings.update({name.replace("_", "-"): getattr(video, name) for name in VIDEO_FIELDS if name != "fps"})
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
    styles = [_style_pixels(image) for image in style_list(style)]
    weights = frame_options.weights
    if not hasattr(weights, "layers"):
        weights = load_weights(weights)
    size = _frame_size(clip, frame_options)
    frame_options = dataclasses.replace(frame_options, weights=weights, height=size[0], width=size[1], max_size=None)
    frame_options.validate(style_count=len(styles))  # bad options fail here, before any work
    settings = _settings(clip, size, video, frame_options, styles, weights)
    work = NoWorkFolder() if work_dir is None else WorkFolder(work_dir, settings)
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
    # One TensorBoard run per frame (--tensorboard), named frame-00001, ...: the frames' costs side by side.
    board = open_run(transfer, f"frame-{index:05d}", {"frame": index})
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

        image = None
        try:
            image, _ = transfer.run(
                progress=False,
                callback=on_iteration if board is None else watch_transfer(board, transfer, on_iteration),
            )
        finally:
            close_run(board, transfer, image, len(transfer.history))
    return image
