"""Planning a batch: the Job, its jobs from a content x style grid, picture labels and output names, the batch's
options and every job's options checked before any runs."""

import dataclasses
import os

from .. import large, safety
from ..image_files import IMAGE_EXTENSIONS
from ..option_parsers import INITS
from ..options import OptionError, StyleOptions

# Options a manifest row may not set: the weights are loaded once per worker, and the batch owns its files.
BATCH_OWNED = ("weights", "output_dir", "save_every", "checkpoint_every", "resume")


@dataclasses.dataclass(frozen=True)
class Job:
    """One picture of a batch.

    Attributes:
    content -- path of the content image
    styles -- tuple of style image paths (several are blended, as --style A B)
    output -- path of the picture to write
    options -- dict of StyleOptions fields for this job alone (they override the batch's)
    """

    content: str
    styles: tuple
    output: str
    options: dict = dataclasses.field(default_factory=dict)


def image_files(sources, option):
    """
    The image files named by a list of files and folders (a folder: its image files, sorted, not recursive).

    Arguments:
    sources -- list of paths of image files or folders
    option -- the option's name, for the message

    Returns:
    paths -- list of str, in the order given
    """
    paths = []
    for source in map(os.fspath, sources):
        if os.path.isdir(source):
            found = sorted(
                os.path.join(source, name)
                for name in os.listdir(source)
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS and not name.startswith(".")
            )
            if not found:
                raise OptionError(f"{option} {source}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
            paths.extend(found)
        elif os.path.isfile(source):
            paths.append(source)
        else:
            raise OptionError(f"{option} {source}: no such file or folder")
    return list(dict.fromkeys(paths))


def picture_labels(paths):
    """
    A short, readable label per input for output names: its file name without extension, made unique when two
    inputs share it by adding parent folder names ('a-photo', 'b-photo'), else the extension ('photo-png'); a label
    that still equals another input's (a file called 'a-photo' beside the two photos) gets '-2', '-3', ... until it
    is unique. The labels depend only on the list of paths, so the same inputs get the same names on every run.

    Arguments:
    paths -- list of distinct paths

    Returns:
    labels -- dict path -> label, no two the same
    """
    by_stem = {}
    for path in paths:
        by_stem.setdefault(_stem(path), []).append(path)
    labels = {}
    for stem, group in by_stem.items():
        labels.update(_unique_labels(stem, group))
    # Labels made from folder names can meet another input's own stem: the later input (in `paths` order) gives way.
    taken, unique = set(), {}
    for path in paths:
        label, count = labels[path], 2
        while label in taken:
            label, count = f"{labels[path]}-{count}", count + 1
        taken.add(label)
        unique[path] = label
    return unique


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def _unique_labels(stem, group):
    if len(group) == 1:
        return {group[0]: stem}
    parts = {path: os.path.normpath(os.path.abspath(path)).split(os.sep)[:-1] for path in group}
    for depth in range(1, max(map(len, parts.values())) + 1):
        labels = {path: "-".join(parts[path][-depth:] + [stem]).lstrip("-") for path in group}
        if len(set(labels.values())) == len(group):
            return labels
    labels = {path: f"{stem}-{os.path.splitext(path)[1].lstrip('.').lower()}" for path in group}
    if len(set(labels.values())) == len(group):
        return labels
    return {path: f"{stem}-{k + 1}" for k, path in enumerate(group)}


# Output names: content label, SEPARATOR, the style labels joined by STYLE_JOINER (then, for a manifest's repeated
# pair, SEPARATOR and its number). escape_label makes the name injective: an escaped label holds no SEPARATOR, no
# STYLE_JOINER and neither starts nor ends with '_', so the name splits back into its labels in exactly one way.
SEPARATOR = "__"
STYLE_JOINER = "+"


def escape_label(label):
    """
    A label as it appears in an output name: '%' as '%25', '+' as '%2B', and each '_' that is next to another '_' or
    at either end as '%5F' ('starry_night' is unchanged, 'x__y' becomes 'x%5F%5Fy').

    Arguments:
    label -- a picture label (picture_labels)

    Returns:
    escaped -- str, with no '__' and no '+', not starting or ending with '_'
    """
    text = label.replace("%", "%25").replace("+", "%2B")
    characters = list(text)
    for k, character in enumerate(text):
        if character == "_" and (k == 0 or k == len(text) - 1 or text[k - 1] == "_" or text[k + 1] == "_"):
            characters[k] = "%5F"
    return "".join(characters)


def output_name(content_label, style_labels, extension, repeat=1):
    """
    The file name of a job's picture: 'photo__starry_night.jpg' (several styles: 'photo__a+b.jpg'; a manifest's
    second row of the same pair: 'photo__a__2.jpg'). Labels are escaped (escape_label), so different labels never
    give the same name.

    Arguments:
    content_label -- the content image's label (picture_labels)
    style_labels -- the style images' labels
    extension -- '.jpg', '.png', ...
    repeat -- 1, or the number of an earlier pair's repeat

    Returns:
    name -- str
    """
    styles = STYLE_JOINER.join(map(escape_label, style_labels))
    suffix = f"{SEPARATOR}{repeat}" if repeat > 1 else ""
    return f"{escape_label(content_label)}{SEPARATOR}{styles}{suffix}{extension}"


def grid_jobs(contents, styles, output_dir, extension=".jpg"):
    """
    One job per content x style pair, each picture named after its pair.

    Arguments:
    contents -- list of content image files or folders
    styles -- list of style image files or folders
    output_dir -- the folder the pictures go into
    extension -- the pictures' format, '.jpg' or '.png', ...

    Returns:
    jobs -- list of Job, content-major
    """
    extension = checked_extension(extension)
    for option, sources in (("--contents", contents), ("--styles", styles)):
        for source in map(os.fspath, sources):
            if os.path.isdir(source) and safety.same_file(source, output_dir):
                raise OptionError(
                    f"{option} {source} is also --output-dir: the batch's pictures would be read back as inputs; "
                    "choose another --output-dir"
                )
    content_paths, style_paths = image_files(contents, "--contents"), image_files(styles, "--styles")
    content_labels, style_labels = picture_labels(content_paths), picture_labels(style_paths)
    return [
        Job(
            content,
            (style,),
            os.path.join(output_dir, output_name(content_labels[content], [style_labels[style]], extension)),
        )
        for content in content_paths
        for style in style_paths
    ]


def checked_extension(extension):
    """
    The pictures' format (--format) as a file extension, checked.

    Arguments:
    extension -- 'jpg', '.PNG', ...

    Returns:
    extension -- lower case with its dot ('.jpg'); raises OptionError for a type the image files cannot write
    """
    extension = extension if extension.startswith(".") else "." + extension
    if extension.lower() not in IMAGE_EXTENSIONS:
        raise OptionError(
            f"--format {extension.lstrip('.')}: unknown image type; use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    return extension.lower()


def batch_options(options=None, **overrides):
    """
    The batch's StyleOptions, checked: every job's options start from these.

    Arguments:
    options -- a StyleOptions, or None for the defaults
    overrides -- StyleOptions fields

    Returns:
    options -- StyleOptions (not yet filled by validate, so a job's preset still fills what is unset)
    """
    options = dataclasses.replace(options or StyleOptions(), **overrides)
    for name in ("checkpoint_every", "resume", "save_every"):
        if getattr(options, name):
            raise OptionError(f"{name} is for one picture; a batch resumes by skipping finished jobs", name)
    options = dataclasses.replace(options, output_dir=None)
    dataclasses.replace(options).validate()
    return options


def check_jobs(jobs, options):
    """
    Checks every job's options (the batch's with the job's own) before any job runs.

    Arguments:
    jobs -- list of Job
    options -- the batch's StyleOptions

    Returns:
    None; raises OptionError naming the first job whose options cannot work
    """
    checked = {}  # jobs with the same options and number of styles are checked once: a 10,000-job grid in one check
    for job in jobs:
        try:
            try:
                key = (tuple(sorted(job.options.items())), len(job.styles))
                hash(key)
            except TypeError:  # a list or an array among the options: checked on its own
                key = None
            resolved = checked.get(key) if key is not None else None
            if resolved is None:
                resolved = dataclasses.replace(options, **job.options).validate(style_count=len(job.styles))
                if key is not None:
                    checked[key] = resolved
            large.check_bit_depth(job.output, resolved.bit_depth)  # a .jpg cannot hold 16 bits: known before any run
        except OptionError as error:
            raise OptionError(f"job {job.output}: {error}", *error.parameters) from None
        except TypeError as error:  # an option name that StyleOptions does not have
            raise OptionError(f"job {job.output}: {error}") from None


# The options whose values name files a job reads (besides its content and styles).
FILE_OPTIONS = ("init", "content_mask", "style_masks", "style_source_masks")


def job_inputs(job, options):
    """
    Every file a job reads: its content, its styles and the files its options name (an init image, masks).

    Arguments:
    job -- a Job
    options -- the batch's StyleOptions (the job's own options override them)

    Returns:
    inputs -- list of (name, path)
    """
    inputs = [("content", job.content), *(("style", style) for style in job.styles)]
    for name in FILE_OPTIONS:
        value = job.options.get(name, getattr(options, name))
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (str, os.PathLike)) and not (name == "init" and item in INITS):
                inputs.append((name, os.fspath(item)))
    return inputs


def check_writes(jobs, options, folder=None, results=None, inputs=()):
    """
    Refuses, before any job runs, a batch that would write outside its folder, over any of its inputs (contents,
    styles, init images, masks, the manifest; symlinks and hard links resolved), or two of its files to one path:
    safety.check_planned_writes, the main command's check, over every picture and results.jsonl.

    Arguments:
    jobs -- list of Job
    options -- the batch's StyleOptions
    folder -- the batch's output folder, inside which every file it writes must lie (None: not checked)
    results -- the path of results.jsonl, or None
    inputs -- more (name, path) the batch reads, e.g. ('--manifest', path)

    Returns:
    None; raises OptionError with one line naming the path
    """
    files = [("picture", job.output) for job in jobs] + ([("results", os.fspath(results))] if results else [])
    if folder is not None:
        for name, path in files:
            safety.check_inside(path, folder, name, "--output-dir")
    sources = dict.fromkeys(inputs)  # each (name, path) once: a style shared by 10,000 jobs is checked once
    for job in jobs:
        sources.update(dict.fromkeys(job_inputs(job, options)))
    safety.check_planned_writes(safety.PlannedWrites(files=files), list(sources))
