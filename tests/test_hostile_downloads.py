"""Downloads stay inside --to, follow only web redirects, stop at a size cap and on a
silent server. A local server on 127.0.0.1 plays the hostile host; every thread it starts is ended by the fixture.
"""

import http.server
import os
import threading
import time

import numpy as np
import pytest

from neural_style import weights as W
from neural_style.cli import main
from neural_style.weights import download as D

PAYLOAD = np.random.default_rng(3).bytes(50_000)


class _Hostile(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        stop = self.server.stop
        if self.path == "/to-ftp.mat":
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/weights.mat")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/endless.mat":
            # No Content-Length, and no end: the stream only stops when the client hangs up or the test ends.
            self.send_response(200)
            self.end_headers()
            chunk = bytes(64 * 1024)
            while not stop.is_set():
                try:
                    self.wfile.write(chunk)
                except OSError:
                    return
        elif self.path == "/huge.mat":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 1024**3))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/silent.mat":
            # Announces the payload, sends a quarter of it, then goes silent until the test ends.
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 4])
            self.wfile.flush()
            stop.wait(30)
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile():
    """The hostile server; its handler threads are joined on the way out (daemon_threads off, block_on_close on)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = False
    httpd.stop = threading.Event()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield httpd
    httpd.stop.set()
    httpd.shutdown()
    httpd.server_close()  # joins every handler thread
    thread.join()


def run(capfd, *argv):
    code = main(["weights", "download", "--quiet", *map(str, argv)])
    out, err = capfd.readouterr()
    return code, out, err.splitlines()


@pytest.mark.parametrize(
    "tail",
    ["..%2F..%2Fescaped.mat", "%2Ftmp%2Fescaped.mat", "..%5Cescaped.mat", "evil%0Aname.mat", "%2E%2E", "a%00b.mat"],
)
def test_a_url_naming_a_path_outside_to_is_refused(hostile, tmp_path, capfd, tail):
    # Before: '..%2F..%2Fescaped.mat' wrote two folders above --to.
    to = tmp_path / "a" / "b"
    code, out, err = run(capfd, "--to", to, "--url", f"{hostile.base}/{tail}")
    assert (code, out, len(err)) == (2, "", 1)
    assert "is not a plain file name" in err[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # nothing written anywhere, not even --to


def test_filename_argument_must_be_plain_too(hostile, tmp_path):
    with pytest.raises(W.DownloadError, match="is not a plain file name"):
        W.download_weights(f"{hostile.base}/ok.mat", to=str(tmp_path), sha256=None, progress=False, filename="../x.mat")
    assert list(tmp_path.iterdir()) == []


def test_a_plain_name_with_percent_escapes_is_fine(hostile, tmp_path):
    path = W.download_weights(f"{hostile.base}/my%20weights.mat", to=str(tmp_path), sha256=None, progress=False)
    assert path == str(tmp_path / "my weights.mat")
    assert (tmp_path / "my weights.mat").read_bytes() == PAYLOAD


def test_a_redirect_to_ftp_is_not_followed(hostile, tmp_path, capfd):
    code, out, err = run(capfd, "--to", tmp_path, "--url", f"{hostile.base}/to-ftp.mat")
    assert (code, out, len(err)) == (1, "", 1)
    assert "redirected to ftp://127.0.0.1/weights.mat; only http and https are followed" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_an_endless_stream_stops_at_max_bytes_and_leaves_nothing(hostile, tmp_path, capfd):
    # Before: an endless stream was written at ~45 MB/s with no end.
    code, out, err = run(capfd, "--to", tmp_path, "--url", f"{hostile.base}/endless.mat", "--max-bytes", 1_000_000)
    assert (code, out, len(err)) == (1, "", 1)
    assert "the server sent more than 1,000,000 bytes, the most allowed; the partial file was deleted" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_the_default_cap_is_one_gib_and_the_published_size_for_the_published_file(monkeypatch, tmp_path):
    caps = []
    monkeypatch.setattr(D, "_fetch", lambda url, part, progress, timeout, max_bytes: caps.append(max_bytes))
    monkeypatch.setattr(D.os, "replace", lambda *args: None)
    for url in ("http://127.0.0.1:1/other.mat", W.MAT_URL, W.KERAS_URL):
        W.download_weights(url, to=str(tmp_path), sha256=None, progress=False)
    assert caps == [1024**3, 520 * 1024**2, 80 * 1024**2]


def test_an_announced_size_over_the_cap_is_refused_before_reading(hostile, tmp_path, capfd):
    code, out, err = run(capfd, "--to", tmp_path, "--url", f"{hostile.base}/huge.mat")
    assert (code, out, len(err)) == (1, "", 1)
    assert "the server announces 10,737,418,240 bytes, more than the 1,073,741,824 allowed" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_a_silent_server_fails_after_the_stall_timeout_keeping_the_prefix(hostile, tmp_path):
    # Before: a server that went silent stalled the command for 4 minutes (60 s, then three retries).
    start = time.monotonic()
    with pytest.raises(W.DownloadError, match=r"sent nothing for 1 s; 12,500 bytes kept in .*silent\.mat\.part"):
        W.download_weights(f"{hostile.base}/silent.mat", to=str(tmp_path), sha256=None, progress=False, timeout=1)
    assert time.monotonic() - start < 10
    # What arrived is a true prefix of the file, kept for a resume.
    assert (tmp_path / "silent.mat.part").read_bytes() == PAYLOAD[: len(PAYLOAD) // 4]


def test_max_bytes_must_be_positive(capfd, tmp_path):
    code, out, err = run(capfd, "--to", tmp_path, "--max-bytes", "-5")
    assert (code, out, len(err)) == (2, "", 1) and "'-5' is not a whole number of bytes > 0" in err[0]
    assert not os.listdir(tmp_path)
