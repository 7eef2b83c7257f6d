"""Large pictures: the automatic coarse-to-fine schedule, the memory estimate that picks a tile size, and 16-bit
output. The exact tiled cost itself is in tiles.py; the average of the iterates is
optimize.IterateAverage, beside BestImage.

Every function here is pure (sizes and arrays in, sizes and arrays out); StyleTransfer (stylize.py) calls them, and
StyleOptions.validate checks the options they take.
"""

import math
import os
import subprocess

import numpy as np

from ..checks import OptionError
from ..config import AUTO
from ..layers import layer_names
from ..weights import CONV_LAYERS
from .layout import largest_window, layer_level, minimum_tile_size, network_reach

# The longest side of the first scale of --scales auto; each next scale is sqrt(2) larger, the last the output.
MIN_SIZE = 128
BIT_DEPTHS = (8, 16)
# Formats that hold 16 bits per channel (imageio writes them through Pillow / tifffile).
SIXTEEN_BIT_EXTENSIONS = (".png", ".tif", ".tiff")

# The peak-memory model (bytes) of a float32 run on the CPU:
# peak = BASE + PER_PIXEL * H * W + ACTIVATION_FACTOR * activation_bytes_per_pixel * window pixels,
# the window the whole image untiled, one tile's window tiled. BASE: TensorFlow's runtime and VGG-19's filters.
# PER_PIXEL: what a run holds for every pixel of the picture, tiled or not, counted in float32 RGB images (12 bytes a
# pixel): the content and style pixels (2), the generated and the best image (2), Adam's two moments (2), the
# content activation at conv4_2 (512 channels / 64 = 8 floats, about 3 images), and in a step the gradient, Adam's
# update and the clipped image (about 5): 14 images, 170 bytes.
# ACTIVATION_FACTOR: the activations a pass keeps for its backward pass (each layer's input and its ReLU's output)
# and the convolutions' workspace, as a multiple of the activations' own size. BASE and the factor are fitted to
# benchmarks/bench_large.py's whole-image peaks at 300x400 and 600x800 (docs/performance.md); the window is the
# layout's largest (tiling.largest_window), and tiled peaks and larger pictures come out 1-18% below the estimate.
BASE_BYTES = 1.27e9
PER_PIXEL_BYTES = 170
ACTIVATION_FACTOR = 2.97
# Where the system's available memory cannot be read: the largest output (and style image) a run may ask for.
FALLBACK_RUN_PIXELS = 4_000_000


def auto_sizes(size, min_size=None):
    """
    The sizes of --scales auto: from `min_size` on the longest side up to the output size, in steps of sqrt(2).

    Arguments:
    size -- (height, width) of the output
    min_size -- longest side of the first scale, in pixels; None: MIN_SIZE (or the output's, if smaller)

    Returns:
    sizes -- list of (height, width), increasing, the last `size` itself
    """
    longest = max(size)
    if min_size is None:
        min_size = min(MIN_SIZE, longest)
    if min_size > longest:
        raise OptionError(
            f"min_size {min_size} is larger than the output's longest side ({longest} pixels); give {longest} or less",
            "min_size",
        )
    count = math.floor(math.log(longest / min_size, math.sqrt(2)) + 1e-9)
    scales = [math.sqrt(2) ** -k for k in range(count, 0, -1)]
    return [tuple(max(1, round(n * scale)) for n in size) for scale in scales] + [tuple(size)]


def auto_iterations(iterations, sizes):
    """
    The iterations of each scale of --scales auto: in proportion to 1 / the scale's longest side, so each scale has
    sqrt(2) times the iterations of the next finer one, at least one each.

    A step's time grows with the pixels (2x a scale), so each scale's time grows by sqrt(2) a scale: the output size
    takes about 30% of the time and the coarse scales, where the picture's large-scale structure forms at a fraction
    of the price, the rest (an equal split gives the output size half the time; docs/performance.md compares them).

    Arguments:
    iterations -- the total number of iterations (at least one per scale: fewer scales are used otherwise)
    sizes -- from auto_sizes

    Returns:
    shares -- list of ints, one per size, summing to `iterations`
    """
    weights = [1.0 / max(size) for size in sizes]
    spare = iterations - len(sizes)
    exact = [spare * weight / sum(weights) for weight in weights]
    shares = [1 + math.floor(share) for share in exact]
    # Largest remainders first, so the shares add up to the total.
    order = sorted(range(len(sizes)), key=lambda k: math.floor(exact[k]) - exact[k])
    for k in order[: iterations - sum(shares)]:
        shares[k] += 1
    return shares


