"""The streamed exact tiles (neural_style/fast/stream.py): the same picture as the whole pass for Johnson et al.'s
layout, with its stored outputs in files or in memory, per-pixel style masks, the bundled 26-style and arbitrary-style
networks; its statistics against numpy float64; the memory budget's split (tiles.stream_budget, stream_store); its disk
need stated and refused in one line; its work folder gone after the pass, an error, Ctrl-C and SIGTERM."""

import os
import signal
import tempfile

import numpy as np
import pytest

from neural_style.checks import OptionError
from neural_style.fast import arbitrary, bundled, stream, tiles
from neural_style.fast.apply import stylize_picture
from neural_style.fast.network import JOHNSON, MAGENTA_26, MAGENTA_ARBITRARY, build_transform_net
from neural_style.fast.stream import Moments, plan_stream, reflect, stylize_streamed
from neural_style.fast.stream_store import disk_need, in_memory, place
from tests.fixtures import smooth_photo, trained_like


@pytest.fixture(scope="module")
def net():
    return trained_like(build_transform_net(seed=11))


def _close(streamed, whole):
    # The same convolutions on the same values (strips of full width, exact row context), the statistics summed in
    # float64 where the whole pass sums in float32: float32 rounding only, far below the one grey level required.
    assert np.abs(streamed - whole).max() < 1.0
    assert np.abs(streamed - whole).mean() < 0.01
    assert whole.std() > 5  # not trivially constant


@pytest.mark.parametrize("memory_bytes", [0, 1e9])
@pytest.mark.parametrize("height, width, strip", [(61, 61, 40 * 40), (97, 203, 56 * 56), (150, 37, 1000)])
def test_streamed_equals_whole_within_one_grey_level(net, height, width, strip, memory_bytes):
    # Every stored output in files (0), or every one in memory as its strips (read back across strips' edges).
    picture = smooth_photo(height, width, seed=height)
    whole = np.clip(net(picture[None]).numpy()[0], 0, 255)
    streamed = stylize_streamed(net, picture[None], strip_pixels=strip, memory_bytes=memory_bytes)
    _close(np.clip(streamed, 0, 255), whole)


def test_in_memory_takes_the_earliest_that_fit_at_every_moment():
    # float32 arrays of a (alive at moments 0..1, 100 bytes) and b (1..2, 200 bytes) fit together in 300 bytes;
    # c (2..3, 200 bytes) would make moment 2 hold 400, so it goes to a file; d (3..3, 120 bytes) then fits.
    shapes = {"a": (25, 1, 1), "b": (50, 1, 1), "c": (50, 1, 1), "d": (30, 1, 1)}
    lives = {"a": (0, 1), "b": (1, 2), "c": (2, 3), "d": (3, 3)}
    assert in_memory(shapes, lives, 300) == {"a", "b", "d"}
    assert in_memory(shapes, lives, 0) == set()
    assert disk_need(shapes, lives, {"c", "d"}) == 200 + 120
    assert disk_need(shapes, lives, set()) == 0


def test_disk_need_of_every_array_is_plan_streams():
    shapes, lives, disk = plan_stream(JOHNSON, 123, 77)
    assert disk_need(shapes, lives, set(shapes)) == disk
    assert in_memory(shapes, lives, disk) == set(shapes)


@pytest.mark.parametrize("layout", [JOHNSON, MAGENTA_26, MAGENTA_ARBITRARY])
def test_places_in_the_work_file_never_overlap_and_take_the_fullest_moment(layout):
    shapes, lives, disk = plan_stream(layout, 301, 203)
    offsets, size = place(shapes, lives, set(shapes))
    spans = {key: (offsets[key], offsets[key] + 4 * np.prod(shapes[key])) for key in shapes}
    for key, (first, end) in spans.items():
        assert first % 64 == 0 and end <= size
        for other, (first2, end2) in spans.items():
            together = lives[key][0] <= lives[other][1] and lives[other][0] <= lives[key][1]
            assert other == key or not together or end <= first2 or end2 <= first, (key, other)
    # These layouts' arrays nest: the file is no larger than the fullest moment (up to each array's 64-byte rounding).
    assert disk <= size <= disk + 64 * len(shapes)


