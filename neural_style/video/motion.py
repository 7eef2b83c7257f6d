"""Motion between frames, as Ruder, Dosovitskiy & Brox use it ("Artistic style transfer for videos", GCPR 2016).

Conventions: an image is (H, W, C); a flow is (H, W, 2) float32 holding (u, v) = (x, y) displacements in pixels, as
OpenCV returns it. The flow w from `first` to `second` says where each pixel of `first` went:
first(x) ~ second(x + w(x)). So `warp_image(second, w)` looks like `first`; in particular the previous stylised frame
warped by the backward flow (from frame i to frame i-1) is frame i's temporal target.
"""

import cv2
import numpy as np

from ..options import FLOW_METHODS

# OpenCV's dense optical flow methods in the headless wheel: DIS at its three presets, and Farneback.
DIS_PRESETS = {
    "dis": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    "dis-fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "dis-ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
}

# The thresholds of Ruder et al. 2016, section 3.2 (and their consistencyChecker): a pixel is a disocclusion where
# |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5, and on a motion boundary where |grad u^|^2 + |grad v^|^2 >
# 0.01 |w^|^2 + 0.002.
CONSISTENCY_FACTOR, CONSISTENCY_OFFSET = 0.01, 0.5
BOUNDARY_FACTOR, BOUNDARY_OFFSET = 0.01, 0.002


def _grey(image):
    """An RGB image (any range up to 255) as the 8-bit grey image OpenCV's flow methods take."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def optical_flow(first, second, method="dis"):
    """
    The dense optical flow from one frame to the next, with OpenCV.

    Arguments:
    first, second -- RGB (H, W, 3) or grey (H, W) frames of one size, values in [0, 255]
    method -- one of FLOW_METHODS: 'dis' (DIS, medium preset; Kroeger et al. 2016), 'dis-fast', 'dis-ultrafast',
              or 'farneback' (Farneback 2003)

    Returns:
    flow -- float32 array (H, W, 2), (u, v) per pixel, with first(x) ~ second(x + flow(x))
    """
    if method not in FLOW_METHODS:
        raise ValueError(f"flow method must be one of {', '.join(FLOW_METHODS)}, got {method!r}")
    first, second = _grey(first), _grey(second)
    if method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    else:
        flow = cv2.DISOpticalFlow_create(DIS_PRESETS[method]).calc(first, second, None)
    return flow.astype(np.float32)


def flow_pair(first, second, method="dis"):
    """
    The flow between two consecutive frames in both directions.

    Arguments:
    first, second -- frames i-1 and i, as for optical_flow
    method -- as for optical_flow

    Returns:
    forward -- flow from frame i-1 to frame i, (H, W, 2)
    backward -- flow from frame i to frame i-1, (H, W, 2)
    """
    return optical_flow(first, second, method), optical_flow(second, first, method)


def warp_image(image, flow):
    """
    Warps an image by a flow, bilinearly: out(x) = image(x + flow(x)); positions outside take the nearest edge pixel.

    Arguments:
    image -- array (H, W) or (H, W, C)
    flow -- float array (H, W, 2) of (u, v) displacements

    Returns:
    warped -- float32 array of the image's shape
    """
    height, width = flow.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x, map_y = x + flow[..., 0], y + flow[..., 1]
    image = np.ascontiguousarray(image, dtype=np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliability_mask(forward, backward):
    """
    Where the motion into frame i is reliable: Ruder et al.'s per-pixel weights c (section 3.2).

    On frame i's grid, with w^ = `backward` (frame i to i-1) and w~(x) = forward(x + w^(x)) (the forward flow read at
    the pixel's place in frame i-1), a pixel is unreliable (c = 0) when it is
    - disoccluded: |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5 (the two flows do not undo each other);
    - on a motion boundary: |grad u^|^2 + |grad v^|^2 > 0.01 |w^|^2 + 0.002 (gradients by central differences);
    - coming from outside frame i-1 (x + w^(x) off the image), as in the authors' consistency checker;
    and reliable (c = 1) otherwise.

    Arguments:
    forward -- flow from frame i-1 to frame i, (H, W, 2)
    backward -- flow from frame i to frame i-1, (H, W, 2)

    Returns:
    mask -- float32 array (H, W) of 0 and 1
    """
    backward = np.asarray(backward, dtype=np.float64)
    warped_forward = warp_image(forward, backward.astype(np.float32)).astype(np.float64)
    sum_squared = np.sum((warped_forward + backward) ** 2, axis=-1)
    magnitudes = np.sum(warped_forward**2, axis=-1) + np.sum(backward**2, axis=-1)
    disoccluded = sum_squared > CONSISTENCY_FACTOR * magnitudes + CONSISTENCY_OFFSET
    du_dy, du_dx = np.gradient(backward[..., 0])
    dv_dy, dv_dx = np.gradient(backward[..., 1])
    gradient = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    boundary = gradient > BOUNDARY_FACTOR * np.sum(backward**2, axis=-1) + BOUNDARY_OFFSET
    height, width = backward.shape[:2]
    y, x = np.mgrid[0:height, 0:width]
    source_x, source_y = x + backward[..., 0], y + backward[..., 1]
    outside = (source_x < 0) | (source_x > width - 1) | (source_y < 0) | (source_y > height - 1)
    return (~(disoccluded | boundary | outside)).astype(np.float32)


def temporal_error(frames, backward_flows, masks):
    """
    Ruder et al.'s measure of flicker: the mean squared difference between each stylised frame and the previous one
    warped by the true motion, over the reliable pixels, averaged over the frames after the first.

    Arguments:
    frames -- sequence of N stylised frames (H, W, C), values in [0, 255]
    backward_flows -- N - 1 flows (H, W, 2); backward_flows[i - 1] goes from frame i to frame i-1 (the true motion)
    masks -- N - 1 arrays (H, W) of 0/1 weights: the pixels of frame i whose motion is reliable (e.g. not disoccluded)

    Returns:
    error -- float, in squared grey levels
    """
    if len(frames) < 2 or len(backward_flows) != len(frames) - 1 or len(masks) != len(frames) - 1:
        raise ValueError(
            f"need N >= 2 frames and N - 1 flows and masks; got {len(frames)}, {len(backward_flows)}, {len(masks)}"
        )
    errors = []
    for previous, frame, flow, mask in zip(frames[:-1], frames[1:], backward_flows, masks):
        warped = warp_image(previous, np.asarray(flow, np.float32)).astype(np.float64)
        squared = (np.asarray(frame, np.float64) - warped) ** 2
        weights = np.asarray(mask, np.float64)[..., None] * np.ones(squared.shape[-1])
        errors.append(np.sum(weights * squared) / max(np.sum(weights), 1.0))
    return float(np.mean(errors))
