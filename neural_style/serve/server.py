"""The serve command's work: the options checked (check_options), the socket bound (port 0: a free one), the
application built with the port it really has, uvicorn run on that socket, the ready line printed once it answers,
and SIGTERM / SIGINT turned into a clean stop (jobs cancelled, the temporary folder removed, exit code 0)."""

import os
import signal
import socket
import sys

from ..checks import OptionError, is_int
from ..limits import max_image_pixels
from . import safety


def check_options(host, port, token, models=None, max_pixels=safety.MAX_PIXELS):
    """
    The serve command's options, checked in one place before anything is built (the messages name the command's
    flags: the options have no dataclass of their own to map parameters to flags).

    Arguments:
    host -- the --host value
    port -- the --port value (0: a free port)
    token -- the --token value, or None
    models -- the --models folder, or None
    max_pixels -- the --max-pixels value: the largest picture an upload may hold

    Returns:
    token -- the token in force (safety.choose_token: one is made for a non-loopback host without one); OptionError
             (one line naming the option) otherwise
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise OptionError(f"--port must be 0 (a free port) to 65535, got {port!r}", "port")
    if not host or any(character.isspace() or character in "/?#@" for character in host):
        raise OptionError(f"--host must be an address or a name to listen on, e.g. 127.0.0.1, got {host!r}", "host")
    if token is not None and (len(token) < 8 or not token.isprintable() or " " in token):
        raise OptionError("--token must be at least 8 printable characters without spaces", "token")
    if not is_int(max_pixels) or not 1 <= max_pixels <= max_image_pixels():
        raise OptionError(
            f"--max-pixels must be a whole number of pixels from 1 to {max_image_pixels():,} (the command line's "
            f"limit), got {max_pixels!r}",
            "max_pixels",
        )
    if models is not None and not os.path.isdir(models):
        raise OptionError(f"--models {models}: not a folder; give the folder of your .keras networks", "models")
    return safety.choose_token(host, token)


def bind(host, port):
    """
    A listening socket on host:port.

    Arguments:
    host -- an address or name
    port -- a port, or 0 for a free one

    Returns:
    sock -- the bound socket; OptionError (one line naming host or port) when it cannot be bound
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as problem:
        raise OptionError(f"host {host}: not an address this machine has ({problem.strerror})", "host") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as problem:
        sock.close()
        raise OptionError(
            f"port {port} on {host}: cannot listen there ({problem.strerror}); try --port 0", "port"
        ) from None
    sock.set_inheritable(True)
    return sock


def address_line(host, port, token):
    """
    The ready line: `Serving on http://HOST:PORT/`, with `?token=...` when a token is in force.

    Arguments:
    host, port -- where it listens
    token -- None or the token

    Returns:
    line -- str
    """
    shown = f"[{host}]" if ":" in host else host
    return f"Serving on http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(host="127.0.0.1", port=8000, token=None, weights="random", models=None, max_pixels=safety.MAX_PIXELS):
    """
    Runs the server until SIGTERM or SIGINT.

    Arguments:
    host, port, token -- as check_options takes them
    weights -- VGG-19 weights for refine ('random' or a path)
    models -- None, or a folder of .keras networks
    max_pixels -- the largest picture an upload may hold

    Returns:
    code -- 0 after a clean stop
    """
    import uvicorn

    from .app import create_app

    token = check_options(host, port, token, models, max_pixels)
    sock = bind(host, port)
    port = sock.getsockname()[1]
    try:
        app = create_app(host, port, token, weights, models, max_pixels=max_pixels)
    except BaseException:
        sock.close()
        raise
    line = address_line(host, port, token)

    class Server(uvicorn.Server):
        """uvicorn's server, which says once it answers and stops cleanly on a signal."""

        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started and not self.should_exit:
                print(line, flush=True)

        def handle_exit(self, sig, frame):
            # Not raised again after the stop (uvicorn does so by default): a requested stop exits with 0. The jobs
            # are told now, so that their event streams end and the connections can close.
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C: stop without waiting for the connections
            self.should_exit = True
            app.state.refiner.cancel_all()

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=10, lifespan="on")
    try:
        Server(config).run(sockets=[sock])
    finally:
        sock.close()
        app.shutdown()  # again, in case the lifespan did not run to its end: removing twice is harmless
    print("stopped", file=sys.stderr)
    return 0
