"""Frames in and out: video files through imageio-ffmpeg (the ffmpeg binary ships in its wheel), folders of numbered
frames through imageio, each output written atomically.
"""

import dataclasses
import itertools
import os
import re
import subprocess

import imageio_ffmpeg
import numpy as np

from ..files import atomic_write
from ..image_files import IMAGE_EXTENSIONS, ImageError, declared_size, read_image, write_image
from ..limits import MAX_IMAGE_PIXELS_ENV, max_image_pixels
from ..options import OptionError

# The containers the video job writes, with the video codec each gets (all in imageio-ffmpeg's ffmpeg).
VIDEO_CODECS = {
    ".mp4": "libx264",
    ".mov": "libx264",
    ".mkv": "libx264",
    ".m4v": "libx264",
    ".webm": "libvpx-vp9",
    ".avi": "mpeg4",
    ".gif": "gif",
}
# Audio codecs each container can take as they are; other audio is re-encoded into the first one.
AUDIO_CODECS = {
    ".mp4": ("aac", "mp3", "opus", "alac"),
    ".mov": ("aac", "mp3", "alac", "pcm_s16le"),
    ".m4v": ("aac", "mp3"),
    ".mkv": ("aac", "opus", "vorbis", "mp3", "flac", "pcm_s16le"),
    ".webm": ("opus", "vorbis"),
    ".avi": ("mp3", "aac", "pcm_s16le"),
}
AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "opus": "libopus"}
# A folder of frames has no rate of its own.
DEFAULT_FPS = 25.0
FRAME_NAME = "{:05d}.png"
# How long reading a video's header may take (ffmpeg reads only the container's and the stream's headers).
PROBE_SECONDS = 60


class VideoError(ImageError):
    """A video or a folder of frames that cannot be read (not a video, empty, frames of different sizes)."""


@dataclasses.dataclass
class Clip:
    """Frames to stylise: where they come from, their rate, count and size, and how to read them one by one."""

    source: object  # a path, or None for frames given as arrays
    fps: float
    count: int
    size: tuple  # (height, width)
    audio_codec: str = None  # the source's audio, None when it has none
    paths: list = None  # a folder's frame files, in order
    arrays: list = None  # frames given as arrays

    def frames(self):
        """
        The frames in order.

        Returns:
        frames -- iterator of uint8 arrays (height, width, 3)
        """
        if self.arrays is not None:
            for frame in self.arrays:
                yield _uint8_rgb(frame)
        elif self.paths is not None:
            for path in self.paths:
                yield _uint8_rgb(read_image(path, max_image_pixels()))
        else:
            height, width = self.size
            reader = imageio_ffmpeg.read_frames(self.source)
            next(reader)  # the meta information, read already
            try:
                for buffer in reader:
                    yield np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
            finally:
                reader.close()


def _uint8_rgb(frame):
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return frame


def open_clip(source, fps=None):
    """
    Opens a video file, a folder of numbered frames or a sequence of frames, checking it before any work is done.

    Arguments:
    source -- path of a video (mp4, mov, webm, mkv, avi, gif: anything ffmpeg reads), path of a folder of numbered
              frames (0001.png, frame_2.jpg, ...: ordered by the last number in the name), or a sequence of RGB
              arrays (H, W, 3) in [0, 255]
    fps -- the frame rate of a folder or of arrays (default 25); a video file's own rate is used for a file

    Returns:
    clip -- a Clip; raises VideoError (not a video, no frames, frames of different sizes) or FileNotFoundError
    """
    if isinstance(source, Clip):
        return source
    if not isinstance(source, (str, os.PathLike)):
        return _array_clip(source, fps)
    path = os.fspath(source)
    if os.path.isdir(path):
        return _folder_clip(path, fps)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"content: video or folder not found: {path}")
    return _video_clip(path)


def _array_clip(frames, fps):
    arrays = list(frames)
    if not arrays:
        raise VideoError("content: no frames given")
    shapes = {np.shape(frame) for frame in arrays}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3 or next(iter(shapes))[-1] != 3:
        raise VideoError(f"content: frames must be RGB arrays (H, W, 3) of one size, got shapes {sorted(shapes)}")
    height, width = np.shape(arrays[0])[:2]
    return Clip(None, float(fps or DEFAULT_FPS), len(arrays), (height, width), arrays=arrays)


