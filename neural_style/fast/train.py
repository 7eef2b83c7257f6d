"""Training the image-transformation network with the article's costs, by Keras' own model.fit.

The loss is loss.py's FastStyleTrainer: the network beside the project's VGG-19 (vgg.load_vgg_model: a .mat, a Keras
.h5 or 'random') and what the style layers are compared with (loss.style_targets). The step is its train_step
override, so progress, logging and resuming are Keras': BackupAndRestore writes the weights and Adam's state every
--checkpoint-every steps (one Keras "epoch" each), and the same call again continues from there with the batches an
uninterrupted training would have seen (data.training_dataset's order depends only on the seed; resume.py keeps the
work folder).

Several styles train one network (conditional instance normalisation, network.py): the batches take the styles in
turn. Several devices: the trainer is built in a tf.distribute strategy's scope (distribute.choose_strategy:
MirroredStrategy over every GPU when there are several, MultiWorkerMirroredStrategy when TF_CONFIG names a cluster);
batch_size is the global batch, and the learning rate and the step count mean what they mean on one device. On a
cluster only the chief writes the model and the checkpoints; the other workers take the chief's state when the
training starts (distribute.FromChief).
"""

import contextlib
import math
import os
import tempfile
import time
import warnings

import keras
import tensorflow as tf

from ..checks import OptionError, check_choice, check_file
from ..files import atomic_write, file_digest
from ..options import default_weights
from ..safety import hold_file, hold_folder
from ..vgg import load_vgg_model
from . import data, resume, watch
from .distribute import FromChief, check_replica_split, choose_strategy
from .loss import FastStyleTrainer, style_targets
from .network import LAYOUTS, build_transform_net
from .options import ARCHITECTURES, TrainOptions, check_training_memory


def train_fast_model(
    style,
    images,
    output,
    weights=None,
    work_dir=None,
    progress=False,
    callbacks=(),
    warn=None,
    strategy=None,
    **settings,
):
    """
    Trains an image-transformation network for one style or several, with the article's costs; resumes an interrupted
    training.

    Arguments:
    style -- path of the style picture, or a list of them (one network for all: the batches take them in turn)
    images -- folder of training photographs (searched recursively; unreadable files skipped with a warning)
    output -- the model file to write (.keras), written atomically at the end
    weights -- the loss network's VGG-19 weights: a .mat, a Keras .h5, 'random' (default: $NEURAL_STYLE_WEIGHTS,
               else the article's path)
    work_dir -- the checkpoint's folder (default: output without .keras, plus .train): new, empty, or a training's
                (resume.check_work_folder); the same call again continues from its last checkpoint, and what the
                training wrote into it is removed when the training ends
    progress -- show Keras' progress bar
    callbacks -- more Keras callbacks (e.g. keras.callbacks.CSVLogger)
    warn -- function(line) for each skipped picture (default: a line on stderr)
    strategy -- a tf.distribute.Strategy (default: choose_strategy's, MultiWorkerMirroredStrategy when TF_CONFIG
                names a cluster); batch_size is the global batch, split over all its replicas (of all workers), and
                learning_rate and steps mean what they mean on one device; only the chief writes the output and
                the checkpoints
    settings -- TrainOptions fields: size, batch_size, epochs, steps, content_weight, style_weight, tv_weight,
                style_size, learning_rate, seed, architecture ('johnson' or 'small': the network's layout,
                training_layout), content_layer, style_layers, checkpoint_every; and tensorboard (a
                folder: the run's costs every step, settings and previews, fast/watch.py), save_every (previews every
                N steps), preview_images (their photographs' folder)

    Returns:
    model -- the trained TransformNet (also saved at `output`)
    summary -- dict: steps, pictures, skipped (list of paths), seconds, resumed_at (step), chief (whether this
               process wrote the output: False on a cluster's other workers), final costs
    """
    options = TrainOptions(**settings).validate()
    styles = [style] if isinstance(style, (str, os.PathLike)) else list(style)
    if not styles:
        raise OptionError("style: give at least one style picture", "style")
    for path in styles:
        check_file(path, "style", "no such picture; give the style painting")
    output = os.fspath(output)
    if os.path.splitext(output)[1] != ".keras":
        raise OptionError(f"output {output}: a model file must end in .keras", "output")
    weights = weights or default_weights()
    work_dir = os.fspath(work_dir or resume.default_work_dir(output))
    watch.check_paths(options, output, work_dir)
    check_training_memory(options)
    # Before TensorFlow's runtime starts (a cluster's collective ops are configured then); TF_CONFIG checked.
    strategy = choose_strategy(strategy, options.batch_size, options.cluster_timeout)
    check_replica_split(options.batch_size, strategy)
    # Only the chief writes the checkpoints and the output (the folders may be shared between the machines); the
    # other workers keep none (FromChief restores them) and their notes in a folder of their own, removed at the end.
    chief = strategy.extended.should_checkpoint
    if not chief:
        work_dir = tempfile.mkdtemp(prefix="neural-style-worker-")
    # A folder that is not a training's (the pictures' folder, the current one) is refused before anything is
    # written into it, even the lock file.
    resume.check_work_folder(work_dir)
    recorded = {**options.settings(), "weights": os.fspath(weights) if not hasattr(weights, "layers") else "given"}
    recorded["style_digests"] = [file_digest(path) for path in styles]
    held = finished = False
    try:
        # One training at a time per work folder and per model file: a second one is refused in one line.
        with hold_file(output, "--output") if chief else contextlib.nullcontext(), hold_folder(work_dir, "--work-dir"):
            held = True
            resumed = resume.open_work_folder(work_dir, recorded)
            net, summary = _train(
                styles, images, output, weights, work_dir, options, recorded, strategy, chief, progress, callbacks, warn
            )
            summary["resumed_at"] = summary["resumed_at"] if resumed else None
            finished = True
    finally:
        # Kept only to be continued: a finished training's folder goes, and so does one that never got to its first
        # checkpoint (refused or stopped before), so that the corrected command starts afresh.
        if held and (finished or not resume.has_checkpoint(work_dir)):
            resume.remove_work_folder(work_dir)
    return net, summary


