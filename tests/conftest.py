import hashlib
import http.server
import os
import re
import resource
import threading

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.fixtures import write_vgg_mat  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def user_models_folder(tmp_path_factory):
    """The user's models folder ($NEURAL_STYLE_MODELS) for the whole session, a temporary one: no test imports or
    converts a network into the developer's own (tests that need an empty or a particular folder set theirs)."""
    folder = tmp_path_factory.mktemp("user-models")
    previous = os.environ.get("NEURAL_STYLE_MODELS")
    os.environ["NEURAL_STYLE_MODELS"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("NEURAL_STYLE_MODELS", None)
    else:
        os.environ["NEURAL_STYLE_MODELS"] = previous


@pytest.fixture(scope="session")
def mat_file(tmp_path_factory):
    """A small VGG-19 .mat file in the current MatConvNet layout, and the weights written into it."""
    path = tmp_path_factory.mktemp("weights") / "imagenet-vgg-verydeep-19.mat"
    weights = write_vgg_mat(path, layout="current")
    return path, weights


@pytest.fixture(scope="session")
def small_model(mat_file):
    """A VGGModel built from the small fixture file, at 24x32."""
    from neural_style import load_vgg_model

    return load_vgg_model(str(mat_file[0]), height=24, width=32)


# The most the process's peak resident memory may grow over a whole fuzzing test (KiB): far below any bomb in the
# inputs of tests/test_fuzz.py and tests/test_fuzz_batch.py.
MEMORY_BOUND_KIB = 400 * 1024


@pytest.fixture(scope="module")
def peak():
    """Asserts, after the test, that the peak resident memory grew by less than MEMORY_BOUND_KIB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < MEMORY_BOUND_KIB


@pytest.fixture(scope="module")
def style_file(tmp_path_factory):
    """A style picture of random pixels at the video tests' frame size (tests/test_video.py's HEIGHT x WIDTH)."""
    import imageio.v3 as iio

    from tests.test_video import HEIGHT, WIDTH

    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("style") / "style.png"
    iio.imwrite(path, rng.integers(0, 256, (HEIGHT, WIDTH, 3)).astype(np.uint8))
    return path


# ---------------------------------------------------------------------------------------------------------------------
# A local HTTP server for the downloads (tests/test_weights.py, tests/test_cli_weights.py)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves server.payload at /weights.mat; honours 'Range: bytes=N-' unless told not to; can cut a response."""

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        server = self.server
        server.log.append({"path": self.path, "range": self.headers.get("Range")})
        if self.path != "/weights.mat":
            self.send_error(404, "Not Found")
            return
        data, start = server.payload, 0
        requested = self.headers.get("Range")
        if requested and server.honour_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = server.cuts.pop(0) if server.cuts else None
        # A cut response announces the whole length and sends only `cut` bytes before the connection closes.
        self.wfile.write(body if cut is None else body[:cut])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server with 300 kB of random bytes at /weights.mat; tests set .cuts and .honour_range."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.payload = np.random.default_rng(0).bytes(300_000)
    httpd.sha256 = hashlib.sha256(httpd.payload).hexdigest()
    httpd.log, httpd.cuts, httpd.honour_range = [], [], True
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/weights.mat"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def no_retry_wait(monkeypatch):
    """Downloads retry without waiting."""
    from neural_style.weights import download

    monkeypatch.setattr(download, "_RETRY_WAIT_S", 0.0)


@pytest.fixture(scope="session")
def weights(mat_file):
    """The VGGWeights written into the small .mat file (what small_model holds), for StyleTransfer(weights=...)."""
    return mat_file[1]
