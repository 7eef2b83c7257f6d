"""Every notebook in notebooks/ runs from top to bottom (nbclient, kernel python3), and is committed without outputs.

They run as CI runs them: random weights, a small size, a few iterations, the images from ../shared/images beside
the checkout, or two small synthetic pictures when that folder is absent. The working folder is notebooks/, as for
a learner who opens them in Jupyter.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SHARED_IMAGES = ROOT.parent / "shared" / "images"
ITERATIONS = 3


def images(tmp_path):
    """(content, style) paths: the shared test pictures, or two synthetic ones written into tmp_path."""
    content, style = SHARED_IMAGES / "tubingen.jpg", SHARED_IMAGES / "starry_night.jpg"
    if content.is_file() and style.is_file():
        return content, style
    import imageio.v3 as iio

    y, x = np.mgrid[0:60, 0:80]
    content = tmp_path / "content.png"
    iio.imwrite(content, np.stack([x * 3, y * 4, 255 - (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8))
    style = tmp_path / "style.png"
    stripes = 255 * ((x + 2 * y) // 6 % 2)
    iio.imwrite(style, np.stack([stripes, 255 - stripes, (x * 7) % 256], axis=-1).astype(np.uint8))
    return content, style


def test_there_are_notebooks():
    assert {path.name for path in NOTEBOOKS} >= {
        "art_generation.ipynb",
        "course_tf2.ipynb",
        "fast_style_transfer.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(path):
    text = path.read_text(encoding="utf-8")
    assert "output_type" not in text
    notebook = json.loads(text)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"][:1]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    content, style = images(tmp_path)
    output = tmp_path / "output"
    environment = {
        "NEURAL_STYLE_WEIGHTS": "random",
        "NEURAL_STYLE_CONTENT": str(content),
        "NEURAL_STYLE_STYLE": str(style),
        "NEURAL_STYLE_SIZE": "32x48",
        "NEURAL_STYLE_ITERATIONS": str(ITERATIONS),
        "NEURAL_STYLE_OUTPUT": str(output),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)  # the kernel inherits the test's environment
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) >= 3  # the images and the cost curve are shown inline
    text = "".join(output.get("text", "") for output in outputs)
    if path.name == "art_generation.ipynb":
        assert "Iteration 0 :\ntotal cost = " in text  # the article's printout, and its files
        assert sorted(os.listdir(output)) == ["0.png", "generated_image.jpg"]
    elif path.name == "course_tf2.ipynb":
        assert "Epoch 0: total cost " in text  # the course's printout, and its file
        assert sorted(os.listdir(output)) == ["image_0.jpg"]
    elif path.name == "fast_style_transfer.ipynb":
        assert "step 0: J = " in text  # the written-out step, then model.fit's model file
        assert sorted(os.listdir(output)) == ["fast_style.keras"]
