"""neural_style.options: StyleOptions' defaults, presets and checks, and the command-line flags its fields declare."""

import dataclasses

import pytest

from neural_style import config
from neural_style.checks import OptionError, UnknownLayerError
from neural_style.cli import common
from neural_style.cli.stylize import CLI_DEFAULTS, build_parser
from neural_style.options import StyleOptions, parse_numbers, parse_style_layers
from tests.transfers import MAY_CHANGE_ON_RESUME

STYLE_NAMES = [name for name, _ in config.STYLE_LAYERS]
# The settings a resumed run may change (the contract with checkpoint.py).


def test_presets_fill_what_is_not_given():
    article = StyleOptions().validate()
    assert (
        article.content_layer,
        article.alpha,
        article.beta,
        article.learning_rate,
        article.pooling,
        article.optimizer,
        article.init,
        article.image_range,
        article.clip,
    ) == ("conv4_2", 10, 40, 2.0, "avg", "adam", "noise", "mean", False)
    assert article.style_layers == config.STYLE_LAYERS and article.content_cost == "course"
    tf2 = StyleOptions(preset="course-tf2").validate()
    assert (
        tf2.content_layer,
        tf2.learning_rate,
        tf2.optimizer,
        tf2.init,
        tf2.pooling,
        tf2.image_range,
        tf2.clip,
        tf2.alpha,
        tf2.beta,
    ) == ("conv5_4", 0.01, "adam", "noise", "max", "unit", True, 10, 40)
    gatys = StyleOptions(preset="gatys").validate()
    assert (gatys.content_layer, gatys.optimizer, gatys.init, gatys.pooling, gatys.content_cost, gatys.image_range) == (
        "conv4_2",
        "lbfgs",
        "random",
        "avg",
        "gatys",
        "mean",
    )
    assert gatys.alpha / gatys.beta == pytest.approx(1e-3)
    assert gatys.style_layers == [(name, pytest.approx(0.2)) for name in STYLE_NAMES]
    # Explicit settings win over the preset; Keras names are aliases.
    mine = StyleOptions(preset="gatys", optimizer="adam", content_layer="block5_conv2", pooling="max").validate()
    assert (mine.optimizer, mine.content_layer, mine.pooling, mine.init) == ("adam", "conv5_2", "max", "random")


def test_parsed_style_blend_and_scales():
    options = StyleOptions(style_blend="3,1", scales="0.25, 0.5,1", iterations=3).validate(style_count=2)
    assert options.style_blend == (0.75, 0.25) and options.scales == (0.25, 0.5, 1.0)


def test_parse_style_layers_and_numbers():
    assert parse_style_layers("conv1_1:0.5, conv3_1:0.25,conv5_1") == [
        ("conv1_1", 0.5),
        ("conv3_1", 0.25),
        ("conv5_1", 1.0),
    ]
    assert parse_numbers("0.25,0.5, 1", "scales", "0.25,0.5,1") == (0.25, 0.5, 1.0)
    with pytest.raises(OptionError) as error:
        parse_style_layers("conv1_1:x")
    assert str(error.value) == "style_layers: 'conv1_1:x' is not name:weight (e.g. conv1_1:0.2)"
    with pytest.raises(OptionError, match=r"^scales: '0.5,a' is not a list of numbers; e.g. 0.25,0.5,1$"):
        parse_numbers("0.5,a", "scales", "0.25,0.5,1")


