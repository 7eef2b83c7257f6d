"""Downloading and verifying VGG-19 weight files: resumable transfers capped in size and time, names kept inside the
target folder, redirects only to http(s), checksums against the published ones, and the report of `weights verify`.
"""

import contextlib
import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from tqdm import tqdm

from .filters import WeightsError
from .published import CONV_LAYERS, MAT_SHA256, MAT_URL, PUBLISHED_FILES, PUBLISHED_MAX_BYTES, WEIGHTS_HELP
from .read import is_keras_path, load_weights

_CHUNK = 1 << 20
# A download stops beyond this many bytes (--max-bytes): a published file's size (PUBLISHED_MAX_BYTES), else 1 GiB.
DEFAULT_MAX_BYTES = 1024**3
_RETRY_WAIT_S = 1.0  # seconds before resuming an interrupted download (tests set it to 0)


class DownloadError(OSError):
    """A download failed: the URL cannot be reached, the server answered an error, or the transfer was cut."""


class ChecksumError(DownloadError, WeightsError):
    """A file's SHA-256 (or MD5) is not the expected one: the file is corrupt, incomplete or a different file."""


class _Interrupted(Exception):
    """The transfer stopped before the end; what arrived is kept in the .part file."""


def _check_hex(value, digits, what):
    if value is None:
        return None
    value = str(value).strip().lower()
    if not re.fullmatch(f"[0-9a-f]{{{digits}}}", value):
        raise ValueError(f"{value!r} is not a {what}: expected {digits} hexadecimal digits")
    return value


def _progress_bar(total, initial, description, progress):
    """A tqdm bar in bytes on stderr (disabled when progress is false)."""
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=description,
        disable=not progress,
    )


