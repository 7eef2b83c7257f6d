"""The serve command's API in process (Starlette's TestClient): every route of the contract, its pictures held
against the library's own calls on the same input (fast.apply.stylize_picture, the arbitrary-style network's
vectors), its command line parsed by the apply command's own parser, and its errors one JSON line each."""

import io
import json
import shlex
import warnings

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("httpx")
with warnings.catch_warnings():  # Starlette 1.x suggests httpx2 for its TestClient; httpx is what it runs on here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from neural_style.cli.apply import build_parser as apply_parser  # noqa: E402
from neural_style.fast import arbitrary, bundled  # noqa: E402
from neural_style.fast.apply import stylize_picture  # noqa: E402
from neural_style.images import preserve_colors  # noqa: E402
from neural_style.serve.app import create_app  # noqa: E402
from neural_style.serve.networks import THUMBNAIL_SIDE, demo_photo  # noqa: E402
from tests.fixtures import smooth_photo  # noqa: E402

BASE = "http://127.0.0.1:8000"


def png(pixels):
    """A picture as PNG bytes (8 bits, rounded)."""
    buffer = io.BytesIO()
    Image.fromarray(np.rint(pixels).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def decoded(data):
    """PNG bytes as a float64 array."""
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGB"), np.float64)


def as_sent(pixels):
    """The picture a client sends, as the server decodes it: rounded to 8 bits."""
    return np.rint(pixels).astype(np.float32)


PHOTO = as_sent(smooth_photo(72, 96, seed=1))
PAINTING = as_sent(smooth_photo(64, 64, seed=2)[:, ::-1] * 0.5 + 60 * (np.arange(64) % 8 < 4)[None, :, None])
PAINTING2 = as_sent(255 - smooth_photo(80, 60, seed=3))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # Keras's networks (lite=False): the pictures held against the library's calls; LiteRT's route is tested below.
    app = create_app(port=8000, weights="random", scratch_parent=tmp_path_factory.mktemp("scratch"), lite=False)
    with TestClient(app, base_url=BASE) as client:
        client.app_state = app.state
        yield client


@pytest.fixture(scope="module")
def arbitrary_network():
    network = bundled.load_bundled(bundled.ARBITRARY)
    return network.transform, network.predictor


def stylize(client, files, data=None):
    return client.post("/api/stylize", files=files, data=data or {})


def sent(**pictures):
    return {name: (f"{name}.png", png(pixels), "image/png") for name, pixels in pictures.items()}


def assert_error(response, status, *words):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert "\n" not in message and message
    for word in words:
        assert word in message, message


def test_models_lists_the_networks_their_styles_refine_and_limits(client):
    answer = client.get("/api/models").json()
    kinds = {network["name"]: network["kind"] for network in answer["networks"]}
    assert kinds == {"magenta-arbitrary": "arbitrary", "magenta-26": "bundled"}
    styles = {network["name"]: network["styles"] for network in answer["networks"]}
    assert styles["magenta-arbitrary"] == []
    assert [style["index"] for style in styles["magenta-26"]] == list(range(26))
    assert styles["magenta-26"][3]["thumbnail"] == "/api/models/magenta-26/styles/3/thumbnail"
    assert answer["refine"] == {"available": True, "reason": None}
    assert answer["limits"] == {"max_upload_bytes": 50 * 1024 * 1024, "max_pixels": 25_000_000}


def test_a_thumbnail_is_the_demo_photo_through_that_style_and_is_kept(client):
    first = client.get("/api/models/magenta-26/styles/5/thumbnail")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    transform = bundled.load_bundled(bundled.STYLES26).transform
    expected = stylize_picture(transform, demo_photo(THUMBNAIL_SIDE), style_weights=np.eye(26)[5])
    picture = decoded(first.content)
    assert max(picture.shape[:2]) == THUMBNAIL_SIDE
    assert np.abs(picture - np.rint(expected)).max() <= 1
    assert client.get("/api/models/magenta-26/styles/5/thumbnail").content == first.content
    assert_error(client.get("/api/models/magenta-26/styles/26/thumbnail"), 404, "style 26")
    assert_error(client.get("/api/models/magenta-arbitrary/styles/0/thumbnail"), 404)


def test_stylize_with_a_painting_is_the_librarys_picture(client, arbitrary_network):
    transform, predictor = arbitrary_network
    response = stylize(client, sent(content=PHOTO, style=PAINTING))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    vector = arbitrary.style_vector(predictor, PAINTING)
    expected = stylize_picture(transform, PHOTO, style_weights=vector)
    picture = decoded(response.content)
    assert picture.shape == PHOTO.shape
    assert np.abs(picture - np.clip(expected, 0, 255)).max() <= 1
    assert np.abs(picture - PHOTO).mean() > 10  # a new picture, not the photo
    line = response.headers["x-neural-style-command"]
    assert line == "neural-style apply --content PHOTO --output STYLISED.png --style-image PAINTING"


def test_two_paintings_mixed_strength_and_style_size(client, arbitrary_network):
    transform, predictor = arbitrary_network
    fields = {"mix": "0.3", "strength": "0.6", "style_size": "128"}
    response = stylize(client, sent(content=PHOTO, style=PAINTING, style2=PAINTING2), fields)
    assert response.status_code == 200, response.text
    first, second, own = (
        arbitrary.style_vector(predictor, picture, 128).astype(np.float64) for picture in (PAINTING, PAINTING2, PHOTO)
    )
    vector = 0.6 * (0.7 * first + 0.3 * second) + 0.4 * own
    expected = stylize_picture(transform, PHOTO, style_weights=vector.astype(np.float32))
    assert np.abs(decoded(response.content) - expected).max() <= 1
    line = response.headers["x-neural-style-command"]
    args = apply_parser().parse_args(shlex.split(line)[2:])
    assert args.style_image == ["PAINTING", "PAINTING2"] and args.mix == "0.7,0.3"
    assert (args.strength, args.style_size, args.preserve_colors) == (0.6, 128, False)


def test_a_region_puts_the_second_painting_where_the_mask_is_white(client, arbitrary_network):
    transform, predictor = arbitrary_network
    mask = np.zeros(PHOTO.shape[:2])
    mask[:, 48:] = 255
    response = stylize(client, sent(content=PHOTO, style=PAINTING, style2=PAINTING2, region=np.stack([mask] * 3, -1)))
    assert response.status_code == 200, response.text
    first, second = (arbitrary.style_vector(predictor, picture).astype(np.float64) for picture in (PAINTING, PAINTING2))
    share = (mask / 255)[..., None]
    vectors = ((1 - share) * first + share * second).astype(np.float32)
    expected = stylize_picture(transform, PHOTO, style_weights=vectors)
    assert np.abs(decoded(response.content) - expected).max() <= 1
    # Neither painting alone: the instance normalisations' statistics are the whole picture's, so the halves are
    # not the single paintings' pictures either, but the mixture of both.
    for alone in (first, second):
        single = stylize_picture(transform, PHOTO, style_weights=alone.astype(np.float32))
        assert np.abs(decoded(response.content) - single).mean() > 2
    args = apply_parser().parse_args(shlex.split(response.headers["x-neural-style-command"])[2:])
    assert args.style_masks == ["MASK_INVERTED", "MASK"]


def test_a_bundled_networks_style_with_the_photos_colours(client):
    response = stylize(
        client, sent(content=PHOTO), {"model": "magenta-26", "style_index": "7", "preserve_colors": "true"}
    )
    assert response.status_code == 200, response.text
    transform = bundled.load_bundled(bundled.STYLES26).transform
    expected = preserve_colors(stylize_picture(transform, PHOTO, style_weights=np.eye(26)[7]), PHOTO)
    assert np.abs(decoded(response.content) - expected).max() <= 1
    args = apply_parser().parse_args(shlex.split(response.headers["x-neural-style-command"])[2:])
    assert (args.model, args.style_index, args.preserve_colors, args.style_image) == ("magenta-26", 7, True, None)


@pytest.mark.parametrize(
    "files, fields, status, words",
    [
        ({"style": PAINTING}, {}, 400, ["content"]),
        ({"content": PHOTO}, {}, 400, ["style", "model"]),
        ({"content": PHOTO, "style": PAINTING}, {"strength": "strong"}, 400, ["strength", "number"]),
        ({"content": PHOTO, "style": PAINTING}, {"strength": "1.5"}, 400, ["strength"]),
        ({"content": PHOTO, "style": PAINTING}, {"style_size": "8"}, 400, ["style_size", "32"]),
        ({"content": PHOTO, "style": PAINTING}, {"mix": "-1"}, 400, ["mix"]),
        ({"content": PHOTO, "style": PAINTING}, {"preserve_colors": "maybe"}, 400, ["preserve_colors"]),
        ({"content": PHOTO, "style": PAINTING}, {"style_index": "2"}, 400, ["style_index"]),
        ({"content": PHOTO, "style": PAINTING}, {"model": "magenta-26"}, 400, ["style", "model"]),
        ({"content": PHOTO}, {"model": "no-such-net"}, 400, ["no-such-net", "/api/models"]),
        ({"content": PHOTO}, {"model": "magenta-26", "style_index": "26"}, 400, ["style_index 26"]),
        ({"content": PHOTO}, {"model": "magenta-26", "strength": "0.5"}, 400, ["strength", "paintings"]),
        ({"content": PHOTO, "style2": PAINTING2}, {"model": "magenta-26"}, 400, ["style2"]),
        ({"content": PHOTO, "style": PAINTING, "region": PHOTO}, {}, 400, ["region", "style2"]),
    ],
)
def test_a_bad_request_is_one_line_naming_the_field(client, files, fields, status, words):
    assert_error(stylize(client, sent(**files), fields), status, *words)


def test_bad_pictures_are_one_line_naming_the_field(client):
    from tests.hostile import png_declaring

    corrupt = {"content": ("photo.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")}
    assert_error(stylize(client, {**corrupt, **sent(style=PAINTING)}), 400, "content", "not a readable image")
    empty = {"style": ("painting.png", b"", "image/png")}
    assert_error(stylize(client, {**sent(content=PHOTO), **empty}), 400, "style", "empty")
    huge = {"content": ("huge.png", png_declaring(20000, 10000), "image/png")}
    assert_error(stylize(client, {**huge, **sent(style=PAINTING)}), 400, "content", "200,000,000 pixels", "shrink")
    scratch = client.app_state.scratch.folder
    import os

    assert os.listdir(scratch) == []  # every upload's file removed after its request


def test_the_page_and_its_files_only_by_name(client):
    import os

    from neural_style.serve.app import STATIC

    for name in os.listdir(STATIC) if STATIC.is_dir() else []:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.content == (STATIC / name).read_bytes()
    for path in ("/static/..%2Fapp.py", "/static/%2E%2E%2F__init__.py", "/static/app.py", "/static/../app.py"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"import" not in response.content
    response = client.get("/api/models")
    assert response.headers["content-security-policy"].startswith("default-src 'self'; img-src 'self' data: blob:")


def test_unknown_routes_and_methods_are_json(client):
    assert_error(client.get("/api/nothing"), 404)
    assert_error(client.get("/api/stylize"), 405, "GET")


def test_models_folder_offers_trained_networks(tmp_path):
    from neural_style.fast.network import build_transform_net

    model = build_transform_net(seed=4, styles=2)
    rng = np.random.default_rng(5)
    for norm in model.norms:  # two styles that differ: each its own scales
        norm.gamma.assign(rng.uniform(0.5, 2, norm.gamma.shape).astype(np.float32))
    model.save(tmp_path / "mine.keras")
    (tmp_path / "notes.txt").write_text("not a network")
    app = create_app(port=8000, weights="/nowhere/vgg.mat", models=tmp_path, warm=False)
    with TestClient(app, base_url=BASE) as client:
        answer = client.get("/api/models").json()
        mine = [network for network in answer["networks"] if network["name"] == "mine"]
        assert answer["refine"]["available"] is False and "/nowhere/vgg.mat" in answer["refine"]["reason"]
        assert_error(client.post("/api/jobs", files=sent(content=PHOTO, style=PAINTING)), 503, "/nowhere/vgg.mat")
        response = stylize(client, sent(content=PHOTO), {"model": "mine", "style_index": "1"})
        assert response.status_code == 200, response.text
        assert mine[0]["kind"] == "trained" and [style["index"] for style in mine[0]["styles"]] == [0, 1]
    expected = stylize_picture(model, PHOTO, style_weights=np.eye(2)[1])
    assert np.abs(decoded(response.content) - expected).max() <= 1
    assert np.abs(decoded(response.content) - stylize_picture(model, PHOTO, style_weights=np.eye(2)[0])).max() > 1


def test_the_command_line_names_only_placeholders(client):
    response = stylize(client, sent(content=PHOTO, style=PAINTING), {"strength": "0.25"})
    line = response.headers["x-neural-style-command"]
    assert json.dumps(line) and "/" not in line.replace("--", "")
    assert shlex.split(line) == [
        "neural-style", "apply", "--content", "PHOTO", "--output", "STYLISED.png", "--style-image", "PAINTING",
        "--strength", "0.25",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "files, fields",
    [
        pytest.param(  # slow: apply converts the arbitrary network for LiteRT on first use (about 10 s)
            {"content": PHOTO, "style": PAINTING, "style2": PAINTING2},
            {"mix": "0.3", "strength": "0.6"},
            marks=pytest.mark.slow,
        ),
        ({"content": PHOTO}, {"model": "magenta-26", "style_index": "7", "preserve_colors": "true"}),
    ],
)
def test_the_command_line_paints_the_same_picture(client, files, fields, tmp_path, monkeypatch):
    from neural_style.cli import main

    monkeypatch.setenv("NEURAL_STYLE_MODELS", str(tmp_path / "models"))  # apply's LiteRT files go there, not home
    response = stylize(client, sent(**files), fields)
    argv = shlex.split(response.headers["x-neural-style-command"])[1:]
    placeholders = {"PHOTO": "content", "PAINTING": "style", "PAINTING2": "style2"}
    for index, word in enumerate(argv):
        if word in placeholders:
            argv[index] = str(tmp_path / f"{word}.png")
            (tmp_path / f"{word}.png").write_bytes(png(files[placeholders[word]]))
    argv[argv.index("STYLISED.png")] = str(tmp_path / "out.png")
    assert main(argv + ["--quiet"]) == 0
    assert np.abs(decoded((tmp_path / "out.png").read_bytes()) - decoded(response.content)).max() <= 1


def test_a_region_of_another_size_is_resized_and_transparent_is_black(client, arbitrary_network):
    transform, predictor = arbitrary_network
    first, second = (arbitrary.style_vector(predictor, picture) for picture in (PAINTING, PAINTING2))
    white_half_size = np.full((36, 48, 3), 255.0)
    clear = np.zeros((72, 96, 4), np.uint8)
    clear[..., :3] = 255  # white, but fully transparent: no stroke there
    for region, vector in ((white_half_size, second), (clear, first)):
        files = {**sent(content=PHOTO, style=PAINTING, style2=PAINTING2), "region": ("r.png", png(region), "image/png")}
        response = stylize(client, files)
        assert response.status_code == 200, response.text
        expected = stylize_picture(transform, PHOTO, style_weights=vector)
        assert np.abs(decoded(response.content) - expected).max() <= 1


@pytest.mark.slow
def test_litert_paints_the_keras_networks_pictures(tmp_path, monkeypatch, arbitrary_network):
    monkeypatch.setenv("NEURAL_STYLE_MODELS", str(tmp_path / "models"))  # converted here once, not in the home folder
    app = create_app(port=8000, weights="random", scratch_parent=tmp_path, lite=True)
    assert app.state.networks.lite("magenta-arbitrary") is not None and app.state.networks.lite("magenta-26")
    transform, predictor = arbitrary_network
    first, second, own = (arbitrary.style_vector(predictor, picture) for picture in (PAINTING, PAINTING2, PHOTO))
    mask = np.zeros(PHOTO.shape[:2])
    mask[:, 48:] = 255
    share = (mask / 255)[..., None]
    styles26 = bundled.load_bundled(bundled.STYLES26).transform
    cases = [
        (sent(content=PHOTO, style=PAINTING), {"strength": "0.7"}, transform, 0.7 * first + 0.3 * own),
        (sent(content=PHOTO, style=PAINTING, style2=PAINTING2, region=mask), {}, transform,
         ((1 - share) * first + share * second).astype(np.float32)),
        (sent(content=PHOTO), {"model": "magenta-26", "style_index": "11"}, styles26, np.eye(26)[11]),
    ]  # fmt: skip
    with TestClient(app, base_url=BASE) as client:
        for files, fields, network, weights in cases:
            response = stylize(client, files, fields)
            assert response.status_code == 200, response.text
            expected = stylize_picture(network, PHOTO, style_weights=np.asarray(weights, np.float32))
            assert np.abs(decoded(response.content) - expected).max() <= 1
