"""A batch's manifest: a CSV or JSON-lines file with one job per row, each row checked before any job runs."""

import csv
import dataclasses
import io
import json
import os

from ..image_files import IMAGE_EXTENSIONS
from ..option_parsers import INITS
from ..options import OptionError, StyleOptions, parse_style_layers
from .jobs import BATCH_OWNED, FILE_OPTIONS, Job, checked_extension, output_name, picture_labels

# Manifest columns that are not options.
JOB_COLUMNS = ("content", "style", "output")


def read_manifest(path):
    """
    The rows of a manifest: a CSV file with a header row, or JSON lines (one object per line), UTF-8 (a byte-order
    mark allowed).

    Arguments:
    path -- a .csv or .jsonl file

    Returns:
    rows -- list of (row number, dict column -> value); CSV rows are numbered from 2 (the header is row 1), JSON
            lines from 1; empty cells and blank lines are left out. A file that is not text, a header naming a
            column twice (style-blend and style_blend are one column), a row with more cells than the header, or a
            JSON object naming a key twice raises OptionError with one line.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OptionError(f"--manifest {path}: no such file")
    kind = os.path.splitext(path)[1].lower()
    if kind not in (".csv", ".jsonl", ".ndjson"):
        raise OptionError(f"--manifest {path}: unknown kind of file; give a .csv (with a header row) or a .jsonl file")
    try:
        with open(path, "rb") as file:
            text = file.read().decode("utf-8-sig")  # a spreadsheet's byte-order mark is not part of the first column
    except UnicodeDecodeError as error:
        raise OptionError(
            f"--manifest {path}: not UTF-8 text (byte {error.start}); save it as UTF-8 CSV or JSON lines"
        ) from None
    if "\0" in text:
        raise OptionError(f"--manifest {path}: holds NUL bytes, so it is not a text file; give a .csv or .jsonl file")
    return _csv_rows(path, text) if kind == ".csv" else _json_rows(path, text)


def _column_name(column):
    """A column as the option it names: 'style-blend' and 'style_blend' are one column, 'styles' is 'style'."""
    name = column.strip().replace("-", "_")
    return "style" if name == "styles" else name


def _csv_rows(path, text):
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        header = [column.strip() for column in header]
        seen = {}
        for number, column in enumerate(header, 1):
            if column and _column_name(column) in seen:
                raise OptionError(
                    f"{path} row 1: column {column} repeats column {seen[_column_name(column)]}; give each column once"
                )
            seen[_column_name(column)] = column
        rows = []
        for n, cells in enumerate(reader, 2):
            extra = [cell for k, cell in enumerate(cells) if (k >= len(header) or not header[k]) and cell.strip()]
            if extra:
                raise OptionError(
                    f"{path} row {n}: {len(cells)} cells but the header names {sum(map(bool, header))} columns "
                    f"(extra {extra[0].strip()!r:.40}); give every cell a column in the header row"
                )
            row = {header[k]: cell.strip() for k, cell in enumerate(cells[: len(header)]) if header[k] and cell.strip()}
            if row:
                rows.append((n, row))
        return rows
    except csv.Error as error:
        raise OptionError(
            f"{path} row {reader.line_num}: not CSV ({error}); give a header row, then one job per row"
        ) from None


def _unique_keys(pairs):
    """json.loads' object_pairs_hook: an object naming a key twice is refused (JSON keeps the last one silently)."""
    row = {}
    for key, value in pairs:
        if key in row:
            raise _RepeatedKey(key)
        row[key] = value
    return row


class _RepeatedKey(ValueError):
    pass


