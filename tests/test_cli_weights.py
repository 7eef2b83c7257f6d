"""Tests of `neural-style weights download` and `neural-style weights verify`, run in-process.

Downloads come from the local HTTP server of tests/conftest.py (127.0.0.1, started by the test); nothing leaves
the machine.
"""

import hashlib
import os
import socket

import pytest

from neural_style import weights as W
from neural_style.cli import main
from tests.fixtures import write_vgg_mat

# Downloads retry at once here (the `server` fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("no_retry_wait")


def run(capfd, *argv):
    """Runs `neural-style weights ARGV...`; returns (exit code, stdout, stderr lines)."""
    code = main(["weights", *argv])
    out, err = capfd.readouterr()
    return code, out, err.splitlines()


def sha256_of(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# download


def test_download_puts_the_checked_file_in_place_and_says_where(server, tmp_path, capfd):
    to = tmp_path / "models"
    code, out, err = run(capfd, "download", "--to", str(to), "--url", server.url, "--sha256", server.sha256.upper())
    assert code == 0
    path = to / "weights.mat"
    assert path.read_bytes() == server.payload
    assert not (to / "weights.mat.part").exists()
    assert out == f"{path} (300,000 bytes, SHA-256 checked)\n"
    assert any("weights.mat" in line and "293k" in line for line in err)  # the progress bar, in KiB
    assert server.log == [{"path": "/weights.mat", "range": None}]


def test_quiet_download_prints_nothing(server, tmp_path, capfd):
    code, out, err = run(
        capfd, "download", "--to", str(tmp_path), "--url", server.url, "--sha256", server.sha256, "--quiet"
    )
    assert (code, out, err) == (0, "", [])
    assert sha256_of(tmp_path / "weights.mat") == server.sha256


def test_url_without_sha256_downloads_unchecked_and_says_so_in_one_line(server, tmp_path, capfd):
    code, out, err = run(capfd, "download", "--to", str(tmp_path), "--url", server.url)
    assert code == 0
    assert sha256_of(tmp_path / "weights.mat") == server.sha256
    notes = [line for line in err if "note:" in line]
    assert notes == [
        "neural-style: note: no --sha256 given for --url, so the download is not checked; "
        "`neural-style weights verify PATH` prints its SHA-256"
    ]
    assert out.endswith("SHA-256 not checked)\n")


def test_defaults_are_the_published_file_and_folder(monkeypatch, tmp_path, capfd):
    calls = []
    target = tmp_path / W.MAT_FILENAME
    target.write_bytes(b"12345")

    def fake_download(url, to, sha256, progress):
        calls.append((url, to, sha256, progress))
        return str(target)

    monkeypatch.setattr(W, "download_weights", fake_download)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capfd, "download")
    assert code == 0
    assert calls == [(W.MAT_URL, "pretrained-model", W.MAT_SHA256, True)]
    assert W.MAT_SHA256 == "abdb57167f82a2a1fbab1e1c16ad9373411883f262a1a37ee5db2e6fb0044695"  # REFERENCE.md §2
    assert out == f"{target} (5 bytes, SHA-256 checked)\n"
    calls.clear()
    assert run(capfd, "download", "--sha256", "ab" * 32, "--quiet")[0] == 0
    assert calls == [(W.MAT_URL, "pretrained-model", "ab" * 32, False)]


def test_interrupted_download_is_resumed_with_a_range_request(server, tmp_path, capfd):
    server.cuts = [100_000]
    code, _, _ = run(
        capfd, "download", "--to", str(tmp_path), "--url", server.url, "--sha256", server.sha256, "--quiet"
    )
    assert code == 0
    assert [entry["range"] for entry in server.log] == [None, "bytes=100000-"]
    assert sha256_of(tmp_path / "weights.mat") == server.sha256


def test_a_partial_file_from_an_earlier_run_is_continued(server, tmp_path, capfd):
    (tmp_path / "weights.mat.part").write_bytes(server.payload[:123_456])
    code, _, _ = run(
        capfd, "download", "--to", str(tmp_path), "--url", server.url, "--sha256", server.sha256, "--quiet"
    )
    assert code == 0
    assert server.log == [{"path": "/weights.mat", "range": "bytes=123456-"}]
    assert sha256_of(tmp_path / "weights.mat") == server.sha256


def test_bad_checksum_fails_with_one_line_and_deletes_the_partial_file(server, tmp_path, capfd):
    wrong = "0" * 64
    code, out, err = run(capfd, "download", "--to", str(tmp_path), "--url", server.url, "--sha256", wrong, "--quiet")
    assert code == 1 and out == ""
    assert len(err) == 1
    assert err[0].startswith(
        f"neural-style: error: {server.url}: downloaded file has SHA-256 {server.sha256}, "
        f"expected {wrong}; the partial file"
    )
    assert "was deleted" in err[0]
    assert os.listdir(tmp_path) == []


def test_errors_come_after_the_progress_bar_as_the_last_line(server, tmp_path, capfd):
    code, _, err = run(capfd, "download", "--to", str(tmp_path), "--url", server.url, "--sha256", "1" * 64)
    assert code == 1
    assert err[-1].startswith("neural-style: error: ") and "was deleted" in err[-1]
    assert all("error" not in line for line in err[:-1])


