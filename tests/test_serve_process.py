"""The real `neural-style serve` in a child process on 127.0.0.1: its one ready line, listening on loopback only, the
token in force, SIGTERM or SIGINT ending a running refine cleanly (its stream says cancelled, the temporary folder is
removed, exit code 0), and a 600x900 photo painted at its size, eight requests at once, a 60 MB upload, a bomb, a
corrupt file and a foreign Host answered as the contract says. Every wait is bounded; the child is killed on the way
out whatever happens."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tests.fixtures import first_line, running, smooth_photo
from tests.test_serve import png

httpx = pytest.importorskip("httpx")

TOKEN = "process-test-token"


def listening_addresses(port):
    """The local addresses listening on `port`, from /proc/net/tcp and tcp6 (hex, as the kernel writes them)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as file:
            for line in file.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.append(address)
    return found


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The models folder of the tests' servers: the LiteRT files serve converts on first use go here (once for the
    module), not into the home folder."""
    return tmp_path_factory.mktemp("models")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_says_when_ready_listens_on_loopback_and_stops_cleanly_on_a_signal(tmp_path_factory, models, stop):
    command = [sys.executable, "-m", "neural_style", "serve", "--port", "0", "--weights", "random", "--token", TOKEN]
    tmp_path = tmp_path_factory.mktemp("tmp")
    environment = {**os.environ, "TMPDIR": str(tmp_path), "NEURAL_STYLE_MODELS": str(models)}
    options = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment, start_new_session=True)
    with running(command, **options) as server:
        line = first_line(server.stdout, 180)
        assert line is not None, "no ready line within 180 s"
        match = re.fullmatch(rf"Serving on http://127\.0\.0\.1:(\d+)/\?token={TOKEN}\n", line)
        assert match, line
        port = int(match.group(1))
        assert listening_addresses(port) == ["0100007F"]  # 127.0.0.1, and nothing else (no tcp6, no 0.0.0.0)
        base = f"http://127.0.0.1:{port}"
        headers = {"authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, timeout=60) as client:
            assert client.get("/api/models").status_code == 401
            assert client.get("/api/models", headers=headers).json()["refine"]["available"] is True
            assert client.get("/api/models", headers={**headers, "host": f"rebound.example:{port}"}).status_code == 400
            photo, painting = png(smooth_photo(24, 32, seed=1)), png(smooth_photo(24, 24, seed=2))
            files = {"content": ("p.png", photo, "image/png"), "style": ("s.png", painting, "image/png")}
            answer = client.post(
                "/api/jobs", files=files, data={"iterations": "5000", "max_size": "32"}, headers=headers
            )
            assert answer.status_code == 202, answer.text
            job = answer.json()["id"]
        folders = [name for name in os.listdir(tmp_path) if name.startswith("neural-style-serve-")]
        assert len(folders) == 1
        events = []

        def listen():
            url = f"{base}/api/jobs/{job}/events?token={TOKEN}"
            with httpx.stream("GET", url, timeout=120) as stream:
                for text in stream.iter_lines():
                    if text.startswith("event: "):
                        events.append(text[7:])

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        deadline = time.monotonic() + 120
        while events.count("progress") < 2:
            assert time.monotonic() < deadline and server.poll() is None, "no progress within 120 s"
            time.sleep(0.05)
        server.send_signal(stop)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve did not stop within 60 s of {stop.name}")
        listener.join(10)
        out, err = server.communicate(timeout=10)
        assert code == 0, err
        assert events[-1] == "cancelled", events
        assert out == "", out  # the ready line was the only one
        assert os.listdir(tmp_path) == []  # the server's temporary folder removed
        assert "Traceback" not in err, err
    assert json.dumps(events)


@pytest.mark.slow
def test_the_real_server_paints_at_the_photos_size_and_answers_a_crowd_and_hostile_uploads(tmp_path_factory, models):
    from concurrent.futures import ThreadPoolExecutor
    from io import BytesIO

    from PIL import Image

    command = [sys.executable, "-m", "neural_style", "serve", "--port", "0", "--weights", "random"]
    environment = {**os.environ, "TMPDIR": str(tmp_path_factory.mktemp("tmp")), "NEURAL_STYLE_MODELS": str(models)}
    options = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment, start_new_session=True)
    with running(command, **options) as server:
        line = first_line(server.stdout, 180)
        assert line is not None, "no ready line within 180 s"
        base = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+)/\n", line).group(1)
        photo = smooth_photo(600, 900, seed=5)
        files = {"content": ("p.png", png(photo), "image/png"), "style": ("s.png", png(photo[::-1, ::-1]), "image/png")}

        def post(client, files):
            return client.post("/api/stylize", files=files)

        with httpx.Client(base_url=base, timeout=120) as client:
            answer = post(client, files)
            assert answer.status_code == 200 and answer.headers["content-type"] == "image/png", answer.text
            with Image.open(BytesIO(answer.content)) as picture:
                painted = np.asarray(picture.convert("RGB"), np.float64)
            assert painted.shape == (600, 900, 3)
            assert np.abs(painted - np.rint(photo)).mean() > 10  # stylised, not the photo sent back
            # Eight at once: each painted, or told at once to come back (the pool holds one computing, seven waiting).
            with ThreadPoolExecutor(8) as crowd:
                answers = list(crowd.map(lambda _: post(client, files), range(8)))
            for each in answers:
                assert each.status_code == 200 or (each.status_code == 503 and "retry-after" in each.headers)
            # 60 MB: 413 with its JSON line; a bomb and a corrupt file: 400 each; the server still answers.
            huge = {"content": ("big.png", b"\0" * (60 * 1024 * 1024), "image/png")}
            bomb = BytesIO()
            Image.new("L", (6000, 5000)).save(bomb, format="PNG")
            for bad, status in [
                (huge, 413),
                ({**files, "content": ("bomb.png", bomb.getvalue(), "image/png")}, 400),
                ({**files, "content": ("cut.jpg", b"\xff\xd8\xff\xe0 cut short", "image/jpeg")}, 400),
            ]:
                answer = post(client, bad)
                assert answer.status_code == status and "\n" not in answer.json()["error"], answer.text
            assert client.get("/api/models", headers={"host": "attacker.example"}).status_code == 400
            assert post(client, files).status_code == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
