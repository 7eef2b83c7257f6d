"""The options' text forms live in their own module (option_parsers), the fields' declaration in another
(option_fields), and every name stays importable from neural_style.options, the one options place (the video job's
settings are defined there)."""

import neural_style.options as options
from neural_style import checkpoint, option_fields, option_parsers

MOVED = {
    option_parsers: (
        "INITS",
        "parse_style_layers",
        "parse_numbers",
        "parse_style_layer_weights",
        "style_layer_weights",
        "parse_style_blend",
        "parse_scales",
        "check_init",
        "check_mask_file",
        "check_tensorboard_folder",
    ),
    option_fields: ("MAY_CHANGE", "flag_of"),
}


def test_moved_names_are_the_same_objects_in_options():
    for module, names in MOVED.items():
        for name in names:
            assert getattr(options, name) is getattr(module, name), name


def test_temporal_weight_is_the_articles_balance():
    # Ruder et al.'s 200 x content weight, with the course's content term alpha / 4 times a mean: 200 * 10 / 4.
    assert options.TEMPORAL_WEIGHT == 500.0
    assert options.VideoOptions().temporal_weight == 500.0


def test_the_resume_policy_is_declared_once():
    # The fields declare it (option_fields); the checkpoint reads it from them.
    assert options.MAY_CHANGE is option_fields.MAY_CHANGE
    assert checkpoint.may_change_on_resume is option_fields.may_change_on_resume


def test_an_option_field_declares_its_flag_and_policy():
    import dataclasses

    @dataclasses.dataclass
    class Options:
        shown: int = option_fields.option(3, "default {default}", parse=int, resume=option_fields.MAY_CHANGE)
        renamed: str = option_fields.option("a", "text", flag="--other")
        hidden: int = option_fields.option(0)

    assert [field.name for field in option_fields.cli_fields(Options)] == ["shown", "renamed"]
    assert [option_fields.flag_of(field) for field in option_fields.cli_fields(Options)] == ["--shown", "--other"]
    assert option_fields.may_change_on_resume(Options) == {"shown"}
    assert Options().shown == 3
