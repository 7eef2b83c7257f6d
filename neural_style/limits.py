"""The limits a run is checked against before any work: numbers that float32 can hold, images small enough to
decode, hardware that makes bfloat16 pay; and the one place a non-finite cost is explained. The sizes that fit in
memory are large/'s, beside its memory model (large.check_run_size).

Every check raises the package's own error with one line saying what is wrong and what to do.
"""

import math
import os
import sys

from .checks import OptionError

# The largest number of pixels an input image may have before it is decoded (a 12000 x 12000 PNG of a few hundred KB
# would decode to 5.5 GB of pixels). 100 megapixels: bigger than any camera photo or scanned painting in common use.
MAX_IMAGE_PIXELS = 100_000_000
MAX_IMAGE_PIXELS_ENV = "NEURAL_STYLE_MAX_IMAGE_PIXELS"


def max_image_pixels():
    """
    The pixel limit of input images: $NEURAL_STYLE_MAX_IMAGE_PIXELS if set, else MAX_IMAGE_PIXELS.

    Returns:
    limit -- int, the largest width x height an image file may declare
    """
    text = os.environ.get(MAX_IMAGE_PIXELS_ENV)
    if not text:
        return MAX_IMAGE_PIXELS
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise OptionError(f"${MAX_IMAGE_PIXELS_ENV} must be a positive whole number of pixels, got {text!r}")
    return limit


def non_finite_reason(costs, iteration, learning_rate):
    """
    Why the cost became NaN or infinite, blaming what did it.

    Arguments:
    costs -- dict of the iteration's costs (floats): J, J_content, J_style, maybe J_tv
    iteration -- the iteration at which it happened (0: the starting image itself)
    learning_rate -- Adam's learning rate, for the message

    Returns:
    reason -- one line
    """
    J = costs["J"]
    bad = [f"{name} = {costs[name]}" for name in ("J_content", "J_style", "J_tv") if name in costs]
    bad = [text for text in bad if not math.isfinite(float(text.split(" = ")[1]))]
    if iteration == 0:
        if bad:
            return (
                f"the cost of the starting image is already not finite ({', '.join(bad)}): the weights or the images "
                "give values beyond float32; check the weights with `neural-style weights verify`"
            )
        return (
            f"the cost of the starting image is already {J} though each term is finite: "
            "--alpha, --beta or --tv-weight is too large for float32"
        )
    if not bad and math.isinf(J):
        return (
            f"the cost became {J} at iteration {iteration} though each term is finite: "
            "--alpha, --beta or --tv-weight is too large for float32; lower them"
        )
    return f"the cost became {J} at iteration {iteration}; try a lower --learning-rate (now {learning_rate})"


def cpu_has_native_bfloat16(cpuinfo="/proc/cpuinfo"):
    """
    Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16), where --precision bfloat16 is faster.

    Arguments:
    cpuinfo -- the file listing the CPU's flags (Linux)

    Returns:
    native -- True or False; None when the flags cannot be read (not Linux)
    """
    try:
        with open(cpuinfo, encoding="utf8", errors="replace") as file:
            flags = {word for line in file if line.startswith("flags") for word in line.split(":", 1)[1].split()}
    except OSError:
        return None
    return bool(flags & {"amx_bf16", "avx512_bf16"})


FORCE_BFLOAT16_ENV = "NEURAL_STYLE_FORCE_BFLOAT16"


def resolve_precision(precision, has_gpu, native_bfloat16=None, report=None):
    """
    The precision a run really uses: bfloat16 only where it is fast (a GPU, or a CPU with AMX or AVX512-BF16);
    elsewhere it is emulated and about 8 times slower (368 s against 46 s for 10 steps at 300x400, measured), so it
    falls back to float32 with a one-line note, unless $NEURAL_STYLE_FORCE_BFLOAT16 is 1.

    Arguments:
    precision -- 'float32' or 'bfloat16', as asked
    has_gpu -- whether TensorFlow sees a GPU
    native_bfloat16 -- whether the CPU has native bfloat16 (None: read /proc/cpuinfo)
    report -- function(line) for the note (default: a line on stderr)

    Returns:
    precision -- 'float32' or 'bfloat16'
    """
    if precision != "bfloat16" or has_gpu or os.environ.get(FORCE_BFLOAT16_ENV) == "1":
        return precision
    native = cpu_has_native_bfloat16() if native_bfloat16 is None else native_bfloat16
    if native is not False:
        return precision
    report = report or (lambda line: print(f"neural-style: note: {line}", file=sys.stderr))
    report(
        "this CPU has no native bfloat16 (no AMX or AVX512-BF16), where --precision bfloat16 runs about 8 times "
        f"slower: using float32 instead (set {FORCE_BFLOAT16_ENV}=1 to force bfloat16)"
    )
    return "float32"
