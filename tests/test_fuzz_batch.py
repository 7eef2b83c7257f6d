"""The fuzzing suite (tests/test_fuzz.py's contract and settings) for a batch's readers: manifests and results.jsonl get
mutated and random inputs. The contract: jobs whose pictures all lie inside --output-dir under different names, or one
of the package's own errors in one line; a results file always reads (a damaged line is skipped) and a record
appended after any damage reads back as its own line. Output names are checked to split back into their labels.
"""

import json
import os

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style.batch import DONE, append_row, manifest_jobs, output_name, read_results
from neural_style.options import StyleOptions
from tests.test_fuzz import FUZZ, honours_contract, mutations

VALID_CSV = (
    "content,style,output,iterations,style_blend,init,preset\n"
    "photo.png,starry.png,,3,,,\n"
    'photo.png,starry.png;photo.png,blend.png,,"0.7,0.3",content,\n'
    "sub/photo.png,starry.png,sub/x.jpg,2,,starry.png,gatys\n"
).encode()
VALID_JSONL = (
    json.dumps({"content": "photo.png", "style": "starry.png", "iterations": 2})
    + "\n"
    + json.dumps({"content": "sub/photo.png", "style": ["starry.png", "photo.png"], "output": "b.png", "seed": 3})
    + "\n"
).encode()
COLUMNS = ["content", "style", "styles", "output", "iterations", "style_blend", "init", "content_mask", "height", "x"]
CELLS = st.one_of(
    st.sampled_from(["photo.png", "starry.png", "sub/photo.png", "../photo.png", "/etc/passwd", "~", ".", "a.png"]),
    st.text(max_size=10),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.sampled_from(["photo.png", "starry.png", 5, None]), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@pytest.fixture(scope="module")
def manifest_folder(tmp_path_factory):
    """A folder with photo.png, starry.png and sub/photo.png (4x4), where each example's manifest is written."""
    folder = tmp_path_factory.mktemp("manifests")
    (folder / "sub").mkdir()
    for name in ("photo.png", "starry.png", "sub/photo.png"):
        iio.imwrite(folder / name, np.zeros((4, 4, 3), np.uint8))
    return folder


def read_jobs(folder, name, data):
    """Writes the manifest and reads its jobs under the contract; every job's picture is checked to lie inside the
    output folder, under its own name."""
    (folder / name).write_bytes(data)
    out = folder / "out"
    jobs = honours_contract(lambda path: manifest_jobs(path, out, StyleOptions(weights="random"), "png"), folder / name)
    if jobs is not None:
        outputs = [os.path.realpath(job.output) for job in jobs]
        assert len(set(outputs)) == len(outputs)
        assert all(os.path.commonpath([path, os.path.realpath(out)]) == os.path.realpath(out) for path in outputs)
        assert all(path != os.path.realpath(out) for path in outputs)
    return jobs


@pytest.mark.parametrize("name, valid", [("jobs.csv", VALID_CSV), ("jobs.jsonl", VALID_JSONL)])
def test_fuzz_manifest_reader(manifest_folder, peak, name, valid):
    assert len(read_jobs(manifest_folder, name, valid)) in (2, 3)  # the unmutated file: every row a job

    @settings(FUZZ, max_examples=80)
    @given(data=st.one_of(mutations(valid), st.binary(max_size=300)))
    def check(data):
        read_jobs(manifest_folder, name, data)

    check()


def test_fuzz_manifest_rows(manifest_folder, peak):
    """Rows of JSON objects with any of the columns (and unknown ones) holding any kind of JSON value."""

    @settings(FUZZ, max_examples=120)
    @given(rows=st.lists(st.dictionaries(st.sampled_from(COLUMNS), CELLS, max_size=6), max_size=4))
    def check(rows):
        text = "".join(json.dumps(row) + "\n" for row in rows)
        read_jobs(manifest_folder, "jobs.jsonl", text.encode())

    check()


def test_fuzz_results_reader(tmp_path_factory, peak):
    folder = tmp_path_factory.mktemp("results")
    rows = [{"output": f"{k}.png", "status": DONE, "fingerprint": f"sha256:{k}", "J": 1.5} for k in range(3)]
    valid = "".join(json.dumps(row) + "\n" for row in rows).encode()
    record = {"output": "new.png", "status": DONE, "fingerprint": "sha256:new"}

    @settings(FUZZ, max_examples=80)
    @given(data=st.one_of(mutations(valid), st.binary(max_size=300)))
    def check(data):
        path = folder / "results.jsonl"
        path.write_bytes(data)
        damaged = []
        found = read_results(path, damaged)
        assert all(isinstance(key, str) and row["output"] == key for key, row in found.items())
        assert all(1 <= number <= data.count(b"\n") + 1 for number in damaged)
        append_row(path, record)  # after whatever damage: its own line, read back as the latest of its picture
        assert read_results(path)["new.png"] == record
        assert path.read_bytes().endswith(b"\n" + json.dumps(record).encode() + b"\n") or path.read_bytes() == (
            json.dumps(record).encode() + b"\n"
        )

    check()


LABELS = st.text(alphabet="ab_%+-.", min_size=1, max_size=8)


def test_fuzz_output_names_split_back_into_their_labels(peak):
    def unescape(text):
        return text.replace("%5F", "_").replace("%2B", "+").replace("%25", "%")

    @settings(FUZZ, max_examples=300)
    @given(content=LABELS, styles=st.lists(LABELS, min_size=1, max_size=3), repeat=st.integers(1, 3))
    def check(content, styles, repeat):
        stem = output_name(content, styles, ".png", repeat)[: -len(".png")]
        parts = stem.split("__")
        assert len(parts) == (3 if repeat > 1 else 2)
        assert unescape(parts[0]) == content and [unescape(part) for part in parts[1].split("+")] == styles
        assert repeat == 1 or parts[2] == str(repeat)

    check()
