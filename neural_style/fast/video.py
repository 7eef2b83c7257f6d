"""A clip through a trained network: one forward pass a frame, and optionally the previous stylised frame, warped by
the optical flow, blended in where the motion is reliable (the project's flow and Ruder et al.'s reliability mask,
neural_style.video.motion), which lowers flicker without any optimisation."""

import numpy as np

from ..checks import check_number
from ..video.motion import flow_pair, reliability_mask, warp_image
from .apply import fit_style_weights, stylize_picture


def blend_previous(stylised, previous_stylised, previous_frame, frame, weight, flow="dis"):
    """
    A stylised frame with the previous stylised frame blended in along the motion.

    Arguments:
    stylised -- float32 (H, W, 3): this frame through the network
    previous_stylised -- float32 (H, W, 3): the previous frame's result
    previous_frame, frame -- the two content frames (H, W, 3) in 0..255, for the flow
    weight -- the blend, 0..1: out = (1 - weight c) stylised + weight c warped, c the reliability mask
    flow -- the optical flow method (options.FLOW_METHODS)

    Returns:
    blended -- float32 (H, W, 3)
    """
    forward, backward = flow_pair(previous_frame, frame, flow)
    mask = (weight * reliability_mask(forward, backward))[..., None]
    warped = warp_image(previous_stylised, backward)
    return ((1 - mask) * stylised + mask * warped).astype(np.float32)


def stylize_frames(
    model, frames, temporal_blend=0.0, flow="dis", tile_size=0, max_memory=None, style_weights=None, precision="float32"
):
    """
    Stylises frames one by one, each in one forward pass (in tiles when it would not fit in memory).

    Arguments:
    model -- a TransformNet
    frames -- iterable of RGB frames (H, W, 3) in 0..255
    temporal_blend -- 0 (off) .. 1: how much of the previous result, warped, replaces this one where motion is reliable
    flow -- the optical flow method
    tile_size, max_memory -- as for apply.stylize_picture
    style_weights -- as for apply.stylize_picture (style_choice.style_weights: the styles of --style-index, --mix or
                     --style-masks); masks are resized to the frames' size once; or a function of each frame's
                     pixels giving them (a painting's style vector, cli.networks.choose)
    precision -- 'float32' or 'bfloat16', as for apply.stylize_picture (resolved once: apply.check_precision)

    Returns:
    stylised -- iterator of uint8 frames (H, W, 3)
    """
    check_number(temporal_blend, "temporal_blend", minimum=0, maximum=1, note=" (0 = off)")
    previous = None
    fitted = style_weights
    for frame in frames:
        frame = np.asarray(frame, np.float32)
        if callable(style_weights):
            # A painting's style (the arbitrary-style network): it may take the frame's own style vector.
            fitted = style_weights(frame)
        elif style_weights is not None and np.ndim(fitted) == 3 and np.shape(fitted)[:2] != frame.shape[:2]:
            # The clip's frames share one size: the masks resized once (the apply would otherwise do it each frame).
            fitted = fit_style_weights(style_weights, *frame.shape[:2])
        result = stylize_picture(model, frame, tile_size, max_memory, fitted, precision=precision)
        if temporal_blend and previous is not None:
            result = blend_previous(result, previous[1], previous[0], frame, temporal_blend, flow)
        previous = (frame, result)
        yield np.clip(np.rint(result), 0, 255).astype(np.uint8)