def test_all_in_memory_writes_no_file(net, tmp_path, monkeypatch):
    seen = _failing_at(monkeypatch, tmp_path, lambda: None, after=8)
    picture = smooth_photo(64, 80)[None]
    result = stylize_streamed(net, picture, strip_pixels=900, work_dir=tmp_path, memory_bytes=1e9)
    assert seen == [] and os.listdir(tmp_path) == []
    _close(np.clip(result, 0, 255), np.clip(net(picture).numpy()[0], 0, 255))


def test_stream_budget_spends_the_budget():
    per_pixel = tiles.bytes_per_pixel(JOHNSON)
    # Room for every stored output and strips of a tile's pixels: all in memory.
    height, width = 1080, 1920
    strip, memory = tiles.stream_budget(height, width, 600, max_memory=2)
    stored = plan_stream(JOHNSON, height, width)[2]
    assert memory == stored and strip == 600 * 600
    assert tiles.BASE_BYTES + 24 * height * width + stored + per_pixel * strip <= 2e9
    # No room for them: strips of the tile's pixels, the rest of the budget for what fits of them.
    height, width = 2400, 3200
    strip, memory = tiles.stream_budget(height, width, 512, max_memory=1.5)
    assert strip == 512 * 512
    assert tiles.BASE_BYTES + 24 * height * width + memory + per_pixel * strip == pytest.approx(1.5e9)
    # A strip never covers more than STRIP_PIXELS.
    assert tiles.stream_budget(height, width, 4000, max_memory=64)[0] == stream.STRIP_PIXELS


def test_streamed_through_stylize_picture(net):
    # apply's tiled path (tiles.stylize_in_tiles) is the streamed pass; odd sizes pad to the layout's min_side.
    picture = smooth_photo(53, 77, seed=5)
    _close(stylize_picture(net, picture, tile_size=32), stylize_picture(net, picture))


def test_style_masks_per_pixel():
    model = trained_like(build_transform_net(seed=3, styles=2), seed=4)
    height, width = 70, 90
    # Left half one style, right half the other, a soft band between: each level pools the weights itself.
    left = np.clip((60 - np.arange(width)) / 20, 0, 1).astype(np.float32)
    masks = np.broadcast_to(np.stack([left, 1 - left], axis=-1), (height, width, 2))
    picture = smooth_photo(height, width, seed=9)
    whole = stylize_picture(model, picture, style_weights=masks)
    _close(stylize_picture(model, picture, tile_size=24, style_weights=masks), whole)
    # The masks matter: the first style alone is far from the mixture.
    assert np.abs(stylize_picture(model, picture, style_weights=[1.0, 0.0]) - whole).max() > 5


def test_bundled_26_style_network():
    network = bundled.load_bundled(bundled.STYLES26)
    picture = smooth_photo(130, 100, seed=1)
    style = np.eye(26, dtype=np.float32)[19]
    whole = stylize_picture(network.transform, picture, max_memory=64, style_weights=style)
    streamed = stylize_picture(network.transform, picture, tile_size=48, style_weights=style)
    # Its int8-rounded normalisations gather counts of levels (exact), the rest is float32 as for the whole pass.
    assert np.abs(whole - streamed).max() < 1.0
    assert whole.std() > 5


def test_bundled_arbitrary_network_with_a_style_vector():
    network = bundled.load_bundled(bundled.ARBITRARY)
    vector = arbitrary.style_vector(network.predictor, smooth_photo(120, 160, seed=7)[:, ::-1])
    picture = smooth_photo(130, 100, seed=2)
    # The network's own pass (TransformNet.call, eager), as the streamed pass runs its layers.
    whole = np.clip(network.transform((picture[None], vector[None])).numpy()[0], 0, 255)
    streamed = stylize_picture(network.transform, picture, tile_size=48, style_weights=vector)
    # The int8 network's statistics are rounded to its levels from float64 sums, as the whole pass's: only a
    # statistic at a near-tie could flip a level, so nearly every pixel agrees within one grey level.
    off = float(np.mean(np.abs(whole - streamed).max(axis=-1) > 1.0 + 1e-3))
    assert off <= 0.02, f"{off:.2%} of the pixels differ by more than a grey level"
    assert whole.std() > 5