def scaled_size(size, scale):
    """
    The image size at one scale of a coarse-to-fine run.

    Arguments:
    size -- (height, width) of the output
    scale -- fraction of the output size, in (0, 1]

    Returns:
    size -- (height, width), each rounded and at least 1
    """
    return tuple(max(1, int(round(n * scale))) for n in size)


def split_iterations(iterations, count):
    """
    The iteration budget split across the scales of a coarse-to-fine run: equal shares, the remainder going to the
    finest scales (200 over 3 scales: 66, 67, 67).

    Arguments:
    iterations -- the total number of iterations
    count -- the number of scales

    Returns:
    shares -- list of `count` ints summing to `iterations`
    """
    share, remainder = divmod(iterations, count)
    return [share + (k >= count - remainder) for k in range(count)]


def plan_scales(size, scales, iterations, min_size=None):
    """
    The coarse-to-fine schedule of a run: the size, scale and iterations of each scale, the last the output's.

    Arguments:
    size -- (height, width) of the output
    scales -- config.AUTO (auto_sizes from min_size to the output, at most one scale per iteration), or the scales
              (floats increasing to 1), among which the iterations are split equally
    iterations -- the run's iterations
    min_size -- the first scale's longest side for config.AUTO (None: MIN_SIZE)

    Returns:
    sizes -- list of (height, width)
    scale_values -- list of floats, each size's scale of the output
    scale_iterations -- list of ints, each scale's iterations, summing to `iterations`
    """
    if scales == AUTO:
        sizes = auto_sizes(size, min_size)[-iterations:]
        return sizes, [round(max(n) / max(size), 4) for n in sizes], auto_iterations(iterations, sizes)
    sizes = [scaled_size(size, scale) for scale in scales]
    return sizes, list(scales), split_iterations(iterations, len(sizes))


def plan_tiles(sizes, layers, pooling="avg", tile_size=None, max_memory=None, gpu=False):
    """
    The tile size of each scale of a run: tile_size where the scale is larger, else tiles only where the whole image
    would not fit in the memory there is (choose_tile_size).

    Arguments:
    sizes -- list of (height, width), the run's scales (plan_scales)
    layers, pooling -- the layers the costs use and the network's pools
    tile_size -- the tiles' size asked for (--tile-size), or None
    max_memory -- the GB the run may use (--max-memory), or None: what is free now (available_memory)
    gpu -- whether the run is on a GPU (its free memory is then the budget)

    Returns:
    tile_sizes -- list of ints, 0 for a scale run whole; OptionError when max_memory is given and a scale does not
                  fit in it even tiled
    """
    budget = max_memory * 1e9 if max_memory else available_memory(gpu)
    tile_sizes = []
    for height, width in sizes:
        if tile_size:
            tile_sizes.append(tile_size if max(height, width) > tile_size else 0)
        elif budget is None:
            tile_sizes.append(0)  # nothing to go by
        else:
            try:
                tile_sizes.append(choose_tile_size(height, width, budget, layers, pooling))
            except OptionError:
                if max_memory:
                    raise
                tile_sizes.append(0)  # not even a tile fits what is free now: try the whole picture, as before tiles
    return tile_sizes


def activation_bytes_per_pixel(layers, pooling="avg"):
    """
    Bytes of float32 activations one forward pass computes per input pixel, up to the deepest layer used.

    Arguments:
    layers -- layer names the costs use
    pooling -- 'avg' or 'max'

    Returns:
    size -- bytes per pixel (1,280 for the article's layers: 320 floats)
    """

    names = layer_names(pooling)
    deepest = max(names.index(name) for name in layers)
    floats = 0.0
    channels = 3
    for name in names[: deepest + 1]:
        if name in CONV_LAYERS:
            channels = CONV_LAYERS[name][1]
        floats += channels / 4 ** layer_level(name, pooling)
    return 4 * floats


def estimate_peak_memory(height, width, tile_size, layers, pooling="avg"):
    """
    The estimated peak memory of a run: BASE + PER_PIXEL * H * W + ACTIVATION_FACTOR * activations of one window.

    Arguments:
    height, width -- the picture's size
    tile_size -- the tiles' core size, 0 for the whole image at once
    layers -- layer names the costs use
    pooling -- 'avg' or 'max'

    Returns:
    peak -- bytes
    """
    rows, cols = largest_window(height, width, tile_size, layers, pooling) if tile_size else (height, width)
    window = rows * cols
    activations = ACTIVATION_FACTOR * activation_bytes_per_pixel(layers, pooling) * window
    return BASE_BYTES + PER_PIXEL_BYTES * height * width + activations


