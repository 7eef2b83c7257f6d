"""The network a one-pass command paints with, and its styles: --model NAME|FILE, or any painting (--style-image,
the bundled arbitrary-style network), with --style-index, --mix, --style-masks, --strength and --style-size checked
in one place for `apply` and `video`; and the apply command's route (lite_route: LiteRT or Keras), with the LiteRT
route's own checks of the same options, without TensorFlow."""


def add_precision_option(parser):
    """
    --precision for the fast networks' commands: float32, or the convolutions in bfloat16 where the CPU has it.

    Arguments:
    parser -- an ArgumentParser of this package
    """
    from ..layers import PRECISIONS

    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        metavar="|".join(PRECISIONS),
        help="float32 (exact, the default) or bfloat16: the float convolutions in bfloat16, about 1.4x as fast where "
        "the CPU has it (AVX512-BF16 or AMX) or on a GPU, within a few grey levels; float32 elsewhere, with a note",
    )


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
    model = [target] if kind in ("file", "network", "tflite") else []
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

    if kind in ("file", "tflite"):  # a .tflite file gets load_fast_model's line: not a .keras file
        return load_fast_model(target), None
    network = bundled.load_bundled(target) if kind == "bundled" else bundled.load_network(target)
    return network.transform, network.predictor


def painting_options(args, name, styles):
    """
    The painting options (--style-image, --strength, --style-size) checked against the network, the same lines on
    either route: a network that paints its own styles takes none of them; the arbitrary-style network takes at least
    one painting, and no --style-index.

    Arguments:
    args -- parsed options with style_image, strength, style_size, style_index
    name -- the network's name or file, for the messages
    styles -- how many styles the network paints (None: the arbitrary-style network, any painting)

    Returns:
    paintings -- list of paths
    strength -- float in 0..1
    style_size -- int, the painting's side at the predictor
    """
    from ..checks import OptionError
    from ..fast import arbitrary, bundled

    paintings = list(args.style_image or ())
    strength = arbitrary.check_strength(args.strength)
    style_size = arbitrary.check_style_size(args.style_size)
    if styles is not None:
        if paintings:
            raise OptionError(
                f"style_image: {name} paints its own {styles} style{'s' * (styles > 1)}, not a painting; leave "
                f"--style-image out, or use --model {bundled.ARBITRARY} for any painting",
                "style_image",
            )
        if strength != 1 or style_size != arbitrary.STYLE_SIZE:
            given = "strength" if strength != 1 else "style_size"
            raise OptionError(f"{given} is for --style-image (the arbitrary-style network); leave it out", given)
        return paintings, strength, style_size
    if not paintings:
        raise OptionError(f"{name} paints any painting: give it with --style-image PAINTING", "style_image")
    if args.style_index is not None:
        raise OptionError(
            "style_index chooses a trained network's style; with --style-image leave it out", "style_index"
        )
    return paintings, strength, style_size


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
    from ..fast import arbitrary
    from ..fast.style_choice import style_weights

    arbitrary.check_strength(args.strength)  # before the model is read: a bad value costs nothing
    arbitrary.check_style_size(args.style_size)
    model, predictor = load(kind, target)
    paintings, strength, style_size = painting_options(args, name, None if predictor is not None else model.styles)
    if predictor is None:
        return model, style_weights(model.styles, args.style_index, args.mix, args.style_masks)
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


def lite_route(args, kind, target):
    """
    The apply command's route, chosen here once: LiteRT (TensorFlow Lite's runtime, without importing TensorFlow)
    when the network is a bundled one whose .tflite files give its Keras network's pictures (bundled.lite_check),
    the picture is one file that fits in memory whole, and nothing asks for TensorFlow (tiles, style masks, kept
    colours); else None, the Keras route. The .tflite files are converted on first use (TensorFlow's import, once).

    Arguments:
    args -- the apply command's parsed options
    kind, target -- as resolve gives them

    Returns:
    route -- None (the Keras route), or dict: name, files (bundled.lite_files), check (its min_side, styles),
             choice (lite_choice's); OptionError (one line) for a bad output or style option
    """
    import os

    from ..fast import bundled, lite
    from ..image_files import ImageError, declared_size
    from ..limits import max_image_pixels

    if kind == "tflite":
        return _tflite_route(args, target)
    asks_tensorflow = args.tile_size or args.style_masks or args.preserve_colors
    if kind != "bundled" or asks_tensorflow or getattr(args, "precision", "float32") != "float32":
        return None
    if not os.path.isfile(args.content):
        return None  # a folder (or a missing file, which the Keras route reports in its own words)
    try:
        width, height = declared_size(args.content, max_image_pixels())
    except ImageError:
        return None  # the Keras route names the file and what is wrong with it
    if args.max_memory:
        budget = args.max_memory * 1e9
    else:
        from ..large import available_memory

        budget = available_memory() or 4e9
    if not lite.fits(height, width, budget):
        return None
    # The output and the styles before a first use's conversion: bad input costs nothing.
    check_lite_output(args)
    meta = bundled.bundled_meta(target)
    styles = None if meta.get("kind") == "arbitrary" else int(meta["styles"])
    choice = lite_choice(args, target, styles)
    try:
        # The paintings too: a missing or unreadable one is the Keras route's line, before any conversion.
        for path in reads(args, kind, target):
            declared_size(path, max_image_pixels())
    except (ImageError, OSError):
        return None
    check = bundled.lite_check(target)
    if check is None:
        check = _convert(target, args)
    if not check or not check.get("exact"):
        return None
    return {"name": target, "files": bundled.lite_files(target), "check": check, "choice": choice}


