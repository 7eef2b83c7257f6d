"""How a dataclass of options declares each setting once: its field carries its command-line flag, its help and its
resume policy as metadata (``option``). StyleOptions (options.py) and TrainOptions (fast/options.py) are declared so;
the commands build their parsers from the fields (``cli_fields``, ``flag_of``), and a resume reads the policy
(``may_change_on_resume``).
"""

import dataclasses
from collections.abc import Callable

# The field metadata that lets an option change on resume: dataclasses.field(..., metadata={RESUME: MAY_CHANGE}).
RESUME = "resume"
MAY_CHANGE = "may_change"

__all__ = ["MAY_CHANGE", "cli_fields", "flag_of", "may_change_on_resume", "option"]


def option(
    default: object = None,
    help: str | None = None,
    *,
    flag: str | None = None,
    parse: Callable[[str], object] | None = None,
    choices: tuple[object, ...] | None = None,
    metavar: str | None = None,
    nargs: str | None = None,
    unset: str | None = None,
    resume: str | None = None,
    exclusive: str | None = None,
    default_factory: Callable[[], object] | None = None,
):
    """
    A field of an options dataclass whose metadata declares its command-line option, so that the option is written
    once.

    Arguments:
    default -- the library's default (None: for StyleOptions, the preset's value, filled in by validate)
    help -- the flag's help; '{default}' in it becomes the default the command line shows (None: no flag)
    flag -- the flag, if not --name-with-dashes
    parse -- the argparse type (int, float, a parser raising OptionError), bool for an on/off switch, None for text
    choices -- the allowed values of an enumerated option
    metavar -- the value's name in --help
    nargs -- argparse's nargs for a flag that takes several values ('+'), the field then holding a list; None: one
    unset -- what the default means when it is None and no preset names it (e.g. the article's size)
    resume -- MAY_CHANGE on the settings a resumed run may change
    exclusive -- the name of a group of flags of which the command line takes at most one (None: none)
    default_factory -- a function giving the default, instead of `default`

    Returns:
    field -- a dataclasses.field with that metadata
    """
    metadata = {"help": help, "flag": flag, "parse": parse, "choices": choices, "metavar": metavar, "unset": unset}
    if nargs is not None:
        metadata["nargs"] = nargs
    if resume is not None:
        metadata[RESUME] = resume
    if exclusive is not None:
        metadata["exclusive"] = exclusive
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_of(field: dataclasses.Field) -> str:
    """
    An options field's command-line flag.

    Arguments:
    field -- a dataclasses.Field declared with `option`

    Returns:
    flag -- its metadata's flag, else --name-with-dashes
    """
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def cli_fields(options_class) -> list[dataclasses.Field]:
    """
    The fields that the command line exposes as flags.

    Arguments:
    options_class -- a dataclass of options declared with `option` (or an instance of it)

    Returns:
    fields -- the fields whose metadata has a help, in their order
    """
    return [field for field in dataclasses.fields(options_class) if field.metadata.get("help")]


def may_change_on_resume(options_class) -> set[str]:
    """
    The options that a resumed run may change: the fields marked metadata={"resume": "may_change"}.

    Those are the options that only make the first image (which the checkpoint replaces), say where things are
    written, or are checked in another form (the weights by their digest, the size as pixels).

    Arguments:
    options_class -- a dataclass of options (StyleOptions) or an instance of it

    Returns:
    names -- set of field names
    """
    return {field.name for field in dataclasses.fields(options_class) if field.metadata.get(RESUME) == MAY_CHANGE}