def available_memory(gpu=False):
    """
    The memory this run may use when --max-memory is not given: the first GPU's free memory where the run is on a
    GPU, else the system's available memory (MemAvailable).

    Arguments:
    gpu -- whether the run is on a GPU

    Returns:
    available -- bytes, or None where it cannot be read
    """
    if gpu:
        return gpu_free_memory()
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gpu_free_memory():
    """
    The free memory of the first GPU TensorFlow sees, from nvidia-smi (TensorFlow reports only what it has taken).

    Returns:
    free -- bytes, or None where nvidia-smi is missing or answers something else
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    command = ["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"]
    if visible:
        command.append(f"--id={visible}")
    try:
        answer = subprocess.run(command, capture_output=True, text=True, timeout=10, check=True).stdout
        return int(answer.split()[0]) * 2**20  # MiB
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def choose_tile_size(height, width, budget, layers, pooling="avg"):
    """
    The tile size of a run under a memory budget: 0 (no tiles) when the whole image fits, else the largest that does.

    Arguments:
    height, width -- the picture's size
    budget -- bytes the run may use
    layers, pooling -- the layers the costs use and the network's pools

    Returns:
    tile_size -- 0 or a core size in pixels (a multiple of the stride); OptionError naming the largest picture that
                 would fit when even the smallest tile does not
    """
    if estimate_peak_memory(height, width, 0, layers, pooling) <= budget:
        return 0
    stride, _ = network_reach(layers, pooling)
    smallest = minimum_tile_size(layers, pooling)
    for tile_size in range(max(height, width) // stride * stride, smallest - 1, -stride):
        if estimate_peak_memory(height, width, tile_size, layers, pooling) <= budget:
            return tile_size
    if BASE_BYTES + PER_PIXEL_BYTES * smallest**2 > budget:
        raise OptionError(
            f"max_memory {budget / 1e9:.2g} GB is below what any run takes (about {BASE_BYTES / 1e9:.1f} GB); "
            "give more",
            "max_memory",
        )
    scale = 1.0
    while (
        scale > 0.01
        and estimate_peak_memory(round(height * scale), round(width * scale), smallest, layers, pooling) > budget
    ):
        scale *= 0.95
    raise OptionError(
        f"{width}x{height} does not fit in {budget / 1e9:.1f} GB even with the smallest tile ({smallest} pixels); "
        f"the largest that fits is about {round(width * scale)}x{round(height * scale)}: lower max_size or raise "
        "max_memory",
        "max_size",
        "max_memory",
    )


def run_pixel_limit(budget=None):
    """
    The largest picture (height x width) a run can hold: what estimate_peak_memory allows with the smallest
    tile in `budget` (tiles bound the network's activations, so only the per-pixel arrays grow with the size).

    Arguments:
    budget -- bytes the run may use; None: the system's available memory (available_memory)

    Returns:
    limit -- int, a number of pixels (FALLBACK_RUN_PIXELS where the available memory cannot be read)
    """
    budget = budget if budget is not None else available_memory()
    if budget is None:
        return FALLBACK_RUN_PIXELS
    window = minimum_tile_size(["conv5_1"]) * 3  # the smallest tile's window: its core and two margins
    fixed = BASE_BYTES + ACTIVATION_FACTOR * activation_bytes_per_pixel(["conv5_1"]) * window**2
    return max(0, int((budget - fixed) / PER_PIXEL_BYTES))


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


def check_bit_depth(path, bit_depth):
    """
    Checks that an output file's format can hold the bit depth asked for.

    Arguments:
    path -- the output path; its extension names the format
    bit_depth -- 8 or 16

    Returns:
    bit_depth -- unchanged; OptionError with one line otherwise
    """
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if bit_depth == 16 and extension not in SIXTEEN_BIT_EXTENSIONS:
        raise OptionError(
            f"bit_depth 16: {os.fspath(path)} is a {extension or 'extensionless'} file, which holds 8 bits; "
            "write a .png or .tif",
            "bit_depth",
        )
    return bit_depth


def to_bit_depth(pixels, bit_depth):
    """
    Float pixels in [0, 255] as the integers written: uint8, or uint16 in [0, 65535] (x 257, so 255 -> 65535).

    Arguments:
    pixels -- float array (H, W, 3) in [0, 255]
    bit_depth -- 8 or 16

    Returns:
    pixels -- uint8 or uint16 array
    """
    pixels = np.clip(np.asarray(pixels, np.float64), 0, 255)
    if bit_depth == 16:
        return np.rint(pixels * 257).astype(np.uint16)
    return np.rint(pixels).astype(np.uint8)
