"""Temporally consistent video style transfer (Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR
2016): optical flow between consecutive frames, a reliability mask, each frame started from the previous stylised
frame warped by the flow, and a temporal cost that keeps it close to that frame where the motion is reliable."""

from .frames import Clip, VideoError, open_clip, write_video
from .motion import (
    FLOW_METHODS,
    flow_pair,
    optical_flow,
    reliability_mask,
    temporal_cost,
    temporal_error,
    warp_image,
)
from .transfer import FrameStyleTransfer, TemporalCost, stylize_video

__all__ = [
    "stylize_video",
    "TemporalCost",
    "FrameStyleTransfer",
    "Clip",
    "VideoError",
    "open_clip",
    "write_video",
    "FLOW_METHODS",
    "flow_pair",
    "optical_flow",
    "reliability_mask",
    "temporal_cost",
    "temporal_error",
    "warp_image",
]
