"""The refine queue: a job is the article's optimisation (the same picture and costs as stylize with the same
settings), one at a time, its events in order with previews, cancel of a queued and of a running job, the stop; and
the same through the API (POST /api/jobs, the event stream, the result, DELETE)."""

import io
import json
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from neural_style.serve import jobs
from neural_style.stylize import stylize
from tests.fixtures import smooth_photo

PHOTO = np.rint(smooth_photo(24, 32, seed=4)).astype(np.float32)
PAINTING = np.rint(255 - smooth_photo(28, 28, seed=5)).astype(np.float32)
INIT = np.rint(smooth_photo(24, 32, seed=6)).astype(np.float32)


def wait_for(ready, seconds=120, what="the job"):
    """Polls ready() every 20 ms; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.02)


@pytest.fixture
def refiner():
    refiner = jobs.Refiner("random")
    yield refiner
    assert refiner.close(timeout=60)


def decoded(data):
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGB"), np.float64)


def test_a_job_is_the_articles_optimisation_with_its_events(refiner):
    job = jobs.Job(PHOTO, PAINTING, INIT, iterations=4, preview_every=2, max_size=32)
    assert refiner.submit(job) == 0
    wait_for(lambda: job.finished)
    names = [name for name, _ in job.events]
    assert names == ["queued", "progress", "progress", "progress", "progress", "progress", "done"], job.events
    image, history = stylize(PHOTO, PAINTING, weights="random", iterations=4, init=INIT, max_size=32)
    assert np.abs(decoded(job.result) - image).max() <= 1
    progress = [data for name, data in job.events if name == "progress"][1:]
    assert [data["iteration"] for data in progress] == [1, 2, 3, 4]
    assert all(data["iterations"] == 4 for data in progress)
    np.testing.assert_allclose([data["J"] for data in progress], [entry["J"] for entry in history], rtol=1e-5)
    assert ["preview" in data for data in progress] == [False, True, False, True]
    preview = progress[-1]["preview"]
    assert preview.startswith("data:image/jpeg;base64,")
    import base64

    with Image.open(io.BytesIO(base64.b64decode(preview.split(",", 1)[1]))) as picture:
        assert picture.format == "JPEG" and picture.size == (32, 24)
    assert job.events[-1] == ("done", {"result": f"/api/jobs/{job.id}/result"})
    assert jobs.refine_command(job) == (
        "neural-style --content PHOTO --style PAINTING --output REFINED.png --init INIT --iterations 4 --max-size 32"
    )


def test_queued_and_running_jobs_are_cancelled(refiner):
    running = jobs.Job(PHOTO, PAINTING, iterations=jobs.MAX_ITERATIONS, max_size=32)
    queued = jobs.Job(PHOTO, PAINTING, iterations=3, max_size=32)
    assert refiner.submit(running) == 0
    assert refiner.submit(queued) == 1
    assert queued.events == [("queued", {"position": 1})]
    assert refiner.cancel(queued.id)
    assert queued.events[-1] == ("cancelled", {}) and queued.state == "cancelled"
    wait_for(lambda: any(name == "progress" and data["iteration"] >= 1 for name, data in running.events))
    assert refiner.cancel(running.id)
    wait_for(lambda: running.finished, 60, "the running job's stop")
    assert running.events[-1] == ("cancelled", {}) and running.result is None
    steps = [data["iteration"] for name, data in running.events if name == "progress"]
    assert steps[-1] < jobs.MAX_ITERATIONS
    assert not refiner.cancel("no-such-job")
    after = jobs.Job(PHOTO, PAINTING, iterations=1, max_size=32)
    assert refiner.submit(after) == 0  # the worker is free again
    wait_for(lambda: after.finished)
    assert after.state == "done"


def test_close_stops_the_running_job_and_the_queue():
    refiner = jobs.Refiner("random")
    running = jobs.Job(PHOTO, PAINTING, iterations=jobs.MAX_ITERATIONS, max_size=32)
    waiting = jobs.Job(PHOTO, PAINTING, iterations=2, max_size=32)
    refiner.submit(running)
    refiner.submit(waiting)
    wait_for(lambda: len(running.events) >= 3)
    assert refiner.close(timeout=60)
    assert running.events[-1] == ("cancelled", {}) and waiting.events[-1] == ("cancelled", {})


def test_a_job_that_cannot_run_ends_with_its_one_line(tmp_path):
    bad = tmp_path / "vgg.mat"
    bad.write_bytes(b"not a mat file")
    refiner = jobs.Refiner(bad)
    assert refiner.available
    job = jobs.Job(PHOTO, PAINTING, iterations=2, max_size=32)
    refiner.submit(job)
    wait_for(lambda: job.finished)
    name, data = job.events[-1]
    assert name == "error" and str(bad) in data["error"] and "\n" not in data["error"]
    assert refiner.close(timeout=10)


def test_refine_availability_names_the_missing_weights(tmp_path):
    assert jobs.refine_availability("random") == (True, None)
    available, reason = jobs.refine_availability(tmp_path / "none.mat")
    assert not available and str(tmp_path / "none.mat") in reason and "--weights" in reason


def events_of(text):
    """An event stream's text as (name, data) pairs."""
    pairs = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        pairs.append((lines["event"], json.loads(lines["data"])))
    return pairs


