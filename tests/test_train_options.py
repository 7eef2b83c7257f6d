"""TrainOptions declares each training setting once, in its field's metadata (option_fields.option): the train
command's flag, its help and its default, and whether a resumed training may change it."""

import dataclasses

import pytest

from neural_style.cli.train import build_parser
from neural_style.fast.options import TrainOptions
from neural_style.option_fields import cli_fields, flag_of, may_change_on_resume

REQUIRED = ["--style", "s.png", "--images", "photos", "--output", "m.keras"]


def train_args(*argv):
    """The train command's parsed arguments, with its required files."""
    return build_parser().parse_args([*REQUIRED, *argv])


def test_every_field_is_a_flag_of_train():
    shown = {string for action in build_parser()._actions for string in action.option_strings}
    assert {flag_of(field) for field in cli_fields(TrainOptions)} <= shown
    assert len(cli_fields(TrainOptions)) == len(dataclasses.fields(TrainOptions))


@pytest.mark.parametrize(
    "name, text, value",
    [("size", "64", 64), ("tv_weight", "0.5", 0.5), ("content_layer", "conv3_1", "conv3_1"), ("steps", "7", 7)],
)
def test_a_fields_metadata_reaches_the_parser(name, text, value):
    field = {field.name: field for field in cli_fields(TrainOptions)}[name]
    args = train_args(flag_of(field), text)
    assert TrainOptions(**{name: getattr(args, name)}) == TrainOptions(**{name: value})


def test_the_parsers_defaults_are_the_fields():
    args = train_args()
    assert TrainOptions(**{field.name: getattr(args, field.name) for field in cli_fields(TrainOptions)}) == (
        TrainOptions()
    )


def test_help_shows_the_fields_defaults():
    text = build_parser().format_help()
    assert "(default 256)" in text and "alpha (default 10)" in text and "(default 600)" in text


def test_epochs_and_steps_are_one_choice(capsys):
    with pytest.raises(SystemExit):
        train_args("--epochs", "1", "--steps", "2")
    assert "not allowed with argument" in capsys.readouterr().err


def test_where_the_training_is_watched_may_change_on_resume_and_is_not_a_setting():
    watched = {"tensorboard", "save_every", "preview_images", "cluster_timeout"}
    assert may_change_on_resume(TrainOptions) == watched
    settings = TrainOptions().validate().settings()
    assert not watched & set(settings)
    # The later settings at their defaults are left out too: the article's settings are the ones its files always had.
    later = {"architecture", "style_loss"}
    assert set(settings) == {field.name for field in dataclasses.fields(TrainOptions)} - watched - later
    assert TrainOptions(style_loss="w2").validate().settings()["style_loss"] == "w2"


def test_another_architecture_is_a_setting_a_resume_must_share():
    assert "architecture" not in may_change_on_resume(TrainOptions)
    assert TrainOptions(architecture="small").validate().settings()["architecture"] == "small"
    args = train_args("--architecture", "small")
    assert args.architecture == "small" and train_args().architecture == "johnson"
    assert "--architecture johnson|small" in build_parser().format_help().replace("\n", " ")
