"""A style transfer's own checkpoints: the settings they carry, the state a run saves, and the state taken back.

StyleTransfer calls these (``save_checkpoint``, the ``resume`` option); the file, its checks and the settings
fingerprint are in ``checkpoint.py``.
"""

import contextlib

from .checkpoint import CheckpointError, RunState, damaged, settings_fingerprint
from .masks import listed
from .options import OptionError


def run_settings(options, size, model, content_pixels, style_pixels, masks):
    """
    The settings that a run's checkpoint must share with the run that resumes it (checkpoint.settings_fingerprint).

    Arguments:
    options -- the run's validated StyleOptions
    size -- the output size (height, width)
    model -- the run's VGGModel (its copy of the filters, when the options' weights are a file)
    content_pixels -- the content image as the run loaded it, (H, W, 3)
    style_pixels -- the style images as the run loaded them, a list of (h, w, 3) arrays
    masks -- None, or the run's guides (masks.load_guides)

    Returns:
    settings -- dict of JSON values: every option that a resume may not change, the output size, and digests of
                the weights and of the content and style pixels (and of the masks)
    """
    if masks is not None:
        masks = [mask for group in masks if group is not None for mask in listed(group)]
    # Weights given loaded are shared by many runs (a batch's worker): their digest, memoised on them, is computed
    # once; the model's copy of the filters holds the same arrays (checkpoint.weights_digest).
    weights = options.weights if hasattr(options.weights, "layers") else model.weights
    return settings_fingerprint(options, size, weights, content_pixels, style_pixels, masks)


def capture_run(image, best, optimizer, scale_index, evaluations, history, settings, average=None):
    """
    What a checkpoint keeps of a run now (checkpoint.save_run writes it).

    Arguments:
    image -- the generated image, a tf.Variable
    best -- the run's BestImage at this scale
    optimizer -- None, or the Adam optimiser (its iteration count and moments)
    scale_index -- the scale the run is at
    evaluations -- L-BFGS cost evaluations so far
    history -- the history so far, one dict per iteration
    settings -- the run's settings (run_settings)
    average -- None, or the run's IterateAverage (option average)

    Returns:
    state -- a RunState
    """
    variables = [] if optimizer is None else optimizer.variables
    state = RunState(
        image=image.numpy(),
        best_image=best.image.numpy(),
        best_cost=best.cost.numpy(),
        optimizer_variables=[variable.path for variable in variables],
        optimizer_state=[variable.numpy() for variable in variables],
        scale_index=scale_index,
        evaluations=evaluations,
        history=history,
        settings=settings,
    )
    if average is not None:
        state.average_total, state.average_count = average.total, average.count
    return state


def restore_run(state, image, best, average=None):
    """
    Puts a checkpoint's images (and average of the iterates) back into a run at the checkpoint's scale.

    Arguments:
    state -- the RunState read (checkpoint.load_run)
    image -- the run's generated image, a tf.Variable of the checkpoint's size
    best -- the run's BestImage
    average -- None, or the run's IterateAverage: it takes the checkpoint's, if it holds one
    """
    image.assign(state.image)
    best.image.assign(state.best_image)
    best.cost.assign(state.best_cost)
    if average is not None and state.average_total is not None:
        average.total, average.count = state.average_total, state.average_count


@contextlib.contextmanager
def resume_errors(location):
    """
    Turns what goes wrong reading a checkpoint, or putting it into the run, into one OptionError of the option resume.

    Arguments:
    location -- the checkpoint given (--resume), named in the message

    Returns:
    context -- a context manager: a CheckpointError says what is wrong, an array of another shape or type than the
               run's (IndexError, ValueError, TypeError) says the checkpoint is damaged
    """
    try:
        yield
    except CheckpointError as error:
        raise OptionError(f"--resume {location}: {error}") from None
    except (IndexError, ValueError, TypeError) as error:  # a scale, arrays of another shape or type than this run's
        raise OptionError(f"--resume {location}: {damaged(error)}") from None
