"""Temporally consistent video style transfer (Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR
2016): optical flow between consecutive frames, a reliability mask, each frame started from the previous stylised
frame warped by the flow, and a temporal cost that keeps it close to that frame where the motion is reliable."""

from .._lazy import lazy_exports, public_names

# The public names by the module that defines them, loaded when first used (the command checks its inputs and the
# work folder with frames and work before TensorFlow is loaded).
_EXPORTS = {
    "frames": ("Clip", "VideoError", "open_clip", "write_video"),
    "motion": ("FLOW_METHODS", "flow_pair", "optical_flow", "reliability_mask", "temporal_error", "warp_image"),
    "transfer": ("FrameStyleTransfer", "TemporalCost", "stylize_video", "temporal_cost"),
}

__all__ = public_names(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