def _hash_file(path, progress=False):
    """The SHA-256 and MD5 of a file, read once."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    bar = _progress_bar(os.path.getsize(path), 0, f"hashing {os.path.basename(path)}", progress)
    with open(path, "rb") as file, bar:
        while chunk := file.read(_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            bar.update(len(chunk))
    return sha256.hexdigest(), md5.hexdigest()


def _url_filename(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DownloadError(f"{url}: only http:// and https:// URLs can be downloaded")
    name = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
    if not name:
        raise DownloadError(f"{url}: the URL does not end in a file name; give one with filename=")
    return plain_file_name(name, url)


def plain_file_name(name, source):
    """
    Checks that a name to save a download under is a plain file name, so the file lands inside the target folder.

    Arguments:
    name -- the name (already percent-decoded)
    source -- the URL or option it came from, for the message

    Returns:
    name -- unchanged; raises DownloadError for '.', '..', a path separator, an absolute path or a control character
    """
    unsafe = (
        name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or os.path.isabs(name)
        or any(ord(character) < 32 or ord(character) == 127 for character in name)
    )
    if unsafe:
        raise DownloadError(
            f"{source}: {name!r} is not a plain file name (no folders, '..' or control characters), so the file "
            "would not land inside the --to folder; give a URL ending in a plain name"
        )
    return name


class _WebRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http and https only (urllib would follow one to ftp)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise DownloadError(f"{req.full_url}: redirected to {newurl}; only http and https are followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _range_header_values(content_range):
    """(start, total) from 'bytes START-END/TOTAL' or 'bytes */TOTAL'; None for what is absent or unreadable."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", content_range or "")
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _fetch(url, part, progress, timeout, max_bytes=DEFAULT_MAX_BYTES):
    """
    Downloads url into part, appending to what part holds with a Range request; raises _Interrupted on a short transfer,
    DownloadError when the server goes silent for `timeout` seconds or sends more than `max_bytes` in all.
    """
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"User-Agent": "neural-style (python urllib)"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.build_opener(_WebRedirectsOnly).open(request, timeout=timeout)
    except DownloadError:
        raise
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and offset:
            # The partial file is as long as the file (complete) or longer (stale): keep it or start again.
            _, total = _range_header_values(error.headers.get("Content-Range"))
            if total == offset:
                return
            os.remove(part)
            raise _Interrupted("the server has no bytes after the partial file; starting again") from None
        kept = f"; the partial file {part} is kept" if offset else ""
        raise DownloadError(
            f"{url}: HTTP error {error.code} {error.reason}{kept}; check the URL, "
            f"or download the file by hand (see pretrained-model/README.md)"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise DownloadError(
            f"{url}: cannot connect ({reason}); check the URL and the network, "
            f"or download the file by hand (see pretrained-model/README.md)"
        ) from None
    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if offset and response.status == 206:
            start, total = _range_header_values(response.headers.get("Content-Range"))
            if start is not None and start != offset:
                os.remove(part)
                raise _Interrupted(f"the server sent bytes from {start} instead of {offset}; starting again")
            mode = "ab"
            total = total if total is not None else (offset + length if length is not None else None)
        else:
            # A fresh download, or a server that ignored Range and sent the whole file: start from zero.
            mode, offset, total = "wb", 0, length
        if total is not None and total > max_bytes:
            _discard(part)
            raise DownloadError(
                f"{url}: the server announces {total:,} bytes, more than the {max_bytes:,} allowed; "
                "pass --max-bytes if you mean it"
            )
        received = 0
        bar = _progress_bar(total, offset, os.path.basename(part)[: -len(".part")], progress)
        with open(part, mode) as out, bar:
            while True:
                try:
                    # read1: what has arrived (up to a chunk), so a server that stalls leaves every byte it sent.
                    chunk = response.read1(_CHUNK)
                except TimeoutError:
                    out.close()
                    raise DownloadError(
                        f"{url}: the server sent nothing for {timeout:g} s; {offset + received:,} bytes kept in "
                        f"{part}, run the same command again to resume"
                    ) from None
                except (http.client.HTTPException, OSError) as error:
                    raise _Interrupted(f"{type(error).__name__}: {error}") from None
                if not chunk:
                    break
                if offset + received + len(chunk) > max_bytes:
                    out.close()
                    _discard(part)  # not a prefix of any file we would accept: nothing to resume
                    raise DownloadError(
                        f"{url}: the server sent more than {max_bytes:,} bytes, the most allowed; the partial file "
                        "was deleted; pass --max-bytes if the file really is that large"
                    )
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if length is not None and received < length:
        raise _Interrupted(f"the connection closed after {offset + received} of {offset + length} bytes")


def _discard(part):
    with contextlib.suppress(FileNotFoundError):
        os.remove(part)


def download_weights(
    url=MAT_URL,
    to="pretrained-model",
    sha256=MAT_SHA256,
    progress=True,
    *,
    filename=None,
    retries=3,
    timeout=60,
    max_bytes=None,
):
    """
    Downloads a weight file (by default MatConvNet's imagenet-vgg-verydeep-19.mat) and checks its SHA-256.

    The bytes go to '<file>.part' first; an interrupted download is resumed with an HTTP Range request (here, up to
    `retries` times, and by calling again later), from zero if the server ignores Range. Only a file whose SHA-256 is
    right is moved into place; a wrong one is deleted. A file already in place with the right SHA-256 is not
    downloaded again.

    Arguments:
    url -- http(s) URL of the file
    to -- directory to put it in (created if needed)
    sha256 -- expected SHA-256 (hex); None skips the check (for a URL whose hash you do not know)
    progress -- show a progress bar on stderr
    filename -- name of the file in `to`; by default the last part of the URL
    retries -- how many times to resume automatically after the connection breaks
    timeout -- seconds to wait for the server to connect or send data; a server silent that long fails the download
    max_bytes -- the most bytes to accept (None: the published size for a published URL, else DEFAULT_MAX_BYTES);
                 beyond it the download fails and the partial file is deleted

    Returns:
    path -- path of the downloaded (or already present) file
    """
    sha256 = _check_hex(sha256, 64, "SHA-256")
    name = plain_file_name(filename, "filename") if filename is not None else _url_filename(url)
    if max_bytes is None:
        max_bytes = PUBLISHED_MAX_BYTES.get(url, DEFAULT_MAX_BYTES)
    if os.path.exists(to) and not os.path.isdir(to):
        raise DownloadError(f"{to}: not a directory; give the folder to download into")
    os.makedirs(to, exist_ok=True)
    final = os.path.join(to, name)
    part = final + ".part"
    if os.path.exists(final):
        if sha256 is None:
            return final
        found, _ = _hash_file(final, progress)
        if found == sha256:
            return final
        raise ChecksumError(
            f"{final} already exists but its SHA-256 is {found}, not {sha256}; move or delete it and run again"
        )
    attempt = 0
    while True:
        try:
            _fetch(url, part, progress, timeout, max_bytes)
            break
        except _Interrupted as error:
            if attempt >= retries:
                kept = os.path.getsize(part) if os.path.exists(part) else 0
                raise DownloadError(
                    f"{url}: download interrupted ({error}); {kept} bytes kept in {part}, "
                    "run the same command again to resume"
                ) from None
            attempt += 1
            time.sleep(_RETRY_WAIT_S * attempt)
    if sha256 is not None:
        found, _ = _hash_file(part, progress)
        if found != sha256:
            os.remove(part)
            raise ChecksumError(
                f"{url}: downloaded file has SHA-256 {found}, expected {sha256}; the partial file "
                f"{part} was deleted: run again, or check the URL and the SHA-256"
            )
    os.replace(part, final)
    return final


def verify_weights(path, sha256=None, progress=False):
    """
    Checks a weight file: its checksum, and that it holds the 16 convolutions of VGG-19.

    The checksum is checked against `sha256` when given; otherwise a file named like a published one
    (imagenet-vgg-verydeep-19.mat, vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5) must match one of the published
    hashes; any other file's hashes are only reported.

    Arguments:
    path -- the .mat or .h5 file
    sha256 -- expected SHA-256 (hex), or None
    progress -- show a progress bar while hashing

    Returns:
    report -- dict: path, format ('mat' or 'keras-h5'), size (bytes), sha256, md5, known (the published file it is,
              or None), checksum ('matches the given SHA-256', 'matches <known file>' or 'not checked'),
              channel_order, layers ({conv name: [3, 3, C_in, C_out]}), full_size (the real VGG-19 channel counts),
              parameters (number of weights in the 16 convolutions)
    """
    sha256 = _check_hex(sha256, 64, "SHA-256")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG-19 weights not found: {path} ({WEIGHTS_HELP})")
    found_sha256, found_md5 = _hash_file(path, progress)
    found = {"sha256": found_sha256, "md5": found_md5}
    known = next(
        (description for description, algorithm, digest, _ in PUBLISHED_FILES if found[algorithm] == digest), None
    )
    if sha256 is not None:
        if found_sha256 != sha256:
            raise ChecksumError(
                f"{path}: SHA-256 is {found_sha256}, expected {sha256}; the file is corrupt or a "
                "different file: download it again"
            )
        checksum = "matches the given SHA-256"
    elif known is not None:
        checksum = f"matches {known}"
    else:
        expected = [
            f"{algorithm.upper()} {digest}"
            for _, algorithm, digest, name in PUBLISHED_FILES
            if name == os.path.basename(path)
        ]
        if expected:
            raise ChecksumError(
                f"{path}: SHA-256 {found_sha256} (MD5 {found_md5}) matches no published file "
                f"(expected {' or '.join(expected)}); download it again, "
                "or pass its SHA-256 if you trust it"
            )
        checksum = "not checked"
    weights = load_weights(path)
    shapes = {name: list(kernel.shape) for name, (kernel, _) in weights.layers.items()}
    return {
        "path": path,
        "format": "keras-h5" if is_keras_path(path) else "mat",
        "size": os.path.getsize(path),
        "sha256": found_sha256,
        "md5": found_md5,
        "known": known,
        "checksum": checksum,
        "channel_order": weights.channel_order,
        "layers": shapes,
        "full_size": all(shape[2:] == list(CONV_LAYERS[name]) for name, shape in shapes.items()),
        "parameters": int(sum(kernel.size + bias.size for kernel, bias in weights.layers.values())),
    }


def format_report(report):
    """
    The report of verify_weights as a few lines of text, for the command line.

    Arguments:
    report -- dict returned by verify_weights

    Returns:
    text -- one 'key: value' line per entry, the layers summarised
    """
    size = "real VGG-19 channel counts" if report["full_size"] else "NOT the real VGG-19 channel counts"
    return "\n".join(
        [
            f"path: {report['path']}",
            f"format: {report['format']} ({len(report['layers'])} convolutions, "
            f"{report['parameters']:,} weights, {size})",
            f"size: {report['size']:,} bytes",
            f"sha256: {report['sha256']}",
            f"md5: {report['md5']}",
            f"checksum: {report['checksum']}",
            f"channel order: {report['channel_order']}",
            "ok",
        ]
    )
