"""The motion functions of neural_style.video: flow, warping, Ruder et al.'s reliability mask, the temporal
cost and the temporal error, each against plain numpy on images whose motion is known."""

import numpy as np
import pytest
import tensorflow as tf

from neural_style.video import flow_pair, optical_flow, reliability_mask, temporal_cost, temporal_error, warp_image

HEIGHT, WIDTH = 48, 64


def texture(height=HEIGHT + 16, width=WIDTH + 16, seed=0):
    """A smooth random texture (sums of sines), RGB in [0, 255]: enough structure everywhere for the flow."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.zeros((height, width, 3))
    for _ in range(12):
        fy, fx = rng.uniform(0.05, 0.35, 2)
        phase, channel = rng.uniform(0, 2 * np.pi), rng.integers(3)
        image[..., channel] += np.sin(fy * y + fx * x + phase) * rng.uniform(10, 30)
    return np.clip(128 + image, 0, 255)


def crop(image, dy, dx):
    """The HEIGHT x WIDTH window of `image` at offset (8 + dy, 8 + dx): the scene moved by (-dx, -dy)."""
    return image[8 + dy : 8 + dy + HEIGHT, 8 + dx : 8 + dx + WIDTH]


def bilinear(image, y, x):
    """Plain-numpy bilinear sampling with the edge pixel repeated outside (the reference for warp_image)."""
    height, width = image.shape[:2]
    y, x = np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)
    y0, x0 = np.minimum(np.floor(y).astype(int), height - 2), np.minimum(np.floor(x).astype(int), width - 2)
    fy, fx = (y - y0)[..., None], (x - x0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_optical_flow_finds_a_known_shift(method):
    scene = texture()
    first, second = crop(scene, 0, 0), crop(scene, 2, 3)  # the scene moves 3 px left and 2 px up
    forward, backward = flow_pair(first, second, method)
    inner = (slice(8, -8), slice(8, -8))
    assert np.median(forward[inner][..., 0]) == pytest.approx(-3, abs=0.25)
    assert np.median(forward[inner][..., 1]) == pytest.approx(-2, abs=0.25)
    assert np.median(backward[inner][..., 0]) == pytest.approx(3, abs=0.25)
    assert np.median(backward[inner][..., 1]) == pytest.approx(2, abs=0.25)


def test_optical_flow_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="farneback"):
        optical_flow(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), "tvl1")


def test_warp_image_is_bilinear_sampling_at_x_plus_flow():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (HEIGHT, WIDTH, 3))
    flow = rng.uniform(-4, 4, (HEIGHT, WIDTH, 2)).astype(np.float32)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    expected = bilinear(image, y + flow[..., 1], x + flow[..., 0])
    np.testing.assert_allclose(warp_image(image, flow), expected, atol=0.05)


def test_warp_by_the_backward_flow_brings_the_previous_frame_into_the_next():
    scene = texture()
    previous, current = crop(scene, 0, 0), crop(scene, 0, 2)
    backward = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    backward[..., 0] = 2  # current(x) = previous(x + 2)
    warped = warp_image(previous, backward)
    np.testing.assert_allclose(warped[:, : WIDTH - 2], current[:, : WIDTH - 2], atol=1e-3)


def reference_mask(forward, backward):
    """Ruder et al.'s check written out pixel by pixel for integer flows (no interpolation needed)."""
    height, width = backward.shape[:2]
    du_dy, du_dx = np.gradient(backward[..., 0].astype(np.float64))
    dv_dy, dv_dx = np.gradient(backward[..., 1].astype(np.float64))
    mask = np.ones((height, width))
    for y in range(height):
        for x in range(width):
            w_hat = backward[y, x].astype(np.float64)
            source_x, source_y = x + int(w_hat[0]), y + int(w_hat[1])
            if not (0 <= source_x < width and 0 <= source_y < height):
                mask[y, x] = 0
                continue
            w_tilde = forward[source_y, source_x].astype(np.float64)
            disoccluded = np.sum((w_tilde + w_hat) ** 2) > 0.01 * (np.sum(w_tilde**2) + np.sum(w_hat**2)) + 0.5
            gradient = du_dx[y, x] ** 2 + du_dy[y, x] ** 2 + dv_dx[y, x] ** 2 + dv_dy[y, x] ** 2
            boundary = gradient > 0.01 * np.sum(w_hat**2) + 0.002
            if disoccluded or boundary:
                mask[y, x] = 0
    return mask


def test_reliability_mask_of_a_pan_drops_only_what_enters_the_frame():
    forward = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    forward[..., 0] = -2
    mask = reliability_mask(forward, -forward)
    expected = np.ones((HEIGHT, WIDTH))
    expected[:, WIDTH - 2 :] = 0  # their source, x + 2, lies outside the previous frame
    np.testing.assert_array_equal(mask, expected)


def test_reliability_mask_marks_disocclusions_and_motion_boundaries():
    # A square moves 4 px right over a still background: columns 10-13 of the new frame are uncovered background.
    forward = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    backward = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    forward[12:30, 10:20, 0] = 4
    backward[12:30, 14:24, 0] = -4
    mask = reliability_mask(forward, backward)
    np.testing.assert_array_equal(mask, reference_mask(forward, backward))
    assert not mask[14:28, 10:13].any()  # disoccluded
    assert mask[14:28, 16:22].all() and mask[:, 30:].all() and mask[:10].all()


def test_temporal_cost_is_the_masked_mean_over_all_values():
    rng = np.random.default_rng(2)
    generated = rng.normal(0, 50, (1, HEIGHT, WIDTH, 3))
    target = rng.normal(0, 50, (1, HEIGHT, WIDTH, 3))
    mask = (rng.uniform(size=(HEIGHT, WIDTH)) > 0.3).astype(np.float32)
    expected = np.sum(mask[None, :, :, None] * (generated - target) ** 2) / generated.size
    J_temporal = temporal_cost(tf.constant(generated, tf.float32), target, mask)
    assert float(J_temporal) == pytest.approx(expected, rel=1e-5)


def test_temporal_error_with_known_motion():
    # Stylised frames of a scene panning 3 px a frame to the left, with noise of known size added to each frame:
    # over the reliable pixels, frame i minus frame i-1 warped is the difference of two noises.
    rng = np.random.default_rng(3)
    scene = texture(HEIGHT, WIDTH + 3 * 5)
    frames = [scene[:, 3 * k : 3 * k + WIDTH] + rng.normal(0, 4, (HEIGHT, WIDTH, 3)) for k in range(5)]
    flows, masks = [], []
    for _ in frames[1:]:
        flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
        flow[..., 0] = 3
        mask = np.ones((HEIGHT, WIDTH))
        mask[:, WIDTH - 3 :] = 0
        flows.append(flow)
        masks.append(mask)
    expected = np.mean([np.mean((b[:, : WIDTH - 3] - a[:, 3:]) ** 2) for a, b in zip(frames[:-1], frames[1:])])
    assert temporal_error(frames, flows, masks) == pytest.approx(expected, rel=1e-4)
    assert expected == pytest.approx(2 * 4**2, rel=0.15)  # two independent noises of variance 16


def test_temporal_error_needs_one_flow_per_pair():
    with pytest.raises(ValueError, match="N - 1"):
        temporal_error([np.zeros((4, 4, 3))] * 3, [np.zeros((4, 4, 2))], [np.ones((4, 4))])
