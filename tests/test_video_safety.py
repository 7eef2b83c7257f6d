"""The video job's work folders, outputs and readers under hostile or careless use: a work folder holds only what its
run made (a mark, an index of digests), temporary files of killed writes are ignored and cleaned, folders that are
not work folders and output folders that hold files are refused, every frame and video is held to the image pixel
limit from its header, rates and bit depths that cannot be written are refused, and SIGTERM/SIGHUP end a run with one
line, keeping its finished frames.

Runs use random filters (width divided by 8), 32x48 frames and one or two iterations per frame.
"""

import json
import os
import signal
import struct
import subprocess
import sys

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from neural_style.cli import main
from neural_style.options import OptionError
from neural_style.safety import Stopped
from neural_style.video import VideoError, open_clip, write_video
from neural_style.video import transfer as video_transfer
from neural_style.video.work import WorkFolder, check_work_folder
from tests.fixtures import checkout_environment, running, wait_until
from tests.hostile import png_declaring
from tests.test_video import FAST, HEIGHT, WIDTH, pan_frames, write_frames

SETTINGS = {"size": f"{HEIGHT}x{WIDTH}", "iterations": 1}


def run_video(capsys, content, output, style_file, *extra):
    """`neural-style video` at the tests' size: (exit code, stderr)."""
    args = ["video", "--content", str(content), "--output", str(output), "--style", str(style_file)]
    args += ["--weights", "random", "--iterations", "1", "--quiet", *FAST, *map(str, extra)]
    code = main(args)
    return code, capsys.readouterr().err


def one_line(code, err):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def snapshot(folder):
    return {str(path): path.stat().st_mtime_ns for path in folder.rglob("*")}


# ---------------------------------------------------------------------------------------------------------------------
# Work folders that are the run's own


def test_a_work_dir_holding_frames_it_did_not_make_is_refused_and_left_alone(tmp_path, style_file, capsys):
    # Before: frames/00001.png... of the content itself were taken as finished work (exit 0, the output the content
    # frames shifted by one) and frame 0 was written into the input folder.
    # Here the frames are copies; the content folder itself as work/frames is test_an_input_inside_the_work_dir.
    content = write_frames(tmp_path / "in", pan_frames(3))
    work = tmp_path / "work"
    frames = work / "frames"
    frames.mkdir(parents=True)
    for k, frame in enumerate(pan_frames(3), 1):
        iio.imwrite(frames / f"{k:05d}.png", frame)
    before = snapshot(tmp_path)
    code, err = run_video(capsys, content, tmp_path / "out.mp4", style_file, "--work-dir", work)
    line = one_line(code, err)
    assert f"--work-dir {work} is not a work folder of `neural-style video`" in line
    assert snapshot(tmp_path) == before and not (tmp_path / "out.mp4").exists()


def test_an_input_inside_the_work_dir_is_refused(tmp_path, style_file, capsys):
    # The reported case: the content frames themselves as the work folder's frames/.
    work = tmp_path / "work"
    content = write_frames(work / "frames", pan_frames(2))
    before = snapshot(tmp_path)
    code, err = run_video(capsys, content, tmp_path / "out.mp4", style_file, "--work-dir", work)
    assert f"--content {content} lies in --work-dir {work}" in one_line(code, err)
    assert snapshot(tmp_path) == before


def test_files_the_run_did_not_make_are_never_finished_frames(tmp_path):
    folder = WorkFolder(tmp_path / "work", SETTINGS)
    frame = pan_frames(1)[0]
    os.makedirs(folder.frame_path(0).rsplit(os.sep, 1)[0])
    iio.imwrite(folder.frame_path(0), frame)  # copied in by hand: not this run's
    assert folder.finished(0) is None
    folder.save_frame(0, frame)
    np.testing.assert_array_equal(folder.finished(0), frame)
    # Reopened with the same settings, the frame is still the run's; replaced behind its back, it is not.
    again = WorkFolder(tmp_path / "work", SETTINGS)
    np.testing.assert_array_equal(again.finished(0), frame)
    iio.imwrite(folder.frame_path(0), 255 - frame)
    assert WorkFolder(tmp_path / "work", SETTINGS).finished(0) is None


