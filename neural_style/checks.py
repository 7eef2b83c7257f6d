"""One vocabulary of checks: each helper takes a value and the Python parameter it came from, and raises OptionError
with one line naming that parameter, what it must be and what it got.

The library names the parameter (``learning_rate must be > 0, got 0``); the command line turns the names an error
lists in ``OptionError.parameters`` into flags (``--learning-rate must be > 0, got 0``), in ``cli.common`` alone.
"""

import math
import os
import sys
from collections.abc import Collection, Iterable

import numpy as np

# float32's largest finite number (about 3.4e38): a weight beyond it is finite in Python but infinite in the network.
FLOAT32_MAX = float(np.finfo(np.float32).max)


class OptionError(ValueError):
    """An option with a value that cannot work; the message names the option and what to do."""

    def __init__(self, message: str, *parameters: str):
        super().__init__(message)
        # The Python parameters the message names, which a command line shows as its flags.
        self.parameters = parameters

    def __reduce__(self):
        return type(self), (self.args[0], *self.parameters)


class UnknownLayerError(OptionError, KeyError):
    """A layer name the model does not have; the message lists the valid ones."""

    def __str__(self):
        # KeyError would quote the message.
        return str(self.args[0])


def is_int(value: object) -> bool:
    """True for a whole number (Python or numpy), False for a bool or anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: object) -> bool:
    """True for a real number (Python or numpy, whole or not), False for a bool or anything else."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_positive_int(value: object, name: str, unit: str | None = None) -> int:
    """
    Checks a whole number > 0 (a size, a number of iterations).

    Arguments:
    name -- the parameter, for the message
    unit -- what is counted, for the message ('pixels'), or None

    Returns:
    value -- unchanged; raises OptionError otherwise
    """
    if not is_int(value) or value <= 0:
        counted = f" of {unit}" if unit else ""
        raise OptionError(f"{name} must be a positive whole number{counted}, got {value}", name)
    return value


def check_count(value: object, name: str, zero: str | None = "never") -> int:
    """
    Checks a whole number >= 0 (an interval in iterations, 0 meaning `zero`; a seed).

    Arguments:
    name -- the parameter, for the message
    zero -- what 0 means, for the message; None when 0 means nothing special

    Returns:
    value -- unchanged; raises OptionError otherwise
    """
    if not is_int(value) or value < 0:
        meaning = f" (0 = {zero})" if zero else ""
        raise OptionError(f"{name} must be a whole number >= 0{meaning}, got {value}", name)
    return value


def check_number(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    what: str = "a finite number",
    note: str = "",
    parameter: str | None = None,
    float32: bool = False,
) -> float:
    """
    Checks a finite number in a range: minimum <= value <= maximum and value > above (each bound optional).

    Arguments:
    name -- the parameter, for the message
    minimum, maximum -- inclusive bounds, or None
    above -- an exclusive lower bound, or None
    what -- how the message names the kind of value ('a finite number', 'a number', '' for none)
    note -- said after the range, e.g. ' (0 = off)'
    parameter -- the parameter, where `name` says more ('style_layers weight of conv1_1')
    float32 -- also require abs(value) <= FLOAT32_MAX: a number the network holds in float32 (1e300 is finite in
               Python but infinite there)

    Returns:
    value -- unchanged; raises OptionError otherwise
    """
    in_range = (
        is_number(value)
        and math.isfinite(value)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
        and (above is None or value > above)
    )
    if not in_range:
        if minimum is not None and maximum is not None:
            bounds = f"between {minimum} and {maximum}"
        else:
            limits = ((">=", minimum), (">", above), ("<=", maximum))
            bounds = " and ".join(f"{sign} {bound}" for sign, bound in limits if bound is not None)
        requirement = " ".join(part for part in (what, bounds) if part)
        raise OptionError(f"{name} must be {requirement}{note}, got {value}", parameter or name)
    if float32 and abs(value) > FLOAT32_MAX:
        raise OptionError(
            f"{name} must be within float32's range (at most {FLOAT32_MAX:.3g}), got {value:g}", parameter or name
        )
    return value


def check_choice(value: object, choices: Iterable[str], name: str) -> str:
    """
    Checks one of a set of names.

    Arguments:
    choices -- the allowed values (a tuple, or a dict's keys)
    name -- the parameter, for the message

    Returns:
    value -- unchanged; raises OptionError otherwise
    """
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise OptionError(choice_message(name, value, choices), name)
    return value


def choice_message(name: str, value: object, choices: Iterable[object]) -> str:
    """The one message for a value that is not one of `choices` (the command line's `choices=` say it too)."""
    return f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}"


def check_layers(names: Iterable[str], valid: Collection[str]) -> list[str]:
    """
    Checks layer names against a model's.

    Arguments:
    names -- the layer names asked for
    valid -- the model's layer names, in forward order

    Returns:
    names -- as a list; raises UnknownLayerError (an OptionError and a KeyError) listing the valid ones otherwise
    """
    names = list(names)
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise UnknownLayerError(f"unknown layer {', '.join(map(str, unknown))}; valid layers: {', '.join(valid)}")
    return names


def check_file(path: str | os.PathLike, name: str, missing: str) -> str | os.PathLike:
    """
    Checks that a file exists and can be read.

    Arguments:
    path -- the file
    name -- the parameter, for the message
    missing -- what to say when there is no such file (what it should be, what to do)

    Returns:
    path -- unchanged; raises OptionError otherwise
    """
    if not os.path.isfile(path):
        raise OptionError(f"{name} {path}: {missing}", name)
    if not os.access(path, os.R_OK):
        raise OptionError(f"{name} {path}: cannot be read (permission denied)", name)
    return path


def broken_link(path: str | os.PathLike) -> str | None:
    """
    The component of a path that is a symbolic link to nothing (its target missing, or a loop of links).

    os.path.exists is False for such a link, so a check that walks up to the nearest existing folder would pass it,
    and making the folder fails later (the link's name is taken).

    Arguments:
    path -- a file or folder path, existing or to be made

    Returns:
    link -- the link's absolute path, or None when no component is a broken link
    """
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        if os.path.islink(existing):
            return existing
        parent = os.path.dirname(existing)
        if parent == existing:
            return None
        existing = parent
    return None


def check_no_broken_link(path: str | os.PathLike, name: str) -> str | os.PathLike:
    """
    Refuses a path (a folder or file to be made) that is, or lies under, a symbolic link to nothing.

    Arguments:
    path -- the path
    name -- the parameter, for the message

    Returns:
    path -- unchanged; raises OptionError naming the link and its missing target otherwise
    """
    link = broken_link(path)
    if link is None:
        return path
    where = f"{name}" if link == os.path.abspath(path) else f"{name} {os.fspath(path)}:"
    raise OptionError(f"{where} {broken_link_text(link)}", name)


def broken_link_text(link: str) -> str:
    """What to say of a symbolic link to nothing (broken_link's): where it points, and what to do."""
    target = os.readlink(link)
    return f"{link} is a symbolic link to {target}, which does not exist; make that folder, or give another path"


def warn(line):
    """
    Prints one warning line on stderr, as every command words them: `neural-style: warning: LINE`.

    Arguments:
    line -- what happened and what the run does about it

    Returns:
    None
    """
    print(f"neural-style: warning: {line}", file=sys.stderr)