def _convert(name, args):
    """The bundled network's .tflite files converted now (first use), or None where they cannot be (one warning)."""
    import sys

    from ..checks import warn
    from ..fast import bundled

    if not args.quiet and not args.json:
        folder = bundled.lite_files(name)["transform"].parent
        print(f"{name}: converting it for LiteRT, once, into {folder}", file=sys.stderr)

    try:
        from ..fast.export import convert_bundled

        return convert_bundled(name)
    except Exception as error:  # an unwritable models folder, a full disk, the converter's many errors
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        warn(f"{name}: its TFLite files could not be made ({reason}); the Keras route paints instead")
        return None


def check_lite_output(args):
    """
    The output of the LiteRT route's one picture, checked as fast.apply.output_pairs checks a picture's (the same
    lines), without TensorFlow: a picture's extension, and never one of the files the command reads.

    Arguments:
    args -- the apply command's parsed options (content: a file)

    Returns:
    None; OptionError (one line naming output) otherwise
    """
    import os

    from ..checks import OptionError
    from ..image_files import IMAGE_EXTENSIONS
    from ..safety import same_file

    output = os.fspath(args.output)
    if os.path.splitext(output)[1].lower() not in IMAGE_EXTENSIONS:
        raise OptionError(f"output {output}: unknown image type; use one of {', '.join(IMAGE_EXTENSIONS)}", "output")
    inputs = [args.content, *(args.style_image or ())]
    if os.path.exists(output) and any(same_file(output, path) for path in inputs if os.path.exists(path)):
        raise OptionError(
            f"output {output} is also an input; choose another output (inputs are never overwritten)", "output"
        )


def _tflite_route(args, path):
    """
    lite_route for a .tflite file (`neural-style export --tflite`'s): LiteRT or nothing, since there is no Keras
    network to fall back on.

    Returns:
    route -- dict as lite_route's; OptionError (one line) for what only the Keras route does, a picture too large
             to paint whole, or a file LiteRT cannot read
    """
    import os

    from ..checks import OptionError
    from ..fast import lite

    asked = [
        flag
        for flag, given in (
            ("--tile-size", args.tile_size),
            ("--style-masks", args.style_masks),
            ("--preserve-colors", args.preserve_colors),
        )
        if given
    ]
    if asked or os.path.isdir(args.content):
        what = asked[0] if asked else "a folder"
        raise OptionError(
            f"model {path}: a .tflite network paints one picture whole, without {what}; give the .keras file it was "
            "exported from for that",
            "model",
        )
    check_lite_output(args)
    try:
        styles = lite.styles_of(path)
    except ValueError as error:  # LiteRT's word for a file that is not a model
        reason = " ".join(str(error).split())[:160]
        raise OptionError(f"model {path}: not a TFLite model LiteRT can run ({reason})", "model") from None
    choice = lite_choice(args, path, styles)
    check = {"exact": True, "styles": styles, "min_side": lite.MIN_SIDE}
    return {"name": path, "files": {"transform": path}, "check": check, "choice": choice}


def lite_choice(args, name, styles):
    """
    The style options of the LiteRT route, checked as choose checks them for the Keras route (the same lines), from
    the network's description: before a bundled network's files are converted, without TensorFlow.

    Arguments:
    args -- the apply command's parsed options
    name -- the network's name or file
    styles -- how many styles it has (None: the arbitrary-style network, any painting)

    Returns:
    choice -- dict: chosen (the styles' convex weights, or the paintings'), paintings, strength, style_size
    """
    import numpy as np

    from ..checks import OptionError
    from ..fast.style_choice import style_weights

    paintings, strength, style_size = painting_options(args, name, styles)
    choice = {"paintings": paintings, "strength": strength, "style_size": style_size}
    if styles is not None:
        return {**choice, "chosen": np.asarray(style_weights(styles, args.style_index, args.mix, None), np.float32)}
    if len(paintings) == 1 and args.mix is not None:
        raise OptionError("mix mixes several paintings; give them all with --style-image", "mix")
    chosen = style_weights(len(paintings), None, args.mix, None) if len(paintings) > 1 else [1.0]
    return {**choice, "chosen": np.asarray(chosen, np.float32)}


def lite_weights(route):
    """
    The transformer's style input for each picture on the LiteRT route: the chosen styles' weights, or the
    paintings' style vectors from the .tflite predictor, mixed and moved towards the photo's own by --strength.

    Arguments:
    route -- lite_route's

    Returns:
    weights -- function(pixels) -> convex weights (styles,), or a style vector (100,)
    """
    from ..fast import arbitrary, lite
    from ..image_files import read_image
    from ..limits import max_image_pixels

    choice, files = route["choice"], route["files"]
    chosen = choice["chosen"]
    if "predictor" not in files:
        return lambda pixels: chosen
    predictor = lite.interpreter(files["predictor"])
    limit, size, strength = max_image_pixels(), choice["style_size"], choice["strength"]
    vectors = [lite.run_predictor(predictor, read_image(path, limit), size) for path in choice["paintings"]]

    def weights(pixels):
        own = lite.run_predictor(predictor, pixels, size) if strength < 1 else None
        return arbitrary.blend(vectors, chosen, strength, own)

    return weights
