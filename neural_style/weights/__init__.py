"""VGG-19's weights: what the published files are, reading them as untrusted input, downloading and verifying them.

The parts, each importing only those listed above it:

- published.py -- what the published files are: the layers they hold, names, URLs, sizes, digests (plain data);
- filters.py -- VGGWeights (the filters the network is built from), WeightsError, the checks on what a file held;
- random_filters.py -- He-initialised filters from a fixed seed, for a machine without the files ('random');
- parse.py -- parsing a .mat (scipy) or .h5 (h5py) into checked VGGWeights, in the calling process;
- container.py -- a file that may be hostile: its header checked in plain Python, parse.py run in a child process;
- read.py -- load_weights and the readers: the path says which, the file is read through container.py;
- download.py -- resumable, capped downloads checked against the published digests; verify_weights.

The public names of all of them are importable from here, each loaded when first used (the package's lazy exports,
neural_style/_lazy.py): the command line reads the layers' names (published.py) without loading scipy and h5py.
"""

from .._lazy import lazy_exports, public_names

# The public names by the module that defines them.
_EXPORTS = {
    "container": ("check_mat_header",),
    "download": (
        "DEFAULT_MAX_BYTES",
        "ChecksumError",
        "DownloadError",
        "download_weights",
        "format_report",
        "plain_file_name",
        "verify_weights",
    ),
    "filters": ("MAX_WEIGHT", "VGGWeights", "WeightsError"),
    "parse": ("keras_layer_name",),
    "published": (
        "CONV_LAYERS",
        "KERAS_FILENAME",
        "KERAS_MD5",
        "KERAS_URL",
        "MAT_BETA16_MD5",
        "MAT_BETA16_URL",
        "MAT_FILENAME",
        "MAT_LAYER_NAMES",
        "MAT_MD5",
        "MAT_SHA256",
        "MAT_URL",
        "PUBLISHED_FILES",
        "PUBLISHED_MAX_BYTES",
        "RANDOM",
        "WEIGHTS_HELP",
    ),
    "random_filters": ("random_vgg_weights",),
    "read": ("is_keras_path", "load_weights", "read_keras_weights", "read_mat_weights"),
}

__all__ = public_names(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
