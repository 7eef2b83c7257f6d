"""Training on several devices and machines: the tf.distribute strategy a training runs under, the cluster that
TF_CONFIG names (checked before any work), and the chief's state given to every worker when a training starts.

One machine with several GPUs trains under MirroredStrategy; TF_CONFIG naming a cluster of several tasks (Kubeflow's
TFJob, Vertex AI, launch scripts) under MultiWorkerMirroredStrategy. Only the chief keeps a checkpoint; FromChief gives
its weights, Adam's state and epoch to the other workers, so that a restarted cluster continues from it.

A cluster's start never hangs: this task's address and the batch split are checked before anything waits, the other
tasks are waited for in Python (interruptible, at most --cluster-timeout), and the strategy's own wait inside
TensorFlow, which no signal reaches, is bounded by a watchdog process.
"""

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import tensorflow as tf

from ..checks import OptionError
from .options import CLUSTER_TIMEOUT

PROG = "neural-style"  # cli.common's, for the one line a watchdog prints

# What a cluster's task meets when another task is lost: its collectives fail as unavailable, or as aborted when the
# coordination service's heartbeat timed out first (seen on a loaded machine). Either way: start every task again.
CLUSTER_LOST = (tf.errors.UnavailableError, tf.errors.AbortedError)


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


class ClusterError(RuntimeError):
    """A cluster that TF_CONFIG names could not be joined: a task never answered, or TensorFlow refused to start."""


def _read_tf_config(text):
    """TF_CONFIG parsed and checked: (cluster dict, task type, task index), or None when there is no TF_CONFIG."""
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
        for address in addresses:
            if not 1 <= int(address.rpartition(":")[2]) <= 65535:
                raise bad(f'cluster "{kind}" address {address} has a port outside 1..65535')
    if len(cluster.get("chief", [])) > 1:
        raise bad("names more than one chief")
    everyone = [address for addresses in cluster.values() for address in addresses]
    if len(set(everyone)) < len(everyone):
        twice = next(address for address in everyone if everyone.count(address) > 1)
        raise bad(f"names the address {twice} for two tasks: each task listens at its own address")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise bad('has no "task" whose "type" is one of the cluster\'s')
    index = task.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task["type"]]):
        raise bad(f'task index {index!r} is not one of the cluster\'s {len(cluster[task["type"]])} "{task["type"]}"')
    return cluster, task["type"], index


def tf_config_cluster(text):
    """
    The cluster the TF_CONFIG environment variable names (the convention of Kubeflow's TFJob, Vertex AI and launch
    scripts), checked: {"cluster": {"worker": ["host:port", ...], "chief": [...]}, "task": {"type": ..., "index": ...}}.

    Arguments:
    text -- TF_CONFIG's value, or None

    Returns:
    cluster -- None when there is no TF_CONFIG or its cluster has one task; else (tasks, task_type, task_index), tasks
               the count of chief and worker tasks; OptionError (one line naming TF_CONFIG) when it is malformed (a
               port outside 1..65535 included)
    """
    parsed = _read_tf_config(text)
    if parsed is None:
        return None
    cluster, task_type, index = parsed
    tasks = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    return None if tasks < 2 else (tasks, task_type, index)


def _tasks(text):
    """TF_CONFIG's tasks, the chief first: (list of (name, host, port), this task's (name, host, port))."""
    cluster, task_type, index = _read_tf_config(text)
    tasks = [
        (f"{kind} {i}", address.rpartition(":")[0].strip("[]"), int(address.rpartition(":")[2]))
        for kind in ("chief", "worker")
        for i, address in enumerate(cluster.get(kind, []))
    ]
    return tasks, next(task for task in tasks if task[0] == f"{task_type} {index}")


def _bind_every_interface(port):
    """
    A TCP socket bound to `port` on every interface of this machine, as TensorFlow's gRPC server binds its own ([::],
    IPv4 included; 0.0.0.0 where the machine has no IPv6).

    Arguments:
    port -- 1..65535

    Returns:
    sock -- the bound socket (not listening); OSError (EADDRINUSE) when something else holds the port
    """
    for family, address in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:  # no IPv6 on this machine
            continue
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            # A port that a previous run's connections left in TIME_WAIT is free (gRPC binds with SO_REUSEADDR too).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            return sock
        except OSError as error:
            sock.close()
            if family == socket.AF_INET or error.errno == errno.EADDRINUSE:
                raise
    raise OSError(errno.EAFNOSUPPORT, "no IPv4 or IPv6 sockets on this machine")


