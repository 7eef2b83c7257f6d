"""A clip through the fast network: one pass a frame, and the previous result blended in along the motion, which
lowers the temporal error (the project's measure) on a pan of known motion."""

import numpy as np
import pytest

from neural_style.checks import OptionError
from neural_style.fast.apply import stylize_picture
from neural_style.fast.network import build_transform_net
from neural_style.fast.video import stylize_frames
from neural_style.video import temporal_error
from tests.test_video_motion import HEIGHT, WIDTH, crop, texture

SHIFT = 3  # pixels a frame: the scene pans left


@pytest.fixture(scope="module")
def net():
    model = build_transform_net(seed=5)
    model.output_conv.kernel.assign(model.output_conv.kernel * 20)  # outputs spread over the grey levels
    return model


def _pan(count=4):
    scene = texture(HEIGHT + 16, WIDTH + 16 + SHIFT * count)
    return [crop(scene, 0, SHIFT * i) for i in range(count)]


def _true_motion(count):
    # Frame i at x shows what frame i - 1 showed at x + SHIFT: the backward flow is (SHIFT, 0) everywhere, reliable
    # except where that falls outside frame i - 1 (the last SHIFT columns).
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0] = SHIFT
    mask = np.ones((HEIGHT, WIDTH), np.float32)
    mask[:, WIDTH - SHIFT :] = 0
    return [flow] * (count - 1), [mask] * (count - 1)


def test_frames_are_one_pass_each(net):
    frames = _pan(3)
    stylised = list(stylize_frames(net, frames))
    for frame, result in zip(frames, stylised):
        np.testing.assert_array_equal(result, np.rint(stylize_picture(net, frame)).astype(np.uint8))


def test_blending_lowers_the_temporal_error_on_a_known_pan(net):
    frames = _pan(4)
    flows, masks = _true_motion(4)
    alone = [frame.astype(np.float32) for frame in stylize_frames(net, frames)]
    blended = [frame.astype(np.float32) for frame in stylize_frames(net, frames, temporal_blend=0.5)]
    np.testing.assert_array_equal(alone[0], blended[0])  # the first frame has nothing to blend
    error_alone, error_blended = temporal_error(alone, flows, masks), temporal_error(blended, flows, masks)
    # The network alone flickers (its normalisation statistics change as the scene moves); each blended frame is half
    # the previous one warped, so its error is at most about a quarter of that, plus the flow's own errors.
    assert error_alone > 1
    assert error_blended < 0.6 * error_alone


def test_blend_weight_is_checked(net):
    with pytest.raises(OptionError, match="temporal_blend must be"):
        next(stylize_frames(net, _pan(2), temporal_blend=1.5))


def test_video_command_with_a_model(net, tmp_path):
    import imageio.v3 as iio

    from neural_style.cli import main

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, frame in enumerate(_pan(3)):
        iio.imwrite(frames / f"{i:04d}.png", np.rint(frame).astype(np.uint8))
    model = tmp_path / "m.keras"
    net.save(model)
    out = tmp_path / "out"
    argv = ["video", "--model", str(model), "--content", str(frames), "--output", str(out), "--temporal-blend", "0.5"]
    assert main([*argv, "--quiet"]) == 0
    written = sorted(out.iterdir())
    assert len(written) == 3
    expected = list(stylize_frames(net, [np.rint(frame) for frame in _pan(3)], temporal_blend=0.5))
    # The frames were read back from 8-bit PNGs, as the arrays above were rounded: the same pictures.
    np.testing.assert_array_equal(iio.imread(written[2]), expected[2])
    assert (
        main(["video", "--model", str(model), "--content", str(frames), "--output", str(out), "--temporal-blend", "2"])
        == 2
    )


def test_video_command_takes_the_tiles_of_apply(net, tmp_path, monkeypatch):
    import imageio.v3 as iio

    import neural_style.fast.video as fast_video
    from neural_style.cli import main

    frames = tmp_path / "frames"
    frames.mkdir()
    pictures = [np.rint(frame) for frame in _pan(2)]
    for i, frame in enumerate(pictures):
        iio.imwrite(frames / f"{i:04d}.png", frame.astype(np.uint8))
    model = tmp_path / "m.keras"
    net.save(model)
    asked = []

    def recording(model, picture, tile_size=0, max_memory=None, style_weights=None, precision="float32"):
        asked.append((tile_size, max_memory))
        return stylize_picture(model, picture, tile_size, max_memory, style_weights, precision)

    monkeypatch.setattr(fast_video, "stylize_picture", recording)
    out = tmp_path / "out"
    argv = ["video", "--model", str(model), "--content", str(frames), "--output", str(out)]
    # 56: the smallest tile the commands allow (the network's margin); the 64-pixel-wide frames are still cut in two.
    assert main([*argv, "--tile-size", "56", "--max-memory", "1.5", "--quiet"]) == 0
    assert asked == [(56, 1.5)] * 2  # each frame through apply's tiles, with the options given
    written = sorted(out.iterdir())
    monkeypatch.undo()
    # The tiled frames are the whole frames' within one grey level (the tiles take the whole picture's statistics).
    for path, frame in zip(written, stylize_frames(net, pictures)):
        assert np.abs(iio.imread(path).astype(int) - frame.astype(int)).max() <= 1
    # Bad tiles or memory: one line, exit 2, nothing written.
    for bad in (["--tile-size", "-1"], ["--max-memory", "0"]):
        assert main([*argv[:-1], str(tmp_path / "bad"), *bad]) == 2
        assert not (tmp_path / "bad").exists()
