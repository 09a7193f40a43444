"""Running a stage's commands: in its wdir, through the shell (as DVC), one after the other.

Each command gets its own process group, so that Ctrl-C (or a failing sibling under `-j N`)
stops it and everything it started, and `repro` can put the outs back before it exits. Under
`-j N` with more than one stage running, each line a command prints is prefixed with its stage.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from gitdatax.pipeline.model import Stage

_print_lock = threading.Lock()


class Running:
    """The processes under way, so an interruption can stop all of them."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self.stopping = False

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)

    def remove(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop_all(self, grace: float = 5.0) -> None:
        self.stopping = True
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            _signal_group(proc, signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_commands(stage: Stage, top: Path, running: Running, prefix: bool,
                 echo: Callable[[str], None] | None) -> tuple[int, str]:
    """Run the stage's commands; (exit status, the command that failed or '')."""
    cwd = top / stage.wdir
    env = dict(os.environ, DATAX_STAGE=stage.name, DVC_STAGE=stage.name)
    for command in stage.commands:
        if running.stopping:
            return 130, command
        if echo is not None:
            echo(f"> {command}")
        status = _run_one(command, cwd, env, running, stage.name if prefix else None)
        if status != 0:
            return status, command
    return 0, ""


def _run_one(command: str, cwd: Path, env: dict[str, str], running: Running, label: str | None) -> int:
    shell = os.environ.get("SHELL") if os.environ.get("SHELL", "").endswith(("bash", "zsh", "/sh")) else None
    out = subprocess.PIPE if label else None
    try:
        proc = subprocess.Popen(command, shell=True, cwd=cwd, env=env, executable=shell or "/bin/sh",
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT if label else None,
                                start_new_session=True)
    except FileNotFoundError:  # the stage's wdir is missing
        return 127
    running.add(proc)
    try:
        if label and proc.stdout is not None:
            for line in iter(proc.stdout.readline, b""):
                with _print_lock:
                    sys.stdout.buffer.write(f"[{label}] ".encode() + line)
                    sys.stdout.flush()
        status = proc.wait()
    except BaseException:  # Ctrl-C reaches repro, not the command (its own group): stop it here
        _signal_group(proc, signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        raise
    finally:
        running.remove(proc)
    return 128 - status if status < 0 else status  # killed by a signal: 128 + its number, as a shell says