def check_tf_config_addresses(text):
    """
    This task's address in TF_CONFIG, checked before any work: its host resolves and its port is free on this machine
    (bound for a moment on every interface, as TensorFlow's gRPC server will bind it). Another task's address is not
    checked here: that task may not exist yet (wait_for_cluster waits for it).

    Arguments:
    text -- TF_CONFIG's value (a cluster of several tasks)

    Returns:
    None; OptionError (one line naming TF_CONFIG) otherwise
    """
    _, (name, host, port) = _tasks(text)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise OptionError(
            f"TF_CONFIG gives this task ({name}) the address {host}:{port}, whose host does not resolve here "
            f"({reason}); give this machine's name or IP address as the cluster's other tasks reach it",
            "TF_CONFIG",
        ) from None
    try:
        _bind_every_interface(port).close()
    except OSError as error:
        raise OptionError(
            f"TF_CONFIG gives this task ({name}) the port {port}, which this machine cannot listen on "
            f"({error.strerror or error}); stop what holds it, or give a free port in every task's TF_CONFIG",
            "TF_CONFIG",
        ) from None


def check_batch_split(batch_size, tasks):
    """
    A global batch that a cluster's replicas can share, checked before the workers connect (so that a worker refuses
    it at once, without waiting for the others). The other workers are assumed to have this machine's GPUs.

    Arguments:
    batch_size -- the global batch
    tasks -- the cluster's count of chief and worker tasks

    Returns:
    None; OptionError (one line naming batch_size) when it is not a multiple of the replicas' count
    """
    gpus = len(tf.config.list_physical_devices("GPU"))  # physical: the runtime is not started
    replicas = tasks * max(1, gpus)
    if batch_size % replicas:
        each = f" x {gpus} GPUs each" if gpus > 1 else ""
        raise OptionError(
            f"batch_size {batch_size} is the global batch, split over the {tasks} tasks of TF_CONFIG's cluster{each}:"
            f" give a multiple of {replicas}",
            "batch_size",
        )


def check_replica_split(batch_size, strategy):
    """
    A global batch that the strategy's replicas share evenly (each replica trains on batch_size / replicas).

    Arguments:
    batch_size -- the global batch
    strategy -- the tf.distribute.Strategy the training runs under

    Returns:
    None; OptionError (one line naming batch_size) when it is not a multiple of the replicas' count
    """
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise OptionError(
            f"batch_size {batch_size} is the global batch, split over {replicas} replicas: give a multiple "
            f"of {replicas}",
            "batch_size",
        )


def _answers(host, port, timeout=0.5):
    """Whether something accepts a TCP connection at host:port now."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except (OSError, UnicodeError):
        return False


def wait_for_cluster(text, timeout, poll=0.25):
    """
    Waits until every other task of TF_CONFIG's cluster answers at its address, at most `timeout` seconds: Ctrl-C and
    SIGTERM (as signals_as_interrupts raises it) end the wait at once. Meanwhile this task's port answers for it
    (a socket listening there), so that the tasks find each other whichever starts first; a task that has gone on to
    start TensorFlow's server answers from that server.

    MultiWorkerMirroredStrategy's constructor waits for the other tasks inside TensorFlow, where no signal is handled
    and no deadline applies: this wait comes before it, so that it starts only when the others are there.

    Arguments:
    text -- TF_CONFIG's value (a cluster of several tasks)
    timeout -- seconds
    poll -- seconds between two rounds of connections

    Returns:
    None; ClusterError (one line: the tasks that never answered, and what to do) past the deadline
    """
    tasks, own = _tasks(text)
    waiting = [task for task in tasks if task != own]
    end = time.monotonic() + timeout
    with contextlib.closing(_bind_every_interface(own[2])) as placeholder:
        placeholder.listen(4 * len(tasks))
        placeholder.setblocking(False)
        while True:
            waiting = [task for task in waiting if not _answers(task[1], task[2])]
            with contextlib.suppress(OSError):
                while True:  # the connections of the others' rounds, closed at once (BlockingIOError: none left)
                    placeholder.accept()[0].close()
            if not waiting:
                return
            if time.monotonic() >= end:
                names = ", ".join(f"{name} ({host}:{port})" for name, host, port in waiting)
                raise ClusterError(
                    f"TF_CONFIG's {'task' if len(waiting) == 1 else 'tasks'} {names} never answered in "
                    f"{timeout:g} s; start {'it' if len(waiting) == 1 else 'them'} with the same command, check "
                    "TF_CONFIG's addresses, or raise --cluster-timeout"
                )
            time.sleep(max(0.0, min(poll, end - time.monotonic())))


# Run by _Watchdog in a process of its own: ends the training's process when it has not closed the pipe in time.
_WATCHDOG = """
import os, select, signal, sys
pid, seconds, line = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
if not select.select([sys.stdin], [], [], seconds)[0]:
    sys.stderr.write(line + "\\n")
    sys.stderr.flush()
    os.kill(pid, signal.SIGKILL)
