"""What keeps the server safe to leave running: the Host check (DNS rebinding), the token, the upload limit (the
declared Content-Length and the bytes really read), the bounded pool of stylise requests, and the server's own
temporary folder. None of it imports TensorFlow."""

import ipaddress
import json
import os
import secrets
import shutil
import tempfile
import threading

# Uploads larger than this are refused (413) before they are read in full.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# The largest picture an upload may hold, refused from its header: 25 megapixels takes a 24-megapixel camera's photo
# (6000 x 4000) whole, where the command line's 100 would let one small file (a decompression bomb of 10000 x 10000)
# hold the server for minutes and fill its disk with the streamed pass's work files (--max-pixels raises it).
MAX_PIXELS = 25_000_000
# The hosts a server answers without a token: the loopback ones.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def is_loopback(host):
    """
    Whether a --host value listens on the loopback interface only.

    Arguments:
    host -- a host name or address as given to --host

    Returns:
    loopback -- True for localhost and the 127.0.0.0/8 and ::1 addresses
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def choose_token(host, token=None):
    """
    The token a server requires: the one given, else a new one where the host is not loopback (anyone on the
    network could reach it), else none.

    Arguments:
    host -- the --host value
    token -- the --token value, or None

    Returns:
    token -- str or None
    """
    if token:
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(24)


def allowed_hosts(host, port):
    """
    The Host headers the server answers: its own addresses with its port (a page of another site that a DNS
    rebinding points at 127.0.0.1 sends its own name, and is refused).

    Arguments:
    host -- the --host value
    port -- the port it listens on

    Returns:
    hosts -- frozenset of lower-case "name:port" strings (also "name" alone for port 80, as browsers send it)
    """
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in ("0.0.0.0", "::"):
        names.add(f"[{host}]" if ":" in host else host)
    hosts = {f"{name}:{port}".lower() for name in names}
    if port == 80:
        hosts |= {name.lower() for name in names}
    return frozenset(hosts)


def error_body(message):
    """
    An API error's body: JSON {"error": one line}.

    Arguments:
    message -- what is wrong, which field, what to do

    Returns:
    body -- bytes
    """
    return json.dumps({"error": " ".join(str(message).split())}).encode()


class UploadTooLarge(Exception):
    """A request body past MAX_UPLOAD_BYTES, seen while reading it."""


class Guard:
    """
    ASGI middleware in front of every route: the Host check (400), the token (401; every /api/ route, not the page's
    public files), and the upload limit (413: the declared Content-Length at once, the bytes really received while
    they are read, for a body sent in chunks).
    """

    def __init__(self, app, hosts, token=None, max_bytes=MAX_UPLOAD_BYTES, headers=None):
        """
        Arguments:
        app -- the ASGI application behind it
        hosts -- allowed_hosts' set
        token -- the token every request must carry (Authorization: Bearer, or ?token=), or None
        max_bytes -- the largest request body
        headers -- {name: value} added to every response (the Content-Security-Policy)
        """
        self.app, self.hosts, self.token, self.max_bytes = app, hosts, token, max_bytes
        self.headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()
        ]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            return await respond(send, 400, f"Host header {host!r} is not this server's; open it as http://127.0.0.1")
        # The page and its two files are the package's own, public: a browser loads <script src> and <link href>
        # itself, without the token; everything under /api/ needs it.
        public = scope["method"] in ("GET", "HEAD") and (scope["path"] == "/" or scope["path"].startswith("/static/"))
        if self.token is not None and not public and not self._has_token(scope, headers):
            return await respond(
                send,
                401,
                "this server needs its token: add ?token=TOKEN to the page's address (the serve command "
                "printed it) or send Authorization: Bearer TOKEN",
            )
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await respond(send, 413, too_large(self.max_bytes))
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise UploadTooLarge()
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": list(message.get("headers", [])) + self.headers}
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except UploadTooLarge:
            if not started:
                await respond(send, 413, too_large(self.max_bytes))

    def _has_token(self, scope, headers):
        given = headers.get("authorization", "")
        if given.startswith("Bearer ") and secrets.compare_digest(given[7:].encode(), self.token.encode()):
            return True
        from urllib.parse import parse_qs

        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return any(secrets.compare_digest(value.encode(), self.token.encode()) for value in query.get("token", []))


def too_large(max_bytes):
    """
    The line of a 413 answer.

    Arguments:
    max_bytes -- the upload limit

    Returns:
    line -- what is wrong and what to do
    """
    return f"the upload is larger than {max_bytes // (1024 * 1024)} MB; send smaller pictures (shrink or re-save them)"


async def respond(send, status, message, headers=()):
    """
    Sends a JSON error response from ASGI middleware.

    Arguments:
    send -- the ASGI send callable
    status -- the HTTP status
    message -- the one line
    headers -- extra (name, value) pairs of str

    Returns:
    None
    """
    body = error_body(message)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Pool:
    """
    A bounded number of stylise requests: `workers` run at once, `waiting` more may wait for them; beyond that a
    request is refused at once (503 with Retry-After) rather than piling up in memory.
    """

    def __init__(self, workers=1, waiting=3):
        """
        Arguments:
        workers -- how many requests compute at once (the networks use every core for one picture already)
        waiting -- how many more may wait their turn
        """
        self.workers, self.waiting = workers, waiting
        self._admitted = threading.BoundedSemaphore(workers + waiting)
        self._running = threading.Semaphore(workers)

    def admit(self):
        """
        Takes a place, without waiting.

        Returns:
        admitted -- True when a place was free (call release when done), False when the pool is full
        """
        return self._admitted.acquire(blocking=False)

    def release(self):
        """Gives back a place taken by admit."""
        self._admitted.release()

    def run(self, function, *args):
        """
        Runs function(*args) when one of the workers is free (in the calling thread), after admit.

        Returns:
        result -- function's
        """
        with self._running:
            return function(*args)


class Scratch:
    """
    The server's own temporary folder (uploads are decoded from files in it, up to its pixel limit), removed at
    shutdown; each file in it has a name the server chose, never one a client sent.
    """

    def __init__(self, parent=None, max_pixels=MAX_PIXELS):
        """
        Arguments:
        parent -- where to make the folder (default: the system's temporary folder)
        max_pixels -- the largest width x height an upload's picture may declare
        """
        self.folder = tempfile.mkdtemp(prefix="neural-style-serve-", dir=parent)
        self.max_pixels = max_pixels

    def write(self, data, suffix=""):
        """
        Writes bytes into a new file of the folder.

        Arguments:
        data -- bytes
        suffix -- the file's extension, e.g. ".png"

        Returns:
        path -- the new file's path (the caller removes it)
        """
        descriptor, path = tempfile.mkstemp(dir=self.folder, suffix=suffix)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        return path

    def close(self):
        """Removes the folder and what is left in it."""
        shutil.rmtree(self.folder, ignore_errors=True)
