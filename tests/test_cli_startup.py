"""The command answers at once: --help, --version, a bad flag, a bad value and a missing file are answered without
loading TensorFlow (it is loaded when the work starts), and `import neural_style` loads it only when a name is used.

Each case runs in a fresh interpreter, since this test process has long loaded TensorFlow. How long an answer takes
is measured in docs/performance.md, not asserted here; that TensorFlow stays unloaded is what makes it quick.
"""

import importlib
import json
import subprocess
import sys

import pytest

import neural_style

PROBE = """
import json, sys
from neural_style.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules}), file=sys.stderr)
"""


def answer(*argv, cwd=None):
    """Runs `neural-style ARGV` in a fresh interpreter; returns (exit code, whether TensorFlow was loaded, stderr)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    *lines, last = result.stderr.strip().splitlines()
    report = json.loads(last)
    return report["code"], report["tensorflow"], lines


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["demo", "--help"],
        ["weights", "--help"],
        ["visualize", "--help"],
        ["visualize", "maps", "--help"],
        ["visualize", "sweep", "--help"],
        ["visualize", "maximize", "--help"],
        ["batch", "--help"],
        ["video", "--help"],
        ["video", "--model", "--help"],
        ["train", "--help"],
        ["apply", "--help"],
        ["export", "--help"],
        ["serve", "--help"],
    ],
)
def test_help_and_version_do_not_load_tensorflow(argv):
    code, tensorflow, _ = answer(*argv)
    assert code == 0 and not tensorflow


def test_version_is_the_packages():
    result = subprocess.run([sys.executable, "-m", "neural_style", "--version"], capture_output=True, text=True)
    assert result.stdout.strip() == f"neural-style {neural_style.__version__}"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--content", "a.jpg", "--stlye", "b.jpg"], "unrecognized arguments: --stlye; did you mean --style?"),
        (["--content", "{photo}", "--style", "{photo}", "--output", "o.jpg", "--iterations", "0"], "--iterations"),
        (["--content", "{photo}", "--style", "{photo}", "--output", "o.jpg", "--alpha", "ten"], "invalid float"),
        (["--content", "{photo}", "--style", "{photo}", "--output", "o.jpg", "--pooling", "min"], "--pooling"),
        (["--content", "{photo}", "--style", "{photo}", "--output", "o.jpg", "--content-layer", "conv6_1"], "conv6_1"),
        (["--content", "absent.jpg", "--style", "{photo}", "--output", "o.jpg"], "content: image not found: absent"),
        (["--content", "{photo}", "--style", "absent.jpg", "--output", "o.jpg"], "style: image not found: absent"),
        (["--content", "{photo}", "--style", "{photo}", "--output", "{photo}"], "is also an input"),
        (["demo"], "the following arguments are required: OUT"),
        (["visualize", "maps", "{photo}", "--layer", "conv9_9", "--output", "m.png"], "conv9_9"),
        (["batch", "--contents", "absent/", "--styles", "{photo}", "--output-dir", "g"], "absent/: no such file"),
        (["batch", "--contents", "{photo}", "--styles", "{photo}", "--output-dir", "g", "--iterations", "0"], "0"),
        (["video", "--content", "absent.mp4", "--style", "{photo}", "--output", "o.mp4"], "not found: absent.mp4"),
        (["serve", "--port", "70000"], "port must be 0 (a free port) to 65535"),
        (["serve", "--token", "short"], "token must be at least 8"),
        (["serve", "--models", "absent/"], "models absent/: not a folder"),
    ],
)
def test_bad_input_is_one_line_without_tensorflow(argv, message, tmp_path):
    from neural_style.demo import PHOTO

    argv = [arg.format(photo=PHOTO) for arg in argv]
    code, tensorflow, lines = answer(*argv, cwd=tmp_path)
    assert code == 2 and not tensorflow
    assert len(lines) == 1 and lines[0].startswith("neural-style") and message in lines[0], lines


def test_import_loads_tensorflow_only_when_a_name_is_used():
    script = """
import sys
import neural_style
before = "tensorflow" in sys.modules
assert set(neural_style.__all__) <= set(dir(neural_style))
from neural_style import compute_style_cost, CONFIG
import neural_style.stylize  # the submodule, then the package's name of the same name: still the function
print(before, "tensorflow" in sys.modules, callable(neural_style.stylize), type(neural_style.stylize).__name__)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True", "True", "function"], result.stderr
    # TensorFlow's native start-up lines (oneDNN, CUDA probing) are kept off the terminal.
    assert "oneDNN" not in result.stderr and "cuda" not in result.stderr.lower(), result.stderr


def test_every_public_name_resolves_to_what_its_module_defines():
    exported = {name: module for module, names in neural_style._EXPORTS.items() for name in names}
    assert sorted(exported) == sorted(neural_style.__all__)
    for name, module in exported.items():
        assert getattr(neural_style, name) is getattr(importlib.import_module(f"neural_style.{module}"), name), name


def test_a_missing_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        neural_style.no_such_name  # noqa: B018