"""


class _Watchdog:
    """
    Ends this process (one line, then SIGKILL) when the block has not ended within `seconds`. For the waits inside
    TensorFlow that hold Python's interpreter lock, where no Python thread, signal handler or deadline can act: a
    process of its own watches (a pipe this process closes when the block ends, or when it dies).
    """

    def __init__(self, seconds, line):
        self.seconds, self.line = seconds, line

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(os.getpid()), str(self.seconds), self.line],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C at the terminal is this process's to handle, not the watchdog's
        )
        return self

    def __exit__(self, *exc):
        self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        return False


def _restore_signal_handlers():
    """Gives SIGTERM (and SIGINT, SIGHUP) back to Python's handlers: TensorFlow's cluster set its own for SIGTERM (a
    preemption notice that nothing here reads), under which a SIGTERM would not stop the training."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        handler = signal.getsignal(signum)
        if handler is not None:  # None: a handler Python did not install, left alone
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                signal.signal(signum, handler)


def choose_strategy(strategy=None, batch_size=None, cluster_timeout=CLUSTER_TIMEOUT):
    """
    The tf.distribute strategy a training runs under. Called before TensorFlow's runtime starts (the collective ops
    of several workers are configured when it starts).

    With a cluster in TF_CONFIG, before MultiWorkerMirroredStrategy is made: this task's address is checked
    (check_tf_config_addresses), the batch split (check_batch_split), and the other tasks are waited for
    (wait_for_cluster); then the strategy's own start, which waits for the tasks to join inside TensorFlow, is given
    cluster_timeout seconds more, after which the process ends with one line.

    Arguments:
    strategy -- a tf.distribute.Strategy to use, or None
    batch_size -- the global batch, or None: not checked
    cluster_timeout -- seconds to wait for the cluster's other tasks

    Returns:
    strategy -- the one given; else MultiWorkerMirroredStrategy when TF_CONFIG names a cluster of several tasks
                (every GPU of every worker, or its CPU); else MirroredStrategy over every GPU when there are several;
                else TensorFlow's default (one device). OptionError (one line) for a bad address or batch, ClusterError
                (one line) when the others never answer or TensorFlow cannot start the cluster
    """
    if strategy is not None:
        return strategy
    text = os.environ.get("TF_CONFIG")
    cluster = tf_config_cluster(text)
    if cluster is not None:
        check_tf_config_addresses(text)
        if batch_size is not None:
            check_batch_split(batch_size, cluster[0])
        wait_for_cluster(text, cluster_timeout)
        line = (
            f"{PROG}: error: TF_CONFIG's tasks answered but did not all join the training in {cluster_timeout:g} s "
            "(is every address a task of this training?); start every task again with the same command, or raise "
            "--cluster-timeout"
        )
        try:
            with _Watchdog(cluster_timeout, line):
                # AUTO: NCCL between GPUs, the gRPC ring between CPUs.
                strategy = tf.distribute.MultiWorkerMirroredStrategy(
                    cluster_resolver=tf.distribute.cluster_resolver.TFConfigClusterResolver(),
                    communication_options=tf.distribute.experimental.CommunicationOptions(
                        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
                    ),
                )
        except tf.errors.OpError as error:  # e.g. "Could not start gRPC server": the port taken since the check
            reason = " ".join(str(error.message).split())[:200]
            raise ClusterError(f"TF_CONFIG's cluster could not be started here ({reason}); check TF_CONFIG") from None
        _restore_signal_handlers()
        return strategy
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


__all__ = [
    "CLUSTER_LOST",
    "ClusterError",
    "FromChief",
    "check_batch_split",
    "check_replica_split",
    "check_tf_config_addresses",
    "choose_strategy",
    "tf_config_cluster",
    "wait_for_cluster",
]
