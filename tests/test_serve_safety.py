"""The serve command's safety, in process: the Host check (DNS rebinding), the token, the upload limit (declared and
counted), the bounded pool (503 with Retry-After), the server's own temporary folder, and the address options."""

import warnings

import numpy as np
import pytest

pytest.importorskip("httpx")
with warnings.catch_warnings():  # Starlette 1.x suggests httpx2 for its TestClient; httpx is what it runs on here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from neural_style.checks import OptionError  # noqa: E402
from neural_style.serve import safety  # noqa: E402
from neural_style.serve.app import create_app  # noqa: E402
from neural_style.serve.server import address_line, check_options  # noqa: E402
from tests.test_serve import PAINTING, PHOTO, assert_error, sent  # noqa: E402

BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(port=8000, weights="random", warm=False, scratch_parent=tmp_path_factory.mktemp("scratch"))


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, base_url=BASE) as client:
        yield client


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST:8000"])
def test_the_servers_own_names_are_answered(client, host):
    assert client.get("/api/models", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example:8000", "127.0.0.1:9000", "127.0.0.1", "localhost.evil:8000", ""])
def test_any_other_host_header_is_refused(client, host):
    assert_error(client.get("/api/models", headers={"host": host}), 400, "Host header")


def test_allowed_hosts_and_loopback():
    assert safety.allowed_hosts("127.0.0.1", 5000) == {"127.0.0.1:5000", "localhost:5000", "[::1]:5000"}
    assert "192.168.1.7:5000" in safety.allowed_hosts("192.168.1.7", 5000)
    assert "[fe80::1]:80" in safety.allowed_hosts("fe80::1", 80) and "localhost" in safety.allowed_hosts("::1", 80)
    assert "0.0.0.0:5000" not in safety.allowed_hosts("0.0.0.0", 5000)
    assert [safety.is_loopback(h) for h in ("127.0.0.1", "127.3.2.1", "::1", "localhost")] == [True] * 4
    assert [safety.is_loopback(h) for h in ("0.0.0.0", "192.168.1.7", "::", "example.org")] == [False] * 4


def test_a_token_is_made_for_a_host_others_can_reach():
    assert check_options("127.0.0.1", 0, None) is None
    assert check_options("0.0.0.0", 0, "a-long-secret") == "a-long-secret"
    made = check_options("0.0.0.0", 0, None)
    assert len(made) >= 32 and made != check_options("0.0.0.0", 0, None)
    assert address_line("0.0.0.0", 8123, made) == f"Serving on http://0.0.0.0:8123/?token={made}"
    assert address_line("::1", 8123, None) == "Serving on http://[::1]:8123/"


@pytest.mark.parametrize(
    "host, port, token, word",
    [("127.0.0.1", 70000, None, "port"), ("127.0.0.1", -1, None, "port"), ("a b", 0, None, "host"),
     ("127.0.0.1", 0, "short", "token"), ("http://x/", 0, None, "host")],
)  # fmt: skip
def test_bad_address_options_are_one_line(host, port, token, word):
    with pytest.raises(OptionError, match=word):
        check_options(host, port, token)


def test_with_a_token_every_request_carries_it(tmp_path):
    app = create_app(port=8000, token="s3cret-token", weights="random", warm=False, scratch_parent=tmp_path)
    with TestClient(app, base_url=BASE) as client:
        assert_error(client.get("/api/models"), 401, "token")
        assert_error(client.get("/api/models?token=wrong-token"), 401)
        assert_error(client.get("/api/models", headers={"authorization": "Bearer wrong"}), 401)
        assert client.get("/api/models?token=s3cret-token").status_code == 200
        assert client.get("/api/models", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        assert_error(client.get("/api/models?token=s3cret-token", headers={"host": "evil:8000"}), 400)
        # The page's own files are public (a browser loads them without the token); not so with another host.
        assert client.get("/static/no-such.js").status_code == 404
        assert_error(client.get("/", headers={"host": "evil:8000"}), 400)
        assert_error(client.post("/", headers={"host": "127.0.0.1:8000"}), 401)


def test_an_upload_over_50_mb_is_refused_by_its_declared_length(client):
    big = b"\0" * (safety.MAX_UPLOAD_BYTES + 1)
    response = client.post("/api/stylize", files={"content": ("photo.png", big, "image/png")})
    assert_error(response, 413, "50 MB")


def test_an_upload_over_50_mb_without_a_length_is_refused_while_it_is_read(client):
    boundary = "serve-test"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="p.png"\r\n\r\n'.encode()
    chunk = b"\0" * (1024 * 1024)

    def body():  # no Content-Length: httpx sends it in chunks
        yield head
        for _ in range(60):
            yield chunk

    response = client.post(
        "/api/stylize", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert_error(response, 413, "50 MB")


def test_a_declared_length_is_refused_before_the_body_is_read():
    import asyncio

    received, sent_messages = [], []

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent_messages.append(message)

    async def never(scope, receive, send):
        raise AssertionError("the application was reached")

    guard = safety.Guard(never, safety.allowed_hosts("127.0.0.1", 8000))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/stylize",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-length", b"60000000")],
    }
    asyncio.run(guard(scope, receive, send))
    assert sent_messages[0]["status"] == 413 and received == []


