"""Tests of the main job, `neural-style --content PHOTO --style PAINTING --output OUT`.

Most run `neural_style.cli.main(argv)` in-process on the small fixture .mat (tests/fixtures.py) and 24x32 images;
one runs `python -m neural_style` in a subprocess to send it Ctrl-C. The costs the command reports are checked against
the plain-numpy forward pass of tests/reference.py.
"""

import importlib
import os
import signal
import subprocess

import imageio.v3 as iio
import numpy as np
import pytest

from neural_style.cli import common, main
from neural_style.cli.stylize import build_parser, options_from_args
from neural_style.options import StyleOptions
from tests import reference
from tests.fixtures import endless_run, has_a_line, one_error_line, read_jsonl, running, wait_until
from tests.transfers import COST_ROUNDING

# The module, not the function of the same name that the package exports.
stylize_module = importlib.import_module("neural_style.stylize")
cli_stylize = importlib.import_module("neural_style.cli.stylize")
HEIGHT, WIDTH = 24, 32
MEANS = np.array([123.68, 116.779, 103.939])  # the article's CONFIG.MEANS
ARTICLE_STYLE_LAYERS = [("conv1_1", 0.2), ("conv2_1", 0.2), ("conv3_1", 0.2), ("conv4_1", 0.2), ("conv5_1", 0.2)]
ALL_LAYERS = [
    "conv1_1",
    "conv1_2",
    "avgpool1",
    "conv2_1",
    "conv2_2",
    "avgpool2",
    "conv3_1",
    "conv3_2",
    "conv3_3",
    "conv3_4",
    "avgpool3",
    "conv4_1",
    "conv4_2",
    "conv4_3",
    "conv4_4",
    "avgpool4",
    "conv5_1",
    "conv5_2",
    "conv5_3",
    "conv5_4",
    "avgpool5",
]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A 24x32 content picture (smooth shapes) and a 24x32 style picture (stripes and noise), as PNG (lossless)."""
    folder = tmp_path_factory.mktemp("images")
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    content = np.stack([x * 8, y * 10, 255 - ((x - 16) ** 2 + (y - 12) ** 2)], axis=-1)
    stripes = 255 * ((x + y) // 4 % 2)
    noise = np.random.default_rng(1).integers(0, 255, (HEIGHT, WIDTH))
    style = np.stack([stripes, noise, 255 - stripes], axis=-1)
    paths = {"content": folder / "content.png", "style": folder / "style.png", "wide": folder / "wide.png"}
    iio.imwrite(paths["content"], np.clip(content, 0, 255).astype(np.uint8))
    iio.imwrite(paths["style"], style.astype(np.uint8))
    iio.imwrite(paths["wide"], np.zeros((30, 60, 3), np.uint8) + 100)  # 1:2 aspect ratio, for the size options
    return paths


@pytest.fixture
def job(images, mat_file, tmp_path, capfd, monkeypatch):
    """Runs the main job in-process on the fixture weights; returns (exit code, stdout, stderr lines).

    XLA compilation takes most of the time of a 3-iteration run at 24x32, so runs use plain tf.function unless
    xla=True (what the command does).
    """
    options_from_args_with_xla = cli_stylize.options_from_args

    def run(*extra, weights=True, xla=False, **paths):
        if xla:
            monkeypatch.setattr(cli_stylize, "options_from_args", options_from_args_with_xla)
        else:
            monkeypatch.setattr(
                cli_stylize,
                "options_from_args",
                lambda args: {**options_from_args_with_xla(args), "jit_compile": False},
            )
        argv = [
            "--content",
            str(paths.get("content", images["content"])),
            "--style",
            str(paths.get("style", images["style"])),
            "--output",
            str(paths.get("output", tmp_path / "out.png")),
        ]
        if weights:
            argv += ["--weights", str(mat_file[0])]
        code = main(argv + [str(item) for item in extra])
        out, err = capfd.readouterr()
        return code, out, err.splitlines()

    return run


def small(*extra):
    """Options for a quick run: the fixture size, a few iterations, no intermediate images."""
    return ["--height", HEIGHT, "--width", WIDTH, "--iterations", 3, "--save-every", 0, "--quiet", *extra]


# ---------------------------------------------------------------------------------------------------------------------
# Independent costs (numpy float64), as the article defines them


def normalized(path):
    return (iio.imread(path).astype(np.float64) - MEANS)[None]


def reference_costs(weights, content, style, generated, style_layers=ARTICLE_STYLE_LAYERS, alpha=10, beta=40):
    """The article's J, J_content and J_style (content layer conv4_2), from tests/reference.py."""
    style_grams = reference.grams(style, weights, [name for name, _ in style_layers])
    J_content, J_style = reference.style_transfer_costs(
        generated, content, style_grams, weights, "conv4_2", style_layers
    )
    return alpha * J_content + beta * J_style, J_content, J_style


