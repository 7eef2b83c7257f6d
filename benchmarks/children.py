"""Child processes that stay alive for a whole benchmark and talk to it in JSON lines, one message a line each way:
the parent sends a command line on the child's stdin, the child answers with say() on its stdout (any other output
of the child, a library's chatter, is ignored). bench_fast_torch.py's TensorFlow and PyTorch children take turns
this way.
"""

import json
import os
import select
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What starts a child's message line, so that the parent can tell it from what libraries print.
MESSAGE = "BENCH "
# The longest any one answer of a child may take (a round of a few steps, or the warm-up's compile), seconds.
ANSWER_TIMEOUT = 1800


def say(message):
    """
    A child's answer to the parent, on a line of its own.

    Arguments:
    message -- what to answer (JSON values)
    """
    sys.stdout.write(MESSAGE + json.dumps(message) + "\n")
    sys.stdout.flush()


class Child:
    """A child process that answers each command line with one JSON message line (other output is ignored)."""

    def __init__(self, script, kind, args, log):
        """
        Starts `python SCRIPT --child KIND ARGS...` in the repository's root, with the checkout's package.

        Arguments:
        script -- the benchmark's file, which runs as the child when given --child
        kind -- the child's kind, e.g. 'tensorflow' or 'torch' (also how errors name it)
        args -- the child's further arguments
        log -- an open file that takes the child's stderr
        """
        command = [sys.executable, os.path.abspath(script), "--child", kind, *map(str, args)]
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
        self.kind = kind
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env=environment
        )
        self.buffer = b""

    def send(self, line):
        """
        Sends one command line to the child.

        Arguments:
        line -- the command, without its newline
        """
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def answer(self, timeout=ANSWER_TIMEOUT):
        """
        The child's next message; RuntimeError if it exits or stays silent past the timeout.

        Arguments:
        timeout -- seconds to wait at most

        Returns:
        message -- what the child said (JSON values)
        """
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                text = line.decode(errors="replace")
                if text.startswith(MESSAGE):
                    return json.loads(text[len(MESSAGE) :])
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"the {self.kind} child gave no answer in {timeout} s")
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise RuntimeError(f"the {self.kind} child ended (exit code {self.process.wait(10)}); see its log")
                self.buffer += chunk

    def ask(self, line, timeout=ANSWER_TIMEOUT):
        """
        Sends a command line and waits for the child's answer.

        Arguments:
        line -- the command, without its newline
        timeout -- seconds to wait at most for the answer

        Returns:
        message -- what the child said (JSON values)
        """
        self.send(line)
        return self.answer(timeout)

    def close(self):
        """Ends the child: its stdin closed, then killed if it has not exited within 60 s."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
