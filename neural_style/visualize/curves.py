"""curves: the cost curves (total, content, style; log scale) of runs, from their --history files."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import numpy as np

from ..checks import OptionError, is_number
from .shared import matplotlib_classes, wrapped_suptitle

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HISTORY_KEYS = ("J", "J_content", "J_style")


class HistoryError(OptionError):
    """A cost-history file that cannot be read; the message names the file and the line."""


def read_history(path: str | os.PathLike) -> list[dict]:
    """
    Reads a run's cost history, written by `neural-style ... --history PATH` (one JSON object per line).

    Arguments:
    path -- the history file

    Returns:
    entries -- list of dicts with at least iteration, J, J_content, J_style (other keys, e.g. seconds, kept)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"history file not found: {path} (a run writes one with --history PATH)")
    try:
        entries = _read_history_lines(path)
    except UnicodeDecodeError:
        raise HistoryError(f"{path}: not UTF-8 text; give the file a run wrote with --history PATH") from None
    if not entries:
        raise HistoryError(f"{path}: no cost entries (the file is empty)")
    return entries


def _read_history_lines(path: str) -> list[dict]:
    entries = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise HistoryError(f"{path}, line {number}: not JSON ({error.msg})") from None
            missing = (
                [key for key in ("iteration",) + HISTORY_KEYS if key not in entry]
                if isinstance(entry, dict)
                else ["iteration"]
            )
            if missing:
                raise HistoryError(
                    f"{path}, line {number}: no {', '.join(missing)}; expected a line of "
                    "neural-style --history (iteration, seconds, J, J_content, J_style)"
                )
            entries.append(entry)
    return entries


def history_series(entries: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """
    The cost series of a history: J, J_content, J_style and any other numeric J_* key (such as J_tv).

    Arguments:
    entries -- list of dicts from read_history

    Returns:
    series -- dict from key to (iterations, values) float arrays, J first
    """
    extra = sorted(
        {
            key
            for entry in entries
            for key, value in entry.items()
            if key.startswith("J_") and key not in HISTORY_KEYS and is_number(value)
        }
    )
    series = {}
    for key in HISTORY_KEYS + tuple(extra):
        points = [(entry["iteration"], entry[key]) for entry in entries if is_number(entry.get(key))]
        series[key] = (
            tuple(np.array(values, dtype=np.float64) for values in zip(*points))
            if points
            else (np.zeros(0), np.zeros(0))
        )
    return series


CURVE_TITLES = {
    "J": "J = alpha J_content + beta J_style (total)",
    "J_content": "J_content (unweighted)",
    "J_style": "J_style (unweighted, summed over the style layers)",
}


def curves_figure(histories: dict[str, list[dict]] | list[dict]) -> Figure:
    """
    The cost curves of one or more runs, one panel per cost, log scale.

    Arguments:
    histories -- dict from a run's label (e.g. its file name) to its entries (from read_history), or one list of
                 entries

    Returns:
    figure -- a matplotlib Figure
    """
    (Figure,) = matplotlib_classes("Figure")
    if not isinstance(histories, dict):
        histories = {"run": histories}
    series = {label: history_series(entries) for label, entries in histories.items()}
    keys = list(dict.fromkeys(key for runs in series.values() for key in runs))
    figure = Figure(figsize=(5.2 * len(keys), 4.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(keys)))
    for ax, key in zip(axes, keys):
        positive = False
        for label, runs in series.items():
            x, y = runs.get(key, (np.zeros(0), np.zeros(0)))
            if len(y):
                ax.plot(x, y, label=f"{label}: last {y[-1]:.4g}" if len(series) > 1 else f"last {y[-1]:.4g}")
                positive = positive or bool(np.any(y > 0))
        if positive:
            ax.set_yscale("log")  # values <= 0 are left out of a log axis
        ax.set_title(CURVE_TITLES.get(key, f"{key} (unweighted)"), fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"{key}" + (" (log scale)" if positive else ""))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    summary = "; ".join(_run_summary(label, entries) for label, entries in histories.items())
    wrapped_suptitle(figure, f"Cost curves: {summary}", fontsize=10)
    return figure


def _run_summary(label, entries):
    seconds = [entry["seconds"] for entry in entries if is_number(entry.get("seconds"))]
    timing = f" in {seconds[-1]:.1f} s" if seconds else ""
    return f"{label}, {len(entries)} iterations{timing}"