def _train(styles, images, output, weights, work_dir, options, recorded, strategy, chief, progress, callbacks, warn):
    """train_fast_model's work, in a work folder it holds: (the trained network, the summary)."""
    pictures = data.Pictures(images, warn=warn, known_bad=resume.read_skipped(work_dir))
    total, chunk = resume.plan(pictures, options)
    board = watch.training_board(options, styles, images, output, weights, work_dir, pictures, warn)  # --tensorboard

    start = time.perf_counter()
    with strategy.scope():
        vgg = load_vgg_model(weights, options.size, options.size)
        targets = [style_targets(vgg, path, options) for path in styles]
        net = build_transform_net(
            settings=recorded,
            style_digests=recorded["style_digests"],
            seed=options.seed,
            styles=len(styles),
            layout=training_layout(options.architecture),
        )
        trainer = FastStyleTrainer(net, vgg, targets, options)
        trainer.compile(optimizer=keras.optimizers.Adam(options.learning_rate))
        trainer.build((None, options.size, options.size, 3))
        trainer.optimizer.build(net.trainable_variables)

    start_batch = [0]
    # Each worker's pipeline decodes only its share of every global batch (data.training_dataset's `pipeline`);
    # under the default strategy, the whole batches.
    dataset = strategy.distribute_datasets_from_function(
        lambda pipeline: data.training_dataset(
            pictures, options.size, options.batch_size, options.seed, start_batch, len(styles), pipeline
        )
    )
    several_workers = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    backup = resume.AtomicBackupAndRestore(
        work_dir, total // chunk, pictures, save_freq="epoch", delete_checkpoint=False
    )
    try:
        with warnings.catch_warnings():
            # The pipeline ends only when no picture can be decoded, which the line after fit says instead.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            history = trainer.fit(
                dataset,
                epochs=total // chunk,
                steps_per_epoch=chunk,
                verbose=1 if progress and chief else 0,
                shuffle=False,  # the order is data.picture_order's, from the seed
                callbacks=[
                    # The chief's checkpoint is the cluster's: FromChief gives its state to the other workers.
                    *([backup] if chief else []),
                    *([FromChief(strategy, chief)] if several_workers else []),
                    resume.Resume(start_batch, chunk, pictures, work_dir),
                    keras.callbacks.TerminateOnNaN(),
                    *([board] if board else []),  # after the restore: its steps continue the checkpoint's
                    *callbacks,
                ],
            )
    except tf.errors.OpError:
        pictures.check_usable()  # every picture became unreadable while the pipeline ran: that, in one line
        raise
    finally:
        watch.close(board)  # an interrupted training keeps the events it wrote
    pictures.check_usable()
    # A training resumed from the checkpoint of its last step trains no more: its costs are the checkpoint's.
    last = {key: float(values[-1]) for key, values in history.history.items() if values} or backup.last_logs
    if not all(math.isfinite(value) for value in last.values()):
        raise RuntimeError(f"the training's cost became {last.get('loss')}; lower --learning-rate or the weights")
    if chief:
        resume.check_disk_room(
            os.path.dirname(os.path.abspath(output)),
            resume.variables_bytes(net.weights),
            f"the model {output}",
            f"the last checkpoint is kept in {work_dir}",
        )
        with atomic_write(output, suffix=".keras") as temporary:
            net.save(temporary)
    summary = {
        "steps": total,
        "pictures": len(pictures.paths) - len(set(pictures.skipped) & set(pictures.paths)),
        "skipped": sorted(pictures.skipped),
        "seconds": time.perf_counter() - start,
        "resumed_at": start_batch[0],
        "chief": chief,
        **last,
    }
    return net, summary


def training_layout(architecture):
    """
    The network layout of a training's architecture (--architecture), one of network.py's presets.

    Arguments:
    architecture -- a name of options.ARCHITECTURES: 'johnson' (the default) or 'small'

    Returns:
    layout -- the network.Layout preset it names (JOHNSON, MAGENTA_26); OptionError (one line) for another name
    """
    return LAYOUTS[ARCHITECTURES[check_choice(architecture, ARCHITECTURES, "architecture")]]


def summary_line(summary):
    """One line about a finished training, for the command line."""
    skipped = f", {len(summary['skipped'])} files skipped" if summary["skipped"] else ""
    resumed = f", resumed at step {summary['resumed_at']}" if summary["resumed_at"] else ""
    return (
        f"trained {summary['steps']} steps on {summary['pictures']} pictures{skipped}{resumed} in "
        f"{summary['seconds']:.1f} s; final cost {summary.get('loss', float('nan')):.4g}"
    )


__all__ = [
    "train_fast_model",
    "training_layout",
    "summary_line",
]