def _frame_number(name):
    numbers = re.findall(r"\d+", os.path.splitext(name)[0])
    return int(numbers[-1]) if numbers else None


def is_frame_name(name):
    """
    Whether a file in a folder of frames is a frame: an image extension, a number in the name, and not hidden (the
    temporary files of files.atomic_write, .tmp-..., are hidden: a write killed half way never becomes a frame).

    Arguments:
    name -- a file name

    Returns:
    frame -- bool
    """
    return (
        not name.startswith(".")
        and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
        and _frame_number(name) is not None
    )


def _folder_clip(folder, fps):
    names = [name for name in os.listdir(folder) if is_frame_name(name)]
    if not names:
        raise VideoError(
            f"content: {folder} holds no numbered frames (such as 0001.png); give a video or such a folder"
        )
    names.sort(key=lambda name: (_frame_number(name), name))
    paths = [os.path.join(folder, name) for name in names]
    sizes = {}
    limit = max_image_pixels()
    for path in paths:
        try:
            size = declared_size(path, limit)  # from the header: a huge frame is refused before it is decoded
        except ImageError as error:
            if "pixels an input image may have" in str(error):
                raise VideoError(f"content: {error}") from None
            raise VideoError(f"content: {path} is not a readable image; remove it from {folder}") from None
        sizes.setdefault(size, path)
        if len(sizes) > 1:
            (first, first_path), (other, other_path) = sizes.items()
            raise VideoError(
                f"content: frames of different sizes in {folder} ({os.path.basename(first_path)} is "
                f"{first[0]}x{first[1]}, {os.path.basename(other_path)} {other[0]}x{other[1]}); give frames of one size"
            )
    (width, height) = next(iter(sizes))
    return Clip(folder, float(fps or DEFAULT_FPS), len(paths), (height, width), paths=paths)


def _video_clip(path):
    extension = os.path.splitext(path)[1].lower()
    if extension in IMAGE_EXTENSIONS and extension != ".gif":
        raise VideoError(f"content: {path} is a still image, not a video; the main job `neural-style` stylises it")
    if os.path.getsize(path) == 0:
        raise VideoError(f"content: {path} is an empty file; give a video with at least one frame")
    check_declared_size(path)
    try:
        reader = imageio_ffmpeg.read_frames(path)
        meta = next(reader)
        reader.close()
        count = imageio_ffmpeg.count_frames_and_secs(path)[0]
    except (OSError, RuntimeError, StopIteration) as error:
        if "Stream #" in str(error) and "Video:" not in str(error):
            raise VideoError(f"content: {path} holds no video stream (audio only?); give a video") from None
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise VideoError(
            f"content: {path} is not a readable video ({reason}); give an mp4, mov, webm, mkv or gif file, "
            "or a folder of numbered frames"
        ) from None
    if not count:
        raise VideoError(f"content: {path} holds no frames; give a video with at least one frame")
    width, height = meta["size"]
    return Clip(path, float(meta["fps"]), count, (height, width), audio_codec=meta.get("audio_codec"))


def declared_video_size(path):
    """
    The frame size a video's container and stream headers declare, read by ffmpeg without decoding a frame.

    Arguments:
    path -- a video file

    Returns:
    size -- (width, height), or None when ffmpeg finds no video stream or no size (the reader then says why)
    """
    try:
        result = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path)],
            capture_output=True,
            timeout=PROBE_SECONDS,
            check=False,  # without an output ffmpeg always exits 1, after printing the streams
        )
    except subprocess.TimeoutExpired:
        raise VideoError(
            f"content: {path}: ffmpeg could not read its header within {PROBE_SECONDS} s; give another video"
        ) from None
    for line in result.stderr.decode(errors="replace").splitlines():
        if line.lstrip().startswith("Stream #") and " Video: " in line:
            match = re.search(r"[ ,](\d+)x(\d+)[ ,\[]", line.split(" Video: ", 1)[1] + " ")
            if match:
                return int(match.group(1)), int(match.group(2))
    return None


