"""The network a one-pass command paints with, and its styles: --model NAME|FILE, or any painting (--style-image,
the bundled arbitrary-style network), with --style-index, --mix, --style-masks, --strength and --style-size checked
in one place for `apply` and `video`."""


def add_painting_options(parser):
    """
    --style-image, --strength and --style-size: any painting as the style (the arbitrary-style network).

    Arguments:
    parser -- an ArgumentParser of this package
    """
    parser.add_argument(
        "--style-image",
        nargs="+",
        metavar="PAINTING",
        help="any painting(s) as the style (several: mixed by --mix, or a region each by --style-masks)",
    )
    parser.add_argument(
        "--strength",
        type=float,
        default=1.0,
        metavar="S",
        help="with --style-image: 0 (the photo's own style) to 1 (the painting's; default)",
    )
    parser.add_argument(
        "--style-size",
        type=int,
        default=256,
        metavar="PIXELS",
        help="with --style-image: the painting's side at the style predictor (default 256, as published; larger "
        "gives finer strokes)",
    )


def resolve(args):
    """
    What --model (or, with --style-image alone, the bundled arbitrary-style network) names, without reading it.

    Arguments:
    args -- parsed options with model and style_image

    Returns:
    name -- the name or file given
    kind -- "bundled", "network" (a .npz) or "file" (a .keras)
    target -- the bundled name or the file's path
    unknown -- None, or the OptionError for a name that is neither (raised by the caller after its output checks,
               so that a bad output is reported first)
    """
    from ..checks import OptionError
    from ..fast import bundled

    if args.model is None and not args.style_image:
        raise OptionError(
            "give --style-image PAINTING (any painting) or --model NAME (`neural-style models` lists them)", "model"
        )
    name = args.model or bundled.ARBITRARY
    try:
        kind, target = bundled.resolve_model(name)
    except OptionError as error:
        return name, "file", name, error
    return name, kind, target, None


def reads(args, kind, target):
    """The files the command reads (the model file, the paintings, the masks), which no output may be."""
    model = [target] if kind in ("file", "network") else []
    return model + list(args.style_image or ()) + list(args.style_masks or ())


def load(kind, target):
    """
    The network resolve named, built.

    Arguments:
    kind, target -- as resolve gives them

    Returns:
    model -- its TransformNet
    predictor -- its StylePredictor (the arbitrary-style network), or None
    """
    from ..fast import bundled
    from ..fast.apply import load_fast_model

    if kind == "file":
        return load_fast_model(target), None
    network = bundled.load_bundled(target) if kind == "bundled" else bundled.load_network(target)
    return network.transform, network.predictor


def choose(args, name, kind, target):
    """
    The network and the style weights the options ask for, checked before any picture is read.

    Arguments:
    args -- parsed options with style_image, strength, style_size, style_index, mix, style_masks
    name, kind, target -- as resolve gives them

    Returns:
    model -- the TransformNet
    weights -- the style weights for fast.apply (a function of each picture's pixels for paintings)
    """
    from ..checks import OptionError
    from ..fast import arbitrary, bundled
    from ..fast.style_choice import style_weights

    paintings = list(args.style_image or ())
    strength = arbitrary.check_strength(args.strength)
    style_size = arbitrary.check_style_size(args.style_size)
    model, predictor = load(kind, target)
    if predictor is None:
        if paintings:
            raise OptionError(
                f"style_image: {name} paints its own {model.styles} style{'s' * (model.styles > 1)}, not a "
                f"painting; leave --style-image out, or use --model {bundled.ARBITRARY} for any painting",
                "style_image",
            )
        if strength != 1 or style_size != arbitrary.STYLE_SIZE:
            given = "strength" if strength != 1 else "style_size"
            raise OptionError(f"{given} is for --style-image (the arbitrary-style network); leave it out", given)
        return model, style_weights(model.styles, args.style_index, args.mix, args.style_masks)
    if not paintings:
        raise OptionError(f"{name} paints any painting: give it with --style-image PAINTING", "style_image")
    if args.style_index is not None:
        raise OptionError(
            "style_index chooses a trained network's style; with --style-image leave it out", "style_index"
        )
    if len(paintings) == 1 and (args.mix is not None or args.style_masks is not None):
        given = "mix" if args.mix is not None else "style_masks"
        raise OptionError(f"{given} mixes several paintings; give them all with --style-image", given)
    chosen = style_weights(len(paintings), None, args.mix, args.style_masks) if len(paintings) > 1 else [1.0]
    vectors = arbitrary.style_vectors(predictor, paintings, style_size)
    return model, _painting_weights(predictor, vectors, chosen, strength, style_size)


def _painting_weights(predictor, vectors, chosen, strength, style_size):
    """
    The arbitrary-style network's style for each picture: a function of its pixels (the photo's own vector enters
    when strength < 1; masks are fitted to its size before their mixtures become vectors).
    """
    import numpy as np

    from ..fast import arbitrary
    from ..fast.apply import fit_style_weights

    chosen = np.asarray(chosen, np.float32)

    def weights(pixels):
        own = arbitrary.style_vector(predictor, pixels, style_size) if strength < 1 else None
        mixture = fit_style_weights(chosen, *pixels.shape[:2]) if chosen.ndim == 3 else chosen
        return arbitrary.blend(vectors, mixture, strength, own)

    return weights
