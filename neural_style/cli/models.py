"""`neural-style models [--json]`: the networks `apply --model NAME` and `sheet --model NAME` know: the bundled ones
and the user's (bundled.models_folder(): the .npz files `neural-style import-model` writes, .keras networks
`neural-style train` wrote, .tflite files `neural-style export --tflite` wrote), with their kind, styles, source and
licence. Nothing is run: a .npz file's description is its JSON member, a .keras file's styles its config.json, read
with a bounded read, a .tflite file's its inputs as LiteRT reads them."""

import json

from . import common

COLUMNS = ("name", "kind", "styles", "licence", "source")


def build_parser():
    """The models command's parser."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} models",
        description="List the networks `neural-style apply --model NAME` takes: the bundled ones, and yours in "
        "$NEURAL_STYLE_MODELS (else ~/.local/share/neural-style/models): imported (`neural-style import-model`) "
        "or trained (`neural-style train`).",
    )
    parser.add_argument("--json", action="store_true", help="one JSON list on stdout instead of a table")
    return parser


def bundled_rows():
    """
    The bundled networks' rows.

    Returns:
    rows -- list of dicts: name, kind, styles, licence, source (the network's origin), path (None)
    """
    from ..fast import bundled

    rows = []
    for name in bundled.BUNDLED:
        meta = bundled.bundled_meta(name)
        rows.append(_row(name, meta, None))
    return rows


def user_rows(folder=None):
    """
    The rows of the user's networks, by file name.

    Arguments:
    folder -- where they are (default: bundled.models_folder())

    Returns:
    rows -- list of dicts: name (the file's stem, as --model takes it), kind, styles, licence, source, path; a file
            that cannot be read gets kind "unreadable" and its reason in "problem"
    """
    from ..checks import OptionError
    from ..fast import bundled

    folder = bundled.models_folder() if folder is None else folder
    if not folder.is_dir():
        return []
    rows = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in (".npz", ".keras", ".tflite"):
            continue
        try:
            if path.suffix.lower() == ".npz":
                rows.append(_row(path.stem, bundled.network_meta(path), str(path)))
            elif path.suffix.lower() == ".tflite":
                rows.append(tflite_row(path))
            else:
                rows.append(keras_row(path))
        except OptionError as error:
            # One damaged file must not hide the others: it is listed, with what is wrong with it.
            rows.append(
                {
                    "name": path.stem,
                    "kind": "unreadable",
                    "styles": None,
                    "licence": "unknown",
                    "source": str(path),
                    "path": str(path),
                    "problem": " ".join(str(error).split()),
                }
            )
    return rows


def _row(name, meta, path):
    """A row from a network file's description."""
    kind = meta.get("kind", "styles")
    return {
        "name": name,
        "kind": kind,
        "styles": meta.get("styles", "any painting" if kind == "arbitrary" else None),
        "licence": meta.get("licence", "unknown"),
        "source": meta.get("origin") or path,
        "path": path,
    }


def keras_row(path):
    """
    The row of a .keras TransformNet, from its config.json alone (its weights are neither read nor loaded).

    Arguments:
    path -- the .keras file (a Path)

    Returns:
    row -- dict: name, kind "styles", styles (the config's), licence ("yours" for a network trained here, else the
           one its source gives), source (the file), path; OptionError (one line) for a file that is not such a
           network
    """
    from ..fast import model_file

    arguments = model_file.read_arguments(path)
    styles = arguments.get("styles", 1)
    source = arguments.get("source") if isinstance(arguments.get("source"), dict) else {}
    return {
        "name": path.stem,
        "kind": "styles",
        "styles": styles,
        # A network trained here is the user's own; one imported says whose it is.
        "licence": str(source.get("licence", "yours")),
        "source": str(source.get("origin", path)),
        "path": str(path),
    }


def tflite_row(path):
    """
    The row of a .tflite network (`neural-style export --tflite`'s), from its inputs as LiteRT reads them (nothing
    is run).

    Arguments:
    path -- the .tflite file (a Path)

    Returns:
    row -- dict: name, kind "styles", styles (its style_weights input's width; 1 without one), licence "yours",
           source and path (the file); OptionError (one line) for a file LiteRT cannot read
    """
    from ..checks import OptionError
    from ..fast import lite

    try:
        styles = lite.styles_of(path)
    except ValueError as error:  # LiteRT's word for a file that is not a model
        reason = " ".join(str(error).split())[:160]
        raise OptionError(f"model {path}: not a TFLite model LiteRT can run ({reason})", "model") from None
    return {
        "name": path.stem,
        "kind": "styles",
        "styles": styles,
        "licence": "yours",
        "source": str(path),
        "path": str(path),
    }


def main(argv):
    """
    Runs the models command.

    Arguments:
    argv -- command-line arguments (without `neural-style models`)

    Returns:
    code -- 0
    """
    args = build_parser().parse_args(argv)
    rows = bundled_rows() + user_rows()
    if args.json:
        print(json.dumps(rows))
        return 0
    table = [[str(row[column]) if row[column] is not None else "?" for column in COLUMNS] for row in rows]
    widths = [max(len(column), *(len(line[index]) for line in table)) for index, column in enumerate(COLUMNS)]
    print("  ".join(column.upper().ljust(width) for column, width in zip(COLUMNS, widths)).rstrip())
    for line in table:
        print("  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip())
    return 0
