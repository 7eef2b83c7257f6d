"""The server's routes (create_app): the page and its two files, the networks, stylise, and the refine jobs with their
event streams. Every error is JSON {"error": one line}; safety.Guard stands in front of every route."""

import asyncio
import contextlib
import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..checks import OptionError
from ..image_files import ImageError
from . import jobs, pictures, safety
from .networks import Networks, list_networks, png_bytes

STATIC = Path(__file__).with_name("static")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
# Every response: nothing from another host, the page not framed, types not sniffed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Refine jobs that may wait at once (beyond: 503).
MAX_QUEUED_JOBS = 8
# How often an event stream looks for its job's new events, in seconds.
EVENT_POLL = 0.1


class UploadParser(MultiPartParser):
    """Starlette's multipart parser, its file parts kept in memory (the body is at most safety.MAX_UPLOAD_BYTES):
    nothing a client sends is written outside the server's own folder."""

    spool_max_size = safety.MAX_UPLOAD_BYTES + 1


def error(status, message, headers=None):
    """
    An API error.

    Arguments:
    status -- the HTTP status
    message -- one line: what is wrong, which field, what to do
    headers -- extra headers, or None

    Returns:
    response -- JSONResponse {"error": message}
    """
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status, headers=headers)


async def read_form(request):
    """
    A multipart request's fields and files.

    Arguments:
    request -- the Starlette request

    Returns:
    fields -- {name: str} of the text fields
    uploads -- {name: (bytes, filename)} of the picture fields; OptionError (one line) for a body that is not a form
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise OptionError("send the pictures as multipart/form-data (a form with file fields)", "content")
    parser = UploadParser(request.headers, request.stream(), max_files=8, max_fields=32)
    try:
        form = await parser.parse()
    except MultiPartException as problem:
        raise OptionError(f"the form could not be read ({problem.message}); send multipart/form-data") from None
    fields, uploads = {}, {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields[name] = value
            elif name in pictures.PICTURE_FIELDS:
                uploads[name] = (await value.read(), value.filename)
    finally:
        await form.close()
    return fields, uploads


def create_app(
    host="127.0.0.1",
    port=8000,
    token=None,
    weights="random",
    models=None,
    warm=True,
    workers=1,
    waiting=7,
    scratch_parent=None,
    lite=True,
    max_pixels=safety.MAX_PIXELS,
):
    """
    The server's ASGI application: the networks built (and warmed) now, the refine worker started.

    Arguments:
    host -- the --host it listens on (its name is an allowed Host header)
    port -- the port it listens on (the Host header must carry it)
    token -- None, or the token every request must carry
    weights -- VGG-19 weights for refine: 'random' or a path (read on the first job)
    models -- None, or a folder of .keras networks offered as "trained"
    warm -- run each network once now, so that the first request is as quick as the rest
    workers, waiting -- the stylise pool (safety.Pool): computing at once, and waiting beyond them
    scratch_parent -- where the server's temporary folder goes (default: the system's)
    lite -- with warm: the bundled networks through LiteRT where their .tflite files give the Keras network's pictures
            (converted once into the models folder on first use, as `apply` does): the same pixels, about 0.3 s
            sooner for a 1 MP photo on 2 cores
    max_pixels -- the largest picture an upload may hold (width x height, refused from its header)

    Returns:
    app -- a Starlette application wrapped in safety.Guard; app.state holds networks, refiner, pool, scratch
    """
    networks = Networks(list_networks(models), lite=lite)
    if warm:
        networks.load_all()
    scratch = safety.Scratch(scratch_parent, max_pixels)
    refiner = jobs.Refiner(weights)
    pool = safety.Pool(workers, waiting)
    painter = pictures.Painter(networks, scratch)
    weights_text = None if os.fspath(weights) == "random" else os.fspath(weights)

    async def index(request):
        return static_file("index.html")

    async def static(request):
        return static_file(request.path_params["name"])

    async def models_route(request):
        return JSONResponse(
            {
                "networks": networks.catalogue(),
                "refine": {"available": refiner.available, "reason": refiner.reason},
                "limits": {"max_upload_bytes": safety.MAX_UPLOAD_BYTES, "max_pixels": scratch.max_pixels},
            }
        )

    async def thumbnail(request):
        name, index = request.path_params["name"], request.path_params["index"]
        entry = networks.entries.get(name)
        if entry is None or entry.kind == "arbitrary" or not 0 <= index < (entry.styles or 1):
            return error(404, f"no style {index} of a network {name!r}; see /api/models for the styles")
        return Response(await run_in_threadpool(networks.thumbnail, name, index), media_type="image/png")

    async def stylize(request):
        if not pool.admit():
            return error(503, "the server is busy with other pictures; try again in a moment", {"Retry-After": "1"})
        try:
            fields, uploads = await read_form(request)
            settings = pictures.stylize_settings(fields, set(uploads), networks)
            png = await run_in_threadpool(pool.run, lambda: png_bytes(painter.stylize(settings, uploads)))
            return Response(
                png, media_type="image/png", headers={"X-Neural-Style-Command": pictures.command_line(settings)}
            )
        finally:
            pool.release()

    async def submit(request):
        if not refiner.available:
            return error(503, refiner.reason)
        if sum(not job.finished for job in refiner.jobs.values()) >= MAX_QUEUED_JOBS:
            return error(503, f"{MAX_QUEUED_JOBS} refines are waiting already; try again later", {"Retry-After": "30"})
        fields, uploads = await read_form(request)
        for field in ("content", "style"):
            if field not in uploads:
                raise OptionError(f"{field}: no picture sent; send it as the file field {field}", field)
        iterations = pictures.number_field(fields, "iterations", jobs.ITERATIONS, int)
        preview_every = pictures.number_field(fields, "preview_every", jobs.PREVIEW_EVERY, int)
        if not 1 <= iterations <= jobs.MAX_ITERATIONS:
            raise OptionError(f"iterations must be 1 to {jobs.MAX_ITERATIONS}, got {iterations}", "iterations")
        max_size = pictures.number_field(fields, "max_size", jobs.MAX_SIZE, int)
        if not 16 <= max_size <= jobs.LARGEST_SIZE:
            raise OptionError(f"max_size must be 16 to {jobs.LARGEST_SIZE} pixels, got {max_size}", "max_size")
        if preview_every < 1:
            raise OptionError(f"preview_every must be at least 1, got {preview_every}", "preview_every")

        def decode():
            return {field: pictures.decode_upload(scratch, field, *upload) for field, upload in uploads.items()}

        decoded = await run_in_threadpool(decode)
        job = jobs.Job(
            decoded["content"], decoded["style"], decoded.get("init"), iterations, preview_every, weights_text, max_size
        )
        position = refiner.submit(job)
        return JSONResponse({"id": job.id, "position": position, "command": jobs.refine_command(job)}, status_code=202)

    def find_job(request):
        job = refiner.jobs.get(request.path_params["id"])
        if job is None:
            raise LookupError(f"no job {request.path_params['id']!r}: it finished long ago or never was; start another")
        return job

    async def events(request):
        job = find_job(request)

        async def stream():
            seen = 0
            while True:
                new = job.events[seen:]
                seen += len(new)
                for name, data in new:
                    yield f"event: {name}\ndata: {json.dumps(data)}\n\n"
                    if name in ("done", "cancelled", "error"):
                        return
                await asyncio.sleep(EVENT_POLL)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def result(request):
        job = find_job(request)
        if job.result is None:
            return error(404, f"job {job.id} has no result ({job.state}); wait for its done event")
        return Response(job.result, media_type="image/png")

    async def cancel(request):
        if not refiner.cancel(request.path_params["id"]):
            return error(404, f"no job {request.path_params['id']!r}; nothing to cancel")
        return JSONResponse({"cancelled": True})

    async def bad_input(request, problem):
        return error(400, problem)

    async def not_found(request, problem):
        return error(404, problem.args[0] if isinstance(problem, LookupError) else "no such page or API route")

    async def too_large(request, problem):
        return error(413, safety.too_large(safety.MAX_UPLOAD_BYTES))

    async def failed(request, problem):
        return error(500, f"the server failed on this request ({' '.join(str(problem).split())[:200]})")

    def shutdown():
        refiner.close()
        scratch.close()

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/models", models_route),
        Route("/api/models/{name}/styles/{index:int}/thumbnail", thumbnail),
        Route("/api/stylize", stylize, methods=["POST"]),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{id}/events", events),
        Route("/api/jobs/{id}/result", result),
        Route("/api/jobs/{id}", cancel, methods=["DELETE"]),
    ]
    handlers = {
        OptionError: bad_input,
        ImageError: bad_input,
        LookupError: not_found,
        404: not_found,
        405: lambda request, problem: error(405, f"{request.method} is not allowed on {request.url.path}"),
        safety.UploadTooLarge: too_large,
        Exception: failed,
    }

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(shutdown)

    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.networks, app.state.refiner, app.state.pool, app.state.scratch = networks, refiner, pool, scratch
    guarded = safety.Guard(app, safety.allowed_hosts(host, port), token, headers=SECURITY_HEADERS)
    guarded.state = app.state
    guarded.shutdown = shutdown
    return guarded


def static_file(name):
    """
    A file of the page's folder, by name only: the name must be one of the files listed there (no path a client
    sends reaches the file system).

    Arguments:
    name -- the file's name

    Returns:
    response -- the file, or a 404 JSON error
    """
    known = {entry.name for entry in STATIC.iterdir() if entry.is_file()} if STATIC.is_dir() else set()
    if name not in known or Path(name).suffix not in CONTENT_TYPES:
        return error(404, f"no file {name!r} in the page's folder")
    return Response((STATIC / name).read_bytes(), media_type=CONTENT_TYPES[Path(name).suffix])
