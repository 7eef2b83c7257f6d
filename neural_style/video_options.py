"""The video job's own settings, checked by ``VideoOptions.validate``; every StyleOptions field applies to
each frame as well.

Kept apart from ``neural_style.video`` so that reading them imports neither OpenCV nor TensorFlow;
``neural_style.options`` re-exports every name here.
"""

import dataclasses

from . import config
from .checks import check_choice, check_number, check_positive_int

# How frames after the first start: the previous stylised frame warped by the flow (Ruder et al.), the content frame,
# or the main job's --init (the article's noise by default), as independent per-frame runs do.
VIDEO_INITS = ("warped", "content", "noise")
# OpenCV's dense flow methods (neural_style.video.motion maps them to OpenCV calls).
FLOW_METHODS = ("dis", "dis-fast", "dis-ultrafast", "farneback")
# The temporal cost's default weight: Ruder et al. weigh their temporal term (a mean over the pixel values) 200 times
# their content term (a mean over the layer's values, alpha = 1). The course's content term is alpha / 4 times such
# a mean, so the same balance here is 200 * alpha / 4 = 500 for the article's alpha = 10.
TEMPORAL_WEIGHT = 200 * config.ALPHA / 4
# The frame rates a written video may have. Below about 1e-4 frames per second ffmpeg (imageio-ffmpeg 0.8's, measured)
# writes an empty mp4 without an error; 1/1000 (a frame every 16 minutes) keeps a factor of 10 from that, and 1000
# is past any camera's or player's rate.
FPS_RANGE = (0.001, 1000.0)


@dataclasses.dataclass
class VideoOptions:
    """The settings of a video style transfer beyond those of each frame (StyleOptions); `validate` checks them."""

    temporal_weight: float = TEMPORAL_WEIGHT
    video_init: str = "warped"
    first_iterations: int = None  # None: the same as the later frames' iterations
    flow: str = "dis"
    fps: float = None  # a folder of frames has no rate of its own; None: 25

    @classmethod
    def flags(cls) -> dict[str, str]:
        """Each field's command-line flag by parameter name: {'temporal_weight': '--temporal-weight', ...}."""
        names = [field.name for field in dataclasses.fields(cls)] + ["work_dir"]  # stylize_video's own argument
        return {name: "--" + name.replace("_", "-") for name in names}

    def validate(self) -> "VideoOptions":
        """
        Checks every video option.

        Returns:
        self -- unchanged; raises OptionError naming the first option whose value cannot work
        """
        check_number(self.temporal_weight, "temporal_weight", minimum=0, note=" (0 = off)")
        check_choice(self.video_init, VIDEO_INITS, "video_init")
        if self.first_iterations is not None:
            check_positive_int(self.first_iterations, "first_iterations")
        check_choice(self.flow, FLOW_METHODS, "flow")
        if self.fps is not None:
            minimum, maximum = FPS_RANGE
            check_number(self.fps, "fps", minimum=minimum, maximum=maximum, what="a number of frames per second")
        return self