def _json_rows(path, text):
    rows = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as error:
            raise OptionError(f"{path} row {n}: not JSON ({error.msg}); give one object per line") from None
        except _RepeatedKey as error:
            raise OptionError(f"{path} row {n}: key {error.args[0]!r:.40} appears twice; give each key once") from None
        except RecursionError:
            raise OptionError(f"{path} row {n}: nested too deeply to be a job; give one flat object per line") from None
        if not isinstance(row, dict):
            raise OptionError(f"{path} row {n}: not a JSON object; give one object per line")
        names = {}
        for key in row:
            if _column_name(key) in names:
                raise OptionError(f"{path} row {n}: keys {names[_column_name(key)]!r} and {key!r} are one column")
            names[_column_name(key)] = key
        rows.append((n, {k: v for k, v in row.items() if v is not None and v != ""}))
    return rows


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
    if kind is int:
        # As the command line reads it (argparse's int): '1e30' or '2.5' is not a whole number of iterations.
        try:
            return int(value)
        except ValueError:
            pass
        try:
            float(value)
        except ValueError:
            raise OptionError(f"{value!r} is not a number") from None
        raise OptionError(f"{value!r} is not a whole number") from None
    if kind is float:
        try:
            return float(value)
        except ValueError:
            raise OptionError(f"{value!r} is not a number") from None
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
    extension = checked_extension(extension)
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
                if name in FILE_OPTIONS:
                    job_options[name] = _option_files(name, job_options[name], folder)
            except OptionError as error:
                raise bad(column, error) from None
        content = _manifest_path(row.get("content"), folder, bad, "content")
        style_cell = row.get("style", row.get("styles"))
        if isinstance(style_cell, str):
            style_cell = [part for part in style_cell.split(";") if part.strip()]
        if not isinstance(style_cell, list) or not style_cell:
            raise bad("style", "empty; give a style image (several separated by ';', in JSON a list)")
        styles = tuple(_manifest_path(item, folder, bad, "style") for item in style_cell)
        try:
            dataclasses.replace(options, **job_options).validate(style_count=len(styles))
        except OptionError as error:
            column = _column_named(error, row)
            raise bad(column, _without_column(error, column)) from None
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as error:
            # A JSON value of a kind no option takes (a list where a number goes, ...): the checks assume the kind.
            column = _column_named(error, row)
            raise bad(column, f"{_cell_text(row.get(column))} is not a value this column takes") from None
        planned.append((row_number, content, styles, row.get("output"), job_options))
    if not planned:
        raise OptionError(f"--manifest {path}: no jobs in it; give a header row, then one row per job")
    return _named_manifest_jobs(planned, output_dir, extension, path)


def _cell_text(value):
    return repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."


def _manifest_path(value, folder, bad, column):
    if not isinstance(value, str) or not value.strip():
        raise bad(column, "empty; give an image file" if not value else f"{_cell_text(value)} is not a file name")
    if "\0" in value:
        raise bad(column, "holds a NUL character; give an image file")
    path = os.path.join(folder, os.path.expanduser(value.strip()))
    if not os.path.isfile(path):
        raise bad(column, f"{value}: no such file")
    return path


def _option_files(name, value, folder):
    """The files an option names (init, masks), relative to the manifest's folder like content and style; a CSV cell
    names several masks separated by ';'."""
    if name in ("style_masks", "style_source_masks") and isinstance(value, str):
        value = [part.strip() for part in value.split(";") if part.strip()]

    def resolved(item):
        if not isinstance(item, str) or (name == "init" and item in INITS):
            return item  # a name of INITS, or a value StyleOptions.validate refuses with its own message
        if "\0" in item:
            raise OptionError("holds a NUL character; give an image file")
        return os.path.join(folder, os.path.expanduser(item.strip()))

    return [resolved(item) for item in value] if isinstance(value, list) else resolved(value)


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


def _output_cell(value, bad):
    """A manifest's output cell: a plain relative name inside --output-dir (subfolders allowed, never '..', never
    absolute or '~'), else one line naming the row and the column."""
    if not isinstance(value, str):
        raise bad("output", f"{_cell_text(value)} is not a file name; give a name inside --output-dir")
    parts = value.replace("\\", "/").split("/")
    if (
        os.path.isabs(value)
        or value.startswith("~")
        or any(part in ("", ".", "..") for part in parts)
        or any(ord(character) < 32 or character == "\x7f" for character in value)
    ):
        raise bad(
            "output",
            f"{_cell_text(value)} is not a plain relative name; give a name inside --output-dir, without '..', a "
            "leading '/' or '~', or control characters",
        )
    if os.path.splitext(value)[1].lower() not in IMAGE_EXTENSIONS:
        raise bad("output", f"{_cell_text(value)}: unknown image type; use {', '.join(IMAGE_EXTENSIONS)}")
    return value


def _named_manifest_jobs(planned, output_dir, extension, path):
    """Each row's output: its own cell, else the pair's name (output_name); a row that repeats an earlier row's pair
    gets the repeat's number ('photo__scream__2.jpg'). Two rows that still name one file are one line, exit 2."""
    content_labels = picture_labels(list(dict.fromkeys(content for _, content, _, _, _ in planned)))
    style_labels = picture_labels(list(dict.fromkeys(s for _, _, styles, _, _ in planned for s in styles)))
    jobs, seen, repeats = [], {}, {}
    for row_number, content, styles, output, job_options in planned:

        def bad(column, problem, row_number=row_number):
            return OptionError(f"{path} row {row_number}, column {column}: {problem}")

        if output is None:
            pair = (content, styles)
            repeats[pair] = repeats.get(pair, 0) + 1
            labels = [style_labels[s] for s in styles]
            output = os.path.join(output_dir, output_name(content_labels[content], labels, extension, repeats[pair]))
        else:
            output = os.path.join(output_dir, _output_cell(output, bad))
        key = os.path.normcase(os.path.normpath(output))
        if key in seen:
            raise bad("output", f"{output} is also row {seen[key]}'s; give each row its own output")
        seen[key] = row_number
        jobs.append(Job(content, styles, output, job_options))
    return jobs
