"""visualize/curves.py: the cost curves of a run."""

import numpy as np
import pytest

from neural_style import visualize as V
from tests.visualize_helpers import write_history


def test_history_series_keep_the_costs_and_extra_terms(tmp_path):
    entries = [
        {
            "iteration": i,
            "seconds": 0.5 * i,
            "J": 100.0 / (i + 1),
            "J_content": 3.0 / (i + 1),
            "J_style": 2.0 / (i + 1),
            "J_tv": 0.1 * i,
            "lr": 2.0,
        }
        for i in range(6)
    ]
    path = write_history(tmp_path / "run.jsonl", entries)
    read = V.read_history(path)
    assert read == entries
    series = V.history_series(read)
    assert list(series) == ["J", "J_content", "J_style", "J_tv"]
    np.testing.assert_array_equal(series["J_style"][1], [2.0 / (i + 1) for i in range(6)])
    np.testing.assert_array_equal(series["J"][0], range(6))
    pixels = V.figure_to_array(V.curves_figure({"run.jsonl": read}))
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no cost entries"),
        ('{"iteration": 0, "J": 1}\n', "line 1: no J_content, J_style"),
        ('{"iteration": 0, "J": 1, "J_content": 1, "J_style": 1}\n{oops\n', "line 2: not JSON"),
    ],
)
def test_bad_history_files_say_where(tmp_path, text, message):
    path = tmp_path / "h.jsonl"
    path.write_text(text)
    with pytest.raises(V.HistoryError, match=message):
        V.read_history(path)
