"""Video style transfer: the temporal cost in the optimisation, `neural-style video` end to end on clips with
known motion, resuming after an interruption, and the one-line errors for bad input.

Runs use random filters (width divided by 8), 32x48 frames and a few iterations per frame.
"""

import os

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from neural_style.cli import main
from neural_style.optimize import StyleTransferCost
from neural_style.options import TEMPORAL_WEIGHT, OptionError, VideoOptions
from neural_style.video import TemporalCost, open_clip, stylize_video, temporal_error, write_video
from neural_style.video import transfer as video_transfer
from neural_style.weights import random_vgg_weights
from tests.test_video_motion import texture
from tests.transfers import COST_ROUNDING

HEIGHT, WIDTH, SHIFT, FRAMES, FPS = 32, 48, 2, 12, 10
# Shallow layers keep each frame's compiled step small: the tests are about the frames, not the network's depth.
FAST = ["--content-layer", "conv3_1", "--style-layers", "conv1_1:0.3,conv2_1:0.3,conv3_1:0.4"]


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """Random filters at 1/8 width, as a .mat file the command line reads."""
    from tests.fixtures import write_vgg_mat

    path = tmp_path_factory.mktemp("weights") / "vgg.mat"
    write_vgg_mat(path, layout="current", width_divisor=8)
    return path


def pan_frames(count=FRAMES, seed=4):
    """A textured picture panning SHIFT pixels a frame to the left: frame k(x) = frame k-1(x + SHIFT)."""
    scene = texture(HEIGHT, WIDTH + SHIFT * count, seed=seed)
    return [np.rint(scene[:, SHIFT * k : SHIFT * k + WIDTH]).astype(np.uint8) for k in range(count)]


def pan_motion(count):
    """The true backward flows of pan_frames and their reliable pixels (those whose source is inside the frame)."""
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0] = SHIFT
    mask = np.ones((HEIGHT, WIDTH))
    mask[:, WIDTH - SHIFT :] = 0
    return [flow] * (count - 1), [mask] * (count - 1)


def write_frames(folder, frames):
    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(frames):
        iio.imwrite(folder / f"frame_{k + 1}.png", frame)
    return folder


def read_folder(folder):
    return [iio.imread(folder / name) for name in sorted(os.listdir(folder)) if name.endswith(".png")]


def test_temporal_cost_adds_the_weighted_masked_mean(small_model):
    rng = np.random.default_rng(0)
    content = rng.normal(0, 40, (1, 24, 32, 3)).astype(np.float32)
    generated = rng.normal(0, 40, (1, 24, 32, 3)).astype(np.float32)
    target = rng.normal(0, 40, (1, 24, 32, 3)).astype(np.float32)
    mask = (rng.uniform(size=(24, 32)) > 0.5).astype(np.float32)
    cost = StyleTransferCost(small_model, content, content)
    costs = TemporalCost(cost, target, mask, 7.0).terms(generated)
    J_temporal = np.mean(mask[None, :, :, None] * (generated.astype(np.float64) - target) ** 2)
    assert float(costs.J_temporal) == pytest.approx(J_temporal, rel=COST_ROUNDING)
    assert float(costs.J) == pytest.approx(float(cost(generated)[0]) + 7.0 * J_temporal, rel=COST_ROUNDING)


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_video_options_refuse_a_negative_or_non_finite_temporal_weight(weight):
    with pytest.raises(OptionError, match=r"temporal_weight must be a finite number >= 0 \(0 = off\)"):
        VideoOptions(temporal_weight=weight).validate()


def test_the_default_temporal_weight_is_ruder_et_al_s_balance_against_the_content_cost():
    # Theirs: temporal = 200 x content (both means); the course's alpha * J_content is alpha / 4 of a mean.
    assert TEMPORAL_WEIGHT == 200 * 10 / 4


def temporal_error_of(frames):
    flows, masks = pan_motion(len(frames))
    return temporal_error([frame.astype(np.float64) for frame in frames], flows, masks)


@pytest.mark.slow
def test_temporal_consistency_halves_the_flicker_and_keeps_frame_count_and_rate(
    tmp_path, weights_file, style_file, capsys
):
    clip = tmp_path / "pan.mp4"
    write_video(clip, pan_frames(), FPS)
    common = ["--style", str(style_file), "--weights", str(weights_file), "--seed", "0", "--quiet", *FAST]
    common += ["--iterations", "10", "--first-iterations", "20"]
    out = tmp_path / "out.mp4"
    assert main(["video", "--content", str(clip), "--output", str(out), *common]) == 0
    independent = tmp_path / "independent.mp4"
    args = ["--temporal-weight", "0", "--video-init", "noise"]
    assert main(["video", "--content", str(clip), "--output", str(independent), *common, *args]) == 0
    meta = next(imageio_ffmpeg.read_frames(str(out)))
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == FRAMES
    assert meta["fps"] == FPS and meta["size"] == (WIDTH, HEIGHT)
    # The error is measured on the lossless frames of the work folders, with the true motion of the pan.
    consistent = temporal_error_of(read_folder(tmp_path / "out.work" / "frames"))
    flickering = temporal_error_of(read_folder(tmp_path / "independent.work" / "frames"))
    assert consistent <= flickering / 2, (consistent, flickering)