def test_the_api_runs_streams_and_cancels_jobs(tmp_path):
    pytest.importorskip("httpx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from neural_style.serve.app import create_app
    from tests.test_serve import assert_error, sent

    app = create_app(port=8000, weights="random", warm=False, scratch_parent=tmp_path)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        files = sent(content=PHOTO, style=PAINTING)
        long = client.post("/api/jobs", files=files, data={"iterations": "5000", "max_size": "32"})
        assert long.status_code == 202, long.text
        first = long.json()
        assert first["position"] == 0 and first["command"].endswith("--init content --iterations 5000 --max-size 32")
        short = client.post("/api/jobs", files=sent(content=PHOTO, style=PAINTING, init=INIT),
                            data={"iterations": "3", "preview_every": "3", "max_size": "32"})  # fmt: skip
        second = short.json()
        assert second["position"] == 1 and "--init INIT --iterations 3" in second["command"]
        assert_error(client.get(f"/api/jobs/{second['id']}/result"), 404, "queued")
        job = app.state.refiner.jobs[first["id"]]
        wait_for(lambda: len(job.events) >= 3)
        assert client.delete(f"/api/jobs/{first['id']}").json() == {"cancelled": True}
        stream = client.get(f"/api/jobs/{first['id']}/events")
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert events_of(stream.text)[-1] == ("cancelled", {})
        done = events_of(client.get(f"/api/jobs/{second['id']}/events").text)
        assert [name for name, _ in done] == ["queued", "progress", "progress", "progress", "progress", "done"]
        assert done[0][1] == {"position": 1} and "preview" in done[-2][1]
        result = client.get(done[-1][1]["result"])
        assert result.headers["content-type"] == "image/png"
        image, _ = stylize(PHOTO, PAINTING, weights="random", iterations=3, init=INIT, max_size=32)
        assert np.abs(decoded(result.content) - image).max() <= 1
        assert_error(client.delete("/api/jobs/nope"), 404)
        assert_error(client.get("/api/jobs/nope/events"), 404)
        assert_error(client.post("/api/jobs", files=sent(content=PHOTO)), 400, "style")
        assert_error(client.post("/api/jobs", files=files, data={"iterations": "0"}), 400, "iterations")
        assert_error(client.post("/api/jobs", files=files, data={"max_size": "9"}), 400, "max_size")
        corrupt = {**files, "init": ("init.png", b"\x89PNG broken", "image/png")}
        assert_error(client.post("/api/jobs", files=corrupt), 400, "init")