# --- bad values: one line naming the Python parameter (the command line shows the flag instead)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"height": 0}, "height must be a positive whole number of pixels, got 0"),
        ({"max_size": 2.5}, "max_size must be a positive whole number of pixels, got 2.5"),
        ({"iterations": -5}, "iterations must be a positive whole number, got -5"),
        ({"save_every": -1}, "save_every must be a whole number >= 0 (0 = never), got -1"),
        ({"checkpoint_every": -1, "output_dir": "out"}, "checkpoint_every must be a whole number >= 0 (0 = never)"),
        ({"checkpoint_every": 5}, "checkpoint_every needs output_dir, the folder the checkpoint is written into"),
        ({"learning_rate": 0}, "learning_rate must be > 0, got 0"),
        ({"learning_rate": -1}, "learning_rate must be a finite number >= 0, got -1"),
        ({"alpha": float("nan")}, "alpha must be a finite number >= 0, got nan"),
        ({"beta": "40"}, "beta must be a finite number >= 0, got 40"),
        ({"noise_ratio": 1.5}, "noise_ratio must be between 0 and 1, got 1.5"),
        (
            {"style_layers": [("conv1_1", -1.0)]},
            "style_layers weight of conv1_1 must be a finite number >= 0, got -1.0",
        ),
        ({"style_layers": []}, "style_layers names no layer; e.g. conv1_1:0.2,conv2_1:0.2"),
        ({"optimizer": "sgd"}, "optimizer must be one of adam, lbfgs, got 'sgd'"),
        ({"precision": "float16"}, "precision must be one of float32, bfloat16, got 'float16'"),
        ({"style_blend": (1, 2, 3)}, "style_blend has 3 weights for 2 style images; give one weight per style image"),
        ({"style_blend": "0.5,x"}, "style_blend must be numbers such as 0.7,0.3, got 0.5,x"),
        ({"style_blend": (1, -1)}, "style_blend weights must be finite numbers >= 0, got 1,-1"),
        ({"style_blend": (0, 0)}, "style_blend needs a weight > 0, got 0,0"),
        ({"style_scale": -0.5}, "style_scale must be a number > 0 (1 = the output size), got -0.5"),
        ({"style_scale": 0}, "style_scale must be a number > 0 (1 = the output size), got 0"),
        ({"tv_weight": -1}, "tv_weight must be a finite number >= 0 (0 = off), got -1"),
        ({"tv_weight": float("nan")}, "tv_weight must be a finite number >= 0 (0 = off), got nan"),
        ({"preset": "fast"}, "preset must be one of article, course-tf2, gatys, got 'fast'"),
        ({"preset": ["article"]}, "preset must be one of article, course-tf2, gatys, got ['article']"),
        ({"pooling": "min"}, "pooling must be one of avg, max, got 'min'"),
        ({"image_range": "0-255"}, "image_range must be one of mean, unit, got '0-255'"),
        ({"clip": "yes"}, "clip must be True or False, got 'yes'"),
        (
            {"scales": "0.5,0.25,1"},
            "scales must increase and end at 1 (the output size), e.g. 0.25,0.5,1; got 0.5,0.25,1",
        ),
        ({"scales": "0.5"}, "scales must increase and end at 1"),
        ({"scales": "-0.5,1"}, "scales must be fractions of the output size > 0, got -0.5,1"),
        ({"scales": "0,1"}, "scales must be fractions of the output size > 0, got 0,1"),
        ({"scales": "a,1"}, "scales: 'a,1' is not a list of numbers; e.g. 0.25,0.5,1"),
        ({"scales": (0.1, 0.2, 0.3, 0.5, 1)}, "scales: 5 of them need iterations >= 5, got 4"),
        ({"init": "Noise"}, "init Noise: neither noise, content, random nor an image file"),
        ({"init": "nothing-here.png"}, "init nothing-here.png: neither noise, content, random nor an image file"),
        ({"init": ""}, "init : neither noise, content, random nor an image file"),
        ({"init": 3}, "init must be noise, content, random, an image path or an (H, W, 3) RGB array, got 3"),
    ],
)
def test_bad_options_are_one_line_naming_the_parameter(options, message):
    options = {"iterations": 4, **options}
    with pytest.raises(OptionError) as error:
        StyleOptions(**options).validate(style_count=2)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_resume_without_a_checkpoint_names_the_folder(tmp_path):
    with pytest.raises(OptionError) as error:
        StyleOptions(resume=str(tmp_path)).validate()
    assert str(error.value) == (
        f"resume {tmp_path}: no checkpoint.npz there; give the output_dir of a run made with checkpoint_every"
    )
    assert common.as_flags(error.value) == (
        f"--resume {tmp_path}: no checkpoint.npz there; give the --output-dir of a run made with --checkpoint-every"
    )


def test_a_tensorboard_folder_that_is_or_lies_under_a_link_to_nothing(tmp_path):
    # os.path.exists is False for such a link, yet its name is taken: making the folder would fail mid-run.
    (tmp_path / "runs").symlink_to(tmp_path / "gone")
    link, gone = tmp_path / "runs", tmp_path / "gone"
    for folder, where in [(link, f"--tensorboard {link}"), (link / "today", f"--tensorboard {link / 'today'}: {link}")]:
        with pytest.raises(OptionError) as error:
            StyleOptions(tensorboard=str(folder)).validate()
        assert common.as_flags(error.value) == (
            f"{where} is a symbolic link to {gone}, which does not exist; make that folder, or give another path"
        )
    StyleOptions(tensorboard=str(tmp_path / "new" / "runs")).validate()  # a missing folder is made by the run


@pytest.mark.parametrize("name", ["conv6_1", "block6_conv1"])
def test_unknown_layer_lists_the_valid_ones(name):
    with pytest.raises(UnknownLayerError) as error:
        StyleOptions(content_layer=name).validate()
    assert str(error.value) == (
        f"unknown layer {name}; valid layers: conv1_1, conv1_2, avgpool1, conv2_1, conv2_2, avgpool2, conv3_1, "
        "conv3_2, conv3_3, conv3_4, avgpool3, conv4_1, conv4_2, conv4_3, conv4_4, avgpool4, conv5_1, conv5_2, conv5_3, "
        "conv5_4, avgpool5"
    )


