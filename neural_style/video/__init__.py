"""Temporally consistent video style transfer (Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR
2016): optical flow between consecutive frames, a reliability mask, each frame started from the previous stylised
frame warped by the flow, and a temporal cost that keeps it close to that frame where the motion is reliable."""

from .motion import (
    FLOW_METHODS,
    flow_pair,
    optical_flow,
    reliability_mask,
    temporal_cost,
    temporal_error,
    warp_image,
)

__all__ = [
    "FLOW_METHODS",
    "flow_pair",
    "optical_flow",
    "reliability_mask",
    "temporal_cost",
    "temporal_error",
    "warp_image",
]
