"""The choice of a several-style network's styles: --style-index, --mix or --style-masks, at most one, checked in one
place (``style_weights``) for `apply` and `video --model` alike, before the apply code (fast/apply.py) resizes the
weights to each picture (``fit_style_weights``) and paints with them.

Checking them imports no TensorFlow (the masks' pictures are read only when masks are given).
"""

from ..checks import OptionError, check_count, check_number

# The ways to choose a several-style network's styles (style_weights); at most one is given.
CHOICES = ("style_index", "mix", "style_masks")


def style_weights(styles, style_index=None, mix=None, style_masks=None):
    """
    The weights of a network's styles that --style-index, --mix or --style-masks asks for: the one place where the
    three are checked, for `apply` and `video --model` alike.

    Arguments:
    styles -- how many styles the network was trained for
    style_index -- None, or the style to use: 0 .. styles - 1, in the order of the training's --style
    mix -- None, or convex weights, one per style: a text "0.7,0.3,0" or a sequence of numbers
    style_masks -- None, or one mask picture per style (apply.load_style_masks): a style per region

    Returns:
    weights -- list of `styles` floats, >= 0, summing to 1 (one-hot for an index; the first style when none is
               given), or for style_masks float32 (h, w, styles) at the masks' size, each pixel's weights summing to
               1 (resized to each picture by the apply); OptionError (one line) naming the option for anything else
    """
    given = [name for name, value in zip(CHOICES, (style_index, mix, style_masks)) if value is not None]
    if len(given) > 1:
        raise OptionError(f"give only one of {', '.join(given)}: each chooses the styles on its own", *given)
    if styles == 1 and (mix is not None or style_masks is not None):
        name = given[0]
        raise OptionError(f"{name} is for a model of several styles; this model has one, so leave it out", name)
    if style_masks is not None:
        from .apply import load_style_masks  # reads pictures (TensorFlow's resize): only when masks are given

        return load_style_masks(style_masks, styles)
    if mix is None:
        index = 0 if style_index is None else check_count(style_index, "style_index", zero=None)
        if index >= styles:
            choose = "give 0" if styles == 1 else f"give 0 to {styles - 1}"
            raise OptionError(
                f"style_index {index} is not one of the model's {styles} style{'s' * (styles > 1)}; {choose}",
                "style_index",
            )
        return [float(i == index) for i in range(styles)]
    parts = mix.split(",") if isinstance(mix, str) else list(mix)
    try:
        weights = [float(part) for part in parts]
    except (TypeError, ValueError):
        raise OptionError(
            f"mix must be {styles} numbers separated by commas, e.g. 0.5,0.5, got {mix!r}", "mix"
        ) from None
    if len(weights) != styles:
        raise OptionError(f"mix has {len(weights)} weights but the model has {styles} styles; give {styles}", "mix")
    for weight in weights:
        check_number(weight, "mix weights", minimum=0, what="finite numbers", parameter="mix")
    # Typed decimals (0.1 + 0.2 + 0.7) sum to 1 within a few float64 ulps; 1e-6 allows 6 typed decimals' rounding.
    if abs(sum(weights) - 1) > 1e-6:
        raise OptionError(f"mix weights must sum to 1 (a convex mixture), got {sum(weights):g}", "mix")
    return weights