def test_a_cached_flow_not_made_by_the_run_is_computed_again(tmp_path):
    folder = WorkFolder(tmp_path / "work", SETTINGS)
    a, b = (frame.astype(np.float32) for frame in pan_frames(2))
    os.makedirs(tmp_path / "work" / "flow")
    planted = np.full((HEIGHT, WIDTH, 2), 7.0, np.float32)
    np.savez(tmp_path / "work" / "flow" / "00001.npz", forward=planted, backward=planted)
    forward, backward = folder.flows(1, a, b, "dis")
    # The pan moves 2 pixels a frame: the computed flow is near 2 pixels (not the planted 7) over most of the frame.
    assert np.median(np.abs(backward[..., 0])) < 4 and not np.array_equal(backward, planted)
    again, _ = WorkFolder(tmp_path / "work", SETTINGS).flows(1, a, b, "dis")
    np.testing.assert_array_equal(again, forward)  # now the run's own: read back as written


def test_temporary_files_of_killed_writes_are_ignored_and_cleaned(tmp_path):
    # Before: a leftover .tmp-*.png in frames/ was read as a frame (its name holds a number), or failed every rerun.
    folder = WorkFolder(tmp_path / "work", SETTINGS)
    frames = pan_frames(2)
    folder.save_frame(0, frames[0])
    folder.save_frame(1, frames[1])
    (tmp_path / "work" / "frames" / ".tmp-k3x9_1.png").write_bytes(b"\x89PNG\r\n\x1a\n half")  # a killed write
    (tmp_path / "work" / ".tmp-2ab.json").write_text("{")
    clip = open_clip(tmp_path / "work" / "frames")
    assert clip.count == 2 and [os.path.basename(path) for path in clip.paths] == ["00000.png", "00001.png"]
    WorkFolder(tmp_path / "work", SETTINGS)
    assert sorted(os.listdir(tmp_path / "work")) == ["frames", "index.json", "settings.json"]
    assert sorted(os.listdir(tmp_path / "work" / "frames")) == ["00000.png", "00001.png"]


@pytest.mark.parametrize(
    "body, says",
    [
        (b'{"work folder of": "neural-style video", "size": ', "settings.json is damaged"),
        (b"\xff\xfe\x00garbage", "settings.json is damaged"),
        (b'["not", "a", "dict"]', "has no mark of a video run"),
        (b'{"size": "32x48"}', "has no mark of a video run"),
    ],
)
def test_a_damaged_or_foreign_settings_file_is_one_line(tmp_path, style_file, capsys, body, says):
    # Before: a damaged settings.json was a traceback (exit 1).
    work = tmp_path / "out.work"
    work.mkdir()
    (work / "settings.json").write_bytes(body)
    content = write_frames(tmp_path / "in", pan_frames(2))
    code, err = run_video(capsys, content, tmp_path / "out.mp4", style_file)
    assert says in one_line(code, err)
    with pytest.raises(OptionError, match=says):
        check_work_folder(work)


def test_an_existing_output_folder_is_refused_unless_empty_or_forced(tmp_path, style_file, capsys):
    # Before: an existing folder as --output got some frames replaced and others mixed in.
    content = write_frames(tmp_path / "in", pan_frames(2))
    output = tmp_path / "out"
    output.mkdir()
    (output / "00005.png").write_bytes(b"someone's picture")
    code, err = run_video(capsys, content, output, style_file)
    assert f"--output {output} is a folder that already holds files" in one_line(code, err)
    assert sorted(os.listdir(output)) == ["00005.png"] and not (tmp_path / "out.work").exists()
    code, err = run_video(capsys, content, output, style_file, "--force")
    assert code == 0, err
    assert sorted(os.listdir(output)) == ["00000.png", "00001.png", "00005.png"]
    assert (output / "00005.png").read_bytes() == b"someone's picture"
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run_video(capsys, content, empty, style_file)
    assert code == 0 and sorted(os.listdir(empty)) == ["00000.png", "00001.png"]
    # The frames are the work folder's (lossless PNG both).
    np.testing.assert_array_equal(iio.imread(empty / "00001.png"), iio.imread(tmp_path / "empty.work/frames/00001.png"))


