"""`neural-style demo OUT`: the main job on the two pictures shipped inside the package, nothing else needed."""

import configparser
import os

import imageio.v3 as iio
import numpy as np

from neural_style import demo
from neural_style.cli import main
from neural_style.images import load_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_pictures_and_their_credits_ship_with_the_package():
    sources = open(os.path.join(os.path.dirname(demo.PHOTO), "SOURCES.md"), encoding="utf-8").read()
    for picture, credit in (("tubingen.jpg", "Andreas Praefcke"), ("starry_night.jpg", "public domain")):
        path = os.path.join(os.path.dirname(demo.PHOTO), picture)
        assert os.path.getsize(path) < 100_000  # small copies only
        assert max(iio.imread(path).shape[:2]) == 512
        assert picture in sources and credit in sources
    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, "setup.cfg"))
    shipped = setup["options.package_data"]["neural_style.demo"]
    assert "*.jpg" in shipped and "SOURCES.md" in shipped


def test_demo_runs_the_main_job_on_the_bundled_pictures(tmp_path, monkeypatch, capsys):
    # No real weights here: the demo falls back to random filters and says so.
    monkeypatch.setenv("NEURAL_STYLE_WEIGHTS", str(tmp_path / "absent.mat"))
    out = tmp_path / "demo.png"
    # Options after OUT are the main job's and win over the demo's: a tiny run that starts from the photo itself.
    code = main(["demo", str(out), "--max-size", "32", "--iterations", "1", "--noise-ratio", "0", "--seed", "0"])
    assert code == 0
    picture = iio.imread(out).astype(np.float64)
    assert picture.shape == (24, 32, 3)  # 512x384 with its longest side 32
    # One Adam step moves a pixel by at most the learning rate (2.0: the first step is lr * g / |g|), so the
    # picture is the photo within 2 grey levels, plus 0.5 for rounding to uint8.
    photo = load_image(demo.PHOTO, max_size=32)
    assert np.abs(picture - photo).max() <= 2.0 + 0.5 + 1e-3
    err = capsys.readouterr().err
    assert "--weights random gives demo-quality results" in err
    assert f"demo: painted {demo.CREDITS[demo.PHOTO]}" in err and "next:" in err and "weights download" in err


def test_demo_uses_the_real_weights_when_they_are_installed(tmp_path, monkeypatch):
    from neural_style.cli.demo import weights_for_demo

    weights = tmp_path / "imagenet-vgg-verydeep-19.mat"
    monkeypatch.setenv("NEURAL_STYLE_WEIGHTS", str(weights))
    assert weights_for_demo() == "random"
    weights.write_bytes(b"")
    assert weights_for_demo() == str(weights)
