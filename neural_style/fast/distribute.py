"""Training on several devices and machines: the tf.distribute strategy a training runs under, the cluster that
TF_CONFIG names (checked before any work), and the chief's state given to every worker when a training starts.

One machine with several GPUs trains under MirroredStrategy; TF_CONFIG naming a cluster of several tasks (Kubeflow's
TFJob, Vertex AI, launch scripts) under MultiWorkerMirroredStrategy. Only the chief keeps a checkpoint; FromChief gives
its weights, Adam's state and epoch to the other workers, so that a restarted cluster continues from it.
"""

import json
import os

import keras
import tensorflow as tf

from ..checks import OptionError

# What a cluster's task meets when another task is lost (its collectives aborted): start every task again.
CLUSTER_LOST = (tf.errors.UnavailableError,)


class FromChief(keras.callbacks.Callback):
    """Several workers: only the chief keeps a checkpoint (BackupAndRestore in the work folder); when the training
    starts, every worker takes the chief's weights, Adam's state and epoch, so that a restarted cluster continues from
    the chief's checkpoint without a folder shared between the machines. The values travel as an all-reduce sum to
    which one replica alone adds anything, the chief's first (the chief's other GPUs and the other workers add zeros):
    exact."""

    def __init__(self, strategy, chief):
        super().__init__()
        self.strategy, self.chief = strategy, chief

    def on_train_begin(self, logs=None):
        variables = list(self.model.weights) + list(self.model.optimizer.variables)
        # Integers (Adam's step count, the epoch) travel as float64: exact below 2**53.
        values = [tf.cast(v.value, tf.float64) if "int" in str(v.dtype) else v.value for v in variables]
        values.append(tf.constant(float(self.model._initial_epoch or 0), tf.float64))
        # This worker's replicas (one per GPU): the chief's first one is the only sender, or the sum would count the
        # chief's values once per GPU.
        local_ids = []
        self.strategy.experimental_distribute_values_from_function(
            lambda context: local_ids.append(context.replica_id_in_sync_group) or 0
        )
        sender = self.strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(self.chief and context.replica_id_in_sync_group == min(local_ids))
        )

        wide = [i for i, value in enumerate(values) if value.dtype == tf.float64]  # one all-reduce per type
        narrow = [i for i, value in enumerate(values) if value.dtype != tf.float64]

        @tf.function
        def from_chief(send):
            context = tf.distribute.get_replica_context()
            sent = [tf.where(send, value, tf.zeros_like(value)) for value in values]
            return [context.all_reduce("sum", [sent[i] for i in group]) for group in (wide, narrow)]

        local = self.strategy.experimental_local_results(self.strategy.run(from_chief, args=(sender,)))[0]
        received = dict(zip(wide + narrow, local[0] + local[1]))
        for i, variable in enumerate(variables):
            variable.assign(tf.cast(received[i], variable.dtype))
        self.model._initial_epoch = int(received[len(variables)].numpy())


def tf_config_cluster(text):
    """
    The cluster the TF_CONFIG environment variable names (the convention of Kubeflow's TFJob, Vertex AI and launch
    scripts), checked: {"cluster": {"worker": ["host:port", ...], "chief": [...]}, "task": {"type": ..., "index": ...}}.

    Arguments:
    text -- TF_CONFIG's value, or None

    Returns:
    cluster -- None when there is no TF_CONFIG or its cluster has one task; else (tasks, task_type, task_index), tasks
               the count of chief and worker tasks; OptionError (one line naming TF_CONFIG) when it is malformed
    """
    if not text or not text.strip():
        return None

    def bad(reason):
        return OptionError(
            f"TF_CONFIG {reason}; give JSON like "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}',
            "TF_CONFIG",
        )

    try:
        config = json.loads(text)
    except ValueError as error:
        raise bad(f"is not JSON ({error})") from None
    cluster, task = (config.get("cluster"), config.get("task")) if isinstance(config, dict) else (None, None)
    if not isinstance(cluster, dict) or not cluster:
        raise bad('has no "cluster" of tasks')
    for kind, addresses in cluster.items():
        if kind not in ("chief", "worker"):
            raise bad(f'names a "{kind}" task: a training across machines has "chief" and "worker" tasks only')
        if not isinstance(addresses, list) or not all(
            isinstance(a, str) and a.rpartition(":")[0] and a.rpartition(":")[2].isdigit() for a in addresses
        ):
            raise bad(f'cluster "{kind}" is not a list of "host:port" addresses')
    if len(cluster.get("chief", [])) > 1:
        raise bad("names more than one chief")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise bad('has no "task" whose "type" is one of the cluster\'s')
    index = task.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task["type"]]):
        raise bad(f'task index {index!r} is not one of the cluster\'s {len(cluster[task["type"]])} "{task["type"]}"')
    tasks = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    return None if tasks < 2 else (tasks, task["type"], index)


def choose_strategy(strategy=None):
    """
    The tf.distribute strategy a training runs under. Called before TensorFlow's runtime starts (the collective ops
    of several workers are configured when it starts).

    Arguments:
    strategy -- a tf.distribute.Strategy to use, or None

    Returns:
    strategy -- the one given; else MultiWorkerMirroredStrategy when TF_CONFIG names a cluster of several tasks
                (every GPU of every worker, or its CPU); else MirroredStrategy over every GPU when there are several;
                else TensorFlow's default (one device)
    """
    if strategy is not None:
        return strategy
    if tf_config_cluster(os.environ.get("TF_CONFIG")) is not None:
        # AUTO: NCCL between GPUs, the gRPC ring between CPUs.
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=tf.distribute.cluster_resolver.TFConfigClusterResolver(),
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
            ),
        )
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


__all__ = ["CLUSTER_LOST", "FromChief", "choose_strategy", "tf_config_cluster"]