def test_unreachable_url_fails_with_one_line(tmp_path, capfd):
    with socket.socket() as probe:  # a port that was free a moment ago, now closed: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/imagenet-vgg-verydeep-19.mat"
    code, out, err = run(capfd, "download", "--to", str(tmp_path), "--url", url, "--sha256", "2" * 64, "--quiet")
    assert code == 1 and out == ""
    assert len(err) == 1 and err[0].startswith(f"neural-style: error: {url}: cannot connect (")
    assert "check the URL and the network" in err[0]


def test_http_error_fails_with_one_line(server, tmp_path, capfd):
    url = server.url.replace("weights.mat", "missing.mat")
    code, _, err = run(capfd, "download", "--to", str(tmp_path), "--url", url, "--sha256", "3" * 64, "--quiet")
    assert code == 1
    # Not "run `neural-style weights download`": that is the command that just failed.
    assert err == [
        f"neural-style: error: {url}: HTTP error 404 Not Found; check the URL, or download the file by hand "
        "(see pretrained-model/README.md)"
    ]


def test_existing_file_with_another_hash_is_kept_and_reported(server, tmp_path, capfd):
    (tmp_path / "weights.mat").write_bytes(b"my own file")
    code, _, err = run(
        capfd, "download", "--to", str(tmp_path), "--url", server.url, "--sha256", server.sha256, "--quiet"
    )
    assert code == 1
    assert len(err) == 1 and "weights.mat already exists but its SHA-256 is" in err[0]
    assert (tmp_path / "weights.mat").read_bytes() == b"my own file"
    assert server.log == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["download", "--sha256", "abc"], "argument --sha256: 'abc' is not a SHA-256 (expected 64 hexadecimal digits)"),
        (["download", "--url", "ftp://example.org/w.mat"], "argument --url: ftp://example.org/w.mat: only http://"),
        (["download", "--url", "http://example.org/"], "the URL does not end in a file name"),
        (["download", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "the following arguments are required: {download,verify}"),
        (["verify"], "the following arguments are required: PATH"),
        (["verify", "x.mat", "--sha256", "g" * 64], "is not a SHA-256"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(server, capfd, argv, message):
    code, out, err = run(capfd, *argv)
    assert code == 2 and out == ""
    assert len(err) == 1 and message in err[0] and err[0].startswith("neural-style weights")
    assert server.log == []


def test_a_to_folder_that_is_a_file_is_bad_input(server, tmp_path, capfd):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capfd, "download", "--to", str(blocker / "models"), "--url", server.url, "--quiet")
    assert code == 2
    assert err == [f"neural-style: error: --to: {blocker} is a file, so the folder {blocker / 'models'} cannot be made"]
    assert blocker.read_text() == "x" and server.log == []


def test_help_exits_0(capfd):
    code, out, _ = run(capfd, "download", "--help")
    assert code == 0 and "--to DIR" in out and W.MAT_URL.split("/")[2] in out


# ---------------------------------------------------------------------------------------------------------------------
# verify


@pytest.fixture(scope="module")
def small_mat(tmp_path_factory):
    path = tmp_path_factory.mktemp("verify") / "small-vgg.mat"
    write_vgg_mat(path, layout="beta16", width_divisor=32)
    return path


def test_verify_prints_the_report(small_mat, capfd):
    code, out, err = run(capfd, "verify", str(small_mat))
    assert code == 0 and err == []
    data = small_mat.read_bytes()
    lines = out.splitlines()
    assert lines[0] == f"path: {small_mat}"
    assert lines[1].startswith("format: mat (16 convolutions, ") and "NOT the real VGG-19 channel counts" in lines[1]
    assert f"size: {len(data):,} bytes" in lines
    assert f"sha256: {hashlib.sha256(data).hexdigest()}" in lines
    assert f"md5: {hashlib.md5(data).hexdigest()}" in lines
    assert "checksum: not checked" in lines and "channel order: RGB" in lines
    assert lines[-1] == "ok"


def test_verify_with_the_right_sha256(small_mat, capfd):
    right = hashlib.sha256(small_mat.read_bytes()).hexdigest()
    code, out, _ = run(capfd, "verify", str(small_mat), "--sha256", right)
    assert code == 0 and "checksum: matches the given SHA-256" in out.splitlines()


def test_verify_with_a_wrong_sha256_is_one_line_exit_2(small_mat, capfd):
    right = hashlib.sha256(small_mat.read_bytes()).hexdigest()
    code, out, err = run(capfd, "verify", str(small_mat), "--sha256", "f" * 64)
    assert code == 2 and out == ""
    assert err == [
        f"neural-style: error: {small_mat}: SHA-256 is {right}, expected {'f' * 64}; the file is corrupt or "
        "a different file: download it again"
    ]


def test_verify_a_missing_file_says_how_to_get_one(tmp_path, capfd):
    code, _, err = run(capfd, "verify", str(tmp_path / "absent.mat"))
    assert code == 2
    assert len(err) == 1 and "absent.mat" in err[0] and "neural-style weights download" in err[0]


def test_verify_a_file_that_is_not_weights(tmp_path, capfd):
    path = tmp_path / "notes.mat"
    path.write_bytes(b"not a MAT file at all" * 20)
    code, _, err = run(capfd, "verify", str(path))
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"neural-style: error: {path}: not a readable MAT file")