# ---------------------------------------------------------------------------------------------------------------------
# Defaults and options


def test_defaults_reproduce_the_article(monkeypatch):
    monkeypatch.delenv("NEURAL_STYLE_WEIGHTS", raising=False)
    args = build_parser().parse_args(["--content", "c.jpg", "--style", "s.jpg", "--output", "o.jpg"])
    options = StyleOptions(**options_from_args(args)).validate()
    assert options.weights == "pretrained-model/imagenet-vgg-verydeep-19.mat"
    assert (options.height, options.width, options.max_size) == (None, None, None)  # None: the article's 300x400
    assert options.iterations == 200
    assert options.content_layer == "conv4_2"
    assert [tuple(layer) for layer in options.style_layers] == ARTICLE_STYLE_LAYERS
    assert (options.alpha, options.beta, options.learning_rate, options.noise_ratio) == (10, 40, 2.0, 0.6)
    assert options.pooling == "avg"
    assert (options.save_every, options.output_dir) == (20, "output/")
    assert options.seed is None
    monkeypatch.setenv("NEURAL_STYLE_WEIGHTS", "/data/vgg.mat")
    assert (
        options_from_args(build_parser().parse_args(["--content", "c", "--style", "s", "--output", "o.jpg"]))["weights"]
        == "/data/vgg.mat"
    )


def test_default_size_is_300x400(job, tmp_path):
    code, _, _ = job("--iterations", 1, "--save-every", 0, "--quiet")
    assert code == 0
    assert iio.imread(tmp_path / "out.png").shape == (300, 400, 3)


@pytest.mark.parametrize(
    "options, shape",
    [
        (["--height", 12, "--width", 20], (12, 20)),
        (["--max-size", 40], (20, 40)),  # the longest side 40, the 1:2 aspect ratio kept
        (["--height", 16], (16, 32)),  # one side alone keeps the aspect ratio too
    ],
)
def test_size_options_give_the_output_size(job, images, tmp_path, options, shape):
    code, _, _ = job(*options, "--iterations", 1, "--save-every", 0, "--quiet", content=images["wide"])
    assert code == 0
    assert iio.imread(tmp_path / "out.png").shape == (*shape, 3)


def test_style_layers_are_parsed():
    parse = build_parser().parse_args
    base = ["--content", "c", "--style", "s", "--output", "o.jpg"]
    args = parse(base + ["--style-layers", "conv1_1:0.5, conv3_1:0.25,conv5_1"])
    assert options_from_args(args)["style_layers"] == [("conv1_1", 0.5), ("conv3_1", 0.25), ("conv5_1", 1.0)]


def test_costs_reported_are_the_articles_costs(job, mat_file, images, tmp_path):
    """--history's first entry is J, J_content, J_style of the seeded noise image, by an independent numpy pass."""
    history = tmp_path / "costs.jsonl"
    code, _, _ = job(*small("--seed", 7, "--history", history))
    assert code == 0
    content, style = normalized(images["content"]), normalized(images["style"])
    expected = reference_costs(mat_file[1], content, style, reference.noise_image(content, seed=7))
    first = read_jsonl(history)[0]
    np.testing.assert_allclose([first["J"], first["J_content"], first["J_style"]], expected, rtol=COST_ROUNDING)


def test_style_layers_alpha_and_beta_reach_the_cost(job, mat_file, images, tmp_path):
    history = tmp_path / "costs.jsonl"
    layers = [("conv2_1", 0.7), ("conv4_1", 0.3)]
    code, _, _ = job(
        *small(
            "--seed", 1, "--history", history, "--style-layers", "conv2_1:0.7,conv4_1:0.3", "--alpha", 2, "--beta", 0.5
        )
    )
    assert code == 0
    content, style = normalized(images["content"]), normalized(images["style"])
    expected = reference_costs(
        mat_file[1], content, style, reference.noise_image(content, 1), layers, alpha=2, beta=0.5
    )
    first = read_jsonl(history)[0]
    np.testing.assert_allclose([first["J"], first["J_content"], first["J_style"]], expected, rtol=COST_ROUNDING)


