"""What every benchmark records beside its figures: the CPU they were measured on, and the results file."""

import json
import os
import platform
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_name():
    """
    The CPU's model name, as lscpu gives it (read from /proc/cpuinfo).

    Returns:
    name -- e.g. 'AMD EPYC'; platform.processor() where /proc/cpuinfo cannot be read
    """
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_results(name, data):
    """
    Writes a benchmark's results as JSON into benchmarks/results/, named after the benchmark and the time.

    Arguments:
    name -- the benchmark's name, e.g. 'bench_large'
    data -- what to write (JSON values)

    Returns:
    path -- the file written
    """
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(path, "w") as file:
        json.dump(data, file, indent=1)
    return path
