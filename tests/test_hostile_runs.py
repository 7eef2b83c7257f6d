"""Issue 10: runs that meet hostile numbers, sizes, paths and signals: one line, the right exit code, nothing lost."""

import importlib

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style import weights as W
from neural_style.cli import main
from neural_style.weights import VGGWeights
from tests.fixtures import save_mat, vgg_mat_layers

cli_stylize = importlib.import_module("neural_style.cli.stylize")
HEIGHT, WIDTH = 24, 32


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    paths = {"content": folder / "content.png", "style": folder / "style.png"}
    for path in paths.values():
        iio.imwrite(path, rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))
    return paths


@pytest.fixture
def cli(pictures, mat_file, capfd, monkeypatch):
    """Runs the main job in-process (plain tf.function, no XLA); returns (exit code, stdout, stderr lines)."""
    options_from_args = cli_stylize.options_from_args
    monkeypatch.setattr(
        cli_stylize, "options_from_args", lambda args: {**options_from_args(args), "jit_compile": False}
    )

    def run(*argv, content=None, style=None, weights=None):
        code = main(
            [
                "--content",
                str(content or pictures["content"]),
                "--style",
                str(style or pictures["style"]),
                "--weights",
                str(weights or mat_file[0]),
                "--height",
                str(HEIGHT),
                "--width",
                str(WIDTH),
                "--quiet",
                *map(str, argv),
            ]
        )
        out, err = capfd.readouterr()
        return code, out, err.splitlines()

    return run


def one_line(code, out, err, expected_code=2):
    assert (code, out, len(err)) == (expected_code, "", 1), err
    assert err[0].startswith("neural-style: error: ") and "Traceback" not in err[0]
    return err[0]


# ---------------------------------------------------------------------------------------------------------------------
# Item 5: a run whose very first cost is not finite writes nothing; an existing --output is kept


def test_first_cost_not_finite_writes_nothing_and_blames_the_weights(cli, tmp_path):
    # Filters 1000 times too large (still below MAX_WEIGHT) make conv5_1's activations overflow float32.
    weights = W.random_vgg_weights(width_divisor=16)
    layers = {name: (kernel * 1000, bias) for name, (kernel, bias) in weights.layers.items()}
    assert max(float(np.abs(kernel).max()) for kernel, _ in layers.values()) < W.MAX_WEIGHT
    path = tmp_path / "loud.mat"
    save_mat(path, vgg_mat_layers(VGGWeights(layers=layers, source="x")))
    output = tmp_path / "out.png"
    output.write_bytes(b"an earlier result")
    line = one_line(*cli("--output", output, "--iterations", 3, "--save-every", 0, weights=path), expected_code=1)
    assert "the cost of the starting image is already not finite (J_content = inf, J_style = nan)" in line
    assert "check the weights" in line and line.endswith("nothing was written")
    assert "learning-rate" not in line
    assert output.read_bytes() == b"an earlier result"
