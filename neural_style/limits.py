"""The limits a run is checked against before any work: numbers that float32 can hold, sizes that fit in memory,
images small enough to decode, hardware that makes bfloat16 pay; and the one place a non-finite cost is explained.

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

# Where the system's available memory cannot be read: the largest output (and style image) a run may ask for.
FALLBACK_RUN_PIXELS = 4_000_000


def run_pixel_limit(budget=None):
    """
    The largest picture (height x width) a run can hold: what large.estimate_peak_memory allows with the smallest
    tile in `budget` (tiles bound the network's activations, so only the per-pixel arrays grow with the size).

    Arguments:
    budget -- bytes the run may use; None: the system's available memory (large.available_memory)

    Returns:
    limit -- int, a number of pixels (FALLBACK_RUN_PIXELS where the available memory cannot be read)
    """
    from . import large  # large imports the network's tables; this module is imported before them

    budget = budget if budget is not None else large.available_memory()
    if budget is None:
        return FALLBACK_RUN_PIXELS
    window = large.minimum_tile_size(["conv5_1"]) * 3  # the smallest tile's window: its core and two margins
    fixed = large.BASE_BYTES + large.ACTIVATION_FACTOR * large.activation_bytes_per_pixel(["conv5_1"]) * window**2
    return max(0, int((budget - fixed) / large.PER_PIXEL_BYTES))


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


def check_run_size(size, what="the output", limit=None, scale=None):
    """
    Refuses a size a run cannot hold in memory even with tiles, before the network is built.

    Arguments:
    size -- (height, width) in pixels
    what -- what the size is of, for the message ('the output', 'the style images')
    limit -- the largest height x width allowed; None: run_pixel_limit() (the available memory)
    scale -- for the style images: the style_scale that gave `size`, so the message can say which one fits

    Returns:
    size -- unchanged; raises OptionError saying the largest size that fits (naming max_size or style_scale)
    """
    height, width = size
    limit = run_pixel_limit() if limit is None else limit
    if height * width <= limit:
        return size
    shrink = math.sqrt(limit / (height * width))
    fits_h, fits_w = max(1, int(height * shrink)), max(1, int(width * shrink))
    parameter, hint = ("style_scale", f"{scale * shrink:.3g}") if scale else ("max_size", max(fits_h, fits_w))
    raise OptionError(
        f"{what} would be {width}x{height} ({height * width:,} pixels), more than the {limit:,} a run can hold in "
        f"memory; the largest of that shape that fits is {fits_w}x{fits_h} (e.g. {parameter} {hint})",
        parameter,
    )


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