# --- the fields' metadata: the command line's flags, and what a resumed run may change


def test_exactly_the_documented_settings_may_change_on_resume():
    marked = {field.name for field in dataclasses.fields(StyleOptions) if field.metadata.get("resume") == "may_change"}
    assert marked == MAY_CHANGE_ON_RESUME
    assert all(field.metadata.get("resume") in (None, "may_change") for field in dataclasses.fields(StyleOptions))


def test_every_field_but_the_presets_forms_has_a_flag():
    hidden = {field.name for field in dataclasses.fields(StyleOptions)} - set(StyleOptions.flags())
    assert hidden == {"jit_compile", "image_range", "content_cost", "clip"}
    assert StyleOptions.flags()["learning_rate"] == "--learning-rate"


def _squeezed(text):
    return "".join(text.split())


def _shown(value):
    """How --help writes a default: as the flag takes it."""
    if isinstance(value, list):
        return ",".join(f"{name}:{weight}" for name, weight in value)
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def test_help_shows_every_option_with_the_librarys_default(monkeypatch):
    monkeypatch.delenv("NEURAL_STYLE_WEIGHTS", raising=False)
    parser = build_parser()
    text = _squeezed(parser.format_help())
    library = StyleOptions().validate()
    assert CLI_DEFAULTS == {"save_every": config.PRINT_EVERY, "output_dir": config.CONFIG.OUTPUT_DIR}
    for field in StyleOptions.cli_fields():
        flag = StyleOptions.flags()[field.name]
        (action,) = [action for action in parser._actions if flag in action.option_strings]
        help_ = _squeezed(action.help)
        assert help_ in text, flag
        value = CLI_DEFAULTS.get(field.name, getattr(library, field.name))
        if field.metadata["parse"] is bool:
            assert value is False and action.default is None  # a switch, off unless given
        elif value is None:
            # No default (seed, resume) or one that no value says (the article's size, equal blend weights).
            shown = field.metadata["unset"]
            assert shown is None or _squeezed(f"default: {shown}") in help_, flag
            assert shown is not None or "default" not in help_, flag
        else:
            assert "default" in help_ and _squeezed(_shown(value)) in help_[help_.index("default") :], (flag, help_)
    assert _squeezed(f"default: $NEURAL_STYLE_WEIGHTS, else {config.CONFIG.VGG_MODEL}") in text


def test_enumerated_flags_use_choices():
    parser = build_parser()
    choices = {action.option_strings[0]: action.choices for action in parser._actions if action.choices}
    assert choices == {
        "--pooling": ("avg", "max"),
        "--precision": ("float32", "bfloat16"),
        "--optimizer": ("adam", "lbfgs"),
        "--preset": tuple(config.PRESETS),
        "--style-loss": ("gram", "mean-cov", "w2"),
        "--bit-depth": (8, 16),
    }


def test_fields_with_nargs_take_several_values_as_a_list():
    nargs = {action.option_strings[0]: action.nargs for action in build_parser()._actions if action.nargs == "+"}
    assert nargs == {"--style": "+", "--style-layer-weights": "+", "--style-masks": "+", "--style-source-masks": "+"}
    argv = ["--content", "c.png", "--style", "a.png", "b.png", "--output", "o.png", "--style-masks", "m1.png", "m2.png"]
    args = build_parser().parse_args(argv + ["--style-layer-weights", "decay", "4"])
    assert args.style_masks == ["m1.png", "m2.png"] and args.style_layer_weights == ["decay", "4"]
    assert StyleOptions(style_layer_weights=args.style_layer_weights).validate().style_layer_weights == ("decay", 4.0)


@pytest.mark.parametrize(
    "message, parameters, shown",
    [
        ("learning_rate must be > 0, got 0", ("learning_rate",), "--learning-rate must be > 0, got 0"),
        (
            "checkpoint_every needs output_dir, the folder",
            ("checkpoint_every", "output_dir"),
            "--checkpoint-every needs --output-dir, the folder",
        ),
        # A path that holds a parameter's name is left alone.
        ("resume /runs/resume: none", ("resume",), "--resume /runs/resume: none"),
        ("image_range must be one of mean, unit", ("image_range",), "image_range must be one of mean, unit"),
        ("learning_rate must be > 0", (), "learning_rate must be > 0"),
    ],
)
def test_the_command_line_names_flags_where_the_library_names_parameters(message, parameters, shown):
    assert common.as_flags(OptionError(message, *parameters)) == shown