def check_declared_size(path, limit=None):
    """
    Refuses a video whose declared frame size is past the image pixel limit, before any frame is decoded (a tiny
    file may declare 16000x16000 frames, 768 MB each once decoded).

    Arguments:
    path -- a video file
    limit -- the largest width x height (default: limits.max_image_pixels(), as for an input image)

    Returns:
    size -- (width, height) as declared, or None; VideoError with one line when too large
    """
    limit = max_image_pixels() if limit is None else limit
    size = declared_video_size(path)
    if size is not None and size[0] * size[1] > limit:
        raise VideoError(
            f"content: {path} declares {size[0]}x{size[1]} frames ({size[0] * size[1]:,} pixels), more than the "
            f"{limit:,} pixels a frame may have; shrink the video first, or raise ${MAX_IMAGE_PIXELS_ENV}"
        )
    return size


def output_kind(path, inputs=()):
    """
    What an output path asks for, refusing before any work one that cannot be made or would overwrite an input.

    Arguments:
    path -- a video file (its extension one of VIDEO_CODECS) or a folder (an existing one, or a name without
            extension) for PNG frames
    inputs -- paths that must never be overwritten

    Returns:
    kind -- 'video' or 'folder'; raises OptionError
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    kind = "folder" if os.path.isdir(path) or not extension else "video"
    if kind == "video" and extension not in VIDEO_CODECS:
        raise OptionError(
            f"--output {path}: cannot write {extension} videos; use {', '.join(VIDEO_CODECS)}, or a folder (a name "
            "without extension) for PNG frames"
        )
    for source in inputs:
        if source is not None and isinstance(source, (str, os.PathLike)) and os.path.exists(source):
            if os.path.exists(path) and os.path.samefile(path, source):
                raise OptionError(
                    f"--output {path} is also an input; choose another output (inputs are never overwritten)"
                )
    return kind


def audio_codec_for(extension, source_codec):
    """
    How the source's audio goes into an output container: copied when the container takes it, else re-encoded.

    Arguments:
    extension -- the output's extension, e.g. '.mp4'
    source_codec -- the source's audio codec as ffmpeg names it (e.g. 'aac'), or None

    Returns:
    codec -- 'copy', an encoder's name, or None for no audio (none in the source, or a GIF)
    """
    if source_codec is None or extension not in AUDIO_CODECS:
        return None
    allowed = AUDIO_CODECS[extension]
    if any(source_codec.startswith(name) for name in allowed):
        return "copy"
    return AUDIO_ENCODERS[allowed[0]]


def write_video(path, frames, fps, audio_source=None, audio_codec=None):
    """
    Writes frames into a video file (atomically: it appears only once complete) or, one PNG each, into a folder.

    Arguments:
    path -- a video file (an extension of VIDEO_CODECS) or a folder, as output_kind accepts
    frames -- iterable of uint8 arrays (H, W, 3), all of one size
    fps -- frames per second
    audio_source -- None, or a video whose audio goes into the output (copied when the container takes it)
    audio_codec -- that video's audio codec (Clip.audio_codec)

    Returns:
    count -- the number of frames written
    """
    path = os.fspath(path)
    if output_kind(path) == "folder":
        count = 0
        for count, frame in enumerate(frames, 1):
            write_image(os.path.join(path, FRAME_NAME.format(count - 1)), frame)
        return count
    extension = os.path.splitext(path)[1].lower()
    codec = VIDEO_CODECS[extension]
    audio = audio_codec_for(extension, audio_codec) if audio_source else None
    gif = codec == "gif"
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    with atomic_write(path) as temporary:
        writer = imageio_ffmpeg.write_frames(
            temporary,
            (width, height),
            fps=fps,
            codec=codec,
            pix_fmt_out="rgb8" if gif else "yuv420p",
            # H.264 and VP9 in yuv420p need even sides: ffmpeg scales odd ones up by a pixel.
            macro_block_size=1 if gif else 2,
            quality=None if gif else 8,
            ffmpeg_log_level="error",
            audio_path=audio_source if audio else None,
            audio_codec=audio,
            output_params=["-shortest"] if audio else None,
        )
        writer.send(None)
        count = 0
        try:
            for count, frame in enumerate(itertools.chain([first], frames), 1):
                writer.send(np.ascontiguousarray(frame))
        finally:
            writer.close()
        if os.path.getsize(temporary) == 0:
            # ffmpeg may end without an error yet write nothing (e.g. at a rate it cannot express): never an empty
            # file in place of the video.
            raise VideoError(f"--output {path}: ffmpeg wrote an empty file at {fps:g} fps; nothing was written")
    return count
