"""A batch's manifest: a CSV or JSON-lines file with one job per row, each row checked before any job runs."""

import csv
import dataclasses
import json
import os

from ..images import IMAGE_EXTENSIONS
from ..options import OptionError, StyleOptions, parse_style_layers
from .jobs import BATCH_OWNED, Job, _checked_extension, output_name, picture_labels

# Manifest columns that are not options.
JOB_COLUMNS = ("content", "style", "output")


def read_manifest(path):
    """
    The rows of a manifest: a CSV file with a header row, or JSON lines (one object per line).

    Arguments:
    path -- a .csv or .jsonl file

    Returns:
    rows -- list of (row number, dict column -> value); CSV rows are numbered from 2 (the header is row 1), JSON
            lines from 1; empty cells and blank lines are left out
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OptionError(f"--manifest {path}: no such file")
    kind = os.path.splitext(path)[1].lower()
    with open(path, newline="", encoding="utf-8") as file:
        if kind == ".csv":
            reader = csv.DictReader(file)
            rows = [
                (n, {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()})
                for n, row in enumerate(reader, 2)
            ]
            if None in (column for _, row in rows for column in row):
                raise OptionError(f"{path}: a row has more cells than the header has columns")
            return rows
        if kind in (".jsonl", ".ndjson"):
            rows = []
            for n, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise OptionError(f"{path} row {n}: not JSON ({error.msg}); give one object per line") from None
                if not isinstance(row, dict):
                    raise OptionError(f"{path} row {n}: not a JSON object; give one object per line")
                rows.append((n, {k: v for k, v in row.items() if v is not None and v != ""}))
            return rows
    raise OptionError(f"--manifest {path}: unknown kind of file; give a .csv (with a header row) or a .jsonl file")


def option_value(name, value):
    """
    A manifest cell as the value of the StyleOptions field `name` (JSON values are taken as they are, text converted
    by the field's type; the checks themselves are StyleOptions.validate's).

    Arguments:
    name -- a StyleOptions field name
    value -- the cell: text (CSV) or a JSON value

    Returns:
    value -- the option's value
    """
    field = {field.name: field for field in dataclasses.fields(StyleOptions)}[name]
    # The field's own parser where its metadata declares one (the command line's), else its annotated type.
    parse = field.metadata.get("parse")
    kind = parse if parse is not None else field.type
    if not isinstance(value, str):
        return value
    if kind is bool:
        if value.lower() in ("true", "yes", "1"):
            return True
        if value.lower() in ("false", "no", "0"):
            return False
        raise OptionError(f"{value!r} is not true or false")
    if kind in (int, float):
        try:
            number = float(value)
        except ValueError:
            raise OptionError(f"{value!r} is not a number") from None
        if kind is int and number.is_integer():
            return int(number)
        return number
    if parse is not None:
        return parse(value)
    if name == "style_layers":
        return parse_style_layers(value)
    return value


def manifest_jobs(path, output_dir, options=None, extension=".jpg"):
    """
    One job per manifest row, each row checked (its files, its options through StyleOptions.validate) before any
    runs. Columns: content, style (several separated by ';' in CSV, a list in JSON), output (optional; relative to
    output_dir; default named after the pair), and any option (iterations, preset, style_blend, ...).

    Arguments:
    path -- the manifest, .csv or .jsonl; relative image paths in it are relative to its folder
    output_dir -- the folder the pictures go into
    options -- the batch's StyleOptions (a row's options override them)
    extension -- the format of pictures named after their pair

    Returns:
    jobs -- list of Job; a bad row raises OptionError naming the manifest, the row and the column
    """
    options = options or StyleOptions()
    extension = _checked_extension(extension)
    folder = os.path.dirname(os.path.abspath(path))
    fields = {field.name for field in dataclasses.fields(StyleOptions)} - set(BATCH_OWNED)
    planned = []
    for row_number, row in read_manifest(path):

        def bad(column, problem, row_number=row_number):
            return OptionError(f"{path} row {row_number}, column {column}: {problem}")

        job_options = {}
        for column, value in row.items():
            name = column.replace("-", "_")
            if name in JOB_COLUMNS or name == "styles":
                continue
            if name not in fields:
                raise bad(column, "unknown column; use content, style, output or an option such as iterations")
            try:
                job_options[name] = option_value(name, value)
            except OptionError as error:
                raise bad(column, error) from None
        content = _manifest_path(row.get("content"), folder, bad, "content")
        style_cell = row.get("style", row.get("styles"))
        if isinstance(style_cell, str):
            style_cell = [part for part in style_cell.split(";") if part.strip()]
        if not style_cell:
            raise bad("style", "empty; give a style image (several separated by ';')")
        styles = tuple(_manifest_path(item, folder, bad, "style") for item in style_cell)
        try:
            dataclasses.replace(options, **job_options).validate(style_count=len(styles))
        except OptionError as error:
            column = _column_named(error, row)
            raise bad(column, _without_column(error, column)) from None
        planned.append((row_number, content, styles, row.get("output"), job_options))
    return _named_manifest_jobs(planned, output_dir, extension, path)


def _manifest_path(value, folder, bad, column):
    if not isinstance(value, str) or not value.strip():
        raise bad(column, "empty; give an image file")
    path = os.path.join(folder, os.path.expanduser(value.strip()))
    if not os.path.isfile(path):
        raise bad(column, f"{value}: no such file")
    return path


def _column_named(error, row):
    """The row's column that an OptionError names (its parameters where it lists them, else a --flag in its message),
    else the first option column."""
    named = [name.replace("_", "-") for name in getattr(error, "parameters", ())]
    text = str(error)
    for column in row:
        flag = column.replace("_", "-")
        if flag in named or f"--{flag}" in text:
            return column
    options = [column for column in row if column not in JOB_COLUMNS and column != "styles"]
    return options[0] if options else "style"


def _without_column(error, column):
    """An OptionError's message without its leading parameter where that is the column already named
    ('iterations must be ...' in column iterations reads 'must be ...')."""
    message = str(error)
    name = column.replace("-", "_")
    if name in getattr(error, "parameters", ()) and message.startswith(f"{name} "):
        return message[len(name) + 1 :]
    return message


def _named_manifest_jobs(planned, output_dir, extension, path):
    content_labels = picture_labels(list(dict.fromkeys(content for _, content, _, _, _ in planned)))
    style_labels = picture_labels(list(dict.fromkeys(s for _, _, styles, _, _ in planned for s in styles)))
    jobs, seen = [], {}
    for row_number, content, styles, output, job_options in planned:
        if output is None:
            name = output_name(content_labels[content], [style_labels[s] for s in styles], extension)
            output = os.path.join(output_dir, name)
            stem, ext = os.path.splitext(output)
            count = 2
            while os.path.normpath(output) in seen:  # the same pair twice, with other options
                output, count = f"{stem}-{count}{ext}", count + 1
        else:
            output = os.path.join(output_dir, output)
            if os.path.splitext(output)[1].lower() not in IMAGE_EXTENSIONS:
                raise OptionError(
                    f"{path} row {row_number}, column output: unknown image type; use {', '.join(IMAGE_EXTENSIONS)}"
                )
            if os.path.normpath(output) in seen:
                raise OptionError(
                    f"{path} row {row_number}, column output: {output} is also row {seen[os.path.normpath(output)]}'s; "
                    "give each row its own output"
                )
        if any(_same_path(output, source) for source in (content, *styles)):
            raise OptionError(
                f"{path} row {row_number}, column output: {output} is also an input (inputs are never overwritten)"
            )
        seen[os.path.normpath(output)] = row_number
        jobs.append(Job(content, styles, output, job_options))
    return jobs


def _same_path(a, b):
    return os.path.realpath(a) == os.path.realpath(b)