def test_same_seed_gives_the_same_pixels(job, tmp_path):
    outputs = [tmp_path / name for name in ("a.png", "b.png", "c.png")]
    for output, seed, xla in zip(outputs, (5, 5, 6), (True, True, False)):
        assert job(*small("--seed", seed), output=output, xla=xla)[0] == 0
    a, b, c = (iio.imread(path) for path in outputs)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).max() > 0  # another seed, another picture: the seed is what made them equal


def test_save_every_writes_the_articles_images(job, tmp_path):
    folder = tmp_path / "steps"
    code, _, _ = job("--height", HEIGHT, "--width", WIDTH, "--iterations", 41, "--output-dir", folder, "--quiet")
    assert code == 0
    assert sorted(os.listdir(folder)) == ["0.png", "20.png", "40.png"]  # the article: every 20 iterations
    first, last = iio.imread(folder / "0.png"), iio.imread(folder / "40.png")
    assert first.shape == last.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(first.astype(int) - last).mean() > 1  # the picture changed between them
    code, _, _ = job(*small("--save-every", 1, "--output-dir", tmp_path / "each"))
    assert code == 0
    assert sorted(os.listdir(tmp_path / "each")) == ["0.png", "1.png", "2.png"]


def test_save_every_0_writes_no_intermediate_images(job, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, _ = job(*small(), output="result.png")
    assert code == 0
    assert sorted(os.listdir(tmp_path)) == ["result.png"]  # no output/ folder


def test_history_has_one_json_object_per_iteration(job, tmp_path):
    history = tmp_path / "logs" / "costs.jsonl"  # a folder that does not exist yet
    code, _, _ = job(
        "--height", HEIGHT, "--width", WIDTH, "--iterations", 6, "--save-every", 0, "--quiet", "--history", history
    )
    assert code == 0
    entries = read_jsonl(history)
    assert [entry["iteration"] for entry in entries] == list(range(6))
    for entry in entries:
        assert set(entry) == {"iteration", "seconds", "J", "J_content", "J_style"}
        assert entry["J"] == pytest.approx(10 * entry["J_content"] + 40 * entry["J_style"], rel=1e-5)
    seconds = [entry["seconds"] for entry in entries]
    assert seconds == sorted(seconds) and seconds[0] >= 0
    assert entries[-1]["J"] < entries[0]["J"]  # Adam lowers the cost


def test_quiet_prints_nothing(job):
    code, out, err = job(*small())
    assert (code, out, err) == (0, "", [])


def test_summary_line_and_random_weights_note(job, tmp_path):
    code, out, err = job(
        "--height", HEIGHT, "--width", WIDTH, "--iterations", 2, "--save-every", 0, "--weights", "random", weights=False
    )
    assert code == 0 and out == ""
    assert err[0] == (
        "neural-style: note: --weights random gives demo-quality results; for the real thing run "
        "`neural-style weights download` (see pretrained-model/README.md)"
    )
    last = err[-1]
    assert last.startswith(f"wrote {tmp_path / 'out.png'} (32x24) in ") and last.endswith(" s")
    assert "2/2" in "".join(err[1:-1])  # the progress bar reached the end


# ---------------------------------------------------------------------------------------------------------------------
# Bad input: one line on stderr, the right exit code, no traceback, inputs untouched


def test_missing_image(job, tmp_path):
    line = one_error_line(*job(*small(), content=tmp_path / "absent.jpg"))
    assert line == f"neural-style: error: content: image not found: {tmp_path / 'absent.jpg'}"
    line = one_error_line(*job(*small(), style=tmp_path / "absent-style.png"))
    assert line == f"neural-style: error: style: image not found: {tmp_path / 'absent-style.png'}"
    assert not (tmp_path / "out.png").exists()


def test_a_folder_given_as_an_image(job, tmp_path):
    line = one_error_line(*job(*small(), content=tmp_path))
    assert str(tmp_path) in line


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_image(job, tmp_path, images):
    locked = tmp_path / "locked.png"
    locked.write_bytes(images["content"].read_bytes())
    locked.chmod(0)
    try:
        line = one_error_line(*job(*small(), content=locked))
    finally:
        locked.chmod(0o644)
    assert "locked.png" in line


def test_a_file_that_is_not_an_image(job, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture\n")
    line = one_error_line(*job(*small(), style=text))
    assert line.startswith(f"neural-style: error: style: {text}: not a readable image")
    assert "give a JPEG, PNG" in line and "pip install" not in line
    assert text.read_text() == "this is not a picture\n"


def test_missing_weights_say_how_to_get_them(job, tmp_path, monkeypatch):
    line = one_error_line(*job(*small("--weights", tmp_path / "vgg.mat"), weights=False))
    assert str(tmp_path / "vgg.mat") in line
    assert "neural-style weights download" in line and "pretrained-model/README.md" in line
    assert "--weights random" in line
    monkeypatch.setenv("NEURAL_STYLE_WEIGHTS", str(tmp_path / "elsewhere.mat"))
    line = one_error_line(*job(*small(), weights=False))
    assert "elsewhere.mat" in line and "neural-style weights download" in line


def test_weights_that_are_not_vgg(job, tmp_path):
    bogus = tmp_path / "vgg.mat"
    bogus.write_bytes(b"\x00" * 200)
    line = one_error_line(*job(*small("--weights", bogus), weights=False))
    assert "vgg.mat" in line


@pytest.mark.parametrize("which", ["content", "style"])
def test_output_equal_to_an_input_is_refused(job, images, tmp_path, which):
    before = images[which].read_bytes()
    # The same file under another spelling of its path is still refused.
    same = os.path.join(os.path.dirname(images[which]), "..", images[which].parent.name, images[which].name)
    line = one_error_line(*job(*small(), output=same))
    assert "is also an input" in line and "choose another output path" in line
    assert images[which].read_bytes() == before


def test_history_equal_to_an_input_is_refused(job, images):
    before = images["style"].read_bytes()
    line = one_error_line(*job(*small("--history", images["style"])))
    assert line.startswith("neural-style: error: --history") and "is also an input" in line
    assert images["style"].read_bytes() == before


def test_output_folder_that_cannot_be_made(job, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = one_error_line(*job(*small(), output=blocker / "out.png"))
    assert line == f"neural-style: error: --output: {blocker} is a file, so the folder {blocker} cannot be made"
    line = one_error_line(
        *job("--height", HEIGHT, "--width", WIDTH, "--iterations", 2, "--quiet", "--output-dir", blocker / "steps")
    )
    assert line.startswith("neural-style: error: --output-dir: ") and "is a file" in line
    assert blocker.read_text() == "x"
    assert not (tmp_path / "out.png").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_output_folder_without_permission(job, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        line = one_error_line(*job(*small(), output=locked / "out.png"))
    finally:
        locked.chmod(0o700)
    assert "permission denied" in line


def test_output_under_a_symbolic_link_to_nothing(job, tmp_path):
    # os.path.exists is False for the link, so the walk up to an existing folder passed it; writing then failed.
    os.symlink(tmp_path / "gone", tmp_path / "link")
    line = one_error_line(*job(*small(), output=tmp_path / "link" / "out.png"))
    assert line == (
        f"neural-style: error: --output: {tmp_path / 'link'} is a symbolic link to {tmp_path / 'gone'}, which does "
        "not exist; make that folder, or give another path"
    )
    assert not (tmp_path / "gone").exists()


def test_an_option_of_one_value_takes_a_negative_number_or_list_after_it():
    parser = common.ArgumentParser(prog="p")
    parser.add_argument("--mix")
    parser.add_argument("--rate", type=float)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args(["--mix", "-1,2", "--rat", "-1e-3", "--quiet", "--", "-5"])
    assert (args.mix, args.rate, args.quiet, args.rest) == ("-1,2", -0.001, True, ["-5"])
    assert parser.parse_args(["--mix=-0.5,1.5", "--rate", "-inf"]).rate == float("-inf")


def test_output_that_is_a_folder_or_not_an_image_type(job, tmp_path):
    folder = tmp_path / "pictures.png"
    folder.mkdir()
    line = one_error_line(*job(*small(), output=folder))
    assert line == f"neural-style: error: --output {folder} is a folder; give a file name"
    line = one_error_line(*job(*small(), output=tmp_path / "out.txt"))
    assert "unknown image type" in line


@pytest.mark.parametrize("option", ["--content-layer", "--style-layers"])
def test_unknown_layer_lists_the_valid_ones(job, option):
    line = one_error_line(*job(*small(option, "conv6_1")))
    assert line.startswith("neural-style: error: unknown layer conv6_1; valid layers: ")
    assert line.split("valid layers: ")[1].split(", ") == ALL_LAYERS


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--height", 0, "--height must be a positive whole number of pixels, got 0"),
        ("--width", -3, "--width must be a positive whole number of pixels, got -3"),
        ("--max-size", 0, "--max-size must be a positive whole number of pixels, got 0"),
        ("--iterations", 0, "--iterations must be a positive whole number, got 0"),
        ("--iterations", -5, "--iterations must be a positive whole number, got -5"),
        ("--save-every", -1, "--save-every must be a whole number >= 0"),
        ("--learning-rate", 0, "--learning-rate must be > 0"),
        ("--noise-ratio", 1.5, "--noise-ratio must be between 0 and 1"),
        ("--alpha", "nan", "--alpha must be a finite number >= 0"),
        ("--style-layers", "conv1_1:x", "argument --style-layers: 'conv1_1:x' is not name:weight (e.g."),
        ("--iterations", "ten", "argument --iterations: invalid int value: 'ten'"),
        # After the option as typed (not --alpha=-1e3): argparse alone answers "expected one argument".
        ("--alpha", "-1e3", "--alpha must be a finite number >= 0, got -1000.0"),
    ],
)
def test_bad_numbers(job, tmp_path, option, value, message):
    # The bad option comes last, so that it overrides small()'s value of the same option.
    line = one_error_line(*job(*small(), option, value))
    assert message in line
    assert not (tmp_path / "out.png").exists()


def test_missing_required_option(capfd):
    code = main(["--content", "c.png", "--output", "o.png"])
    _, err = capfd.readouterr()
    one_error_line(code, "", err.splitlines())
    assert "the following arguments are required: --style" in err


# ---------------------------------------------------------------------------------------------------------------------
# A cost that is not finite: stop, keep the lowest-cost image, suggest a lower learning rate


def test_huge_learning_rate_stops_and_keeps_the_last_finite_image(job, images, tmp_path):
    history = tmp_path / "costs.jsonl"
    code, out, err = job(*small("--learning-rate", 1e30, "--iterations", 20, "--seed", 3, "--history", history))
    line = one_error_line(code, out, err, expected_code=1)
    assert "try a lower --learning-rate (now 1e+30)" in line
    assert f"to {tmp_path / 'out.png'}" in line
    entries = read_jsonl(history)
    assert all(np.isfinite(entry["J"]) for entry in entries) and len(entries) < 20
    # The one finite image a step of 1e30 leaves is the seeded starting image, as the article makes it.
    start = reference.noise_image(normalized(images["content"]), seed=3)
    expected = np.clip(np.rint(start[0].astype(np.float64) + MEANS), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(iio.imread(tmp_path / "out.png"), expected)


def test_non_finite_cost_midway(job, tmp_path, monkeypatch):
    """A cost that turns NaN at the fourth step (total_cost monkeypatched) stops the run there, with exit code 1."""
    import tensorflow as tf

    optimize_module = importlib.import_module("neural_style.optimize")
    total_cost, calls = optimize_module.total_cost, tf.Variable(0)

    def breaks_at_the_fourth_step(J_content, J_style, alpha=10, beta=40):
        calls.assign_add(1)
        return tf.where(calls > 3, np.float32("nan"), total_cost(J_content, J_style, alpha, beta))

    monkeypatch.setattr(optimize_module, "total_cost", breaks_at_the_fourth_step)
    history = tmp_path / "costs.jsonl"
    code, out, err = job(*small("--iterations", 10, "--history", history))
    line = one_error_line(code, out, err, expected_code=1)
    assert line.startswith("neural-style: error: the cost became nan at iteration 3; try a lower --learning-rate")
    assert [entry["iteration"] for entry in read_jsonl(history)] == [0, 1, 2]
    assert iio.imread(tmp_path / "out.png").shape == (HEIGHT, WIDTH, 3)


# ---------------------------------------------------------------------------------------------------------------------
# Ctrl-C


@pytest.mark.slow
def test_ctrl_c_saves_the_image_and_exits_130(images, tmp_path):
    history, output = tmp_path / "costs.jsonl", tmp_path / "out.png"
    command = endless_run(images["content"], images["style"], output, history, HEIGHT, WIDTH)
    with running(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path) as process:
        wait_until(process, lambda: has_a_line(history), 120, "no iteration reported")
        assert not output.exists()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("neural-style: error: interrupted after ") and last.endswith(f"so far to {output}")
    done = int(last.split("interrupted after ")[1].split()[0])
    assert 1 <= done < 100000 and len(read_jsonl(history)) == done
    assert iio.imread(output).shape == (HEIGHT, WIDTH, 3)