def test_the_pool_admits_its_workers_and_waiting_then_refuses():
    pool = safety.Pool(workers=1, waiting=1)
    assert [pool.admit(), pool.admit(), pool.admit()] == [True, True, False]
    pool.release()
    assert pool.admit() is True
    assert pool.run(lambda a, b: a + b, 2, 3) == 5


def test_a_full_pool_answers_503_with_retry_after(tmp_path):
    app = create_app(port=8000, weights="random", warm=False, workers=1, waiting=0, scratch_parent=tmp_path)
    with TestClient(app, base_url=BASE) as client:
        assert app.state.pool.admit()  # the one place taken, as by a request computing now
        response = client.post("/api/stylize", files=sent(content=PHOTO, style=PAINTING))
        assert_error(response, 503, "busy")
        assert int(response.headers["retry-after"]) >= 1
        app.state.pool.release()
        assert client.post("/api/stylize", files=sent(content=PHOTO, style=PAINTING)).status_code == 200


def test_the_temporary_folder_is_the_servers_own_and_removed_at_shutdown(tmp_path):
    app = create_app(port=8000, weights="random", warm=False, scratch_parent=tmp_path)
    folder = app.state.scratch.folder
    assert folder.startswith(str(tmp_path))
    with TestClient(app, base_url=BASE) as client:
        noise = np.random.default_rng(0).integers(0, 256, (40, 40, 3)).astype(np.float32)
        files = {**sent(content=PHOTO, style=PAINTING)}
        files["content"] = ("../../etc/passwd.png", files["content"][1], "image/png")  # a name a client chose
        assert client.post("/api/stylize", files=files).status_code == 200
        assert client.post("/api/stylize", files=sent(content=noise, style=noise)).status_code == 200
        import os

        assert os.listdir(folder) == []
        assert sorted(os.listdir(tmp_path)) == [os.path.basename(folder)]
    import os

    assert not os.path.exists(folder)


def test_a_body_without_a_length_is_counted_and_stopped_past_the_limit():
    import asyncio

    chunks, sent_messages = [], []
    megabyte = b"\0" * (1024 * 1024)

    async def receive():  # 80 MB in 1 MB chunks, no Content-Length
        chunks.append(1)
        return {"type": "http.request", "body": megabyte, "more_body": len(chunks) < 80}

    async def send(message):
        sent_messages.append(message)

    async def reader(scope, receive, send):  # an application that reads the whole body
        while (await receive())["more_body"]:
            pass
        raise AssertionError("the whole body was read")

    guard = safety.Guard(reader, safety.allowed_hosts("127.0.0.1", 8000))
    scope = {"type": "http", "method": "POST", "path": "/api/stylize", "headers": [(b"host", b"127.0.0.1:8000")]}
    asyncio.run(guard(scope, receive, send))
    assert sent_messages[0]["status"] == 413 and "50 MB" in sent_messages[1]["body"].decode()
    assert len(chunks) == 51  # stopped at the first chunk past 50 MB


def test_a_decompression_bomb_is_refused_from_its_header_and_the_server_stays_up(client):
    from io import BytesIO

    from PIL import Image

    # A real bomb: 6000 x 5000 black pixels (30 megapixels, 90 MB decoded) in a PNG of about 90 KB.
    buffer = BytesIO()
    Image.new("L", (6000, 5000)).save(buffer, format="PNG")
    bomb = buffer.getvalue()
    assert len(bomb) < 1_000_000
    response = client.post("/api/stylize", files={"content": ("bomb.png", bomb, "image/png"), **sent(style=PAINTING)})
    assert_error(response, 400, "content is 6000x5000 (30,000,000 pixels)", f"{safety.MAX_PIXELS:,} pixels")
    assert client.post("/api/stylize", files=sent(content=PHOTO, style=PAINTING)).status_code == 200


def test_max_pixels_is_the_servers_own_limit(tmp_path):
    app = create_app(port=8000, weights="random", warm=False, scratch_parent=tmp_path, max_pixels=72 * 96)
    with TestClient(app, base_url=BASE) as client:
        assert client.get("/api/models").json()["limits"]["max_pixels"] == 72 * 96
        assert client.post("/api/stylize", files=sent(content=PHOTO, style=PAINTING)).status_code == 200
        larger = sent(content=np.concatenate([PHOTO, PHOTO[:1]]), style=PAINTING)  # 73 x 96: one row too many
        assert_error(client.post("/api/stylize", files=larger), 400, "content is 96x73", "--max-pixels")


@pytest.mark.parametrize("max_pixels", [0, -5, 2.5, 10**12])
def test_a_bad_max_pixels_is_one_line(max_pixels):
    with pytest.raises(OptionError, match="--max-pixels must be a whole number of pixels from 1 to"):
        check_options("127.0.0.1", 0, None, max_pixels=max_pixels)
