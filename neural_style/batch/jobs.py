"""Planning a batch: the Job, its jobs from a content x style grid, picture labels and output names, the batch's
options and every job's options checked before any runs."""

import dataclasses
import os

from ..images import IMAGE_EXTENSIONS
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
    inputs share it by adding parent folder names ('a-photo', 'b-photo'), else the extension ('photo-png').

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
    return labels


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


def output_name(content_label, style_labels, extension):
    """
    The file name of a job's picture: 'photo__starry_night.jpg' (several styles: 'photo__a+b.jpg').

    Arguments:
    content_label -- the content image's label (picture_labels)
    style_labels -- the style images' labels
    extension -- '.jpg', '.png', ...

    Returns:
    name -- str
    """
    return f"{content_label}__{'+'.join(style_labels)}{extension}"


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
    extension = _checked_extension(extension)
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


def _checked_extension(extension):
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
    for job in jobs:
        try:
            dataclasses.replace(options, **job.options).validate(style_count=len(job.styles))
        except OptionError as error:
            raise OptionError(f"job {job.output}: {error}", *error.parameters) from None
        except TypeError as error:  # an option name that StyleOptions does not have
            raise OptionError(f"job {job.output}: {error}") from None