def test_output_and_work_folders_that_overlap_are_refused(tmp_path, style_file, capsys):
    content = write_frames(tmp_path / "in", pan_frames(2))
    code, err = run_video(capsys, content, tmp_path / "out", style_file, "--work-dir", tmp_path / "out" / "work")
    assert "overlap" in one_line(code, err)


# ---------------------------------------------------------------------------------------------------------------------
# Frames and videos held to the image pixel limit from their headers


def test_a_frames_folder_holding_a_huge_png_is_refused_from_its_header(tmp_path, style_file, capsys):
    # Before: a 190-megapixel PNG among the frames was a traceback (Pillow's DecompressionBombError).
    content = write_frames(tmp_path / "in", pan_frames(2))
    (content / "frame_3.png").write_bytes(png_declaring(19000, 10000))
    code, err = run_video(capsys, content, tmp_path / "out.mp4", style_file)
    line = one_line(code, err)
    assert "frame_3.png is 19000x10000 (190,000,000 pixels): more than the 100,000,000 pixels" in line


def avi_declaring(path, width, height):
    """A tiny raw-video AVI (one 16x16 frame) whose headers are rewritten to declare width x height frames."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    command = [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=size=16x16:rate=1", "-t", "1"]
    subprocess.run([*command, "-c:v", "rawvideo", "-pix_fmt", "bgr24", str(path)], check=True, timeout=60)
    data = bytearray(path.read_bytes())
    # AVI layout (Microsoft's AVIMAINHEADER, BITMAPINFOHEADER): dwWidth, dwHeight are the 9th and 10th DWORDs
    # after 'avih' and its size; biWidth, biHeight the 2nd and 3rd after 'strf' and its size.
    main_header = data.find(b"avih") + 8 + 8 * 4
    data[main_header : main_header + 8] = struct.pack("<II", width, height)
    stream_format = data.find(b"strf") + 8 + 4
    data[stream_format : stream_format + 8] = struct.pack("<ii", width, height)
    path.write_bytes(bytes(data))
    return path


def test_a_tiny_video_declaring_huge_frames_is_refused_before_any_decoding(tmp_path, monkeypatch):
    # Before: a 48 KB file declaring 16000x16000 took 10.6 GB (ffmpeg decoding every frame to count them) before any
    # refusal. Now only the headers are read (ffmpeg -i, about 50 MB measured); no decoder is ever started.
    video = avi_declaring(tmp_path / "huge.avi", 16000, 16000)
    assert video.stat().st_size < 10_000

    def decoding(*args, **kwargs):
        raise AssertionError("a frame decoder was started")

    monkeypatch.setattr(imageio_ffmpeg, "read_frames", decoding)
    monkeypatch.setattr(imageio_ffmpeg, "count_frames_and_secs", decoding)
    with pytest.raises(
        VideoError, match=r"declares 16000x16000 frames \(256,000,000 pixels\), more than the 100,000,000"
    ):
        open_clip(video)


def test_the_cli_refuses_the_huge_video_in_one_line(tmp_path, style_file, capsys):
    video = avi_declaring(tmp_path / "huge.avi", 16000, 16000)
    code, err = run_video(capsys, video, tmp_path / "out.mp4", style_file)
    assert "declares 16000x16000 frames" in one_line(code, err)


# ---------------------------------------------------------------------------------------------------------------------
# Rates and bit depths that cannot be written


@pytest.mark.parametrize("fps", ["1e-9", "0.0001", "1e6", "0"])
def test_a_rate_ffmpeg_cannot_write_is_refused(tmp_path, style_file, capsys, fps):
    # Before: --fps 1e-9 wrote a 0-byte mp4 and exited 0.
    content = write_frames(tmp_path / "in", pan_frames(2))
    code, err = run_video(capsys, content, tmp_path / "out.mp4", style_file, "--fps", fps)
    assert "--fps must be a number of frames per second between 0.001 and 1000.0" in one_line(code, err)
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_the_lowest_allowed_rate_writes_a_valid_video(tmp_path):
    path = tmp_path / "slow.mp4"
    assert write_video(path, pan_frames(3), 0.001) == 3
    assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] == 3


def test_write_video_never_leaves_an_empty_file(tmp_path):
    # ffmpeg ends without an error but writes nothing at 1e-9 fps: one line, and no file at all.
    path = tmp_path / "out.mp4"
    with pytest.raises(VideoError, match="ffmpeg wrote an empty file"):
        write_video(path, pan_frames(2), 1e-9)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("output", ["out.mp4", "out"])
def test_sixteen_bits_are_refused_not_silently_eight(tmp_path, style_file, capsys, output):
    # Before: --bit-depth 16 wrote 8-bit frames without a word.
    content = write_frames(tmp_path / "in", pan_frames(2))
    code, err = run_video(capsys, content, tmp_path / output, style_file, "--bit-depth", "16")
    assert "--bit-depth 16: video frames are kept and written with 8 bits per channel" in one_line(code, err)
    assert sorted(os.listdir(tmp_path)) == ["in"]


# ---------------------------------------------------------------------------------------------------------------------
# SIGTERM and SIGHUP


def test_sighup_ends_a_video_run_with_one_line_and_129_keeping_finished_frames(
    tmp_path, style_file, capsys, monkeypatch
):
    content = write_frames(tmp_path / "in", pan_frames(3))
    run, calls = video_transfer.FrameStyleTransfer.run, []

    def stopped_at_frame_2(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 3:
            raise Stopped(signal.SIGHUP)  # as safety.signals_as_interrupts raises it
        return run(self, *args, **kwargs)

    monkeypatch.setattr(video_transfer.FrameStyleTransfer, "run", stopped_at_frame_2)
    code, err = run_video(capsys, content, tmp_path / "out.mp4", style_file)
    assert code == 129 and err.count("\n") == 1, err
    assert err.startswith("neural-style: error: interrupted by SIGHUP; 2 of 3 frames are finished in ")
    assert sorted(os.listdir(tmp_path / "out.work" / "frames")) == ["00000.png", "00001.png"]
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.slow
def test_sigterm_ends_a_video_run_with_one_line_and_143(tmp_path, style_file):
    # Before: SIGTERM killed `neural-style video` with no line (exit -15).
    content = write_frames(tmp_path / "in", pan_frames(40))
    work = tmp_path / "out.work"
    command = [sys.executable, "-m", "neural_style", "video", "--content", str(content), "--style", str(style_file)]
    command += ["--output", str(tmp_path / "out.mp4"), "--weights", "random", "--iterations", "1", "--quiet", *FAST]
    options = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=checkout_environment())
    with running(command, **options) as process:
        wait_until(process, (work / "frames" / "00001.png").exists, 180, "no frame finished")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("neural-style: error: interrupted by SIGTERM; ")
    finished = sorted(os.listdir(work / "frames"))
    assert len(finished) >= 2 and all(not name.startswith(".") for name in finished)
    assert not (work / ".neural-style.lock").exists() and not (tmp_path / "out.mp4").exists()
    index = json.loads((work / "index.json").read_text())
    assert {f"frames/{name}" for name in finished} <= set(index)


def test_a_work_dir_in_use_by_another_run_is_refused(tmp_path, style_file, capsys):
    from neural_style.safety import hold_folder

    content = write_frames(tmp_path / "in", pan_frames(2))
    with hold_folder(str(tmp_path / "out.work"), "--work-dir"):
        code, err = run_video(capsys, content, tmp_path / "out.mp4", style_file)
    assert f"--work-dir {tmp_path / 'out.work'} is in use by another neural-style run" in one_line(code, err)