@pytest.mark.slow
def test_an_interrupted_run_continues_with_the_missing_frames_only(tmp_path, weights_file, style_file, monkeypatch):
    frames = write_frames(tmp_path / "in", pan_frames(4))
    out = tmp_path / "out"
    args = ["video", "--content", str(frames), "--style", str(style_file), "--output", str(out)]
    args += ["--weights", str(weights_file), "--iterations", "3", "--quiet", *FAST]
    run = video_transfer.FrameStyleTransfer.run
    calls, interrupt = [], [True]

    def counted(self, *a, **k):
        calls.append(self)
        if len(calls) == 3 and interrupt[0]:
            raise KeyboardInterrupt  # as Ctrl-C during frame 2
        return run(self, *a, **k)

    monkeypatch.setattr(video_transfer.FrameStyleTransfer, "run", counted)
    assert main(args) == 130
    finished = sorted(os.listdir(tmp_path / "out.work" / "frames"))
    assert finished == ["00000.png", "00001.png"] and not out.exists()
    stamps = [os.stat(tmp_path / "out.work" / "frames" / name).st_mtime_ns for name in finished]
    flows = sorted(os.listdir(tmp_path / "out.work" / "flow"))
    assert flows == ["00001.npz", "00002.npz"]  # frame 2's flow was computed before the interruption

    calls.clear()
    interrupt[0] = False
    assert main(args) == 0
    assert len(calls) == 2  # frames 2 and 3 only
    assert [os.stat(tmp_path / "out.work" / "frames" / name).st_mtime_ns for name in finished] == stamps
    written = read_folder(out)
    assert len(written) == 4
    np.testing.assert_array_equal(written[0], iio.imread(tmp_path / "out.work" / "frames" / "00000.png"))


def test_stylize_video_yields_one_frame_per_input_frame_from_arrays():
    frames = pan_frames(2)
    weights = random_vgg_weights(seed=0, width_divisor=8)
    result = list(
        stylize_video(
            frames,
            frames[0],
            weights=weights,
            iterations=2,
            content_layer="conv2_1",
            style_layers=[("conv1_1", 1.0)],
        )
    )
    assert len(result) == 2 and all(frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8 for frame in result)


def test_a_work_folder_of_another_run_is_refused(tmp_path):
    frames = pan_frames(2)
    weights = random_vgg_weights(seed=0, width_divisor=8)
    options = dict(weights=weights, iterations=1, content_layer="conv2_1", style_layers=[("conv1_1", 1.0)])
    list(stylize_video(frames, frames[0], work_dir=tmp_path / "work", **options))
    with pytest.raises(OptionError, match="temporal-weight: 500.0 there, 3.0 here"):
        stylize_video(frames, frames[0], work_dir=tmp_path / "work", temporal_weight=3.0, **options)


def test_open_clip_reads_a_video_file_with_its_rate_and_count(tmp_path):
    frames = pan_frames(5)
    path = tmp_path / "clip.mp4"
    write_video(path, frames, 8)
    clip = open_clip(path)
    assert (clip.fps, clip.count, clip.size, clip.audio_codec) == (8.0, 5, (HEIGHT, WIDTH), None)
    decoded = list(clip.frames())
    assert len(decoded) == 5
    assert np.mean(np.abs(decoded[3].astype(float) - frames[3])) < 6  # H.264 at quality 8: close, not exact


def test_audio_is_copied_into_the_output(tmp_path):
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    source = tmp_path / "with_audio.mp4"
    command = f"{ffmpeg} -loglevel error -y -f lavfi -i testsrc=size=48x32:rate=10 -f lavfi -i sine=frequency=440 "
    assert os.system(command + f"-t 1 -c:v libx264 -pix_fmt yuv420p -c:a aac {source}") == 0
    clip = open_clip(source)
    assert clip.audio_codec.startswith("aac")
    out = tmp_path / "out.mov"
    write_video(out, clip.frames(), clip.fps, clip.source, clip.audio_codec)
    meta = next(imageio_ffmpeg.read_frames(str(out)))
    assert meta["audio_codec"].startswith("aac") and imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 10


def bad_input_cases(tmp_path):
    """(arguments, what the one line must say) for each kind of bad input."""
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    no_frames = tmp_path / "no_frames"
    no_frames.mkdir()
    (no_frames / "readme.txt").write_text("nothing here")
    mixed = write_frames(tmp_path / "mixed", pan_frames(2))
    iio.imwrite(mixed / "frame_3.png", np.zeros((HEIGHT + 2, WIDTH, 3), np.uint8))
    good = write_frames(tmp_path / "good", pan_frames(2))
    return [
        (["--content", str(not_video)], "is not a readable video"),
        (["--content", str(empty)], "is an empty file"),
        (["--content", str(no_frames)], "holds no numbered frames"),
        (["--content", str(mixed)], "frames of different sizes"),
        (["--content", str(good), "--output", str(tmp_path / "out.xyz")], "cannot write .xyz videos"),
        (["--content", str(good), "--temporal-weight", "-1"], "--temporal-weight must be a finite number >= 0"),
        (["--content", str(good), "--temporal-weight", "nan"], "--temporal-weight must be a finite number >= 0"),
        (["--content", str(good), "--output", str(good)], "is also an input"),
    ]


def test_bad_input_gets_one_line_and_exit_2_and_nothing_is_written(tmp_path, style_file, capsys):
    cases = bad_input_cases(tmp_path)
    before = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*")}
    for arguments, message in cases:
        if "--output" not in arguments:
            arguments = [*arguments, "--output", str(tmp_path / "out.mp4")]
        code = main(["video", *arguments, "--style", str(style_file), "--weights", "random", "--quiet"])
        err = capsys.readouterr().err
        assert code == 2, (arguments, err)
        assert err.count("\n") == 1 and message in err, (arguments, err)
    after = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*")}
    assert after == before  # no output, no work folder, every input untouched
