"""neural_style.checks: each helper's accepted values and its one-line message naming the parameter."""

import math
import os
import pickle

import numpy as np
import pytest

from neural_style import checks
from neural_style.checks import OptionError, UnknownLayerError


@pytest.mark.parametrize(
    "value, whole, number",
    [
        (3, True, True),
        (np.int64(3), True, True),
        (3.0, False, True),
        (np.float32(0.5), False, True),
        (True, False, False),
        (np.bool_(True), False, False),
        ("3", False, False),
        (None, False, False),
    ],
)
def test_is_int_and_is_number(value, whole, number):
    assert checks.is_int(value) is whole
    assert checks.is_number(value) is number


def test_option_error_names_its_parameters_and_survives_pickling():
    error = OptionError("checkpoint_every needs output_dir", "checkpoint_every", "output_dir")
    assert isinstance(error, ValueError) and error.parameters == ("checkpoint_every", "output_dir")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.parameters == error.parameters


def test_the_old_import_paths_name_the_same_error():
    from neural_style import OptionError as top_level
    from neural_style.options import OptionError as from_options
    from neural_style.vgg import UnknownLayerError as from_vgg

    assert top_level is from_options is OptionError and from_vgg is UnknownLayerError


@pytest.mark.parametrize("value", [1, 400, np.int32(7)])
def test_check_positive_int_accepts_whole_numbers_above_0(value):
    assert checks.check_positive_int(value, "height") is value


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "4", None])
def test_check_positive_int_refuses_the_rest(value):
    with pytest.raises(OptionError) as error:
        checks.check_positive_int(value, "height", "pixels")
    assert str(error.value) == f"height must be a positive whole number of pixels, got {value}"
    assert error.value.parameters == ("height",)
    with pytest.raises(OptionError, match=f"^iterations must be a positive whole number, got {value}$"):
        checks.check_positive_int(value, "iterations")


def test_check_count_accepts_0_and_refuses_negatives_and_fractions():
    assert checks.check_count(0, "save_every") == 0 and checks.check_count(20, "save_every") == 20
    for value in (-1, 1.5, False):
        with pytest.raises(OptionError) as error:
            checks.check_count(value, "save_every")
        assert str(error.value) == f"save_every must be a whole number >= 0 (0 = never), got {value}"


def test_check_count_without_a_meaning_for_0_says_none():
    assert checks.check_count(0, "seed", zero=None) == 0
    with pytest.raises(OptionError) as error:
        checks.check_count(-1, "seed", zero=None)
    assert str(error.value) == "seed must be a whole number >= 0, got -1" and error.value.parameters == ("seed",)


@pytest.mark.parametrize(
    "bounds, good, bad, message",
    [
        ({"minimum": 0}, [0, 0.0, 1e9, np.float32(2)], [-1e-9, math.nan, math.inf, "1", True], "a finite number >= 0"),
        ({"minimum": 0, "maximum": 1, "what": ""}, [0, 0.6, 1], [-0.1, 1.5, math.nan], "between 0 and 1"),
        ({"above": 0, "what": ""}, [1e-12, 2.0], [0, -1, math.nan], "> 0"),
        (
            {"above": 0, "what": "a number", "note": " (1 = the output size)"},
            [1],
            [0],
            "a number > 0 (1 = the output size)",
        ),
        ({"above": 0, "maximum": 1}, [0.5, 1], [0, 1.1], "a finite number > 0 and <= 1"),
    ],
)
def test_check_number_bounds_and_message(bounds, good, bad, message):
    for value in good:
        assert checks.check_number(value, "x", **bounds) is value
    for value in bad:
        with pytest.raises(OptionError) as error:
            checks.check_number(value, "x", **bounds)
        assert str(error.value) == f"x must be {message}, got {value}"


def test_check_number_can_name_a_parameter_other_than_its_subject():
    with pytest.raises(OptionError) as error:
        checks.check_number(-1, "style_layers weight of conv1_1", minimum=0, parameter="style_layers")
    assert str(error.value) == "style_layers weight of conv1_1 must be a finite number >= 0, got -1"
    assert error.value.parameters == ("style_layers",)


def test_check_choice():
    assert checks.check_choice("max", ("avg", "max"), "pooling") == "max"
    presets = {"article": {}, "gatys": {}}
    assert checks.check_choice("gatys", presets, "preset") == "gatys"
    for value in ("min", None, ["avg"], "AVG"):
        with pytest.raises(OptionError) as error:
            checks.check_choice(value, ("avg", "max"), "pooling")
        assert str(error.value) == f"pooling must be one of avg, max, got {value!r}"


def test_check_layers_lists_every_unknown_name_and_every_valid_one():
    valid = ["conv1_1", "conv1_2", "avgpool1"]
    assert checks.check_layers(("conv1_2", "conv1_1"), valid) == ["conv1_2", "conv1_1"]
    with pytest.raises(UnknownLayerError) as error:
        checks.check_layers(["conv1_1", "conv6_1", "pool"], valid)
    assert str(error.value) == "unknown layer conv6_1, pool; valid layers: conv1_1, conv1_2, avgpool1"
    # A mapping's missing key and a bad option at once.
    assert isinstance(error.value, KeyError) and isinstance(error.value, OptionError)


def test_check_file(tmp_path):
    path = tmp_path / "image.png"
    with pytest.raises(OptionError) as error:
        checks.check_file(path, "init", "neither noise nor an image file")
    assert str(error.value) == f"init {path}: neither noise nor an image file"
    with pytest.raises(OptionError, match="neither"):
        checks.check_file(tmp_path, "init", "neither noise nor an image file")  # a folder is not a file
    path.write_bytes(b"x")
    assert checks.check_file(path, "init", "missing") == path


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_check_file_refuses_an_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(OptionError) as error:
        checks.check_file(path, "init", "missing")
    assert str(error.value) == f"init {path}: cannot be read (permission denied)"


def test_check_number_float32_refuses_what_float32_cannot_hold():
    largest = float(np.finfo(np.float32).max)  # 3.4028234663852886e+38, independent of checks.FLOAT32_MAX
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(1e39)) and np.isfinite(np.float32(largest))
    for value in (0.0, 1e38, largest, -largest):
        assert checks.check_number(value, "beta", float32=True) == value
    assert checks.check_number(1e39, "beta") == 1e39  # only when asked
    for value in (1e39, 1e300, -1e300):
        with pytest.raises(OptionError) as error:
            checks.check_number(value, "style_layers weight of conv1_1", parameter="style_layers", float32=True)
        assert str(error.value) == (
            f"style_layers weight of conv1_1 must be within float32's range (at most 3.4e+38), got {value:g}"
        )
        assert error.value.parameters == ("style_layers",)