def test_moments_are_numpys_float64():
    rng = np.random.default_rng(0)
    # A large mean against a small spread: naive float32 sums of squares would lose the variance.
    values = (1e4 + rng.normal(0, 0.5, (50, 40, 6))).astype(np.float32)
    moments = Moments()
    for start in range(0, 50, 7):
        moments.add(values[start : start + 7])
    mean, variance = moments.statistics()
    exact = values.astype(np.float64).reshape(-1, 6)
    np.testing.assert_allclose(mean[0, 0, 0], exact.mean(axis=0), rtol=1e-7)
    np.testing.assert_allclose(variance[0, 0, 0], exact.var(axis=0), rtol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_reflect_is_numpys_reflection(n):
    padded = np.pad(np.arange(n), 4 * n, mode="reflect") if n > 1 else np.zeros(9 * n, int)
    assert list(reflect(np.arange(-4 * n, 5 * n), n)) == list(padded)


def test_disk_need_is_the_fullest_level():
    # Johnson et al.'s fullest moment: the last decoder convolution reads the level-1 output (64 channels) and writes
    # its own at full size (32 channels), float32.
    height, width = 1000, 1001
    _, _, disk = plan_stream(JOHNSON, height, width)
    assert disk == 4 * (64 * 500 * 501 + 32 * height * width)
    # The 26-style network's: its second convolution reads the first's 32 full-size channels and writes 32 at level 1
    # (its decoder is only 8 and 4 channels wide).
    _, _, disk26 = plan_stream(MAGENTA_26, height, width)
    assert disk26 == 4 * (32 * height * width + 32 * 500 * 501)


def test_no_room_on_the_disk_is_one_line(net, tmp_path, monkeypatch):
    need = plan_stream(JOHNSON, 64, 80)[2]
    monkeypatch.setattr(stream.shutil, "disk_usage", lambda path: type("Usage", (), {"free": need // 2})())
    with pytest.raises(OptionError, match=rf"need {need / 1e9:.2f} GB of disk in {tmp_path}") as error:
        stylize_streamed(net, smooth_photo(64, 80)[None], work_dir=tmp_path)
    assert "\n" not in str(error.value)
    assert os.listdir(tmp_path) == []


def _failing_at(monkeypatch, folder, failure, after=4):
    """statistics_gatherer replaced by one that, at the `after`-th convolution, notes the work folder's files and
    then fails as `failure` does."""
    seen, real = [], stream.statistics_gatherer

    def gatherer(model, index):
        if index == after:
            seen.extend(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names)
            failure()
        return real(model, index)

    monkeypatch.setattr(stream, "statistics_gatherer", gatherer)
    return seen


def _raise_runtime_error():
    raise RuntimeError("broken in the middle")


def _sigterm():
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize(
    "failure, expected",
    [(_raise_runtime_error, RuntimeError), (_sigterm, KeyboardInterrupt)],
)
def test_work_folder_gone_after_an_error_or_a_signal(net, tmp_path, monkeypatch, failure, expected):
    seen = _failing_at(monkeypatch, tmp_path, failure)
    with pytest.raises(expected):
        stylize_streamed(net, smooth_photo(64, 80)[None], strip_pixels=900, work_dir=tmp_path)
    assert seen, "the work folder had files when the pass failed"
    assert os.listdir(tmp_path) == []


def test_temporary_folder_honours_tmpdir_and_is_removed(net, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # what TMPDIR sets
    seen = _failing_at(monkeypatch, tmp_path, lambda: None)
    result = stylize_streamed(net, smooth_photo(64, 80)[None], strip_pixels=900)
    assert result.shape == (64, 80, 3)
    assert any(path.endswith("stored.bin") and os.path.dirname(os.path.dirname(path)) == str(tmp_path) for path in seen)
    assert os.listdir(tmp_path) == []
