"""Stopping the servers FieldPulse starts as child processes (broker, databases)."""

from __future__ import annotations

import subprocess


def terminate(process: subprocess.Popen | None, timeout_s: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout_s`, then SIGKILL: a clean stop that cannot hang."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill(process: subprocess.Popen | None) -> None:
    """SIGKILL, as a crash or a power cut would end it."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
