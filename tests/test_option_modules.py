"""The options' text forms live in their own module (option_parsers), and every name stays importable from
neural_style.options, the one options place (the video job's settings are defined there)."""

import neural_style.options as options
from neural_style import option_parsers

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
    ),
}


def test_moved_names_are_the_same_objects_in_options():
    for module, names in MOVED.items():
        for name in names:
            assert getattr(options, name) is getattr(module, name), name


def test_temporal_weight_is_the_articles_balance():
    # Ruder et al.'s 200 x content weight, with the course's content term alpha / 4 times a mean: 200 * 10 / 4.
    assert options.TEMPORAL_WEIGHT == 500.0
    assert options.VideoOptions().temporal_weight == 500.0
